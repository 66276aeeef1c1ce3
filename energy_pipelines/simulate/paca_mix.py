"""The PACA electricity mix, written as the ODRÉ exports the live API serves.

Magnitudes follow the real PACA archives (consumption 2.7-8.2 GW, mean ~4.8 GW; solar peaking
near 1 GW; hydro ~1.2 GW mean with a snow-melt peak; no nuclear; the region imports most of its
power). The balance holds by construction: consumption = production + pumping + exchanges.

What is written, per UTC day (`sample_eco2mix-regional-<dataset>_93_<YYYY-MM-DD>.csv`):
- `eco2mix-regional-tr` for the recent, not yet consolidated period: **quarter-hourly** rows
  ("Données temps réel", every row a 15-minute mean power), API field names as in ODRÉ's CSV
  export (`code_insee_region;libelle_region;nature;date;heure;date_heure;consommation;...;
  stockage_batterie;destockage_batterie;tco_*;tch_*;column_68`), nuclear empty, and for the day
  being published the export's empty placeholder rows for the quarter-hours not published yet.
- `eco2mix-regional-cons-def` for the consolidated past: half-hourly rows, the portal's labels
  (`Code INSEE région;Région;...;Date - Heure;Consommation (MW);...;Column 30`), UTF-8 with a
  BOM and CRLF line ends, as the real 2024 export. A half-hour's consolidated figure is the mean
  of its two real-time quarter-hours, rounded to the MW like RTE's (exchanges re-balanced).

Consolidation (approximation of RTE's calendar, documented on its éCO2mix pages: consolidated
"au cours des mois suivants", definitive "au cours de l'année suivante"): half-hours before the
start of the Paris month preceding `now` are consolidated; a Paris year is definitive once six
months of the next have passed. Real cons-def exports repeat RTE's archive DST quirk (spring
02:00/02:30 filler rows, the autumn hour given once); `dst_quirk=True` reproduces it, the
sample default writes every UTC half-hour once (the quirk is tested on the real export).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS, PARIS_NAME, UTC, paris_start
from energy_pipelines.simulate import weather

HALF_HOUR = timedelta(minutes=30)
QUARTER = timedelta(minutes=15)
SOLAR_CAPACITY_MW = 1900.0
WIND_CAPACITY_MW = 110.0
# installed capacities for the load factors (TCH) of the export; PACA has no nuclear plant
CAPACITY_MW = {"thermique": 2000.0, "nucleaire": None, "eolien": WIND_CAPACITY_MW, "solaire": SOLAR_CAPACITY_MW,
               "hydraulique": 3200.0, "bioenergies": 200.0}
HOLIDAY_MONTH_DAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}
REGION = ("93", "Provence-Alpes-Côte d'Azur")
VALUES = ["consommation", "thermique", "eolien", "solaire", "hydraulique", "pompage", "bioenergies", "ech_physiques"]
FILIERES = ["thermique", "nucleaire", "eolien", "solaire", "hydraulique", "bioenergies"]
# eco2mix-regional-tr, API field names in the export's order
TR_FIELDS = ["code_insee_region", "libelle_region", "nature", "date", "heure", "date_heure", "consommation",
             "thermique", "nucleaire", "eolien", "solaire", "hydraulique", "pompage", "bioenergies", "ech_physiques",
             "stockage_batterie", "destockage_batterie",
             *[f"{k}_{f}" for f in FILIERES for k in ("tco", "tch")], "column_68"]
# eco2mix-regional-cons-def, the portal's labels (as the real 2024 export)
CONS_DEF_LABELS = {
    "code_insee_region": "Code INSEE région", "libelle_region": "Région", "nature": "Nature", "date": "Date",
    "heure": "Heure", "date_heure": "Date - Heure", "consommation": "Consommation (MW)",
    "thermique": "Thermique (MW)", "nucleaire": "Nucléaire (MW)", "eolien": "Eolien (MW)",
    "solaire": "Solaire (MW)", "hydraulique": "Hydraulique (MW)", "pompage": "Pompage (MW)",
    "bioenergies": "Bioénergies (MW)", "ech_physiques": "Ech. physiques (MW)",
    "stockage_batterie": "Stockage batterie", "destockage_batterie": "Déstockage batterie",
    "eolien_terrestre": "Eolien terrestre", "eolien_offshore": "Eolien offshore",
    **{f"{k}_{f}": f"{k.upper()} {label} (%)" for f, label in
       [("thermique", "Thermique"), ("nucleaire", "Nucléaire"), ("eolien", "Eolien"), ("solaire", "Solaire"),
        ("hydraulique", "Hydraulique"), ("bioenergies", "Bioénergies")] for k in ("tco", "tch")},
    "column_30": "Column 30",
}
TEMPS_REEL, CONSOLIDEES, DEFINITIVES = "Données temps réel", "Données consolidées", "Données définitives"


def daily_profile(hour: np.ndarray) -> np.ndarray:
    """Consumption shape over the local day: night trough, morning ramp, midday plateau, evening peak."""
    return (0.80 + 0.13 * np.exp(-((hour - 12.5) / 3.5) ** 2) + 0.17 * np.exp(-((hour - 19.5) / 2.2) ** 2)
            + 0.08 * np.exp(-((hour - 9.0) / 1.8) ** 2) - 0.10 * np.exp(-((hour - 4.0) / 2.5) ** 2))


DAILY_PROFILE_PEAK = float(daily_profile(np.linspace(0, 24, 24 * 60)).max())


def _balanced(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole MW as RTE publishes them, the exchanges closing the balance exactly."""
    frame = frame.round(0)
    frame["ech_physiques"] = frame["consommation"] - frame[["thermique", "eolien", "solaire", "hydraulique",
                                                            "bioenergies", "pompage"]].sum(axis=1)
    return frame


