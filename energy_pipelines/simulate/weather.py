"""Temperature, cloudiness and wind for Provence, as smooth deterministic functions of time."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS

EPOCH = pd.Timestamp("2000-01-01", tz="UTC")


def _daily_noise(days: np.ndarray, seed: str) -> np.ndarray:
    """A reproducible N(0,1) value per integer day number (stable across windows)."""
    out = np.empty(len(days))
    for i, d in enumerate(days):
        digest = hashlib.blake2b(f"{seed}:{int(d)}".encode(), digest_size=8).digest()
        out[i] = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal()
    return out


def smooth_noise(times: pd.DatetimeIndex, seed: str, persistence: float = 0.6) -> np.ndarray:
    """Day-to-day noise interpolated within the day, AR-like across days."""
    t_days = (times - EPOCH) / pd.Timedelta(days=1)
    t_days = np.asarray(t_days, dtype=float)
    lo = np.floor(t_days).astype(int)
    span = np.arange(lo.min() - 3, lo.max() + 2)
    raw = _daily_noise(span, seed)
    # AR(1) smoothing over a short burn-in, so consecutive days are correlated
    smooth = np.empty_like(raw)
    acc = 0.0
    for i, v in enumerate(raw):
        acc = persistence * acc + np.sqrt(1 - persistence**2) * v
        smooth[i] = acc
    frac = t_days - lo
    left = smooth[lo - span[0]]
    right = smooth[lo - span[0] + 1]
    return left + (right - left) * frac


def day_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(times.dayofyear, dtype=float)


def temperature_c(times: pd.DatetimeIndex, mean_c: float = 15.5, seasonal_amp: float = 8.5,
                  daily_amp: float = 4.0, seed: str = "temp") -> np.ndarray:
    """Air temperature (°C) of a Mediterranean coastal climate, warmest late July, 15:00 local."""
    doy = day_of_year(times)
    local_hour = np.asarray(times.tz_convert(PARIS).hour + times.minute / 60, dtype=float)
    seasonal = mean_c - seasonal_amp * np.cos(2 * np.pi * (doy - 20) / 365.25)
    daily = daily_amp * np.cos(2 * np.pi * (local_hour - 15) / 24)
    return seasonal + daily + 2.5 * smooth_noise(times, seed)


def clearness(times: pd.DatetimeIndex, seed: str = "cloud") -> np.ndarray:
    """Share of clear-sky irradiance reaching the ground: cloudier in winter, bounded to [0.15, 1]."""
    doy = day_of_year(times)
    base = 0.72 + 0.12 * np.cos(2 * np.pi * (doy - 190) / 365.25)
    return np.clip(base + 0.18 * smooth_noise(times, seed, persistence=0.3), 0.15, 1.0)


def solar_elevation_sin(times: pd.DatetimeIndex, lat_deg: float = 43.5, lon_deg: float = 5.9) -> np.ndarray:
    """sin(solar elevation) from the usual declination / equation-of-time approximations."""
    doy = day_of_year(times)
    gamma = 2 * np.pi / 365 * (doy - 1 + (np.asarray(times.hour) - 12) / 24)
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    # the middle of the half-hour, in minutes of the UTC day
    minutes = np.asarray(times.hour * 60 + times.minute, dtype=float) + 15
    true_solar = minutes + eqtime + 4 * lon_deg
    hour_angle = np.deg2rad(true_solar / 4 - 180)
    lat = np.deg2rad(lat_deg)
    return np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)


def wind_speed_ms(times: pd.DatetimeIndex, seed: str = "wind") -> np.ndarray:
    """Hub-height wind speed (m/s): mistral episodes as persistent positive noise."""
    return np.clip(6.0 + 3.5 * smooth_noise(times, seed, persistence=0.7), 0.0, 25.0)
