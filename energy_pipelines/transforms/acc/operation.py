"""The operation's allocation per participant and step (core_acc__allocation), shaped like Enedis's
per-participant ACC data: CONS / AUTOCONS / COMPLEMENT for consumers, PROD / AUTOPROD / SURPLUS
for producers, in whole Wh, with the key that produced them.

For each step of the window: the participants in the operation (register), the key in force
(core keys; none declared -> Enedis's default dynamic key), and every member's reading. A step is
allocated only when every member delivered its reading and the key covering it was accepted; any
other step is refused, with the reason (the missing PRMs, the refused key), as a reject row: no
reading is guessed and no step is allocated with a key the PMO did not declare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_pipelines.clock import Window, local_iso
from energy_pipelines.transforms.acc import allocation as al
from energy_pipelines.transforms.acc.curves import membership_mask, step_grid
from energy_pipelines.transforms.acc.invariants import invariant_violations
from energy_pipelines.transforms.acc.params import OperationParams
from energy_pipelines.transforms.acc.register import CONSUMER, PRODUCER, key_at, key_periods
from energy_pipelines.transforms.common import REJECT_COLUMNS
from energy_pipelines.transforms.result import Derived

ALLOCATION_COLUMNS = ["datetime_utc", "datetime_local", "step_minutes", "operation_id", "participant_id", "prm", "role",
                      "key_id", "key_type", "redistribution", "cons_wh", "autocons_wh", "complement_wh", "prod_wh",
                      "autoprod_wh", "surplus_wh"]
DEFAULT_KEY_ID = "defaut_enedis"


@dataclass
class Arrays:
    """The window as arrays: steps x consumers / producers, NaN where no reading was delivered."""

    steps: pd.DatetimeIndex
    consumers: pd.DataFrame  # rows of core participants, role consommateur
    producers: pd.DataFrame
    cons: np.ndarray  # [T, N] float (NaN = missing)
    prod: np.ndarray  # [T, M]
    cons_active: np.ndarray  # [T, N] bool
    prod_active: np.ndarray  # [T, M]


def _pivot(curves: pd.DataFrame, flow: str, units: pd.DataFrame, steps: pd.DatetimeIndex) -> np.ndarray:
    sub = curves[curves["flow"] == flow]
    out = np.full((len(steps), len(units)), np.nan)
    if sub.empty or not len(units):
        return out
    t = steps.get_indexer(pd.DatetimeIndex(pd.to_datetime(sub["datetime_utc"], utc=True)))
    k = pd.Index(units["prm"]).get_indexer(sub["prm"])
    keep = (t >= 0) & (k >= 0)
    out[t[keep], k[keep]] = sub["energy_wh"].to_numpy()[keep]
    return out


def arrays(curves: pd.DataFrame, participants: pd.DataFrame, steps: pd.DatetimeIndex) -> Arrays:
    consumers = participants[participants["role"] == CONSUMER].reset_index(drop=True)
    producers = participants[participants["role"] == PRODUCER].reset_index(drop=True)
    return Arrays(steps, consumers, producers, _pivot(curves, "CONS", consumers, steps),
                  _pivot(curves, "PROD", producers, steps), membership_mask(consumers, steps),
                  membership_mask(producers, steps))


def window_steps(curves: pd.DataFrame, window: Window | None, step: int) -> pd.DatetimeIndex:
    if window is not None and not window.is_all_time:
        return step_grid(window, step)
    if curves.empty:
        return pd.DatetimeIndex([], tz="UTC")
    t = pd.to_datetime(curves["datetime_utc"], utc=True)
    return pd.date_range(t.min(), t.max(), freq=f"{step}min")


def _key_for_segment(kind: str, rows: pd.DataFrame, seg_steps: pd.DatetimeIndex, a: Arrays,
                     redistribute: bool) -> tuple[al.Key | None, np.ndarray]:
    """The key over a segment of steps, and which of its steps it cannot serve (no coefficients)."""
    no_coef = np.zeros(len(seg_steps), dtype=bool)
    n, m = len(a.consumers), len(a.producers)
    cidx = pd.Index(a.consumers["prm"])
    if kind == al.KeyType.DYNAMIC_DEFAULT.value:
        return al.dynamic_default_key(), no_coef
    if kind == al.KeyType.STATIC.value:
        coef = np.zeros(n)
        k = cidx.get_indexer(rows["prm_soutirage"])
        if (k < 0).any():  # core keys only accept register PRMs; a stale key must not shift coefficients
            raise al.AllocationInputError("static key names a PRM that is not a consumer of the register")
        coef[k] = rows["coefficient"].to_numpy()
        return al.static_key(coef, redistribute), no_coef
    t = seg_steps.get_indexer(pd.DatetimeIndex(pd.to_datetime(rows["step_start_utc"], utc=True)))
    inside = t >= 0
    rows, t = rows[inside], t[inside]
    k = cidx.get_indexer(rows["prm_soutirage"])
    if kind == al.KeyType.DYNAMIC_SIMPLE.value:
        coef = np.zeros((len(seg_steps), n))
        coef[t, k] = rows["coefficient"].to_numpy()
        no_coef = coef.sum(axis=1) == 0
        coef[no_coef] = 1.0 / max(n, 1)  # placeholder, those steps are refused
        return al.dynamic_simple_key(coef, redistribute), no_coef
    p = pd.Index(a.producers["prm"]).get_indexer(rows["prm_injection"])
    coef = np.zeros((len(seg_steps), m, n))
    coef[t, p, k] = rows["coefficient"].to_numpy()
    no_coef = coef.sum(axis=(1, 2)) == 0
    return al.full_dynamic_key(coef, redistribute), no_coef


def allocate_operation(curves: pd.DataFrame, participants: pd.DataFrame, keys: pd.DataFrame,
                       params: OperationParams, window: Window | None = None) -> Derived:
    """core_acc__allocation: inputs core_acc__participant_curves (same window), core_acc__participants
    and core_acc__allocation_keys (all)."""
    steps = window_steps(curves, window, params.step_minutes)
    a = arrays(curves, participants, steps)
    periods = key_periods(keys)
    which = key_at(periods, steps)
    refusals: dict[int, str] = {}
    missing_c = np.isnan(a.cons) & a.cons_active
    missing_p = np.isnan(a.prod) & a.prod_active
    for t in np.flatnonzero(missing_c.any(axis=1) | missing_p.any(axis=1)):
        prms = [*a.consumers["prm"][missing_c[t]], *a.producers["prm"][missing_p[t]]]
        who = [*a.consumers["participant_id"][missing_c[t]], *a.producers["participant_id"][missing_p[t]]]
        refusals[t] = (f"no reading for {len(prms)} member PRM(s) at this step: "
                       + ", ".join(f"{p} ({w})" for p, w in zip(prms[:5], who[:5], strict=True))
                       + (" ..." if len(prms) > 5 else ""))
    for t in np.flatnonzero(which >= 0):
        if periods.loc[which[t], "status"] == "refusee" and t not in refusals:
            refusals[t] = f"key {periods.loc[which[t], 'key_id']} declared for this step was refused: " \
                          f"{periods.loc[which[t], 'status_reason']}"
    if not a.cons_active.any() and not a.prod_active.any():
        refusals.update({t: "no participant in the operation at this step" for t in range(len(steps))
                         if t not in refusals})
    cons = np.nan_to_num(a.cons).astype(np.int64)
    prod = np.nan_to_num(a.prod).astype(np.int64)
    autocons = np.zeros_like(cons)
    autoprod = np.zeros_like(prod)
    key_id = np.full(len(steps), DEFAULT_KEY_ID, dtype=object)
    key_type = np.full(len(steps), al.KeyType.DYNAMIC_DEFAULT.value, dtype=object)
    redistribution = np.zeros(len(steps), dtype=bool)
    for idx in np.unique(which):
        seg = np.flatnonzero(which == idx)
        if idx >= 0:
            period = periods.loc[idx]
            if period["status"] == "refusee":
                continue
            kind, kid, redistribute = period["key_type"], period["key_id"], bool(period["redistribution"])
            rows = keys[(keys["key_id"] == kid) & keys["coefficient"].notna()]
        else:
            kind, kid, redistribute, rows = al.KeyType.DYNAMIC_DEFAULT.value, DEFAULT_KEY_ID, False, keys.iloc[:0]
        key, no_coef = _key_for_segment(kind, rows, steps[seg], a, redistribute)
        for t in seg[no_coef]:
            refusals.setdefault(int(t), f"key {kid} ({kind}) gives no coefficient for this step")
        result = al.allocate(cons[seg], prod[seg], key, a.cons_active[seg], a.prod_active[seg])
        autocons[seg], autoprod[seg] = result.autocons, result.autoprod
        key_id[seg], key_type[seg], redistribution[seg] = kid, kind, redistribute
    allocated = np.ones(len(steps), dtype=bool)
    allocated[list(refusals)] = False
    frame = _frame(a, cons, prod, autocons, autoprod, allocated, key_id, key_type, redistribution, params)
    violations = invariant_violations(frame)
    rejects = pd.DataFrame({
        "partition_start_utc": pd.DatetimeIndex([steps[t] for t in sorted(refusals)], tz="UTC").floor("30min"),
        "source_file": None, "source_line": pd.array([None] * len(refusals), dtype="Int64"),
        "reason": [refusals[t] for t in sorted(refusals)],
        "record": [f'{{"step_start_utc": "{steps[t].isoformat()}"}}' for t in sorted(refusals)],
    }, columns=REJECT_COLUMNS)
    self_consumed = int(frame["autocons_wh"].sum()) if len(frame) else 0
    production = int(frame["prod_wh"].sum()) if len(frame) else 0
    consumption = int(frame["cons_wh"].sum()) if len(frame) else 0
    return Derived(frame, rejects=rejects, figures={
        "steps": int(len(steps)), "steps_allocated": int(allocated.sum()), "steps_refused": len(refusals),
        "invariant_violations": int(len(violations)),
        "self_consumed_kwh": self_consumed / 1000,
        "self_consumption_rate_pct": None if production == 0 else round(100 * self_consumed / production, 2),
        "self_production_rate_pct": None if consumption == 0 else round(100 * self_consumed / consumption, 2),
        "keys_used": sorted(set(key_id[allocated])),
    })


def _frame(a: Arrays, cons, prod, autocons, autoprod, allocated, key_id, key_type, redistribution,
           params: OperationParams) -> pd.DataFrame:
    parts = []
    for units, active, role, q in ((a.consumers, a.cons_active, CONSUMER, (cons, autocons)),
                                   (a.producers, a.prod_active, PRODUCER, (prod, autoprod))):
        t, k = np.nonzero(active & allocated[:, None])
        if not len(t):
            continue
        measured, auto = q[0][t, k], q[1][t, k]
        part = pd.DataFrame({
            "datetime_utc": a.steps[t], "operation_id": units["operation_id"].to_numpy()[k],
            "participant_id": units["participant_id"].to_numpy()[k], "prm": units["prm"].to_numpy()[k],
            "role": role, "key_id": key_id[t], "key_type": key_type[t], "redistribution": redistribution[t],
        })
        names = ("cons_wh", "autocons_wh", "complement_wh") if role == CONSUMER else ("prod_wh", "autoprod_wh",
                                                                                          "surplus_wh")
        part[names[0]] = pd.array(measured, dtype="Int64")
        part[names[1]] = pd.array(auto, dtype="Int64")
        part[names[2]] = pd.array(measured - auto, dtype="Int64")
        parts.append(part)
    if not parts:
        frame = pd.DataFrame(columns=ALLOCATION_COLUMNS)
        return frame
    frame = pd.concat(parts, ignore_index=True)
    for c in ("cons_wh", "autocons_wh", "complement_wh", "prod_wh", "autoprod_wh", "surplus_wh"):
        frame[c] = frame[c].astype("Int64") if c in frame else pd.array([None] * len(frame), dtype="Int64")
    frame["datetime_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True)
    frame["datetime_local"] = local_iso(frame["datetime_utc"])
    frame["step_minutes"] = params.step_minutes
    return frame.sort_values(["datetime_utc", "role", "prm"]).reset_index(drop=True)[ALLOCATION_COLUMNS]