def _physics(times: pd.DatetimeIndex, step: timedelta) -> pd.DataFrame:
    """Mean MW over [t, t + step) for each UTC start t, before rounding."""
    # the sun is evaluated 15 minutes after the time given (mid half-hour): shift it to the middle
    # of each step. The noisy helpers see the step's start, never an earlier day (their burn-in
    # starts at the window's first day)
    mid = times + (step / 2 - timedelta(minutes=15))
    at = times
    local = times.tz_convert(PARIS_NAME)
    hour = np.asarray(local.hour + local.minute / 60 + step / timedelta(hours=2), dtype=float)
    doy = weather.day_of_year(times)
    temp = weather.temperature_c(at)

    daily = daily_profile(hour)  # weekends and holidays are lower
    weekend = np.isin(np.asarray(local.dayofweek), [5, 6])
    holiday = np.array([(m, d) in HOLIDAY_MONTH_DAYS for m, d in zip(local.month, local.day, strict=True)])
    heating = 170.0 * np.clip(16.0 - temp, 0, None)
    cooling = 70.0 * np.clip(temp - 23.0, 0, None)
    summer_tourism = 250.0 * np.exp(-((doy - 210) / 25) ** 2)
    consommation = (5000 * daily * np.where(weekend | holiday, 0.91, 1.0) + heating + cooling + summer_tourism
                    + 60 * weather.smooth_noise(at, "load"))

    sun = np.clip(weather.solar_elevation_sin(mid), 0, None)
    solaire = SOLAR_CAPACITY_MW * 0.78 * sun**1.15 * weather.clearness(at)
    wind = weather.wind_speed_ms(at)
    eolien = WIND_CAPACITY_MW * np.clip((wind - 3.0) / 9.0, 0, 1) ** 2
    melt = 1.0 + 0.55 * np.exp(-((doy - 150) / 35) ** 2) - 0.25 * np.exp(-((doy - 250) / 40) ** 2)
    # hydro follows the load shape (normalised by the profile's own peak, a constant, so any window
    # gives the same values for the same half-hour)
    hydraulique = 880 * melt * (0.75 + 0.45 * daily / DAILY_PROFILE_PEAK) + 80 * weather.smooth_noise(at, "hydro")
    bioenergies = 115 + 10 * np.cos(2 * np.pi * doy / 365.25)
    # gas plants follow the residual load above a threshold
    residual = consommation - solaire - hydraulique - eolien - bioenergies
    thermique = np.clip(180 + 0.45 * (residual - 1500), 150, 2200)
    # pumping on sunny middays and at night when the residual is low
    pompage = -np.where(residual < 1200, np.clip(1200 - residual, 0, 300), 0.0)
    pompage = np.where(pompage > -5, 0.0, pompage)
    return pd.DataFrame({
        "consommation": consommation, "thermique": thermique, "eolien": eolien, "solaire": solaire,
        "hydraulique": hydraulique, "pompage": pompage, "bioenergies": bioenergies,
    })


