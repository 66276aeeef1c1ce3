"""Monthly statements per participant (closed) and the operation's open monthly rates.

Statements (out_acc__monthly_statements), per participant PRM and Paris month, from the allocation:
energies in kWh (sums of whole Wh), the participant's rate, and money at its tariff
(assets_config/uc5/tariffs.yaml): a consumer saves, on each self-consumed kWh, the supplier's
price of that hour (base, or peak/off-peak) minus the local price paid to the PMO; a producer earns
the local price on AUTOPROD and the surplus price on SURPLUS. Fail closed: a month with steps the
allocation refused keeps its energies over the allocated steps, says how many are missing, and has
no money figure (a bill on partial data would be wrong).

Open rates (out_acc__operation_rates), per Paris month: the operation's self-consumption rate
(sum AUTOPROD / sum PROD) and self-production rate (sum AUTOCONS / sum CONS), ratios of sums, and
nothing else. Why it is safe to open: it is an aggregate over the whole operation, published only
for a month with at least `open_min_consumers` consumers (10 by default: the D.111-53 threshold for
residential electricity aggregates) and `open_min_completeness` of its steps allocated; it carries
no energy volume, so no participant's consumption or a producer's output can be recovered, even by
differencing two months when someone enters or leaves (two rates of unknown denominators).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME, Period, Window, paris_periods
from energy_pipelines.transforms.acc.curves import membership_mask, step_grid
from energy_pipelines.transforms.acc.params import OperationParams, Tariff, TariffParams
from energy_pipelines.transforms.acc.register import CONSUMER, PRODUCER
from energy_pipelines.transforms.result import Derived

STATEMENT_COLUMNS = ["period_start_utc", "period_end_utc", "period_local", "operation_id", "participant_id", "prm",
                     "role", "tariff", "steps_expected", "steps_allocated", "complete", "cons_kwh", "autocons_kwh",
                     "complement_kwh", "prod_kwh", "autoprod_kwh", "surplus_kwh", "self_production_rate_pct",
                     "self_consumption_rate_pct", "savings_eur", "revenue_eur", "note"]
RATE_COLUMNS = ["period_start_utc", "period_end_utc", "period_local", "operation_id", "consumers", "producers",
                "steps_expected", "steps_allocated", "completeness_pct", "self_consumption_rate_pct",
                "self_production_rate_pct", "published", "mask_reason"]


def _months(allocation: pd.DataFrame, window: Window | None) -> list[Period]:
    if window is not None and not window.is_all_time:
        return paris_periods(window.start, window.end, "month", partial=True)
    if allocation.empty:
        return []
    t = pd.to_datetime(allocation["datetime_utc"], utc=True)
    return paris_periods(t.min().to_pydatetime(), (t.max() + pd.Timedelta(days=1)).to_pydatetime(), "month",
                         partial=True)


def _step_minutes(allocation: pd.DataFrame, default: int = 30) -> int:
    return int(allocation["step_minutes"].iloc[0]) if len(allocation) else default


def supplier_price(tariff: Tariff, times_utc: pd.Series) -> np.ndarray:
    """The supplier's price of each step (peak/off-peak by Paris local hour when the tariff has them)."""
    price = np.full(len(times_utc), tariff.supplier_price_eur_per_kwh)
    if tariff.off_peak is not None:
        hour = pd.to_datetime(times_utc, utc=True).dt.tz_convert(PARIS_NAME).dt.hour.to_numpy()
        lo, hi = tariff.off_peak.start_hour, tariff.off_peak.end_hour
        off = ((hour >= lo) | (hour < hi)) if lo > hi else ((hour >= lo) & (hour < hi))
        price[off] = tariff.off_peak.price_eur_per_kwh
    return price


def _rate(num: float, den: float) -> float | None:
    return None if den == 0 else round(100 * num / den, 2)


