"""Météo-France hourly climatological files (`H_<dept>_...csv.gz`) for the six PACA départements.

Format of Météo-France's "données climatologiques de base horaires" (meteo.data.gouv.fr): gzip,
`;`-separated, one row per station and hour, `AAAAMMJJHH` in UTC, `T` in °C (instantaneous, at
the hour), `GLO` global radiation in J/cm² over the hour ending at `AAAAMMJJHH` (measured at a
minority of stations: empty elsewhere), each measure followed by its quality code `Q<measure>`.
Only a subset of the ~200 real columns is written, in their real order.

Values derive from `weather` (the same regional temperature, cloudiness and wind as the PACA mix)
at each station's altitude (-6.5 °C/km), with a wider seasonal and daily range inland.
The sample writes one file per département and UTC day, `H_<dept>_<YYYY-MM-DD>.csv.gz`, holding the
hours already ended; a day file grows until the day is over (rewritten only when it changes).
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.simulate import weather
from energy_pipelines.simulate.hautes_alpes import PACA_DEPARTEMENTS, WEATHER_STATIONS

UTC = timezone.utc
COLUMNS = ["NUM_POSTE", "NOM_USUEL", "LAT", "LON", "ALTI", "AAAAMMJJHH", "RR1", "QRR1", "FF", "QFF", "DD", "QDD",
           "T", "QT", "U", "QU", "GLO", "QGLO"]
INLAND = {"04", "05", "84"}


def hourly(day: datetime, hours: int = 24) -> pd.DataFrame:
    """Every station's rows for the UTC hours day 00:00 .. day + hours."""
    times = pd.date_range(pd.Timestamp(day).tz_convert(UTC), periods=hours, freq="1h")
    parts = []
    for st in WEATHER_STATIONS:
        inland = st.num_poste[:2] in INLAND
        temp = weather.temperature_c(times, mean_c=15.5 - 0.0065 * st.altitude_m - (1.5 if inland else 0.0),
                                     seasonal_amp=10.0 if inland else 8.5, daily_amp=6.0 if inland else 4.0)
        temp = temp + 0.8 * weather.smooth_noise(times, f"temp-{st.num_poste}")
        # GLO over the hour ending at t: the two half-hours before it
        glo = np.zeros(len(times))
        for back in (pd.Timedelta(minutes=60), pd.Timedelta(minutes=30)):
            t0 = times - back
            sun = np.clip(weather.solar_elevation_sin(t0, lat_deg=st.lat, lon_deg=st.lon), 0, None)
            ghi = 1050 * sun**1.15 * weather.clearness(t0)  # W/m² over the half-hour
            glo += ghi * 1800 / 10_000  # J/cm²
        wind = weather.wind_speed_ms(times) * (0.55 if inland else 0.7)
        rain = np.clip(weather.smooth_noise(times, f"rain-{st.num_poste}", 0.5) - 1.1, 0, None) * 2.0
        parts.append(pd.DataFrame({
            "NUM_POSTE": st.num_poste, "NOM_USUEL": st.name, "LAT": st.lat, "LON": st.lon, "ALTI": st.altitude_m,
            "AAAAMMJJHH": times.strftime("%Y%m%d%H"), "RR1": np.round(rain, 1), "QRR1": 1,
            "FF": np.round(wind, 1), "QFF": 1, "DD": (200 + 40 * weather.smooth_noise(times, "dir")).round(0).astype(int) % 360,
            "QDD": 1, "T": np.round(temp, 1), "QT": 1,
            "U": np.clip(np.round(70 - 1.5 * (temp - temp.mean()) + 8 * weather.smooth_noise(times, "hum")), 5, 100).astype(int),
            "QU": 1, "GLO": np.round(glo).astype(int) if st.measures_glo else None,
            "QGLO": 9 if st.measures_glo else None,
        }))
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


def write_weather(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    now = pd.Timestamp(now or datetime.now(UTC)).tz_convert(UTC)
    stop = min(pd.Timestamp(end).tz_convert(UTC), now.floor("1h") + pd.Timedelta(hours=1))
    day = pd.Timestamp(start).tz_convert(UTC).floor("1D")
    written = []
    while day < stop:
        hours = int(min(24, (stop - day) / pd.Timedelta(hours=1)))
        if hours > 0:
            rows = hourly(day.to_pydatetime(), hours)
            for dep in PACA_DEPARTEMENTS:
                sub = rows[rows["NUM_POSTE"].str[:2] == dep]
                name = f"H_{dep}_{day:%Y-%m-%d}.csv.gz"
                content = _gz(sub.to_csv(sep=";", index=False, lineterminator="\n"))
                target = landing.dir / name
                if not target.exists() or target.read_bytes() != content:
                    written.append(landing.write_atomic(name, content))
        day += timedelta(days=1)
    return written
