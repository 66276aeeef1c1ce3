"""Small pieces every asset module uses: the UTC window of a run, and chart attachment."""

from datetime import datetime, timezone

import dagster as dg

from energy_pipelines import charts
from energy_pipelines.resources import Platform

UTC = timezone.utc
# the window of an unpartitioned run: everything delivered so far
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def window_of(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the partition or partition range; never parses a key."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return ALL_TIME
    tw = context.partition_time_window
    return tw.start.astimezone(UTC), tw.end.astimezone(UTC)


def is_single_partition(context: dg.AssetExecutionContext) -> bool:
    return not context.has_partition_key_range or len(context.partition_keys) == 1


def chart_for(context: dg.AssetExecutionContext, platform: Platform, png: bytes, asset: str) -> dg.MetadataValue:
    start, end = window_of(context)
    path = platform.settings().reports_dir / "charts" / asset / f"{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}.png"
    return charts.as_metadata(png, path, inline=is_single_partition(context))
