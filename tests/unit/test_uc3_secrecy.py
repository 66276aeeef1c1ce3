"""Statistical secrecy: thresholds, primary reasons, secondary suppression that leaves nothing to subtract."""

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.transforms.balance import published_balance, totals_secrecy
from energy_pipelines.transforms.secrecy import Line, SecrecyRules, apply_secrecy, recoverable_cells

RULES = SecrecyRules()


def _cells(rows):
    return pd.DataFrame(rows, columns=["line", "category", "value", "n_contributors", "largest_contributor"])


def test_thresholds_come_from_the_catalogue():
    rules = SecrecyRules.from_yaml(CATALOG_DIR / "uc3" / "secrecy.yaml")
    assert (rules.residential_min_points, rules.other_min_contributors, rules.other_max_share) == (10, 3, 0.85)
    assert "residential" in rules.residential_categories


def test_unknown_setting_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("residential_min_point: 10\n")
    with pytest.raises(ValueError, match="residential_min_point"):
        SecrecyRules.from_yaml(path)


def test_primary_rules_at_their_boundaries():
    cells = _cells([
        ("a", "residential", 100.0, 9, 20.0),
        ("b", "residential", 100.0, 10, 90.0),  # dominance does not apply to the residential rule
        ("c", "business", 100.0, 2, 50.0),
        ("d", "business", 100.0, 3, 86.0),
        ("e", "business", 100.0, 3, 85.0),
        ("f", "solar", 0.0, 0, 0.0),  # empty cell: nothing to protect
        ("g", "hydro", 100.0, 5, None),  # dominance unknown
    ])
    out = apply_secrecy(cells, RULES).set_index("line")
    assert out["masked"].to_dict() == {"a": True, "b": False, "c": True, "d": True, "e": False, "f": False,
                                       "g": True}
    assert out.loc["a", "mask_reason"] == "primary: 9 delivery point(s) < 10 (residential rule)"
    assert out.loc["c", "mask_reason"] == "primary: 2 contributor(s) < 3"
    assert out.loc["d", "mask_reason"] == "primary: largest contributor 86% of the cell > 85%"
    assert "unknown" in out.loc["g", "mask_reason"]
    looser = SecrecyRules(residential_min_points=5, other_min_contributors=2, other_max_share=0.9,
                          mask_unknown_dominance=False)
    assert not apply_secrecy(cells, looser)["masked"].any()


def test_secondary_suppression_masks_the_smallest_other_cell_and_says_which_it_protects():
    line = Line(keys=("line",), total_column="category")
    cells = _cells([
        ("x", "solar", 50.0, 100, 2.0),
        ("x", "hydro", 20.0, 1, 20.0),
        ("x", "wind", 30.0, 5, 9.0),
        ("x", "bioenergy", 0.0, 0, 0.0),
        ("x", "total", 100.0, 106, 20.0),
    ])
    out = apply_secrecy(cells, RULES, lines=[line]).set_index("category")
    assert out["masked"].to_dict() == {"solar": False, "hydro": True, "wind": True, "bioenergy": False,
                                       "total": False}
    assert out.loc["hydro", "mask_kind"] == "primary"
    assert out.loc["wind", "mask_kind"] == "secondary"
    assert out.loc["wind", "mask_reason"] == "secondary: protects category=hydro in line line=x"
    assert recoverable_cells(out.reset_index(), [line]).empty
    # without the secondary pass, hydro = total - solar - wind - bioenergy
    primary_only = apply_secrecy(cells, RULES)
    assert len(recoverable_cells(primary_only, [line])) == 1


def test_a_zero_cell_is_not_chosen_to_hide_a_secret_when_a_non_zero_one_exists():
    """PV at night is 0 with thousands of points: masking it hides nothing, anyone knows it."""
    line = Line(keys=("line",), total_column="category")
    cells = _cells([
        ("x", "solar", 0.0, 900, 0.0),
        ("x", "hydro", 20.0, 1, 20.0),
        ("x", "bioenergy", 35.0, 4, 10.0),
        ("x", "total", 55.0, 905, 20.0),
    ])
    out = apply_secrecy(cells, RULES, lines=[line]).set_index("category")
    assert out["masked"].to_dict() == {"solar": False, "hydro": True, "bioenergy": True, "total": False}


def test_the_total_is_masked_when_no_other_cell_can_hide_the_secret():
    line = Line(keys=("line",), total_column="category")
    cells = _cells([
        ("x", "hydro", 20.0, 1, 20.0),
        ("x", "wind", 0.0, 0, 0.0),
        ("x", "total", 20.0, 1, 20.0),
    ])
    out = apply_secrecy(cells, RULES, lines=[line]).set_index("category")
    assert out.loc["total", "masked"] and out.loc["total", "mask_kind"] == "primary"
    assert not out.loc["wind", "masked"]


