"""Alerts: one per incident when a source stalls or a run fails, and a recovery message when it clears.

Every alert event (firing or resolved) is a row of the warehouse table `ops__alerts` (Parquet under
`warehouse/ops__alerts/`, one file per event written atomically, a view in warehouse.duckdb), and is
POSTed as JSON to `ENERGY_PIPELINES_ALERT_WEBHOOK` when set (the row says whether it was delivered).

Incidents:
- `stale_source:<dataset>`: a raw half-hourly dataset whose latest stored half-hour ended longer ago
  than its freshness limit (the rule and limit of its freshness check). The sensor
  `alert_stale_sources` evaluates it every few minutes, whether or not anything runs. A source
  that never delivered anything has not stalled: no alert until its first data.
- `run_failed:<job>:<digest>`: a run failed (`alert_failed_runs`). The incident is the job, its
  partition (or range) and its asset selection; it clears when a run of the same succeeds
  (`alert_recovered_runs`): a retry or a rerun of that half-hour.
An incident already firing raises nothing more; once resolved, a new occurrence is a new alert.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa
import requests

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.checks import rules
from energy_pipelines.checks.factory import freshness_max_age, has_freshness, latest_time, utc_now
from energy_pipelines.checks.suites import expectations_dir_for, load_suite
from energy_pipelines.clock import UTC
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.storage import ParquetStore, warehouse_of
from energy_pipelines.storage.parquet_store import exclusive_lock

log = logging.getLogger(__name__)

ALERTS_DATASET = "ops__alerts"
FIRING, RESOLVED = "firing", "resolved"
STALE_SOURCE, RUN_FAILED = "stale_source", "run_failed"
STALE_SENSOR, FAILED_RUN_SENSOR, RECOVERED_RUN_SENSOR = "alert_stale_sources", "alert_failed_runs", "alert_recovered_runs"
STALE_SENSOR_INTERVAL_S = 300
MAX_MESSAGE = 1000

ALERT_SCHEMA = pa.schema([
    pa.field("raised_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("incident", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("state", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
    pa.field("details", pa.string(), nullable=False),   # JSON object
    pa.field("delivery", pa.string(), nullable=False),  # webhook outcome: sent / not configured / failed: ...
    # wall-clock time of the write: orders two events evaluated at the same `raised_at`
    pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
])

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Alert:
    raised_at: datetime
    incident: str
    kind: str
    state: str
    subject: str
    message: str
    details: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"[{self.state.upper()}] {self.message}"

    def payload(self) -> dict:
        """The webhook body; `text` makes it readable as is by Slack/Mattermost-style hooks."""
        return {"text": self.text, "incident": self.incident, "kind": self.kind, "state": self.state,
                "subject": self.subject, "message": self.message, "raised_at": self.raised_at.isoformat(),
                "details": self.details}


class AlertLog:
    """The alerts table of a data root, and the webhook it notifies."""

    def __init__(self, home: Path | str, webhook: str | None = None, timeout_s: float = 10.0):
        self.home = Path(home)
        self.store = ParquetStore(self.home / "warehouse")
        self.webhook = webhook
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertLog:
        hook = settings.alert_webhook.get_secret_value() if settings.alert_webhook else None
        return cls(settings.home, hook or None)

    def events(self) -> pa.Table:
        """Every alert event so far, oldest first."""
        table = self.store.read(ALERTS_DATASET, time_column="raised_at", schema=ALERT_SCHEMA)
        return table.sort_by([("raised_at", "ascending"), ("recorded_at", "ascending")])

    def open_incidents(self) -> dict[str, dict]:
        """The incidents whose latest event is a firing one, with that event."""
        latest: dict[str, dict] = {}
        for row in self.events().to_pylist():
            latest[row["incident"]] = row
        return {k: v for k, v in latest.items() if v["state"] == FIRING}

    def _incidents_locked(self):
        # the read-decide-append of an incident is atomic across sensors and processes (not the
        # store's own lock, which append() takes inside)
        return exclusive_lock(self.store.dataset_dir(ALERTS_DATASET) / ".incidents.lock")

    def fire(self, incident: str, kind: str, subject: str, message: str, now: datetime,
             details: dict | None = None) -> Alert | None:
        """Raise the incident unless it is already firing; the alert, or None when deduplicated."""
        with self._incidents_locked():
            if incident in self.open_incidents():
                return None
            return self._record(Alert(now.astimezone(UTC), incident, kind, FIRING, subject,
                                      message[:MAX_MESSAGE], details or {}))

    def resolve(self, incident: str, message: str, now: datetime, details: dict | None = None) -> Alert | None:
        """Clear the incident if it is firing; the recovery alert, or None when nothing was open."""
        with self._incidents_locked():
            opened = self.open_incidents().get(incident)
            if opened is None:
                return None
            return self._record(Alert(now.astimezone(UTC), incident, opened["kind"], RESOLVED, opened["subject"],
                                      message[:MAX_MESSAGE], details or {}))

    def _record(self, alert: Alert) -> Alert:
        # deliver first, then record the outcome: a webhook that is down never loses the alert row
        delivery = self._deliver(alert)
        row = {"raised_at": alert.raised_at, "incident": alert.incident, "kind": alert.kind, "state": alert.state,
               "subject": alert.subject, "message": alert.message,
               "details": json.dumps(alert.details, sort_keys=True, default=str), "delivery": delivery,
               "recorded_at": datetime.now(UTC)}
        self.store.append(ALERTS_DATASET, pa.Table.from_pylist([row], schema=ALERT_SCHEMA), time_column="raised_at")
        warehouse_of(self.home).refresh_view(ALERTS_DATASET, schema=ALERT_SCHEMA)
        return alert

    def _deliver(self, alert: Alert) -> str:
        if not self.webhook:
            return "not configured"
        try:
            reply = requests.post(self.webhook, json=alert.payload(), timeout=self.timeout_s)
        except requests.RequestException as exc:
            # the exception text holds the URL, which may carry a token: name the failure only
            log.warning("alert webhook not reached (%s) for %s", type(exc).__name__, alert.incident)
            return f"failed: {type(exc).__name__}"
        if not reply.ok:
            log.warning("alert webhook answered HTTP %s for %s", reply.status_code, alert.incident)
            return f"failed: HTTP {reply.status_code}"
        return f"sent: HTTP {reply.status_code}"


# -- stalled sources -------------------------------------------------------------------------------


def watched_sources(catalog: Catalog) -> list[tuple[DatasetSpec, timedelta]]:
    """Raw half-hourly datasets with their freshness limit (those that have a freshness check)."""
    directory = expectations_dir_for(catalog)
    out = []
    for spec in sorted(catalog.raw_datasets, key=lambda s: s.id):
        suite = load_suite(spec, directory)
        if has_freshness(spec, suite):
            out.append((spec, freshness_max_age(suite)))
    return out


def check_sources(alerts: AlertLog, platform: Platform, watched: list[tuple[DatasetSpec, timedelta]],
                  now: datetime) -> list[Alert]:
    """Fire or clear `stale_source:<dataset>` for each watched source at `now`; the alerts raised."""
    raised = []
    for spec, max_age in watched:
        f = rules.freshness(latest_time(platform, spec), now, max_age)
        if f.latest is None:
            continue  # never delivered: not stalled
        incident = f"{STALE_SOURCE}:{spec.id}"
        minutes = round(f.age.total_seconds() / 60)
        details = {"dataset": spec.id, "latest_half_hour_utc": f.latest.isoformat(),
                   "age_minutes": minutes, "max_age_minutes": max_age.total_seconds() / 60}
        if f.passed:
            alert = alerts.resolve(incident, f"{spec.id} is flowing again: latest half-hour ended {minutes} min ago",
                                   now, details)
        else:
            alert = alerts.fire(incident, STALE_SOURCE, spec.id,
                                f"{spec.id} has stalled: no half-hour after {f.latest:%Y-%m-%d %H:%M} UTC, "
                                f"{minutes} min old (limit {max_age.total_seconds() / 60:g} min)", now, details)
        if alert is not None:
            raised.append(alert)
    return raised


# -- failed runs -----------------------------------------------------------------------------------


def run_incident(run: dg.DagsterRun) -> tuple[str, str, dict]:
    """(incident id, readable subject, details) of a run: its job, partition (or range) and assets."""
    tags = run.tags
    partition = tags.get("dagster/partition") or (
        f"{tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in tags else None)
    assets = sorted(k.to_user_string() for k in (run.asset_selection or ()))
    digest = hashlib.sha1(json.dumps([run.job_name, partition, assets]).encode()).hexdigest()[:12]
    shown = ", ".join(assets[:3]) + (f" and {len(assets) - 3} more" if len(assets) > 3 else "")
    subject = run.job_name + (f" [{partition}]" if partition else "") + (f" ({shown})" if assets else "")
    return f"{RUN_FAILED}:{run.job_name}:{digest}", subject, {"job": run.job_name, "partition": partition,
                                                              "assets": assets}


def root_cause(error) -> str:
    """The innermost error's first line (Dagster wraps user errors in "Error occurred while executing ...")."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "error"


