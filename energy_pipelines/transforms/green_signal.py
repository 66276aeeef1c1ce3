"""The hybrid green charging signal (RTE + Enedis + SPIE), its colour, the surplus list, the cold signal.

For every charge point of the register and every half-hour of the window (idle ones included):
in use, energy delivered, OCPP status and its IRVE dynamic equivalent, the local green ratio of
the grid node feeding the station (Enedis), the regional green share (RTE éCO2mix, PACA), and a
colour from explicit, versioned thresholds (`assets_config/uc2/signal_thresholds.yaml`):

    green  : local_green_ratio >= green.local_ratio_min (1.0: the node is in green over-production)
    orange : otherwise, local_green_ratio >= orange.local_ratio_min
             or regional_green_share_pct >= orange.regional_share_min_pct
    red    : otherwise
    null   : no Enedis value for the half-hour (never guessed; `signal_complete` is false)

The version valid at each half-hour (latest `valid_from` <= the half-hour) is applied and recorded.
An energy figure above the charge point's nominal power x 30 min + 10 % is not trusted: it is left
null with `energy_quality = 'above_nominal_power'` (the row itself stays).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import yaml

from energy_pipelines.partitions import half_hours


class ThresholdError(ValueError):
    """The thresholds file is malformed; the message names the version and the field."""


def load_thresholds(path: Path | str) -> pd.DataFrame:
    """The versions as a table sorted by valid_from (UTC), validated."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rows = []
    for v in data.get("versions", []):
        try:
            rows.append({
                "version": str(v["version"]), "valid_from": pd.Timestamp(v["valid_from"]).tz_convert("UTC"),
                "green_local_ratio_min": float(v["green"]["local_ratio_min"]),
                "orange_local_ratio_min": float(v["orange"]["local_ratio_min"]),
                "orange_regional_share_min_pct": float(v["orange"]["regional_share_min_pct"]),
            })
        except (KeyError, TypeError, ValueError) as exc:
            raise ThresholdError(f"{path}: version {v.get('version')!r}: missing or invalid field {exc}") from None
    if not rows:
        raise ThresholdError(f"{path}: no threshold version")
    table = pd.DataFrame(rows).sort_values("valid_from").reset_index(drop=True)
    if table["version"].duplicated().any():
        raise ThresholdError(f"{path}: a version id is used twice")
    bad = table[table["orange_local_ratio_min"] > table["green_local_ratio_min"]]
    if len(bad):
        raise ThresholdError(f"{path}: version {bad['version'].iat[0]}: orange threshold above green")
    return table


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def latest_register(stations: pd.DataFrame) -> pd.DataFrame:
    """One row per charge point: the newest delivery (date_maj, then file, then line)."""
    if stations.empty:
        return stations
    ordered = stations.sort_values(["id_pdc_itinerance", "datetime_utc", "source_file", "source_line"],
                                   ascending=[True, False, False, False], kind="stable")
    return ordered.drop_duplicates("id_pdc_itinerance", keep="first").reset_index(drop=True)


