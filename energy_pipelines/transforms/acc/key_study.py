"""Comparing allocation keys on a period, an optimised static key, and two what-ifs (out_acc__key_comparison).

For each key: the self-consumption rate (sum AUTOPROD / sum PROD), the self-production rate
(sum AUTOCONS / sum CONS) and a fairness measure, the concentration Gini of self-consumption against
consumption: consumers ranked by their own self-production rate, the Lorenz curve of their share of
the self-consumed energy against their share of the consumption; 0 when every consumer receives
the same fraction of its consumption, towards 1 when a few take it all.

The optimised static key maximises the period's self-consumption of a static key without
redistribution, which is the linear programme (HiGHS, scipy.optimize.linprog)
    max sum_t,i x_t,i   s.t.  0 <= x_t,i <= CONS_t,i,  x_t,i <= s_i PROD_t,  sum_i s_i = 1,  s >= 0
(exact: a static key gives min(CONS, s_i PROD), and the maximum makes x reach that minimum), solved
in its compact form: z_i = sum_t x_t,i under the linear pieces of the concave f_i(s_i) =
sum_t min(CONS_t,i, s_i PROD_t) (one row per kink, 2N columns instead of N x steps), with an
optional fairness floor phi: each consumer receives at least phi times its share of the consumption
that falls in producing steps (what any key could serve it), applied to the self-consumed energy.
With the floor the programme may leave some x_t,i below min(CONS, s_i PROD); the key then gives at
least the LP's self-consumption (every x only grows to its minimum), and the comparison reports what
the key actually gives. Its coefficients are rounded to 1e-6 and evaluated with the same
integer allocation as every other key. No static key beats the dynamic default key, which reaches
sum_t min(PROD_t, sum_i CONS_t,i), the most any key can self-consume.

What-ifs, with the dynamic default key: a producer of N kWc added (the per-kWc profile of the
operation's pure producers), and a shared battery of N kWh (charged from the operation's surplus,
discharged into its deficit, power limit and round-trip efficiency as parameters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from energy_pipelines.clock import Window
from energy_pipelines.transforms.acc import allocation as al
from energy_pipelines.transforms.acc.operation import allocate_operation, arrays, window_steps
from energy_pipelines.transforms.acc.params import KeyStudyParams, OperationParams
from energy_pipelines.transforms.result import Derived

COMPARISON_COLUMNS = ["period_start_utc", "period_end_utc", "scenario", "key_label", "key_type", "redistribution",
                      "steps", "consumption_kwh", "production_kwh", "self_consumed_kwh", "self_consumption_rate_pct",
                      "self_production_rate_pct", "gini", "gain_vs_current_kwh", "gain_vs_current_points",
                      "coefficients"]


@dataclass
class Outcome:
    label: str
    key_type: str
    redistribution: bool
    allocation: al.Allocation
    scenario: str = "actuel"
    coefficients: dict[str, float] | None = None

    @property
    def self_consumed_wh(self) -> int:
        return int(self.allocation.autocons.sum())

    @property
    def consumption_wh(self) -> int:
        return int(self.allocation.consumption.sum())

    @property
    def production_wh(self) -> int:
        return int(self.allocation.production.sum())

    @property
    def gini(self) -> float | None:
        return concentration_gini(self.allocation.autocons.sum(axis=0), self.allocation.consumption.sum(axis=0))


def concentration_gini(autocons: np.ndarray, consumption: np.ndarray) -> float | None:
    """Gini of each consumer's share of self-consumption against its share of consumption."""
    a = np.asarray(autocons, dtype=float)
    c = np.asarray(consumption, dtype=float)
    keep = c > 0
    a, c = a[keep], c[keep]
    if a.sum() <= 0 or len(c) < 2:
        return None
    order = np.argsort(a / c, kind="stable")
    x = np.concatenate([[0.0], np.cumsum(c[order]) / c.sum()])
    y = np.concatenate([[0.0], np.cumsum(a[order]) / a.sum()])
    return float(1.0 - np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])))


@dataclass
class OptimisedKey:
    coefficients: np.ndarray  # fractions, sum 1
    lp_self_consumed_wh: float  # the LP optimum (before rounding the coefficients)
    status: str
    fairness_floor: float | None = None
    details: dict = field(default_factory=dict)


