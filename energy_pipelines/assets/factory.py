"""Catalogue spec -> the Dagster attributes every asset gets (partitions, metadata, storage).

Ownership attributes (owners, access tags) are not set here: they depend on the asset graph
and are applied once the graph is known (`energy_pipelines.governance`).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.partitions import for_partitioning
from energy_pipelines.settings import Settings

IO_MANAGER_KEY = "parquet_io"


def column_schema(spec: DatasetSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=col.dtype + (f" [{col.unit}]" if col.unit else ""),
                description=col.description,
                constraints=dg.TableColumnConstraints(nullable=col.nullable, unique=False),
            )
            for name, col in spec.table_schema.columns.items()
        ],
        constraints=dg.TableConstraints(other=[f"primary key: {', '.join(spec.table_schema.primary_key)}"]),
    )


def group_name(spec: DatasetSpec) -> str:
    return f"{spec.layer}_{spec.source_name}" if spec.source_name else spec.layer


def asset_kwargs(spec: DatasetSpec, settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """Keyword arguments for `@dg.asset` shared by every catalogued dataset."""
    partitions_def = for_partitioning(spec.partitioning, settings)
    metadata: dict[str, Any] = {
        "title": spec.title,
        "dagster/column_schema": column_schema(spec),
        "dagster/table_name": spec.id,
        "partitioning": spec.partitioning,
    }
    if spec.time_column:
        metadata["time_column"] = spec.time_column
    if spec.source:
        metadata["source_id"] = spec.source.id
        metadata["landing_folder"] = f"landing/{spec.source.id}/"
    kwargs: dict[str, Any] = {
        "name": spec.id,
        "description": spec.description.strip(),
        "group_name": group_name(spec),
        "metadata": metadata,
        "kinds": {"parquet", "duckdb"},
        "io_manager_key": IO_MANAGER_KEY,
        "partitions_def": partitions_def,
        "tags": {"layer": spec.layer},
    }
    if partitions_def is not None:
        # history loads run as one run reading `partition_time_window`, not one run per half-hour
        kwargs["backfill_policy"] = dg.BackfillPolicy.single_run()
    return kwargs
