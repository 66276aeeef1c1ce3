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

from datetime import datetime
from functools import lru_cache

import dagster as dg

# the clock's helpers, re-exported for callers that think in partitions
from energy_pipelines.clock import (  # noqa: F401
    HALF_HOUR, PARIS, PARIS_NAME, UTC, expected_half_hours_per_paris_day, half_hours, paris_day_bounds,
)
from energy_pipelines.settings import Settings

_HALF_HOUR_FMT = "%Y-%m-%d-%H:%M"


def half_hourly(settings: Settings) -> dg.TimeWindowPartitionsDefinition:
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="*/30 * * * *",
        start=settings.partitions_start.strftime(_HALF_HOUR_FMT),
        end=settings.partitions_end.strftime(_HALF_HOUR_FMT) if settings.partitions_end else None,
        fmt=_HALF_HOUR_FMT,
        timezone=PARIS_NAME,
    )


@lru_cache(maxsize=1)
def _key_space() -> dg.TimeWindowPartitionsDefinition:
    """Half-hour keys of every instant since 2000 (a key's text does not depend on the range)."""
    return dg.TimeWindowPartitionsDefinition(cron_schedule="*/30 * * * *", start="2000-01-01-00:00",
                                             fmt=_HALF_HOUR_FMT, timezone=PARIS_NAME)


def half_hour_key(t: datetime, settings: Settings | None = None) -> str:
    """The partition key of the half-hour starting at instant `t` (tz-aware, any zone).

    With `settings`, the half-hour must also lie inside the configured partition range.
    """
    if t.tzinfo is None:
        raise ValueError("half_hour_key needs a tz-aware instant")
    start = t.astimezone(UTC)
    pdef = half_hourly(settings) if settings is not None else _key_space()
    keys = pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, start + HALF_HOUR))
    if len(keys) != 1 or start.minute % 30 or start.second or start.microsecond:
        raise ValueError(f"{t.isoformat()} is not the start of a half-hour inside the partition range")
    return keys[0]


def daily(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.strftime("%Y-%m-%d"),
        end_date=settings.partitions_end.strftime("%Y-%m-%d") if settings.partitions_end else None,
        timezone=PARIS_NAME,
    )


def monthly(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(
        start_date=min(settings.history_start, settings.partitions_start).strftime("%Y-%m-01"),
        end_date=settings.partitions_end.strftime("%Y-%m-%d") if settings.partitions_end else None,
        timezone=PARIS_NAME,
    )


def yearly(settings: Settings) -> dg.TimeWindowPartitionsDefinition:
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 1 1 *",
        start=min(settings.history_start, settings.partitions_start).strftime("%Y"),
        end=settings.partitions_end.strftime("%Y") if settings.partitions_end else None,
        fmt="%Y",
        timezone=PARIS_NAME,
    )


def for_partitioning(kind: str, settings: Settings) -> dg.PartitionsDefinition | None:
    builders = {"half_hourly": half_hourly, "daily": daily, "monthly": monthly, "yearly": yearly}
    if kind == "none":
        return None
    return builders[kind](settings)
