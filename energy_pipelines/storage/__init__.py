"""Persistence: Parquet files per dataset, a DuckDB warehouse of views, and the Dagster IO manager.

Keep data-processing logic out of this package; it is about how tables are stored and found.
"""

from energy_pipelines.storage.parquet_store import ParquetStore, SchemaMismatch, TableWithRejects, WriteStats
from energy_pipelines.storage.warehouse import Warehouse, warehouse_of

__all__ = ["ParquetStore", "SchemaMismatch", "TableWithRejects", "Warehouse", "WriteStats", "warehouse_of"]
