"""Small pieces every asset module uses: the UTC window of a run, figures and charts as metadata."""

import math
from datetime import datetime
from typing import Any

import dagster as dg
import numpy as np

from energy_pipelines import charts
from energy_pipelines.clock import ALL_TIME_END, ALL_TIME_START, UTC
from energy_pipelines.resources import Platform

# the window of an unpartitioned run: everything delivered so far
ALL_TIME = (ALL_TIME_START, ALL_TIME_END)


def figure(value: Any) -> dg.MetadataValue:
    """A plain value (what transforms return as figures) as Dagster metadata; missing shows as n/a."""
    if isinstance(value, dg.MetadataValue):
        return value
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(value)):
        return dg.MetadataValue.text("n/a")
    if isinstance(value, bool | np.bool_):
        return dg.MetadataValue.bool(bool(value))
    if isinstance(value, int | np.integer):
        return dg.MetadataValue.int(int(value))
    if isinstance(value, float | np.floating):
        return dg.MetadataValue.float(round(float(value), 6))
    if isinstance(value, dict | list | tuple):
        return dg.MetadataValue.json(_jsonable(value))
    return dg.MetadataValue.text(str(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), 6) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def figures_metadata(figures: dict[str, Any]) -> dict[str, dg.MetadataValue]:
    return {key: figure(value) for key, value in figures.items()}


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
    path = platform.reports_dir / "charts" / asset / f"{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}.png"
    return charts.as_metadata(png, path, inline=is_single_partition(context))
