"""Property-based tests of the secrecy engine on random hierarchical tables (hypothesis)."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_pipelines.secrecy import MappingHierarchy, TableSystem, evaluate_primary, load_rules, protect

RULES = load_rules()
SECTORS = ("residential", "professional", "business")
COUNTS = (0, 1, 2, 3, 4, 9, 10, 12, 40)
# a cell of each rule of the catalogue
ATTRIBUTES = {"electricity_small_consumers": {"fluid": "electricity", "flow": "consumption", "sector": "residential"},
              "gas_residential": {"fluid": "gas", "flow": "consumption", "sector": "residential"},
              "gas_small_professionals": {"fluid": "gas", "flow": "consumption", "sector": "professional"},
              "region_buildings": {"fluid": "final_energy", "flow": "consumption", "sector": "region_buildings"},
              "other_aggregates": {"fluid": "electricity", "flow": "production", "sector": "hydro"}}


@st.composite
def tables(draw):
    """A region of 1-3 départements of 1-4 communes x 2-3 sectors, every margin published.

    Leaf cells get a number of contributors, a value and a largest contributor consistent with
    both; aggregates sum values and counts and keep the largest contributor."""
    n_dep = draw(st.integers(1, 3))
    geo = {}
    for d in range(n_dep):
        geo[f"d{d}"] = "region"
        for c in range(draw(st.integers(1, 4))):
            geo[f"d{d}c{c}"] = f"d{d}"
    sectors = draw(st.lists(st.sampled_from(SECTORS), min_size=2, max_size=3, unique=True))
    leaves = [g for g in geo if "c" in g]
    leaf = {}
    for g in leaves:
        for s in sectors:
            n = draw(st.sampled_from(COUNTS))
            value = float(draw(st.integers(0, 400))) if n else 0.0  # n >= 1 may still deliver nothing
            share = draw(st.floats(0.0, 1.0))
            largest = value if n == 1 else value * (1 / max(n, 1) + share * (1 - 1 / max(n, 1)))
            leaf[(g, s)] = (value, n, largest)
    rows = []
    for g in [*geo, "region"]:
        members = [x for x in leaves if g in (x, geo[x], "region")]
        for s in [*sectors, "total"]:
            parts = [leaf[(m, ss)] for m in members for ss in sectors if s in (ss, "total")]
            rows.append({"geo": g, "sector": s, "value": sum(p[0] for p in parts),
                         "n_contributors": sum(p[1] for p in parts),
                         "largest_contributor": max((p[2] for p in parts), default=0.0)})
    cells = pd.DataFrame(rows).assign(fluid="electricity", flow="consumption")
    hierarchies = (MappingHierarchy("geography", "geo", geo),
                   MappingHierarchy("sectors", "sector", {s: "total" for s in sectors}))
    return cells, hierarchies


def _system(cells, hierarchies):
    return TableSystem(cells.copy(), ("geo", "sector"), hierarchies)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_after_suppression_the_audit_finds_no_exposed_cell(table):
    cells, hierarchies = table
    system = _system(cells, hierarchies)
    report = protect(system, RULES)
    assert report.passed, report.exposed[["label", "exposure", "attacker"]].to_string()
    out = system.cells
    primary = evaluate_primary(cells, RULES)["primary_reason"] != ""
    assert out.loc[primary.to_numpy(), "masked"].all()
    reasons = out.loc[out["masked"], "mask_reason"]
    assert reasons.notna().all()
    assert reasons.str.startswith("primary: ").sum() == primary.sum()
    assert reasons.str.startswith("secondary: protects ").sum() == out["masked"].sum() - primary.sum()
    # a cell without contributors is a known zero: never masked
    assert not out.loc[out["n_contributors"] == 0, "masked"].any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_without_secondary_suppression_a_lone_masked_cell_is_found_exposed(table):
    cells, hierarchies = table
    system = _system(cells, hierarchies)
    report = protect(system, RULES, secondary=False)
    masked = system.cells["masked"].to_numpy()
    members = system.relations.members()
    per_relation = members.assign(m=masked[members["cell"]]).groupby("relation")["m"].transform("sum")
    lone = set(members.loc[(per_relation == 1) & masked[members["cell"]], "cell"])
    exposed = set(report.exposed["cell_id"])
    assert lone <= exposed
    if lone:
        assert not report.passed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(COUNTS[1:]), st.floats(0.01, 1e4), st.floats(0.0, 1.0)),
                min_size=1, max_size=12),
       st.sampled_from([r.id for r in RULES.rules]))
def test_a_period_whose_slots_all_pass_passes_too_with_the_sound_bounds(slots, rule_id):
    """Mediant inequality: if every half-hour passes, the period passes with count = max count and
    largest = sum of the per-slot largest (what UC3 knows), so closing masks upward loses nothing."""
    attrs = ATTRIBUTES[rule_id]
    rows = []
    for n, value, share in slots:
        largest = value if n == 1 else value * (1 / n + share * (1 - 1 / n))
        rows.append({**attrs, "value": value, "n_contributors": n, "largest_contributor": largest})
    frame = pd.DataFrame(rows)
    slot = evaluate_primary(frame, RULES, unit="MWh")
    assert (slot["rule_id"] == rule_id).all()
    passing = frame[(slot["primary_reason"] == "").to_numpy()]
    if passing.empty:
        return
    period = pd.DataFrame([{**attrs, "value": passing["value"].sum(), "n_contributors": passing["n_contributors"].max(),
                            "largest_contributor": passing["largest_contributor"].sum()}])
    assert evaluate_primary(period, RULES, unit="MWh")["primary_reason"].iat[0] == ""


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(3, 8), st.data())
def test_with_contributor_level_data_the_period_total_passes_dominance_too(n_slots, n_contrib, data):
    """Per contributor period totals (the exact dominance figure): largest total <= sum of slot maxima."""
    matrix = np.array(data.draw(st.lists(st.lists(st.floats(0, 100), min_size=n_contrib, max_size=n_contrib),
                                         min_size=n_slots, max_size=n_slots)))
    slot_total, slot_max = matrix.sum(axis=1), matrix.max(axis=1)
    ok = slot_max <= 0.85 * slot_total
    if not ok.any():
        return
    kept = matrix[ok]
    assert kept.sum(axis=0).max() <= slot_max[ok].sum() + 1e-9 <= 0.85 * kept.sum() + 1e-6
