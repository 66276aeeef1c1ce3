"""UC2 automation: one run per half-hour once SPIE's and Enedis' files of that half-hour are there.

- `uc2_halfhourly_job`: the whole chain of one half-hour in one run (in-process executor): the SPIE
  transaction/event logs, the Enedis signal, the RTE mix (raw + core), the anonymised sessions,
  the hybrid signal, the surplus list and the open signal. A run launch costs seconds; one run per
  asset and half-hour would cost minutes (DESIGN §9).
- `uc2_landing_sensor`: lists landing/spie_transaction_log, landing/spie_event_log and
  landing/enedis_green_signal (names only, plus size and mtime: cheap), and requests the half-hour
  once all three files of it are present. The run key is the half-hour plus a fingerprint of its
  files, so the same files never run twice, and a late or corrected file (new size or mtime)
  re-materialises its half-hour. When the half-hour before still has energy awaiting a reading,
  the run covers both (the new readings settle it in the same run).
  Late inputs recompute their half-hours too (`late_half_hours`, over the last `LATE_HOURS`): the
  data version of RTE's figures (the PACA green share now in core_rte__eco2mix_regional, brought
  by the RTE schedule an hour later) differs from the one the stored signal used, or readings now
  stored settle energy a half-hour left awaiting. These are content versions, not materialisation
  ids: the half-hour run materialises RTE itself, so a materialisation id would re-trigger forever;
  once the recomputed signal uses the new figures, nothing differs and nothing runs. The run key
  carries the evidence (the share, the settling readings), so the same evidence runs once. The cursor keeps the fingerprint launched per half-hour for
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

import duckdb
import pyarrow as pa

from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.sources.delimited import slot_of_file

UTC = timezone.utc
UC2_JOB = "uc2_halfhourly_job"
# landing folders whose files must all be there before a half-hour runs
WATCHED = ("spie_transaction_log", "spie_event_log", "enedis_green_signal")
CHAIN = ("raw_spie__transaction_log", "raw_spie__event_log", "raw_spie__transaction_history",
         "raw_enedis__green_signal", "raw_rte__eco2mix_regional", "core_rte__eco2mix_regional",
         "anon_spie__charging_sessions", "hybrid__green_charging_signal", "hybrid__green_surplus_stations_in_use",
         "out_uc2__green_signal", "out_uc2__green_surplus_charging")
SIGNAL, CORE_RTE, RAW_TX = "hybrid__green_charging_signal", "core_rte__eco2mix_regional", "raw_spie__transaction_log"
# how far back a late input still recomputes its half-hour: RTE's real-time regional figures come
# within hours; a start/stop-only charger settles its session's half-hours at the stop
LATE_HOURS = 48
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
DOWNSTREAM = ("hybrid__charging_usage_daily", "out_uc2__charging_usage", "hybrid__green_signal_seasonal_history",
              "out_uc2__signal_forecast")
CURSOR_DAYS = 10
SLOT_FMT = "%Y%m%dT%H%MZ"  # cursor entries: the UTC start of the half-hour (keys may carry a +0100 suffix)
MAX_RUNS_PER_TICK = 96
SCAN_MARGIN_NS = 60 * 10**9  # a file written while the previous scan ran is looked at again


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


@dataclass(frozen=True)
class LateInputs:
    """What the stored data says about half-hours already computed (see `late_half_hours`)."""

    late: dict[datetime, str] = field(default_factory=dict)  # slot -> evidence: recompute it
    pending: frozenset[datetime] = frozenset()  # slots whose energy still awaits a reading


def _request(partitions_def, slots: list[datetime], now: datetime, run_key: str, tags: dict) -> dg.RunRequest | None:
    """One run for consecutive half-hours: a partition key, or a range of them as one run."""
    first, last = partition_key_of(partitions_def, slots[0], now), partition_key_of(partitions_def, slots[-1], now)
    if first is None or last is None:
        return None
    span = f"{slots[0].strftime(SLOT_FMT)}..{slots[-1].strftime(SLOT_FMT)}"
    tags = {"uc2/chain": "halfhourly", "uc2/half_hours": span, **tags}
    if len(slots) == 1:
        return dg.RunRequest(run_key=run_key, partition_key=first, tags=tags)
    return dg.RunRequest(run_key=run_key, tags={**tags, RANGE_START: first, RANGE_END: last})


def _runs(slots: list[datetime]) -> list[list[datetime]]:
    """Consecutive half-hours grouped together."""
    out: list[list[datetime]] = []
    for slot in sorted(slots):
        if out and slot - out[-1][-1] == timedelta(minutes=30):
            out[-1].append(slot)
        else:
            out.append([slot])
    return out


def evaluate_landing(landing_root: Path, cursor: str | None, partitions_def: dg.PartitionsDefinition,
                     now: datetime | None = None,
                     late_inputs: Callable[[datetime, datetime], LateInputs] | None = None,
                     busy: frozenset[datetime] = frozenset()) -> tuple[list[dg.RunRequest], str, dict]:
    """The sensor's logic without Dagster's context: (requests, new cursor, figures).

    `late_inputs(since, until)` says which half-hours already computed are behind the stored data
    (`late_half_hours` over the store); it looks `LATE_HOURS` back from the latest delivered
    half-hour. `busy` are half-hours that queued or running chain runs cover.
    """
    now = now or datetime.now(UTC)
    state = json.loads(cursor) if cursor else {}
    seen: dict[str, str] = state.get("seen", {})
    last_scan_ns = int(state.get("last_scan_ns", 0))
    scan_started_ns = int(now.timestamp() * 1e9)
    slots = _scan(landing_root)
    latest = max(slots, default=now)
    horizon = latest - timedelta(days=CURSOR_DAYS)
    since = latest - timedelta(hours=LATE_HOURS)
    late = late_inputs(since, latest + timedelta(minutes=30)) if late_inputs and slots else LateInputs()
    requests, incomplete, outside = [], 0, 0
    covered: set[datetime] = set()
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
        if partition_key_of(partitions_def, slot, now) is None:
            outside += 1
            continue
        if len(requests) >= MAX_RUNS_PER_TICK:
            break
        before = slot - timedelta(minutes=30)
        # the half-hour before still awaits readings: this half-hour's log may settle it, in the same run
        span = [before, slot] if (before in late.pending and before not in busy and before not in covered
                                  and partition_key_of(partitions_def, before, now) is not None) else [slot]
        requests.append(_request(partitions_def, span, now, f"{slot_id}:{fp}", {
            "uc2/landing_fingerprint": fp, "uc2/half_hour_utc": slot_id,
            "uc2/trigger": "corrected_or_late_file" if slot_id in seen else "new_half_hour"}))
        covered.update(span)
        seen[slot_id] = fp
    # late inputs of half-hours already computed: one run per stretch of consecutive half-hours
    due = [t for t in late.late if t not in covered and t not in busy and t >= since
           and partition_key_of(partitions_def, t, now) is not None]
    for stretch in _runs(due):
        if len(requests) >= MAX_RUNS_PER_TICK:
            break
        evidence = hashlib.sha256(json.dumps([(t.isoformat(), late.late[t]) for t in stretch]).encode()).hexdigest()[:16]
        kinds = sorted({late.late[t].split("=", 1)[0] for t in stretch})
        request = _request(partitions_def, stretch, now,
                           f"late:{stretch[0].strftime(SLOT_FMT)}..{stretch[-1].strftime(SLOT_FMT)}:{evidence}",
                           {"uc2/trigger": "late_input", "uc2/late_inputs": ",".join(kinds)})
        if request is not None:
            requests.append(request)
    backlog = len(requests) >= MAX_RUNS_PER_TICK
    if not backlog:  # while a backlog drains, forgetting launched half-hours would launch them again
        keep_after = horizon.strftime(SLOT_FMT)
        seen = {k: v for k, v in seen.items() if k >= keep_after}
    new_cursor = json.dumps({"seen": seen, "last_scan_ns": last_scan_ns if backlog else scan_started_ns},
                            sort_keys=True)
    return requests, new_cursor, {"incomplete_half_hours": incomplete, "outside_partitions": outside,
                                  "late_half_hours": len(due)}


def _read(store, dataset: str, window: tuple[datetime, datetime], columns: list[str]) -> pa.Table | None:
    try:
        table = store.read(dataset, time_column="datetime_utc", window=window, columns=columns)
    except FileNotFoundError:
        return None
    return table if table.num_rows else None


def late_half_hours(store, since: datetime, until: datetime) -> LateInputs:
    """Half-hours of [since, until) whose stored signal is behind the data now stored.

    - RTE: the PACA green share in core_rte__eco2mix_regional is there (or changed) and the signal
      used none (or another): evidence `rte=<share>`;
    - readings: a charge point's energy awaits a reading, and a register reading at or after the
      end of that half-hour (or its stop, within it) is now stored for a transaction that had
      started by then (a later session's readings settle nothing): evidence
      `readings=<latest such reading>`.
    Half-hours whose energy still awaits a reading are returned as `pending`.
    """
    signal = _read(store, SIGNAL, (since, until),
                   ["datetime_utc", "id_pdc_itinerance", "regional_green_share_pct", "energy_quality"])
    if signal is None:
        return LateInputs()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("sig", signal)
    late: dict[datetime, str] = {}
    rte = _read(store, CORE_RTE, (since, until), ["datetime_utc", "green_share_pct"])
    if rte is not None:
        con.register("rte", rte)
        for slot, share in con.sql("""
                WITH used AS (SELECT datetime_utc, any_value(regional_green_share_pct) AS used
                              FROM sig GROUP BY 1),
                     now AS (SELECT datetime_utc, round(avg(green_share_pct), 3) AS share FROM rte
                             WHERE green_share_pct IS NOT NULL GROUP BY 1)
                SELECT datetime_utc, share FROM used JOIN now USING (datetime_utc)
                WHERE used IS NULL OR abs(used - share) > 0.0005 ORDER BY 1""").fetchall():
            late[slot] = f"rte={share:.3f}"
    pending = con.sql("SELECT DISTINCT datetime_utc FROM sig WHERE energy_quality = 'awaiting_reading'").fetchall()
    if pending:
        first = min(p[0] for p in pending)
        tx = _read(store, RAW_TX, (first, until + timedelta(days=1)),
                   ["datetime_utc", "id_pdc_itinerance", "transaction_id", "timestamp_utc", "message", "meter_wh"])
        if tx is not None:
            con.register("tx", tx)
            for slot, latest in con.sql("""
                    WITH starts AS (SELECT transaction_id, min(timestamp_utc) AS started FROM tx
                                    WHERE message = 'StartTransaction' GROUP BY 1),
                         waiting AS (SELECT DISTINCT id_pdc_itinerance, datetime_utc FROM sig
                                     WHERE energy_quality = 'awaiting_reading')
                    SELECT w.datetime_utc, max(t.timestamp_utc)
                    FROM waiting w JOIN tx t ON t.id_pdc_itinerance = w.id_pdc_itinerance AND t.meter_wh IS NOT NULL
                         AND (t.timestamp_utc >= w.datetime_utc + INTERVAL 30 MINUTE
                              OR (t.message = 'StopTransaction' AND t.timestamp_utc >= w.datetime_utc))
                    LEFT JOIN starts s ON s.transaction_id = t.transaction_id
                    WHERE s.started IS NULL OR s.started < w.datetime_utc + INTERVAL 30 MINUTE
                    GROUP BY 1 ORDER BY 1""").fetchall():
                late[slot] = ((late[slot] + ";") if slot in late else "") + f"readings={latest.isoformat()}"
    return LateInputs(late=late, pending=frozenset(p[0] for p in pending))


def busy_half_hours(instance: dg.DagsterInstance) -> frozenset[datetime]:
    """Half-hours covered by chain runs queued or in progress (a late check must not race them)."""
    statuses = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED]
    out: set[datetime] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(tags={"uc2/chain": "halfhourly"}, statuses=statuses)):
        span = run.tags.get("uc2/half_hours", "")
        if ".." in span:
            lo, hi = (datetime.strptime(x, SLOT_FMT).replace(tzinfo=UTC) for x in span.split(".."))
            while lo <= hi:
                out.add(lo)
                lo += timedelta(minutes=30)
    return frozenset(out)


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


def landing_sensors(assets: Sequence[dg.AssetsDefinition], settings: Settings) -> list:
    """A deployment may start the landing sensor switched on and poll faster (settings.uc2_sensor*;
    the tick benchmark does)."""
    chain = _uc2_selection(assets, CHAIN)
    if not chain:
        return []
    partitions_def = next(a.partitions_def for a in assets if dg.AssetKey("hybrid__green_charging_signal") in a.keys)
    job = dg.define_asset_job(
        UC2_JOB, selection=dg.AssetSelection.assets(*chain), executor_def=dg.in_process_executor,
        description="UC2: the whole chain of one half-hour (SPIE, Enedis, RTE -> sessions, signal, open signal).",
        tags={"uc2/chain": "halfhourly"})

    @dg.sensor(name="uc2_landing_sensor", job=job, minimum_interval_seconds=settings.uc2_sensor_interval_s,
               default_status=(dg.DefaultSensorStatus.RUNNING if settings.uc2_sensor == "running"
                               else dg.DefaultSensorStatus.STOPPED),
               description="One run per half-hour once its SPIE and Enedis files are in the landing zone; "
                           "again when a late input arrives (RTE's figures, readings that settle energy).")
    def uc2_landing_sensor(context: dg.SensorEvaluationContext, platform: Platform):
        requests, cursor, figures = evaluate_landing(
            Path(platform.home) / "landing", context.cursor, partitions_def,
            late_inputs=lambda since, until: late_half_hours(platform.store, since, until),
            busy=busy_half_hours(context.instance))
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
    from energy_pipelines.simulate import simulate

    written = 0
    for source in WATCHED:
        written += len(simulate(source, platform.landing(source), start, end))
    return written
