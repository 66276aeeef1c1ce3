"""The one clock of the platform: UTC for storage, Europe/Paris for the calendar people read.

Nothing else defines a time zone. Half-hour boundaries coincide in UTC and in Paris time (the
offsets are whole hours), so a Paris day is 46, 48 or 50 UTC half-hours; these helpers give the
exact UTC bounds of Paris days, months and years and split any UTC window along them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
PARIS_NAME = "Europe/Paris"
HALF_HOUR = timedelta(minutes=30)
QUARTER_HOUR = timedelta(minutes=15)

# the window of an unpartitioned run: everything delivered so far
ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
ALL_TIME_END = datetime(2200, 1, 1, tzinfo=UTC)


def utc(t: datetime | pd.Timestamp) -> datetime:
    """A tz-aware instant in UTC; a naive one is refused (its zone would be a guess)."""
    if t.tzinfo is None:
        raise ValueError(f"{t} is a naive time: give its zone")
    return t.astimezone(UTC) if isinstance(t, datetime) else t.tz_convert(UTC).to_pydatetime()


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC: what a run covers (a partition, a range, or all time)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def all_time(cls) -> Window:
        return cls(ALL_TIME_START, ALL_TIME_END)

    @property
    def is_all_time(self) -> bool:
        return self.start <= ALL_TIME_START and self.end >= ALL_TIME_END

    def __iter__(self) -> Iterator[datetime]:  # start, end = window
        return iter((self.start, self.end))

    def contains(self, times: pd.Series) -> pd.Series:
        t = pd.to_datetime(times, utc=True)
        return (t >= pd.Timestamp(self.start)) & (t < pd.Timestamp(self.end))

    def half_hours(self) -> list[datetime]:
        return half_hours(self.start, self.end)

    def paris_days(self) -> list[Period]:
        return paris_periods(self.start, self.end, "day")

    def paris_months(self) -> list[Period]:
        return paris_periods(self.start, self.end, "month")

    def paris_years(self) -> list[Period]:
        return paris_periods(self.start, self.end, "year")

    def shifted(self, before: timedelta = timedelta(0), after: timedelta = timedelta(0)) -> Window:
        return Window(self.start - before, self.end + after)


@dataclass(frozen=True)
class Period:
    """One Paris calendar period (day, month or year) with its UTC bounds."""

    label: str  # 2025-10-26, 2025-10, 2025
    start: datetime
    end: datetime

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    @property
    def half_hour_count(self) -> int:
        return int((self.end - self.start) / HALF_HOUR)


def half_hours(start: datetime, end: datetime) -> list[datetime]:
    """UTC starts of every half-hour in [start, end); both bounds must be tz-aware."""
    first, stop = utc(start), utc(end)
    t = first.replace(second=0, microsecond=0) + timedelta(minutes=(-first.minute) % 30)
    if t < first:
        t += HALF_HOUR
    out = []
    while t < stop:
        out.append(t)
        t += HALF_HOUR
    return out


def _next(d: date, resolution: str) -> date:
    if resolution == "day":
        return d + timedelta(days=1)
    if resolution == "month":
        return date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return date(d.year + 1, 1, 1)


def _first(d: date, resolution: str) -> date:
    return d if resolution == "day" else d.replace(day=1) if resolution == "month" else date(d.year, 1, 1)


_LABEL = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def paris_start(d: date) -> datetime:
    """The UTC instant of Paris midnight at the start of `d`."""
    return datetime(d.year, d.month, d.day, tzinfo=PARIS).astimezone(UTC)


def paris_periods(start: datetime, end: datetime, resolution: str, partial: bool = False,
                  clip: bool = True) -> list[Period]:
    """The Paris days/months/years inside [start, end): whole ones; with `partial` also those that
    overlap an edge, clipped to [start, end) unless `clip` is False."""
    if resolution not in _LABEL:
        raise ValueError(f"resolution {resolution!r}: expected day, month or year")
    lo, hi = utc(start), utc(end)
    d = _first(lo.astimezone(PARIS).date(), resolution)
    out = []
    while True:
        p_lo, p_hi = paris_start(d), paris_start(_next(d, resolution))
        if p_lo >= hi:
            break
        whole = p_lo >= lo and p_hi <= hi
        if whole or (partial and p_hi > lo):
            bounds = (max(p_lo, lo), min(p_hi, hi)) if clip else (p_lo, p_hi)
            out.append(Period(d.strftime(_LABEL[resolution]), *bounds))
        d = _next(d, resolution)
    return out


def paris_day_bounds(day: str | date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of one Paris calendar day (a date or YYYY-MM-DD)."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return paris_start(d), paris_start(d + timedelta(days=1))


def expected_half_hours_per_paris_day(day: str | date) -> int:
    lo, hi = paris_day_bounds(day)
    return int((hi - lo) / HALF_HOUR)


def to_paris(times: pd.Series | pd.DatetimeIndex) -> pd.Series | pd.DatetimeIndex:
    """UTC instants as Paris wall-clock instants (tz-aware)."""
    t = pd.to_datetime(times, utc=True)
    return t.dt.tz_convert(PARIS_NAME) if isinstance(t, pd.Series) else t.tz_convert(PARIS_NAME)


def local_iso(times: pd.Series) -> pd.Series:
    """Paris local time with its offset, as people read it: 2025-10-26T02:30:00+01:00."""
    return to_paris(times).map(lambda t: t.isoformat() if pd.notna(t) else None)


def local_label(times: pd.Series, resolution: str) -> pd.Series:
    """Paris calendar label of each instant's period: hour '2025-10-26 02:00+0100', day, month or year."""
    fmt = {"hour": "%Y-%m-%d %H:%M%z", **_LABEL}[resolution]
    return to_paris(times).dt.strftime(fmt)


def floor_half_hour(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.floor("30min")