def _hypograph(c: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slopes, intercepts) of the pieces of f(s) = sum_t min(c_t, s p_t) on s in [0, 1].

    f is concave and piecewise linear, with a kink at each ratio c_t / p_t: after the kinks
    r_(1) <= ... <= r_(k) it equals sum_{j<=k} c_(j) + s * sum_{j>k} p_(j). The hypograph
    z <= f(s) is z <= intercept_k + slope_k s for every piece k.
    """
    keep = (p > 0) & (c > 0)
    c, p = c[keep], p[keep]
    order = np.argsort(c / p, kind="stable")
    c, p = c[order], p[order]
    ratio = c / p
    below = ratio < 1.0  # kinks beyond s = 1 never bind
    cum_c = np.concatenate([[0.0], np.cumsum(c[below])])
    slope = p.sum() - np.concatenate([[0.0], np.cumsum(p[below])])
    return slope, cum_c


def optimise_static_key(cons: np.ndarray, prod: np.ndarray, cons_active: np.ndarray | None = None,
                        prod_active: np.ndarray | None = None, fairness_floor: float | None = None) -> OptimisedKey:
    """The static coefficients maximising self-consumption over the period (see the module docstring).

    Solved as the equivalent compact LP: variables s_i and z_i (what consumer i self-consumes over
    the period), max sum z_i, z_i under each linear piece of f_i(s_i) = sum_t min(CONS_t,i, s_i PROD_t),
    sum s = 1. Same optimum as the per-step programme, with 2N columns instead of N x steps.
    """
    c = np.asarray(cons, dtype=float)
    if cons_active is not None:
        c = np.where(cons_active, c, 0.0)
    p = np.asarray(prod, dtype=float)
    if prod_active is not None:
        p = np.where(prod_active, p, 0.0)
    pool = p.sum(axis=1)
    n = c.shape[1]
    sunny = pool > 0
    if n == 0 or not (c[sunny] > 0).any():
        return OptimisedKey(np.full(n, 1.0 / max(n, 1)), 0.0, "nothing to optimise (no production or consumption)",
                            fairness_floor)
    # columns: s_0..s_{n-1}, z_0..z_{n-1};  rows: z_i - slope_k s_i <= intercept_k
    rows, cols, vals, rhs = [], [], [], []
    r = 0
    for i in range(n):
        slope, intercept = _hypograph(c[:, i], pool)
        k = len(slope)
        rows += [np.arange(r, r + k), np.arange(r, r + k)]
        cols += [np.full(k, n + i), np.full(k, i)]
        vals += [np.ones(k), -slope]
        rhs.append(intercept)
        r += k
    a_ub = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, 2 * n))
    b_ub = np.concatenate(rhs)
    if fairness_floor:
        # the share a consumer could be served: its consumption while the operation produces
        share = c[sunny].sum(axis=0) / c[sunny].sum()
        # phi share_i sum_j z_j - z_i <= 0, for every consumer with consumption in producing steps
        fair = np.zeros((n, 2 * n))
        fair[:, n:] = fairness_floor * share[:, None]
        fair[np.arange(n), n + np.arange(n)] -= 1.0
        fair = fair[share > 0]
        a_ub = sparse.vstack([a_ub, sparse.csr_matrix(fair)])
        b_ub = np.concatenate([b_ub, np.zeros(len(fair))])
    objective = np.concatenate([np.zeros(n), -np.ones(n)])
    a_eq = np.concatenate([np.ones(n), np.zeros(n)])[None, :]
    bounds = [(0.0, 1.0)] * n + [(0.0, None)] * n
    res = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0:
        raise al.AllocationInputError(f"static key optimisation failed: {res.message}")
    s = np.clip(res.x[:n], 0, None)
    s = np.round(s / s.sum(), 6)
    s[np.argmax(s)] += 1.0 - s.sum()  # coefficients to 1e-6, summing to 1
    return OptimisedKey(s, float(-res.fun), "optimal", fairness_floor,
                        {"variables": int(2 * n), "constraints": int(a_ub.shape[0] + 1)})


def evaluate(label: str, cons, prod, key: al.Key, cons_active=None, prod_active=None, scenario: str = "actuel",
             coefficients: dict[str, float] | None = None) -> Outcome:
    return Outcome(label, key.type.value, key.redistribute, al.allocate(cons, prod, key, cons_active, prod_active),
                   scenario, coefficients)


def prorata_coefficients(cons: np.ndarray, cons_active: np.ndarray | None = None) -> np.ndarray:
    c = np.asarray(cons, dtype=float) if cons_active is None else np.where(cons_active, cons, 0.0)
    total = c.sum(axis=0)
    return total / total.sum() if total.sum() > 0 else np.full(c.shape[1], 1.0 / c.shape[1])


def previous_week_coefficients(cons: np.ndarray, steps_per_day: int, cons_active: np.ndarray | None = None,
                               fallback: np.ndarray | None = None) -> np.ndarray:
    """A dynamic simple key a PMO can compute ex ante: each step pro rata of the consumption at the
    same step a week earlier (the fallback coefficients while there is no week of history)."""
    c = np.asarray(cons, dtype=float) if cons_active is None else np.where(cons_active, cons, 0.0)
    lag = 7 * steps_per_day
    out = np.empty_like(c)
    base = fallback if fallback is not None else prorata_coefficients(c)
    out[:lag] = base
    if len(c) > lag:
        prev = c[:-lag]
        if cons_active is not None:  # a consumer not in the operation now gets nothing
            prev = np.where(cons_active[lag:], prev, 0.0)
        tot = prev.sum(axis=1, keepdims=True)
        out[lag:] = np.where(tot > 0, prev / np.where(tot > 0, tot, 1), base)
    if cons_active is not None:
        out = np.where(cons_active, out, 0.0)
        tot = out.sum(axis=1, keepdims=True)
        out = np.where(tot > 0, out / np.where(tot > 0, tot, 1), 1.0 / c.shape[1])
    return out


def proximity_pair_coefficients(cons: np.ndarray, m: int, distances_m: np.ndarray | None = None,
                                cons_active: np.ndarray | None = None) -> np.ndarray:
    """A full dynamic key: producer p serves consumer i pro rata of CONS_t,i / (distance_p,i + 100 m)."""
    c = np.asarray(cons, dtype=float) if cons_active is None else np.where(cons_active, cons, 0.0)
    w = np.ones((m, c.shape[1])) if distances_m is None else 1.0 / (np.asarray(distances_m, dtype=float) + 100.0)
    pair = c[:, None, :] * w[None, :, :]
    tot = pair.sum(axis=2, keepdims=True)
    return np.where(tot > 0, pair / np.where(tot > 0, tot, 1), 0.0)


def battery_allocation(cons: np.ndarray, prod: np.ndarray, capacity_kwh: float, power_kw: float,
                       efficiency: float, step_minutes: int, cons_active=None, prod_active=None) -> al.Allocation:
    """A shared battery behind the operation, dynamic default key: it stores the surplus and gives it
    back when consumption exceeds production. Returns the operation's allocation with the battery
    counted as one more producer (its discharge)."""
    c = np.asarray(cons, dtype=np.int64) if cons_active is None else np.where(cons_active, cons, 0)
    p = np.asarray(prod, dtype=np.int64) if prod_active is None else np.where(prod_active, prod, 0)
    surplus = np.maximum(p.sum(axis=1) - c.sum(axis=1), 0)
    deficit = np.maximum(c.sum(axis=1) - p.sum(axis=1), 0)
    eta = np.sqrt(efficiency)
    cap_wh, step_wh = capacity_kwh * 1000.0, power_kw * 1000.0 * step_minutes / 60.0
    soc, out = 0.0, np.zeros(len(c), dtype=np.int64)
    charged = np.zeros(len(c), dtype=np.int64)
    for t in range(len(c)):
        if surplus[t] > 0:
            charge = min(float(surplus[t]), step_wh, (cap_wh - soc) / eta)
            charged[t] = int(charge)
            soc += charged[t] * eta
        elif deficit[t] > 0:
            give = int(min(float(deficit[t]), step_wh, soc * eta))
            out[t] = give
            soc -= give / eta
    # the battery's discharge is production of the operation; what it charged is taken from the surplus
    base = al.allocate(c, np.column_stack([p, out]), al.dynamic_default_key())
    return al.Allocation(base.consumption, np.column_stack([p, out]), base.autocons, base.autoprod, None)


def compare_keys(cons: np.ndarray, prod: np.ndarray, consumer_ids: list[str], cons_active=None, prod_active=None,
                 current: Outcome | None = None, params: KeyStudyParams | None = None, step_minutes: int = 30,
                 per_kwc_profile: np.ndarray | None = None, distances_m: np.ndarray | None = None) -> list[Outcome]:
    """Every key type on the same steps, the optimised static keys, and the what-ifs."""
    params = params or KeyStudyParams()
    cons = np.asarray(cons, dtype=np.int64)
    prod = np.asarray(prod, dtype=np.int64)
    m = prod.shape[1]
    prorata = prorata_coefficients(cons, cons_active)
    members = cons_active.any(axis=0) if cons_active is not None else np.ones(cons.shape[1], dtype=bool)
    equal = members / members.sum()
    named = lambda s: {i: round(float(v), 6) for i, v in zip(consumer_ids, s, strict=True)}  # noqa: E731
    out = [] if current is None else [current]
    ev = lambda label, key, coef=None: evaluate(label, cons, prod, key, cons_active, prod_active,  # noqa: E731
                                                coefficients=coef)
    out += [
        ev("statique_prorata", al.static_key(prorata), named(prorata)),
        ev("statique_prorata_redistribution", al.static_key(prorata, True), named(prorata)),
        ev("statique_parts_egales", al.static_key(equal), named(equal)),
        ev("dynamique_defaut", al.dynamic_default_key()),
        ev("dynamique_simple_semaine_precedente",
           al.dynamic_simple_key(previous_week_coefficients(cons, 1440 // step_minutes, cons_active, prorata))),
        ev("full_dynamique_proximite",
           al.full_dynamic_key(proximity_pair_coefficients(cons, m, distances_m, cons_active))),
    ]
    best = optimise_static_key(cons, prod, cons_active, prod_active)
    out.append(ev("statique_optimisee", al.static_key(best.coefficients), named(best.coefficients)))
    if params.fairness_floor:
        fair = optimise_static_key(cons, prod, cons_active, prod_active, params.fairness_floor)
        out.append(ev(f"statique_optimisee_equite_{params.fairness_floor:g}", al.static_key(fair.coefficients),
                      named(fair.coefficients)))
    if params.added_producer_kwc and per_kwc_profile is not None:
        extra = np.round(np.asarray(per_kwc_profile, dtype=float) * params.added_producer_kwc).astype(np.int64)
        more = np.column_stack([prod, extra])
        active = None if prod_active is None else np.column_stack([prod_active, np.ones(len(prod), dtype=bool)])
        o = evaluate("dynamique_defaut", cons, more, al.dynamic_default_key(), cons_active, active,
                     scenario=f"producteur_ajoute_{params.added_producer_kwc:g}_kwc")
        out.append(o)
    if params.battery_kwh:
        alloc = battery_allocation(cons, prod, params.battery_kwh, params.battery_power_kw,
                                   params.battery_round_trip_efficiency, step_minutes, cons_active, prod_active)
        out.append(Outcome("dynamique_defaut", al.KeyType.DYNAMIC_DEFAULT.value, False, alloc,
                           f"batterie_{params.battery_kwh:g}_kwh"))
    return out


def outcomes_frame(outcomes: list[Outcome], window: Window | None, steps: int) -> pd.DataFrame:
    current = next((o for o in outcomes if o.label == "actuelle"), None)
    rows = []
    for o in outcomes:
        sc, prod, cons = o.self_consumed_wh, o.production_wh, o.consumption_wh
        if o.scenario.startswith("batterie"):
            # the battery gives back what it stored: rates against the operation's own production
            prod = int(o.allocation.production[:, :-1].sum())
        rate_c = None if prod == 0 else 100 * sc / prod
        rows.append({
            "period_start_utc": window.start if window else None, "period_end_utc": window.end if window else None,
            "scenario": o.scenario, "key_label": o.label, "key_type": o.key_type, "redistribution": o.redistribution,
            "steps": steps, "consumption_kwh": cons / 1000, "production_kwh": prod / 1000,
            "self_consumed_kwh": sc / 1000,
            "self_consumption_rate_pct": None if rate_c is None else round(rate_c, 3),
            "self_production_rate_pct": None if cons == 0 else round(100 * sc / cons, 3),
            "gini": None if o.gini is None else round(o.gini, 4),
            "gain_vs_current_kwh": None if current is None else (sc - current.self_consumed_wh) / 1000,
            "gain_vs_current_points": None if current is None or cons == 0 else
            round(100 * (sc - current.self_consumed_wh) / cons, 3),
            "coefficients": None if o.coefficients is None else json.dumps(o.coefficients, sort_keys=True),
        })
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def key_comparison(curves: pd.DataFrame, participants: pd.DataFrame, keys: pd.DataFrame, params: KeyStudyParams,
                   window: Window | None = None) -> Derived:
    """out_acc__key_comparison: core_acc__participant_curves (the period), core_acc__participants and
    core_acc__allocation_keys (all). Only the steps the operation could allocate are compared."""
    step = int(curves["step_minutes"].iloc[0]) if len(curves) else 30
    op_params = OperationParams(step_minutes=step)
    actual = allocate_operation(curves, participants, keys, op_params, window)
    steps = window_steps(curves, window, step)
    a = arrays(curves, participants, steps)
    allocated = pd.DatetimeIndex(actual.data["datetime_utc"].unique()) if len(actual.data) else steps[:0]
    keep = steps.isin(allocated)
    if not keep.any() or not len(a.consumers):
        return Derived(pd.DataFrame(columns=COMPARISON_COLUMNS), figures={"steps": 0, "reason": "no allocable step"})
    cons = np.nan_to_num(a.cons[keep]).astype(np.int64)
    prod = np.nan_to_num(a.prod[keep]).astype(np.int64)
    ca, pa = a.cons_active[keep], a.prod_active[keep]
    frame = actual.data
    t_index = steps[keep]
    auto_c = np.zeros_like(cons)
    auto_p = np.zeros_like(prod)
    if len(frame):
        ti = t_index.get_indexer(pd.DatetimeIndex(frame["datetime_utc"]))
        ci = pd.Index(a.consumers["prm"]).get_indexer(frame["prm"])
        pi = pd.Index(a.producers["prm"]).get_indexer(frame["prm"])
        cm, pm = (ci >= 0) & (ti >= 0), (pi >= 0) & (ti >= 0)
        auto_c[ti[cm], ci[cm]] = frame["autocons_wh"].to_numpy()[cm]
        auto_p[ti[pm], pi[pm]] = frame["autoprod_wh"].to_numpy()[pm]
    current = Outcome("actuelle", "+".join(sorted(set(frame["key_type"]))) if len(frame) else "aucune", False,
                      al.Allocation(np.where(ca, cons, 0), np.where(pa, prod, 0), auto_c, auto_p))
    pure = (a.producers["participant_type"] == "producteur").to_numpy()
    kwc = a.producers["pv_peak_kwc"].to_numpy(dtype=float)
    use = pure if pure.any() else np.ones(len(kwc), dtype=bool)
    per_kwc = prod[:, use].sum(axis=1) / kwc[use].sum() if kwc[use].sum() > 0 else None
    outcomes = compare_keys(cons, prod, a.consumers["participant_id"].tolist(), ca, pa, current, params, step,
                            per_kwc, _distances(a.producers, a.consumers))
    if window is None or window.is_all_time:  # the period is what the data covers
        window = Window(t_index[0].to_pydatetime(), (t_index[-1] + pd.Timedelta(minutes=step)).to_pydatetime())
    frame = outcomes_frame(outcomes, window, int(keep.sum()))
    best = frame[frame["key_label"] == "statique_optimisee"]
    return Derived(frame, figures={
        "steps": int(keep.sum()), "steps_not_allocated": int((~keep).sum()),
        "optimised_static_gain_vs_current_kwh": None if best.empty else best["gain_vs_current_kwh"].iloc[0]})


def _distances(producers: pd.DataFrame, consumers: pd.DataFrame) -> np.ndarray | None:
    from energy_pipelines.transforms.acc.eligibility import haversine_m

    if producers[["latitude", "longitude"]].isna().any().any() or consumers[["latitude", "longitude"]].isna().any().any():
        return None
    return haversine_m(producers["latitude"].to_numpy()[:, None], producers["longitude"].to_numpy()[:, None],
                       consumers["latitude"].to_numpy()[None, :], consumers["longitude"].to_numpy()[None, :])
