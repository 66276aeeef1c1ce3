"""UC3 secrecy on hand-made cases: the issue's leak, masks shared by every product, derived figures."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.secrecy import audit_products
from energy_pipelines.secrecy import uc3 as s3
from energy_pipelines.transforms import territorial_forecast as tf
from energy_pipelines.transforms.balance import PvScenario

SETTINGS = s3.default_settings()
T0 = pd.Timestamp("2025-06-01 10:00", tz="UTC")
HALF = pd.Timedelta(minutes=30)


def _energy(lines, territory="t1"):
    """lines: {(time, flow): [(category, kWh, points, largest kWh[, capacity kW]), ...]} -> territorial energy
    with the total rows territorial_energy() adds (sum, sum of points, max of largest)."""
    rows = []
    for (time, flow), cells in lines.items():
        for cat, kwh, n, largest, *cap in cells:
            rows.append((territory, time, flow, cat, kwh, n, largest, cap[0] if cap else np.nan))
        rows.append((territory, time, flow, "total", sum(c[1] for c in cells), sum(c[2] for c in cells),
                     max(c[3] for c in cells), np.nan))
    frame = pd.DataFrame(rows, columns=["territory_id", "datetime_utc", "flow", "category", "energy_kwh", "n_points",
                                        "largest_point_kwh", "capacity_kw"])
    frame["communes_reporting"] = 4
    frame["communes_expected"] = 4
    return frame


CONSUMPTION = [("residential", 500.0, 400, 3.0), ("professional", 100.0, 40, 10.0), ("business", 400.0, 12, 90.0)]


def _one_half_hour(hydro_points, hydro_largest):
    return _energy({(T0, "consumption"): CONSUMPTION,
                    (T0, "production"): [("solar", 300.0, 150, 40.0, 1000.0), ("wind", 60.0, 4, 30.0),
                                         ("hydro", 90.0, hydro_points, hydro_largest)]})


def test_published_balance_masks_cells_and_keeps_what_totals_allow():
    out = s3.published_balance(_one_half_hour(hydro_points=1, hydro_largest=90.0)).iloc[0]
    assert np.isnan(out["production_hydro_kwh"])
    # the partner: the smallest filière that hides 10 % of the hydro cell (solar costs more: it feeds the what-if)
    assert np.isnan(out["production_wind_kwh"])
    assert out["production_solar_kwh"] == 300.0 and out["production_bioenergy_kwh"] == 0.0
    assert out["production_kwh"] == 450.0 and out["consumption_kwh"] == 1000.0
    assert out["self_consumed_kwh"] == 450.0
    assert out["self_production_rate_pct"] == pytest.approx(45.0)
    assert out["masked_cells"] == 2
    assert "production_hydro_kwh: primary: 1 contributor(s) < 3 (other_aggregates)" in out["secrecy_notes"]
    assert "production_wind_kwh: secondary: protects territory_id=t1, resolution=halfhour, " \
           "period_start_utc=2025-06-01T10:00Z, flow=production, category=hydro" in out["secrecy_notes"]
    clear = s3.published_balance(_one_half_hour(hydro_points=6, hydro_largest=20.0)).iloc[0]
    assert clear["masked_cells"] == 0 and clear["production_hydro_kwh"] == 90.0
    assert pd.isna(clear["secrecy_notes"])


def _issue_case():
    """Issue 9.1: hour 10:00-11:00 UTC; the first half-hour's production is 10 kWh, 9 of them from one
    hydro plant (90 % > 85 %: the total is masked); the second half-hour produces 100 kWh."""
    return _energy({
        (T0, "consumption"): CONSUMPTION,
        (T0, "production"): [("hydro", 9.0, 1, 9.0), ("solar", 1.0, 50, 0.1, 1000.0)],
        (T0 + HALF, "consumption"): CONSUMPTION,
        (T0 + HALF, "production"): [("hydro", 8.0, 1, 8.0), ("solar", 47.0, 50, 1.5, 1000.0),
                                    ("bioenergy", 45.0, 5, 12.0)],
    })


def _products(energy, settings):
    return {"out_uc3__territorial_balance": s3.published_balance(energy, settings),
            "out_uc3__rates_hourly": s3.published_rates(energy, "hour", settings),
            "out_uc3__rates_daily": s3.published_rates(energy, "day", settings)}


def test_the_issue_leak_hour_minus_other_half_hour_is_closed():
    energy = _issue_case()
    old = replace(SETTINGS, close_upward=False)  # each product masks its own cells, as before issue 9.1
    products = _products(energy, old)
    balance = products["out_uc3__territorial_balance"].set_index("datetime_utc")
    hourly = products["out_uc3__rates_hourly"].iloc[0]
    assert np.isnan(balance.loc[T0, "production_kwh"]) and hourly["production_kwh"] == 110.0
    assert balance.loc[T0 + HALF, "production_kwh"] == 100.0
    truth = s3.system_cells(energy, old)
    found = audit_products(products, truth=truth)
    exposed = found.exposed.set_index("label")
    first_total = "territory_id=t1, resolution=halfhour, period_start_utc=2025-06-01T10:00Z, flow=production, " \
                  "category=total"
    assert exposed.loc[first_total, "exposure"] == "recovered exactly (10)"  # 110 - 100
    assert not found.passed

    products = _products(energy, SETTINGS)
    hourly = products["out_uc3__rates_hourly"].iloc[0]
    assert np.isnan(hourly["production_kwh"]) and np.isnan(hourly["self_production_rate_pct"])
    assert hourly["consumption_kwh"] == 2000.0
    assert hourly["mask_reason"] == f"production_kwh: secondary: protects {first_total} (a masked half-hour " \
                                    "inside the period)"
    daily = products["out_uc3__rates_daily"].iloc[0]
    assert np.isnan(daily["production_kwh"]) and daily["masked"]
    result = audit_products(products, truth=s3.system_cells(energy, SETTINGS))
    assert result.passed, result.exposed
    cell = result.reports["uc3"].cells.set_index("label").loc[first_total]
    assert cell["lower"] == pytest.approx(1.0) and np.isinf(cell["upper"])  # solar's 1 kWh is published
    hydro = result.reports["uc3"].cells.set_index("label").loc[first_total.replace("total", "hydro")]
    assert hydro["lower"] == pytest.approx(0.0) and np.isinf(hydro["upper"])


def test_a_masked_total_masks_every_figure_derived_from_it():
    energy = _issue_case()
    balance = s3.published_balance(energy).set_index("datetime_utc").loc[T0]
    for column in s3.DERIVED_COLUMNS:
        assert np.isnan(balance[column]), column
    assert balance["consumption_kwh"] == 1000.0
    assert "derived from masked production_kwh" in balance["secrecy_notes"]
    assert balance["masked_cells"] == 2 + len(s3.DERIVED_COLUMNS)  # hydro, total + derived
    assert balance["production_solar_kwh"] == 1.0


def test_a_derived_figure_published_with_a_masked_input_is_a_violation():
    energy = _issue_case()
    products = _products(energy, SETTINGS)
    hourly = products["out_uc3__rates_hourly"]
    leaky = hourly.assign(self_production_rate_pct=50.0)  # published although production is masked
    result = audit_products({**products, "out_uc3__rates_hourly": leaky}, truth=s3.system_cells(energy))
    assert not result.passed
    assert result.violations["problem"].eq("published although an input is masked").all()
    assert set(result.violations["column"]) == {"self_production_rate_pct"}


def test_a_cell_masked_in_one_product_and_published_in_another_is_found():
    energy = _issue_case()
    products = _products(energy, SETTINGS)
    daily = products["out_uc3__rates_daily"]
    products["out_uc3__rates_daily"] = daily.assign(production_kwh=110.0)
    hourly = products["out_uc3__rates_hourly"]
    products["out_uc3__rates_hourly"] = pd.concat([hourly, hourly.assign(
        period_start_utc=hourly["period_start_utc"] + pd.Timedelta(hours=1), production_kwh=7.0)])
    result = audit_products(products, truth=s3.system_cells(energy))
    assert not result.passed


def test_what_if_scenarios_reveal_the_solar_filiere_and_are_masked_with_it():
    # one solar plant, large (2 contributors): the solar cell is masked; the baseline is not
    energy = _energy({(T0, "consumption"): CONSUMPTION,
                      (T0, "production"): [("solar", 300.0, 2, 290.0, 1000.0), ("wind", 60.0, 4, 20.0),
                                           ("bioenergy", 90.0, 6, 20.0)]})
    scenarios = [PvScenario(id="plus_1_mwp", added_mwp=1.0)]
    out = s3.published_what_if(energy, scenarios).set_index("scenario_id")
    assert out.loc["baseline", "production_kwh"] == 450.0
    assert np.isnan(out.loc["baseline", "installed_pv_kwp"]) and out.loc["baseline", "masked"]
    assert out.loc["baseline", "mask_reason"].startswith("installed_pv_kwp, added_pv_kwp: the solar filière is masked")
    assert np.isnan(out.loc["plus_1_mwp", "production_kwh"]) and out.loc["plus_1_mwp", "masked"]
    assert np.isnan(out.loc["plus_1_mwp", "self_production_rate_pct"])
    assert out.loc["plus_1_mwp", "consumption_kwh"] == 1000.0
    assert "the solar filière is masked (primary: 2 contributor(s) < 3" in out.loc["plus_1_mwp", "mask_reason"]
    products = {"out_uc3__territorial_balance": s3.published_balance(energy),
                "out_uc3__pv_what_if": out.reset_index()}
    assert audit_products(products, truth=s3.system_cells(energy)).passed
    # published anyway, the audit sees the closure broken
    leaky = out.reset_index().assign(production_kwh=500.0)
    result = audit_products({**products, "out_uc3__pv_what_if": leaky}, truth=s3.system_cells(energy))
    assert "production_kwh" in set(result.violations["column"])


def test_forecasts_are_masked_with_their_training_window():
    energy = _issue_case()
    masks = s3.forecast_masks(energy, T0 - pd.Timedelta(days=56), T0 + pd.Timedelta(hours=1))
    assert masks.set_index("flow")["masked"].to_dict() == {"consumption": False, "production": True}
    targets = pd.date_range(T0 + pd.Timedelta(hours=1), periods=3, freq="h")
    frame = pd.concat([pd.DataFrame({"variable": v, "target_utc": targets, "yhat": 1.0, "yhat_lower": 0.5,
                                     "yhat_upper": 2.0}) for v in tf.VARIABLES], ignore_index=True)
    out = tf.mask_forecast(frame, masks, "t1").groupby("variable")
    assert out["masked"].all().to_dict() == {"consumption_kwh": False, "production_kwh": True,
                                             "self_production_rate_pct": True}
    assert out["yhat"].apply(lambda s: s.isna().all()).to_dict()["self_production_rate_pct"]
    # a window that no longer holds the masked half-hour leaves the forecasts published
    later = s3.forecast_masks(energy, T0 + HALF, T0 + pd.Timedelta(hours=1))
    assert not later["masked"].any()
    # no decision for a territory (no history): masked, never published by default
    assert tf.mask_forecast(frame, masks, "elsewhere")["masked"].all()


def test_issue_ids_differ_between_runs_of_the_same_day():
    issued = pd.Timestamp("2025-10-27 23:00", tz="UTC")
    first, second = tf.issue_id(issued, "1a2b3c4d-run"), tf.issue_id(issued, "9f8e7d6c-run")
    assert first == "2025-10-27T23:00Z/1a2b3c4d" and first != second
