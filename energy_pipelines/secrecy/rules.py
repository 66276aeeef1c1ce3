"""Primary secrecy rules: which published cell is confidential, by which rule, and how well to protect it.

Rules live in `assets_config/secrecy/rules.yaml` (model: `RuleSet`). Each rule matches cells on
their attributes (e.g. `fluid`, `flow`, `sector`); the first rule that matches a cell is its rule,
and a cell no rule matches is an error (nothing is published by default). A rule is a count
threshold (secret when 1 <= contributors < `min_contributors`, optionally only for cells of at
most `only_if_value_at_most`: the gas rule), a dominance threshold (secret when the largest
contributor holds more than `max_share_pct` of the cell), or both. Each rule cites its source and
says whether it is regulation or a convention kept configurable.

Contributors. The count and the largest contributor are those of *the cell itself*. For a cell
summed over time from per-slot figures only (Enedis gives, per half-hour, the number of points
and the energy of the largest point, not per-point series), the caller passes sound bounds: the
largest per-slot count as the count (distinct contributors over the period are at least that many)
and the sum of per-slot largest values as the largest contributor (no contributor can exceed it).
Both bounds err on the side of masking. Where contributor-level totals exist, pass them instead.

Protection level. A masked confidential cell x must stay inside an interval the attacker cannot
narrow below [x - p x, x + p x] (tau-ARGUS upper and lower protection levels), p =
`protection_pct`; see `audit.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from energy_pipelines.catalog import StrictModel
from energy_pipelines.secrecy._yaml import load_model
from energy_pipelines.settings import CATALOG_DIR

RULES_PATH = CATALOG_DIR / "secrecy" / "rules.yaml"
KWH_PER_UNIT = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "GWh": 1e6}



class ValueThreshold(StrictModel):
    value: float = Field(ge=0)
    unit: Literal["Wh", "kWh", "MWh", "GWh"]

    @property
    def kwh(self) -> float:
        return self.value * KWH_PER_UNIT[self.unit]


class Rule(StrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    # attribute -> accepted values; an empty mapping matches every cell (the catch-all, listed last)
    match: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    min_contributors: int | None = Field(default=None, ge=2)
    only_if_value_at_most: ValueThreshold | None = None
    max_share_pct: float | None = Field(default=None, gt=0, le=100)
    unknown_largest: Literal["mask", "publish"] = "mask"
    protection_pct: float = Field(gt=0, le=100)
    protection_source: str = Field(min_length=10)
    basis: Literal["regulation", "convention"]
    source: str = Field(min_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.min_contributors is None and self.max_share_pct is None:
            raise ValueError("a rule sets min_contributors, max_share_pct or both")
        if self.only_if_value_at_most is not None and self.min_contributors is None:
            raise ValueError("only_if_value_at_most qualifies min_contributors, which is not set")
        for attribute, values in self.match.items():
            if not values:
                raise ValueError(f"match.{attribute}: list at least one value (omit the attribute to accept all)")
        return self


class RuleSet(StrictModel):
    version: str
    description: str
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule id(s) given twice: {dupes}")
        for rule in self.rules[:-1]:
            if not rule.match:
                raise ValueError(f"rule {rule.id!r} matches every cell but is not last: the rules after it never apply")
        return self

    def __getitem__(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def attributes(self) -> set[str]:
        return {a for r in self.rules for a in r.match}

    def as_metadata(self) -> dict:
        return {"version": self.version, "rules": [
            {"id": r.id, "match": {k: list(v) for k, v in r.match.items()}, "min_contributors": r.min_contributors,
             "only_if_value_at_most": None if r.only_if_value_at_most is None else
             f"{r.only_if_value_at_most.value:g} {r.only_if_value_at_most.unit}",
             "max_share_pct": r.max_share_pct, "protection_pct": r.protection_pct, "basis": r.basis}
            for r in self.rules]}


def load_rules(path: Path | str = RULES_PATH) -> RuleSet:
    return load_model(path, RuleSet)


def assign_rules(cells: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Index into `rules.rules` of each cell's rule (the first that matches); an unmatched cell raises."""
    missing = sorted(rules.attributes - set(cells.columns))
    if missing:
        raise ValueError(f"secrecy rules {rules.version!r} match on {missing}, which the cells do not have "
                         f"(columns: {sorted(cells.columns)})")
    which = np.full(len(cells), -1, dtype=np.int64)
    for i, rule in enumerate(rules.rules):
        hit = which < 0
        for attribute, values in rule.match.items():
            hit &= cells[attribute].astype("string").isin(values).fillna(False).to_numpy(dtype=bool)
        which[hit] = i
    if (which < 0).any():
        attributes = sorted(rules.attributes)
        sample = cells.loc[which < 0, attributes].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"secrecy rules {rules.version!r}: no rule matches {int((which < 0).sum())} cell(s), "
                         f"e.g. {sample}; add a rule (a catch-all with an empty match goes last)")
    return which


