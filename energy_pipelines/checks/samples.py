"""Rows that satisfy a dataset's suite, and the same rows with one rule broken.

Built from the catalogue schema (types, ranges, allowed values, regex patterns, primary key) plus
the suite's `good_row` (values that satisfy the domain rules). Used by the generic tests so every
catalogued dataset, present or future, gets a good partition that must pass and bad partitions
that must fail; handy for anyone writing tests against a schema too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from energy_pipelines.catalog import Column, DatasetSpec
from energy_pipelines.checks.suites import GENERATED, Suite, origin, rule_id
from energy_pipelines.partitions import PARIS, half_hours
from energy_pipelines.storage.schema import conform

try:  # Python 3.11+: the regex parser moved under re
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

UTC = timezone.utc
MAX_ROWS = 96


# -- strings matching a pattern ------------------------------------------------------------


def _slots(parsed, i: int = 0) -> list[list[str]]:
    """The pattern as a list of positions, each with its candidate characters (branch `i` of alternations)."""
    out: list[list[str]] = []
    for op, av in parsed:
        if op is _sre.LITERAL:
            out.append([chr(av)])
        elif op is _sre.ANY:
            out.append(list("ab"))
        elif op is _sre.IN:
            out.append(_class(av))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) or op is getattr(_sre, "POSSESSIVE_REPEAT", None):
            lo, _hi, sub = av
            for _ in range(lo):
                out.extend(_slots(sub, i))
        elif op is _sre.SUBPATTERN:
            out.extend(_slots(av[-1], i))
        elif op is _sre.BRANCH:
            out.extend(_slots(av[1][i % len(av[1])], i))
        elif op is _sre.CATEGORY:
            out.append(_category(av))
        elif op is _sre.NOT_LITERAL:
            out.append(["a" if av != ord("a") else "b"])
        # AT (anchors) and the rest consume nothing
    return out


def _category(cat) -> list[str]:
    if cat is _sre.CATEGORY_DIGIT:
        return list("0123456789")
    if cat is _sre.CATEGORY_SPACE:
        return [" "]
    return list("abcdefghij")


def _class(items) -> list[str]:
    chars: list[str] = []
    negate = False
    for op, av in items:
        if op is _sre.NEGATE:
            negate = True
        elif op is _sre.LITERAL:
            chars.append(chr(av))
        elif op is _sre.RANGE:
            chars.extend(chr(c) for c in range(av[0], min(av[1], av[0] + 25) + 1))
        elif op is _sre.CATEGORY:
            chars.extend(_category(av))
    if negate:
        return [c for c in "abcdefghijklmnopqrstuvwxyz0123456789" if c not in chars][:10]
    return chars or ["a"]


def example_string(pattern: str, i: int = 0) -> str:
    """A string matching `pattern`; different `i` give different strings where the pattern allows."""
    slots = _slots(_sre_parse.parse(pattern), i)
    chosen, n = [], i
    for candidates in reversed(slots):
        chosen.append(candidates[n % len(candidates)])
        n //= len(candidates)
    text = "".join(reversed(chosen))
    if not re.search(pattern, text):
        raise ValueError(f"cannot build an example for pattern {pattern!r} (got {text!r})")
    return text


# -- good rows -----------------------------------------------------------------------------


def _number(col: Column, i: int, integer: bool):
    lo, hi = col.minimum, col.maximum
    if integer:
        base = int(lo) if lo is not None else (min(0, int(hi)) if hi is not None else 0)
        value = base + i
        return value if hi is None or value <= hi else base
    if lo is not None and hi is not None:
        return (lo + hi) / 2
    return float(lo if lo is not None else (hi if hi is not None else 1.0))


def _value(name: str, col: Column, i: int, unique: bool, t: datetime, good: dict):
    if name in good and not (unique and col.dtype in ("string", "int64")):
        return good[name]
    k = i if unique else 0
    if col.allowed_values is not None:
        return col.allowed_values[k % len(col.allowed_values)]
    if col.pattern is not None:
        return example_string(col.pattern, k)
    return {
        "string": lambda: f"{good.get(name, 'x')}{k}" if unique else str(good.get(name, "x")),
        "int64": lambda: _number(col, k, True),
        "float64": lambda: _number(col, k, False),
        "bool": lambda: True,
        "timestamp": lambda: t,
        "date": lambda: t.astimezone(PARIS).date(),
    }[col.dtype]()


def sample_times(spec: DatasetSpec, window: tuple[datetime, datetime] | None) -> list[datetime]:
    if window is None:
        start = datetime(2025, 1, 1, tzinfo=UTC)
        return [start + timedelta(minutes=30 * i) for i in range(3)]
    return half_hours(*window)[:MAX_ROWS] or [window[0]]


def good_frame(spec: DatasetSpec, suite: Suite, window: tuple[datetime, datetime] | None = None,
               times: list[datetime] | None = None, first_row: int = 0) -> pd.DataFrame:
    """One row per time (default: each half-hour of `window`, at most 96), conformed to the schema.

    Key columns not tied to time are numbered from `first_row`: give frames read together
    (several partitions) distinct numbers.
    """
    from energy_pipelines.checks.validation import to_frame

    good = {k: v for k, v in suite.settings.get("good_row", {}).items() if not k.startswith("_")}
    times = times if times is not None else sample_times(spec, window)
    pk = set(spec.table_schema.primary_key)
    # rows differ by time when the time column is in the key; otherwise every key column varies
    time_keyed = spec.time_column in pk
    rows = []
    for i, t in enumerate(times):
        row = {}
        for name, col in spec.table_schema.columns.items():
            if name == spec.time_column:
                row[name] = t
            else:
                row[name] = _value(name, col, first_row + i, unique=name in pk and not time_keyed, t=t, good=good)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(spec.table_schema.columns))
    return to_frame(conform(frame, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key))


# -- one rule broken -------------------------------------------------------------------------


@dataclass
class Violation:
    """How to break one rule on row `row` (>= 1) of a good frame, leaving the other rows good."""

    rule: str
    origin: str
    apply: Callable[[pd.DataFrame, int], pd.DataFrame]
    storable: bool = True  # survives a Parquet round trip through the catalogue schema
    row_level: bool = True  # False: the rule is about the whole table (columns, dtypes)


def _set(frame: pd.DataFrame, column: str, value, row: int) -> pd.DataFrame:
    out = frame.copy()
    dtype = out[column].dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and (value is None or isinstance(value, float)):
        out[column] = out[column].astype("float64")
    if value is None and str(out[column].dtype) in ("Int64", "boolean"):
        value = pd.NA
    out.loc[row, column] = value
    return out


def _not_matching(pattern: str) -> str:
    for candidate in ("!", "not valid ~", "0", "a", ""):
        if not re.search(pattern, candidate):
            return candidate
    raise ValueError(f"no simple string breaks {pattern!r}")


def _setter(column: str, value) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    return lambda frame, row: _set(frame, column, value, row)


def _patch(patch: dict) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    def apply(frame: pd.DataFrame, row: int) -> pd.DataFrame:
        for column, value in patch.items():
            frame = _set(frame, column, value, row)
        return frame
    return apply


def _duplicate_key(pk: list[str]) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    def apply(frame: pd.DataFrame, row: int) -> pd.DataFrame:
        out = frame.copy()
        for c in pk:
            out.loc[row, c] = out.loc[row - 1, c]
        return out
    return apply


def _off_grid(column: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    return lambda frame, row: _set(frame, column, frame.loc[row, column] + pd.Timedelta(minutes=10), row)


def _retype(name: str, dtype: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    wrong = {"string": 7, "int64": "7", "float64": "7.5", "bool": "yes", "date": "2025-01-01"}

    def apply(frame: pd.DataFrame, row: int) -> pd.DataFrame:
        out = frame.copy()
        if dtype == "timestamp":
            out[name] = out[name].dt.tz_localize(None)  # naive times
        else:
            out[name] = pd.Series([wrong[dtype]] * len(out), dtype=object)
        return out
    return apply


def violations(spec: DatasetSpec, suite: Suite) -> list[Violation]:
    """For each breakable rule: how to break it on one row of a good frame.

    Generated rules are broken from the catalogue; domain rules by their `meta.violation` patch.
    """
    out: list[Violation] = []
    cols = spec.table_schema.columns
    for exp in suite.expectations:
        rule, kwargs = rule_id(exp), exp.get("kwargs", {})
        if origin(exp) != GENERATED:
            patch = (exp.get("meta") or {}).get("violation")
            if patch:
                out.append(Violation(rule, origin(exp), _patch(patch)))
            continue
        column = kwargs.get("column")
        if rule.startswith("not_null:"):
            out.append(Violation(rule, GENERATED, _setter(column, None)))
        elif rule.startswith("range:"):
            col = cols[column]
            bad = col.minimum - 1 if col.minimum is not None else col.maximum + 1
            out.append(Violation(rule, GENERATED, _setter(column, int(bad) if col.dtype == "int64" else float(bad))))
        elif rule.startswith("allowed:"):
            values = [v for v in cols[column].allowed_values if v is not None]
            bad = "__not_allowed__" if isinstance(values[0], str) else max(values) + 1
            out.append(Violation(rule, GENERATED, _setter(column, bad)))
        elif rule.startswith("pattern:"):
            out.append(Violation(rule, GENERATED, _setter(column, _not_matching(cols[column].pattern))))
        elif rule == "primary_key":
            out.append(Violation(rule, GENERATED, _duplicate_key(list(spec.table_schema.primary_key))))
        elif rule == "half_hour_grid":
            out.append(Violation(rule, GENERATED, _off_grid(spec.time_column)))
        elif rule.startswith("type:"):
            name = rule.split(":", 1)[1]
            out.append(Violation(rule, GENERATED, _retype(name, cols[name].dtype), storable=False, row_level=False))
        elif rule == "columns":
            out.append(Violation(rule, GENERATED, lambda f, row: f[list(f.columns[::-1])], storable=False,
                                 row_level=False))
    return out
