"""Alerts: a source that stops delivering and a failing run each raise one alert (table + webhook on a
local HTTP server), deduplicated while the incident lasts, and a recovery message when it clears."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.clock import UTC
from energy_pipelines.ops.alerts import (
    ALERTS_DATASET,
    FAILED_RUN_SENSOR,
    RECOVERED_RUN_SENSOR,
    STALE_SENSOR,
    AlertLog,
    alert_sensors,
)
from energy_pipelines.storage import warehouse_of
from tests.integration.rte_helpers import run_range

RAW_RTE = "raw_rte__eco2mix_regional"


@pytest.fixture
def webhook():
    """A local HTTP server recording the JSON bodies POSTed to it; /down answers 500."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.startswith("/down"):
                self.send_response(500)
            else:
                received.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def _sensors(settings, clock):
    return {s.name: s for s in alert_sensors(default_catalog(), settings, clock=clock)}


def _alert_rows(settings) -> list[tuple]:
    """The alerts table as SQL sees it (the warehouse view)."""
    with warehouse_of(settings.home).connect() as con:
        return con.sql(f"select incident, state, delivery from {ALERTS_DATASET} order by raised_at, recorded_at").fetchall()


def test_a_stalled_source_alerts_once_and_recovers(settings, webhook):
    url, received = webhook
    settings = settings.with_(alert_webhook=f"{url}/hook")
    now = {"t": None}
    stale = _sensors(settings, lambda: now["t"])[STALE_SENSOR]
    instance = dg.DagsterInstance.ephemeral()

    # spring forward: RTE delivers Paris 00:00 .. 01:30 (22:00 .. 01:00 UTC), then nothing
    assert run_range(settings, "2025-03-30-00:00", "2025-03-30-01:30", instance=instance).success
    # its limit is 150 min; the last half-hour ended at 01:00 UTC (01:15 for a quarter-hour row)
    for t, expected in [(datetime(2025, 3, 30, 3, 10, tzinfo=UTC), 0),    # 130-ish min: fresh, no alert
                        (datetime(2025, 3, 30, 4, 0, tzinfo=UTC), 1),     # 165+ min: stalled
                        (datetime(2025, 3, 30, 4, 40, tzinfo=UTC), 1)]:   # still stalled: no second alert
        now["t"] = t
        result = stale(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason)
        assert len(received) == expected, (t, received)
    assert received[0]["state"] == "firing" and received[0]["incident"] == f"stale_source:{RAW_RTE}"
    assert received[0]["details"]["latest_half_hour_utc"].startswith("2025-03-30T00:")
    assert "stalled" in received[0]["text"]

    # the source resumes after the gap of the spring change: Paris 03:00 .. 04:30 = 01:00 .. 03:00 UTC
    assert run_range(settings, "2025-03-30-03:00", "2025-03-30-04:30", instance=instance).success
    now["t"] = datetime(2025, 3, 30, 5, 0, tzinfo=UTC)  # 120-ish min: within the limit
    stale(dg.build_sensor_context(instance=instance))
    assert [(m["incident"], m["state"]) for m in received] == [(f"stale_source:{RAW_RTE}", "firing"),
                                                               (f"stale_source:{RAW_RTE}", "resolved")]
    assert _alert_rows(settings) == [(f"stale_source:{RAW_RTE}", "firing", "sent: HTTP 200"),
                                     (f"stale_source:{RAW_RTE}", "resolved", "sent: HTTP 200")]
    assert AlertLog.from_settings(settings).open_incidents() == {}

    # a new stall after the recovery is a new incident
    now["t"] = datetime(2025, 3, 30, 9, 0, tzinfo=UTC)
    stale(dg.build_sensor_context(instance=instance))
    assert [m["state"] for m in received] == ["firing", "resolved", "firing"]


def _run_event(instance, run_id, event_type):
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return records[-1].event_log_entry.dagster_event


def test_a_failing_run_alerts_once_per_partition_and_clears_when_it_succeeds(settings, webhook):
    url, received = webhook
    settings = settings.with_(alert_webhook=f"{url}/hook")
    # one "now" for every evaluation: events at the same instant keep the order they happened in
    sensors = _sensors(settings, lambda: datetime(2025, 10, 26, 1, 30, tzinfo=UTC))
    instance = dg.DagsterInstance.ephemeral()
    broken = {"yes": True}

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition("2025-10-01", timezone="Europe/Paris"))
    def landing_import(context):
        if broken["yes"]:
            raise RuntimeError("landing file truncated")
        return len(context.partition_key)

    def run(day):
        result = dg.materialize([landing_import], partition_key=day, instance=instance, raise_on_error=False)
        return instance.get_run_by_id(result.run_id), result.success

    def on_failure(run_):
        event = _run_event(instance, run_.run_id, dg.DagsterEventType.RUN_FAILURE)
        sensors[FAILED_RUN_SENSOR](dg.build_run_status_sensor_context(
            sensor_name=FAILED_RUN_SENSOR, dagster_event=event, dagster_instance=instance,
            dagster_run=run_).for_run_failure())

    def on_success(run_):
        event = _run_event(instance, run_.run_id, dg.DagsterEventType.RUN_SUCCESS)
        sensors[RECOVERED_RUN_SENSOR](dg.build_run_status_sensor_context(
            sensor_name=RECOVERED_RUN_SENSOR, dagster_event=event, dagster_instance=instance, dagster_run=run_))

    for day in ["2025-10-26", "2025-10-26", "2025-10-27"]:  # the 26th fails twice: one incident
        failed, ok = run(day)
        assert not ok
        on_failure(failed)
    assert [m["state"] for m in received] == ["firing", "firing"]
    assert "[2025-10-26]" in received[0]["subject"] and "[2025-10-27]" in received[1]["subject"]
    assert "landing file truncated" in received[0]["message"] and "landing_import" in received[0]["message"]

    broken["yes"] = False
    fixed, ok = run("2025-10-26")
    assert ok
    on_success(fixed)
    assert received[-1]["state"] == "resolved" and received[-1]["incident"] == received[0]["incident"]
    # the 27th is still broken
    assert list(AlertLog.from_settings(settings).open_incidents()) == [received[1]["incident"]]
    assert [r[1] for r in _alert_rows(settings)] == ["firing", "firing", "resolved"]


def test_an_unreachable_webhook_keeps_the_alert_and_never_logs_its_url(tmp_path, webhook, caplog):
    url, _ = webhook
    alerts = AlertLog(tmp_path, webhook=f"{url}/down?token=s3cr3t")
    now = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING):
        assert alerts.fire("stale_source:x", "stale_source", "x", "x has stalled", now) is not None
    assert alerts.fire("stale_source:x", "stale_source", "x", "x has stalled", now + timedelta(hours=1)) is None
    rows = alerts.events().to_pylist()
    assert [(r["state"], r["delivery"]) for r in rows] == [("firing", "failed: HTTP 500")]
    assert "s3cr3t" not in caplog.text and "HTTP 500" in caplog.text


def test_the_alert_sensors_run_by_default_in_the_code_location(settings):
    from energy_pipelines.build import build_defs

    defs = build_defs(settings)
    for name in (STALE_SENSOR, FAILED_RUN_SENSOR, RECOVERED_RUN_SENSOR):
        assert defs.get_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
