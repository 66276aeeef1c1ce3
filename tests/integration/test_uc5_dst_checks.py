"""UC5 invariants as blocking asset checks, through Dagster, on both DST days (46 and 50 half-hours).

The simulated operation's raw files, participant curves and allocation are materialised by the
catalogue's assets; the allocation's expectations check (blocking) carries the identities to the
Wh, including the step balance sum AUTOCONS = sum AUTOPROD across the rows of each step. The pure
invariant module re-checks what Dagster stored, independently of the check.
"""

from __future__ import annotations

import dagster as dg
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.cli import materialize
from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.storage import ParquetStore
from energy_pipelines.transforms.acc import invariants as inv

SETUP = ["raw_acc__participants", "raw_acc__allocation_keys", "core_acc__participants", "core_acc__allocation_keys"]
STEPS = ["raw_acc__curves", "core_acc__participant_curves", "core_acc__allocation"]


@pytest.mark.slow
@pytest.mark.parametrize("day, half_hours", [("2025-03-30", 46), ("2025-10-26", 50)])
def test_the_allocation_checks_hold_to_the_wh_on_every_step_of_a_dst_day(settings, day, half_hours):
    instance = dg.DagsterInstance.ephemeral()
    start, end = paris_day_bounds(day)
    assert materialize([dg.AssetKey(k) for k in SETUP[:2]], start, end, instance=instance, settings=settings,
                       quiet=True).success
    assert materialize([dg.AssetKey(k) for k in SETUP[2:]], start, end, instance=instance, settings=settings,
                       quiet=True).success
    result = materialize([dg.AssetKey(k) for k in STEPS], start, end, instance=instance, settings=settings, quiet=True)
    assert result.success
    checks = [e for e in result.get_asset_check_evaluations()
              if e.asset_key == dg.AssetKey("core_acc__allocation") and e.check_name == "expectations"]
    assert len(checks) == half_hours and all(e.passed for e in checks)
    rules = {r["rule"] for e in checks[:1] for r in e.metadata["rules"].value} if "rules" in checks[0].metadata \
        else None
    if rules is not None:
        assert "step_balance" in rules
    stored = ParquetStore(settings.warehouse_dir).read(
        "core_acc__allocation", time_column=default_catalog()["core_acc__allocation"].time_column).to_pandas()
    assert stored["datetime_utc"].nunique() == half_hours
    assert inv.invariant_violations(stored).empty
    per_step = stored.groupby("datetime_utc")[["autocons_wh", "autoprod_wh"]].sum()
    assert (per_step["autocons_wh"] == per_step["autoprod_wh"]).all() and per_step["autoprod_wh"].sum() > 0
