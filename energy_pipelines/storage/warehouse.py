"""`warehouse.duckdb`: one view per dataset over its Parquet files, so SQL works at once.

Views name their files relative to the data root (`warehouse/<dataset>/...`), so a copied or
restored root reads its own files, never the old root's: open it from the data root
(`cd $ENERGY_PIPELINES_HOME && duckdb warehouse.duckdb`), or through `Warehouse.connect()`, which
sets DuckDB's `file_search_path` to the root. User SQL goes through `storage.query` (read-only).
"""

from __future__ import annotations

import fcntl
import logging
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from energy_pipelines.storage.parquet_store import ParquetStore

log = logging.getLogger(__name__)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Warehouse:
    def __init__(self, path: Path | str, store: ParquetStore):
        self.path = Path(path)
        self.store = store

    def refresh_view(self, dataset: str, attempts: int = 5, schema: pa.Schema | None = None) -> bool:
        """(Re)create the dataset's view; False, with a warning, if the file stays locked.

        A dataset with no file yet (e.g. no rejected row) gets an empty table of its schema, so
        queries on it answer 0 rows instead of failing. DuckDB allows one writing process per
        file: a user holding the warehouse open in the duckdb shell must not make a pipeline run
        fail, since the data itself is in Parquet.
        """
        name = _quote(dataset)
        if self.store.files(dataset):
            kind, create = "VIEW", (f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet("
                                    f"'{self.relative_glob(dataset)}', hive_partitioning = false, union_by_name = true)")
        elif schema is not None:
            empty = schema.empty_table()  # noqa: F841  (read by DuckDB's replacement scan below)
            kind, create = "TABLE", f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM empty"
        else:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            try:
                with open(self.path.with_suffix(".lock"), "w") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    with duckdb.connect(str(self.path)) as con:
                        con.execute(f"SET file_search_path = '{self.root}'")
                        existing = con.execute(
                            "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [dataset]
                        ).fetchone()
                        if existing and ("VIEW" in existing[0]) != (kind == "VIEW"):
                            con.execute(f"DROP {'VIEW' if 'VIEW' in existing[0] else 'TABLE'} {name}")
                        con.execute(create)
                return True
            except duckdb.IOException as exc:
                if attempt == attempts - 1:
                    log.warning("warehouse view %s not refreshed, %s is busy: %s", dataset, self.path, exc)
                    return False
                time.sleep(0.2 * 2**attempt)
        return False

    @property
    def root(self) -> Path:
        """The data root the views' relative paths start from."""
        return self.path.parent

    def relative_glob(self, dataset: str) -> str:
        glob = Path(self.store.glob(dataset))
        return str(glob.relative_to(self.root)) if glob.is_relative_to(self.root) else str(glob)

    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path), read_only=read_only)
        con.execute(f"SET file_search_path = '{self.root}'")
        return con


def warehouse_of(home: Path | str) -> Warehouse:
    """The warehouse of a data root: Parquet under `warehouse/`, views in `warehouse.duckdb`."""
    home = Path(home)
    return Warehouse(home / "warehouse.duckdb", ParquetStore(home / "warehouse"))
