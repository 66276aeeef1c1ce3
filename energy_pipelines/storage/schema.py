"""Make a table match its catalogue schema exactly, or say precisely why it cannot."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


REJECTS_SCHEMA = pa.schema(
    [
        pa.field("partition_start_utc", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("record", pa.string()),
    ]
)


class SchemaMismatch(ValueError):
    """A table does not fit its dataset's schema; the message names the dataset and the column."""


def to_arrow(obj: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pd.DataFrame):
        return pa.Table.from_pandas(obj, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or a pandas DataFrame, got {type(obj).__name__}")


def conform(obj: pa.Table | pd.DataFrame, schema: pa.Schema, dataset: str,
            primary_key: tuple[str, ...] = ()) -> pa.Table:
    """Columns in catalogue order and types; missing nullable columns become null.

    Refuses extra columns, missing required ones, nulls in non-nullable columns, naive
    timestamps and duplicate primary keys, each with a message naming the dataset and column.
    """
    table = to_arrow(obj)
    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        raise SchemaMismatch(f"{dataset}: columns not in the catalogue schema: {', '.join(extra)}")
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            if not field.nullable:
                raise SchemaMismatch(f"{dataset}: required column {field.name!r} is missing")
            columns.append(pa.nulls(table.num_rows, type=field.type))
            continue
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(col.type) and col.type.tz is None:
            raise SchemaMismatch(f"{dataset}: column {field.name!r} holds naive timestamps; store UTC-aware times")
        if pa.types.is_null(col.type):
            col = pa.nulls(table.num_rows, type=field.type)
        elif col.type != field.type:
            try:
                col = pc.cast(col, field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaMismatch(
                    f"{dataset}: column {field.name!r} cannot be cast from {col.type} to {field.type}: {exc}"
                ) from None
        if not field.nullable and col.null_count:
            raise SchemaMismatch(f"{dataset}: column {field.name!r} has {col.null_count} null value(s)")
        columns.append(col)
    out = pa.Table.from_arrays(columns, schema=schema)
    if primary_key and out.num_rows:
        out = _check_and_sort(out, schema, dataset, primary_key)
    return out


def _check_and_sort(table: pa.Table, schema: pa.Schema, dataset: str, primary_key: tuple[str, ...]) -> pa.Table:
    """Refuse duplicate keys, then sort by key: DuckDB does both in parallel over the Arrow data."""
    keys = ", ".join(f'"{k}"' for k in primary_key)
    with duckdb.connect() as con:
        con.register("incoming", table)
        dupes = con.sql(f"SELECT {keys}, count(*) AS n FROM incoming GROUP BY ALL HAVING n > 1").fetchall()
        if dupes:
            example = dict(zip(primary_key, dupes[0][:-1], strict=True))
            raise SchemaMismatch(
                f"{dataset}: {len(dupes)} duplicate primary key value(s) on {list(primary_key)}, e.g. {example}"
            )
        ordered = con.sql(f"SELECT * FROM incoming ORDER BY {keys}").to_arrow_table()
    return ordered.cast(schema)  # DuckDB names the UTC zone Etc/UTC: back to the catalogue's types