def green_charging_signal(*, start: datetime, end: datetime, register: pd.DataFrame, usage: pd.DataFrame,
                          status: pd.DataFrame, enedis: pd.DataFrame, rte: pd.DataFrame,
                          thresholds: pd.DataFrame, arrow: bool = False) -> pd.DataFrame | pa.Table:
    """Every charge point x half-hour of [start, end). `arrow=True` returns an Arrow table (no pandas copy).

    The grid (charge points x half-hours) is joined on integer keys: the string keys are mapped
    once on the small inputs, which keeps 100,000 charge points x 48 half-hours to a couple of
    seconds instead of tens (benchmarks/uc2_national_day.py).
    """
    con = _con()
    con.execute("SET preserve_insertion_order = false")
    con.register("slots_in", pd.DataFrame({"datetime_utc": pd.DatetimeIndex(half_hours(start, end))}))
    con.register("reg_in", register[["id_pdc_itinerance", "id_station_itinerance", "code_insee_commune",
                                     "puissance_nominale_kw"]])
    con.register("use_in", usage[["id_pdc_itinerance", "datetime_utc", "in_use", "energy_wh"]] if len(usage) else
                 pd.DataFrame({"id_pdc_itinerance": pd.Series(dtype=str),
                               "datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                               "in_use": pd.Series(dtype=bool), "energy_wh": pd.Series(dtype=float)}))
    con.register("st_in", status[["id_pdc_itinerance", "datetime_utc", "ocpp_status", "out_of_order"]] if len(status)
                 else pd.DataFrame({"id_pdc_itinerance": pd.Series(dtype=str),
                                    "datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                                    "ocpp_status": pd.Series(dtype=str), "out_of_order": pd.Series(dtype=bool)}))
    con.register("en_in", enedis[["datetime_utc", "id_station_itinerance", "code_poste_source", "ratio_vert"]]
                 if len(enedis) else pd.DataFrame({"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                                                   "id_station_itinerance": pd.Series(dtype=str),
                                                   "code_poste_source": pd.Series(dtype=str),
                                                   "ratio_vert": pd.Series(dtype=float)}))
    con.register("rte_in", rte[["datetime_utc", "green_share_pct"]] if len(rte) else
                 pd.DataFrame({"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                               "green_share_pct": pd.Series(dtype=float)}))
    con.register("thr", thresholds)
    rel = con.sql("""
        WITH slots AS (
            SELECT (row_number() OVER (ORDER BY datetime_utc) - 1)::INT AS si, s.datetime_utc, thr.*
            FROM slots_in s ASOF LEFT JOIN thr ON s.datetime_utc >= thr.valid_from),
        reg AS (
            SELECT (row_number() OVER (ORDER BY id_pdc_itinerance) - 1)::INT AS pi,
                   dense_rank() OVER (ORDER BY id_station_itinerance)::INT AS sti, * FROM reg_in),
        stations AS (SELECT DISTINCT sti, id_station_itinerance FROM reg),
        use AS (SELECT r.pi, s.si, bool_or(u.in_use) AS in_use, sum(u.energy_wh) AS wh
                FROM use_in u JOIN reg r USING (id_pdc_itinerance) JOIN slots s USING (datetime_utc) GROUP BY ALL),
        st AS (SELECT r.pi, s.si, any_value(x.ocpp_status) AS ocpp_status, bool_or(x.out_of_order) AS out_of_order
               FROM st_in x JOIN reg r USING (id_pdc_itinerance) JOIN slots s USING (datetime_utc) GROUP BY ALL),
        en AS (SELECT t.sti, s.si, any_value(e.code_poste_source) AS code_poste_source, avg(e.ratio_vert) AS ratio
               FROM en_in e JOIN stations t USING (id_station_itinerance) JOIN slots s USING (datetime_utc)
               GROUP BY ALL),
        rte1 AS (SELECT s.si, avg(r.green_share_pct) AS share FROM rte_in r JOIN slots s USING (datetime_utc)
                 GROUP BY ALL),
        j AS (
            SELECT s.datetime_utc, r.id_pdc_itinerance, r.id_station_itinerance, r.code_insee_commune,
                   e.code_poste_source, coalesce(u.in_use, false) AS in_use, coalesce(u.wh, 0.0) AS metered_wh,
                   r.puissance_nominale_kw, st.ocpp_status, coalesce(st.out_of_order, false) AS out_of_order,
                   e.ratio AS ratio, x.share AS share, s.version, s.green_local_ratio_min, s.orange_local_ratio_min,
                   s.orange_regional_share_min_pct
            FROM reg r CROSS JOIN slots s
            LEFT JOIN use u ON u.pi = r.pi AND u.si = s.si
            LEFT JOIN st ON st.pi = r.pi AND st.si = s.si
            LEFT JOIN en e ON e.sti = r.sti AND e.si = s.si
            LEFT JOIN rte1 x ON x.si = s.si)
        SELECT datetime_utc, id_pdc_itinerance, id_station_itinerance, code_insee_commune, code_poste_source,
               in_use,
               CASE WHEN metered_wh > puissance_nominale_kw * 1000 * 0.5 * 1.1 THEN NULL ELSE metered_wh END
                   AS energy_wh,
               CASE WHEN metered_wh > puissance_nominale_kw * 1000 * 0.5 * 1.1 THEN 'above_nominal_power'
                    ELSE 'ok' END AS energy_quality,
               ocpp_status,
               CASE WHEN out_of_order THEN 'hors_service' WHEN ocpp_status IS NULL AND NOT in_use THEN 'inconnu'
                    ELSE 'en_service' END AS etat_pdc,
               CASE WHEN in_use THEN 'occupe' WHEN out_of_order THEN 'inconnu' ELSE 'libre' END AS occupation_pdc,
               round(ratio, 4) AS local_green_ratio,
               round(share, 3) AS regional_green_share_pct,
               CASE WHEN ratio IS NULL OR version IS NULL THEN NULL
                    WHEN ratio >= green_local_ratio_min THEN 'green'
                    WHEN ratio >= orange_local_ratio_min OR share >= orange_regional_share_min_pct THEN 'orange'
                    ELSE 'red' END AS colour,
               version AS thresholds_version,
               ratio IS NOT NULL AND share IS NOT NULL AS signal_complete
        FROM j""")
    table = rel.to_arrow_table()
    table = table.cast(pa.schema([pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type)
                                  else f for f in table.schema]))
    if arrow:
        return table
    return table.to_pandas().sort_values(["id_pdc_itinerance", "datetime_utc"]).reset_index(drop=True)


# Paris wall-clock time with its offset, e.g. 2025-10-26T02:00:00+01:00, computed in SQL
LOCAL_ISO = ("strftime({c} AT TIME ZONE 'Europe/Paris', '%Y-%m-%dT%H:%M:%S') || "
             "CASE WHEN epoch({c} AT TIME ZONE 'Europe/Paris') - epoch({c} AT TIME ZONE 'UTC') = 7200 "
             "THEN '+02:00' ELSE '+01:00' END")


def summarise(signal: pa.Table | pd.DataFrame) -> dict:
    """Figures of a signal table (Arrow or pandas) computed in DuckDB, and a per-half-hour profile."""
    con = _con()
    con.register("sig", signal)
    row = con.sql("""
        SELECT count(DISTINCT datetime_utc) AS half_hours, count(*) FILTER (WHERE in_use) AS in_use_rows,
               count(*) FILTER (WHERE in_use AND local_green_ratio >= 1.0) AS in_use_while_green_surplus,
               round(coalesce(sum(energy_wh), 0) / 1000, 3) AS energy_kwh,
               count(*) FILTER (WHERE energy_quality <> 'ok') AS energy_refused_above_nominal_power,
               list(DISTINCT thresholds_version) FILTER (WHERE thresholds_version IS NOT NULL) AS thresholds_versions
        FROM sig""").fetchall()[0]
    colours = dict(con.sql("SELECT coalesce(colour, 'none'), count(*) FROM sig GROUP BY 1 ORDER BY 1").fetchall())
    per_slot = con.sql("""
        SELECT datetime_utc, 100 * avg((colour = 'green')::INT) AS green_share, 100 * avg(in_use::INT) AS in_use,
               avg(regional_green_share_pct) AS regional
        FROM sig GROUP BY 1 ORDER BY 1""").df()
    names = ["half_hours", "in_use_rows", "in_use_while_green_surplus", "energy_kwh",
             "energy_refused_above_nominal_power", "thresholds_versions"]
    out = dict(zip(names, row, strict=True))
    out["thresholds_versions"] = sorted(out["thresholds_versions"] or [])
    out["rows_by_colour"] = colours
    out["per_slot"] = per_slot
    return out


def surplus_in_use(signal: pa.Table | pd.DataFrame, ratio_min: float = 1.0) -> pd.DataFrame:
    """Charge points in use while their node is in green over-production (local ratio >= ratio_min)."""
    con = _con()
    con.register("sig", signal)
    return con.execute(f"""
        SELECT datetime_utc, {LOCAL_ISO.format(c="datetime_utc")} AS datetime_local, id_pdc_itinerance,
               id_station_itinerance, code_insee_commune, code_poste_source, local_green_ratio,
               regional_green_share_pct, energy_wh
        FROM sig WHERE in_use AND local_green_ratio >= ? ORDER BY id_pdc_itinerance, datetime_utc""",
                       [ratio_min]).df()


def open_signal(signal: pa.Table | pd.DataFrame) -> pa.Table:
    """The publishable signal: per station and half-hour, colour, regional share and occupancy only."""
    con = _con()
    con.register("sig", signal)
    return con.sql(f"""
        SELECT datetime_utc, {LOCAL_ISO.format(c="datetime_utc")} AS datetime_local, id_station_itinerance,
               any_value(code_insee_commune) AS code_insee_commune,
               any_value(colour) AS colour, any_value(thresholds_version) AS thresholds_version,
               round(any_value(regional_green_share_pct), 1) AS regional_green_share_pct,
               count(*) AS n_charge_points, count(*) FILTER (WHERE occupation_pdc = 'libre') AS n_free
        FROM sig GROUP BY datetime_utc, id_station_itinerance""").to_arrow_table()


def seasonal_history(signal: pd.DataFrame, enedis_history: pd.DataFrame, green_ratio_min: float = 1.0) -> pd.DataFrame:
    """The cold signal: per station, season, day type and local half-hour, medians over the history."""
    con = _con()
    con.register("sig", signal)
    hist = enedis_history if len(enedis_history) else pd.DataFrame(
        {"id_station_itinerance": pd.Series(dtype=str), "season": pd.Series(dtype=str),
         "day_type": pd.Series(dtype=str), "slot_local": pd.Series(dtype=str),
         "ratio_median": pd.Series(dtype=float), "datetime_utc": pd.Series(dtype="datetime64[ns, UTC]")})
    con.register("hist", hist)
    return con.execute(f"""
        WITH s AS (
            SELECT id_station_itinerance, code_poste_source, local_green_ratio, regional_green_share_pct,
                   datetime_utc, datetime_utc AT TIME ZONE 'Europe/Paris' AS lt
            FROM sig WHERE local_green_ratio IS NOT NULL),
        k AS (
            SELECT *, CASE WHEN month(lt) IN (12, 1, 2) THEN 'hiver' WHEN month(lt) IN (3, 4, 5) THEN 'printemps'
                           WHEN month(lt) IN (6, 7, 8) THEN 'ete' ELSE 'automne' END AS season,
                      CASE WHEN isodow(lt) >= 6 THEN 'week-end' ELSE 'ouvre' END AS day_type,
                      strftime(lt, '%H:%M') AS slot_local
            FROM s),
        agg AS (
            SELECT id_station_itinerance, season, day_type, slot_local,
                   any_value(code_poste_source) AS code_poste_source,
                   median(local_green_ratio) AS median_local_green_ratio,
                   100.0 * avg((local_green_ratio >= {green_ratio_min})::INT) AS green_frequency_pct,
                   median(regional_green_share_pct) AS median_regional_green_share_pct,
                   count(*) AS n_half_hours, min(datetime_utc) AS period_start_utc, max(datetime_utc) AS period_end_utc
            FROM k GROUP BY ALL),
        h AS (
            SELECT id_station_itinerance, season, day_type, slot_local,
                   arg_max(ratio_median, datetime_utc) AS enedis_median_ratio
            FROM hist GROUP BY ALL)
        SELECT a.*, round(h.enedis_median_ratio, 4) AS enedis_median_ratio
        FROM agg a LEFT JOIN h USING (id_station_itinerance, season, day_type, slot_local)
        ORDER BY ALL""").df()
