"""The ACC identities, checked exactly, and the reconciliation with Enedis's own results.

`invariant_violations(allocation)` returns one row per broken identity (empty when all hold), for
a blocking asset check on core_acc__allocation. Rules, at every step and to the Wh:
- `prod_identity`      PROD = AUTOPROD + SURPLUS              (each producer)
- `cons_identity`      CONS = AUTOCONS + COMPLEMENT           (each consumer)
- `autocons_bounds`    0 <= AUTOCONS <= CONS                  (each consumer)
- `autoprod_bounds`    0 <= AUTOPROD <= PROD                  (each producer: SURPLUS >= 0)
- `balance`            sum AUTOCONS = sum AUTOPROD            (the operation)
- `whole_wh`           every quantity a whole number of Wh, present where the role needs it.

`reconcile(allocation, enedis)` compares, per participant, step and quantity, what the platform
computed with what Enedis sent (raw_acc__enedis_allocation) and lists what differs beyond the
tolerance or is missing on one side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import local_iso
from energy_pipelines.transforms.acc.params import OperationParams
from energy_pipelines.transforms.result import Derived

RULES = {
    "prod_identity": "PROD = AUTOPROD + SURPLUS",
    "cons_identity": "CONS = AUTOCONS + COMPLEMENT",
    "autocons_bounds": "0 <= AUTOCONS <= CONS",
    "autoprod_bounds": "0 <= AUTOPROD <= PROD",
    "balance": "sum of AUTOCONS = sum of AUTOPROD at each step",
    "whole_wh": "every quantity is a whole number of Wh, present where the role needs it",
}
VIOLATION_COLUMNS = ["datetime_utc", "prm", "rule", "detail", "expected_wh", "actual_wh"]
QUANTITIES = {"CONS": "cons_wh", "AUTOCONS": "autocons_wh", "COMPLEMENT": "complement_wh",
              "PROD": "prod_wh", "AUTOPROD": "autoprod_wh", "SURPLUS": "surplus_wh"}
RECONCILIATION_COLUMNS = ["datetime_utc", "datetime_local", "prm", "participant_id", "quantity", "platform_wh",
                          "enedis_wh", "difference_wh", "status"]
CONSUMER_Q = ("cons_wh", "autocons_wh", "complement_wh")
PRODUCER_Q = ("prod_wh", "autoprod_wh", "surplus_wh")


def _as_float(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy()


def invariant_violations(allocation: pd.DataFrame) -> pd.DataFrame:
    """Every broken identity of a per-participant allocation frame (see the module docstring)."""
    if allocation.empty:
        return pd.DataFrame(columns=VIOLATION_COLUMNS)
    f = allocation.reset_index(drop=True)
    q = {c: _as_float(f, c) for c in (*CONSUMER_Q, *PRODUCER_Q)}
    role = f["role"].to_numpy()
    is_c, is_p = role == "consommateur", role == "producteur"
    out = []

    def add(mask, rule, detail, expected, actual) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            out.append(pd.DataFrame({
                "datetime_utc": f.loc[mask, "datetime_utc"].to_numpy(), "prm": f.loc[mask, "prm"].to_numpy(),
                "rule": rule, "detail": detail, "expected_wh": np.asarray(expected, dtype=float)[mask],
                "actual_wh": np.asarray(actual, dtype=float)[mask]}))

    for names, rows in ((CONSUMER_Q, is_c), (PRODUCER_Q, is_p)):
        for name in names:
            v = q[name]
            add(rows & np.isnan(v), "whole_wh", f"{name} missing", np.zeros(len(f)), v)
            add(rows & ~np.isnan(v) & (v != np.round(v)), "whole_wh", f"{name} not a whole Wh", np.round(v), v)
    with np.errstate(invalid="ignore"):
        add(is_c & (q["cons_wh"] != q["autocons_wh"] + q["complement_wh"]), "cons_identity", RULES["cons_identity"],
            q["autocons_wh"] + q["complement_wh"], q["cons_wh"])
        add(is_c & (q["autocons_wh"] < 0), "autocons_bounds", "AUTOCONS < 0", np.zeros(len(f)), q["autocons_wh"])
        add(is_c & (q["autocons_wh"] > q["cons_wh"]), "autocons_bounds", "AUTOCONS > CONS", q["cons_wh"],
            q["autocons_wh"])
        add(is_p & (q["prod_wh"] != q["autoprod_wh"] + q["surplus_wh"]), "prod_identity", RULES["prod_identity"],
            q["autoprod_wh"] + q["surplus_wh"], q["prod_wh"])
        add(is_p & (q["autoprod_wh"] < 0), "autoprod_bounds", "AUTOPROD < 0", np.zeros(len(f)), q["autoprod_wh"])
        add(is_p & (q["autoprod_wh"] > q["prod_wh"]), "autoprod_bounds", "AUTOPROD > PROD (SURPLUS < 0)",
            q["prod_wh"], q["autoprod_wh"])
    per_step = pd.DataFrame({"t": f["datetime_utc"], "ac": np.where(is_c, np.nan_to_num(q["autocons_wh"]), 0),
                             "ap": np.where(is_p, np.nan_to_num(q["autoprod_wh"]), 0)}).groupby("t").sum()
    unbalanced = per_step[per_step["ac"] != per_step["ap"]]
    if len(unbalanced):
        out.append(pd.DataFrame({"datetime_utc": unbalanced.index, "prm": None, "rule": "balance",
                                 "detail": RULES["balance"], "expected_wh": unbalanced["ap"].to_numpy(),
                                 "actual_wh": unbalanced["ac"].to_numpy()}))
    if not out:
        return pd.DataFrame(columns=VIOLATION_COLUMNS)
    return pd.concat(out, ignore_index=True)[VIOLATION_COLUMNS]


def _long(allocation: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for quantity, column in QUANTITIES.items():
        if column not in allocation:
            continue
        sub = allocation[allocation[column].notna()]
        parts.append(pd.DataFrame({"datetime_utc": sub["datetime_utc"], "prm": sub["prm"], "quantity": quantity,
                                   "participant_id": sub["participant_id"],
                                   "platform_wh": sub[column].astype("int64").to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["datetime_utc", "prm", "quantity", "participant_id", "platform_wh"])


def reconcile(allocation: pd.DataFrame, enedis: pd.DataFrame, params: OperationParams) -> Derived:
    """core_acc__enedis_reconciliation: inputs core_acc__allocation and raw_acc__enedis_allocation (same window)."""
    ours = _long(allocation)
    theirs = pd.DataFrame({"datetime_utc": pd.to_datetime(enedis["datetime_utc"], utc=True), "prm": enedis["prm"],
                           "quantity": enedis["grandeur_metier"], "enedis_wh": enedis["energy_wh"].astype("int64")})
    theirs = theirs.drop_duplicates(["datetime_utc", "prm", "quantity"], keep="last")
    ours["datetime_utc"] = pd.to_datetime(ours["datetime_utc"], utc=True)
    both = ours.merge(theirs, on=["datetime_utc", "prm", "quantity"], how="outer", indicator=True)
    diff = both["platform_wh"] - both["enedis_wh"]
    both["difference_wh"] = diff.astype("Int64")
    status = np.select([both["_merge"] == "left_only", both["_merge"] == "right_only",
                        diff.abs() > params.reconciliation_tolerance_wh],
                       ["absent_chez_enedis", "absent_de_la_plateforme", "ecart"], "concordant")
    both["status"] = status
    rounding = int(((status == "concordant") & (diff.fillna(0) != 0)).sum())
    listed = both[both["status"] != "concordant"].copy()
    listed["datetime_local"] = local_iso(listed["datetime_utc"])
    for c in ("platform_wh", "enedis_wh"):
        listed[c] = listed[c].astype("Int64")
    listed = listed.sort_values(["datetime_utc", "prm", "quantity"]).reset_index(drop=True)
    ecarts = listed[listed["status"] == "ecart"]
    return Derived(listed[RECONCILIATION_COLUMNS], figures={
        "compared": int((both["_merge"] == "both").sum()),
        "within_tolerance_but_not_equal": rounding,
        "differences": int(len(ecarts)),
        "missing_at_enedis": int((status == "absent_chez_enedis").sum()),
        "missing_on_platform": int((status == "absent_de_la_plateforme").sum()),
        "max_abs_difference_wh": int(ecarts["difference_wh"].abs().max()) if len(ecarts) else 0,
        "steps_with_differences": int(ecarts["datetime_utc"].nunique()),
    })
