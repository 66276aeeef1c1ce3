"""The hybrid green charging signal (RTE + Enedis + SPIE), its colour, the surplus list, the cold signal.

For every charge point of the register and every half-hour of the window (idle ones included):
in use, energy delivered, OCPP status and its IRVE dynamic equivalent, the local green ratio of
the grid node feeding the station (Enedis), the regional green share (RTE éCO2mix, PACA), and a
colour from explicit, versioned thresholds (`assets_config/uc2/signal_thresholds.yaml`):

    green  : local_green_ratio >= green.local_ratio_min (1.0: the node is in green over-production)
    orange : otherwise, local_green_ratio >= orange.local_ratio_min
             or regional_green_share_pct >= orange.regional_share_min_pct
    red    : otherwise

A colour is published only when the rule can decide it from the inputs present (`decide_colours`,
the one implementation, used by the signal and by the forecast): green and orange-by-the-ratio
need only the Enedis ratio; below the orange ratio, orange or red depends on the RTE share, so a
missing share leaves the colour null with `colour_reason = 'no RTE share'`; a missing ratio
always does ('no Enedis ratio'). Never a guess (the old fall-through to red is gone).

The version valid at each half-hour (latest `valid_from` <= the half-hour) is applied and recorded.
An energy figure above the charge point's nominal power x 30 min + 10 % is not trusted: it is left
null with `energy_quality = 'above_nominal_power'` (the row itself stays); a figure the readings
do not cover yet is null with 'awaiting_reading' or 'missing_readings' (see transforms/usage.py).

The open signal (`open_signal`) follows the disclosure rule of docs/uc2.md: the colour per
station, and the occupancy only per *occupancy area* (`occupancy_areas`) of at least k charge
points and two stations, never per station.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
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
                # over-production is the green threshold unless a version says otherwise
                "surplus_local_ratio_min": float((v.get("surplus") or {}).get("local_ratio_min",
                                                                             v["green"]["local_ratio_min"])),
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


COLOURS = ("green", "orange", "red")
NO_RATIO, NO_SHARE, NO_VERSION = "no Enedis ratio", "no RTE share", "no thresholds version valid then"
# reason codes: 0 decided; then what was missing
COLOUR_REASONS = (None, NO_RATIO, NO_SHARE, f"{NO_RATIO}, {NO_SHARE}", NO_VERSION)


def colour_codes(ratio, share, green_min, orange_min, share_min) -> tuple[np.ndarray, np.ndarray]:
    """The colour rule, vectorised: (colour code into COLOURS or -1, reason code into COLOUR_REASONS).

    Arrays (NaN = missing) of the local ratio, the regional share (%) and the thresholds of the
    version valid for each row. A colour only when the inputs present decide it: ratio >= green
    -> green; ratio >= orange -> orange (the share cannot change that); below, the share decides
    orange or red, so without it there is no colour.
    """
    ratio, share = np.asarray(ratio, dtype="float64"), np.asarray(share, dtype="float64")
    green_min, orange_min = np.asarray(green_min, dtype="float64"), np.asarray(orange_min, dtype="float64")
    share_min = np.asarray(share_min, dtype="float64")
    no_ratio, no_share, no_version = np.isnan(ratio), np.isnan(share), np.isnan(green_min)
    with np.errstate(invalid="ignore"):
        green = ratio >= green_min
        orange_by_ratio = ratio >= orange_min
        orange_by_share = share >= share_min
    colour = np.select([no_version | no_ratio, green, orange_by_ratio, no_share, orange_by_share],
                       [-1, 0, 1, -1, 1], 2).astype("int8")
    reason = np.select([no_version, no_ratio & no_share, no_ratio, (colour == -1) & no_share],
                       [4, 3, 1, 2], 0).astype("int8")
    return colour, reason


def decide_colours(ratio, share, thresholds: pd.DataFrame, at) -> pd.DataFrame:
    """Colour, reason and thresholds version for values at UTC instants `at` (the version valid then)."""
    at = pd.DatetimeIndex(pd.to_datetime(np.asarray(at), utc=True))
    table = thresholds.sort_values("valid_from").reset_index(drop=True)
    idx = np.searchsorted(pd.DatetimeIndex(table["valid_from"]).asi8, at.asi8, side="right") - 1
    valid = idx >= 0
    pick = lambda col: np.where(valid, table[col].to_numpy(dtype="float64")[np.maximum(idx, 0)], np.nan)  # noqa: E731
    colour, reason = colour_codes(ratio, share, pick("green_local_ratio_min"), pick("orange_local_ratio_min"),
                                  pick("orange_regional_share_min_pct"))
    return pd.DataFrame({
        "colour": np.array([None, *COLOURS], dtype=object)[colour + 1],
        "colour_reason": np.array(COLOUR_REASONS, dtype=object)[reason],
        "thresholds_version": np.where(valid, table["version"].to_numpy(dtype=object)[np.maximum(idx, 0)], None),
    })


def _dictionary(codes: np.ndarray, labels: tuple, offset: int = 0) -> pa.Array:
    """Codes as an Arrow string column without one Python object per row (millions of rows)."""
    mask = codes < 0 if offset == 0 else codes == 0
    indices = pa.array(codes.astype("int32") - offset, mask=mask)
    values = pa.array([x for x in labels if x is not None] if offset else list(labels), pa.string())
    return pa.DictionaryArray.from_arrays(indices, values).cast(pa.string())


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


def _typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The frame's columns, or an empty frame of those columns and dtypes (DuckDB needs the types)."""
    if len(frame):
        return frame[list(columns)]
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


