"""The secrecy audit: for every masked cell, the tightest interval an attacker derives from what is published.

The attacker holds every published cell of the system and knows its additive relations and that
energies are non-negative. For a masked cell x the interval is [min x, max x] over
{masked cells y >= 0 : every relation holds with the published values}, two linear programmes
(scipy `linprog`, HiGHS, sparse constraint matrices). A confidential (primary) cell with value v
and protection p is *exposed* when the interval does not reach [v - p v, v + p v] (tau-ARGUS lower
and upper protection levels; a sliding interval of the same width is not enough: an attacker who
learns "at most v" has learnt a lot). Cells masked to protect others (secondary) need no width
of their own; their intervals are reported. When the true value of a masked cell is unknown to
the auditor (auditing published files alone), it is exposed only if the attacker pins it exactly.

Insiders: the sole contributor of a masked one-contributor cell knows that cell exactly; the
audit also computes, for each such cell s, the intervals of the confidential cells that share a
relation with s as siblings, with s fixed (tau-ARGUS's singleton problem).

Speed, without changing the answer:
- masked cells split into connected components (two masked cells are linked when a relation
  holds both); published-only relations drop out;
- cells whose maximum is unbounded are found for all components at once with one LP over the
  recession cone {d : A d = 0, d >= 0} (the sum of two unbounded directions is one, so a single
  direction can be unbounded on all of them: maximise the number of coordinates it can raise);
- the remaining minimisations and maximisations run in batches: components are independent, so
  one LP minimising the sum of one target per component yields each component's own optimum;
  components are sorted by task count so each batch is a leading block of the constraint matrix.
Rows are scaled by their published magnitude; intervals are exact up to HiGHS's feasibility
tolerance relative to the totals involved (~1e-9).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from energy_pipelines.secrecy.system import TableSystem

HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9, "presolve": True}
# a relation of published cells that misses by more than this (relative) is reported as inconsistent
CONSISTENCY_RTOL = 1e-6
# intervals="auto": every interval exactly while the largest component has at most this many masked cells
AUTO_EXACT_LIMIT = 200


class AuditError(RuntimeError):
    """The published cells contradict their relations, or the LP solver failed."""


@dataclass
class AuditReport:
    """Per masked cell: the attacker's interval and what it should have been; and a summary."""

    cells: pd.DataFrame
    summary: dict = field(default_factory=dict)

    @property
    def exposed(self) -> pd.DataFrame:
        return self.cells[self.cells["exposed"]]

    @property
    def passed(self) -> bool:
        return not bool(self.cells["exposed"].any()) if len(self.cells) else True

    @classmethod
    def combine(cls, reports: list[AuditReport]) -> AuditReport:
        """Independent audits (e.g. one per year) as one report: cells stacked, counts added."""
        if not reports:
            return cls(cells=pd.DataFrame(columns=["label", "kind", "exposed", "exposure", "attacker"]),
                       summary={"cells": 0, "masked_cells": 0, "exposed_cells": 0})
        summary: dict = {}
        for r in reports:
            for k, v in r.summary.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    summary[k] = summary.get(k, 0) + v
        return cls(cells=pd.concat([r.cells for r in reports], ignore_index=True), summary=summary)

    def as_metadata(self, sample: int = 20) -> dict:
        """Plain values for a blocking asset check: summary plus the first exposed cells."""
        out = dict(self.summary)
        out["passed"] = self.passed
        exposed = self.exposed.head(sample)
        out["exposed_sample"] = [
            {"cell": r.label, "kind": r.kind, "interval": [_plain(r.lower), _plain(r.upper)],
             "required": [_plain(r.required_lower), _plain(r.required_upper)], "why": r.exposure,
             "attacker": r.attacker} for r in exposed.itertuples()]
        return out


