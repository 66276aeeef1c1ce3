"""Quality rules that are not expectation suites: completeness, freshness, quarantine. Pure pandas.

- Completeness: every half-hour of every Paris day must be there, per series. A Paris day has
  46, 48 or 50 half-hours (DST); a series is one value of the primary key minus its time column
  (e.g. one region, one station). The verdict is per half-hour (so per half-hourly partition);
  the per-day figures up to the end of the checked window go to the metadata.
- Freshness: the latest half-hour of a half-hourly dataset must have ended at most
  `max_age` before now (`now` is passed in, never read here).
- Quarantine: the rejects of a window, counted by reason and by source file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pandas as pd

from energy_pipelines.catalog import DatasetSpec
from energy_pipelines.partitions import HALF_HOUR, PARIS, expected_half_hours_per_paris_day, half_hours, paris_day_bounds

UTC = timezone.utc
DEFAULT_MAX_AGE = timedelta(hours=1)


# -- completeness ---------------------------------------------------------------------------


def series_keys(spec: DatasetSpec, override: Sequence[str] | None = None) -> list[str]:
    """Columns that identify one series: the primary key minus the time column.

    When the time column is not part of the primary key (raw files keyed by source line), the
    dataset is one series. A suite may name its own keys (`meta.energy_pipelines.completeness.keys`).
    """
    if override is not None:
        return list(override)
    pk = list(spec.table_schema.primary_key)
    if spec.time_column not in pk:
        return []
    return [c for c in pk if c != spec.time_column]


def paris_days(start: datetime, end: datetime) -> list[str]:
    """Paris calendar days (YYYY-MM-DD) that [start, end) touches."""
    first = start.astimezone(PARIS).date()
    last = (end - timedelta(microseconds=1)).astimezone(PARIS).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)] if end > start else []


def days_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start of the first Paris day, end of the last Paris day) around [start, end), in UTC."""
    days = paris_days(start, end)
    return paris_day_bounds(days[0])[0], paris_day_bounds(days[-1])[1]


@dataclass
class DayCompleteness:
    day: str
    expected_full_day: int  # 46, 48 or 50
    expected_so_far: int  # half-hours of the day before the end of the checked window
    series: int
    present: int  # (series, half-hour) pairs present over the day so far
    missing: int  # (series, half-hour) pairs missing over the day so far
    missing_sample: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> dict:
        return {"paris_day": self.day, "expected_half_hours": self.expected_full_day,
                "expected_so_far": self.expected_so_far, "series": self.series,
                "present": self.present, "missing": self.missing}


@dataclass
class Completeness:
    keys: list[str]
    window: tuple[datetime, datetime]
    days: list[DayCompleteness]
    missing_in_window: dict[datetime, list[str]]  # UTC half-hour -> series lacking it

    @property
    def passed(self) -> bool:
        return not self.missing_in_window

    def missing_half_hours(self) -> list[datetime]:
        return sorted(self.missing_in_window)


NO_ROW = "(no row at all)"


