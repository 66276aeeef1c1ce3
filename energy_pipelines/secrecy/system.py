"""A system of published tables as cells in long form and the additive relations between them.

Cells: one row per published figure, identified by its dimension values (the key, unique), with
its value and, for the engine, its contributors and mask. Relations are generated from declared
hierarchies, each a child -> parent map on one dimension (other dimensions fixed):

- `MappingHierarchy`: categories -> total, commune -> EPCI, commune -> département,
  département -> region (several maps on one dimension are several hierarchies: an EPCI that
  straddles two départements is not under either);
- `TimeHierarchy`: half-hour -> hour -> Paris day -> Paris month -> Paris year, on two key
  columns (`resolution`, `period_start_utc`, UTC). Whole-hour offsets make a UTC hour a Paris
  hour (the repeated October hour stays two hours); days, months and years start at Paris
  midnight (46, 48 or 50 half-hours a day).

A child's parent is its nearest ancestor present in the table (a half-hour sums into its day if
hours are not published). Each parent present gives one relation `parent = sum(children present)`:
a child absent from the table counts as zero, so a table must hold every non-zero child of a
published parent (a missing one makes the audit see a relation that does not hold, which errs on
the side of finding exposures, never of hiding one). A parent absent from the table gives no
relation (the sum of published cells it would be is not published).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from energy_pipelines.clock import PARIS_NAME

TIME_LEVELS = ("halfhour", "hour", "day", "month", "year")
RESOLUTION = "resolution"
PERIOD_START = "period_start_utc"


@dataclass(frozen=True)
class MappingHierarchy:
    """child value -> parent value on one dimension (several levels may chain: commune -> EPCI -> ...)."""

    name: str
    dimension: str
    parent: Mapping[object, object]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.dimension,)

    @property
    def depth(self) -> int:
        # the longest chain: a value's parent, its parent's parent...
        longest = 0
        for value in self.parent:
            seen, step = set(), value
            while step in self.parent and step not in seen:
                seen.add(step)
                step = self.parent[step]
            longest = max(longest, len(seen))
        return max(longest, 1)

    def parents(self, keys: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        mapped = keys[self.dimension].map(self.parent)
        has = mapped.notna().to_numpy()
        out = keys.copy()
        out[self.dimension] = mapped.to_numpy(dtype=object)
        return out, has


def floor_paris(times: pd.Series | pd.DatetimeIndex, level: str) -> pd.Series:
    """UTC start of the Paris hour / day / month / year holding each UTC instant."""
    t = pd.Series(pd.to_datetime(times, utc=True))
    if level == "hour":  # whole-hour offsets: the UTC hour is the Paris hour
        return t.dt.floor("h")
    if level == "halfhour":
        return t.dt.floor("30min")
    unique = pd.Series(t.unique())
    local = unique.dt.tz_convert(PARIS_NAME)
    if level == "day":
        start = local.dt.normalize()  # Paris midnight always exists (DST moves 02:00/03:00)
    elif level in ("month", "year"):
        start = pd.to_datetime(pd.DataFrame({"year": local.dt.year, "month": local.dt.month if level == "month" else 1,
                                             "day": 1})).dt.tz_localize(PARIS_NAME)
    else:
        raise ValueError(f"time level {level!r}: expected one of {TIME_LEVELS}")
    lookup = pd.Series(start.dt.tz_convert("UTC").array, index=pd.DatetimeIndex(unique))
    return pd.Series(lookup.reindex(pd.DatetimeIndex(t)).array, index=t.index)


def period_end(starts: pd.Series, level: str) -> pd.Series:
    """UTC end (exclusive) of the Paris period of `level` starting at each UTC start."""
    t = pd.Series(pd.to_datetime(starts, utc=True))
    if level == "halfhour":
        return t + pd.Timedelta(minutes=30)
    if level == "hour":
        return t + pd.Timedelta(hours=1)
    local = t.dt.tz_convert(PARIS_NAME).dt.tz_localize(None)
    step = {"day": pd.DateOffset(days=1), "month": pd.DateOffset(months=1), "year": pd.DateOffset(years=1)}[level]
    return (local + step).dt.tz_localize(PARIS_NAME).dt.tz_convert("UTC")


@dataclass(frozen=True)
class TimeHierarchy:
    """half-hour -> hour -> Paris day -> month -> year on (`resolution`, `period_start_utc`)."""

    name: str = "time"
    resolution: str = RESOLUTION
    start: str = PERIOD_START
    levels: tuple[str, ...] = TIME_LEVELS

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.resolution, self.start)

    @property
    def depth(self) -> int:
        return len(self.levels) - 1

    def parents(self, keys: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        level = keys[self.resolution].astype(object)
        unknown = sorted(set(level.dropna()) - set(self.levels))
        if unknown:
            raise ValueError(f"time hierarchy {self.name!r}: unknown resolution(s) {unknown}; expected {self.levels}")
        rank = level.map({lv: i for i, lv in enumerate(self.levels)}).to_numpy(dtype=float)
        has = np.isfinite(rank) & (rank < len(self.levels) - 1)
        out = keys.copy()
        starts = pd.Series(pd.to_datetime(keys[self.start], utc=True), index=keys.index)
        new_level = np.empty(len(keys), dtype=object)
        new_start = starts.copy()
        for i in range(len(self.levels) - 1):
            rows = has & (rank == i)
            if rows.any():
                parent = self.levels[i + 1]
                new_level[rows] = parent
                new_start[rows] = floor_paris(starts[rows], parent).to_numpy()
        out[self.resolution] = new_level
        out[self.start] = new_start
        return out, has


Hierarchy = MappingHierarchy | TimeHierarchy


@dataclass
class Relations:
    """Additive relations: row r of `matrix` has +1 on its parent cell and -1 on each child."""

    matrix: sparse.csr_matrix
    parent: np.ndarray
    hierarchy: np.ndarray

    def __len__(self) -> int:
        return len(self.parent)

    @classmethod
    def empty(cls, n_cells: int) -> Relations:
        return cls(sparse.csr_matrix((0, n_cells)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))

    def members(self) -> pd.DataFrame:
        """Long form: relation, cell, is_parent."""
        coo = self.matrix.tocoo()
        return pd.DataFrame({"relation": coo.row.astype(np.int64), "cell": coo.col.astype(np.int64),
                             "is_parent": coo.data > 0})


def _key_index(cells: pd.DataFrame, dims: Sequence[str]) -> pd.MultiIndex:
    index = pd.MultiIndex.from_frame(_normalise(cells[list(dims)]))
    if not index.is_unique:
        dupes = cells.loc[index.duplicated(keep=False), list(dims)].head(5).to_dict("records")
        raise ValueError(f"cells are not unique on {list(dims)}: e.g. {dupes}")
    return index


def _normalise(keys: pd.DataFrame) -> pd.DataFrame:
    out = keys.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype) or column.endswith("_utc"):
            out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[ns, UTC]")
        else:
            out[column] = out[column].astype(object)
    return out


def build_relations(cells: pd.DataFrame, dims: Sequence[str], hierarchies: Sequence[Hierarchy]) -> Relations:
    """Relations `parent = sum(children)` of every hierarchy over the cells present (see module doc)."""
    n = len(cells)
    if n == 0 or not hierarchies:
        return Relations.empty(n)
    dims = list(dims)
    for h in hierarchies:
        missing = [c for c in h.columns if c not in dims]
        if missing:
            raise ValueError(f"hierarchy {h.name!r} works on {missing}, which are not key dimensions {dims}")
    index = _key_index(cells, dims)
    keys = _normalise(cells[dims]).reset_index(drop=True)
    rows, cols, data, parents, names = [], [], [], [], []
    next_relation = 0
    for h in hierarchies:
        child = np.arange(n)
        current = keys
        found = np.full(n, -1, dtype=np.int64)
        pending = np.ones(n, dtype=bool)
        for _ in range(h.depth):
            if not pending.any():
                break
            candidate, has = h.parents(current.loc[pending])
            rows_pending = np.flatnonzero(pending)
            # a key with no parent at this level has none above either
            pending[rows_pending[~has]] = False
            rows_pending, candidate = rows_pending[has], candidate[has]
            if not len(rows_pending):
                break
            hit = index.get_indexer(pd.MultiIndex.from_frame(_normalise(candidate[dims])))
            ok = hit >= 0
            found[rows_pending[ok]] = hit[ok]
            pending[rows_pending[ok]] = False
            current = current.copy()
            current.loc[rows_pending[~ok]] = candidate[~ok].to_numpy()
        with_parent = found >= 0
        if not with_parent.any():
            continue
        kids, dads = child[with_parent], found[with_parent]
        unique_dads, relation = np.unique(dads, return_inverse=True)
        relation = relation + next_relation
        rows += [relation, np.arange(len(unique_dads)) + next_relation]
        cols += [kids, unique_dads]
        data += [np.full(len(kids), -1.0), np.ones(len(unique_dads))]
        parents.append(unique_dads)
        names.append(np.full(len(unique_dads), h.name, dtype=object))
        next_relation += len(unique_dads)
    if not next_relation:
        return Relations.empty(n)
    matrix = sparse.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(next_relation, n))
    return Relations(matrix=matrix, parent=np.concatenate(parents), hierarchy=np.concatenate(names))


@dataclass
class TableSystem:
    """Cells (RangeIndex = cell id) keyed by `dims`, and their relations."""

    cells: pd.DataFrame
    dims: tuple[str, ...]
    hierarchies: tuple[Hierarchy, ...] = ()
    relations: Relations = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.cells = self.cells.reset_index(drop=True)
        self.dims = tuple(self.dims)
        missing = [d for d in self.dims if d not in self.cells]
        if missing:
            raise ValueError(f"cells have no column for dimension(s) {missing}")
        if self.relations is None:
            self.relations = build_relations(self.cells, self.dims, self.hierarchies)

    def label(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return []
        frame = self.cells.iloc[ids]
        parts = []
        for d in self.dims:
            col = frame[d]
            if isinstance(col.dtype, pd.DatetimeTZDtype):
                text = col.dt.strftime("%Y-%m-%dT%H:%MZ")
            else:
                text = col.astype(str)
            parts.append((d + "=" + text).to_numpy())
        return [", ".join(p) for p in zip(*parts, strict=True)]