def evaluate_primary(cells: pd.DataFrame, rules: RuleSet, *, unit: str = "kWh", value: str = "value",
                     count: str = "n_contributors", largest: str = "largest_contributor") -> pd.DataFrame:
    """Rule, primary reason ('' when publishable) and protection level of each cell.

    `count` NaN means the contributors are unknown (masked unless the cell is zero); 0 an empty
    cell (published: it holds nothing), which must then be zero. `largest` NaN is an unknown largest
    contributor (the rule's `unknown_largest` decides).
    """
    if unit not in KWH_PER_UNIT:
        raise ValueError(f"unit {unit!r}: expected one of {sorted(KWH_PER_UNIT)}")
    which = assign_rules(cells, rules)
    x = pd.to_numeric(cells[value], errors="coerce").to_numpy(dtype=float)
    n = pd.to_numeric(cells[count], errors="coerce").to_numpy(dtype=float)
    top = (pd.to_numeric(cells[largest], errors="coerce").to_numpy(dtype=float) if largest in cells
           else np.full(len(cells), np.nan))
    reasons = np.full(len(cells), "", dtype=object)
    protection = np.zeros(len(cells))
    rule_ids = np.empty(len(cells), dtype=object)
    x_kwh = x * KWH_PER_UNIT[unit]
    for i, rule in enumerate(rules.rules):
        own = which == i
        if not own.any():
            continue
        rule_ids[own] = rule.id
        protection[own] = rule.protection_pct
        free = own.copy()  # cells of this rule not yet given a reason

        def flag(hit: np.ndarray, text) -> None:
            nonlocal free
            hit = hit & free
            if hit.any():
                reasons[hit] = [text(k) for k in np.flatnonzero(hit)]
                free &= ~hit

        flag(np.isnan(n) & (np.nan_to_num(x) != 0),
             lambda k, r=rule: f"primary: number of contributors unknown ({r.id})")
        flag((n == 0) & (np.nan_to_num(x) != 0),
             lambda k, r=rule: f"primary: non-zero value without any contributor, inconsistent ({r.id})")
        occupied = n >= 1
        if rule.min_contributors is not None:
            few = occupied & (n < rule.min_contributors)
            if rule.only_if_value_at_most is not None:
                few &= x_kwh <= rule.only_if_value_at_most.kwh
                cap = rule.only_if_value_at_most
                flag(few, lambda k, r=rule, c=cap: f"primary: {int(n[k])} contributor(s) < {r.min_contributors} "
                                                   f"and value <= {c.value:g} {c.unit} ({r.id})")
            else:
                flag(few, lambda k, r=rule: f"primary: {int(n[k])} contributor(s) < {r.min_contributors} ({r.id})")
        if rule.max_share_pct is not None:
            limit = rule.max_share_pct / 100
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(x > 0, top / x, np.where(top > 0, np.inf, 0.0))
            flag(occupied & np.isfinite(top) & (share > limit),
                 lambda k, r=rule, sh=share: (f"primary: largest contributor {sh[k]:.0%} of the cell > "
                                              f"{r.max_share_pct:g}% ({r.id})") if np.isfinite(sh[k])
                 else f"primary: largest contributor exceeds the cell ({r.id})")
            if rule.unknown_largest == "mask":
                flag(occupied & np.isnan(top) & (np.nan_to_num(x) != 0),
                     lambda k, r=rule: f"primary: largest contributor unknown, dominance cannot be checked ({r.id})")
    return pd.DataFrame({"rule_id": rule_ids, "primary_reason": reasons, "protection_pct": protection},
                        index=cells.index)