def quarter_hour_mix(times: pd.DatetimeIndex) -> pd.DataFrame:
    """Whole-MW mean powers per quarter-hour (UTC starts), balanced: the real-time feed's values."""
    frame = _balanced(_physics(times, QUARTER))
    frame.insert(0, "datetime_utc", times)
    return frame[["datetime_utc", *VALUES]]


def mix(times: pd.DatetimeIndex) -> pd.DataFrame:
    """MW averages per half-hour (UTC starts): the mean of its two quarter-hours, rounded, balanced."""
    quarters = quarter_hour_mix(times.append(times + QUARTER))
    n = len(times)
    first, second = quarters.iloc[:n][VALUES].to_numpy(), quarters.iloc[n:][VALUES].to_numpy()
    frame = _balanced(pd.DataFrame((first + second) / 2, columns=VALUES))
    frame.insert(0, "datetime_utc", times)
    return frame[["datetime_utc", *VALUES]]


def _pct(value: float) -> str:
    """A percentage as the export writes it: 21.8, 0, 3.96."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if np.isfinite(value) else ""


def _whole(values: pd.Series) -> list[str]:
    return [str(int(v)) for v in values]


def _export_frame(frame: pd.DataFrame, nature: str, region_code: str) -> pd.DataFrame:
    """Rows of an ODRÉ export, every value as the text the export shows (field names as columns)."""
    local = pd.DatetimeIndex(frame["datetime_utc"]).tz_convert(PARIS_NAME)
    out = pd.DataFrame({
        "code_insee_region": region_code, "libelle_region": REGION[1], "nature": nature,
        "date": local.strftime("%Y-%m-%d"), "heure": local.strftime("%H:%M"),
        "date_heure": [t.isoformat() for t in local],
    })
    valued = frame["consommation"].notna().to_numpy()
    for col in VALUES:
        out[col] = np.where(valued, _whole(frame[col].fillna(0)), "")
    out["nucleaire"] = ""  # no nuclear plant in PACA: the export leaves it empty
    out["stockage_batterie"] = np.where(valued, "0", "")
    out["destockage_batterie"] = np.where(valued, "0", "")
    out["eolien_terrestre"] = out["eolien"]
    out["eolien_offshore"] = np.where(valued, "0", "")
    consumption = frame["consommation"].to_numpy(dtype=float)
    for f in FILIERES:
        cap = CAPACITY_MW[f]
        if f == "nucleaire" or cap is None:
            out[f"tco_{f}"] = out[f"tch_{f}"] = ""
            continue
        mw = frame[f].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            tco = np.round(100 * mw / consumption, 2)
        out[f"tco_{f}"] = np.where(valued, [_pct(v) for v in tco], "")
        out[f"tch_{f}"] = np.where(valued, [_pct(v) for v in np.round(100 * mw / cap, 2)], "")
    out["column_68"] = out["column_30"] = ""
    return out


def tr_export(times: pd.DatetimeIndex, placeholders: pd.DatetimeIndex | None = None, region_code: str = "93") -> str:
    """An `eco2mix-regional-tr` CSV export: quarter-hours `times` with values, `placeholders` empty."""
    frame = quarter_hour_mix(times)
    if placeholders is not None and len(placeholders):
        empty = pd.DataFrame({"datetime_utc": placeholders, **{c: np.nan for c in VALUES}})
        frame = pd.concat([frame, empty], ignore_index=True)
    out = _export_frame(frame, TEMPS_REEL, region_code)
    return out[TR_FIELDS].to_csv(sep=";", index=False, lineterminator="\n")


def cons_def_export(times: pd.DatetimeIndex, natures: list[str] | str = CONSOLIDEES, region_code: str = "93",
                    dst_quirk: bool = False) -> str:
    """An `eco2mix-regional-cons-def` export of half-hours `times`, labels, BOM and CRLF as the portal's.

    `dst_quirk` writes RTE's local-label grid: 48 rows on every Paris day, the spring gap's
    02:00/02:30 labels repeating the 03:00/03:30 rows (with their `Date - Heure`), and the
    autumn 02:00/02:30 given once (the second, winter-time occurrence).
    """
    frame = mix(times)
    out = _export_frame(frame, CONSOLIDEES, region_code)
    out["nature"] = natures if isinstance(natures, str) else list(natures)
    if dst_quirk:
        out = _with_dst_quirk(out)
    body = out[list(CONS_DEF_LABELS)].rename(columns=CONS_DEF_LABELS).to_csv(sep=";", index=False,
                                                                              lineterminator="\r\n")
    return "\ufeff" + body


def _with_dst_quirk(out: pd.DataFrame) -> pd.DataFrame:
    stamp = pd.to_datetime(out["date_heure"], utc=True)
    local = stamp.dt.tz_convert(PARIS_NAME)
    offset = local.map(lambda t: t.utcoffset())
    hour = local.dt.strftime("%H:%M")
    repeated = hour.isin(["02:00", "02:30"]) & local.dt.strftime("%m").eq("10") & \
        (offset > offset.groupby(local.dt.date).transform("min"))
    out = out[~repeated.to_numpy()].copy()  # the first (summer-time) occurrence is not given
    fillers = []
    for i in np.flatnonzero(out["heure"].isin(["03:00", "03:30"]).to_numpy()):
        row = out.iloc[i]
        day = date.fromisoformat(row["date"])
        if paris_start(day + timedelta(days=1)) - paris_start(day) == timedelta(hours=23):
            filler = row.copy()
            filler["heure"] = "02:" + row["heure"][3:]
            fillers.append((i, filler))
    for shift, (i, filler) in enumerate(fillers):  # the real export lists each filler next to its twin
        out = pd.concat([out.iloc[:i + shift + 1], filler.to_frame().T, out.iloc[i + shift + 1:]], ignore_index=True)
    return out


def consolidation_cutoff(now: datetime) -> datetime:
    """Half-hours before this instant are in the consolidated dataset, the later ones in real time."""
    local = now.astimezone(PARIS).date().replace(day=1)
    return paris_start((local - timedelta(days=1)).replace(day=1))


def nature_on(times: pd.DatetimeIndex, now: datetime) -> list[str]:
    """Consolidated, or definitive once six months of the following Paris year have passed."""
    years = times.tz_convert(PARIS_NAME).year
    return [DEFINITIVES if paris_start(date(y + 1, 7, 1)) <= now else CONSOLIDEES for y in years]


def _valued_rows(text: str) -> int:
    """Rows of an export with a consumption value (placeholders excluded)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        return 0
    header = lines[0].split(";")
    col = next(i for i, h in enumerate(header) if h.startswith(("consommation", "Consommation")))
    return sum(1 for line in lines[1:] if len(line.split(";")) > col and line.split(";")[col] != "")