def test_two_way_table_communes_by_sector_settles_with_nothing_recoverable():
    """UC1 shape: communes x sectors, commune totals and EPCI totals per sector."""
    rng = np.random.default_rng(7)
    communes = [f"0400{i}" for i in range(1, 7)] + ["all"]
    sectors = ["residential", "business", "agriculture", "total"]
    rows = []
    for c in communes[:-1]:
        for s in sectors[:-1]:
            n = int(rng.choice([0, 1, 2, 5, 40]))
            value = float(n * rng.uniform(1, 10))
            rows.append((c, s, value, n, value / max(n, 1)))
    frame = pd.DataFrame(rows, columns=["commune", "category", "value", "n_contributors", "largest_contributor"])
    commune_totals = frame.groupby("commune").agg(value=("value", "sum"), n_contributors=("n_contributors", "sum"),
                                                  largest_contributor=("largest_contributor", "max")).reset_index()
    commune_totals["category"] = "total"
    sector_totals = frame.groupby("category").agg(value=("value", "sum"), n_contributors=("n_contributors", "sum"),
                                                  largest_contributor=("largest_contributor", "max")).reset_index()
    sector_totals["commune"] = "all"
    grand = pd.DataFrame([{"commune": "all", "category": "total", "value": frame["value"].sum(),
                           "n_contributors": frame["n_contributors"].sum(),
                           "largest_contributor": frame["largest_contributor"].max()}])
    cells = pd.concat([frame, commune_totals, sector_totals, grand], ignore_index=True)
    lines = [Line(keys=("commune",), total_column="category"),
             Line(keys=("category",), total_column="commune", total_value="all")]
    out = apply_secrecy(cells, RULES, lines=lines)
    assert (out["mask_kind"] == "primary").any()
    assert (out["mask_kind"] == "secondary").any()
    assert recoverable_cells(out, lines).empty
    assert out.loc[out["masked"], "mask_reason"].notna().all()


def _energy(hydro_points, hydro_largest):
    t = pd.Timestamp("2025-06-01 10:00", tz="UTC")
    rows = [
        ("consumption", "residential", 500.0, 400, 3.0), ("consumption", "professional", 100.0, 40, 10.0),
        ("consumption", "business", 400.0, 12, 90.0), ("consumption", "total", 1000.0, 452, 90.0),
        ("production", "solar", 300.0, 150, 40.0), ("production", "wind", 60.0, 4, 30.0),
        ("production", "hydro", 90.0, hydro_points, hydro_largest),
        ("production", "total", 450.0, 154 + hydro_points, 90.0),
    ]
    frame = pd.DataFrame(rows, columns=["flow", "category", "energy_kwh", "n_points", "largest_point_kwh"])
    frame.insert(0, "datetime_utc", t)
    frame.insert(0, "territory_id", "t1")
    frame["capacity_kw"] = np.where(frame["category"] == "solar", 1000.0, np.nan)
    frame["communes_reporting"] = 4
    frame["communes_expected"] = 4
    return frame


def test_published_balance_masks_cells_and_keeps_what_totals_allow():
    out = published_balance(_energy(hydro_points=1, hydro_largest=90.0), RULES).iloc[0]
    assert np.isnan(out["production_hydro_kwh"])
    assert np.isnan(out["production_wind_kwh"])  # secondary: smallest other filière
    assert out["production_solar_kwh"] == 300.0
    assert out["production_kwh"] == 450.0 and out["consumption_kwh"] == 1000.0
    assert out["self_consumed_kwh"] == 450.0
    assert out["self_production_rate_pct"] == pytest.approx(45.0)
    assert out["masked_cells"] == 2
    assert "production_hydro_kwh: primary: 1 contributor(s) < 3" in out["secrecy_notes"]
    assert "production_wind_kwh: secondary: protects category=hydro" in out["secrecy_notes"]
    clear = published_balance(_energy(hydro_points=6, hydro_largest=20.0), RULES).iloc[0]
    assert clear["masked_cells"] == 0 and clear["production_hydro_kwh"] == 90.0
    assert pd.isna(clear["secrecy_notes"])


def test_a_masked_total_masks_the_rates_it_would_reveal():
    periods = pd.DataFrame({
        "consumption_kwh": [1000.0, 1000.0], "production_kwh": [300.0, 300.0],
        "self_consumed_kwh": [300.0, 300.0], "surplus_kwh": [0.0, 0.0], "import_kwh": [700.0, 700.0],
        "self_consumption_rate_pct": [100.0, 100.0], "self_production_rate_pct": [30.0, 30.0],
        "coverage_rate_pct": [30.0, 30.0],
        "consumption_points": [500, 500], "production_points": [40, 2],
        "largest_consumption_point_kwh": [50.0, 50.0], "largest_production_point_kwh": [30.0, 290.0],
    })
    out = totals_secrecy(periods, RULES)
    assert out["masked"].tolist() == [False, True]
    assert out.loc[1, ["production_kwh", "self_consumed_kwh", "self_production_rate_pct"]].isna().all()
    assert out.loc[1, "consumption_kwh"] == 1000.0
    assert out.loc[1, "mask_reason"] == "production_kwh: primary: 2 contributor(s) < 3"
    assert out.loc[0, "self_production_rate_pct"] == 30.0
