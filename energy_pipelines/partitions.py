"""Partition definitions, in one place.

Every time partition is in Europe/Paris, the calendar people read and report in, so a daily
partition maps onto exactly its 46, 48 or 50 half-hour partitions (Dagster's time-window
mappings require one timezone on both sides). Half-hour keys read as Paris wall-clock time
(`2025-10-26-02:00`); the second 02:00 and 02:30 of the autumn change get Dagster's automatic
`+0100` suffix (`2025-10-26-02:00+0100`), and the spring gap has no key. Data is stored by UTC
time: code never parses or formats a key, it reads `context.partition_time_window` (tz-aware
instants) and asks `half_hour_key()` for the key of an instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from energy_pipelines.settings import Settings, load_settings

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
HALF_HOUR = timedelta(minutes=30)
_HALF_HOUR_FMT = "%Y-%m-%d-%H:%M"


def half_hourly(settings: Settings | None = None) -> dg.TimeWindowPartitionsDefinition:
    settings = settings or load_settings()
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="*/30 * * * *",
        start=settings.partitions_start.strftime(_HALF_HOUR_FMT),
        end=settings.partitions_end.strftime(_HALF_HOUR_FMT) if settings.partitions_end else None,
        fmt=_HALF_HOUR_FMT,
        timezone="Europe/Paris",
    )


def half_hour_key(t: datetime, settings: Settings | None = None) -> str:
    """The partition key of the half-hour starting at instant `t` (tz-aware, any zone)."""
    if t.tzinfo is None:
        raise ValueError("half_hour_key needs a tz-aware instant")
    start = t.astimezone(UTC)
    keys = half_hourly(settings).get_partition_keys_in_time_window(dg.TimeWindow(start, start + HALF_HOUR))
    if len(keys) != 1 or start.minute % 30 or start.second or start.microsecond:
        raise ValueError(f"{t.isoformat()} is not the start of a half-hour inside the partition range")
    return keys[0]


def daily(settings: Settings | None = None) -> dg.DailyPartitionsDefinition:
    settings = settings or load_settings()
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.strftime("%Y-%m-%d"),
        end_date=settings.partitions_end.strftime("%Y-%m-%d") if settings.partitions_end else None,
        timezone="Europe/Paris",
    )


def monthly(settings: Settings | None = None) -> dg.MonthlyPartitionsDefinition:
    settings = settings or load_settings()
    return dg.MonthlyPartitionsDefinition(
        start_date=settings.partitions_start.strftime("%Y-%m-01"),
        end_date=settings.partitions_end.strftime("%Y-%m-%d") if settings.partitions_end else None,
        timezone="Europe/Paris",
    )


def yearly(settings: Settings | None = None) -> dg.TimeWindowPartitionsDefinition:
    settings = settings or load_settings()
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 1 1 *",
        start=settings.partitions_start.strftime("%Y"),
        end=settings.partitions_end.strftime("%Y") if settings.partitions_end else None,
        fmt="%Y",
        timezone="Europe/Paris",
    )


def for_partitioning(kind: str, settings: Settings | None = None) -> dg.PartitionsDefinition | None:
    builders = {"half_hourly": half_hourly, "daily": daily, "monthly": monthly, "yearly": yearly}
    if kind == "none":
        return None
    return builders[kind](settings)


def half_hours(start: datetime, end: datetime) -> list[datetime]:
    """UTC starts of every half-hour in [start, end); both bounds must be tz-aware."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("half_hours needs tz-aware bounds")
    first = start.astimezone(UTC)
    # round up to the next half-hour boundary (offsets are whole hours, so UTC boundaries are Paris ones)
    first = first.replace(second=0, microsecond=0) + timedelta(minutes=(-first.minute) % 30)
    if first < start.astimezone(UTC):
        first += HALF_HOUR
    out, t, stop = [], first, end.astimezone(UTC)
    while t < stop:
        out.append(t)
        t += HALF_HOUR
    return out


def paris_day_bounds(day: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of one Paris calendar day given as YYYY-MM-DD."""
    d = datetime.strptime(day, "%Y-%m-%d")
    start = d.replace(tzinfo=PARIS)
    end = (d + timedelta(days=1)).replace(tzinfo=PARIS)
    return start.astimezone(UTC), end.astimezone(UTC)


def expected_half_hours_per_paris_day(day: str) -> int:
    start, end = paris_day_bounds(day)
    return int((end - start) / HALF_HOUR)
