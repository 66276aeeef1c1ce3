"""UC5 outputs: statements at tariff, open rates, key comparison and optimised key, eligibility, dashboard."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.clock import Window, paris_day_bounds
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.storage.schema import conform
from energy_pipelines.transforms.acc import allocation as al
from energy_pipelines.transforms.acc import dashboard as db
from energy_pipelines.transforms.acc import eligibility as el
from energy_pipelines.transforms.acc import key_study as ks
from energy_pipelines.transforms.acc import statements as st
from energy_pipelines.transforms.acc.params import (EligibilityParams, KeyStudyParams, OperationParams, TariffParams,
                                                    load_params)
from energy_pipelines.transforms.anonymise import Pseudonymiser
from tests.unit.test_uc5_operation import Sample

DAY = "2025-06-10"


def _units(**extra) -> pd.DataFrame:
    start = pd.Timestamp("2025-01-01T00:00+01:00").tz_convert("UTC")
    base = {"operation_id": "OP", "participant_type": "consommateur", "name": None, "membership_start_utc": start,
            "membership_end_utc": pd.NaT, "latitude": 43.96, "longitude": 5.78, "pv_peak_kwc": np.nan,
            "tariff": "hc"}
    rows = [{**base, "participant_id": "A", "prm": "99000000000001", "role": "consommateur"},
            {**base, "participant_id": "B", "prm": "98000000000001", "role": "producteur",
             "participant_type": "producteur", "pv_peak_kwc": 9.0, "tariff": "prod"}]
    frame = pd.DataFrame(rows)
    for k, v in extra.items():
        frame[k] = v
    return frame


TARIFFS = TariffParams.model_validate({
    "valid_from": "2025-01-01", "default_tariff": "hc", "tariffs": {
        "hc": {"label": "hc", "supplier_price_eur_per_kwh": 0.20, "local_price_eur_per_kwh": 0.10,
               "off_peak": {"start_hour": 22, "end_hour": 6, "price_eur_per_kwh": 0.15}},
        "prod": {"label": "p", "supplier_price_eur_per_kwh": 0.2, "local_price_eur_per_kwh": 0.10,
                 "surplus_price_eur_per_kwh": 0.04}}})


def _day_allocation() -> pd.DataFrame:
    lo, hi = paris_day_bounds(DAY)
    steps = pd.date_range(lo, hi, freq="30min", inclusive="left")
    local_hour = steps.tz_convert("Europe/Paris").hour
    auto = np.where(local_hour == 23, 1000, 0) + np.where((local_hour == 12) & (steps.minute == 0), 2000, 0)
    consumer = pd.DataFrame({"datetime_utc": steps, "prm": "99000000000001", "role": "consommateur",
                             "cons_wh": 3000, "autocons_wh": auto, "complement_wh": 3000 - auto, "step_minutes": 30})
    producer = pd.DataFrame({"datetime_utc": steps, "prm": "98000000000001", "role": "producteur",
                             "prod_wh": 5000, "autoprod_wh": auto, "surplus_wh": 5000 - auto, "step_minutes": 30})
    return pd.concat([consumer, producer], ignore_index=True)


def test_savings_follow_the_hour_of_each_self_consumed_kwh_and_producers_earn_local_and_surplus_prices():
    result = st.monthly_statements(_day_allocation(), _units(), TARIFFS, Window(*paris_day_bounds(DAY)))
    c = result.data[result.data["role"] == "consommateur"].iloc[0]
    p = result.data[result.data["role"] == "producteur"].iloc[0]
    # 23:00 and 23:30 are off-peak: 2 kWh x (0.15 - 0.10); 12:00 is peak: 2 kWh x (0.20 - 0.10)
    assert c["autocons_kwh"] == 4.0 and c["savings_eur"] == pytest.approx(0.30)
    assert c["complete"] and c["steps_expected"] == 48 and pd.isna(c["revenue_eur"])
    assert p["autoprod_kwh"] == 4.0 and p["surplus_kwh"] == 236.0
    assert p["revenue_eur"] == pytest.approx(4 * 0.10 + 236 * 0.04)


def test_an_incomplete_month_keeps_its_energies_and_gives_no_amount():
    alloc = _day_allocation()
    alloc = alloc.drop(index=alloc.index[(alloc["role"] == "consommateur")][5])
    result = st.monthly_statements(alloc, _units(), TARIFFS, Window(*paris_day_bounds(DAY)))
    c = result.data[result.data["role"] == "consommateur"].iloc[0]
    assert not c["complete"] and pd.isna(c["savings_eur"])
    assert c["note"].startswith("1 of 48 steps not allocated")
    assert c["cons_kwh"] == 47 * 3.0


def test_an_unknown_tariff_falls_back_to_the_default_and_says_so():
    result = st.monthly_statements(_day_allocation(), _units(tariff="mystere"), TARIFFS, Window(*paris_day_bounds(DAY)))
    assert set(result.data["tariff"]) == {"hc"}
    assert result.figures["tariffs_not_in_params_used_default"] == ["mystere"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return Sample(tmp_path_factory.mktemp("acc_out"))


@pytest.fixture(scope="module")
def week(sample):
    _, curves, allocation, _ = sample.day("2025-06-10", "2025-06-16")
    return curves, allocation


def test_open_rates_are_given_for_a_month_of_enough_consumers_and_withheld_otherwise(sample, week):
    _, allocation = week
    window = Window(paris_day_bounds("2025-06-10")[0], paris_day_bounds("2025-06-16")[1])
    shown = st.operation_rates(allocation.data, sample.participants, OperationParams(), window).data.iloc[0]
    assert shown["published"] and shown["consumers"] == 20 and shown["producers"] == 2
    sums = allocation.data[["autocons_wh", "prod_wh", "cons_wh"]].sum()
    assert shown["self_consumption_rate_pct"] == round(100 * sums["autocons_wh"] / sums["prod_wh"], 2)
    assert shown["self_production_rate_pct"] == round(100 * sums["autocons_wh"] / sums["cons_wh"], 2)
    hidden = st.operation_rates(allocation.data, sample.participants, OperationParams(open_min_consumers=25),
                                window).data.iloc[0]
    assert not hidden["published"] and pd.isna(hidden["self_consumption_rate_pct"])
    assert "20 consumers, fewer than 25" in hidden["mask_reason"]
    partial = allocation.data[allocation.data["datetime_utc"] >= allocation.data["datetime_utc"].min()
                              + pd.Timedelta(hours=12)]
    incomplete = st.operation_rates(partial, sample.participants, OperationParams(), window).data.iloc[0]
    assert not incomplete["published"] and "steps allocated" in incomplete["mask_reason"]


def test_the_open_product_carries_rates_and_counts_only():
    spec = default_catalog()["out_acc__operation_rates"]
    assert not [c for c in spec.table_schema.columns if c.endswith(("_wh", "_kwh", "_eur"))]
    assert not {"prm", "participant_id", "name"} & set(spec.table_schema.columns)


def test_concentration_gini_is_zero_when_proportional_and_one_half_when_one_of_two_equal_consumers_takes_all():
    assert ks.concentration_gini(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)
    assert ks.concentration_gini(np.array([0, 5]), np.array([7, 7])) == pytest.approx(0.5)
    assert ks.concentration_gini(np.array([0, 0]), np.array([7, 7])) is None


def test_optimised_static_key_lies_between_the_pro_rata_static_key_and_the_dynamic_default_key(sample, week):
    curves, _ = week
    from energy_pipelines.transforms.acc.operation import arrays, window_steps

    steps = window_steps(curves.data, None, 30)
    a = arrays(curves.data, sample.participants, steps)
    cons, prod = a.cons.astype(np.int64), a.prod.astype(np.int64)
    best = ks.optimise_static_key(cons, prod, a.cons_active, a.prod_active)
    assert best.coefficients.sum() == pytest.approx(1.0, abs=1e-12) and (best.coefficients >= 0).all()
    optimised = al.allocate(cons, prod, al.static_key(best.coefficients), a.cons_active, a.prod_active)
    prorata = al.allocate(cons, prod, al.static_key(ks.prorata_coefficients(cons, a.cons_active)), a.cons_active,
                          a.prod_active)
    dynamic = al.allocate(cons, prod, al.dynamic_default_key(), a.cons_active, a.prod_active)
    assert prorata.self_consumed_wh < optimised.self_consumed_wh <= dynamic.self_consumed_wh
    assert dynamic.self_consumed_wh == al.upper_bound_wh(cons, prod, a.cons_active, a.prod_active)
    # the LP's optimum and the integer evaluation of its rounded coefficients agree to a few Wh per step
    assert abs(optimised.self_consumed_wh - best.lp_self_consumed_wh) <= cons.shape[0] * cons.shape[1]


def test_a_fairness_floor_gives_a_starved_consumer_its_share():
    # consumer 1 only consumes at step 0: the unconstrained optimum gives it nothing
    steps = 10
    cons = np.column_stack([np.full(steps, 100), np.r_[100, np.zeros(steps - 1, dtype=int)]])
    prod = np.full((steps, 1), 100)
    free = ks.optimise_static_key(cons, prod)
    assert free.coefficients[1] == pytest.approx(0.0, abs=1e-6)
    fair = ks.optimise_static_key(cons, prod, fairness_floor=0.5)
    assert fair.lp_self_consumed_wh < free.lp_self_consumed_wh
    a = al.allocate(cons, prod, al.static_key(fair.coefficients))
    share_of_self = a.autocons[:, 1].sum() / a.autocons.sum()
    share_of_consumption = cons[:, 1].sum() / cons.sum()
    assert share_of_self >= 0.5 * share_of_consumption - 1e-3


def test_the_key_comparison_covers_every_key_type_and_both_what_ifs(sample, week):
    curves, allocation = week
    result = ks.key_comparison(curves.data, sample.participants, sample.keys,
                               load_params(KeyStudyParams, CATALOG_DIR / "uc5" / "key_study.yaml"))
    frame = result.data.set_index(["scenario", "key_label"])
    assert {"statique", "dynamique_defaut", "dynamique_simple", "full_dynamique"} <= set(frame["key_type"])
    current = frame.loc[("actuel", "actuelle")]
    assert current["self_consumed_kwh"] == allocation.data["autocons_wh"].sum() / 1000
    dyn = frame.loc[("actuel", "dynamique_defaut"), "self_consumed_kwh"]
    assert (frame.loc["actuel", "self_consumed_kwh"] <= dyn + 1e-9).all()
    assert frame.loc[("actuel", "statique_optimisee"), "self_consumed_kwh"] >= \
        frame.loc[("actuel", "statique_prorata"), "self_consumed_kwh"]
    battery = frame.loc[("batterie_20_kwh", "dynamique_defaut")]
    producer = frame.loc[("producteur_ajoute_9_kwc", "dynamique_defaut")]
    assert battery["self_consumed_kwh"] > dyn and battery["production_kwh"] == current["production_kwh"]
    assert producer["production_kwh"] > current["production_kwh"] and producer["self_consumed_kwh"] > dyn
    spec = default_catalog()["out_acc__key_comparison"]
    assert result.data["period_start_utc"].iloc[0] == curves.data["datetime_utc"].min()
    assert result.data["period_end_utc"].iloc[0] == curves.data["datetime_utc"].max() + pd.Timedelta(minutes=30)
    conform(result.data, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)


RULES = load_params(EligibilityParams, CATALOG_DIR / "uc5" / "eligibility.yaml")


def test_eligibility_says_when_the_two_furthest_participants_are_too_far_apart():
    units = _units()
    units.loc[1, "latitude"] = 43.96 + 3.0 / 111.2  # 3 km north
    result = el.eligibility(units, RULES).data.set_index("rule")
    assert not result.loc["perimetre", "compliant"]
    assert result.loc["perimetre", "value"] == pytest.approx(3.0, abs=0.01)
    assert "Périmètre dépassé" in result.loc["perimetre", "message"] and "3,00 km" in result.loc["perimetre", "message"]
    assert {result.loc["perimetre", "participant_a"], result.loc["perimetre", "participant_b"]} == {"A", "B"}
    assert result.loc["puissance", "compliant"]


def test_eligibility_is_unknown_without_coordinates_and_checks_the_power_cap():
    units = _units()
    units.loc[0, "latitude"] = np.nan
    units.loc[1, "pv_peak_kwc"] = 3500.0
    result = el.eligibility(units, RULES).data.set_index("rule")
    assert pd.isna(result.loc["perimetre", "compliant"]) and "inconnu" in result.loc["perimetre", "message"]
    assert not result.loc["puissance", "compliant"] and "au-delà du plafond" in result.loc["puissance", "message"]


def test_eligibility_of_the_simulated_operation_follows_its_membership_changes(sample):
    result = el.eligibility(sample.participants, RULES)
    assert result.data["compliant"].all()
    assert result.figures["configurations"] == 3  # start, newcomer, leaver
    spec = default_catalog()["out_acc__eligibility"]
    conform(result.data, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)


def test_the_dashboard_is_french_pseudonymised_and_carries_its_charts(sample, week):
    _, allocation = week
    key = Pseudonymiser(b"k" * 32, "test")
    result = db.dashboard(allocation.data, sample.participants, OperationParams(), None, pseudonymiser=key)
    page = result.data["html"].iloc[0]
    assert "Taux d'autoconsommation" in page and "Part de chaque participant" in page and 'lang="fr"' in page
    for prm in sample.participants["prm"]:
        assert prm not in page
    for name in sample.participants["name"].dropna():
        assert name not in page
    assert len(re.findall(r"Participant \d\d", page)) >= 20
    assert len(result.charts) == 4 and all(png.startswith(b"\x89PNG") for png in result.charts.values())
    other = db.pseudonym_labels(sample.participants, Pseudonymiser(b"z" * 32, "test"))
    mine = db.pseudonym_labels(sample.participants, key)
    assert sorted(mine.values()) == sorted(other.values()) and mine != other  # the order depends on the key only
    spec = default_catalog()["out_acc__dashboard"]
    conform(result.data, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)


def test_statements_and_rates_fit_their_catalogue_schemas(sample, week):
    _, allocation = week
    catalog = default_catalog()
    window = Window(paris_day_bounds("2025-06-10")[0], paris_day_bounds("2025-06-16")[1])
    tariffs = load_params(TariffParams, CATALOG_DIR / "uc5" / "tariffs.yaml")
    for name, result in (
            ("out_acc__monthly_statements", st.monthly_statements(allocation.data, sample.participants, tariffs, window)),
            ("out_acc__operation_rates", st.operation_rates(allocation.data, sample.participants, OperationParams(),
                                                            window))):
        spec = catalog[name]
        conform(result.data, spec.table_schema.to_arrow(), name, spec.table_schema.primary_key)
        assert len(result.data)
