"""The Dagster IO manager over ParquetStore: UTC windows, exact replacement, rejects beside data.

Dagster's stock DuckDB IO manager filters on naive local time and loses rows on the autumn
DST day; this one only ever uses `asset_partitions_time_window` (tz-aware) as UTC bounds.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from energy_pipelines.catalog import default_catalog
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.storage.parquet_store import ParquetStore, TableWithRejects
from energy_pipelines.storage.schema import REJECTS_SCHEMA, conform
from energy_pipelines.storage.warehouse import Warehouse, warehouse_of

# Definition metadata key under which governance hands the Parquet key-value metadata over.
PARQUET_METADATA_KEY = "energy_pipelines/parquet_metadata"


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores every catalogued asset as Parquet under `<home>/warehouse` with a DuckDB view."""

    home: str
    catalog_dir: str = str(CATALOG_DIR)

    @property
    def warehouse(self) -> Warehouse:
        return warehouse_of(self.home)

    @property
    def store(self) -> ParquetStore:
        return self.warehouse.store

    def _spec(self, asset_key: dg.AssetKey):
        return default_catalog(self.catalog_dir)[asset_key.path[-1]]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        spec = self._spec(context.asset_key)
        if isinstance(obj, TableWithRejects):
            data, rejects, figures = obj.data, obj.rejects, obj.metadata
        else:
            data, rejects, figures = obj, None, {}
        window = _window(context)
        table = conform(data, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)
        file_metadata = (context.definition_metadata or {}).get(PARQUET_METADATA_KEY)
        if isinstance(file_metadata, dg.JsonMetadataValue):
            file_metadata = file_metadata.data
        kv = {"energy_pipelines": json.dumps(file_metadata, sort_keys=True)} if file_metadata else None
        if spec.write_mode == "append":
            # an archive (e.g. issued forecasts): re-running adds a new issue, never rewrites one
            stats = self.store.append(spec.id, table, time_column=spec.time_column, file_metadata=kv)
        else:
            stats = self.store.write(spec.id, table, time_column=spec.time_column, window=window, file_metadata=kv,
                                     progress=_write_progress(context, spec.id, table.num_rows))
        self.warehouse.refresh_view(spec.id)
        meta: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(stats.rows),
            "rows_replaced": dg.MetadataValue.int(stats.rows_replaced),
            "files_written": dg.MetadataValue.int(len(stats.files_written)),
            "path": dg.MetadataValue.path(str(self.store.dataset_dir(spec.id))),
        }
        if rejects is not None or spec.layer in ("raw", "core", "anon"):
            reject_table = conform(
                rejects if rejects is not None else REJECTS_SCHEMA.empty_table(), REJECTS_SCHEMA, spec.rejects_id
            )
            self.store.write(spec.rejects_id, reject_table, time_column="partition_start_utc", window=window)
            self.warehouse.refresh_view(spec.rejects_id, schema=REJECTS_SCHEMA)
            meta["rejected_rows"] = dg.MetadataValue.int(reject_table.num_rows)
            if reject_table.num_rows:
                reasons = pd.Series(reject_table.column("reason").to_pylist()).str.split(":").str[0]
                meta["rejects_by_reason"] = dg.MetadataValue.json(reasons.value_counts().head(20).to_dict())
        if _is_range(context):
            # output metadata is copied onto every partition of a range: the run's totals would read as each
            # partition's figures. They go to the log; per-partition figures come from the asset (scoped_metadata)
            context.log.info("%s: %s", spec.id, ", ".join(f"{k}={v.value}" for k, v in meta.items()
                                                         if k != "rejects_by_reason"))
            meta = {"path": meta["path"]}
        meta.update(figures)
        context.add_output_metadata(meta)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | pa.Table:
        spec = self._spec(context.asset_key)
        window = _window(context)
        started = time.perf_counter()
        table = self.store.read(spec.id, time_column=spec.time_column, window=window,
                                schema=spec.table_schema.to_arrow())
        if _is_range(context):
            context.log.info("%s: read %s row(s) of %d partition(s) in %.1f s", spec.id, f"{table.num_rows:,}",
                             len(context.asset_partition_keys), time.perf_counter() - started)
        if context.dagster_type.typing_type is pa.Table:
            return table
        return table.to_pandas(types_mapper=None)


def _is_range(context: dg.OutputContext | dg.InputContext) -> bool:
    return context.has_asset_partitions and len(context.asset_partition_keys) > 1


# a range run's step logs its writing every tenth of the way (the run's log in the UI is its progress bar)
PROGRESS_STEPS = 10


def _write_progress(context: dg.OutputContext, dataset: str, rows: int):
    if not _is_range(context):
        return None
    started, shown = time.perf_counter(), set()

    def log(done: int, days: int) -> None:
        tenth = done * PROGRESS_STEPS // days
        if (days >= PROGRESS_STEPS or done == days) and tenth not in shown:
            shown.add(tenth)
            elapsed = time.perf_counter() - started
            context.log.info("%s: writing %s row(s): %d/%d day file(s), %d %%, %.1f s, about %.0f s left", dataset,
                             f"{rows:,}", done, days, 100 * done // days, elapsed, elapsed * (days - done) / done)
    return log


def _window(context: dg.OutputContext | dg.InputContext):
    if not context.has_asset_partitions:
        return None
    tw = context.asset_partitions_time_window
    return (tw.start, tw.end)
