"""Regressors of a forecast issued at an origin for the next half-hours: lags known at the origin,
calendar (Paris time, French public holidays from the `holidays` package, school holidays) and the
daily temperature.

Temperature of the days to come is a forecast. `temperature="observed"` uses the observed value
as a perfect forecast (what a backtest can do without archived weather forecasts; it overstates
the skill by the weather forecast's error); `temperature="climatology"` uses, for every day from the
origin's Paris day on, the mean of the same day of the year over the training years (±7 days), so
the share of the skill that comes from the weather is visible. Days before the origin's day are
observed in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import holidays as public_holidays
import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME

STEP = pd.Timedelta(minutes=30)
STEPS_PER_DAY, STEPS_PER_WEEK = 48, 336
TEMPERATURE_MODES = ("observed", "climatology")


@dataclass(frozen=True)
class DailyContext:
    """Per Paris day (naive midnight index): tmean_c (may hold gaps) and school_holiday_share (NaN = unknown)."""

    days: pd.DataFrame

    @classmethod
    def build(cls, temperature: pd.Series | None, school: pd.Series | None) -> "DailyContext":
        index = pd.DatetimeIndex([])
        for s in (temperature, school):
            if s is not None and len(s):
                index = index.union(pd.DatetimeIndex(s.index))
        if not len(index):
            raise ValueError("a forecast context needs a daily temperature or a school calendar")
        days = pd.DataFrame(index=pd.date_range(index.min(), index.max(), freq="D"))
        days["tmean_c"] = temperature.reindex(days.index) if temperature is not None else np.nan
        days["school_holiday_share"] = school.reindex(days.index) if school is not None else np.nan
        return cls(days)

    def climatology(self, until: pd.Timestamp) -> pd.Series:
        """Mean temperature per day of the year over the Paris days before `until`, smoothed over ±7 days."""
        until = pd.Timestamp(until)
        if until.tzinfo is not None:
            until = until.tz_convert(PARIS_NAME).tz_localize(None).normalize()
        past = self.days.loc[self.days.index < until, "tmean_c"].dropna()
        if past.empty:
            return pd.Series(np.nan, index=range(1, 367))
        by_doy = past.groupby(past.index.dayofyear).mean().reindex(range(1, 367))
        wrapped = pd.concat([by_doy.iloc[-7:], by_doy, by_doy.iloc[:7]])
        smooth = wrapped.rolling(15, center=True, min_periods=1).mean().iloc[7:-7]
        return smooth.set_axis(range(1, 367))


def _paris_days(instants: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return instants.tz_convert(PARIS_NAME).tz_localize(None).normalize()


def _public_holiday(days: pd.DatetimeIndex) -> np.ndarray:
    years = range(int(days.year.min()) - 1, int(days.year.max()) + 2)
    fr = public_holidays.France(years=years)
    unique = pd.DatetimeIndex(days.unique())
    flags = pd.Series([d.date() in fr for d in unique], index=unique)
    return flags.reindex(days).to_numpy(dtype=float)


def feature_frame(series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex, horizon_steps: int,
                  *, temperature: str = "observed", climatology_until: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per (origin, step 1..horizon_steps): the target's start, its truth `y` (NaN when
    unknown) and the regressors. `series` is on a regular UTC half-hour grid; an origin is on it and
    the values known at an origin are those of the half-hours starting before it."""
    if temperature not in TEMPERATURE_MODES:
        raise ValueError(f"temperature must be one of {TEMPERATURE_MODES}, got {temperature!r}")
    grid = series.index
    values = series.to_numpy(dtype=float)
    pos0 = grid.get_indexer(origins)
    if (pos0 < 0).any():
        raise ValueError(f"origins not on the series' half-hour grid: {list(origins[pos0 < 0][:3])}")
    h = np.arange(horizon_steps)
    pos = pos0[:, None] + h[None, :]  # target positions (n_origins, steps)
    lead_days = h // STEPS_PER_DAY + 1
    lead_weeks = h // STEPS_PER_WEEK + 1

    def at(p):
        inside = (p >= 0) & (p < len(values))
        return np.where(inside, values[np.clip(p, 0, len(values) - 1)], np.nan)

    target = grid[0] + STEP * pos.ravel()
    origin = np.repeat(origins, horizon_steps)
    last = at(pos0 - 1)
    same_yesterday = at(pos0 - 1 - STEPS_PER_DAY)
    frame = pd.DataFrame({
        "origin": origin, "target": target, "y": at(pos).ravel(),
        "lead_steps": np.tile(h, len(pos0)),
        "persistence": at(pos - STEPS_PER_DAY * lead_days[None, :]).ravel(),
        "seasonal_naive": at(pos - STEPS_PER_WEEK * lead_weeks[None, :]).ravel(),
        "last_value": np.repeat(last, horizon_steps),
        "last_day_change": np.repeat(last - same_yesterday, horizon_steps),
        "last_day_mean": np.repeat(pd.DataFrame(at(pos0[:, None] - 1 - np.arange(STEPS_PER_DAY)[None, :]))
                                   .mean(axis=1).to_numpy(), horizon_steps),  # NaN, silently, before any value
    })
    target_idx = pd.DatetimeIndex(frame["target"])
    local = target_idx.tz_convert(PARIS_NAME)
    frame["half_hour"] = local.hour * 2 + local.minute // 30
    frame["weekday"] = local.dayofweek
    frame["day_of_year"] = local.dayofyear
    day = _paris_days(target_idx)
    origin_day = _paris_days(pd.DatetimeIndex(frame["origin"]))
    persistence_day = day - pd.to_timedelta(np.tile(lead_days, len(pos0)), unit="D")
    seasonal_day = day - pd.to_timedelta(7 * np.tile(lead_weeks, len(pos0)), unit="D")
    for name, d in (("", day), ("_prev_day", day - pd.Timedelta(days=1)), ("_next_day", day + pd.Timedelta(days=1)),
                    ("_persistence_day", persistence_day), ("_seasonal_day", seasonal_day)):
        frame[f"public_holiday{name}"] = _public_holiday(d)
    frame["school_holiday_share"] = context.days["school_holiday_share"].reindex(day).to_numpy()
    observed = context.days["tmean_c"]
    clim = context.climatology(climatology_until if climatology_until is not None else origin_day.min()) \
        if temperature == "climatology" else None
    for name, back in (("tmean_c", 0), ("tmean_c_prev_day", 1), ("tmean_c_2_days_before", 2)):
        d = day - pd.Timedelta(days=back)
        t = observed.reindex(d).to_numpy()
        if clim is not None:
            future = (d >= origin_day)
            t = np.where(future, clim.reindex(d.dayofyear).to_numpy(), t)
        frame[name] = t
    frame["tmean_c_persistence_day"] = observed.reindex(persistence_day).to_numpy()
    return frame


FEATURES = ["lead_steps", "persistence", "seasonal_naive", "last_value", "last_day_change", "last_day_mean",
            "half_hour", "weekday", "day_of_year", "public_holiday", "public_holiday_prev_day",
            "public_holiday_next_day", "public_holiday_persistence_day", "public_holiday_seasonal_day",
            "school_holiday_share", "tmean_c", "tmean_c_prev_day", "tmean_c_2_days_before",
            "tmean_c_persistence_day"]
