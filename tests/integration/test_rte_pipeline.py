"""The RTE chain in Dagster: sample and live modes, one run per range, exact replacement, bad files."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.storage import ParquetStore
from tests.integration.rte_helpers import key, run_range


def stored(settings, dataset, window=None):
    return ParquetStore(settings.warehouse_dir).read(dataset, time_column="datetime_utc", window=window).to_pandas()


def meta(result, asset):
    """The run's figures: on its last partition (a range run labels them run_*)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k.removeprefix("run_"): getattr(v, "value", v) for k, v in events[-1].materialization.metadata.items()}


def test_sample_range_over_both_dst_days_is_one_run_with_every_half_hour(settings):
    spring, autumn = paris_day_bounds("2025-03-30"), paris_day_bounds("2025-10-26")
    instance = dg.DagsterInstance.ephemeral()
    for n, (start, end) in enumerate((spring, autumn), start=1):
        result = run_range(settings, key(start), key(end - pd.Timedelta(minutes=30)), instance=instance)
        assert result.success
        assert instance.get_runs_count() == n  # the whole day range is one run
        expected = 46 if start == spring[0] else 50
        assert len(result.get_asset_materialization_events()) == 2 * expected  # one per asset partition
        core = stored(settings, "core_rte__eco2mix_regional", (start, end))
        assert len(core) == expected
        assert core["datetime_utc"].is_unique
        assert meta(result, "core_rte__eco2mix_regional")["missing_half_hours"] == 0
    # the warehouse answers SQL over both days at once
    from energy_pipelines.storage import warehouse_of
    with warehouse_of(settings.home).connect() as con:
        assert con.execute("select count(*) from core_rte__eco2mix_regional").fetchone()[0] == 96
        assert con.execute("select count(*) from raw_rte__eco2mix_regional_rejects").fetchone()[0] == 0


def test_rerunning_one_half_hour_replaces_exactly_its_row(settings):
    start, end = paris_day_bounds("2025-10-26")
    assert run_range(settings, key(start), key(end - pd.Timedelta(minutes=30))).success
    before = stored(settings, "core_rte__eco2mix_regional")
    one = "2025-10-26-02:00+0100"  # the repeated Paris hour, second occurrence (01:00 UTC)
    result = run_range(settings, one, one)
    assert result.success
    assert meta(result, "core_rte__eco2mix_regional")["rows_replaced"] == 1
    after = stored(settings, "core_rte__eco2mix_regional")
    pd.testing.assert_frame_equal(before, after)


class FakeOdre(BaseHTTPRequestHandler):
    """Answers the Explore v2.1 exports endpoint from a frame; can fail the first N calls."""

    records: list = []
    fail_first = 0
    calls: list = []

    def do_GET(self):  # noqa: N802
        FakeOdre.calls.append(self.path)
        if FakeOdre.fail_first > 0:
            FakeOdre.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        query = parse_qs(urlparse(self.path).query)
        where = query["where"][0]
        lo = where.split("date_heure >= '")[1].split("'")[0]
        hi = where.split("date_heure < '")[1].split("'")[0]
        body = [r for r in FakeOdre.records if lo <= r["date_heure"] < hi and "eco2mix-regional-tr" in self.path]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_odre(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOdre)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeOdre.calls, FakeOdre.fail_first = [], 0
    FakeOdre.url = f"http://127.0.0.1:{server.server_port}"
    yield FakeOdre
    server.shutdown()


MEASURES = ["consommation", "thermique", "eolien", "solaire", "hydraulique", "pompage", "bioenergies", "ech_physiques"]


def _records(start, end):
    """What the live API serves for eco2mix-regional-tr: one record per quarter-hour."""
    from energy_pipelines.simulate.paca_mix import quarter_hour_mix

    frame = quarter_hour_mix(pd.date_range(start, end, freq="15min", inclusive="left"))
    return [{"code_insee_region": "93", "nature": "Données temps réel", "date_heure": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
             **{c: float(frame[c].iloc[i]) for c in MEASURES}, "nucleaire": None}
            for i, t in enumerate(frame["datetime_utc"])]


