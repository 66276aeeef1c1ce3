"""Primary masking and secondary suppression over every relation of a system of tables.

1. Primary: each cell through its rule (`rules.evaluate_primary`), with its own contributors.
2. Relation pass (local, deterministic): a relation exposes a masked cell x when x is the only
   masked cell of the relation (it is then recomputed by difference), or when the other masked
   cells of the relation hide less than x's protection p|x| (the interval a published parent
   leaves is [x - ..., x + sum of the other masked children]), also against an insider who knows
   one one-contributor cell of the relation exactly. A masked parent hides its children without
   limit here (what is above it is checked by the audit). For each exposed relation one partner is
   masked, cheapest first: a child large enough to cover the shortfall (smallest `cost`, by
   default its value), else the parent, else the largest child short of it (then again next
   round). Cells without contributors are known zeros: never masked, never partners. Repeated
   until no relation exposes a cell. Each partner records `secondary: protects <cell>`.
3. Audit and repair (optional): the LP audit over all relations together; each exposed cell gets
   one more partner: the published cell whose masking loosens the attacker's binding relations
   most (the duals of the attacker's LP), the cheapest of those that cover the shortfall; then
   steps 2-3 again on the components concerned, until the audit passes or nothing is left to
   mask. Masking more cells only widens intervals, so this terminates.

The relation pass alone depends only on the cells of each relation: it gives the same masks
whatever window of data it runs on (what UC3 needs, see `uc3.py`); the repair does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from energy_pipelines.secrecy.audit import AuditReport, audit
from energy_pipelines.secrecy.rules import RuleSet, evaluate_primary
from energy_pipelines.secrecy.system import TableSystem

MASK_COLUMNS = ("rule_id", "protection_pct", "masked", "mask_kind", "mask_reason")


def apply_primary(system: TableSystem, rules: RuleSet, *, unit: str = "kWh") -> TableSystem:
    """Add rule_id, protection_pct, masked, mask_kind, mask_reason (primary only) to the cells."""
    cells = system.cells
    primary = evaluate_primary(cells, rules, unit=unit)
    reason = primary["primary_reason"].to_numpy(dtype=object)
    masked = reason != ""
    cells["rule_id"] = primary["rule_id"].to_numpy()
    # protection applies to confidential cells only; secondary cells need none of their own
    cells["protection_pct"] = np.where(masked, primary["protection_pct"].to_numpy(dtype=float), 0.0)
    cells["masked"] = masked
    cells["mask_kind"] = np.where(masked, "primary", None).astype(object)
    cells["mask_reason"] = np.where(masked, reason, None).astype(object)
    return system


def _structural(cells: pd.DataFrame) -> np.ndarray:
    """Cells without contributors hold a known zero."""
    n = pd.to_numeric(cells["n_contributors"], errors="coerce").to_numpy(dtype=float) \
        if "n_contributors" in cells else np.full(len(cells), np.nan)
    return n == 0


def relation_pass(system: TableSystem, *, cost: str | None = None, singletons: bool = True,
                  max_rounds: int = 10_000) -> dict:
    """Mask partners until no relation exposes a masked cell (module doc, step 2). Returns figures."""
    cells = system.cells
    if not len(system.relations):
        return {"rounds": 0, "secondary": 0, "relations_left_to_audit": 0}
    members = system.relations.members()
    rel = members["relation"].to_numpy()
    cell = members["cell"].to_numpy()
    parent = members["is_parent"].to_numpy()
    n_rel = len(system.relations)
    value = np.abs(pd.to_numeric(cells["value"], errors="coerce").fillna(0).to_numpy(dtype=float))
    structural = _structural(cells)
    count = (pd.to_numeric(cells["n_contributors"], errors="coerce").to_numpy(dtype=float)
             if "n_contributors" in cells else np.full(len(cells), np.nan))
    weights = (pd.to_numeric(cells[cost], errors="coerce").fillna(np.inf).to_numpy(dtype=float) if cost
               else value)
    prot = cells["protection_pct"].to_numpy(dtype=float) / 100
    need_all = prot * value
    masked = cells["masked"].to_numpy(dtype=bool).copy()
    kind = cells["mask_kind"].to_numpy(dtype=object).copy()
    reason = cells["mask_reason"].to_numpy(dtype=object).copy()
    live = ~structural[cell]
    added = 0
    unresolved: set[int] = set()
    for rounds in range(1, max_rounds + 1):  # noqa: B007 (reported after the loop)
        m = masked[cell] & live
        child_m = m & ~parent
        cnt = np.bincount(rel, weights=m, minlength=n_rel)
        parent_masked = np.bincount(rel, weights=m & parent, minlength=n_rel) > 0
        child_sum = np.bincount(rel, weights=np.where(child_m, value[cell], 0.0), minlength=n_rel)
        # the largest masked one-contributor child, and the second largest (when x is the largest itself)
        single = child_m & (count[cell] == 1) if singletons else np.zeros(len(cell), bool)
        sv = np.where(single, value[cell], -1.0)
        order = np.lexsort((-sv, rel))
        first = np.full(n_rel, -1.0)
        second = np.full(n_rel, -1.0)
        first_cell = np.full(n_rel, -1)
        r_sorted, v_sorted, c_sorted = rel[order], sv[order], cell[order]
        head = np.r_[True, r_sorted[1:] != r_sorted[:-1]]
        first[r_sorted[head]] = v_sorted[head]
        first_cell[r_sorted[head]] = c_sorted[head]
        nxt = np.flatnonzero(head) + 1
        ok = nxt < len(order)
        ok[ok] &= r_sorted[nxt[ok]] == r_sorted[nxt[ok] - 1]
        second[r_sorted[nxt[ok] - 1]] = v_sorted[nxt[ok]]
        first, second = np.maximum(first, 0.0), np.maximum(second, 0.0)
        # per masked member: what the relation's other masked cells hide of it
        r, c = rel[m], cell[m]
        x = value[c]
        insider = np.where(first_cell[r] == c, second[r], first[r])
        slack_child = np.where(parent_masked[r], np.inf, child_sum[r] - x - insider)
        # a parent's contributors are its children's: an insider learns nothing about others from it
        # that the children's own checks do not already cover
        slack_parent = child_sum[r]
        slack = np.where(parent[m], slack_parent, slack_child)
        need = need_all[c]
        # a confidential cell must never be pinned, even at zero (a plant that did not run is news)
        confidential = prot[c] > 0
        eps = 1e-9 * np.maximum(x, 1.0)
        alone = cnt[r] == 1
        short = alone | (confidential & ((slack < need - eps) | (slack <= eps)))
        if not short.any():
            break
        deficit = np.where(confidential, np.maximum(need - np.maximum(slack, 0.0), eps), 0.0)
        ex = pd.DataFrame({"relation": r[short], "cell": c[short], "deficit": deficit[short]})
        ex = ex.sort_values(["relation", "deficit"], ascending=[True, False]).drop_duplicates("relation")
        ex = ex[~ex["relation"].isin(unresolved)]
        if ex.empty:
            break
        cand_rows = np.isin(rel, ex["relation"].to_numpy()) & ~masked[cell] & live
        cand = pd.DataFrame({"relation": rel[cand_rows], "cell": cell[cand_rows], "is_parent": parent[cand_rows]})
        cand = cand.merge(ex[["relation", "deficit"]], on="relation")
        v = value[cand["cell"].to_numpy()]
        d = cand["deficit"].to_numpy()
        is_p = cand["is_parent"].to_numpy()
        tier = np.where(~is_p & (v > 0) & (v >= d), 0, np.where(is_p, 1, np.where(v > 0, 2, 3)))
        # a zero child hides nothing: only to keep a lone secondary cell from being recomputed
        usable = (tier < 3) | (d <= 0)
        cand = cand[usable].assign(tier=tier[usable], w=weights[cand["cell"].to_numpy()][usable],
                                   v=v[usable])
        cand["key"] = np.where(cand["tier"] == 2, -cand["v"], cand["w"])
        # a partner alone in one of its other relations would be recomputed there and hide nothing:
        # prefer partners whose other relations already hold a masked cell (they can move)
        cand["lone"] = (np.bincount(cell, weights=(cnt[rel] == 0) & live, minlength=len(cells))
                        [cand["cell"].to_numpy()])
        cand = cand.sort_values(["relation", "tier", "lone", "key", "cell"]).drop_duplicates("relation")
        unresolved |= set(ex["relation"]) - set(cand["relation"])
        if cand.empty:
            break
        protects = ex.set_index("relation").loc[cand["relation"], "cell"].to_numpy()
        labels = dict(zip(np.unique(protects), system.label(np.unique(protects)), strict=True))
        for p_cell, target in zip(cand["cell"].to_numpy(), protects, strict=True):
            if masked[p_cell]:
                continue
            masked[p_cell] = True
            kind[p_cell] = "secondary"
            reason[p_cell] = f"secondary: protects {labels[target]}"
            added += 1
    else:
        raise RuntimeError(f"secondary suppression did not settle in {max_rounds} rounds")
    cells["masked"], cells["mask_kind"], cells["mask_reason"] = masked, kind, reason
    # relations with no unmasked cell left to add (a masked parent of masked children): what binds
    # them is elsewhere, the audit judges
    return {"rounds": rounds, "secondary": added, "relations_left_to_audit": len(unresolved)}


def _sensitivity(system: TableSystem, masked: np.ndarray, values: np.ndarray, cell: int, sense: int,
                 fixed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """How the attacker's optimum of `cell` (sense -1: its maximum, +1: its minimum) moves per unit of
    each published cell of the relations around it: the LP duals. Returns (published cell ids, d obj / d v)
    with obj the minimised objective (-x for a maximum): masking a cell with d < 0 lets the bound grow
    (it can rise), with d > 0 lets it grow by at most d * v (it can fall to zero)."""
    R = system.relations.matrix
    member = R[:, masked].tocsc()
    # the masked cells linked to `cell` through relations that hold masked cells
    var_ids = np.flatnonzero(masked)
    pos = {int(c): i for i, c in enumerate(var_ids)}
    seen, frontier = {pos[cell]}, [pos[cell]]
    M = member.tocsr()
    while frontier:
        rows = np.unique(member[:, frontier].nonzero()[0])
        nxt = set(np.unique(M[rows].nonzero()[1]).tolist()) - seen
        seen |= nxt
        frontier = list(nxt)
    cols = np.array(sorted(seen))
    rows = np.unique(member[:, cols].nonzero()[0])
    sub = R[rows]
    published = ~masked
    pub_vals = np.where(published, values, 0.0)
    b = -(sub @ pub_vals)
    scale = np.maximum(1.0, np.maximum(np.abs(b), np.asarray(abs(sub) @ np.abs(pub_vals)).ravel()))
    A = (sparse.diags(1.0 / scale) @ sub[:, var_ids[cols]]).tocsr()
    lo = np.zeros(len(cols))
    hi = np.full(len(cols), np.inf)
    local = {int(var_ids[c]): i for i, c in enumerate(cols)}
    for f in fixed:
        if f in local:
            lo[local[f]] = hi[local[f]] = values[f]
    c = np.zeros(len(cols))
    c[local[cell]] = sense
    res = linprog(c, A_eq=A, b_eq=b / scale, bounds=np.column_stack([lo, hi]), method="highs")
    if res.status != 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    duals = res.eqlin.marginals  # d obj / d (b / scale)
    pub_cols = np.unique(sub[:, published].nonzero()[1])
    pub_ids = np.flatnonzero(published)[pub_cols]
    # b_r / scale_r = -sum_j a_rj v_j / scale_r
    d = -(sub[:, pub_ids].T @ (duals / scale))
    return pub_ids, np.asarray(d).ravel()


def _repair(system: TableSystem, report: AuditReport, cost: str | None) -> int:
    """One more partner for each exposed cell: the published cell whose masking loosens the binding
    relations the most (LP duals of the attacker's optimum), cheapest among those that cover the
    shortfall; failing duals, a cell of its relations (for an insider's attack, those shared with the
    insider). Returns how many cells were masked."""
    cells = system.cells
    members = system.relations.members()
    by_cell = members.groupby("cell")["relation"].apply(set).to_dict()
    value = np.abs(pd.to_numeric(cells["value"], errors="coerce").fillna(0).to_numpy(dtype=float))
    weights = (pd.to_numeric(cells[cost], errors="coerce").fillna(np.inf).to_numpy(dtype=float) if cost
               else value)
    structural = _structural(cells)
    masked = cells["masked"].to_numpy(dtype=bool)
    true_values = pd.to_numeric(cells["value"], errors="coerce").to_numpy(dtype=float)
    added = 0
    for row in report.exposed.itertuples():
        insider = row.attacker_cell >= 0
        lo, hi = (row.insider_lower, row.insider_upper) if insider else (row.lower, row.upper)
        short_hi = np.nan_to_num(row.required_upper - hi, nan=0.0)
        short_lo = np.nan_to_num(lo - row.required_lower, nan=0.0)
        deficit = max(short_hi, short_lo, 1e-9 * max(abs(row.value), 1.0) if np.isfinite(row.value) else 0.0)
        sense = -1 if short_hi >= short_lo else +1
        ids, d = _sensitivity(system, masked, true_values, int(row.cell_id), sense,
                              [int(row.attacker_cell)] if insider else [])
        pick = -1
        if len(ids):
            ok = ~masked[ids] & ~structural[ids]
            ids, d = ids[ok], d[ok]
            gain = np.where(d < -1e-12, np.inf, np.where(d > 1e-12, d * value[ids], 0.0))
            useful = gain > 0
            if useful.any():
                ids, gain = ids[useful], gain[useful]
                enough = gain >= deficit
                if enough.any():
                    pick = int(ids[enough][np.argmin(weights[ids[enough]])])
                else:
                    pick = int(ids[np.argmax(gain)])
        if pick < 0:
            own = by_cell.get(row.cell_id, set())
            pool = (own & by_cell.get(row.attacker_cell, set()) if insider else own) or own
            cand = members[members["relation"].isin(pool)]
            cand = cand[~masked[cand["cell"].to_numpy()] & ~structural[cand["cell"].to_numpy()]]
            if cand.empty:
                continue
            c_ids = cand["cell"].to_numpy()
            v = value[c_ids]
            is_p = cand["is_parent"].to_numpy()
            tier = np.where(~is_p & (v > 0) & (v >= deficit), 0, np.where(is_p, 1, np.where(v > 0, 2, 3)))
            key = np.where(tier == 2, -v, weights[c_ids])
            pick = int(c_ids[np.lexsort((c_ids, key, tier))[0]])
        if masked[pick]:
            continue
        masked[pick] = True
        cells.at[pick, "mask_kind"] = "secondary"
        cells.at[pick, "mask_reason"] = f"secondary: protects {row.label} (audit: {row.exposure})"
        added += 1
    cells["masked"] = masked
    return added


def protect(system: TableSystem, rules: RuleSet, *, unit: str = "kWh", secondary: bool = True,
            repair: bool = True, insiders: bool = True, cost: str | None = None, max_repairs: int = 200,
            scope: str = "all", intervals: str = "verdict") -> AuditReport:
    """Primary masks, secondary suppression over every relation, then the audit (repairing when asked).

    Mutates `system.cells` (adds MASK_COLUMNS) and returns the final audit (`intervals="verdict"`
    by default: exact intervals for exposed cells only; "exact" for all). With `secondary=False`
    only primary masks are applied (what a test of the audit wants to break).
    """
    apply_primary(system, rules, unit=unit)
    figures = {"primary_cells": int(system.cells["masked"].sum())}
    if secondary:
        figures.update(relation_pass(system, cost=cost, singletons=insiders))
    report = audit(system, insiders=insiders, scope=scope, intervals=intervals)
    repairs, partial = 0, False
    while secondary and repair and not report.passed and repairs < max_repairs:
        touched = report.exposed["cell_id"].tolist()
        if not _repair(system, report, cost):
            break
        repairs += 1
        relation_pass(system, cost=cost, singletons=insiders)
        # re-audit the components concerned; the whole system once they pass
        report = audit(system, insiders=insiders, scope=scope, intervals=intervals, only_cells=touched)
        partial = True
        if report.passed:
            report, partial = audit(system, insiders=insiders, scope=scope, intervals=intervals), False
    if partial:
        report = audit(system, insiders=insiders, scope=scope, intervals=intervals)
    report.summary.update(figures)
    report.summary["audit_repairs"] = repairs
    report.summary["secondary_cells"] = int((system.cells["mask_kind"] == "secondary").sum())
    return report


def masked_cells(system: TableSystem, columns: Sequence[str] = ()) -> pd.DataFrame:
    """The masked cells with their reasons (for metadata and notes)."""
    cells = system.cells
    keep = [*system.dims, *columns, "rule_id", "mask_kind", "mask_reason"]
    return cells.loc[cells["masked"], [c for c in keep if c in cells]]