SIGNAL_COLUMNS = ["datetime_utc", "id_pdc_itinerance", "id_station_itinerance", "code_insee_commune",
                  "code_poste_source", "in_use", "energy_wh", "energy_quality", "ocpp_status", "etat_pdc",
                  "occupation_pdc", "local_green_ratio", "regional_green_share_pct", "colour", "colour_reason",
                  "thresholds_version", "signal_complete"]


def green_charging_signal(*, start: datetime, end: datetime, register: pd.DataFrame, usage: pd.DataFrame,
                          status: pd.DataFrame, enedis: pd.DataFrame, rte: pd.DataFrame,
                          thresholds: pd.DataFrame, arrow: bool = False) -> pd.DataFrame | pa.Table:
    """Every charge point x half-hour of [start, end). `arrow=True` returns an Arrow table (no pandas copy).

    `usage` is `usage.slot_usage` (in use, energy and whether readings cover it), `status` is
    `usage.slot_status` (the OCPP status in effect). IRVE dynamic state and occupation per the
    OCPP -> IRVE mapping: a transaction open or Preparing ... Finishing -> en_service / occupe;
    Reserved -> reserve; Faulted / Unavailable -> hors_service / inconnu (never occupe, QualiCharge
    rule 37); Available -> libre; no known state -> inconnu (never counted as free).

    The grid (charge points x half-hours) is joined on integer keys: the string keys are mapped
    once on the small inputs, which keeps 100,000 charge points x 48 half-hours to a couple of
    seconds instead of tens (benchmarks/uc2_national_day.py).
    """
    con = _con()
    con.execute("SET preserve_insertion_order = false")
    con.register("slots_in", pd.DataFrame({"datetime_utc": pd.DatetimeIndex(half_hours(start, end))}))
    con.register("reg_in", register[["id_pdc_itinerance", "id_station_itinerance", "code_insee_commune",
                                     "puissance_nominale_kw"]])
    con.register("use_in", _typed(usage, {"id_pdc_itinerance": "object", "datetime_utc": "datetime64[ns, UTC]",
                                          "in_use": "bool", "energy_wh": "float64", "energy_status": "object"}))
    con.register("st_in", _typed(status, {"id_pdc_itinerance": "object", "datetime_utc": "datetime64[ns, UTC]",
                                          "ocpp_status": "object", "status_known": "bool", "out_of_order": "bool",
                                          "occupied_status": "bool", "reserved": "bool"}))
    con.register("en_in", _typed(enedis, {"datetime_utc": "datetime64[ns, UTC]", "id_station_itinerance": "object",
                                          "code_poste_source": "object", "ratio_vert": "float64"}))
    con.register("rte_in", _typed(rte, {"datetime_utc": "datetime64[ns, UTC]", "green_share_pct": "float64"}))
    con.register("thr", thresholds)
    rel = con.sql("""
        WITH slots AS (
            SELECT (row_number() OVER (ORDER BY datetime_utc) - 1)::INT AS si, s.datetime_utc, thr.*
            FROM slots_in s ASOF LEFT JOIN thr ON s.datetime_utc >= thr.valid_from),
        reg AS (
            SELECT (row_number() OVER (ORDER BY id_pdc_itinerance) - 1)::INT AS pi,
                   dense_rank() OVER (ORDER BY id_station_itinerance)::INT AS sti, * FROM reg_in),
        stations AS (SELECT DISTINCT sti, id_station_itinerance FROM reg),
        use AS (SELECT r.pi, s.si, bool_or(u.in_use) AS in_use, sum(u.energy_wh) AS wh,
                       CASE WHEN bool_or(u.energy_status = 'awaiting_reading') THEN 'awaiting_reading'
                            WHEN bool_or(u.energy_status <> 'ok') THEN 'missing_readings' ELSE 'ok' END AS readings
                FROM use_in u JOIN reg r USING (id_pdc_itinerance) JOIN slots s USING (datetime_utc) GROUP BY ALL),
        st AS (SELECT r.pi, s.si, any_value(x.ocpp_status) AS ocpp_status, bool_or(x.status_known) AS known,
                      bool_or(x.out_of_order) AS out_of_order, bool_or(x.occupied_status) AS occupied,
                      bool_or(x.reserved) AS reserved
               FROM st_in x JOIN reg r USING (id_pdc_itinerance) JOIN slots s USING (datetime_utc) GROUP BY ALL),
        en AS (SELECT t.sti, s.si, any_value(e.code_poste_source) AS code_poste_source, avg(e.ratio_vert) AS ratio
               FROM en_in e JOIN stations t USING (id_station_itinerance) JOIN slots s USING (datetime_utc)
               GROUP BY ALL),
        rte1 AS (SELECT s.si, avg(r.green_share_pct) AS share FROM rte_in r JOIN slots s USING (datetime_utc)
                 GROUP BY ALL),
        j AS (
            SELECT s.datetime_utc, r.id_pdc_itinerance, r.id_station_itinerance, r.code_insee_commune,
                   e.code_poste_source, coalesce(u.in_use, false) AS in_use, coalesce(u.wh, 0.0) AS metered_wh,
                   coalesce(u.readings, 'ok') AS readings, r.puissance_nominale_kw, st.ocpp_status,
                   coalesce(st.known, false) AS known, coalesce(st.out_of_order, false) AS out_of_order,
                   coalesce(st.occupied, false) AS occupied, coalesce(st.reserved, false) AS reserved,
                   e.ratio AS ratio, x.share AS share, s.version, s.green_local_ratio_min, s.orange_local_ratio_min,
                   s.orange_regional_share_min_pct
            FROM reg r CROSS JOIN slots s
            LEFT JOIN use u ON u.pi = r.pi AND u.si = s.si
            LEFT JOIN st ON st.pi = r.pi AND st.si = s.si
            LEFT JOIN en e ON e.sti = r.sti AND e.si = s.si
            LEFT JOIN rte1 x ON x.si = s.si),
        q AS (
            SELECT *, CASE WHEN readings <> 'ok' THEN readings
                           WHEN metered_wh > puissance_nominale_kw * 1000 * 0.5 * 1.1 THEN 'above_nominal_power'
                           ELSE 'ok' END AS energy_quality
            FROM j)
        SELECT datetime_utc, id_pdc_itinerance, id_station_itinerance, code_insee_commune, code_poste_source,
               in_use,
               CASE WHEN energy_quality = 'ok' THEN metered_wh END AS energy_wh,
               energy_quality,
               ocpp_status,
               CASE WHEN out_of_order THEN 'hors_service' WHEN known OR in_use THEN 'en_service'
                    ELSE 'inconnu' END AS etat_pdc,
               CASE WHEN out_of_order THEN 'inconnu' WHEN in_use OR occupied THEN 'occupe'
                    WHEN reserved THEN 'reserve' WHEN known THEN 'libre' ELSE 'inconnu' END AS occupation_pdc,
               round(ratio, 4) AS local_green_ratio,
               round(share, 3) AS regional_green_share_pct,
               version AS thresholds_version,
               ratio IS NOT NULL AND share IS NOT NULL AS signal_complete,
               ratio AS _ratio, share AS _share, green_local_ratio_min AS _g, orange_local_ratio_min AS _o,
               orange_regional_share_min_pct AS _s
        FROM q""")
    table = rel.to_arrow_table()
    num = {c: table.column(c).to_numpy(zero_copy_only=False).astype("float64") for c in ("_ratio", "_share", "_g", "_o", "_s")}
    colour, reason = colour_codes(num["_ratio"], num["_share"], num["_g"], num["_o"], num["_s"])
    table = table.append_column("colour", _dictionary(colour, COLOURS))
    table = table.append_column("colour_reason", _dictionary(reason, COLOUR_REASONS, offset=1))
    table = table.select(SIGNAL_COLUMNS)
    table = table.cast(pa.schema([pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type)
                                  else f for f in table.schema]))
    if arrow:
        return table
    return table.to_pandas().sort_values(["id_pdc_itinerance", "datetime_utc"]).reset_index(drop=True)


