"""UC2 automation: one run per half-hour once SPIE's and Enedis' files of that half-hour are there.

- `uc2_halfhourly_job`: the whole chain of one half-hour in one run (in-process executor): the SPIE
  transaction/event logs, the Enedis signal, the RTE mix (raw + core), the anonymised sessions,
  the hybrid signal, the surplus list and the open signal. A run launch costs seconds; one run per
  asset and half-hour would cost minutes (DESIGN §9).
- `uc2_landing_sensor`: lists landing/spie_transaction_log, landing/spie_event_log and
  landing/enedis_green_signal (names only, plus size and mtime: cheap), and requests the half-hour
  once all three files of it are present. The run key is the half-hour plus a fingerprint of its
  files, so the same files never run twice, and a late or corrected file (new size or mtime)
  re-materialises its half-hour. The cursor keeps the fingerprint launched per half-hour for
  `CURSOR_DAYS` days plus the time of the last scan; an older half-hour is looked at again only
  when one of its files changed after that scan. Requests go oldest first, at most
  `MAX_RUNS_PER_TICK` per tick (after an outage the backlog drains over a few ticks); runs carry
  the tag `uc2/chain=halfhourly` so a deployment can serialise them with a run tag concurrency
  limit of 1 (the signal of a half-hour reads the transaction log of the half-hour before).
- `uc2_sample_feeder` (sample mode only): plays SPIE and Enedis, dropping the files of every
  half-hour that has ended, so the demo runs by itself.
- `uc2_automation`: evaluates the AutomationConditions of the downstream daily/monthly/weekly
  assets (on_cron after midnight Paris, once their inputs of the period are updated). A cron
  condition rather than eager: eager would recompute a daily asset 48 times a day.
All are created stopped, like the other sensors and schedules: switch them on in the UI (or start
the landing sensor on with ENERGY_PIPELINES_UC2_SENSOR=running; ENERGY_PIPELINES_UC2_SENSOR_INTERVAL_S
sets how often it looks, 30 s by default).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from energy_pipelines.resources import Platform
from energy_pipelines.sources.delimited import slot_of_file

UTC = timezone.utc
UC2_JOB = "uc2_halfhourly_job"
# landing folders whose files must all be there before a half-hour runs
WATCHED = ("spie_transaction_log", "spie_event_log", "enedis_green_signal")
CHAIN = ("raw_spie__transaction_log", "raw_spie__event_log", "raw_spie__transaction_history",
         "raw_enedis__green_signal", "raw_rte__eco2mix_regional", "core_rte__eco2mix_regional",
         "anon_spie__charging_sessions", "hybrid__green_charging_signal", "hybrid__green_surplus_stations_in_use",
         "out_uc2__green_signal")
DOWNSTREAM = ("hybrid__charging_usage_daily", "out_uc2__charging_usage", "hybrid__green_signal_seasonal_history",
              "out_uc2__signal_forecast")
CURSOR_DAYS = 10
SLOT_FMT = "%Y%m%dT%H%MZ"  # cursor entries: the UTC start of the half-hour (keys may carry a +0100 suffix)
MAX_RUNS_PER_TICK = 96
SCAN_MARGIN_NS = 60 * 10**9  # a file written while the previous scan ran is looked at again
# A deployment may start the landing sensor switched on and poll faster (the tick benchmark does)
SENSOR_INTERVAL_S = int(os.environ.get("ENERGY_PIPELINES_UC2_SENSOR_INTERVAL_S", "30"))
SENSOR_DEFAULT_STATUS = (dg.DefaultSensorStatus.RUNNING if os.environ.get("ENERGY_PIPELINES_UC2_SENSOR") == "running"
                         else dg.DefaultSensorStatus.STOPPED)


def _scan(landing_root: Path) -> dict[datetime, dict[str, tuple[str, int, int]]]:
    """slot -> {source: (file name, size, mtime_ns)} for every delivered half-hourly file."""
    slots: dict[datetime, dict[str, tuple[str, int, int]]] = {}
    for source in WATCHED:
        folder = landing_root / source
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith((".", "_")) or not entry.is_file():
                    continue
                slot = slot_of_file(Path(entry.name))
                if slot is None:
                    continue
                st = entry.stat()
                slots.setdefault(slot, {})[source] = (entry.name, st.st_size, st.st_mtime_ns)
    return slots


def fingerprint(files: dict[str, tuple[str, int, int]]) -> str:
    text = json.dumps(sorted((s, *v) for s, v in files.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate_landing(landing_root: Path, cursor: str | None, partitions_def: dg.PartitionsDefinition,
                     now: datetime | None = None) -> tuple[list[dg.RunRequest], str, dict]:
    """The sensor's logic without Dagster's context: (requests, new cursor, figures)."""
    now = now or datetime.now(UTC)
    state = json.loads(cursor) if cursor else {}
    seen: dict[str, str] = state.get("seen", {})
    last_scan_ns = int(state.get("last_scan_ns", 0))
    scan_started_ns = int(now.timestamp() * 1e9)
    slots = _scan(landing_root)
    horizon = max(slots, default=now) - timedelta(days=CURSOR_DAYS)
    requests, incomplete, outside = [], 0, 0
    for slot in sorted(slots):
        files = slots[slot]
        if len(files) < len(WATCHED):
            incomplete += 1
            continue
        newest = max(v[2] for v in files.values())
        if slot < horizon and newest <= last_scan_ns - SCAN_MARGIN_NS:
            continue  # an old half-hour whose files did not change since the last scan
        slot_id = slot.strftime(SLOT_FMT)
        fp = fingerprint(files)
        if seen.get(slot_id) == fp:
            continue
        key = partition_key_of(partitions_def, slot, now)
        if key is None:
            outside += 1
            continue
        if len(requests) >= MAX_RUNS_PER_TICK:
            break
        requests.append(dg.RunRequest(
            run_key=f"{slot_id}:{fp}", partition_key=key,
            tags={"uc2/chain": "halfhourly", "uc2/landing_fingerprint": fp, "uc2/half_hour_utc": slot_id,
                  "uc2/trigger": "corrected_or_late_file" if slot_id in seen else "new_half_hour"}))
        seen[slot_id] = fp
    backlog = len(requests) >= MAX_RUNS_PER_TICK
    if not backlog:  # while a backlog drains, forgetting launched half-hours would launch them again
        keep_after = horizon.strftime(SLOT_FMT)
        seen = {k: v for k, v in seen.items() if k >= keep_after}
    new_cursor = json.dumps({"seen": seen, "last_scan_ns": last_scan_ns if backlog else scan_started_ns},
                            sort_keys=True)
    return requests, new_cursor, {"incomplete_half_hours": incomplete, "outside_partitions": outside}


def partition_key_of(partitions_def: dg.TimeWindowPartitionsDefinition, slot: datetime,
                     now: datetime) -> str | None:
    """The key of the half-hour starting at `slot` (never formatted by hand), None outside the range."""
    if slot + timedelta(minutes=30) > now:
        return None
    keys = partitions_def.get_partition_keys_in_time_window(dg.TimeWindow(slot, slot + timedelta(minutes=30)))
    return keys[0] if len(keys) == 1 else None


def _uc2_selection(assets: Sequence[dg.AssetsDefinition], names: Sequence[str]) -> list[dg.AssetKey]:
    present = {k for a in assets for k in a.keys}
    return [dg.AssetKey(n) for n in names if dg.AssetKey(n) in present]


def landing_sensors(assets: Sequence[dg.AssetsDefinition]) -> list:
    chain = _uc2_selection(assets, CHAIN)
    if not chain:
        return []
    partitions_def = next(a.partitions_def for a in assets if dg.AssetKey("hybrid__green_charging_signal") in a.keys)
    job = dg.define_asset_job(
        UC2_JOB, selection=dg.AssetSelection.assets(*chain), executor_def=dg.in_process_executor,
        description="UC2: the whole chain of one half-hour (SPIE, Enedis, RTE -> sessions, signal, open signal).",
        tags={"uc2/chain": "halfhourly"})

    @dg.sensor(name="uc2_landing_sensor", job=job, minimum_interval_seconds=SENSOR_INTERVAL_S,
               default_status=SENSOR_DEFAULT_STATUS,
               description="One run per half-hour once its SPIE and Enedis files are in the landing zone.")
    def uc2_landing_sensor(context: dg.SensorEvaluationContext, platform: Platform):
        requests, cursor, figures = evaluate_landing(Path(platform.home) / "landing", context.cursor, partitions_def)
        if figures["outside_partitions"]:
            context.log.warning("%d complete half-hour(s) outside the partitions (before the start date?)",
                                figures["outside_partitions"])
        if not requests:
            return dg.SensorResult(skip_reason=f"nothing new ({figures['incomplete_half_hours']} half-hour(s) "
                                               "still waiting for a file)", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    @dg.sensor(name="uc2_sample_feeder", minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Sample mode only: drops the simulated SPIE and Enedis files of the half-hours ended.")
    def uc2_sample_feeder(context: dg.SensorEvaluationContext, platform: Platform):
        if platform.mode != "sample":
            return dg.SkipReason("live mode: SPIE and Enedis drop their own files")
        now = datetime.now(UTC)
        start = datetime.fromisoformat(context.cursor) if context.cursor else now - timedelta(hours=2)
        written = feed_sample(platform, start, now)
        context.update_cursor(now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0).isoformat())
        return dg.SkipReason(f"dropped {written} simulated file(s) for [{start:%H:%M}, {now:%H:%M}) UTC")

    downstream = _uc2_selection(assets, DOWNSTREAM)
    sensors: list = [uc2_landing_sensor, uc2_sample_feeder]
    if downstream:
        sensors.append(dg.AutomationConditionSensorDefinition(
            "uc2_automation", target=dg.AssetSelection.assets(*downstream),
            description="Daily usage and forecast after midnight (Paris), monthly open usage, weekly cold signal."))
    return sensors


def feed_sample(platform: Platform, start: datetime, end: datetime) -> int:
    from energy_pipelines.sources.base import load_adapter

    written = 0
    for source in WATCHED:
        written += len(load_adapter(source).simulate(platform.landing(source), start, end))
    return written
