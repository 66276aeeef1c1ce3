"""UC3 as one system: simulated days through every product, audited together; random lines (hypothesis)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_pipelines.secrecy import audit_products
from energy_pipelines.secrecy import uc3 as s3
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.simulate.enedis_communes import sample_territorial_energy
from energy_pipelines.transforms import balance as bl
from energy_pipelines.transforms import territorial_forecast as tf

SETTINGS = s3.default_settings()
# three Paris days, 26 October 2025 (50 half-hours) in the middle
START, END = pd.Timestamp("2025-10-24 22:00", tz="UTC"), pd.Timestamp("2025-10-27 23:00", tz="UTC")


@pytest.fixture(scope="module")
def energy(tmp_path_factory):
    return sample_territorial_energy(START, END, tmp_path_factory.mktemp("landing"))


def _forecasts(energy, settings):
    """A forecast table shaped like out_uc3__forecasts (no prophet: the masks are what is tested)."""
    masks = s3.forecast_masks(energy, END - pd.Timedelta(days=56), END, settings)
    targets = pd.date_range(END, periods=3, freq="h")
    frames = []
    for territory in sorted(energy["territory_id"].unique()):
        frame = pd.concat([pd.DataFrame({"variable": v, "target_utc": targets, "yhat": 1.0, "yhat_lower": 0.5,
                                         "yhat_upper": 2.0}) for v in tf.VARIABLES], ignore_index=True)
        frame = tf.mask_forecast(frame, masks, territory).assign(territory_id=territory, issued_at_utc=END)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _all_products(energy, settings):
    scenarios = bl.load_scenarios(CATALOG_DIR / "uc3" / "what_if.yaml")
    products = {"out_uc3__territorial_balance": s3.published_balance(energy, settings),
                "out_uc3__pv_what_if": s3.published_what_if(energy, scenarios, settings),
                "out_uc3__forecasts": _forecasts(energy, settings)}
    for resolution, name in zip(bl.RESOLUTIONS, ("hourly", "daily", "monthly", "yearly"), strict=True):
        products[f"out_uc3__rates_{name}"] = s3.published_rates(energy, resolution, settings)
    return products


def test_the_sample_holds_cells_every_rule_must_mask(energy):
    cells = s3.halfhour_system(energy, SETTINGS).cells
    masked = cells[cells["masked"]]
    reasons = masked.groupby(["territory_id", "category"])["mask_reason"].first()
    assert reasons[("metropole_toulon", "hydro")] == "primary: 2 contributor(s) < 3 (other_aggregates)"
    assert reasons[("provence_alpes_agglomeration", "other")].startswith("primary: largest contributor 9")
    assert reasons[("provence_verte", "wind")] == "primary: 1 contributor(s) < 3 (other_aggregates)"
    assert (masked["mask_kind"] == "secondary").any()
    # solar, which feeds the what-if, is never the partner while another filière can hide the secret
    assert not masked["category"].eq("solar").any()


def test_every_product_audited_together_exposes_nothing(energy):
    products = _all_products(energy, SETTINGS)
    result = audit_products(products, truth=s3.system_cells(energy, SETTINGS))
    report = result.reports["uc3"]
    assert result.passed, (result.exposed, result.violations)
    assert report.summary["masked_cells"] > 0 and report.summary["primary_cells"] > 0
    assert result.unverifiable.empty
    # the masks are the same in every product: a half-hour's masked filière is null in the balance, and
    # the coarse totals, with no masked half-hour total inside, are published
    balance = products["out_uc3__territorial_balance"]
    toulon = balance[balance["territory_id"] == "metropole_toulon"]
    assert toulon["production_hydro_kwh"].isna().all() and toulon["production_kwh"].notna().all()
    assert products["out_uc3__rates_daily"]["production_kwh"].notna().all()
    oct26 = balance[(balance["datetime_utc"] >= "2025-10-25 22:00Z") & (balance["datetime_utc"] < "2025-10-26 23:00Z")]
    assert oct26.groupby("territory_id").size().eq(50).all()
    # forecasts: nothing masked in the training window's totals, so published
    assert products["out_uc3__forecasts"]["yhat"].notna().all()


def test_switching_secondary_suppression_off_is_caught_by_the_audit(energy):
    primary_only = replace(SETTINGS, secondary=False)
    products = _all_products(energy, primary_only)
    result = audit_products(products, truth=s3.system_cells(energy, primary_only))
    assert not result.passed
    exposed = result.exposed
    assert {"metropole_toulon", "provence_verte", "pnr_sainte_baume"} <= set(exposed["territory_id"])
    toulon_hydro = exposed[(exposed["territory_id"] == "metropole_toulon") & (exposed["category"] == "hydro")]
    assert len(toulon_hydro) and toulon_hydro["exposure"].str.startswith("recovered exactly").all()
    # two masked cells in a line are not enough when one has a single contributor: its owner subtracts
    other = exposed[(exposed["territory_id"] == "provence_alpes_agglomeration") & (exposed["category"] == "other")]
    assert len(other) and other["attacker"].str.endswith("category=wind").all()


def test_a_tiny_territory_masks_its_totals_through_every_resolution(energy):
    """Production of one territory from three plants, one of them dominant: the totals are masked at
    every half-hour, hence in every coarser product, and the audit still passes."""
    small = energy[energy["territory_id"] == "provence_alpes_agglomeration"].copy()
    small = small[(small["flow"] == "consumption") | small["category"].isin(["other", "total"])]
    prod_total = small["flow"].eq("production") & small["category"].eq("total")
    other = small[small["category"].eq("other")].set_index("datetime_utc")
    small.loc[prod_total, ["energy_kwh", "n_points", "largest_point_kwh"]] = other.loc[
        small.loc[prod_total, "datetime_utc"], ["energy_kwh", "n_points", "largest_point_kwh"]].to_numpy()
    products = _all_products(small, SETTINGS)
    for pid in ("out_uc3__rates_hourly", "out_uc3__rates_daily", "out_uc3__rates_monthly", "out_uc3__rates_yearly"):
        frame = products[pid]
        assert frame["production_kwh"].isna().all() and frame["self_production_rate_pct"].isna().all(), pid
        assert frame["consumption_kwh"].notna().all(), pid
    assert products["out_uc3__forecasts"].query("variable != 'consumption_kwh'")["yhat"].isna().all()
    assert products["out_uc3__pv_what_if"]["production_kwh"].isna().all()
    result = audit_products(products, truth=s3.system_cells(small, SETTINGS))
    assert result.passed, (result.exposed, result.violations)


CATS = {"consumption": bl.CONSUMPTION_CATEGORIES, "production": bl.PRODUCTION_CATEGORIES}


@st.composite
def random_lines(draw):
    """1-2 territories x 2-5 half-hours inside one hour-aligned span, random contributors per category."""
    start = pd.Timestamp("2025-10-26 00:00", tz="UTC")
    times = pd.date_range(start, periods=draw(st.integers(2, 5)), freq="30min")
    rows = []
    for territory in ("a", "b")[: draw(st.integers(1, 2))]:
        for t in times:
            for flow, cats in CATS.items():
                line = []
                for cat in draw(st.lists(st.sampled_from(cats), min_size=1, max_size=len(cats), unique=True)):
                    n = draw(st.sampled_from([1, 2, 3, 5, 12, 400]))
                    value = float(draw(st.integers(0, 500)))
                    share = draw(st.floats(0, 1))
                    largest = value if n == 1 else value * (1 / n + share * (1 - 1 / n))
                    line.append((territory, t, flow, cat, value, n, largest))
                rows += line
                rows.append((territory, t, flow, "total", sum(r[4] for r in line), sum(r[5] for r in line),
                             max(r[6] for r in line)))
    frame = pd.DataFrame(rows, columns=["territory_id", "datetime_utc", "flow", "category", "energy_kwh", "n_points",
                                        "largest_point_kwh"])
    frame["capacity_kw"] = np.where(frame["category"] == "solar", 100.0, np.nan)
    frame["communes_reporting"] = 2
    frame["communes_expected"] = 2
    return frame


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(random_lines())
def test_half_hour_masks_closed_upward_leave_nothing_exposed_in_any_product(frame):
    """The UC3 design needs no audit-driven repair: line-by-line suppression plus the upward closure
    already protects every product published together (module doc of secrecy/uc3.py)."""
    products = {"out_uc3__territorial_balance": s3.published_balance(frame, SETTINGS),
                "out_uc3__rates_hourly": s3.published_rates(frame, "hour", SETTINGS),
                "out_uc3__rates_daily": s3.published_rates(frame, "day", SETTINGS)}
    result = audit_products(products, truth=s3.system_cells(frame, SETTINGS))
    assert result.passed, (result.exposed[["label", "exposure", "attacker"]].to_string(), result.violations)
