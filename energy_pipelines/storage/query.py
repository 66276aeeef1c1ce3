"""Read-only SQL over the warehouse for people (`energy-pipelines sql`).

Not the warehouse file itself: a fresh in-memory DuckDB with one view per dataset over its
Parquet files, then locked down, so no statement can change what the pipeline wrote or reach
anything else on the machine:
- only SELECT statements (DuckDB's own parser says what each statement is: no COPY, ATTACH,
  EXPORT, INSTALL/LOAD, SET, PRAGMA);
- the query may name the warehouse's views, its own CTEs and a few harmless table functions,
  never a file path or a file-reading function (read_text, read_csv, glob...);
- external access off except the warehouse folder, no extension install or autoload, and the
  configuration locked against a SET in the query.
Opening no database file also means a pipeline run holding the warehouse never blocks a query.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb

from energy_pipelines.storage.parquet_store import ParquetStore

# table functions that compute rather than read: harmless in a query
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})


class QueryRefused(ValueError):
    """The statement is not a read-only query of the warehouse; the message says why."""


def _walk(node: object) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _cte_names(tree: dict) -> set[str]:
    names = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map") if isinstance(node, dict) else None
        if isinstance(cte_map, dict):
            names |= {entry.get("key", "").lower() for entry in cte_map.get("map", []) if isinstance(entry, dict)}
    return names


def check_query(con: duckdb.DuckDBPyConnection, sql: str, views: set[str]) -> None:
    """Raise QueryRefused unless `sql` is SELECT statements over `views` only."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"not valid SQL: {exc}") from None
    if not statements:
        raise QueryRefused("empty query")
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise QueryRefused(f"{kind} statements are not allowed: the warehouse is read-only (SELECT only)")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryRefused(f"not a plain SELECT: {tree.get('error_message', 'unsupported statement')}")
    allowed = {v.lower() for v in views} | _cte_names(tree)
    for node in _walk(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            function = node.get("function", {})
            name = str(function.get("function_name", "")).lower()
            if name not in SAFE_TABLE_FUNCTIONS:
                raise QueryRefused(f"table function {name}() is not allowed: query the warehouse views "
                                   f"(energy-pipelines datasets lists them)")
        elif kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if name.lower() not in allowed and not (node.get("schema_name") or "").lower() in ("information_schema",
                                                                                                 "pg_catalog"):
                raise QueryRefused(f"{name!r} is not a view of the warehouse (file paths are not allowed)")


def query_connection(store: ParquetStore) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """An in-memory connection with a view per stored dataset, external access limited to the store."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    views = set()
    root = Path(store.root)
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if store.files(folder.name):
                name = '"' + folder.name.replace('"', '""') + '"'
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{store.glob(folder.name)}', "
                            "hive_partitioning = false, union_by_name = true)")
                views.add(folder.name)
    con.execute("SET allowed_directories = [?]", [str(root.resolve()) + "/"])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con, views


def run_query(store: ParquetStore, sql: str) -> duckdb.DuckDBPyRelation:
    con, views = query_connection(store)
    check_query(con, sql, views)
    return con.sql(sql)
