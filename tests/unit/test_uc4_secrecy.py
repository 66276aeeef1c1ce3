"""UC4's per-area product through the platform's secrecy engine (transforms/buildings/publish.py).

Small estates: the cells, the masks and their reasons, the product's layout in
assets_config/secrecy/products.yaml (audit_products), the refusal of an exposed year, and a
hypothesis property checked by an attacker's LP written here, independent of the engine's
relation builder and audit: no published row lets anyone (an outsider, or a lycée alone in its
commune) narrow a confidential figure below its protection level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from energy_pipelines.clock import Window
from energy_pipelines.secrecy import audit_products, load_products, load_rules
from energy_pipelines.secrecy.stored import audit_stored
from energy_pipelines.transforms.buildings import publish as pub
from energy_pipelines.transforms.buildings.publish import (
    MAP_NAME,
    PUBLISHED_COLUMNS,
    SecrecyExposure,
    area_cells,
    area_parents,
    protect_cells,
    publish_cells,
)

PRODUCT = "out_uc4__energy_by_commune"
PROTECTION = load_rules()["region_buildings"].protection_pct / 100
MEASURES = {"final_energy_kwh": "final_energy", "water_m3": "water", "floor_area_m2": "floor_area"}


def estate(spec: dict[str, list[float]], years=(2024,), water=None) -> pd.DataFrame:
    """Per building-year rows: {commune code: [final energy of each building]}; floor area 10 m² per MWh."""
    rows, b = [], 0
    for code, energies in spec.items():
        for kwh in energies:
            b += 1
            for y in years:
                rows.append({"building_id": f"b{b}", "year": y, "commune_code": code, "commune_name": f"C{code}",
                             "floor_area_m2": kwh / 100, "final_energy_kwh": kwh,
                             "water_m3": kwh / 500 if water is None else water})
    return pd.DataFrame(rows)


def row(frame, level, code, year=2024):
    hit = frame[(frame["area_level"] == level) & (frame["area_code"] == code) & (frame["year"] == year)]
    assert len(hit) == 1, (level, code, year)
    return hit.iloc[0]


def audit(published, truth=None):
    return audit_products({PRODUCT: published}, maps={MAP_NAME: area_parents(published)}, truth=truth)


# -- the cells -------------------------------------------------------------------------------------------

def test_areas_sum_their_buildings_and_an_unknown_figure_stays_unknown_upward():
    ind = estate({"13001": [1e6, 2e6], "13055": [3e6], "83137": [4e6, 5e6, 6e6]}, years=(2023, 2024))
    ind.loc[(ind["building_id"] == "b3") & (ind["year"] == 2023), "final_energy_kwh"] = np.nan
    cells = area_cells(ind, "93")
    assert set(cells["area_level"]) == {"commune", "departement", "region"}
    dep13 = row(cells, "departement", "13")
    assert (dep13["buildings"], dep13["final_energy_kwh"], dep13["largest_building_kwh"]) == (3, 6e6, 3e6)
    assert row(cells, "region", "93")["final_energy_kwh"] == 21e6
    assert row(cells, "commune", "13055")["area_name"] == "C13055"
    # b3's 2023 is incomplete: its commune, département and region have no 2023 energy (never a partial sum)
    for level, code in (("commune", "13055"), ("departement", "13"), ("region", "93")):
        r = row(cells, level, code, 2023)
        assert pd.isna(r["final_energy_kwh"]) and pd.isna(r["kwh_per_m2"])
    assert row(cells, "departement", "13", 2023)["buildings_complete"] == 2
    assert row(cells, "commune", "83137", 2023)["final_energy_kwh"] == 15e6
    assert str(row(cells, "region", "93")["year_start_utc"]) == "2023-12-31 23:00:00+00:00"


def test_area_parents_chain_communes_to_their_departement_and_the_region():
    cells = area_cells(estate({"13001": [1e6], "04070": [2e6]}), "93")
    assert area_parents(cells) == {"13001": "13", "04070": "04", "13": "93", "04": "93"}
    with pytest.raises(ValueError, match="area_level"):
        area_parents(cells.assign(area_level="epci"))


# -- the masks -------------------------------------------------------------------------------------------

def test_a_lone_lycee_is_masked_with_a_partner_and_every_figure_of_both_rows_is_null():
    ind = estate({"13001": [1e6, 1.2e6, 1.1e6], "13055": [2e6], "13004": [0.9e6, 1e6, 1.3e6],
                  "83137": [1e6, 2e6, 1.5e6], "83050": [1e6, 1.1e6, 1.2e6]})
    result = publish_cells(area_cells(ind, "93"))
    out = result.published
    assert list(out.columns) == PUBLISHED_COLUMNS
    lone = row(out, "commune", "13055")
    assert lone["masked"] and lone["secrecy_status"] == "primary"
    assert "1 contributor(s) < 3 (region_buildings)" in lone["secrecy_reason"]
    assert "final_energy" in lone["secrecy_reason"] and "water" in lone["secrecy_reason"]
    masked = out[out["masked"]]
    assert masked[["floor_area_m2", "final_energy_kwh", "kwh_per_m2", "water_m3"]].isna().all().all()
    assert masked["buildings"].notna().all()  # the count of contributors stays published
    # département 13 is published: a second commune of 13 hides the lone lycée, and says so
    assert not row(out, "departement", "13")["masked"]
    partners = masked[masked["secrecy_status"] == "secondary"]
    assert len(partners) >= 1 and partners["area_code"].str.startswith("13").all()
    assert partners["secrecy_reason"].str.contains("secondary: protects area=13055").all()
    # nothing else is masked, and the published figures are the true ones
    assert set(out.loc[out["masked"], "area_code"]) == {"13055", *partners["area_code"]}
    assert row(out, "region", "93")["final_energy_kwh"] == pytest.approx(ind["final_energy_kwh"].sum())
    assert result.passed and result.figures()["secrecy_2024"]["audit_passed"]


def test_a_dominant_lycee_masks_its_cell_although_it_has_three_buildings():
    ind = estate({"13001": [10e6, 0.5e6, 0.6e6], "13004": [1e6, 1.1e6, 1.2e6], "13005": [1e6, 1e6, 1e6],
                  "83137": [1e6, 1e6, 1e6]})
    out = publish_cells(area_cells(ind, "93")).published
    dominated = row(out, "commune", "13001")
    assert dominated["secrecy_status"] == "primary"
    assert "> 85% (region_buildings)" in dominated["secrecy_reason"]
    assert pd.isna(dominated["final_energy_kwh"])


def test_a_departement_of_one_commune_is_masked_with_it_and_the_region_stays_safe():
    ind = estate({"04070": [1e6], "13001": [1e6, 1.2e6, 1.1e6], "13004": [0.9e6, 1e6, 1.3e6],
                  "83137": [1e6, 2e6, 1.5e6]})
    result = publish_cells(area_cells(ind, "93"))
    out = result.published
    assert row(out, "commune", "04070")["secrecy_status"] == "primary"
    assert row(out, "departement", "04")["masked"]  # the same figure as its only commune
    # the region is published, so another département (or the region) is masked too
    assert (out["masked"] & (out["area_level"] != "commune")).sum() >= 2
    assert result.passed and audit(out, result.cells).passed


def test_the_product_layout_audits_the_published_table_and_finds_the_exposure_without_secondary_masks():
    ind = estate({"13001": [1e6, 1.2e6, 1.1e6], "13055": [2e6], "13004": [0.9e6, 1e6, 1.3e6],
                  "83137": [1e6, 2e6, 1.5e6], "83050": [1e6, 1.1e6, 1.2e6]}, years=(2023, 2024))
    cells = area_cells(ind, "93")
    assert PRODUCT in load_products().products
    safe = protect_cells(cells)
    assert safe.passed
    report = audit(safe.published, safe.cells)
    assert report.passed, report.exposed
    assert report.violations.empty and report.unverifiable.empty
    assert audit(safe.published).passed  # from the published file alone too
    # primary masks only: the lone lycée is département 13 minus its published communes
    weak = protect_cells(cells, secondary=False)
    for truth in (weak.cells, None):
        exposed = audit(weak.published, truth)
        assert not exposed.passed
        labels = set(exposed.exposed["label"])
        assert {f"area=13055, fluid={f}, year={y}" for f in ("final_energy", "water", "floor_area")
                for y in (2023, 2024)} <= labels
    # a published kWh/m² next to a masked energy is a violation of the declared derivation
    leaky = safe.published.copy()
    lone = (leaky["area_code"] == "13055").to_numpy()
    leaky.loc[lone, "kwh_per_m2"] = 123.0
    violations = audit(leaky, safe.cells).violations
    assert set(violations["column"]) == {"kwh_per_m2"}


def test_the_stored_audit_builds_the_area_map_from_the_stored_product():
    """What the blocking `secrecy_audit` check runs: the product read back, its map from its own rows."""
    ind = estate({"13001": [1e6, 1.2e6, 1.1e6], "13055": [2e6], "13004": [0.9e6, 1e6, 1.3e6]})
    cells = area_cells(ind, "93")
    for published, passed in ((protect_cells(cells).published, True),
                              (protect_cells(cells, secondary=False).published, False)):
        result = audit_stored([PRODUCT], lambda dataset, window: published, Window.all_time())
        assert result.passed is passed and set(result.reports) == {"uc4"}


def test_a_year_the_audit_finds_exposed_is_refused(monkeypatch):
    ind = estate({"13001": [1e6, 1.2e6, 1.1e6], "13055": [2e6], "83137": [1e6, 2e6, 1.5e6]})
    original = pub.protect_cells
    monkeypatch.setattr(pub, "protect_cells", lambda cells, rules=None: original(cells, rules=rules, secondary=False))
    with pytest.raises(SecrecyExposure, match="out_uc4__energy_by_commune 2024: the secrecy audit still finds"):
        publish_cells(area_cells(ind, "93"))


def test_unknown_figures_are_not_secrets_and_a_bad_input_is_named():
    ind = estate({"13001": [1e6, 1.2e6, 1.1e6], "13004": [0.9e6, 1e6, 1.3e6]}, water=np.nan)
    out = publish_cells(area_cells(ind, "93")).published
    assert not out["masked"].any() and out["water_m3"].isna().all() and out["final_energy_kwh"].notna().all()
    with pytest.raises(ValueError, match=r"lack column\(s\) \['commune_code'\]"):
        area_cells(ind.drop(columns="commune_code"), "93")


# -- property: nothing published narrows a confidential figure below its protection ------------------------

@st.composite
def estates(draw):
    """1-3 départements of 1-4 communes of 1-5 lycées; energies skewed so that dominance happens."""
    spec = {}
    for d in draw(st.lists(st.sampled_from(["04", "05", "06", "13", "83", "84"]), min_size=1, max_size=3,
                           unique=True)):
        for c in range(draw(st.integers(1, 4))):
            spec[f"{d}{c:03d}"] = [float(draw(st.integers(1, 50))) * 1e5 * draw(st.sampled_from([1, 1, 1, 20]))
                                   for _ in range(draw(st.integers(1, 5)))]
    return spec


def _attacker_bounds(published: pd.DataFrame, column: str, target: str, fixed: dict[str, float]):
    """min and max of `target`'s figure over every non-negative completion of the masked figures of one
    measure that keeps département = sum of its communes and region = sum of its départements."""
    pub_ = published.set_index("area_code")
    value = pd.to_numeric(pub_[column], errors="coerce")
    unknown = [a for a in pub_.index if pd.isna(value[a]) and a not in fixed]
    idx = {a: i for i, a in enumerate(unknown)}
    known = {a: float(value[a]) for a in pub_.index if a not in idx} | fixed
    level = pub_["area_level"]
    groups = [(d, [c for c in pub_.index if level[c] == "commune" and c[:2] == d])
              for d in pub_.index if level[d] == "departement"]
    groups += [(r, [d for d in pub_.index if level[d] == "departement"]) for r in pub_.index if level[r] == "region"]
    A, b = [], []
    for parent, kids in groups:
        coef, rhs = np.zeros(len(unknown)), 0.0
        for a, sign in [(parent, 1.0), *[(k, -1.0) for k in kids]]:
            if a in idx:
                coef[idx[a]] += sign
            else:
                rhs -= sign * known[a]
        A.append(coef)
        b.append(rhs)
    c = np.zeros(len(unknown))
    c[idx[target]] = 1.0
    lo = linprog(c, A_eq=np.array(A), b_eq=np.array(b), bounds=(0, None), method="highs")
    hi = linprog(-c, A_eq=np.array(A), b_eq=np.array(b), bounds=(0, None), method="highs")
    assert lo.status == 0, lo.message
    return lo.fun, (np.inf if hi.status == 3 else -hi.fun)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_no_published_row_lets_anyone_narrow_a_confidential_figure(spec):
    cells = area_cells(estate(spec), "93")
    result = publish_cells(cells)
    out = result.published
    truth = cells.set_index("area_code")
    primary = result.cells[result.cells["mask_kind"] == "primary"]
    # every cell the rule calls confidential is masked, in every measure of its row
    for code, n, share in zip(truth.index, truth["buildings"], truth["largest_building_kwh"] / truth["final_energy_kwh"],
                              strict=True):
        if n < 3 or share > 0.85:
            assert row(out, truth.loc[code, "area_level"], code)["masked"], code
    lone = [c for c in truth.index if truth.loc[c, "buildings"] == 1 and row(out, truth.loc[c, "area_level"], c)["masked"]]
    for cell in primary.itertuples():
        column = {v: k for k, v in MEASURES.items()}[cell.fluid]
        v = truth.loc[cell.area, column]
        need_lo, need_hi = v * (1 - PROTECTION), v * (1 + PROTECTION)
        tol = 1e-6 * max(v, 1.0)
        # outsiders, then for a commune each lycée alone in another masked commune of its département (it
        # knows its own figure: tau-ARGUS's singleton problem, between siblings)
        siblings = [c for c in lone if truth.loc[cell.area, "area_level"] == truth.loc[c, "area_level"] == "commune"
                    and c != cell.area and c[:2] == cell.area[:2]]
        attackers = [{}] + [{c: float(truth.loc[c, column])} for c in siblings]
        for fixed in attackers:
            lo, hi = _attacker_bounds(out, column, cell.area, fixed)
            assert lo <= need_lo + tol and hi >= need_hi - tol, (cell.area, cell.fluid, fixed, lo, hi, v)
    assert audit(out, result.cells).passed
