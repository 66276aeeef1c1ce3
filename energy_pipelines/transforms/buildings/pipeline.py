"""The whole UC4 flow on one estate, as one pure function (products and the benchmark call it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from energy_pipelines.transforms.buildings import allocation, anomalies, baseline, bills, calendar, curves
from energy_pipelines.transforms.buildings.params import Uc4Params

BASELINE_COLUMNS = ["building_id", "fluid", "unit", "reference_year", "model", "occupancy", "heating_base_c",
                    "cooling_base_c", "base_per_day", "heating_slope", "cooling_slope", "occupancy_slope", "n", "p",
                    "r2", "cvrmse_pct", "nmbe_pct", "passes_g14", "reason", "mean_y", "residual_std", "autocorrelation",
                    "test_months", "test_cvrmse_pct", "test_nmbe_pct"]


@dataclass
class EstateResult:
    lines: pd.DataFrame
    rejects: pd.DataFrame
    days: pd.DataFrame
    monthly_meter: pd.DataFrame
    monthly: pd.DataFrame
    context: pd.DataFrame
    baselines: pd.DataFrame
    models: dict = field(default_factory=dict)
    daily_load: pd.DataFrame | None = None
    reconciliation: pd.DataFrame | None = None
    anomalies: pd.DataFrame | None = None


def fit_baselines(monthly: pd.DataFrame, context: pd.DataFrame, params: Uc4Params) -> tuple[pd.DataFrame, dict]:
    ref = str(params.baseline.reference_year)
    rows, models = [], {}
    for (b, f), g in monthly.groupby(["building_id", "fluid"]):
        model = baseline.fit_monthly(g[g["month"].str.startswith(ref)], context, params.baseline)
        test = baseline.test_metrics(model, g[~g["month"].str.startswith(ref)], context, params.baseline.min_coverage)
        models[(b, f)] = model
        rows.append({"building_id": b, "fluid": f, "unit": g["unit"].iloc[0], "reference_year": int(ref),
                     **model.as_row(), **test})
    return pd.DataFrame(rows, columns=BASELINE_COLUMNS), models


def run_estate(bill_rows: pd.DataFrame, meters: pd.DataFrame, buildings: pd.DataFrame, school_calendar: pd.DataFrame,
               temperature: pd.DataFrame, as_of: date, params: Uc4Params = Uc4Params(),
               load_curves: pd.DataFrame | None = None, gas_days: pd.DataFrame | None = None) -> EstateResult:
    lines, rejects = bills.clean_bills(bill_rows, meters, params.bills)
    reg = bills.current_meters(meters)
    first = min(pd.to_datetime(lines["period_start"]).min().date(), date(params.baseline.reference_year, 1, 1))
    last = max(pd.to_datetime(lines["period_end"]).max().date(), as_of)
    ctx = calendar.day_context(school_calendar, temperature, first, last, params.calendar.academies,
                               params.calendar.region_code)
    days = allocation.allocate_to_days(lines, ctx)
    by_meter = allocation.monthly_by_meter(lines, ctx, days)
    monthly = allocation.monthly_by_building(by_meter, reg)
    base, models = fit_baselines(monthly, ctx, params)
    prices = anomalies.unit_price(reg)
    records = anomalies.billing_errors(lines)
    records += anomalies.estimate_corrections(lines, days, params.bills)
    records += anomalies.missing_bills(lines, days, reg, as_of, prices, params.bills)
    ref = f"{params.baseline.reference_year}-12"
    for (b, f), g in monthly.groupby(["building_id", "fluid"]):
        meter_ids = reg[(reg["building_id"] == b) & (reg["fluid"] == f)]["meter_id"]
        price = float(pd.Series([prices.get(m) for m in meter_ids]).dropna().mean()) if len(meter_ids) else None
        records += anomalies.cusum_drift(b, f, models[(b, f)], g, ctx, ref, price, params.detection,
                                         params.baseline.min_coverage)
    daily_load = reconciled = None
    if load_curves is not None and not load_curves.empty:
        daily_load = curves.daily_load(load_curves, tuple(params.detection.night_hours), tuple(params.detection.day_hours))
        buildings_of = dict(zip(reg["meter_id"], reg["building_id"], strict=True))
        records += anomalies.night_base_load(daily_load, ctx, buildings_of, prices, params.detection)
        records += anomalies.holiday_base_load(daily_load, ctx, buildings_of, prices, params.detection)
        reconciled = curves.reconcile_bills(lines, daily_load, params.bills.curve_gap_share,
                                            params.bills.curve_min_coverage)
        records += anomalies.curve_mismatches(reconciled, lines)
    records += anomalies.gas_summer(gas_days if gas_days is not None else pd.DataFrame(), lines, ctx, buildings, reg,
                                    prices, params.detection)
    return EstateResult(lines=lines, rejects=rejects, days=days, monthly_meter=by_meter, monthly=monthly, context=ctx,
                        baselines=base, models=models, daily_load=daily_load, reconciliation=reconciled,
                        anomalies=anomalies.to_frame(records))
