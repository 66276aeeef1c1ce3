"""`warehouse.duckdb`: one view per dataset over its Parquet files, so SQL works at once."""

from __future__ import annotations

import fcntl
import logging
import time
from pathlib import Path

import duckdb

from energy_pipelines.storage.parquet_store import ParquetStore

log = logging.getLogger(__name__)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Warehouse:
    def __init__(self, path: Path | str, store: ParquetStore):
        self.path = Path(path)
        self.store = store

    def refresh_view(self, dataset: str, attempts: int = 5) -> bool:
        """(Re)create the dataset's view; False, with a warning, if the file stays locked.

        DuckDB allows one writing process per file: a user holding the warehouse open in the
        duckdb shell must not make a pipeline run fail, since the data itself is in Parquet.
        """
        if not self.store.files(dataset):
            return False
        sql = (
            f"CREATE OR REPLACE VIEW {_quote(dataset)} AS SELECT * FROM read_parquet("
            f"'{self.store.glob(dataset)}', hive_partitioning = false, union_by_name = true)"
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            try:
                with open(self.path.with_suffix(".lock"), "w") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    with duckdb.connect(str(self.path)) as con:
                        con.execute(sql)
                return True
            except duckdb.IOException as exc:
                if attempt == attempts - 1:
                    log.warning("warehouse view %s not refreshed, %s is busy: %s", dataset, self.path, exc)
                    return False
                time.sleep(0.2 * 2**attempt)
        return False

    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path), read_only=read_only)
