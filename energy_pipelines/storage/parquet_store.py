"""Parquet files per dataset, hive-partitioned by UTC date, replaced window by window.

Layout under the warehouse root:
    <dataset>/date=YYYY-MM-DD/part.parquet   time-partitioned datasets (date of the UTC time column)
    <dataset>/data.parquet                  datasets without a time partition
Every write goes to a temporary file renamed over the target (atomic on POSIX), under a
per-dataset lock, so readers never see half a file and concurrent runs never lose rows.
"""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from energy_pipelines.clock import UTC
from energy_pipelines.storage.atomic import remove_leftovers, write_atomic
from energy_pipelines.storage.schema import SchemaMismatch, to_arrow

PART_FILE = "part.parquet"
APPEND_PREFIX = "issued-"
WHOLE_FILE = "data.parquet"

__all__ = ["ParquetStore", "SchemaMismatch", "TableWithRejects", "WriteStats"]


@dataclass
class TableWithRejects:
    """What a cleaning step returns: the rows kept, the rows quarantined (with reasons), and figures."""

    data: pa.Table | pd.DataFrame
    rejects: pa.Table | pd.DataFrame | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class WriteStats:
    dataset: str
    rows: int
    files_written: list[Path]
    files_removed: list[Path]
    rows_replaced: int


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"window bound {t} is naive; pass tz-aware times")
    return t.astimezone(UTC)


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)] if end > start else []


_DAY_US = 86_400 * 1_000_000


