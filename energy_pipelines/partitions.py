"""Partition definitions, in one place.

Half-hours are keyed in UTC: a half-hour is identified by its UTC start (DESIGN §4), keys stay
uniform strings all year, and no key is repeated or skipped when Paris changes clocks. A Paris
day still holds 46, 48 or 50 of them, which the daily/monthly/yearly definitions (Paris time,
the calendar people report in) capture. Code never parses a key: it reads
`context.partition_time_window`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from energy_pipelines.settings import Settings, load_settings

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
HALF_HOUR = timedelta(minutes=30)
HALF_HOUR_FMT = "%Y-%m-%d-%H:%M"


def half_hourly(settings: Settings | None = None) -> dg.TimeWindowPartitionsDefinition:
    settings = settings or load_settings()
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="*/30 * * * *",
        start=settings.partitions_start.strftime(HALF_HOUR_FMT),
        end=settings.partitions_end.strftime(HALF_HOUR_FMT) if settings.partitions_end else None,
        fmt=HALF_HOUR_FMT,
        timezone="UTC",
    )


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
