"""Reading the delimited text files providers drop (SPIE, Enedis, Météo-France, IRVE, INSEE).

One place for what they share: gzip or plain bytes, UTF-8 (with or without BOM), UTF-16 (with
its BOM, as Excel's "Unicode text" export writes it) or latin-1, a header row, rows with a wrong
number of fields turned into rejects (never dropped), every value kept as text with its line
number, and rejects built from a boolean mask with a reason.
"""

from __future__ import annotations

import csv
import gzip
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from energy_pipelines.clock import PARIS_NAME, UTC
from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.timeparse import parse_instants, wall_clock_to_utc

IRVE_ID = re.compile(r"^[A-Z]{2}[A-Z0-9]{4,33}$")
_SLOT_IN_NAME = re.compile(r"_(\d{8}T\d{4})Z\.csv$")


_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def decode(path: Path, raw: bytes | None = None) -> str:
    """File bytes -> text: gunzipped if needed; UTF-16 by its BOM; UTF-8 (BOM dropped) else latin-1."""
    raw = path.read_bytes() if raw is None else raw
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise SourceFileError(path, f"corrupt gzip archive: {exc}") from None
    if raw[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise SourceFileError(path, "UTF-32 text: expected UTF-8, UTF-16 or latin-1")
    if (codec := _UTF16_BOMS.get(raw[:2])) is not None:
        try:
            text = raw[2:].decode(codec)
        except UnicodeDecodeError as exc:
            raise SourceFileError(path, f"invalid UTF-16 text (BOM {codec}) at byte {exc.start + 2}") from None
        if not text.strip():
            raise SourceFileError(path, "empty file")
        return text
    if not raw.strip():
        raise SourceFileError(path, "empty file")
    if b"\x00" in raw[:4096]:
        raise SourceFileError(path, "binary content (NUL bytes; UTF-16 without a BOM?): expected UTF-8, "
                                    "UTF-16 with its BOM, or latin-1 text")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_delimited(path: Path, *, required: list[str], sep: str = ";",
                   text: str | None = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(rows as text with `source_line`, rejects of malformed lines). Missing columns fail the file."""
    text = decode(path) if text is None else text
    lines = text.splitlines()
    header = [h.strip().strip('"') for h in next(csv.reader([lines[0]], delimiter=sep))]
    if len(header) < 2:
        found = "','" if "," in lines[0] else ("TAB" if "\t" in lines[0] else "none")
        raise SourceFileError(path, f"header has no {sep!r} separator (found {found})")
    missing = [c for c in required if c not in header]
    if missing:
        raise SourceFileError(path, f"missing column(s) {missing} in header {header[:12]}")
    width = len(header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    rejects: list[dict[str, Any]] = []
    for lineno, fields in enumerate(csv.reader(lines[1:], delimiter=sep), start=2):
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) != width:
            kind = "truncated row" if len(fields) < width else "row too long"
            rejects.append({"datetime_utc": None, "source_line": lineno,
                            "reason": f"{kind}: {len(fields)} fields, header has {width}",
                            "record": sep.join(fields)})
            continue
        rows.append([f.strip() for f in fields])
        numbers.append(lineno)
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame["source_line"] = np.asarray(numbers, dtype="int64")
    return frame, rejects


def reject_rows(frame: pd.DataFrame, mask: pd.Series | np.ndarray, reason: str | pd.Series,
                columns: list[str], when: pd.Series | datetime | None = None, sep: str = ";") -> list[dict]:
    """Rejects for the rows of `mask`: the original fields joined back, the reason, a time if known."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    sub = frame[mask]
    reasons = reason[mask].tolist() if isinstance(reason, pd.Series) else [reason] * len(sub)
    if isinstance(when, pd.Series):
        times = [None if pd.isna(t) else t for t in when[mask]]
    else:
        times = [when] * len(sub)
    records = sub[columns].astype(str).agg(sep.join, axis=1).tolist()
    return [{"datetime_utc": t, "source_line": int(n), "reason": r, "record": rec}
            for t, n, r, rec in zip(times, sub["source_line"], reasons, records, strict=True)]


def first_reason(checks: list[tuple[pd.Series, str | pd.Series]], index: pd.Index) -> pd.Series:
    """The first failing check of each row ('' when all pass), in the order given."""
    out = pd.Series("", index=index, dtype=object)
    for failed, reason in checks:
        failed = pd.Series(np.asarray(failed, dtype=bool), index=index)
        take = failed & (out == "")
        if take.any():
            out[take] = reason[take] if isinstance(reason, pd.Series) else reason
    return out


def to_number(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text.astype("string").str.replace(",", ".", regex=False), errors="coerce")


def to_utc(text: pd.Series) -> pd.Series:
    """ISO 8601 with an offset or Z -> tz-aware UTC; anything else -> NaT.

    A value without an offset is NaT too (never the previous row's offset): see
    `timeparse.parse_instants`, which also says why each value was refused.
    """
    return parse_instants(text).utc


def paris_midnight_utc(day_text: pd.Series) -> pd.Series:
    """A calendar date of Paris, YYYY-MM-DD -> the UTC instant of its midnight (NaT if invalid)."""
    day = pd.to_datetime(day_text, format="%Y-%m-%d", errors="coerce")
    return wall_clock_to_utc(day, PARIS_NAME).utc  # Paris midnight always exists, never twice


def slot_span(path: Path) -> tuple[datetime, datetime] | None:
    """The half-hour a `..._YYYYMMDDTHHMMZ.csv` drop reports on."""
    if m := _SLOT_IN_NAME.search(path.name):
        start = datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)
        return start, start + timedelta(minutes=30)
    return None


def slot_of_file(path: Path) -> datetime | None:
    span = slot_span(path)
    return span[0] if span else None


# -- the fast path for clean files ----------------------------------------------------------------
#
# A half-hourly drop is small and almost always clean; a year of them is 17,520 files per source.
# Readers first try Arrow (no pandas per value): if every check passes, the rows are built from
# Arrow at a fraction of the cost; if anything looks wrong, they return None and the careful
# pandas reader above runs and explains each refused row. Both paths give the same rows.

UTC_TS = pa.timestamp("us", tz="UTC")


def arrow_read(path: Path, fields: list[str], sep: str = ";") -> tuple[pa.Table, int] | None:
    """(every column as text, the number of data lines) or None when the careful reader is needed."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b" or raw.startswith(b"\xef\xbb\xbf") or b"\r" in raw[:4096]:
        return None
    if b'"' not in raw and len(raw) < 1 << 20:
        # no quoting at all: splitting is exact, and cheaper than a CSV parser for a small file
        try:
            lines = raw.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            return None
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[0].split(sep) != fields:
            return None
        rows = [line.split(sep) for line in lines[1:]]
        if any(len(r) != len(fields) or not any(r) for r in rows):
            return None
        columns = list(zip(*rows)) if rows else [()] * len(fields)
        return pa.table({f: pa.array(c, pa.string()) for f, c in zip(fields, columns, strict=True)}), len(rows)
    try:
        table = pacsv.read_csv(pa.BufferReader(raw), read_options=pacsv.ReadOptions(use_threads=False),
                               parse_options=pacsv.ParseOptions(delimiter=sep),
                               convert_options=pacsv.ConvertOptions(column_types={f: pa.string() for f in fields},
                                                                    strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if table.column_names != fields:
        return None
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1) - 1
    if lines != table.num_rows:  # blank or multi-line rows: let the careful reader number them
        return None
    return table, lines


def all_true(mask: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def ints(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    try:
        return pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def floats(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    try:
        return pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def null_if_empty(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def irve_ids(column: pa.ChunkedArray) -> bool:
    return all_true(pc.match_substring_regex(column, IRVE_ID.pattern))


def to_frame(columns: dict, n: int, order: list[str]) -> pd.DataFrame:
    columns = {**columns, "source_line": pa.array(np.arange(2, n + 2, dtype="int64"))}
    return pa.table({c: columns[c] for c in order}).to_pandas()
