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
                          thresholds: pd.DataFrame) -> pd.DataFrame:
    slots = pd.DataFrame({"datetime_utc": pd.DatetimeIndex(half_hours(start, end))})
    con = _con()
    con.register("slots", slots)
    con.register("reg", register[["id_pdc_itinerance", "id_station_itinerance", "code_insee_commune",
                                  "puissance_nominale_kw"]])
    con.register("use", usage)
    con.register("st", status)
    con.register("en", enedis[["datetime_utc", "id_station_itinerance", "code_poste_source", "ratio_vert"]]
                 if len(enedis) else pd.DataFrame({"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                                                   "id_station_itinerance": pd.Series(dtype=str),
                                                   "code_poste_source": pd.Series(dtype=str),
                                                   "ratio_vert": pd.Series(dtype=float)}))
    con.register("rte", rte[["datetime_utc", "green_share_pct"]] if len(rte) else
                 pd.DataFrame({"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                               "green_share_pct": pd.Series(dtype=float)}))
    con.register("thr", thresholds)
    return con.execute("""
        WITH grid AS (SELECT s.datetime_utc, r.* FROM slots s CROSS JOIN reg r),
        en1 AS (SELECT datetime_utc, id_station_itinerance, any_value(code_poste_source) AS code_poste_source,
                       avg(ratio_vert) AS ratio FROM en GROUP BY ALL),
        rte1 AS (SELECT datetime_utc, avg(green_share_pct) AS share FROM rte GROUP BY ALL),
        j AS (
            SELECT g.datetime_utc, g.id_pdc_itinerance, g.id_station_itinerance, g.code_insee_commune,
                   e.code_poste_source, coalesce(u.in_use, false) AS in_use,
                   coalesce(u.energy_wh, 0.0) AS metered_wh, g.puissance_nominale_kw,
                   st.ocpp_status, coalesce(st.out_of_order, false) AS out_of_order,
                   e.ratio AS local_green_ratio, r.share AS regional_green_share_pct
            FROM grid g
            LEFT JOIN use u ON u.id_pdc_itinerance = g.id_pdc_itinerance AND u.datetime_utc = g.datetime_utc
            LEFT JOIN st ON st.id_pdc_itinerance = g.id_pdc_itinerance AND st.datetime_utc = g.datetime_utc
            LEFT JOIN en1 e ON e.id_station_itinerance = g.id_station_itinerance AND e.datetime_utc = g.datetime_utc
            LEFT JOIN rte1 r ON r.datetime_utc = g.datetime_utc),
        t AS (SELECT * FROM j ASOF LEFT JOIN thr ON j.datetime_utc >= thr.valid_from)
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
               round(local_green_ratio, 4) AS local_green_ratio,
               round(regional_green_share_pct, 3) AS regional_green_share_pct,
               CASE WHEN local_green_ratio IS NULL OR version IS NULL THEN NULL
                    WHEN local_green_ratio >= green_local_ratio_min THEN 'green'
                    WHEN local_green_ratio >= orange_local_ratio_min
                         OR regional_green_share_pct >= orange_regional_share_min_pct THEN 'orange'
                    ELSE 'red' END AS colour,
               version AS thresholds_version,
               local_green_ratio IS NOT NULL AND regional_green_share_pct IS NOT NULL AS signal_complete
        FROM t ORDER BY id_pdc_itinerance, datetime_utc""").df()


def surplus_in_use(signal: pd.DataFrame, ratio_min: float = 1.0) -> pd.DataFrame:
    """Charge points in use while their node is in green over-production (local ratio >= ratio_min)."""
    hit = signal[signal["in_use"] & (signal["local_green_ratio"] >= ratio_min)].copy()
    hit["datetime_local"] = [t.isoformat() for t in pd.DatetimeIndex(hit["datetime_utc"]).tz_convert("Europe/Paris")]
    cols = ["datetime_utc", "datetime_local", "id_pdc_itinerance", "id_station_itinerance", "code_insee_commune",
            "code_poste_source", "local_green_ratio", "regional_green_share_pct", "energy_wh"]
    return hit[cols].reset_index(drop=True)


def open_signal(signal: pd.DataFrame) -> pd.DataFrame:
    """The publishable signal: per station and half-hour, colour, regional share and occupancy only."""
    con = _con()
    con.register("sig", signal)
    out = con.execute("""
        SELECT datetime_utc, id_station_itinerance, any_value(code_insee_commune) AS code_insee_commune,
               any_value(colour) AS colour, any_value(thresholds_version) AS thresholds_version,
               round(any_value(regional_green_share_pct), 1) AS regional_green_share_pct,
               count(*) AS n_charge_points, count(*) FILTER (WHERE occupation_pdc = 'libre') AS n_free
        FROM sig GROUP BY datetime_utc, id_station_itinerance ORDER BY ALL""").df()
    out.insert(1, "datetime_local",
               [t.isoformat() for t in pd.DatetimeIndex(out["datetime_utc"]).tz_convert("Europe/Paris")])
    return out


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
