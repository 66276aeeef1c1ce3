"""Statistical secrecy of energy aggregates: primary masking, secondary suppression, and why.

Rules (DOMAIN.md, reference/data-formats.md §7), thresholds read from the catalogue
(`assets_config/uc3/secrecy.yaml`), never hard-coded at call sites:

- residential electricity: an aggregate is published only with >= 10 delivery points
  (Code de l'énergie D.111-53, as amended by décret 2020-196);
- other sectors: >= 3 contributors and no contributor above 85 % of the cell (the usual
  INSEE/SSP business-secrecy rule, [to verify] for energy: keep it configurable).

Secondary suppression: cells are organised in additive *lines* (cells that sum to a published
total, e.g. the filières of one territory and half-hour and their total). A line holding exactly
one masked cell lets anyone recompute it by difference, so the smallest other non-zero cell of
the line with contributors (or, failing one, a zero one, or the total) is masked too; this repeats over every line until no line
holds exactly one masked cell. Every masked cell says why: the rule it fails, or the cell it
protects. The heuristic is the classic one (no optimal cell-suppression solver); it is enough
for one-way and two-way tables with marginal totals (UC3 now, UC1 communes x sectors later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


@dataclass(frozen=True)
class SecrecyRules:
    residential_min_points: int = 10
    other_min_contributors: int = 3
    other_max_share: float = 0.85
    residential_categories: frozenset[str] = frozenset({"residential"})
    # a non-residential cell whose largest contributor is unknown cannot be checked for dominance
    mask_unknown_dominance: bool = True
    version: str = "default"
    reference: str = ""

    @classmethod
    def from_yaml(cls, path: Path | str) -> SecrecyRules:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown secrecy setting(s) {unknown}; expected some of {sorted(known)}")
        if "residential_categories" in data:
            data["residential_categories"] = frozenset(data["residential_categories"])
        rules = cls(**data)
        if not 0 < rules.other_max_share <= 1:
            raise ValueError(f"{path}: other_max_share must be in (0, 1], got {rules.other_max_share}")
        if rules.residential_min_points < 1 or rules.other_min_contributors < 1:
            raise ValueError(f"{path}: minimum counts must be >= 1")
        return rules

    def as_metadata(self) -> dict:
        return {"version": self.version, "residential_min_points": self.residential_min_points,
                "other_min_contributors": self.other_min_contributors, "other_max_share": self.other_max_share,
                "residential_categories": sorted(self.residential_categories)}


@dataclass(frozen=True)
class Line:
    """Cells sharing `keys` add up to the cell where `total_column == total_value`."""

    keys: tuple[str, ...]
    total_column: str
    total_value: object = "total"


@dataclass
class Columns:
    category: str = "category"
    value: str = "value"
    count: str = "n_contributors"
    largest: str = "largest_contributor"
    extra_label: tuple[str, ...] = field(default_factory=tuple)


def primary_reasons(cells: pd.DataFrame, rules: SecrecyRules, cols: Columns | None = None) -> pd.Series:
    """'' for a publishable cell, else the rule it fails. Empty cells (no contributor) are published."""
    cols = cols or Columns()
    n = pd.to_numeric(cells[cols.count], errors="coerce").fillna(0).to_numpy(dtype=float)
    value = pd.to_numeric(cells[cols.value], errors="coerce").to_numpy(dtype=float)
    largest = (pd.to_numeric(cells[cols.largest], errors="coerce").to_numpy(dtype=float)
               if cols.largest in cells else np.full(len(cells), np.nan))
    residential = cells[cols.category].isin(rules.residential_categories).to_numpy()
    reasons = np.full(len(cells), "", dtype=object)
    occupied = n >= 1
    few_res = occupied & residential & (n < rules.residential_min_points)
    reasons[few_res] = [f"primary: {int(k)} delivery point(s) < {rules.residential_min_points} (residential rule)"
                        for k in n[few_res]]
    other = occupied & ~residential
    few = other & (n < rules.other_min_contributors)
    reasons[few] = [f"primary: {int(k)} contributor(s) < {rules.other_min_contributors}" for k in n[few]]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(value > 0, largest / value, np.where(largest > 0, np.inf, 0.0))
    dominant = other & ~few & (share > rules.other_max_share)
    reasons[dominant] = [f"primary: largest contributor {s:.0%} of the cell > {rules.other_max_share:.0%}"
                         if np.isfinite(s) else "primary: largest contributor exceeds the cell total"
                         for s in share[dominant]]
    if rules.mask_unknown_dominance:
        unknown = other & ~few & ~dominant & np.isnan(largest) & (np.nan_to_num(value) > 0)
        reasons[unknown] = "primary: largest contributor unknown, dominance cannot be checked"
    return pd.Series(reasons, index=cells.index, dtype=object)


def _label(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    parts = [c + "=" + frame[c].astype(str) for c in columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return out


def apply_secrecy(cells: pd.DataFrame, rules: SecrecyRules, lines: Sequence[Line] = (),
                  cols: Columns | None = None, max_rounds: int = 100) -> pd.DataFrame:
    """`cells` with three more columns: `masked`, `mask_kind` (primary/secondary) and `mask_reason`.

    Values are left in place: the caller nulls them where it publishes (so totals and rates
    can still be checked against the masks). Each line's total is one of the cells.
    """
    cols = cols or Columns()
    out = cells.copy()
    out.index = pd.RangeIndex(len(out))
    reasons = primary_reasons(out, rules, cols)
    masked = (reasons != "").to_numpy()
    kind = np.where(masked, "primary", None).astype(object)
    reason = np.where(masked, reasons.to_numpy(), None).astype(object)
    n = pd.to_numeric(out[cols.count], errors="coerce").fillna(0).to_numpy(dtype=float)
    value = pd.to_numeric(out[cols.value], errors="coerce").fillna(0).to_numpy(dtype=float)
    for _ in range(max_rounds):
        changed = False
        for line in lines:
            is_total = (out[line.total_column] == line.total_value).to_numpy()
            # a cell without contributors is a known zero: it can neither leak nor hide anything
            eligible = is_total | (n >= 1)
            group = out.groupby(list(line.keys), sort=False, dropna=False).ngroup().to_numpy()
            counts = np.bincount(group, weights=(masked & eligible).astype(float), minlength=group.max() + 1 if len(group) else 0)
            exposed_groups = np.flatnonzero(counts == 1)
            if not len(exposed_groups):
                continue
            in_exposed = np.isin(group, exposed_groups)
            # candidates: unmasked eligible cells of exposed lines: components before the total, non-zero
            # before zero (a zero, e.g. PV at night, is guessable and hides nothing), then the smallest
            cand = np.flatnonzero(in_exposed & eligible & ~masked)
            if not len(cand):
                continue
            order = np.lexsort((value[cand], (value[cand] <= 0).astype(int), is_total[cand].astype(int), group[cand]))
            cand = cand[order]
            first = cand[np.r_[True, group[cand][1:] != group[cand][:-1]]]
            # the cell each pick protects: the single masked eligible cell of its line
            exposed_cell = np.flatnonzero(in_exposed & eligible & masked)
            protected_of_group = pd.Series(exposed_cell, index=group[exposed_cell])
            protected = protected_of_group.loc[group[first]].to_numpy()
            differing = [c for c in (line.total_column, *cols.extra_label) if c not in line.keys]
            what = _label(out.iloc[protected], differing).to_numpy()
            where = _label(out.iloc[first], list(line.keys)).to_numpy()
            masked[first] = True
            kind[first] = "secondary"
            reason[first] = [f"secondary: protects {w} in line {ln}" for w, ln in zip(what, where, strict=True)]
            changed = True
        if not changed:
            break
    else:
        raise RuntimeError(f"secondary suppression did not settle in {max_rounds} rounds")
    out["masked"] = masked
    out["mask_kind"] = kind
    out["mask_reason"] = reason
    return out


def recoverable_cells(cells: pd.DataFrame, lines: Sequence[Line], cols: Columns | None = None) -> pd.DataFrame:
    """Masked cells some line lets one recompute by difference (what secondary suppression prevents).

    A check for tests and quality gates: empty when the masking is safe against single-line
    differencing.
    """
    cols = cols or Columns()
    n = pd.to_numeric(cells[cols.count], errors="coerce").fillna(0).to_numpy(dtype=float)
    bad = []
    for line in lines:
        is_total = (cells[line.total_column] == line.total_value).to_numpy()
        eligible = is_total | (n >= 1)
        frame = cells.assign(_m=cells["masked"].to_numpy() & eligible)
        per_line = frame.groupby(list(line.keys), dropna=False)["_m"].transform("sum")
        bad.append(frame[(per_line == 1) & frame["_m"]].drop(columns="_m"))
    return pd.concat(bad) if bad else cells.iloc[:0]
