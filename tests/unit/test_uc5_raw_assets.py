"""UC5 raw datasets through Dagster (built from their catalogue YAML by assets/raw.py), then the pure chain.

Sample mode: the simulator writes the landing folders, the raw assets read them, the Parquet store holds
them. The derived datasets have no assets yet (the derive factory is not on this branch): their pure
transforms are run here on what the raw assets stored, as the factory will.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.clock import Window, paris_day_bounds
from energy_pipelines.simulate import acc as sim
from energy_pipelines.storage import ParquetStore
from energy_pipelines.transforms.acc import curves as cv
from energy_pipelines.transforms.acc import invariants as inv
from energy_pipelines.transforms.acc import operation as op
from energy_pipelines.transforms.acc import register as rg
from energy_pipelines.transforms.acc.params import OperationParams

DAY = "2025-10-26"  # the autumn change: 50 half-hours
UNPARTITIONED = ["raw_acc__participants", "raw_acc__allocation_keys"]
HALF_HOURLY = ["raw_acc__curves", "raw_acc__enedis_allocation"]


@pytest.fixture
def stored(settings):
    defs = build_defs(settings)
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(list(defs.assets), selection=[dg.AssetKey(k) for k in UNPARTITIONED], instance=instance,
                   resources=defs.resources, raise_on_error=True)
    graph = defs.resolve_asset_graph()
    pdef = graph.get(dg.AssetKey(HALF_HOURLY[0])).partitions_def
    keys = pdef.get_partition_keys_in_time_window(dg.TimeWindow(*paris_day_bounds(DAY)))
    assert len(keys) == 50
    result = dg.materialize(list(defs.assets), selection=[dg.AssetKey(k) for k in HALF_HOURLY], instance=instance,
                            resources=defs.resources, raise_on_error=True,
                            tags={"dagster/asset_partition_range_start": keys[0],
                                  "dagster/asset_partition_range_end": keys[-1]})
    assert result.success
    store = ParquetStore(settings.home / "warehouse")
    catalog = default_catalog()
    return {d: store.read(d, time_column=catalog[d].time_column).to_pandas() for d in UNPARTITIONED + HALF_HOURLY}


def test_raw_acc_assets_store_the_simulated_operation_and_the_chain_allocates_the_50_half_hours(stored):
    curves = stored["raw_acc__curves"]
    members = len(sim.active_households(pd.Timestamp(DAY).date())) + len(sim.producers())
    assert curves["datetime_utc"].nunique() == 50
    assert len(curves) == 50 * members
    assert len(stored["raw_acc__enedis_allocation"]) == 50 * (3 * members)
    assert set(stored["raw_acc__participants"]["snapshot_date"].astype(str)) == {
        str(d) for d in sim.register_snapshots()}
    assert set(stored["raw_acc__allocation_keys"]["id_cle"]) == {"K1", "K2", "K3"}
    # the pure chain on what Dagster stored
    params = OperationParams()
    window = Window(*paris_day_bounds(DAY))
    participants = rg.participants(stored["raw_acc__participants"]).data
    keys = rg.allocation_keys(stored["raw_acc__allocation_keys"], participants).data
    core = cv.participant_curves(curves, participants, params, window)
    assert core.rejects.empty
    allocation = op.allocate_operation(core.data, participants, keys, params, window)
    assert allocation.figures["steps_allocated"] == 50 and allocation.figures["invariant_violations"] == 0
    assert inv.invariant_violations(allocation.data).empty
    reconciliation = inv.reconcile(allocation.data, stored["raw_acc__enedis_allocation"], params)
    assert reconciliation.data.empty and reconciliation.figures["compared"] == 50 * 3 * members
