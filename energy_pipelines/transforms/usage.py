"""Charge-point usage from the OCPP logs, per half-hour, per day and per month (DuckDB SQL).

Per half-hour (the input of the green charging signal):
- a charge point is *in use* in a half-hour when a transaction reports on it (Start, Stop, or the
  clock-aligned reading that closes the half-hour: an active transaction always has one);
- the *energy* of a half-hour is the sum of the register increments whose later reading reports on
  that half-hour (a clock reading on a boundary closes the half-hour before it), so the log of the
  half-hour before is needed for the first increment;
- the *status* is the last OCPP status notified in the half-hour, and whether the charge point was
  out of order (Faulted / Unavailable) at some point of it.
Per day and per month: occupancy (occupied half-hours / half-hours of the Paris day: 46, 48 or 50),
sessions, distinct users, energy, peak hour, energy-weighted green ratio and share of energy
charged in green half-hours.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

IN_USE_STATUSES = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")
OUT_OF_ORDER_STATUSES = ("Faulted", "Unavailable")


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def slot_usage(tx: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Per charge point and half-hour of [start, end): in_use, energy_wh, n_transactions."""
    cols = ["id_pdc_itinerance", "datetime_utc", "in_use", "energy_wh", "n_transactions"]
    if tx.empty:
        return pd.DataFrame(columns=cols)
    con = _con()
    con.register("tx", tx[["id_pdc_itinerance", "transaction_id", "datetime_utc", "timestamp_utc", "meter_wh"]])
    return con.execute("""
        WITH inc AS (
            SELECT id_pdc_itinerance, transaction_id, datetime_utc,
                   meter_wh - lag(meter_wh) OVER (PARTITION BY transaction_id
                                                  ORDER BY timestamp_utc, meter_wh) AS d
            FROM tx)
        SELECT id_pdc_itinerance, datetime_utc, true AS in_use,
               sum(greatest(coalesce(d, 0), 0))::DOUBLE AS energy_wh,
               count(DISTINCT transaction_id) AS n_transactions
        FROM inc WHERE datetime_utc >= ? AND datetime_utc < ?
        GROUP BY ALL ORDER BY ALL""", [start, end]).df()


def slot_status(events: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Per charge point and half-hour: the last status notified and whether it was out of order."""
    cols = ["id_pdc_itinerance", "datetime_utc", "ocpp_status", "out_of_order"]
    if events.empty:
        return pd.DataFrame(columns=cols)
    con = _con()
    con.register("ev", events[["id_pdc_itinerance", "datetime_utc", "timestamp_utc", "status"]])
    return con.execute(f"""
        SELECT id_pdc_itinerance, datetime_utc, arg_max(status, timestamp_utc) AS ocpp_status,
               bool_or(status IN {OUT_OF_ORDER_STATUSES}) AS out_of_order
        FROM ev WHERE datetime_utc >= ? AND datetime_utc < ?
        GROUP BY ALL ORDER BY ALL""", [start, end]).df()


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
                   any_value(code_insee_commune) AS code_insee_commune,
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
               a.code_insee_commune, {n_half_hours} AS half_hours_in_day, a.occupied_half_hours,
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