def _deliver(landing, name: str, content: str, written: list) -> None:
    """A day file only ever grows: a run for an earlier window or time never shortens it."""
    target = landing.dir / name
    if target.exists() and _valued_rows(target.read_text(encoding="utf-8-sig")) >= _valued_rows(content):
        return
    written.append(landing.write_atomic(name, content))


def write_eco2mix_days(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                       region_code: str = "93", dst_quirk: bool = False) -> list:
    """The exports of [start, end) per UTC day, holding what RTE has published by `now`.

    Real-time quarter-hours are published once ended; the day being published also lists its
    remaining quarter-hours (of the Paris day) as empty placeholder rows, as the live export does.
    Re-runs write nothing; a later `now` or window extends the day files.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    published = pd.Timestamp(now).floor("15min")  # quarter-hours ended by now start before this
    stop = min(pd.Timestamp(end.astimezone(UTC)), published)
    cutoff = pd.Timestamp(consolidation_cutoff(now))
    paris_day_end = pd.Timestamp(paris_start(now.astimezone(PARIS).date() + timedelta(days=1)))
    written: list = []
    day = pd.Timestamp(start.astimezone(UTC)).floor("D")
    while day < stop:
        day_end = day + pd.Timedelta(days=1)
        # a day file always starts at midnight UTC so later windows extend it consistently
        consolidated = pd.date_range(day, min(day_end, stop, cutoff), freq="30min", inclusive="left")
        if len(consolidated):
            content = cons_def_export(consolidated, nature_on(consolidated, now), region_code, dst_quirk=dst_quirk)
            _deliver(landing, f"sample_eco2mix-regional-cons-def_{region_code}_{day:%Y-%m-%d}.csv", content, written)
        quarters = pd.date_range(max(day, cutoff), min(day_end, stop), freq="15min", inclusive="left")
        placeholders = None
        if stop == published and day <= published < day_end:
            placeholders = pd.date_range(max(published, cutoff), min(day_end, paris_day_end), freq="15min",
                                         inclusive="left")
        if len(quarters):
            content = tr_export(quarters, placeholders, region_code)
            _deliver(landing, f"sample_eco2mix-regional-tr_{region_code}_{day:%Y-%m-%d}.csv", content, written)
        day = day_end
    return written
