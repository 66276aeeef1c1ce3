"""The PACA electricity mix, half-hour by half-hour, written as ODRÉ `eco2mix-regional-tr` exports.

Magnitudes follow the real PACA archives (consumption 2.7-8.2 GW, mean ~4.8 GW; solar peaking
near 1 GW; hydro ~1.2 GW mean with a snow-melt peak; no nuclear; the region imports most of its
power). The balance holds by construction: consumption = production + pumping + exchanges.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from energy_pipelines.simulate import weather

UTC = timezone.utc
HALF_HOUR = timedelta(minutes=30)
SOLAR_CAPACITY_MW = 1900.0
WIND_CAPACITY_MW = 110.0
HOLIDAY_MONTH_DAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}
ODRE_FIELDS = ["code_insee_region", "libelle_region", "nature", "date", "heure", "date_heure",
               "consommation", "thermique", "nucleaire", "eolien", "solaire", "hydraulique", "pompage",
               "bioenergies", "ech_physiques"]


def daily_profile(hour: np.ndarray) -> np.ndarray:
    """Consumption shape over the local day: night trough, morning ramp, midday plateau, evening peak."""
    return (0.80 + 0.13 * np.exp(-((hour - 12.5) / 3.5) ** 2) + 0.17 * np.exp(-((hour - 19.5) / 2.2) ** 2)
            + 0.08 * np.exp(-((hour - 9.0) / 1.8) ** 2) - 0.10 * np.exp(-((hour - 4.0) / 2.5) ** 2))


DAILY_PROFILE_PEAK = float(daily_profile(np.linspace(0, 24, 24 * 60)).max())


def mix(times: pd.DatetimeIndex) -> pd.DataFrame:
    """MW averages per half-hour (UTC starts) for every column of the regional mix."""
    local = times.tz_convert("Europe/Paris")
    hour = np.asarray(local.hour + local.minute / 60 + 0.25, dtype=float)
    doy = weather.day_of_year(times)
    temp = weather.temperature_c(times)

    daily = daily_profile(hour)  # weekends and holidays are lower
    weekend = np.isin(np.asarray(local.dayofweek), [5, 6])
    holiday = np.array([(m, d) in HOLIDAY_MONTH_DAYS for m, d in zip(local.month, local.day, strict=True)])
    heating = 170.0 * np.clip(16.0 - temp, 0, None)
    cooling = 70.0 * np.clip(temp - 23.0, 0, None)
    summer_tourism = 250.0 * np.exp(-((doy - 210) / 25) ** 2)
    consommation = (5000 * daily * np.where(weekend | holiday, 0.91, 1.0) + heating + cooling + summer_tourism
                    + 60 * weather.smooth_noise(times, "load"))

    sun = np.clip(weather.solar_elevation_sin(times), 0, None)
    solaire = SOLAR_CAPACITY_MW * 0.78 * sun**1.15 * weather.clearness(times)
    wind = weather.wind_speed_ms(times)
    eolien = WIND_CAPACITY_MW * np.clip((wind - 3.0) / 9.0, 0, 1) ** 2
    melt = 1.0 + 0.55 * np.exp(-((doy - 150) / 35) ** 2) - 0.25 * np.exp(-((doy - 250) / 40) ** 2)
    # hydro follows the load shape (normalised by the profile's own peak, a constant, so any window
    # gives the same values for the same half-hour)
    hydraulique = 880 * melt * (0.75 + 0.45 * daily / DAILY_PROFILE_PEAK) + 80 * weather.smooth_noise(times, "hydro")
    bioenergies = 115 + 10 * np.cos(2 * np.pi * doy / 365.25)
    # gas plants follow the residual load above a threshold
    residual = consommation - solaire - hydraulique - eolien - bioenergies
    thermique = np.clip(180 + 0.45 * (residual - 1500), 150, 2200)
    # pumping on sunny middays and at night when the residual is low
    pompage = -np.where(residual < 1200, np.clip(1200 - residual, 0, 300), 0.0)
    pompage = np.where(pompage > -5, 0.0, pompage)
    production = thermique + eolien + solaire + hydraulique + bioenergies
    frame = pd.DataFrame({
        "consommation": consommation, "thermique": thermique, "eolien": eolien, "solaire": solaire,
        "hydraulique": hydraulique, "pompage": pompage, "bioenergies": bioenergies,
    }).round(0)
    frame["ech_physiques"] = (frame["consommation"] - frame[["thermique", "eolien", "solaire", "hydraulique",
                                                             "bioenergies", "pompage"]].sum(axis=1))
    frame.insert(0, "datetime_utc", times)
    del production
    return frame


def odre_export(times: pd.DatetimeIndex, region_code: str = "93") -> str:
    """The same rows as ODRÉ's CSV export (`;`, API field names, local date/heure, offset stamps)."""
    frame = mix(times)
    local = times.tz_convert("Europe/Paris")
    out = pd.DataFrame({
        "code_insee_region": region_code,
        "libelle_region": "Provence-Alpes-Côte d'Azur",
        "nature": "Données temps réel",
        "date": local.strftime("%Y-%m-%d"),
        "heure": local.strftime("%H:%M"),
        "date_heure": [t.isoformat() for t in local],
    })
    for col in ["consommation", "thermique", "eolien", "solaire", "hydraulique", "pompage", "bioenergies",
                "ech_physiques"]:
        out[col] = frame[col].astype("int64").to_numpy()
    out["nucleaire"] = ""  # no nuclear plant in PACA: the API leaves it empty
    return out[ODRE_FIELDS].to_csv(sep=";", index=False, lineterminator="\n")


def write_eco2mix_days(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list:
    """One export file per UTC day, holding the half-hours already ended by `now`.

    A day file only ever grows: a run for an earlier window never shortens what a later one
    delivered, and re-runs write nothing.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stop = min(end.astimezone(UTC), now - timedelta(minutes=now.minute % 30, seconds=now.second,
                                                     microseconds=now.microsecond))
    written = []
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < stop:
        day_end = min(day + timedelta(days=1), stop)
        # a day file always starts at midnight UTC so later windows extend it consistently
        times = pd.date_range(day, day_end, freq="30min", inclusive="left")
        if len(times):
            name = f"sample_eco2mix-regional-tr_93_{day:%Y-%m-%d}.csv"
            content = odre_export(times)
            target = landing.dir / name
            existing = target.read_text(encoding="utf-8") if target.exists() else ""
            if not existing.startswith(content):
                written.append(landing.write_atomic(name, content))
        day += timedelta(days=1)
    return written