def _utc_day_names(times: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The UTC date (YYYY-MM-DD) of each timestamp, by integer arithmetic.

    `pc.strftime` takes ~2.5 s on 4.8M rows (a day of 100,000 charge points); dividing
    microseconds by a day and naming the few distinct days takes milliseconds.
    """
    micros = pc.cast(pc.cast(times, pa.timestamp("us", tz="UTC")), pa.int64())
    day_numbers = pc.floor(pc.divide(pc.cast(micros, pa.float64()), float(_DAY_US)))
    uniques = pc.unique(day_numbers).to_pylist()
    names = [(datetime(1970, 1, 1) + timedelta(days=int(d))).strftime("%Y-%m-%d") for d in uniques]
    return pc.take(pa.array(names), pc.index_in(day_numbers, value_set=pa.array(uniques, pa.float64())))


def _in_window(times: pa.ChunkedArray | pa.Array, start: datetime, end: datetime) -> pa.Array:
    lo = pa.scalar(start, type=pa.timestamp("us", tz="UTC"))
    hi = pa.scalar(end, type=pa.timestamp("us", tz="UTC"))
    times = pc.cast(times, pa.timestamp("us", tz="UTC"))
    return pc.and_(pc.greater_equal(times, lo), pc.less(times, hi))


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing) for the block, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ParquetStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def dataset_dir(self, dataset: str) -> Path:
        return self.root / dataset

    def files(self, dataset: str) -> list[Path]:
        base = self.dataset_dir(dataset)
        whole = base / WHOLE_FILE
        if whole.exists():
            return [whole]
        return sorted(base.glob("date=*/*.parquet"))

    def utc_days(self, dataset: str) -> list[date]:
        """The UTC dates holding rows of a time-partitioned dataset (the layout is this module's business)."""
        return sorted(date.fromisoformat(p.parent.name.removeprefix("date="))
                      for p in self.files(dataset) if p.parent.name.startswith("date="))

    def stored_span(self, dataset: str) -> tuple[datetime, datetime] | None:
        """[first UTC day, day after the last) holding rows, or None when nothing is stored by date."""
        days = self.utc_days(dataset)
        if not days:
            return None
        lo, hi = days[0], days[-1] + timedelta(days=1)
        return (datetime(lo.year, lo.month, lo.day, tzinfo=UTC), datetime(hi.year, hi.month, hi.day, tzinfo=UTC))

    def glob(self, dataset: str) -> str:
        """A DuckDB/pyarrow glob over the dataset's files."""
        base = self.dataset_dir(dataset)
        return str(base / WHOLE_FILE) if (base / WHOLE_FILE).exists() else str(base / "date=*" / "*.parquet")

    def lock(self, dataset: str):
        return exclusive_lock(self.dataset_dir(dataset) / ".lock")

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        dataset: str,
        obj: pa.Table | pd.DataFrame,
        *,
        time_column: str | None,
        window: tuple[datetime, datetime] | None = None,
        file_metadata: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> WriteStats:
        """Replace exactly the rows of `window` (or the whole dataset when window is None).

        `progress(days_done, days)` is called after each UTC day file (a year's range writes 366)."""
        table = to_arrow(obj)
        if file_metadata:
            merged = dict(table.schema.metadata or {})
            merged.update({k.encode(): v.encode() for k, v in file_metadata.items()})
            table = table.replace_schema_metadata(merged)
        with self.lock(dataset):
            # temp files of a writer killed mid-rename: ours (under this lock) are never an hour old
            remove_leftovers(self.dataset_dir(dataset))
            if time_column is None:
                return self._write_whole(dataset, table)
            return self._write_window(dataset, table, time_column, window, progress)

    def append(self, dataset: str, obj: pa.Table | pd.DataFrame, *, time_column: str,
               file_metadata: Mapping[str, str] | None = None) -> WriteStats:
        """Add rows without touching any stored row: one new file per date per call."""
        table = to_arrow(obj)
        if file_metadata:
            merged = dict(table.schema.metadata or {})
            merged.update({k.encode(): v.encode() for k, v in file_metadata.items()})
            table = table.replace_schema_metadata(merged)
        base = self.dataset_dir(dataset)
        row_days = _utc_day_names(table.column(time_column))
        written = []
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self.lock(dataset):
            for day in sorted(set(row_days.to_pylist())):
                target = base / f"date={day}" / f"{APPEND_PREFIX}{stamp}.parquet"
                _atomic_write(table.filter(pc.equal(row_days, day)), target)
                written.append(target)
        return WriteStats(dataset, table.num_rows, written, [], 0)

    def _write_whole(self, dataset: str, table: pa.Table) -> WriteStats:
        base = self.dataset_dir(dataset)
        target = base / WHOLE_FILE
        replaced = pq.ParquetFile(target).metadata.num_rows if target.exists() else 0
        removed = [p for p in base.glob(f"date=*/{PART_FILE}")]
        _atomic_write(table, target)
        for p in removed:
            _remove(p)
        return WriteStats(dataset, table.num_rows, [target], removed, replaced)

    def _write_window(self, dataset: str, table: pa.Table, time_column: str,
                      window: tuple[datetime, datetime] | None,
                      progress: Callable[[int, int], None] | None = None) -> WriteStats:
        base = self.dataset_dir(dataset)
        times = table.column(time_column)
        if window is None:
            # a full rebuild: every existing date file is replaced or removed
            existing = {p.parent.name[5:]: p for p in base.glob(f"date=*/{PART_FILE}")}
            if table.num_rows:
                lo = pc.min(times).as_py()
                hi = pc.max(times).as_py() + timedelta(microseconds=1)
                days = _days(_utc(lo), _utc(hi))
            else:
                days = []
            day_names = {d.isoformat() for d in days} | set(existing)
            start, end = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        else:
            start, end = _utc(window[0]), _utc(window[1])
            outside = pc.invert(_in_window(times, start, end))
            n_out = pc.sum(pc.cast(outside, pa.int64())).as_py() or 0
            if n_out:
                example = times.filter(outside)[0].as_py()
                raise ValueError(
                    f"{dataset}: {n_out} row(s) fall outside the partition window "
                    f"[{start.isoformat()}, {end.isoformat()}), e.g. {time_column}={example}"
                )
            day_names = {d.isoformat() for d in _days(start, end)}
        row_days = _utc_day_names(times)
        written, removed, replaced = [], [], 0
        for done, day in enumerate(sorted(day_names), start=1):
            target = base / f"date={day}" / PART_FILE
            new_rows = table.filter(pc.equal(row_days, day)) if table.num_rows else table
            if target.exists():
                old = pq.read_table(target)
                keep = pc.invert(_in_window(old.column(time_column), start, end))
                kept = old.filter(keep)
                replaced += old.num_rows - kept.num_rows
                if kept.num_rows:
                    kept = _align(kept, table.schema, dataset, target)
                    new_rows = pa.concat_tables([kept, new_rows]).sort_by(time_column)
            if new_rows.num_rows:
                _atomic_write(new_rows, target)
                written.append(target)
            elif target.exists():
                _remove(target)
                removed.append(target)
            if progress is not None:
                progress(done, len(day_names))
        return WriteStats(dataset, table.num_rows, written, removed, replaced)

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        dataset: str,
        *,
        time_column: str | None,
        window: tuple[datetime, datetime] | None = None,
        schema: pa.Schema | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        base = self.dataset_dir(dataset)
        if time_column is None or (base / WHOLE_FILE).exists():
            paths = [base / WHOLE_FILE] if (base / WHOLE_FILE).exists() else []
        elif window is None:
            paths = self.files(dataset)
        else:
            start, end = _utc(window[0]), _utc(window[1])
            paths = [p for d in _days(start, end) for p in sorted((base / f"date={d.isoformat()}").glob("*.parquet"))]
        tables = [pq.read_table(p, columns=columns) for p in paths]
        if not tables:
            if schema is None:
                raise FileNotFoundError(f"{dataset}: no data stored under {base}; materialise it first")
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        if schema is not None:
            target = pa.schema([schema.field(c) for c in columns]) if columns else schema
            tables = [_align(t, target, dataset, p) for t, p in zip(tables, paths, strict=True)]
        table = pa.concat_tables(tables, promote_options="default")
        if window is not None and time_column is not None:
            table = table.filter(_in_window(table.column(time_column), _utc(window[0]), _utc(window[1])))
        return table


def _align(table: pa.Table, schema: pa.Schema, dataset: str, path: Path) -> pa.Table:
    """Bring rows written under an older schema to the current one; never drop a column silently."""
    if table.schema.remove_metadata() == schema.remove_metadata():
        return table.replace_schema_metadata(schema.metadata)
    gone = [c for c in table.column_names if c not in schema.names]
    if gone:
        raise SchemaMismatch(
            f"{dataset}: {path} holds column(s) {gone} that the catalogue no longer has; "
            "re-materialise the whole dataset to rewrite it"
        )
    arrays = [
        pc.cast(table.column(f.name), f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _atomic_write(table: pa.Table, target: Path) -> None:
    write_atomic(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass
