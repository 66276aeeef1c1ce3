"""Secrecy layouts of the published products, and the audit of several products together.

`assets_config/secrecy/products.yaml` (model `SecrecyProducts`) declares
- systems: the dimensions of a family of tables (UC3: territory, time, flow, category), its
  hierarchies (categories -> total; time is always half-hour -> hour -> day -> month -> year when
  `time: true`; geographic maps may come at run time, `parents_from`), unit and partner costs;
- products, one entry per product id: which columns are key dimensions, the time column and its
  resolution, which columns are additive measures and which cell each holds (constants for a wide
  table, `{column: ...}` for a long one), which columns are derived and from which inputs, and,
  for forecasts, the history window whose secrecy they inherit.

`audit_products` reads the published tables as written, turns every measure into a cell (null =
masked or missing, unknown to the attacker), checks that a cell published by two products is
the same, runs the LP audit of each system over all of them together, and checks the dependency
closure: a published derived figure whose input is masked is a violation (derived figures are
nonlinear, min(P, C), or reveal their inputs; masking them with their inputs keeps the audit
linear). `truth` (the system's cells from the closed data, e.g. `uc3.system_cells`) gives the
true value and protection of each masked cell; without it only exact recoveries are found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, ImportString, model_validator

from energy_pipelines.catalog import StrictModel
from energy_pipelines.secrecy._yaml import load_model
from energy_pipelines.secrecy.audit import AuditReport, audit
from energy_pipelines.secrecy.system import (
    PERIOD_START,
    RESOLUTION,
    TIME_LEVELS,
    MappingHierarchy,
    TableSystem,
    TimeHierarchy,
    floor_paris,
)
from energy_pipelines.settings import CATALOG_DIR

PRODUCTS_PATH = CATALOG_DIR / "secrecy" / "products.yaml"



class FromColumn(StrictModel):
    column: str


class HierarchySpec(StrictModel):
    name: str
    dimension: str
    parents: dict[str, str] | None = None
    parents_from: str | None = None  # a map given at run time (e.g. the commune -> EPCI referential)

    @model_validator(mode="after")
    def _one_source(self) -> HierarchySpec:
        if (self.parents is None) == (self.parents_from is None):
            raise ValueError("give exactly one of parents / parents_from")
        return self


class StoredInput(StrictModel):
    """A stored dataset turned by a pure function into what the audit needs (the truth, a hierarchy's map)."""

    dataset: str
    function: ImportString  # "module:function", called with the dataset's rows as a DataFrame


class AuditorInput(StrictModel):
    dataset: str
    all_time: bool = False  # a referential: every stored row, not the audited years only


class SystemAuditor(StrictModel):
    """A system whose relations its own code builds (UC1: the geography with unpublished EPCI x département
    pieces): `function(tables, inputs, directory) -> AuditReport`, with `tables` {product id: rows}, `inputs`
    {name: rows} read as declared, `directory` the folder of products.yaml (the catalogue's secrecy/)."""

    function: ImportString
    inputs: dict[str, AuditorInput] = Field(default_factory=dict)


class SystemSpec(StrictModel):
    description: str
    unit: Literal["Wh", "kWh", "MWh", "GWh", "t CO2e"]
    dimensions: tuple[str, ...] = Field(min_length=1)  # besides time
    time: bool = False
    hierarchies: tuple[HierarchySpec, ...] = ()
    nonnegative: bool = True
    # how much more a partner of this category costs than its value says (a category another
    # product depends on, e.g. solar, which feeds the PV what-if)
    partner_cost_factor: dict[str, float] = Field(default_factory=dict)
    partner_cost_dimension: str | None = None
    # audit of what is stored (`secrecy.stored`): the closed data's cells (true values and protection of
    # the masked ones; without it only exact recoveries are found) and the run-time maps of `parents_from`
    truth: StoredInput | None = None
    maps: dict[str, StoredInput] = Field(default_factory=dict)
    auditor: SystemAuditor | None = None  # instead of the generic audit of the products' measures

    @model_validator(mode="after")
    def _dims(self) -> SystemSpec:
        for h in self.hierarchies:
            if h.dimension not in self.dimensions:
                raise ValueError(f"hierarchy {h.name!r}: {h.dimension!r} is not a dimension {self.dimensions}")
        if self.partner_cost_factor and self.partner_cost_dimension not in self.dimensions:
            raise ValueError("partner_cost_factor needs partner_cost_dimension, one of the dimensions")
        unmapped = sorted({h.parents_from for h in self.hierarchies if h.parents_from} - set(self.maps))
        if unmapped and self.maps:
            raise ValueError(f"hierarchies take their map from {unmapped}: declare them under maps")
        return self

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.dimensions[:1], *((RESOLUTION, PERIOD_START) if self.time else ()), *self.dimensions[1:])


Filter = dict[str, tuple[str, ...]]


class TimeSpec(StrictModel):
    column: str
    resolution: Literal["halfhour", "hour", "day", "month", "year"]


class Measure(StrictModel):
    column: str
    cell: dict[str, str | FromColumn]
    where: Filter | None = None
    where_not: Filter | None = None


class Derived(StrictModel):
    column: str
    # a measure column of the same row, or a cell of the row's key with these dimension values
    # (possibly unpublished: then masked when any published finer cell of it is)
    inputs: tuple[str | dict[str, str], ...] = Field(min_length=1)
    where: Filter | None = None
    where_not: Filter | None = None


class History(StrictModel):
    """Rows that summarise a past window of series (forecasts): masked when any cell of it is."""

    by: str
    values: tuple[str, ...] = Field(min_length=1)
    series: dict[str, tuple[dict[str, str], ...]]
    window_end: str
    lookback_days: int = Field(gt=0)


class ProductLayout(StrictModel):
    system: str
    description: str
    keys: dict[str, str] = Field(default_factory=dict)  # system dimension -> product column
    time: TimeSpec | None = None
    measures: tuple[Measure, ...] = ()
    derived: tuple[Derived, ...] = ()
    history: History | None = None


class SecrecyProducts(StrictModel):
    systems: dict[str, SystemSpec]
    products: dict[str, ProductLayout]

    @model_validator(mode="after")
    def _consistent(self) -> SecrecyProducts:
        for pid, p in self.products.items():
            if p.system not in self.systems:
                raise ValueError(f"products.{pid}.system: {p.system!r} is not declared under systems")
            spec = self.systems[p.system]
            if spec.time and p.time is None and (p.measures or p.derived):
                raise ValueError(f"products.{pid}.time: system {p.system!r} has time: give the column and resolution")
            for dim in p.keys:
                if dim not in spec.dimensions:
                    raise ValueError(f"products.{pid}.keys: {dim!r} is not a dimension of {p.system!r}")
            for m in p.measures:
                for dim in m.cell:
                    if dim not in spec.dimensions or dim in p.keys:
                        raise ValueError(f"products.{pid}.measures[{m.column}].cell: {dim!r} is not a free "
                                         f"dimension of {p.system!r}")
                covered = set(p.keys) | set(m.cell)
                missing = [d for d in spec.dimensions if d not in covered]
                if missing:
                    raise ValueError(f"products.{pid}.measures[{m.column}]: dimension(s) {missing} have no value")
            measure_columns = {m.column for m in p.measures}
            for d in p.derived:
                for i in d.inputs:
                    if isinstance(i, str) and i not in measure_columns:
                        raise ValueError(f"products.{pid}.derived[{d.column}].inputs: {i!r} is not a measure column")
        return self


def load_products(path: Path | str = PRODUCTS_PATH) -> SecrecyProducts:
    return load_model(path, SecrecyProducts)


def system_hierarchies(spec: SystemSpec, maps: Mapping[str, Mapping] | None = None) -> tuple:
    out = []
    for h in spec.hierarchies:
        if h.parents is not None:
            parents = h.parents
        else:
            if not maps or h.parents_from not in maps:
                raise ValueError(f"hierarchy {h.name!r} takes its map from {h.parents_from!r}: pass it in `maps`")
            parents = maps[h.parents_from]
        out.append(MappingHierarchy(h.name, h.dimension, dict(parents)))
    if spec.time:
        out.append(TimeHierarchy())
    return tuple(out)


# -- published tables -> cells ---------------------------------------------------------------------

def _frame(table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _rows(frame: pd.DataFrame, where: Filter | None, where_not: Filter | None) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for column, values in (where or {}).items():
        keep &= frame[column].astype("string").isin(values).fillna(False).to_numpy(dtype=bool)
    for column, values in (where_not or {}).items():
        keep &= ~frame[column].astype("string").isin(values).fillna(False).to_numpy(dtype=bool)
    return keep


def _base_keys(frame: pd.DataFrame, layout: ProductLayout, spec: SystemSpec, pid: str) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for dim, column in layout.keys.items():
        if column not in frame:
            raise ValueError(f"{pid}: key column {column!r} (dimension {dim}) is not in the table")
        out[dim] = frame[column].astype(object).to_numpy()
    if spec.time:
        if layout.time.column not in frame:
            raise ValueError(f"{pid}: time column {layout.time.column!r} is not in the table")
        out[RESOLUTION] = layout.time.resolution
        out[PERIOD_START] = pd.to_datetime(frame[layout.time.column], utc=True).astype("datetime64[ns, UTC]")
    return out


def cells_from_table(table: pd.DataFrame | pa.Table, layout: ProductLayout, spec: SystemSpec,
                     pid: str = "") -> pd.DataFrame:
    """Long cells of one published table: the system key, `value` (NaN = not published), where from."""
    if not layout.measures:
        return pd.DataFrame(columns=[*spec.key, "value", "product", "column", "row"])
    frame = _frame(table).reset_index(drop=True)
    base = _base_keys(frame, layout, spec, pid)
    parts = []
    for m in layout.measures:
        if m.column not in frame:
            raise ValueError(f"{pid}: measure column {m.column!r} is not in the table")
        rows = _rows(frame, m.where, m.where_not)
        part = base[rows].copy()
        for dim, val in m.cell.items():
            part[dim] = frame.loc[rows, val.column].astype(object).to_numpy() if isinstance(val, FromColumn) else val
        part["value"] = pd.to_numeric(frame.loc[rows, m.column], errors="coerce").to_numpy(dtype=float)
        part["product"] = pid
        part["column"] = m.column
        part["row"] = np.flatnonzero(rows)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return out[[*spec.key, "value", "product", "column", "row"]]


# -- the audit of several products together ------------------------------------------------------

@dataclass
class ProductsAudit:
    """The LP audit of each system, plus what the layouts say must hold between products."""

    reports: dict[str, AuditReport]
    violations: pd.DataFrame
    unverifiable: pd.DataFrame
    summary: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports.values()) and self.violations.empty

    @property
    def exposed(self) -> pd.DataFrame:
        frames = [r.exposed.assign(system=s) for s, r in self.reports.items() if len(r.exposed)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def as_metadata(self, sample: int = 20) -> dict:
        out = {"passed": self.passed, **self.summary,
               "systems": {s: r.as_metadata(sample) for s, r in self.reports.items()},
               "violations": int(len(self.violations)),
               "violations_sample": self.violations.head(sample).astype(str).to_dict("records"),
               "unverifiable": int(len(self.unverifiable)),
               "unverifiable_sample": self.unverifiable.head(sample).astype(str).to_dict("records")}
        return out


VIOLATION_COLUMNS = ["product", "row", "column", "problem"]


def _key_frame(frame: pd.DataFrame, key: Sequence[str]) -> pd.MultiIndex:
    norm = frame[list(key)].copy()
    for c in key:
        if c == PERIOD_START:
            norm[c] = pd.to_datetime(norm[c], utc=True).astype("datetime64[ns, UTC]")
        else:
            norm[c] = norm[c].astype(object)
    return pd.MultiIndex.from_frame(norm)


def _finer_masked(union: pd.DataFrame, targets: pd.DataFrame, spec: SystemSpec) -> tuple[np.ndarray, np.ndarray]:
    """For unpublished target cells: (any finer published cell of it masked, any finer cell present)."""
    if not spec.time or union.empty or targets.empty:
        return np.zeros(len(targets), bool), np.zeros(len(targets), bool)
    others = [d for d in spec.key if d not in (RESOLUTION, PERIOD_START)]
    hit_masked = np.zeros(len(targets), bool)
    hit_any = np.zeros(len(targets), bool)
    levels = {lv: i for i, lv in enumerate(TIME_LEVELS)}
    for level in targets[RESOLUTION].unique():
        t_rows = np.flatnonzero((targets[RESOLUTION] == level).to_numpy())
        finer = union[union[RESOLUTION].map(levels) < levels[level]]
        if finer.empty:
            continue
        lifted = finer[others].copy()
        lifted[RESOLUTION] = level
        lifted[PERIOD_START] = floor_paris(finer[PERIOD_START], level).to_numpy()
        lifted["masked"] = finer["masked"].to_numpy()
        agg = lifted.groupby([*others, RESOLUTION, PERIOD_START], dropna=False)["masked"].any()
        idx = agg.index.get_indexer(_key_frame(targets.iloc[t_rows], [*others, RESOLUTION, PERIOD_START]))
        ok = idx >= 0
        hit_any[t_rows[ok]] = True
        hit_masked[t_rows[ok]] = agg.to_numpy()[idx[ok]]
    return hit_masked, hit_any


def audit_products(tables: Mapping[str, pd.DataFrame | pa.Table], *, products: SecrecyProducts | None = None,
                   truth: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
                   maps: Mapping[str, Mapping] | None = None, insiders: bool = True,
                   scope: str = "all", intervals: str = "auto") -> ProductsAudit:
    """Audit the published `tables` ({product id: table as written}) together; see the module doc.

    `truth`: the system's cells from the closed data (key columns, value, masked, mask_kind,
    protection_pct, n_contributors), one frame, or {system: frame} when several systems are audited.
    `intervals`: see `audit` ("auto": exact intervals unless a component is large).
    """
    products = products or load_products()
    unknown = sorted(set(tables) - set(products.products))
    if unknown:
        raise ValueError(f"no secrecy layout for {unknown} in products.yaml; declared: {sorted(products.products)}")
    by_system: dict[str, list[str]] = {}
    for pid in tables:
        by_system.setdefault(products.products[pid].system, []).append(pid)
    reports, violations, unverifiable = {}, [], []
    summary = {"products": sorted(tables)}
    for sid, pids in by_system.items():
        spec = products.systems[sid]
        key = list(spec.key)
        parts = [cells_from_table(tables[p], products.products[p], spec, p) for p in pids]
        if not any(len(p) for p in parts):  # nothing of this system stored yet: nothing to expose
            reports[sid] = AuditReport.combine([])
            continue
        cells = pd.concat([p for p in parts if len(p)], ignore_index=True)
        cells["masked"] = ~np.isfinite(cells["value"].to_numpy(dtype=float))
        idx = _key_frame(cells, key)
        cells["_key"] = idx.factorize()[0]
        # one cell, several products: published in one and masked in another reveals it
        stats = cells.groupby("_key").agg(n=("masked", "size"), n_masked=("masked", "sum"),
                                          vmin=("value", "min"), vmax=("value", "max"))
        mixed = stats[(stats["n_masked"] > 0) & (stats["n_masked"] < stats["n"])].index
        differ = stats[(stats["vmax"] - stats["vmin"]).abs() > 1e-6 * stats["vmax"].abs().clip(lower=1.0)].index
        for bad, problem in ((mixed, "masked in one product, published in another"),
                             (differ, "published with different values by two products")):
            if len(bad):
                rows = cells[cells["_key"].isin(bad)]
                violations.append(pd.DataFrame({"product": rows["product"], "row": rows["row"],
                                                "column": rows["column"], "problem": problem}))
        union = cells.sort_values("masked").drop_duplicates("_key").drop(columns="_key").reset_index(drop=True)
        union["masked"] = union["masked"].to_numpy(dtype=bool)
        t = truth.get(sid) if isinstance(truth, Mapping) else truth
        union = _with_truth(union, t, key)
        system = TableSystem(union, dims=key, hierarchies=system_hierarchies(spec, maps))
        reports[sid] = audit(system, nonnegative=spec.nonnegative, insiders=insiders, scope=scope,
                             intervals=intervals)
        v, u = _closure_checks({p: tables[p] for p in pids}, products, spec, union, key)
        violations += v
        unverifiable += u
    return ProductsAudit(
        reports=reports,
        violations=pd.concat(violations, ignore_index=True) if violations else pd.DataFrame(columns=VIOLATION_COLUMNS),
        unverifiable=pd.concat(unverifiable, ignore_index=True) if unverifiable
        else pd.DataFrame(columns=VIOLATION_COLUMNS), summary=summary)


def _with_truth(union: pd.DataFrame, truth: pd.DataFrame | None, key: list[str]) -> pd.DataFrame:
    """Masked cells take their true value, protection and kind from the closed data when given."""
    union["protection_pct"] = 0.0
    union["mask_kind"] = np.where(union["masked"], "unknown", None).astype(object)
    union["n_contributors"] = np.nan
    if truth is None or truth.empty:
        return union
    missing = [c for c in [*key, "value", "masked", "protection_pct", "mask_kind"] if c not in truth]
    if missing:
        raise ValueError(f"truth cells lack column(s) {missing}")
    tidx = _key_frame(truth, key)
    pos = tidx.get_indexer(_key_frame(union, key))
    hit = pos >= 0
    m = union["masked"].to_numpy() & hit
    tv = truth["value"].to_numpy(dtype=float)
    union.loc[m, "value"] = tv[pos[m]]
    union.loc[m, "protection_pct"] = truth["protection_pct"].to_numpy(dtype=float)[pos[m]]
    union.loc[m, "mask_kind"] = truth["mask_kind"].to_numpy(dtype=object)[pos[m]]
    if "n_contributors" in truth:
        union.loc[hit, "n_contributors"] = pd.to_numeric(truth["n_contributors"], errors="coerce").to_numpy()[pos[hit]]
    # a cell null in the product but published by the rules is missing data (fail closed), not a secret
    not_secret = union["masked"].to_numpy() & hit & ~truth["masked"].to_numpy(dtype=bool)[np.where(hit, pos, 0)]
    union.loc[not_secret, "mask_kind"] = "missing"
    union.loc[not_secret, "protection_pct"] = 0.0
    return union


def _closure_checks(tables, products: SecrecyProducts, spec: SystemSpec, union: pd.DataFrame,
                    key: list[str]) -> tuple[list, list]:
    violations, unverifiable = [], []
    uidx = _key_frame(union, key)
    masked_u = union["masked"].to_numpy(dtype=bool)
    for pid, table in tables.items():
        layout = products.products[pid]
        frame = _frame(table).reset_index(drop=True)
        if layout.derived:
            base = _base_keys(frame, layout, spec, pid)
            for d in layout.derived:
                if d.column not in frame:
                    raise ValueError(f"{pid}: derived column {d.column!r} is not in the table")
                rows = _rows(frame, d.where, d.where_not) & frame[d.column].notna().to_numpy()
                if not rows.any():
                    continue
                bad = np.zeros(len(frame), bool)
                unknown_input = np.zeros(len(frame), bool)
                for inp in d.inputs:
                    if isinstance(inp, str):
                        bad |= rows & frame[inp].isna().to_numpy()
                        continue
                    target = base[rows].copy()
                    for dim, val in inp.items():
                        target[dim] = val
                    pos = uidx.get_indexer(_key_frame(target, key))
                    found = pos >= 0
                    hit = np.zeros(len(target), bool)
                    hit[found] = masked_u[pos[found]]
                    finer_m, finer_any = _finer_masked(union, target[~found].reset_index(drop=True), spec)
                    hit[~found] = finer_m
                    unk = np.zeros(len(target), bool)
                    unk[~found] = ~finer_any
                    r = np.flatnonzero(rows)
                    bad[r[hit]] = True
                    unknown_input[r[unk]] = True
                if bad.any():
                    violations.append(pd.DataFrame({"product": pid, "row": np.flatnonzero(bad), "column": d.column,
                                                    "problem": "published although an input is masked"}))
                if unknown_input.any():
                    unverifiable.append(pd.DataFrame({"product": pid, "row": np.flatnonzero(unknown_input),
                                                      "column": d.column,
                                                      "problem": "an input cell is in none of the audited tables"}))
        if layout.history is not None:
            v, u = _history_check(pid, frame, layout, spec, union)
            violations += v
            unverifiable += u
    return violations, unverifiable


def _history_check(pid: str, frame: pd.DataFrame, layout: ProductLayout, spec: SystemSpec,
                   union: pd.DataFrame) -> tuple[list, list]:
    h = layout.history
    published = np.zeros(len(frame), bool)
    for c in h.values:
        published |= frame[c].notna().to_numpy()
    finest = union[RESOLUTION].map({lv: i for i, lv in enumerate(TIME_LEVELS)})
    fine = union[finest == finest.min()] if len(union) else union
    bad, unknown = np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    lookback = pd.Timedelta(days=h.lookback_days)
    groups = frame.groupby([h.by, h.window_end, *layout.keys.values()], dropna=False).indices
    for (variable, end, *keyvals), rows in groups.items():
        if variable not in h.series:
            continue
        end = pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC")
        sel = (fine[PERIOD_START] >= end - lookback) & (fine[PERIOD_START] < end)
        for dim, val in zip(layout.keys, keyvals, strict=True):
            sel &= fine[dim] == val
        window = fine[sel]
        any_masked, any_cell = False, False
        for selector in h.series[variable]:
            part = window
            for dim, val in selector.items():
                part = part[part[dim] == val]
            any_cell |= len(part) > 0
            any_masked |= bool(part["masked"].any())
        if any_masked:
            bad[rows] = True
        if not any_cell:
            unknown[rows] = True
    out_v = [pd.DataFrame({"product": pid, "row": np.flatnonzero(bad & published), "column": ",".join(h.values),
                           "problem": "published although a cell of its history window is masked"})] \
        if (bad & published).any() else []
    out_u = [pd.DataFrame({"product": pid, "row": np.flatnonzero(unknown & published), "column": ",".join(h.values),
                           "problem": "no cell of its history window is in the audited tables"})] \
        if (unknown & published).any() else []
    return out_v, out_u
