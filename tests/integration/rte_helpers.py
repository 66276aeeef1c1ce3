"""Running the RTE chain in tests: materialise raw + core over a UTC range on a throw-away instance."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from energy_pipelines.build import build_defs
from energy_pipelines.partitions import half_hour_key

RTE_ASSETS = ["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"]
RTE_CHAIN = [*RTE_ASSETS, "out_rte__eco2mix_regional"]


def run_range(settings, first_key: str, last_key: str, *, instance=None, selection=RTE_ASSETS, **kw):
    defs = build_defs(settings)
    tags = {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key}
    if first_key == last_key:
        tags, kw = {}, {**kw, "partition_key": first_key}
    # checks ride along with their assets, so blocking checks guard downstream steps as in production
    return dg.materialize([*defs.assets, *(defs.asset_checks or [])], selection=selection,
                          resources=defs.resources, instance=instance or dg.DagsterInstance.ephemeral(),
                          tags=tags, **kw)


def key(t: datetime) -> str:
    return half_hour_key(t)
