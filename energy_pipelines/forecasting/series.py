"""Inputs of a forecast read from files as dropped in landing: RTE annual archives (national or
regional, the series and RTE's own J-1 forecast), the ODRÉ daily temperatures, the school calendar.

The RTE archives (`eCO2mix_RTE_Annuel-Definitif_<YYYY>` national, `eCO2mix_RTE_<Région>_...`
regional) are latin-1 TAB or ';' text, possibly zipped, in Paris wall-clock time with RTE's DST
quirks (the raw adapter `sources.rte_eco2mix` documents them): the spring 02:00-02:30 filler rows
are dropped, the autumn repeated hour is read in file order. The raw adapter reads the regional
archives' production columns for the warehouse; the national archive has another column set
(fuel detail, J-1 and J forecasts), hence this reader of the two columns a forecast needs.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME
from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.rte_eco2mix import DISCLAIMER, _decode
from energy_pipelines.sources.school_calendar import ADAPTER as SCHOOL_CALENDAR
from energy_pipelines.sources.temperature_daily import ADAPTER as TEMPERATURE
from energy_pipelines.sources.timeparse import wall_clock_to_utc

STEP = pd.Timedelta(minutes=30)
# archive header -> column of the series frame
ARCHIVE_COLUMNS = {"Consommation": "consommation", "Prévision J-1": "prevision_j1", "Prévision J": "prevision_j"}

# Weights of the regions in the national temperature: population (INSEE, populations municipales
# 2019, thousands). Population stands for the thermosensitive (heating) load, which is where the
# temperature matters; codes are INSEE region codes of mainland France.
REGION_POPULATION_2019 = {
    "11": 12_263, "24": 2_573, "27": 2_806, "28": 3_325, "32": 6_004, "44": 5_556, "52": 3_806,
    "53": 3_355, "75": 6_000, "76": 5_933, "84": 8_043, "93": 5_081, "94": 340,
}
# the school zones of each region's academies (Corsica has its own calendar, "Corse")
SCHOOL_ZONE_OF_REGION = {"93": "Zone B", "84": "Zone A", "11": "Zone C", "76": "Zone C"}


def read_rte_archive(path: Path) -> pd.DataFrame:
    """Half-hourly `consommation` (and `prevision_j1`, `prevision_j` when the archive has them),
    indexed by the UTC start of the half-hour."""
    text = _decode(path, path.read_bytes())
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(DISCLAIMER)]
    if not lines:
        raise SourceFileError(path, "empty RTE archive")
    delimiter = "\t" if lines[0].count("\t") > lines[0].count(";") else ";"
    frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=delimiter, dtype=str, index_col=False,
                        keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in ("Date", "Heures", "Consommation") if c not in frame.columns]
    if missing:
        raise SourceFileError(path, f"not an RTE éCO2mix archive: missing column(s) {missing}")
    fmt = "%Y-%m-%d %H:%M" if re.match(r"\d{4}-", frame["Date"].iloc[0]) else "%d/%m/%Y %H:%M"
    naive = pd.to_datetime(frame["Date"] + " " + frame["Heures"], format=fmt, errors="coerce")
    half_hour = naive.notna() & naive.dt.minute.isin([0, 30])
    frame, naive = frame[half_hour], naive[half_hour]
    utc = wall_clock_to_utc(naive.reset_index(drop=True), PARIS_NAME, repeated="order").utc
    out = pd.DataFrame(index=pd.DatetimeIndex(utc, name="datetime_utc"))
    for label, column in ARCHIVE_COLUMNS.items():
        if label in frame.columns:
            out[column] = pd.to_numeric(frame[label].str.strip().replace({"ND": "", "-": ""}),
                                        errors="coerce").to_numpy()
    out = out[out.index.notna()]
    return out[~out.index.duplicated(keep="first")].sort_index()


def read_rte_archives(paths: list[Path]) -> pd.DataFrame:
    """Several archives on one regular half-hour grid (a later file wins on overlaps; gaps stay NaN)."""
    if not paths:
        raise ValueError("no RTE archive given")
    frame = pd.concat([read_rte_archive(Path(p)) for p in sorted(paths)])
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=STEP, name="datetime_utc")
    return frame.reindex(grid)


def daily_temperature(paths: list[Path], area: str = "national") -> pd.Series:
    """Daily mean temperature per Paris day (index: naive dates) of a region (INSEE code) or of
    mainland France ('national': the population-weighted mean of the regions published that day,
    null when the regions published hold less than 90 % of the population)."""
    rows = pd.concat([TEMPERATURE.read_file(Path(p)).rows for p in paths])
    rows = rows[rows["area_level"] == "region"].drop_duplicates(["day", "area_code"], keep="last")
    table = rows.pivot(index="day", columns="area_code", values="tmean_c")
    table.index = pd.to_datetime(table.index)
    if area != "national":
        if area not in table.columns:
            raise ValueError(f"no daily temperature for region {area} in {[str(p) for p in paths]}")
        return table[area].rename("tmean_c").sort_index()
    weights = pd.Series(REGION_POPULATION_2019, dtype=float).reindex(table.columns).fillna(0.0)
    present = table.notna()
    weight_present = present.mul(weights, axis=1).sum(axis=1)
    mean = table.fillna(0.0).mul(weights, axis=1).sum(axis=1) / weight_present.replace(0, np.nan)
    return mean.where(weight_present >= 0.9 * weights.sum()).rename("tmean_c").sort_index()


def school_holiday_share(paths: list[Path], area: str = "national") -> pd.Series:
    """Per Paris day, the share of the school zones on pupils' holiday: zones A, B and C weighted
    equally for 'national', the region's zone otherwise. Days the calendar does not cover (the file
    has zones only from school year 2017-2018) are absent: unknown, not 0."""
    rows = pd.concat([SCHOOL_CALENDAR.read_file(Path(p)).rows for p in paths])
    rows = rows[~rows["population"].fillna("-").str.lower().str.startswith("enseignant")]
    zones = ["Zone A", "Zone B", "Zone C"] if area == "national" else [SCHOOL_ZONE_OF_REGION.get(area, "Zone B")]
    rows = rows[rows["zones"].isin(zones)]
    if rows.empty:
        raise ValueError(f"school calendar has no row for {zones}")
    first = pd.Timestamp(f"{rows['school_year'].min()[:4]}-09-01")
    start = rows["start_utc"].dt.tz_convert(PARIS_NAME).dt.tz_localize(None).dt.normalize()
    end = rows["end_utc"].dt.tz_convert(PARIS_NAME).dt.tz_localize(None).dt.normalize()
    days = pd.date_range(first, end.max(), freq="D")
    share = np.zeros(len(days))
    for zone in zones:
        on = np.zeros(len(days), dtype=bool)
        for s, e in zip(start[rows["zones"] == zone], end[rows["zones"] == zone], strict=True):
            on |= (days >= s) & (days < e)
        share += on / len(zones)
    return pd.Series(share, index=days, name="school_holiday_share")
