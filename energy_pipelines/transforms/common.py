"""Helpers shared by transforms: rejects in the storage shape, half-hour completeness."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from energy_pipelines.partitions import half_hours

REJECT_COLUMNS = ["partition_start_utc", "source_file", "source_line", "reason", "record"]


def rejects_from_rows(rows: pd.DataFrame, reasons: pd.Series, time_column: str = "datetime_utc") -> pd.DataFrame:
    """Rows turned into quarantine records: the whole input row kept as JSON, with its reason."""
    if rows.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    records = rows.drop(columns=[c for c in ("source_file", "source_line") if c in rows]).to_dict("records")
    return pd.DataFrame({
        "partition_start_utc": pd.to_datetime(rows[time_column], utc=True).dt.floor("30min").to_numpy(),
        "source_file": rows["source_file"].to_numpy() if "source_file" in rows else None,
        "source_line": rows["source_line"].to_numpy() if "source_line" in rows else None,
        "reason": reasons.to_numpy(),
        "record": [json.dumps(r, ensure_ascii=False, default=str) for r in records],
    })


def missing_half_hours(present: pd.Series, start: datetime, end: datetime) -> list[pd.Timestamp]:
    """UTC half-hours of [start, end) with no row: reported, never invented."""
    expected = pd.DatetimeIndex(half_hours(start, end))
    have = pd.DatetimeIndex(pd.to_datetime(present, utc=True).unique())
    return list(expected.difference(have))