def forecast_regional_share(rte: pd.DataFrame, cutoff: datetime, steps: int, *, history_days: int = 28,
                            min_days: int = 2) -> tuple[pd.Series, str | None]:
    """The PACA green share (%) forecast `steps` half-hours after `cutoff`, for the forecast's colour.

    `rte` is core_rte__eco2mix_regional before the cut-off (datetime_utc, green_share_pct). Prophet
    on the share's last `history_days` (transforms/forecasting.py); with fewer than `min_days` of
    figures, no forecast (NaN and the reason), so the expected colour is decided by the ratio alone
    where it can be and left null elsewhere, as in the signal.
    """
    from energy_pipelines.transforms import forecasting

    cutoff = pd.Timestamp(cutoff)
    targets = pd.date_range(cutoff, periods=steps, freq="30min")
    history = rte.dropna(subset=["green_share_pct"])
    history = history[(history["datetime_utc"] < cutoff)
                      & (history["datetime_utc"] >= cutoff - pd.Timedelta(days=history_days))]
    series = history.groupby("datetime_utc")["green_share_pct"].mean()
    if len(series) < min_days * 48:
        return pd.Series(np.nan, index=targets), f"less than {min_days} days of RTE figures before the cut-off"
    series.index = pd.DatetimeIndex(series.index).tz_convert("UTC")
    series = series.reindex(pd.date_range(series.index[0], cutoff - pd.Timedelta(minutes=30), freq="30min"))
    result = forecasting.forecast(series, steps, transform="log1p")
    out = result.frame.set_index("ds")["yhat"].clip(lower=0)
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC")
    return out.reindex(targets), None


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
               count(*) FILTER (WHERE in_use AND colour = 'green') AS in_use_while_green,
               round(coalesce(sum(energy_wh), 0) / 1000, 3) AS energy_kwh,
               count(*) FILTER (WHERE energy_quality = 'above_nominal_power') AS energy_refused_above_nominal_power,
               count(*) FILTER (WHERE energy_quality = 'awaiting_reading') AS energy_awaiting_reading,
               count(*) FILTER (WHERE colour IS NULL) AS rows_without_colour,
               list(DISTINCT thresholds_version) FILTER (WHERE thresholds_version IS NOT NULL) AS thresholds_versions
        FROM sig""").fetchall()[0]
    colours = dict(con.sql("SELECT coalesce(colour, 'none'), count(*) FROM sig GROUP BY 1 ORDER BY 1").fetchall())
    reasons = dict(con.sql("SELECT colour_reason, count(*) FROM sig WHERE colour_reason IS NOT NULL "
                           "GROUP BY 1 ORDER BY 1").fetchall())
    per_slot = con.sql("""
        SELECT datetime_utc, 100 * avg((colour = 'green')::INT) AS green_share, 100 * avg(in_use::INT) AS in_use,
               avg(regional_green_share_pct) AS regional
        FROM sig GROUP BY 1 ORDER BY 1""").df()
    names = ["half_hours", "in_use_rows", "in_use_while_green", "energy_kwh",
             "energy_refused_above_nominal_power", "energy_awaiting_reading", "rows_without_colour",
             "thresholds_versions"]
    out = dict(zip(names, row, strict=True))
    out["thresholds_versions"] = sorted(out["thresholds_versions"] or [])
    out["rows_by_colour"] = colours
    out["rows_without_colour_by_reason"] = reasons
    out["per_slot"] = per_slot
    return out


def surplus_in_use(signal: pa.Table | pd.DataFrame, thresholds: pd.DataFrame) -> pd.DataFrame:
    """Charge points in use while their node is in green over-production.

    Over-production is `local_green_ratio >= surplus.local_ratio_min` of the thresholds version the
    signal applied at that half-hour (the versioned file; the green threshold when a version sets no
    surplus threshold of its own). A half-hour without a version, or without an Enedis ratio, is
    not in the list: over-production cannot be asserted without its data.
    """
    con = _con()
    con.register("sig", signal)
    con.register("thr", thresholds[["version", "surplus_local_ratio_min"]])
    return con.execute(f"""
        SELECT datetime_utc, {LOCAL_ISO.format(c="datetime_utc")} AS datetime_local, id_pdc_itinerance,
               id_station_itinerance, code_insee_commune, code_poste_source, local_green_ratio,
               regional_green_share_pct, energy_wh, energy_quality, thresholds_version,
               t.surplus_local_ratio_min
        FROM sig JOIN thr t ON t.version = sig.thresholds_version
        WHERE in_use AND local_green_ratio >= t.surplus_local_ratio_min
        ORDER BY id_pdc_itinerance, datetime_utc""").df()


# -- disclosure: who may see occupancy ----------------------------------------------------------------

AREA_COLUMNS = ["id_station_itinerance", "occupancy_area", "area_type"]


def occupancy_areas(stations: pd.DataFrame, k_points: int, min_stations: int = 2) -> pd.DataFrame:
    """The occupancy area of each station: a partition of the stations, so no area is a difference of two.

    `stations`: id_station_itinerance, code_insee_commune, code_poste_source (may be null),
    n_charge_points. A station's area is its commune when the commune has at least `k_points`
    charge points in at least `min_stations` stations; otherwise the stations of its grid node
    left out of such communes, when they reach the same two minima; otherwise none (its occupancy
    is not published). Never a single station: an area's occupancy never describes one station's
    sessions, and the usage product's masked stations can be protected against it
    (`anonymise.protect_against_areas`).
    """
    st = stations[["id_station_itinerance", "code_insee_commune", "code_poste_source", "n_charge_points"]].copy()
    st = st.drop_duplicates("id_station_itinerance")

    def qualifying(frame: pd.DataFrame, key: str) -> pd.Index:
        g = frame.dropna(subset=[key]).groupby(key).agg(points=("n_charge_points", "sum"),
                                                         stations=("id_station_itinerance", "nunique"))
        return g[(g["points"] >= k_points) & (g["stations"] >= min_stations)].index

    communes = qualifying(st, "code_insee_commune")
    by_commune = st["code_insee_commune"].isin(communes)
    rest = st[~by_commune]
    nodes = qualifying(rest, "code_poste_source")
    by_node = ~by_commune & st["code_poste_source"].isin(nodes)
    st["occupancy_area"] = np.select([by_commune, by_node],
                                     ["commune:" + st["code_insee_commune"].astype(str),
                                      "poste_source:" + st["code_poste_source"].astype(str)], None)
    st["area_type"] = np.select([by_commune, by_node], ["commune", "poste_source"], None)
    st.loc[~(by_commune | by_node), ["occupancy_area", "area_type"]] = None
    return st[AREA_COLUMNS].reset_index(drop=True)


def station_table(signal: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Per station of a signal window: commune, grid node (the most frequent one delivered), charge points."""
    con = _con()
    con.register("sig", signal)
    return con.sql("""
        SELECT id_station_itinerance, any_value(code_insee_commune) AS code_insee_commune,
               mode(code_poste_source) AS code_poste_source, count(DISTINCT id_pdc_itinerance) AS n_charge_points
        FROM sig GROUP BY 1 ORDER BY 1""").df()


