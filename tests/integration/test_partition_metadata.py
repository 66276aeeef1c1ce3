"""What the UI shows per partition: each half-hour of a range run carries its own figures (issue 19).

A range run used to copy the run's totals onto every partition (a half-hour showing the row count
of the whole day). Now each partition gets its own row count, and the run's totals sit on its last
partition only, labelled `run_*`.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from energy_pipelines.clock import paris_day_bounds
from tests.integration.rte_helpers import key, run_range
from tests.unit.test_rte_reader import ALL_HOURS, archive_rows, write_archive

DAY = "2025-06-01"


def test_each_partition_of_a_range_run_gets_its_own_row_count(settings):
    live = settings.with_(mode="live", offline=True)
    folder = live.landing_dir / "rte_eco2mix_regional"
    folder.mkdir(parents=True)
    hours = [h for h in ALL_HOURS if not h.startswith(("03:", "04:"))]  # RTE sent nothing for 03:00-04:59 (Paris)
    write_archive(folder / "eCO2mix_RTE_PACA_Annuel-Definitif_2025.csv", archive_rows("01/06/2025", hours))
    start, end = paris_day_bounds(DAY)
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(live, key(start), key(end - pd.Timedelta(minutes=30)), instance=instance)
    assert result.success
    by_key = {m.partition: m.metadata for m in result.asset_materializations_for_node("core_rte__eco2mix_regional")}
    assert len(by_key) == 48
    rows = {k: m["dagster/row_count"].value for k, m in by_key.items()}
    assert sorted(set(rows.values())) == [0, 1]
    assert rows[f"{DAY}-03:00"] == 0 and rows[f"{DAY}-10:00"] == 1
    assert sum(rows.values()) == 44
    # the run's totals only on the last partition, named as the run's
    last = by_key[f"{DAY}-23:30"]
    assert last["run_missing_half_hours"].value == 4
    assert "run_missing_half_hours" not in by_key[f"{DAY}-10:00"] and "missing_half_hours" not in by_key[f"{DAY}-10:00"]
    raw_rows = {m.partition: m.metadata["dagster/row_count"].value
                for m in result.asset_materializations_for_node("raw_rte__eco2mix_regional")}
    assert raw_rows[f"{DAY}-03:30"] == 0 and raw_rows[f"{DAY}-12:00"] == 1
    # the run's log is its progress: inputs read and day files written, per step (what the UI's run view shows)
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("core_rte__eco2mix_regional: writing 44 row(s): 2/2 day file(s), 100 %")
               for m in messages), messages
    assert any(m.startswith("raw_rte__eco2mix_regional: read 44 row(s) of 48 partition(s)") for m in messages)


def test_a_cli_range_run_plans_each_asset_once_not_once_per_partition(settings, monkeypatch):
    """Issue 12: Dagster's bookkeeping at its floor. With partition-subset planning a day of half-hours
    writes one ASSET_MATERIALIZATION_PLANNED event per asset instead of 48 (17,520 for a year)."""
    from energy_pipelines import cli

    for variable in ("DAGSTER_HOME", "DAGSTER_EVENT_BATCH_SIZE", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"):
        monkeypatch.setenv(variable, "")  # restored after the test: the CLI exports its own values
        monkeypatch.delenv(variable)
    start, end = paris_day_bounds(DAY)
    result = cli.materialize("raw_rte__eco2mix_regional,core_rte__eco2mix_regional", start, end,
                             settings=settings, quiet=True)
    assert result.success
    instance = dg.DagsterInstance.get()
    planned = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                                           limit=1000).records
    assert sorted(r.event_log_entry.dagster_event.asset_key.to_user_string() for r in planned) == [
        "core_rte__eco2mix_regional", "raw_rte__eco2mix_regional"]
    # and every partition is still materialised and recorded as such
    assert len(instance.get_materialized_partitions(dg.AssetKey("core_rte__eco2mix_regional"))) == 48