def _lp_unit(values: np.ndarray) -> float:
    """A power of ten bringing the largest finite |value| to at most ~1e5 (1.0 for systems already that small)."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if len(finite) else 0.0
    return 10.0 ** np.floor(np.log10(top / 1e3)) if top > 1e5 else 1.0


def _plain(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _components(A: sparse.csr_matrix) -> tuple[int, np.ndarray, np.ndarray]:
    n_rows, n_vars = A.shape
    link = abs(A).astype(bool).astype(np.int8)
    graph = sparse.bmat([[None, link.T], [link, None]], format="csr") if n_rows else sparse.csr_matrix((n_vars, n_vars))
    count, labels = connected_components(graph, directed=False)
    return count, labels[:n_vars], labels[n_vars:]


def _solve(c, A, b, lb, ub):
    res = linprog(c, A_eq=A if A.shape[0] else None, b_eq=b if A.shape[0] else None,
                  bounds=np.column_stack([lb, ub]), method="highs", options=HIGHS_OPTIONS)
    return res


@dataclass
class _Blocks:
    """The masked cells of the active components, permuted so that component k holds vars
    [v_start[k], v_stop[k]) and rows [r_start[k], r_stop[k]); an LP over a set of components is
    the block-diagonal submatrix of exactly those."""

    A: sparse.csr_matrix
    b: np.ndarray
    lb: np.ndarray
    cell_of: np.ndarray
    v_start: np.ndarray
    v_stop: np.ndarray
    r_start: np.ndarray
    r_stop: np.ndarray

    @property
    def n(self) -> int:
        return len(self.v_start)

    @classmethod
    def build(cls, active, sizes, vsel, rsel, var_comp, row_comp, n_comp, A_full, b_full, scale_rows, var_cells,
              lb_all) -> _Blocks:
        order = active[np.argsort(-sizes, kind="stable")]
        rank = np.full(n_comp, -1)
        rank[order] = np.arange(len(order))
        vperm = vsel[np.isin(var_comp[vsel], active)]
        vperm = vperm[np.lexsort((vperm, rank[var_comp[vperm]]))]
        rperm = rsel[np.isin(row_comp[rsel], active)]
        rperm = rperm[np.lexsort((rperm, rank[row_comp[rperm]]))]
        A = (sparse.diags(1.0 / scale_rows[rperm]) @ A_full[rperm][:, vperm]).tocsr()
        cell_of = var_cells[vperm]
        v_comp, r_comp = rank[var_comp[vperm]], rank[row_comp[rperm]]
        ks = np.arange(len(order))
        return cls(A=A, b=b_full[rperm] / scale_rows[rperm], lb=lb_all[cell_of], cell_of=cell_of,
                   v_start=np.searchsorted(v_comp, ks), v_stop=np.searchsorted(v_comp, ks, side="right"),
                   r_start=np.searchsorted(r_comp, ks), r_stop=np.searchsorted(r_comp, ks, side="right"))

    def _select(self, comps, fixes, values):
        """Vars (global ids), their local position, the submatrix and rhs, bounds with insiders fixed."""
        comps = sorted(comps)
        vars_ = np.concatenate([np.arange(self.v_start[k], self.v_stop[k]) for k in comps])
        rows = np.concatenate([np.arange(self.r_start[k], self.r_stop[k]) for k in comps])
        local = np.full(len(self.cell_of), -1, dtype=np.int64)
        local[vars_] = np.arange(len(vars_))
        A = self.A[rows][:, vars_]
        lo, hi = self.lb[vars_].copy(), np.full(len(vars_), np.inf)
        for k in comps:
            for s in fixes.get(k, ()):
                lo[local[s]] = hi[local[s]] = values[s]
        return vars_, local, A, self.b[rows], lo, hi

    def comp_of_var(self, v: int) -> int:
        return int(np.searchsorted(self.v_start, v, side="right") - 1)

    def recession(self, comps, fixes) -> np.ndarray:
        """Which vars can grow without bound (per global var; False outside `comps`)."""
        vars_, local, A, _, lo, hi = self._select(comps, fixes, np.zeros(len(self.cell_of)))
        V, R = len(vars_), A.shape[0]
        d_lo = np.where(np.isfinite(lo), 0.0, -np.inf)
        d_hi = np.where(np.isfinite(hi), 0.0, np.inf)  # a fixed insider cannot move
        # direction d with A d = 0, d >= 0 where bounded below; t <= d, 0 <= t <= 1; maximise sum t
        eye = sparse.identity(V, format="csr")
        res = linprog(np.concatenate([np.zeros(V), -np.ones(V)]),
                      A_ub=sparse.hstack([-eye, eye], format="csr"), b_ub=np.zeros(V),
                      A_eq=sparse.hstack([A, sparse.csr_matrix((R, V))], format="csr") if R else None,
                      b_eq=np.zeros(R) if R else None,
                      bounds=np.column_stack([np.concatenate([d_lo, np.zeros(V)]), np.concatenate([d_hi, np.ones(V)])]),
                      method="highs", options=HIGHS_OPTIONS)
        if res.status != 0:
            raise AuditError(f"recession LP failed: {res.message}")
        free = np.zeros(len(self.cell_of), dtype=bool)
        free[vars_] = res.x[V:] > 0.5
        return free

    def certify(self, pending: dict[int, np.ndarray], fixes, values, required, sense) -> tuple[dict, int]:
        """Find feasible points where each pending var reaches its requirement (sense -1: x >= required,
        +1: x <= required), pushing all of them at once: max sum_i t_i / scale_i with t_i <= +-x_i and
        t_i <= +-required_i. A var at its cap is certified; repeat on the others while some progress;
        those left need an exact LP. Returns ({component: vars left}, LPs solved)."""
        pending = {k: np.asarray(v, dtype=np.int64) for k, v in pending.items() if len(v)}
        left: dict[int, np.ndarray] = {}
        solves = 0
        while pending:
            comps = sorted(pending)
            vars_, local, A, b, lo, hi = self._select(comps, fixes, values)
            V, R = len(vars_), A.shape[0]
            targets = np.concatenate([pending[k] for k in comps])
            m = len(targets)
            sign = -sense  # t <= sign * x
            cap = sign * required[targets]
            scale = np.maximum(np.abs(required[targets]), 1.0)
            link = sparse.csr_matrix((np.full(m, -float(sign)), (np.arange(m), local[targets])), shape=(m, V))
            res = linprog(np.concatenate([np.zeros(V), -1.0 / scale]),
                          A_ub=sparse.hstack([link, sparse.identity(m, format="csr")], format="csr"), b_ub=np.zeros(m),
                          A_eq=sparse.hstack([A, sparse.csr_matrix((R, m))], format="csr") if R else None,
                          b_eq=b if R else None,
                          bounds=np.column_stack([np.concatenate([lo, np.full(m, -np.inf)]),
                                                  np.concatenate([hi, cap])]),
                          method="highs", options=HIGHS_OPTIONS)
            solves += 1
            if res.status == 2:
                raise AuditError("the published cells contradict their relations (infeasible LP)")
            if res.status != 0:
                raise AuditError(f"certification LP failed: {res.message}")
            reached = sign * res.x[local[targets]] >= cap - 1e-7 * scale
            offset = 0
            nxt = {}
            for k in comps:
                size = len(pending[k])
                got = reached[offset:offset + size]
                rest = pending[k][~got]
                if len(rest) and got.any():
                    nxt[k] = rest
                elif len(rest):
                    left[k] = rest
                offset += size
            pending = nxt
        return left, solves

    def exact(self, tasks: dict[int, list[tuple[int, int]]], fixes, values) -> tuple[dict, int]:
        """min (+1) / max (-1) of single vars, one task per component per LP (components are
        independent: the optimum of the sum is each one's optimum)."""
        results: dict[tuple[int, int], float] = {}
        todo = {k: t for k, t in tasks.items() if t}
        solves = 0
        step = 0
        while todo:
            comps = sorted(todo)
            vars_, local, A, b, lo, hi = self._select(comps, fixes, values)
            c = np.zeros(len(vars_))
            for k in comps:
                v, sense = todo[k][step]
                c[local[v]] = sense
            res = _solve(c, A, b, lo, hi)
            solves += 1
            if res.status != 0:
                what = "the published cells contradict their relations (infeasible LP)" if res.status == 2 \
                    else f"LP failed ({res.message})"
                raise AuditError(what)
            for k in comps:
                v, sense = todo[k][step]
                results[(v, sense)] = float(res.x[local[v]])
            step += 1
            todo = {k: t for k, t in todo.items() if len(t) > step}
        return results, solves


def audit(system: TableSystem, *, masked: str = "masked", value: str = "value",
          protection_pct: str = "protection_pct", kind: str = "mask_kind", contributors: str = "n_contributors",
          nonnegative: bool = True, insiders: bool = True, scope: str = "all", intervals: str = "auto",
          only_cells: Sequence[int] | None = None) -> AuditReport:
    """Audit `system`: `masked` cells are unknown to the attacker; the others are published with `value`.

    For masked cells `value` is the true value (NaN if the auditor does not know it), `protection_pct`
    the protection level (0 or NaN: none required) and `kind` primary/secondary (optional).
    `scope="primary"` computes intervals of confidential cells only (faster); `only_cells` restricts
    the computation to the components holding those cells (the suppression loop re-audits those).
    `intervals="exact"` computes every interval (two LPs per cell); `"verdict"` first certifies
    cells with feasible points that reach their protection (a few LPs for many cells at once) and
    computes exact intervals only for the others: the same verdict, exact intervals for every
    exposed cell, far fewer LPs on large tables (certified cells report `certified` and no bounds).
    `"auto"`: exact while the largest component has at most AUTO_EXACT_LIMIT masked cells.
    """
    if intervals not in ("exact", "verdict", "auto"):
        raise ValueError(f"intervals {intervals!r}: expected 'exact', 'verdict' or 'auto'")
    t0 = time.perf_counter()
    cells = system.cells
    n = len(cells)
    is_masked = cells[masked].fillna(True).to_numpy(dtype=bool)
    values = pd.to_numeric(cells[value], errors="coerce").to_numpy(dtype=float)
    # the LPs run in a unit where the system's largest figure is about 1e3: HiGHS's tolerances are absolute
    # and it drops matrix entries below 1e-9, so rows of 1e9 kWh made consistent tables "infeasible"
    unit = _lp_unit(values)
    values = values / unit
    prot = (pd.to_numeric(cells[protection_pct], errors="coerce").fillna(0).to_numpy(dtype=float)
            if protection_pct in cells else np.zeros(n))
    kinds = cells[kind].astype(object).to_numpy() if kind in cells else np.where(prot > 0, "primary", "secondary")
    count = (pd.to_numeric(cells[contributors], errors="coerce").to_numpy(dtype=float) if contributors in cells
             else np.full(n, np.nan))
    R = system.relations.matrix.tocsr()
    published = ~is_masked
    bad = published & ~np.isfinite(values)
    if bad.any():
        raise AuditError(f"{int(bad.sum())} published cell(s) without a value, "
                         f"e.g. {system.label(np.flatnonzero(bad)[:3])}")
    pub_values = np.where(published, values, 0.0)
    masked_per_row = np.asarray(R[:, is_masked].getnnz(axis=1)).ravel() if len(system.relations) else np.zeros(0, int)
    summary = {"cells": n, "masked_cells": int(is_masked.sum()),
               "primary_cells": int((is_masked & (prot > 0)).sum()), "relations": len(system.relations)}
    # relations of published cells only: they must add up (else the layout declares a false relation)
    closed = np.flatnonzero(masked_per_row == 0)
    if len(closed):
        Rc = R[closed]
        residual = np.abs(Rc @ pub_values)
        scale = np.abs(Rc) @ np.abs(pub_values)
        off = residual > CONSISTENCY_RTOL * np.maximum(scale, 1.0)
        summary["inconsistent_relations"] = int(off.sum())
        if off.any():
            parents = system.relations.parent[closed[off]][:3]
            summary["inconsistent_sample"] = system.label(parents)
    else:
        summary["inconsistent_relations"] = 0

    var_cells = np.flatnonzero(is_masked)
    rows = np.flatnonzero(masked_per_row > 0)
    A_full = R[rows][:, var_cells].tocsr()
    b_full = -(R[rows] @ pub_values)
    scale_rows = np.maximum(1.0, np.maximum(np.abs(b_full), np.asarray(np.abs(R[rows]) @ np.abs(pub_values)).ravel()))
    n_comp, var_comp, row_comp = _components(A_full)
    if only_cells is not None:
        wanted = set(np.asarray(only_cells, dtype=np.int64).tolist())
        pos = np.flatnonzero(np.isin(var_cells, list(wanted)))
        keep_comp = np.unique(var_comp[pos])
        keep_var = np.isin(var_comp, keep_comp)
        keep_row = np.isin(row_comp, keep_comp)
    else:
        keep_var = np.ones(len(var_cells), dtype=bool)
        keep_row = np.ones(len(rows), dtype=bool)
    lb_all = np.where(nonnegative, 0.0, -np.inf) * np.ones(n)

    # group vars and rows by component, components with rows sorted by size (descending)
    vsel = np.flatnonzero(keep_var)
    rsel = np.flatnonzero(keep_row)
    comp_ids, comp_nv = np.unique(var_comp[vsel], return_counts=True)
    comp_nr = np.bincount(row_comp[rsel], minlength=n_comp)[comp_ids] if len(rsel) else np.zeros(len(comp_ids), int)
    summary["components"] = int(len(comp_ids))
    summary["largest_component"] = int(comp_nv.max()) if len(comp_nv) else 0
    if intervals == "auto":
        intervals = "exact" if summary["largest_component"] <= AUTO_EXACT_LIMIT else "verdict"

    in_scope = is_masked.copy()
    if scope == "primary":
        in_scope &= prot > 0
    elif scope != "all":
        raise ValueError(f"scope {scope!r}: expected 'all' or 'primary'")

    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    ins_lower = np.full(n, np.nan)
    ins_upper = np.full(n, np.nan)
    ins_attacker = np.full(n, -1, dtype=np.int64)
    component_of = np.full(n, -1, dtype=np.int64)
    component_of[var_cells[vsel]] = var_comp[vsel]
    solves = 0

    # components without any relation: only non-negativity bounds them
    lonely = comp_ids[comp_nr == 0]
    lonely_vars = vsel[np.isin(var_comp[vsel], lonely)]
    lower[var_cells[lonely_vars]] = lb_all[var_cells[lonely_vars]]
    upper[var_cells[lonely_vars]] = np.inf

    active = comp_ids[comp_nr > 0]
    certified = np.zeros(n, dtype=bool)
    if len(active):
        blocks = _Blocks.build(active, comp_nv[np.searchsorted(comp_ids, active)], vsel, rsel, var_comp, row_comp,
                               n_comp, A_full, b_full, scale_rows, var_cells, lb_all)
        cell_of = blocks.cell_of
        vals = values[cell_of]
        p_var = prot[cell_of] / 100
        # a confidential cell must not be pinned even where p |v| is nil (a zero): certify it can move
        req_hi = vals + np.maximum(p_var * np.abs(vals), 1e-6 * np.maximum(np.abs(vals), 1.0))
        req_lo = vals - p_var * np.abs(vals)
        confidential = (p_var > 0) & np.isfinite(vals)
        targets = [np.arange(blocks.v_start[k], blocks.v_stop[k]) for k in range(blocks.n)]
        targets = [t[in_scope[cell_of[t]]] for t in targets]
        # insiders: for each confidential var, the masked one-contributor siblings whose owner may attack it
        attackers: dict[int, list[int]] = {}
        if insiders:
            var_pos = pd.Series(np.arange(len(cell_of)), index=cell_of)
            member = system.relations.members()
            kids = member[~member["is_parent"].to_numpy()]
            kids = kids[is_masked[kids["cell"].to_numpy()] & kids["cell"].isin(var_pos.index).to_numpy()]
            singles = kids[(count[kids["cell"].to_numpy()] == 1) & np.isfinite(values[kids["cell"].to_numpy()])]
            pairs = singles.merge(kids, on="relation", suffixes=("_s", "_t"))
            pairs = pairs[(pairs["cell_s"] != pairs["cell_t"]) & (prot[pairs["cell_t"].to_numpy()] > 0)]
            for t_cell, group in pairs.groupby("cell_t"):
                attackers[int(var_pos[t_cell])] = sorted({int(var_pos[c]) for c in group["cell_s"]})
        if intervals == "exact":
            # the outside attacker, then one scenario per insider, each with its exact intervals
            runs = []
            for k in range(blocks.n):
                mine = [([], targets[k])]
                by_attacker: dict[int, list[int]] = {}
                for v in targets[k]:
                    for a in attackers.get(int(v), []):
                        by_attacker.setdefault(a, []).append(int(v))
                mine += [([a], np.array(ts)) for a, ts in sorted(by_attacker.items())]
                runs.append(mine)
            exact_runs = runs
        else:
            # certify in classes: each class fixes every insider of its targets at once (a coalition:
            # a smaller polyhedron, so what it certifies holds against each insider and outsiders);
            # a class never fixes one of its own targets
            runs = []
            for k in range(blocks.n):
                classes: list[tuple[set[int], list[int]]] = []
                for v in targets[k]:
                    v = int(v)
                    fix = set(attackers.get(v, []))
                    for fixed, members in classes:
                        if v not in fixed and not (fix & set(members)):
                            fixed |= fix
                            members.append(v)
                            break
                    else:
                        classes.append((fix, [v]))
                runs.append([(sorted(f), np.array(m, dtype=np.int64)) for f, m in classes])
            exact_runs = [[] for _ in range(blocks.n)]
        results_out: dict[int, tuple[float, float]] = {}
        results_in: dict[int, list[tuple[float, float, int]]] = {}

        phases = {"recession": 0, "certify": 0, "exact": 0}

        def run_exact(plan):
            """plan: per component, list of (fixes, targets): exact min / max of each target."""
            nonlocal solves
            for j in range(max((len(x) for x in plan), default=0)):
                comps = [k for k in range(blocks.n) if len(plan[k]) > j]
                fixes = {k: plan[k][j][0] for k in comps}
                free = blocks.recession(comps, fixes)
                solves += 1
                phases["recession"] += 1
                tasks = {k: [(int(v), sense) for v in plan[k][j][1] for sense in ((+1,) if free[v] else (+1, -1))]
                         for k in comps}
                res, n_lp = blocks.exact(tasks, fixes, vals)
                solves += n_lp
                phases["exact"] += n_lp
                for k in comps:
                    for v in plan[k][j][1]:
                        v = int(v)
                        interval = (res[(v, +1)], np.inf if free[v] else res[(v, -1)])
                        if fixes[k]:
                            results_in.setdefault(v, []).append((*interval, fixes[k][0]))
                        else:
                            results_out[v] = interval

        def certify_plan(plan):
            """plan: per component, list of (fixes, targets). Certify what feasible points can; return
            the same shape with only the targets left uncertified (exact intervals decide those)."""
            nonlocal solves
            out = [[] for _ in range(blocks.n)]
            for j in range(max((len(x) for x in plan), default=0)):
                comps = [k for k in range(blocks.n) if len(plan[k]) > j]
                fixes = {k: plan[k][j][0] for k in comps}
                free = blocks.recession(comps, fixes)
                solves += 1
                phases["recession"] += 1
                up, lo, rest = {}, {}, {}
                for k in comps:
                    t = plan[k][j][1]
                    conf = confidential[t]
                    # no requirement known (auditing published files alone): exact intervals decide
                    rest[k] = set(t[~conf & (kinds[cell_of[t]] != "secondary")].tolist())
                    up[k] = t[conf & ~free[t]]
                    lo[k] = t[conf & (req_lo[t] > blocks.lb[t] + 1e-9)]
                for pending, required, sense in ((up, req_hi, -1), (lo, req_lo, +1)):
                    left, n_lp = blocks.certify(pending, fixes, vals, required, sense)
                    solves += n_lp
                    phases["certify"] += n_lp
                    for k, vs in left.items():
                        rest[k] |= set(vs.tolist())
                for k in comps:
                    if rest[k]:
                        out[k].append((plan[k][j][0], np.array(sorted(rest[k]), dtype=np.int64)))
            return out

        def by_scenario(todo_per_comp):
            """The outside attacker and each insider of the given targets, as a plan."""
            plan = []
            for k in range(blocks.n):
                todo = sorted(todo_per_comp[k])
                mine = [([], np.array(todo, dtype=np.int64))] if todo else []
                by_attacker: dict[int, list[int]] = {}
                for v in todo:
                    for a in attackers.get(v, []):
                        by_attacker.setdefault(a, []).append(v)
                mine += [([a], np.array(ts)) for a, ts in sorted(by_attacker.items())]
                plan.append(mine)
            return plan

        if intervals == "exact":
            run_exact(exact_runs)
        else:
            # 1) coalition classes; 2) what they leave, attacker by attacker; 3) exact intervals of the rest
            left = certify_plan(runs)
            for k in range(blocks.n):
                t = targets[k]
                certified[cell_of[t[confidential[t]]]] = True
            todo = [set().union(*(set(x[1].tolist()) for x in left[k])) if left[k] else set()
                    for k in range(blocks.n)]
            left = certify_plan(by_scenario(todo))
            for k in range(blocks.n):
                for _, t in left[k]:
                    certified[cell_of[t]] = False
            # exact intervals where a scenario could not be certified, and the outside view of those cells
            exact_plan = []
            for k in range(blocks.n):
                outside = sorted(set().union(*(set(t.tolist()) for _, t in left[k]))) if left[k] else []
                mine = [([], np.array(outside, dtype=np.int64))] if outside else []
                mine += [(f, t) for f, t in left[k] if f]
                exact_plan.append(mine)
            run_exact(exact_plan)
        for v, (lo_v, hi_v) in results_out.items():
            lower[cell_of[v]], upper[cell_of[v]] = lo_v, hi_v
        for v, found in results_in.items():
            lo_v, hi_v, a = min(found, key=lambda f: f[1] - f[0])
            cell = cell_of[v]
            ins_lower[cell], ins_upper[cell], ins_attacker[cell] = lo_v, hi_v, cell_of[a]
        summary["insider_targets"] = len(attackers)
        summary["certification_classes"] = max((len(x) for x in runs), default=0) if intervals == "verdict" else 0
        summary["exact_cells"] = len(results_out)
        summary["lp_by_phase"] = phases

    # back to the table's own unit, clean tiny LP noise, then judge
    values, lower, upper, ins_lower, ins_upper = (a * unit for a in (values, lower, upper, ins_lower, ins_upper))
    report_ids = np.flatnonzero(is_masked & in_scope & (component_of >= 0) if only_cells is not None
                                else is_masked & in_scope)
    lo = np.maximum(lower[report_ids], lb_all[report_ids])
    hi = upper[report_ids]
    v = values[report_ids]
    p = prot[report_ids] / 100
    tol = 1e-7 * np.maximum(np.abs(np.nan_to_num(v)), 1.0)
    req_lo = np.where(p > 0, v - p * np.abs(v), np.nan)
    req_hi = np.where(p > 0, v + p * np.abs(v), np.nan)
    width = hi - lo
    known = np.isfinite(v)
    out_short_hi = (p > 0) & known & (hi < req_hi - tol)
    out_short_lo = (p > 0) & known & (lo > req_lo + tol)
    # without the true value (or requirement), only an exact recovery is an exposure for a confidential cell
    pinned = ((p > 0) | ~known) & (width <= tol) & (kinds[report_ids] != "secondary")
    exposed_out = out_short_hi | out_short_lo | pinned
    ilo, ihi = ins_lower[report_ids], ins_upper[report_ids]
    has_ins = ins_attacker[report_ids] >= 0
    ins_short = has_ins & (p > 0) & known & ((ihi < req_hi - tol) | (ilo > req_lo + tol))
    exposed = exposed_out | ins_short
    why = np.full(len(report_ids), None, dtype=object)
    attacker = np.full(len(report_ids), None, dtype=object)
    for i in np.flatnonzero(exposed):
        if exposed_out[i]:
            attacker[i] = "outside"
            if width[i] <= tol[i]:
                why[i] = f"recovered exactly ({lo[i]:.6g})"
            elif out_short_hi[i]:
                why[i] = f"upper bound {hi[i]:.6g} < {req_hi[i]:.6g} required"
            else:
                why[i] = f"lower bound {lo[i]:.6g} > {req_lo[i]:.6g} required"
        else:
            attacker[i] = "insider: " + system.label([ins_attacker[report_ids[i]]])[0]
            why[i] = (f"insider interval [{ilo[i]:.6g}, {ihi[i]:.6g}] does not reach "
                      f"[{req_lo[i]:.6g}, {req_hi[i]:.6g}]")
    frame = cells.iloc[report_ids][list(system.dims)].reset_index(drop=True)
    frame.insert(0, "cell_id", report_ids)
    frame.insert(1, "label", system.label(report_ids))
    frame["kind"] = kinds[report_ids]
    frame["value"] = v
    frame["lower"] = lo
    frame["upper"] = hi
    frame["width"] = width
    frame["required_lower"] = req_lo
    frame["required_upper"] = req_hi
    frame["required_width"] = req_hi - req_lo
    frame["insider_lower"] = np.where(has_ins, ilo, np.nan)
    frame["insider_upper"] = np.where(has_ins, ihi, np.nan)
    frame["exposed"] = exposed
    frame["exposure"] = why
    frame["attacker"] = attacker
    frame["attacker_cell"] = np.where(exposed & ~exposed_out, ins_attacker[report_ids], -1)
    # certified: both sides reached by feasible points, no exact interval computed
    frame["certified"] = certified[report_ids] & np.isnan(lower[report_ids])
    frame["component"] = component_of[report_ids]
    summary.update({"exposed_cells": int(exposed.sum()), "lp_solves": solves, "intervals": intervals,
                    "seconds": round(time.perf_counter() - t0, 3)})
    return AuditReport(cells=frame, summary=summary)