def unpublished_reason(k_points: int, min_stations: int) -> str:
    return (f"occupancy not published: neither the commune nor the rest of the grid node reaches "
            f"{k_points} charge points in {min_stations} stations")


def open_signal(signal: pa.Table | pd.DataFrame, k_points: int = 5, min_stations: int = 2) -> pa.Table:
    """The publishable signal: per station and half-hour, the colour (and why none), the regional share;
    occupancy (charge points, free ones) only per occupancy area, never per station.

    An archive of per-station occupancy singles out the driver of a one- or two-point station
    (every session is a visible run of busy half-hours) and undoes the k-user masking of the usage
    product; per area it describes at least `k_points` charge points of at least `min_stations`
    stations. Unknown, reserved and out-of-order points are not counted as free.
    """
    con = _con()
    con.register("sig", signal)
    # one pass over the charge points: per station and half-hour (the areas are sums of stations)
    con.execute("""
        CREATE TEMP TABLE per_station AS
        SELECT datetime_utc, id_station_itinerance, any_value(code_insee_commune) AS code_insee_commune,
               any_value(code_poste_source) AS code_poste_source,
               any_value(colour) AS colour, any_value(colour_reason) AS colour_reason,
               bool_and(signal_complete) AS signal_complete, any_value(thresholds_version) AS thresholds_version,
               round(any_value(regional_green_share_pct), 1) AS regional_green_share_pct,
               count(*) AS n_charge_points, count(*) FILTER (WHERE occupation_pdc = 'libre') AS n_free
        FROM sig GROUP BY datetime_utc, id_station_itinerance""")
    stations = con.sql("""
        SELECT id_station_itinerance, any_value(code_insee_commune) AS code_insee_commune,
               mode(code_poste_source) AS code_poste_source, max(n_charge_points) AS n_charge_points
        FROM per_station GROUP BY 1""").df()
    con.register("areas", occupancy_areas(stations, k_points, min_stations))
    reason = unpublished_reason(k_points, min_stations).replace("'", "''")
    return con.sql(f"""
        WITH per_area AS (
            SELECT p.datetime_utc, a.occupancy_area, count(*) AS area_n_stations,
                   sum(p.n_charge_points)::BIGINT AS area_n_charge_points, sum(p.n_free)::BIGINT AS area_n_free
            FROM per_station p JOIN areas a USING (id_station_itinerance) WHERE a.occupancy_area IS NOT NULL
            GROUP BY ALL)
        SELECT p.datetime_utc, {LOCAL_ISO.format(c="p.datetime_utc")} AS datetime_local, p.id_station_itinerance,
               p.code_insee_commune, p.colour, p.colour_reason, p.signal_complete, p.thresholds_version,
               p.regional_green_share_pct, p.n_charge_points, a.occupancy_area, a.area_type,
               o.area_n_stations, o.area_n_charge_points, o.area_n_free,
               CASE WHEN a.occupancy_area IS NULL THEN '{reason}' END AS occupancy_reason
        FROM per_station p LEFT JOIN areas a USING (id_station_itinerance)
        LEFT JOIN per_area o ON o.datetime_utc = p.datetime_utc AND o.occupancy_area = a.occupancy_area
        ORDER BY p.id_station_itinerance, p.datetime_utc""").to_arrow_table()