def _paris_day(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert(PARIS).dt.strftime("%Y-%m-%d")


def completeness(frame: pd.DataFrame, time_column: str, keys: list[str],
                 window: tuple[datetime, datetime], sample: int = 20) -> Completeness:
    """Which half-hours of `window` lack a row, per series, with per-Paris-day context.

    `frame` holds the rows of the Paris days around the window (see `days_window`). The series
    of a day are those with a row in that day before the end of the window; a day with no row at
    all counts as one series missing everything.
    """
    start, end = (t.astimezone(UTC) for t in window)
    days = paris_days(start, end)
    if not days:
        return Completeness(keys=keys, window=(start, end), days=[], missing_in_window={})
    grid_start, horizon = paris_day_bounds(days[0])[0], min(paris_day_bounds(days[-1])[1], end)
    expected = pd.DataFrame({"_t": pd.DatetimeIndex(half_hours(grid_start, horizon))})
    expected["_day"] = _paris_day(expected["_t"])

    times = pd.to_datetime(frame[time_column], utc=True).dt.floor("30min")
    rows = frame[keys].astype(str).reset_index(drop=True) if keys else pd.DataFrame(index=range(len(frame)))
    rows["_t"] = times.to_numpy()
    rows = rows[(rows["_t"] >= grid_start) & (rows["_t"] < horizon)].drop_duplicates()
    rows["_day"] = _paris_day(rows["_t"]) if len(rows) else pd.Series(dtype=str)
    series = rows[["_day", *keys]].drop_duplicates()
    empty_days = sorted(set(days) - set(series["_day"]))
    if empty_days:
        series = pd.concat([series, pd.DataFrame({"_day": empty_days, **{k: NO_ROW for k in keys}})],
                           ignore_index=True)
    grid = series.merge(expected, on="_day")
    merged = grid.merge(rows, on=["_day", *keys, "_t"], how="left", indicator=True)
    merged["_missing"] = merged["_merge"] == "left_only"
    if keys:
        label = pd.Series("", index=merged.index)
        for i, k in enumerate(keys):
            label = label + ("" if i == 0 else ", ") + k + "=" + merged[k].astype(str)
        label = label.where(merged[keys[0]] != NO_ROW, NO_ROW)
    else:
        label = pd.Series("(all rows)", index=merged.index)
    merged["_label"] = label
    missing = merged[merged["_missing"]]

    out_days = []
    per_day = merged.groupby("_day")
    expected_per_day = expected.groupby("_day").size()
    for day in days:
        group = per_day.get_group(day) if day in per_day.groups else merged.iloc[0:0]
        miss = group[group["_missing"]]
        out_days.append(DayCompleteness(
            day=day, expected_full_day=expected_half_hours_per_paris_day(day),
            expected_so_far=int(expected_per_day.get(day, 0)),
            series=int(len(series[series["_day"] == day])),
            present=int((~group["_missing"]).sum()), missing=int(len(miss)),
            missing_sample=[(lab, t.to_pydatetime()) for lab, t in zip(miss["_label"][:sample], miss["_t"][:sample],
                                                                        strict=True)],
        ))
    in_window = missing[(missing["_t"] >= start) & (missing["_t"] < end)]
    missing_in_window: dict[datetime, list[str]] = {}
    for t, lab in zip(in_window["_t"], in_window["_label"], strict=True):
        missing_in_window.setdefault(t.to_pydatetime(), []).append(lab)
    return Completeness(keys=keys, window=(start, end), days=out_days, missing_in_window=missing_in_window)


# -- freshness ------------------------------------------------------------------------------


@dataclass
class Freshness:
    latest: datetime | None  # UTC start of the latest half-hour stored
    now: datetime
    max_age: timedelta

    @property
    def latest_end(self) -> datetime | None:
        return self.latest + HALF_HOUR if self.latest is not None else None

    @property
    def age(self) -> timedelta | None:
        return self.now - self.latest_end if self.latest is not None else None

    @property
    def passed(self) -> bool:
        return self.latest is not None and self.age <= self.max_age


def freshness(latest: datetime | pd.Timestamp | None, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> Freshness:
    """Fresh when the latest half-hour ended at most `max_age` before `now`."""
    if latest is not None and not pd.isna(latest):
        latest = pd.Timestamp(latest).tz_convert(UTC).to_pydatetime()
    else:
        latest = None
    return Freshness(latest=latest, now=now.astimezone(UTC), max_age=max_age)


# -- quarantine -----------------------------------------------------------------------------


@dataclass
class Quarantine:
    rows: int
    by_reason: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, int] = field(default_factory=dict)
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return self.rows == 0


def reason_kind(reason: str) -> str:
    """The reason without its row-specific detail (what the IO manager counts, too)."""
    return str(reason).split(":")[0]


def quarantine(rejects: pd.DataFrame, sample: int = 10) -> Quarantine:
    if rejects.empty:
        return Quarantine(rows=0)
    kinds = rejects["reason"].map(reason_kind)
    files = rejects["source_file"].fillna("(no file)")
    return Quarantine(
        rows=len(rejects),
        by_reason={str(k): int(v) for k, v in kinds.value_counts().items()},
        by_file={str(k): int(v) for k, v in files.value_counts().head(20).items()},
        sample=rejects.head(sample),
    )
