"""UC4 baselines: the change-point search finds what the data holds; Guideline 14 judges the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.transforms.buildings import baseline
from energy_pipelines.transforms.buildings.params import BaselineParams


def _context(seed=0):
    days = pd.date_range("2023-01-01", "2024-12-31")
    rng = np.random.default_rng(seed)
    t = 15 - 8 * np.cos(2 * np.pi * (days.dayofyear - 20) / 365.25) + rng.normal(0, 2.5, len(days))
    school = (days.dayofweek < 5) & ~days.month.isin([7, 8])
    return pd.DataFrame({"day": days.date, "tmean_c": t, "school_day": school})


def _months(ctx, base=100.0, slope=40.0, balance=16.0, occ=300.0, noise=0.0, seed=1):
    d = ctx.assign(month=pd.to_datetime(ctx["day"]).dt.strftime("%Y-%m"))
    use = base + slope * np.clip(balance - d["tmean_c"], 0, None) + occ * d["school_day"]
    m = use.groupby(d["month"]).sum().rename("quantity").reset_index()
    m["quantity"] *= 1 + np.random.default_rng(seed).normal(0, noise, len(m))
    m["coverage"] = 1.0
    return m


def test_heating_change_point_and_occupancy_are_recovered():
    ctx = _context()
    months = _months(ctx, noise=0.01)
    model = baseline.fit_monthly(months[months["month"].str.startswith("2023")], ctx)
    assert model.model == "3PH+occupancy"
    assert model.heating_base_c == pytest.approx(16.0, abs=1.0)
    assert model.heating_slope == pytest.approx(40.0, rel=0.15)
    assert model.occupancy_slope == pytest.approx(300.0, rel=0.15)
    assert model.passes_g14 and model.cvrmse_pct < 3 and abs(model.nmbe_pct) < 1
    test = baseline.test_metrics(model, months[months["month"].str.startswith("2024")], ctx)
    assert test["test_months"] == 12 and test["test_cvrmse_pct"] < 5


def test_a_model_failing_guideline_14_is_flagged_with_its_reason():
    ctx = _context()
    months = _months(ctx, noise=0.30, seed=4)
    model = baseline.fit_monthly(months[months["month"].str.startswith("2023")], ctx)
    assert not model.passes_g14
    assert "CV(RMSE)" in model.reason or "no change-point model" in model.reason


def test_too_few_complete_months_give_no_model_and_say_why():
    ctx = _context()
    months = _months(ctx)
    months.loc[months.index[:5], "coverage"] = 0.5
    model = baseline.fit_monthly(months[months["month"].str.startswith("2023")], ctx, BaselineParams())
    assert model.model is None and not model.passes_g14 and "complete month" in model.reason
    assert np.isnan(baseline.predict(model, months["month"], ctx)).all()


def test_g14_uses_n_minus_p_and_savings_uncertainty_grows_with_cv():
    y = np.array([100.0, 110, 90, 105, 95, 100])
    cv, nmbe = baseline.g14(y, np.full(6, 100.0), p=2)
    assert cv == pytest.approx(100 * np.sqrt((0 + 100 + 100 + 25 + 25 + 0) / 4) / 100)
    assert nmbe == pytest.approx(100 * 0 / (4 * 100))
    a = baseline.Baseline(model="3PH", n=12, p=3, cvrmse_pct=5.0, autocorrelation=0.0)
    b = baseline.Baseline(model="3PH", n=12, p=3, cvrmse_pct=10.0, autocorrelation=0.0)
    ua, ub = (baseline.savings_uncertainty(x, 120_000, 12) for x in (a, b))
    assert 0 < ua < ub and ub == pytest.approx(2 * ua)
    assert baseline.savings_uncertainty(baseline.Baseline(model=None), 1, 12) is None
