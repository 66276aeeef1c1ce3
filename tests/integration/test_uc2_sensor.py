"""The UC2 landing sensor across the autumn DST change: one run per half-hour once SPIE's and Enedis'
files are all there, nothing twice for the same files, a corrected file re-runs its half-hour."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines.automation.landing_sensor import UC2_JOB, WATCHED
from energy_pipelines.build import build_defs
from energy_pipelines.simulate import charging, green_signal, paca_mix
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


def execute(env, request):
    job = env["defs"].resolve_job_def(UC2_JOB)
    tags = {**request.tags, "dagster/run_key": request.run_key}
    result = job.execute_in_process(instance=env["instance"], partition_key=request.partition_key, tags=tags)
    assert result.success
    return result


def stored(settings, dataset, start, end):
    from energy_pipelines.storage import ParquetStore
    return ParquetStore(settings.warehouse_dir).read(dataset, time_column="datetime_utc",
                                                     window=(start, end)).to_pandas()


def test_rte_arriving_an_hour_late_recomputes_the_half_hour(env, settings, monkeypatch):
    """RTE's regional figures come after SPIE's and Enedis' files: the half-hour runs without them (no
    colour where the share decides it, never a guessed red), and runs again once the RTE schedule has
    brought them: its colours go from null to a colour."""
    # RTE is fetched, not simulated, and nothing is there yet: the landing zone only is ingested
    live_rte = settings.with_(sources={"rte_eco2mix_regional": {"mode": "live"}}, offline=True)
    env = {**env, "defs": build_defs(live_rte)}
    env["sensor"] = env["defs"].get_sensor_def("uc2_landing_sensor")
    env["resources"] = {"platform": env["defs"].resources["platform"]}
    dg.materialize(list(env["defs"].assets), selection=["raw_symenergie05__charging_stations"],
                   resources=env["defs"].resources, instance=env["instance"])
    slot = FIRST  # 23:00 UTC, a night half-hour: many nodes below the orange ratio
    drop(env["landing"], slot, slot + timedelta(minutes=30))
    requests, cursor = tick(env, None)
    assert [r.tags["uc2/trigger"] for r in requests] == ["new_half_hour"]
    execute(env, requests[0])
    first = stored(settings, "hybrid__green_charging_signal", slot, slot + timedelta(minutes=30))
    undecided = first["colour"].isna()
    assert undecided.any() and first["regional_green_share_pct"].isna().all()
    assert set(first.loc[undecided, "colour_reason"]) == {"no RTE share"}
    assert (first.loc[undecided, "local_green_ratio"] < 0.6).all()  # green / orange by the ratio stay decided
    assert "red" not in set(first["colour"].dropna())
    opened = stored(settings, "out_uc2__green_signal", slot, slot + timedelta(minutes=30))
    assert opened["colour"].isna().any() and not opened["signal_complete"].any()
    assert tick(env, cursor)[0] == []  # nothing new: no run
    # an hour later, the RTE schedule's run brings the half-hour's regional figures
    paca_mix.write_eco2mix_days(LandingZone(env["landing"], "rte_eco2mix_regional"), slot,
                                slot + timedelta(minutes=30), now=slot + timedelta(hours=1, minutes=30))
    key = requests[0].partition_key
    assert dg.materialize(list(env["defs"].assets), selection=["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"],
                          partition_key=key, resources=env["defs"].resources, instance=env["instance"]).success
    late, cursor = tick(env, cursor)
    assert [(r.partition_key, r.tags["uc2/trigger"], r.tags["uc2/late_inputs"]) for r in late] == [
        (key, "late_input", "rte")]
    execute(env, late[0])
    second = stored(settings, "hybrid__green_charging_signal", slot, slot + timedelta(minutes=30))
    assert second["colour"].notna().all() and second["signal_complete"].all() and second["colour_reason"].isna().all()
    assert (second.loc[second["local_green_ratio"] < 0.6, "colour"] == "red").all()  # PACA share below 50 % at night
    assert stored(settings, "out_uc2__green_signal", slot, slot + timedelta(minutes=30))["colour"].notna().all()
    # the signal now uses RTE's figures: nothing differs, nothing runs again
    assert tick(env, cursor)[0] == []


def test_energy_awaiting_a_reading_is_settled_by_the_next_half_hours_run(env, settings):
    """At the end of a half-hour a periodic charger's last minutes are not metered yet: the next half-hour's
    run covers both half-hours, and its readings settle the first one."""
    dg.materialize(list(env["defs"].assets), selection=["raw_symenergie05__charging_stations"],
                   resources=env["defs"].resources, instance=env["instance"])
    slot = datetime(2025, 10, 26, 9, 0, tzinfo=UTC)  # a Sunday morning, chargers busy
    drop(env["landing"], slot, slot + timedelta(minutes=30))
    requests, cursor = tick(env, None)
    execute(env, requests[0])
    before = stored(settings, "hybrid__green_charging_signal", slot, slot + timedelta(minutes=30))
    waiting = before["energy_quality"] == "awaiting_reading"
    assert waiting.any() and before.loc[waiting, "energy_wh"].isna().all() and before.loc[waiting, "in_use"].all()
    drop(env["landing"], slot + timedelta(minutes=30), slot + timedelta(hours=1))
    nxt, cursor = tick(env, cursor)
    assert len(nxt) == 1 and nxt[0].partition_key is None
    assert nxt[0].tags["dagster/asset_partition_range_start"] == requests[0].partition_key
    job = env["defs"].resolve_job_def(UC2_JOB)
    assert job.execute_in_process(instance=env["instance"], tags={**nxt[0].tags, "dagster/run_key": nxt[0].run_key}).success
    after = stored(settings, "hybrid__green_charging_signal", slot, slot + timedelta(minutes=30))
    still = after["energy_quality"] == "awaiting_reading"
    assert still.sum() < waiting.sum()
    # what stays waiting are chargers that meter at start and stop only, still charging
    from energy_pipelines.simulate import charging
    cadence = dict(zip(charging.network().pdc["id_pdc_itinerance"], charging.cadence_of(charging.network().pdc),
                       strict=True))
    assert set(after.loc[still, "id_pdc_itinerance"].map(cadence)) <= {"start_stop_only"}
    settled = after.set_index("id_pdc_itinerance").loc[before.loc[waiting & ~still.to_numpy(), "id_pdc_itinerance"]]
    # settled: metered, or known to lack the session's start (it began before the first file of this test)
    assert settled["energy_quality"].isin(["ok", "missing_readings"]).all()
    assert (settled["energy_quality"] == "ok").any() and (settled.loc[settled["energy_quality"] == "ok", "energy_wh"] >= 0).all()


def test_late_inputs_are_read_from_what_is_stored(tmp_path):
    """`late_half_hours` compares the stored signal with RTE's stored figures and the stored readings."""
    from energy_pipelines.automation.landing_sensor import late_half_hours
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.schema import conform

    store, catalog = ParquetStore(tmp_path), default_catalog()
    t0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
    t = [t0 + timedelta(minutes=30 * i) for i in range(4)]

    def put(dataset, rows):
        spec = catalog[dataset]
        frame = pd.DataFrame(rows)
        store.write(dataset, conform(frame, spec.table_schema.to_arrow(), dataset), time_column="datetime_utc",
                    window=(t0, t0 + timedelta(hours=3)))

    base = {"id_station_itinerance": "FRS05P1", "code_insee_commune": "05061", "code_poste_source": "PS",
            "in_use": True, "etat_pdc": "en_service", "occupation_pdc": "occupe", "local_green_ratio": 0.3,
            "signal_complete": False}
    put("hybrid__green_charging_signal", [
        {**base, "datetime_utc": t[0], "id_pdc_itinerance": "FRS05E1", "regional_green_share_pct": 30.0,
         "energy_wh": 100.0, "energy_quality": "ok"},
        {**base, "datetime_utc": t[1], "id_pdc_itinerance": "FRS05E1", "regional_green_share_pct": None,
         "energy_wh": None, "energy_quality": "awaiting_reading"},
        {**base, "datetime_utc": t[2], "id_pdc_itinerance": "FRS05E1", "regional_green_share_pct": None,
         "energy_wh": None, "energy_quality": "awaiting_reading"},
        {**base, "datetime_utc": t[2], "id_pdc_itinerance": "FRS05E2", "regional_green_share_pct": None,
         "energy_wh": None, "energy_quality": "awaiting_reading"}])
    rte = {"region_code": "93", "datetime_local": "x", "source_file": "f", "source_line": 1,
           "source_interval_minutes": 30}
    put("core_rte__eco2mix_regional", [{**rte, "datetime_utc": t[0], "green_share_pct": 30.0},
                                       {**rte, "datetime_utc": t[1], "green_share_pct": 41.25}])
    tx = {"message": "MeterValues", "connector_id": 1, "meter_value": 1.0, "source_file": "f", "source_line": 1}
    put("raw_spie__transaction_log", [
        # E1's transaction 7 stops at 11:20 (stored after the signal was: a late file): it settles 10:30 and
        # 11:00; E2's next reading belongs to a session started after its pending half-hour
        {**tx, "datetime_utc": t[2], "timestamp_utc": t[2] + timedelta(minutes=20), "id_pdc_itinerance": "FRS05E1",
         "transaction_id": 7, "message": "StopTransaction", "meter_wh": 5000.0},
        {**tx, "datetime_utc": t[3], "timestamp_utc": t[3] + timedelta(minutes=5), "id_pdc_itinerance": "FRS05E2",
         "transaction_id": 9, "message": "StartTransaction", "meter_wh": 100.0}])
    found = late_half_hours(store, t0, t0 + timedelta(hours=2))
    assert set(found.late) == {t[1], t[2]}
    assert found.late[t[1]].startswith("rte=41.250;readings=")  # both: RTE's share arrived, and a settling reading
    assert found.late[t[2]].startswith("readings=")  # E1's stop settles it; E2's later session does not
    assert late_half_hours(store, t0, t0 + timedelta(minutes=30)).late == {}  # 10:00 used RTE's figure, settled
    assert found.pending == {t[1], t[2]}