def surplus_by_area(surplus: pd.DataFrame, open_signal: pd.DataFrame | pa.Table,
                    register: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The restricted surplus product: per occupancy area and half-hour, charging during green over-production.

    `surplus` is `surplus_in_use` (charge points in use while their node is in over-production),
    `open_signal` gives each station's occupancy area (the disclosure rule of the open signal, so
    both products describe the same groups) and `register` the stations' coordinates. Per area:
    the communes and grid nodes concerned, its centroid, the stations in over-production, the charge
    points in use, the charging time (charge-point hours), the energy and the mean power delivered.
    Energy and power are null when a charge point's energy is not known yet (`energy_complete`).
    Charge points of stations outside any area are left out and counted in the figures.
    """
    con = _con()
    sig = open_signal.to_pandas() if isinstance(open_signal, pa.Table) else open_signal
    con.register("sur", surplus if len(surplus) else pd.DataFrame(
        {"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"), "id_station_itinerance": pd.Series(dtype=object),
         "id_pdc_itinerance": pd.Series(dtype=object), "code_insee_commune": pd.Series(dtype=object),
         "code_poste_source": pd.Series(dtype=object), "energy_wh": pd.Series(dtype=float),
         "energy_quality": pd.Series(dtype=object), "thresholds_version": pd.Series(dtype=object),
         "surplus_local_ratio_min": pd.Series(dtype=float)}))
    con.register("osig", sig[["datetime_utc", "id_station_itinerance", "occupancy_area", "area_type"]])
    coords = register.drop_duplicates("id_station_itinerance")
    con.register("coords", coords[["id_station_itinerance", "latitude", "longitude"]] if {"latitude", "longitude"} <= set(coords)
                 else pd.DataFrame({"id_station_itinerance": coords["id_station_itinerance"],
                                    "latitude": np.nan, "longitude": np.nan}))
    data = con.sql(f"""
        WITH areas AS (SELECT DISTINCT id_station_itinerance, occupancy_area FROM osig WHERE occupancy_area IS NOT NULL),
        centroid AS (SELECT a.occupancy_area, round(avg(c.latitude), 5) AS latitude, round(avg(c.longitude), 5) AS longitude
                     FROM areas a LEFT JOIN coords c USING (id_station_itinerance) GROUP BY 1),
        j AS (SELECT s.*, o.occupancy_area, o.area_type
              FROM sur s JOIN osig o USING (datetime_utc, id_station_itinerance)
              WHERE o.occupancy_area IS NOT NULL)
        SELECT datetime_utc, {LOCAL_ISO.format(c="datetime_utc")} AS datetime_local, occupancy_area,
               any_value(area_type) AS area_type,
               string_agg(DISTINCT code_insee_commune, ',' ORDER BY code_insee_commune) AS communes,
               string_agg(DISTINCT code_poste_source, ',' ORDER BY code_poste_source) AS postes_sources,
               any_value(c.latitude) AS latitude, any_value(c.longitude) AS longitude,
               count(DISTINCT id_station_itinerance) AS n_stations_in_use,
               count(DISTINCT id_pdc_itinerance) AS n_charge_points_in_use,
               0.5 * count(DISTINCT id_pdc_itinerance) AS charging_hours,
               bool_and(energy_quality = 'ok') AS energy_complete,
               CASE WHEN bool_and(energy_quality = 'ok') THEN round(sum(energy_wh) / 1000, 3) END AS energy_kwh,
               CASE WHEN bool_and(energy_quality = 'ok') THEN round(sum(energy_wh) / 1000 / 0.5, 3) END
                   AS delivered_power_kw,
               any_value(thresholds_version) AS thresholds_version,
               any_value(surplus_local_ratio_min) AS surplus_local_ratio_min
        FROM j LEFT JOIN centroid c USING (occupancy_area)
        GROUP BY datetime_utc, occupancy_area ORDER BY occupancy_area, datetime_utc""").df()
    left_out = con.sql("""
        SELECT count(*) AS n FROM sur s LEFT JOIN osig o USING (datetime_utc, id_station_itinerance)
        WHERE o.occupancy_area IS NULL""").fetchall()[0][0]
    return data, {"charge_point_half_hours_in_surplus": int(len(surplus)),
                  "charge_point_half_hours_outside_any_area": int(left_out)}


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