def alert_sensors(catalog: Catalog, settings: Settings, clock: Clock | None = None) -> list:
    """The three alert sensors, running by default. `clock` gives "now" (tests pass their own)."""
    clock = clock or utc_now
    watched = watched_sources(catalog)

    @dg.sensor(name=STALE_SENSOR, minimum_interval_seconds=STALE_SENSOR_INTERVAL_S,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Raises an alert when a raw half-hourly source stops delivering for longer than its "
                           "freshness limit, and a recovery when it resumes (table ops__alerts, webhook).")
    def alert_stale_sources(context: dg.SensorEvaluationContext):
        raised = check_sources(AlertLog.from_settings(settings), Platform.from_settings(settings), watched, clock())
        for alert in raised:
            context.log.warning(alert.text)
        return dg.SkipReason(f"{len(watched)} source(s) checked; "
                             + ("; ".join(a.text for a in raised) if raised else "no change"))

    @dg.run_failure_sensor(name=FAILED_RUN_SENSOR, default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Raises one alert per failing job/partition/selection (table ops__alerts, webhook).")
    def alert_failed_runs(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        incident, subject, details = run_incident(run)
        failures = context.get_step_failure_events()
        steps = [e.step_key for e in failures]
        reasons = [f"{e.step_key}: {root_cause(e.step_failure_data.error)}" for e in failures
                   if e.step_failure_data.error is not None]
        reason = "; ".join(reasons) or context.failure_event.message or "failed"
        alert = AlertLog.from_settings(settings).fire(
            incident, RUN_FAILED, subject, f"run {run.run_id} of {subject} failed: {reason}", clock(),
            {**details, "run_id": run.run_id, "failed_steps": steps})
        if alert is not None:
            context.log.warning(alert.text)

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name=RECOVERED_RUN_SENSOR,
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Clears a run-failure alert when the same job/partition/selection succeeds.")
    def alert_recovered_runs(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        incident, subject, details = run_incident(run)
        alert = AlertLog.from_settings(settings).resolve(incident, f"{subject} succeeded again (run {run.run_id})",
                                                         clock(), {**details, "run_id": run.run_id})
        if alert is not None:
            context.log.info(alert.text)

    return [alert_stale_sources, alert_failed_runs, alert_recovered_runs]