def test_live_mode_fetches_the_odre_export_with_retries_and_ingests_it(settings, fake_odre, monkeypatch):
    start, end = pd.Timestamp("2025-06-01T00:00Z"), pd.Timestamp("2025-06-01T06:00Z")
    fake_odre.records = _records(start, end)
    fake_odre.fail_first = 2  # two 503 answers, then the data
    live_settings = settings.with_(mode="live", sources={"rte_eco2mix_regional": {"url": fake_odre.url}})
    result = run_range(live_settings, key(start), key(end - pd.Timedelta(minutes=30)))
    assert result.success
    query = parse_qs(urlparse(fake_odre.calls[-1]).query)
    assert "code_insee_region='93'" in query["where"][0]
    assert query["timezone"] == ["UTC"]
    landed = list((settings.landing_dir / "rte_eco2mix_regional").glob("odre_eco2mix-regional-tr_93_*.json"))
    assert [p.name for p in landed] == ["odre_eco2mix-regional-tr_93_20250601T0000Z_20250601T0600Z.json"]
    core = stored(settings, "core_rte__eco2mix_regional").sort_values("datetime_utc")
    assert len(core) == 12 and set(core["nature"]) == {"Données temps réel"}
    # each half-hour is the mean of the two quarter-hours served, never one of them alone
    served = pd.DataFrame(fake_odre.records)
    served["half_hour"] = pd.to_datetime(served["date_heure"], utc=True).dt.floor("30min")
    means = served.groupby("half_hour")["consommation"].mean()
    assert core["consommation_mw"].tolist() == pytest.approx(means.loc[core["datetime_utc"]].tolist())
    assert core["incomplete_reason"].isna().all() and set(core["source_interval_minutes"]) == {15}
    assert meta(result, "raw_rte__eco2mix_regional")["mode"] == "live"


def test_live_mode_without_the_api_warns_and_still_ingests_the_landing_files(settings, monkeypatch):
    from tests.unit.test_rte_reader import ALL_HOURS, archive_rows, write_archive

    folder = settings.landing_dir / "rte_eco2mix_regional"
    folder.mkdir(parents=True)
    write_archive(folder / "eCO2mix_RTE_PACA_Annuel-Definitif_2025.csv", archive_rows("01/06/2025", ALL_HOURS))
    live_settings = settings.with_(mode="live", sources={"rte_eco2mix_regional": {"url": "http://127.0.0.1:9"}})  # closed port
    start, end = paris_day_bounds("2025-06-01")
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(live_settings, key(start), key(end - pd.Timedelta(minutes=30)), instance=instance)
    assert result.success
    # Dagster keeps what context.log said in the run's event log
    logged = "\n".join(e.user_message for e in instance.all_logs(result.run_id))
    assert "eco2mix-regional-tr not reachable" in logged
    assert "the files already in the landing zone are ingested" in logged
    assert len(stored(settings, "core_rte__eco2mix_regional")) == 48


def test_a_bad_file_in_the_landing_zone_does_not_abort_the_backfill(settings):
    folder = settings.landing_dir / "rte_eco2mix_regional"
    folder.mkdir(parents=True)
    (folder / "export_copy.csv").write_text("code_insee_region,date_heure\n93,2025-06-01\n")
    start, end = paris_day_bounds("2025-06-01")
    result = run_range(settings, key(start), key(end - pd.Timedelta(minutes=30)))
    assert result.success
    assert len(stored(settings, "core_rte__eco2mix_regional")) == 48
    rejects = ParquetStore(settings.warehouse_dir).read(
        "raw_rte__eco2mix_regional_rejects", time_column="partition_start_utc").to_pandas()
    assert rejects["source_file"].tolist() == ["export_copy.csv"]
    assert "separator" in rejects["reason"].iloc[0]
    assert meta(result, "raw_rte__eco2mix_regional")["bad_files"] == {"export_copy.csv": rejects["reason"].iloc[0][17:]}