def monthly_statements(allocation: pd.DataFrame, participants: pd.DataFrame, params: TariffParams,
                       window: Window | None = None) -> Derived:
    """out_acc__monthly_statements: core_acc__allocation (the month), core_acc__participants (all)."""
    rows, unknown_tariffs = [], set()
    step = _step_minutes(allocation)
    alloc = allocation.copy()
    alloc["datetime_utc"] = pd.to_datetime(alloc["datetime_utc"], utc=True)
    for month in _months(alloc, window):
        steps = step_grid(month.window, step)
        expected = membership_mask(participants, steps).sum(axis=0)
        in_month = alloc[(alloc["datetime_utc"] >= month.start) & (alloc["datetime_utc"] < month.end)]
        groups = dict(tuple(in_month.groupby("prm")))
        for k, unit in enumerate(participants.itertuples(index=False)):
            if expected[k] == 0:
                continue
            sub = groups.get(unit.prm, in_month.iloc[:0])
            tariff_id = unit.tariff if unit.tariff in params.tariffs else params.default_tariff
            if unit.tariff is not None and unit.tariff not in params.tariffs:
                unknown_tariffs.add(unit.tariff)
            tariff = params.tariffs[tariff_id]
            wh = {c: int(pd.to_numeric(sub[c]).fillna(0).sum()) if c in sub else 0
                  for c in ("cons_wh", "autocons_wh", "complement_wh", "prod_wh", "autoprod_wh", "surplus_wh")}
            complete = len(sub) == expected[k]
            note = None if complete else f"{int(expected[k]) - len(sub)} of {int(expected[k])} steps not allocated: " \
                                         "energies cover the allocated steps only, no amount is computed"
            savings = revenue = None
            if complete and unit.role == CONSUMER:
                auto_kwh = pd.to_numeric(sub["autocons_wh"]).to_numpy(dtype=float) / 1000
                savings = round(float((auto_kwh * (supplier_price(tariff, sub["datetime_utc"])
                                                   - tariff.local_price_eur_per_kwh)).sum()), 2)
            if complete and unit.role == PRODUCER:
                revenue = round(wh["autoprod_wh"] / 1000 * tariff.local_price_eur_per_kwh
                                + wh["surplus_wh"] / 1000 * tariff.surplus_price_eur_per_kwh, 2)
            is_c = unit.role == CONSUMER
            rows.append({
                "period_start_utc": month.start, "period_end_utc": month.end, "period_local": month.label,
                "operation_id": unit.operation_id, "participant_id": unit.participant_id, "prm": unit.prm,
                "role": unit.role, "tariff": tariff_id, "steps_expected": int(expected[k]), "steps_allocated": len(sub),
                "complete": bool(complete),
                "cons_kwh": wh["cons_wh"] / 1000 if is_c else None,
                "autocons_kwh": wh["autocons_wh"] / 1000 if is_c else None,
                "complement_kwh": wh["complement_wh"] / 1000 if is_c else None,
                "prod_kwh": None if is_c else wh["prod_wh"] / 1000,
                "autoprod_kwh": None if is_c else wh["autoprod_wh"] / 1000,
                "surplus_kwh": None if is_c else wh["surplus_wh"] / 1000,
                "self_production_rate_pct": _rate(wh["autocons_wh"], wh["cons_wh"]) if is_c else None,
                "self_consumption_rate_pct": None if is_c else _rate(wh["autoprod_wh"], wh["prod_wh"]),
                "savings_eur": savings, "revenue_eur": revenue, "note": note,
            })
    out = pd.DataFrame(rows, columns=STATEMENT_COLUMNS)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return Derived(out, figures={
        "statements": int(len(out)), "incomplete": int((~out["complete"]).sum()) if len(out) else 0,
        "tariffs_not_in_params_used_default": sorted(unknown_tariffs),
        "savings_eur_total": None if out["savings_eur"].isna().all() else round(float(out["savings_eur"].sum()), 2)})


def operation_rates(allocation: pd.DataFrame, participants: pd.DataFrame, params: OperationParams,
                    window: Window | None = None) -> Derived:
    """out_acc__operation_rates (open): core_acc__allocation (the month), core_acc__participants (all)."""
    rows = []
    step = _step_minutes(allocation, params.step_minutes)
    alloc = allocation.copy()
    alloc["datetime_utc"] = pd.to_datetime(alloc["datetime_utc"], utc=True)
    operation = participants["operation_id"].iloc[0] if len(participants) else None
    for month in _months(alloc, window):
        steps = step_grid(month.window, step)
        member = membership_mask(participants, steps)
        consumers = int(member[:, (participants["role"] == CONSUMER).to_numpy()].any(axis=0).sum())
        producers = int(member[:, (participants["role"] == PRODUCER).to_numpy()].any(axis=0).sum())
        expected = int(member.any(axis=1).sum())
        sub = alloc[(alloc["datetime_utc"] >= month.start) & (alloc["datetime_utc"] < month.end)]
        allocated = int(sub["datetime_utc"].nunique())
        completeness = allocated / expected if expected else 0.0
        sums = {c: int(pd.to_numeric(sub[c]).fillna(0).sum()) for c in ("cons_wh", "autocons_wh", "prod_wh",
                                                                          "autoprod_wh")}
        reasons = []
        if consumers < params.open_min_consumers:
            reasons.append(f"{consumers} consumers, fewer than {params.open_min_consumers}: secret (D.111-53)")
        if completeness < params.open_min_completeness:
            reasons.append(f"only {100 * completeness:.1f} % of the month's steps allocated "
                           f"(at least {100 * params.open_min_completeness:.0f} % required)")
        published = not reasons
        rows.append({
            "period_start_utc": month.start, "period_end_utc": month.end, "period_local": month.label,
            "operation_id": operation, "consumers": consumers, "producers": producers, "steps_expected": expected,
            "steps_allocated": allocated, "completeness_pct": round(100 * completeness, 2),
            "self_consumption_rate_pct": _rate(sums["autoprod_wh"], sums["prod_wh"]) if published else None,
            "self_production_rate_pct": _rate(sums["autocons_wh"], sums["cons_wh"]) if published else None,
            "published": published, "mask_reason": "; ".join(reasons) or None,
        })
    out = pd.DataFrame(rows, columns=RATE_COLUMNS)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return Derived(out, figures={"months": int(len(out)), "masked": int((~out["published"]).sum()) if len(out) else 0})
