"""Charge-point usage from the OCPP logs, per half-hour, per day and per month (DuckDB SQL).

Per half-hour (the input of the green charging signal), from every reading of the transactions
open in the window (the caller hands over the log with a look-back, so a session's start is
seen however long ago it began, and whatever later readings are already delivered):
- a charge point is *in use* in a half-hour when a transaction is open during it: from its
  StartTransaction (or, for a transaction started before the log, its first reading) to its
  StopTransaction (still open without one, for at most `max_open` = QualiCharge's 7 days);
- the *energy* of a half-hour is the energy register (meterStart, meterStop and every
  Energy.Active.Import.Register sample, normalised to Wh by the reader; power, state of charge
  and other measurands are ignored) interpolated linearly between consecutive readings, whatever
  their cadence (clock-aligned, periodic every few seconds, or start and stop only), and split
  over the half-hours each interval spans. A half-hour's energy is known only when readings
  cover it: until a reading at or after its end (or the stop) arrives the energy is null with
  `energy_status = 'awaiting_reading'` (a later reading settles it), and a transaction whose
  start is not in the log (or whose stop carries no reading) gives `'missing_readings'`. Never
  a guess, never 0;
- the *status* carries the last StatusNotification from before the half-hour (OCPP notifies
  changes only) together with every one notified in it: whether the charge point was out of order
  (Faulted / Unavailable), occupied (Preparing ... Finishing), reserved (Reserved), or in no known
  state at all (no notification in the look-back), which is never counted as free.
Per day and per month: occupancy (occupied half-hours / half-hours of the Paris day: 46, 48 or 50),
sessions, distinct users, energy, peak hour, energy-weighted green ratio and share of energy
charged in green half-hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

IN_USE_STATUSES = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")
OUT_OF_ORDER_STATUSES = ("Faulted", "Unavailable")
RESERVED_STATUSES = ("Reserved",)
REGISTER = "Energy.Active.Import.Register"
# QualiCharge: a session lasts at most 7 days; a transaction without its stop is open no longer
MAX_OPEN = timedelta(days=7)
HALF_HOUR_US = 1_800_000_000
ENERGY_STATUSES = ("ok", "awaiting_reading", "missing_readings")
USAGE_COLUMNS = ["id_pdc_itinerance", "datetime_utc", "in_use", "energy_wh", "energy_status", "n_transactions"]
STATUS_COLUMNS = ["id_pdc_itinerance", "datetime_utc", "ocpp_status", "status_known", "out_of_order",
                  "occupied_status", "reserved"]


def _sql_in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _us(t: datetime) -> int:
    return int(pd.Timestamp(t).value // 1000)


def slot_usage(tx: pd.DataFrame, start: datetime, end: datetime, *, max_open: timedelta = MAX_OPEN) -> pd.DataFrame:
    """Per charge point and half-hour of [start, end) with a transaction open: in_use, energy_wh, energy_status.

    `tx` is the transaction log (raw_spie__transaction_log rows) with every reading of the
    transactions that may be open in the window: a look-back to their start, and any later rows.
    """
    if tx.empty:
        return pd.DataFrame({"id_pdc_itinerance": pd.Series(dtype=object),
                             "datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                             "in_use": pd.Series(dtype=bool), "energy_wh": pd.Series(dtype=float),
                             "energy_status": pd.Series(dtype=object), "n_transactions": pd.Series(dtype="int64")})
    con = _con()
    cols = ["id_pdc_itinerance", "transaction_id", "timestamp_utc", "message", "meter_wh"]
    frame = tx[cols + (["measurand"] if "measurand" in tx else [])]
    con.register("tx_in", frame)
    # the reader puts the register (normalised to Wh) in meter_wh and nothing else; the measurand
    # test guards against a frame built another way
    register_only = (f"AND (message <> 'MeterValues' OR measurand IS NULL OR measurand = '{REGISTER}')"
                     if "measurand" in frame else "")
    w0, w1 = _us(start) // HALF_HOUR_US, -(-_us(end) // HALF_HOUR_US)
    return con.execute(f"""
        WITH r AS (
            SELECT id_pdc_itinerance AS pdc, transaction_id AS tx, epoch_us(timestamp_utc) AS t, message,
                   CASE WHEN meter_wh IS NOT NULL {register_only} THEN meter_wh::DOUBLE END AS e
            FROM tx_in),
        txs AS (
            SELECT tx, arg_min(pdc, t) AS pdc, bool_or(message = 'StartTransaction') AS has_start,
                   coalesce(min(t) FILTER (WHERE message = 'StartTransaction'), min(t)) AS open_from,
                   min(t) FILTER (WHERE message = 'StopTransaction') AS stop_t
            FROM r GROUP BY tx),
        spans AS (
            SELECT *, coalesce(stop_t, open_from + {int(max_open.total_seconds() * 1e6)}) AS open_to FROM txs),
        -- the energy register of each transaction, one value per instant, inside [open_from, stop]
        rd AS (
            SELECT r.tx, r.t, max(r.e) AS e
            FROM r JOIN spans s USING (tx)
            WHERE r.e IS NOT NULL AND r.t >= s.open_from AND r.t <= coalesce(s.stop_t, r.t)
            GROUP BY ALL),
        cover AS (SELECT tx, min(t) AS first_t, max(t) AS last_t FROM rd GROUP BY tx),
        pairs AS (
            SELECT tx, t AS t0, lead(t) OVER w AS t1, greatest(lead(e) OVER w - e, 0) AS d
            FROM rd WINDOW w AS (PARTITION BY tx ORDER BY t)),
        -- each increment split over the half-hours its interval spans, in proportion of time
        split AS (
            SELECT tx, i,
                   d * CASE WHEN t1 = t0 THEN 1.0
                            ELSE (least(t1, (i + 1) * {HALF_HOUR_US}) - greatest(t0, i * {HALF_HOUR_US}))
                                 / (t1 - t0) END AS wh
            FROM (SELECT *, unnest(generate_series(
                         greatest(t0 // {HALF_HOUR_US}, {w0}),
                         least(CASE WHEN t1 > t0 THEN (t1 + {HALF_HOUR_US} - 1) // {HALF_HOUR_US} - 1
                                    ELSE t0 // {HALF_HOUR_US} END, {w1 - 1}))) AS i
                  FROM pairs WHERE t1 IS NOT NULL AND d > 0)),
        energy AS (SELECT tx, i, sum(wh) AS wh FROM split GROUP BY ALL),
        -- the half-hours each transaction is open in
        open_slots AS (
            SELECT s.*, i
            FROM (SELECT *, unnest(generate_series(
                         greatest(open_from // {HALF_HOUR_US}, {w0}),
                         least(greatest((open_to + {HALF_HOUR_US} - 1) // {HALF_HOUR_US} - 1,
                                        open_from // {HALF_HOUR_US}), {w1 - 1}))) AS i
                  FROM spans) s),
        -- the energy of a half-hour is known when readings cover the part of it the transaction
        -- was open: from its start (or the half-hour's) to its stop (or the half-hour's end)
        per_tx AS (
            SELECT o.pdc, o.i, o.tx, coalesce(e.wh, 0.0) AS wh,
                   c.first_t IS NOT NULL AND c.first_t <= CASE WHEN o.has_start
                       THEN greatest(o.open_from, o.i * {HALF_HOUR_US}) ELSE o.i * {HALF_HOUR_US} END AS head,
                   c.last_t IS NOT NULL AND c.last_t >= CASE WHEN o.stop_t IS NULL THEN (o.i + 1) * {HALF_HOUR_US}
                       ELSE least(o.stop_t, (o.i + 1) * {HALF_HOUR_US}) END AS tail,
                   o.stop_t IS NULL AS running
            FROM open_slots o LEFT JOIN energy e USING (tx, i) LEFT JOIN cover c USING (tx)),
        classified AS (
            SELECT *, CASE WHEN NOT tail AND running THEN 'awaiting_reading'
                           WHEN NOT (head AND tail) THEN 'missing_readings' ELSE 'ok' END AS status
            FROM per_tx)
        SELECT pdc AS id_pdc_itinerance, to_timestamp(i * {HALF_HOUR_US // 1_000_000}) AS datetime_utc,
               true AS in_use,
               CASE WHEN bool_and(status = 'ok') THEN sum(wh) END AS energy_wh,
               CASE WHEN bool_or(status = 'awaiting_reading') THEN 'awaiting_reading'
                    WHEN bool_or(status = 'missing_readings') THEN 'missing_readings' ELSE 'ok' END
                   AS energy_status,
               count(DISTINCT tx) AS n_transactions
        FROM classified GROUP BY pdc, i ORDER BY ALL""").df()


def slot_status(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Per charge point and half-hour: the status in effect (carried from before) and what happened in it.

    `events` holds the StatusNotifications of the window and of a look-back before it (OCPP sends
    a status when it changes, so a quiet charge point's state comes from an older notification).
    Each status holds from its notification to the next one; a half-hour gets every status in effect
    during it. A charge point with no notification at all in the look-back has no known state (no row).
    """
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STATUS_COLUMNS})
    con = _con()
    order = "source_line" if "source_line" in events else "NULL"
    ev_cols = ["id_pdc_itinerance", "timestamp_utc", "status"] + (["source_line"] if "source_line" in events else [])
    con.register("ev_in", events[ev_cols])
    w0, w1 = _us(start) // HALF_HOUR_US, -(-_us(end) // HALF_HOUR_US)
    # intervals of constant status, spread over the half-hours they overlap (integer keys: a
    # national day is millions of charge point x half-hours)
    return con.execute(f"""
        WITH ev AS (  -- one status per instant: the last line delivered
            SELECT id_pdc_itinerance AS pdc, epoch_us(timestamp_utc) AS t, arg_max(status, coalesce({order}, 0)) AS status
            FROM ev_in WHERE timestamp_utc < ? GROUP BY ALL),
        iv AS (SELECT pdc, t, status, lead(t) OVER (PARTITION BY pdc ORDER BY t) AS t_next FROM ev),
        spread AS (
            SELECT pdc, t, status, unnest(generate_series(
                       greatest(t // {HALF_HOUR_US}, {w0}),
                       least(CASE WHEN t_next IS NULL THEN {w1 - 1}
                                  ELSE (t_next + {HALF_HOUR_US} - 1) // {HALF_HOUR_US} - 1 END, {w1 - 1}))) AS i
            FROM iv WHERE t_next IS NULL OR t_next > {w0 * HALF_HOUR_US})
        SELECT pdc AS id_pdc_itinerance, to_timestamp(i * {HALF_HOUR_US // 1_000_000}) AS datetime_utc,
               arg_max(status, t) AS ocpp_status, true AS status_known,
               bool_or(status IN {_sql_in(OUT_OF_ORDER_STATUSES)}) AS out_of_order,
               bool_or(status IN {_sql_in(IN_USE_STATUSES)}) AS occupied_status,
               bool_or(status IN {_sql_in(RESERVED_STATUSES)}) AS reserved
        FROM spread GROUP BY pdc, i ORDER BY ALL""", [end]).df()


def daily_usage(signal: pd.DataFrame, sessions: pd.DataFrame, day_start: datetime, day_end: datetime,
                day_local: str) -> pd.DataFrame:
    """Per charge point, one Paris day: occupancy, sessions, users, energy, peak hour, green share."""
    n_half_hours = int((day_end - day_start).total_seconds() // 1800)
    con = _con()
    con.register("sig", signal)
    con.register("ses", sessions if len(sessions) else pd.DataFrame(
        {"id_pdc_itinerance": pd.Series(dtype=str), "user_pseudonym": pd.Series(dtype=str),
         "duration_h": pd.Series(dtype=float)}))
    return con.execute(f"""
        WITH s AS (
            SELECT *, hour(datetime_utc AT TIME ZONE 'Europe/Paris') AS hour_local FROM sig),
        per_hour AS (
            SELECT id_pdc_itinerance, hour_local, count(*) FILTER (WHERE in_use) AS busy
            FROM s GROUP BY ALL),
        peak AS (
            SELECT id_pdc_itinerance, arg_max(hour_local, busy) AS peak_hour_local, max(busy) AS top
            FROM per_hour GROUP BY ALL),
        agg AS (
            SELECT id_pdc_itinerance, any_value(id_station_itinerance) AS id_station_itinerance,
                   any_value(code_insee_commune) AS code_insee_commune, mode(code_poste_source) AS code_poste_source,
                   count(*) FILTER (WHERE in_use) AS occupied_half_hours,
                   sum(coalesce(energy_wh, 0)) / 1000 AS energy_kwh,
                   sum(coalesce(energy_wh, 0)) FILTER (WHERE colour = 'green') / 1000 AS green_energy_kwh,
                   sum(coalesce(energy_wh, 0) * local_green_ratio) / nullif(sum(coalesce(energy_wh, 0))
                       FILTER (WHERE local_green_ratio IS NOT NULL), 0) AS energy_weighted_local_ratio,
                   avg(regional_green_share_pct) FILTER (WHERE in_use) AS regional_share_in_use_pct,
                   count(*) FILTER (WHERE etat_pdc = 'hors_service') AS out_of_order_half_hours
            FROM s GROUP BY ALL),
        ses_agg AS (
            SELECT id_pdc_itinerance, count(*) AS n_sessions, count(DISTINCT user_pseudonym) AS n_users,
                   avg(duration_h) AS mean_session_h
            FROM ses GROUP BY ALL)
        SELECT ?::TIMESTAMPTZ AS day_start_utc, ? AS day_local, a.id_pdc_itinerance, a.id_station_itinerance,
               a.code_insee_commune, a.code_poste_source, {n_half_hours} AS half_hours_in_day, a.occupied_half_hours,
               round(100.0 * a.occupied_half_hours / {n_half_hours}, 3) AS occupancy_rate_pct,
               coalesce(ss.n_sessions, 0) AS n_sessions, coalesce(ss.n_users, 0) AS n_users,
               ss.mean_session_h, round(a.energy_kwh, 3) AS energy_kwh,
               CASE WHEN p.top > 0 THEN p.peak_hour_local END AS peak_hour_local,
               round(100.0 * a.green_energy_kwh / nullif(a.energy_kwh, 0), 3) AS green_energy_share_pct,
               a.energy_weighted_local_ratio, a.regional_share_in_use_pct, a.out_of_order_half_hours
        FROM agg a LEFT JOIN peak p USING (id_pdc_itinerance) LEFT JOIN ses_agg ss USING (id_pdc_itinerance)
        ORDER BY a.id_pdc_itinerance""", [day_start, day_local]).df()


def monthly_station_usage(daily: pd.DataFrame, sessions: pd.DataFrame, month_start: datetime) -> pd.DataFrame:
    """Per station and Paris month: the figures an open product may carry, before suppression."""
    con = _con()
    con.register("d", daily)
    con.register("ses", sessions if len(sessions) else pd.DataFrame(
        {"id_station_itinerance": pd.Series(dtype=str), "user_pseudonym": pd.Series(dtype=str),
         "duration_h": pd.Series(dtype=float), "start_utc": pd.Series(dtype="datetime64[ns, UTC]")}))
    return con.execute("""
        WITH day_agg AS (
            SELECT id_station_itinerance, any_value(code_insee_commune) AS code_insee_commune,
                   count(DISTINCT id_pdc_itinerance) AS n_charge_points, count(DISTINCT day_local) AS n_days,
                   sum(occupied_half_hours) AS busy, sum(half_hours_in_day) AS slots,
                   sum(energy_kwh) AS energy_kwh,
                   sum(green_energy_share_pct * energy_kwh) / nullif(sum(energy_kwh)
                       FILTER (WHERE green_energy_share_pct IS NOT NULL), 0) AS green_energy_share_pct
            FROM d GROUP BY ALL),
        ses_agg AS (
            SELECT id_station_itinerance, count(*) AS n_sessions, count(DISTINCT user_pseudonym) AS n_users,
                   avg(duration_h) AS mean_session_h,
                   mode(hour(start_utc AT TIME ZONE 'Europe/Paris')) AS peak_start_hour_local
            FROM ses GROUP BY ALL)
        SELECT ?::TIMESTAMPTZ AS month_start_utc, a.id_station_itinerance, a.code_insee_commune,
               a.n_charge_points, a.n_days, coalesce(s.n_sessions, 0) AS n_sessions,
               coalesce(s.n_users, 0) AS n_users,
               round(coalesce(s.n_sessions, 0) / a.n_days / a.n_charge_points, 3) AS sessions_per_charge_point_day,
               round(100.0 * a.busy / nullif(a.slots, 0), 3) AS occupancy_rate_pct,
               round(a.energy_kwh, 1) AS energy_kwh, round(s.mean_session_h, 2) AS mean_session_h,
               s.peak_start_hour_local, round(a.green_energy_share_pct, 2) AS green_energy_share_pct
        FROM day_agg a LEFT JOIN ses_agg s USING (id_station_itinerance)
        ORDER BY a.id_station_itinerance""", [month_start]).df()


def usage_green_correlation(signal: pd.DataFrame) -> dict[str, float | None]:
    """Pearson correlations of being in use with the local green ratio and the regional green share."""
    out: dict[str, float | None] = {}
    use = signal["in_use"].astype(float)
    for col in ("local_green_ratio", "regional_green_share_pct"):
        x = signal[col].astype(float)
        ok = x.notna() & use.notna()
        if ok.sum() > 2 and x[ok].std() > 0 and use[ok].std() > 0:
            out[f"corr_in_use_{col}"] = round(float(np.corrcoef(use[ok], x[ok])[0, 1]), 4)
        else:
            out[f"corr_in_use_{col}"] = None
    return out


OPEN_USAGE_VALUES = ["n_sessions", "n_users", "sessions_per_charge_point_day", "occupancy_rate_pct", "energy_kwh",
                     "mean_session_h", "peak_start_hour_local", "green_energy_share_pct"]


def open_monthly_usage(daily: pd.DataFrame, sessions: pd.DataFrame, month_start: datetime, *, k_min: int,
                       k_points: int, min_stations: int = 2) -> pd.DataFrame:
    """One Paris month of the open usage product: per station, masked below k users, and protected
    against the open signal's area occupancy (the same areas, from the same disclosure rule)."""
    from energy_pipelines.transforms import anonymise, green_signal

    raw = monthly_station_usage(daily, sessions, month_start)
    data = anonymise.suppress_small_groups(raw, "n_users", OPEN_USAGE_VALUES, k_min)
    areas = green_signal.occupancy_areas(green_signal.station_table(daily), k_points, min_stations)
    return anonymise.protect_against_areas(data, areas, sessions, OPEN_USAGE_VALUES, k_min)
