"""Small pieces every asset module uses: the UTC window of a run, figures and charts as metadata."""

import math
from datetime import datetime
from typing import Any

import dagster as dg
import numpy as np

from energy_pipelines.reporting import charts
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


# Beyond this many partitions in one run, per-partition figures are not written: Dagster checks each
# partition-scoped entry against the whole range (cost grows with the square of the range), and a
# year of half-hours would spend minutes on bookkeeping. The run's totals still go on its last partition.
PER_PARTITION_LIMIT = 2000


def _rows_per_partition(context: dg.AssetExecutionContext, times) -> list[int]:
    import pandas as pd

    pdef = context.assets_def.partitions_def
    windows = [pdef.time_window_for_partition_key(k) for k in context.partition_keys]
    starts = pd.DatetimeIndex([w.start for w in windows]).tz_convert("UTC").as_unit("us")
    t = pd.DatetimeIndex(pd.to_datetime(pd.Series(times), utc=True)).as_unit("us")
    counts = np.bincount(np.clip(starts.searchsorted(t, side="right") - 1, 0, None), minlength=len(windows))
    return [int(c) for c in counts[: len(windows)]]


def _times(table, column: str):
    if table is None or column is None:
        return []
    if hasattr(table, "column_names"):
        return table.column(column).to_pandas() if column in table.column_names else []
    return table[column] if column in table else []


def scoped_metadata(context: dg.AssetExecutionContext, time_column: str | None, data, rejects,
                    figures: dict[str, dg.MetadataValue]) -> dict[str, dg.MetadataValue]:
    """Figures where they belong: on the one partition of a single run (returned, for the output);
    for a range, each partition gets its own row counts and the run's totals go on the last
    partition only, labelled as such. Returns what to attach to the output itself."""
    if not context.has_partition_key_range or len(context.partition_keys) == 1 or time_column is None:
        return figures
    keys = context.partition_keys
    if len(keys) <= PER_PARTITION_LIMIT:
        rows = _rows_per_partition(context, _times(data, time_column))
        rejected = _rows_per_partition(context, _times(rejects, "partition_start_utc")) if rejects is not None else None
        for i, key in enumerate(keys):
            entry = {"dagster/row_count": dg.MetadataValue.int(rows[i])}
            if rejected is not None:
                entry["rejected_rows"] = dg.MetadataValue.int(rejected[i])
            context.add_asset_metadata(entry, partition_key=key)
    else:
        context.log.info("%d partitions in this run: per-partition figures are not recorded (above %d); "
                         "the run's totals are on its last partition %s", len(keys), PER_PARTITION_LIMIT, keys[-1])
    totals = {"run_partitions": dg.MetadataValue.text(f"{keys[0]} … {keys[-1]} ({len(keys)} partitions)")}
    totals.update({(k if k.startswith(("chart", "run_")) else f"run_{k}"): v for k, v in figures.items()})
    context.add_asset_metadata(totals, partition_key=keys[-1])
    return {}
