"""The UC2 landing sensor across the autumn DST change: one run per half-hour once SPIE's and Enedis'
files are all there, nothing twice for the same files, a corrected file re-runs its half-hour."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from energy_pipelines.automation.landing_sensor import UC2_JOB, WATCHED
from energy_pipelines.build import build_defs
from energy_pipelines.simulate import charging, green_signal
from energy_pipelines.sources.landing import LandingZone

UTC = timezone.utc
FIRST = datetime(2025, 10, 25, 23, 0, tzinfo=UTC)  # 01:00 Paris summer time; clocks go back at 01:00 UTC


@pytest.fixture
def env(settings):
    defs = build_defs(settings)
    sensor = defs.get_sensor_def("uc2_landing_sensor")
    return {"defs": defs, "sensor": sensor, "instance": dg.DagsterInstance.ephemeral(),
            "landing": settings.landing_dir, "resources": {"platform": defs.resources["platform"]}}


def drop(landing, start, end, sources=WATCHED):
    net = charging.network()
    writers = {"spie_transaction_log": charging.write_transaction_log, "spie_event_log": charging.write_event_log,
               "enedis_green_signal": green_signal.write_signal}
    for source in sources:
        writers[source](LandingZone(landing, source), start, end, net=net)


def tick(env, cursor):
    ctx = dg.build_sensor_context(instance=env["instance"], cursor=cursor, resources=env["resources"],
                                  definitions=env["defs"])
    result = env["sensor"].evaluate_tick(ctx)
    return result.run_requests, result.cursor


def test_one_run_per_half_hour_across_the_dst_change_exactly_once(env):
    drop(env["landing"], FIRST, FIRST + timedelta(hours=4))  # 8 half-hours, 23:00Z .. 02:30Z
    requests, cursor = tick(env, None)
    keys = [r.partition_key for r in requests]
    assert keys == ["2025-10-26-01:00", "2025-10-26-01:30", "2025-10-26-02:00", "2025-10-26-02:30",
                    "2025-10-26-02:00+0100", "2025-10-26-02:30+0100", "2025-10-26-03:00", "2025-10-26-03:30"]
    assert len({r.run_key for r in requests}) == 8
    assert all(r.job_name in (None, UC2_JOB) for r in requests)
    assert {r.tags["uc2/trigger"] for r in requests} == {"new_half_hour"}
    # the same files again: nothing
    again, cursor = tick(env, cursor)
    assert again == []
    # a half-hour whose Enedis file is late waits for it, then runs once
    nxt = FIRST + timedelta(hours=4)
    drop(env["landing"], nxt, nxt + timedelta(minutes=30), sources=("spie_transaction_log", "spie_event_log"))
    waiting, cursor = tick(env, cursor)
    assert waiting == []
    drop(env["landing"], nxt, nxt + timedelta(minutes=30), sources=("enedis_green_signal",))
    late, cursor = tick(env, cursor)
    assert [r.partition_key for r in late] == ["2025-10-26-04:00"]
    # SPIE corrects the event log of the second 02:00 (winter time): that half-hour runs again, alone
    folder = env["landing"] / "spie_event_log"
    corrected = folder / charging.slot_file_name(charging.EVENT_PREFIX, FIRST + timedelta(hours=2))
    corrected.write_text(corrected.read_text() + "")  # same bytes, new mtime: a re-delivery
    os.utime(corrected, ns=(corrected.stat().st_atime_ns, corrected.stat().st_mtime_ns + 10**9))
    redo, cursor = tick(env, cursor)
    assert [r.partition_key for r in redo] == ["2025-10-26-02:00+0100"]
    assert redo[0].tags["uc2/trigger"] == "corrected_or_late_file"
    assert redo[0].run_key not in {r.run_key for r in requests}
    assert tick(env, cursor)[0] == []
    state = json.loads(cursor)
    assert len(state["seen"]) == 9 and state["last_scan_ns"] > 0


def test_a_half_hour_runs_as_one_run_of_the_whole_chain(env, settings):
    """Execute what the sensor asks for the repeated 02:00 (winter time) and the half-hour before it."""
    defs, instance = env["defs"], env["instance"]
    dg.materialize(list(defs.assets), selection=["raw_symenergie05__charging_stations"],
                   resources=defs.resources, instance=instance)
    drop(env["landing"], FIRST + timedelta(hours=1, minutes=30), FIRST + timedelta(hours=2, minutes=30))
    requests, _ = tick(env, None)
    assert [r.partition_key for r in requests] == ["2025-10-26-02:30", "2025-10-26-02:00+0100"]
    job = defs.resolve_job_def(UC2_JOB)
    for request in requests:
        result = job.execute_in_process(instance=instance, partition_key=request.partition_key,
                                        tags={**request.tags, "dagster/run_key": request.run_key})
        assert result.success
        materialised = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
        assert {"raw_spie__transaction_log", "raw_enedis__green_signal", "core_rte__eco2mix_regional",
                "anon_spie__charging_sessions", "hybrid__green_charging_signal", "out_uc2__green_signal"} <= materialised
        assert {e.partition for e in result.get_asset_materialization_events()} == {request.partition_key}
    runs = instance.get_runs()
    assert len([r for r in runs if r.job_name == UC2_JOB]) == 2  # one run per half-hour, not one per asset
    from energy_pipelines.storage import ParquetStore
    signal = ParquetStore(settings.warehouse_dir).read("hybrid__green_charging_signal", time_column="datetime_utc")
    assert sorted({t.isoformat() for t in signal.column("datetime_utc").to_pylist()}) == [
        "2025-10-26T00:30:00+00:00", "2025-10-26T01:00:00+00:00"]
