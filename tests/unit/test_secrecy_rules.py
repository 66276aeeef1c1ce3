"""Primary secrecy rules: the catalogue's file, strict loading, each rule at its boundaries."""

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.secrecy import SecrecyConfigError, evaluate_primary, load_products, load_rules
from energy_pipelines.settings import CATALOG_DIR

RULES = load_rules()


def _cells(rows):
    return pd.DataFrame(rows, columns=["fluid", "flow", "sector", "value", "n_contributors", "largest_contributor"])


def test_the_catalogue_rules_cite_their_source_and_protection():
    ids = [r.id for r in RULES.rules]
    assert ids[-1] == "other_aggregates" and not RULES.rules[-1].match  # the catch-all is last
    small = RULES["electricity_small_consumers"]
    assert small.min_contributors == 10 and small.basis == "regulation" and "2020-196" in small.source
    assert set(small.match["sector"]) == {"residential", "professional"}
    gas = RULES["gas_residential"]
    assert (gas.min_contributors, gas.only_if_value_at_most.kwh) == (10, 200_000.0)
    assert RULES["gas_small_professionals"].only_if_value_at_most.kwh == 50_000.0
    other = RULES["other_aggregates"]
    assert (other.min_contributors, other.max_share_pct, other.basis) == (3, 85, "convention")
    assert all(r.protection_pct == 10 and "MAN(10)" in r.protection_source for r in RULES.rules)


def test_primary_rules_at_their_boundaries():
    cells = _cells([
        ("electricity", "consumption", "residential", 100.0, 9, 20.0),   # 0: < 10 points
        ("electricity", "consumption", "residential", 100.0, 10, 90.0),  # 1: no dominance for this rule
        ("electricity", "consumption", "professional", 100.0, 9, 5.0),   # 2: small professionals too
        ("electricity", "consumption", "business", 100.0, 2, 50.0),      # 3: < 3 contributors
        ("electricity", "production", "hydro", 100.0, 3, 86.0),          # 4: 86 % > 85 %
        ("electricity", "production", "hydro", 100.0, 3, 85.0),          # 5: 85 % is allowed
        ("electricity", "production", "solar", 0.0, 0, 0.0),             # 6: empty cell: nothing to protect
        ("electricity", "production", "wind", 100.0, 5, np.nan),         # 7: dominance unknown
        ("gas", "consumption", "residential", 200.0, 9, 30.0),           # 8 (MWh): <= 200 and < 10 points
        ("gas", "consumption", "residential", 200.5, 9, 30.0),           # 9 (MWh): above 200 MWh: published
        ("gas", "consumption", "professional", 50.0, 3, 20.0),           # 10 (MWh): <= 50 MWh professional
        ("gas", "consumption", "professional", 51.0, 3, 20.0),           # 11
        ("electricity", "production", "solar", 3.0, np.nan, 1.0),       # 12: contributors unknown
        ("electricity", "production", "solar", 3.0, 0, 0.0),             # 13: energy without contributor
    ])
    out = evaluate_primary(cells, RULES, unit="MWh")
    masked = (out["primary_reason"] != "").tolist()
    assert masked == [True, False, True, True, True, False, False, True, True, False, True, False, True, True]
    reason = out["primary_reason"]
    assert reason[0] == "primary: 9 contributor(s) < 10 (electricity_small_consumers)"
    assert reason[3] == "primary: 2 contributor(s) < 3 (other_aggregates)"
    assert reason[4] == "primary: largest contributor 86% of the cell > 85% (other_aggregates)"
    assert "unknown" in reason[7] and "unknown" in reason[12] and "inconsistent" in reason[13]
    assert reason[8] == "primary: 9 contributor(s) < 10 and value <= 200 MWh (gas_residential)"
    assert out["rule_id"].tolist()[8:12] == ["gas_residential"] * 2 + ["gas_small_professionals"] * 2
    assert (out["protection_pct"] == 10).all()
    # the same gas cells in kWh: 200 MWh = 200,000 kWh, so 200.5 kWh is now small and secret
    in_kwh = evaluate_primary(cells.iloc[[9]], RULES, unit="kWh")
    assert in_kwh["primary_reason"].iat[0].startswith("primary: 9 contributor(s) < 10 and value <= 200 MWh")


def test_a_cell_no_rule_matches_is_an_error_not_a_publication(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: t\ndescription: only residential\nrules:\n"
        "  - id: res\n    description: residential\n    match: {sector: [residential]}\n    min_contributors: 10\n"
        "    basis: regulation\n    source: a source long enough\n    protection_pct: 10\n"
        "    protection_source: a reason long enough\n")
    rules = load_rules(path)
    with pytest.raises(ValueError, match="no rule matches 1 cell"):
        evaluate_primary(_cells([("electricity", "production", "hydro", 1.0, 1, 1.0)]), rules)
    with pytest.raises(ValueError, match=r"match on \['sector'\], which the cells do not have"):
        evaluate_primary(pd.DataFrame({"value": [1.0], "n_contributors": [1]}), rules)


@pytest.mark.parametrize("text, message", [
    ("version: a\nversion: b\n", "key 'version' appears twice"),
    ("version: a\ndescription: d\nrules:\n  - id: x\n    description: d\n    min_contributor: 3\n",
     "field 'rules.0.min_contributor'"),
    ("version: a\ndescription: d\nrules:\n  - {id: x, description: d, max_share_pct: 120, basis: convention,"
     " source: long enough source, protection_pct: 10, protection_source: long enough reason}\n",
     "field 'rules.0.max_share_pct'"),
    ("version: a\ndescription: d\nrules:\n  - {id: x, description: d, basis: convention,"
     " source: long enough source, protection_pct: 10, protection_source: long enough reason}\n",
     "sets min_contributors, max_share_pct or both"),
    ("version: a\ndescription: d\nrules:\n  - {id: x, description: d, min_contributors: 3, basis: convention,"
     " source: long enough source, protection_pct: 10, protection_source: long enough reason}\n"
     "  - {id: y, description: d, match: {sector: [a]}, min_contributors: 3, basis: convention,"
     " source: long enough source, protection_pct: 10, protection_source: long enough reason}\n",
     "matches every cell but is not last"),
])
def test_bad_rule_files_are_refused_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(SecrecyConfigError, match=message) as err:
        load_rules(path)
    assert str(path) in str(err.value)


def test_product_layouts_match_the_catalogue_columns_and_the_forecast_window():
    """products.yaml names real columns of each product, and the forecasts' window is the training window."""
    import yaml

    from energy_pipelines.catalog import default_catalog

    catalog = default_catalog()
    products = load_products()
    for pid, layout in products.products.items():
        columns = set(catalog[pid].table_schema.columns)
        named = set(layout.keys.values()) | {m.column for m in layout.measures} | {d.column for d in layout.derived}
        if layout.time:
            named.add(layout.time.column)
        if layout.history:
            named |= {layout.history.by, layout.history.window_end, *layout.history.values}
        assert named <= columns, (pid, named - columns)
    forecast = yaml.safe_load((CATALOG_DIR / "uc3" / "forecast.yaml").read_text())
    assert products.products["out_uc3__forecasts"].history.lookback_days == forecast.get("history_days", 56)
    # every published UC3 product, UC1's CIGALE tables and UC4's per-area product declared here (each gets the
    # blocking secrecy_audit check), each a published product of a secrecy step; the old per-product file gone
    assert {d for d in catalog.datasets if d.startswith("out_uc3__") and d != "out_uc3__regional_balance"} \
        | {"out_uc1__energy_balance", "out_uc1__ghg_emissions", "out_uc4__energy_by_commune"} == set(products.products)
    assert all(catalog[p].publish and catalog[p].step.kind == "secrecy" for p in products.products)
    assert not (CATALOG_DIR / "uc3" / "secrecy.yaml").exists()


def test_a_layout_naming_an_unknown_dimension_is_refused(tmp_path):
    text = (CATALOG_DIR / "secrecy" / "products.yaml").read_text().replace(
        "{column: consumption_residential_kwh, cell: {flow: consumption, category: residential}}",
        "{column: consumption_residential_kwh, cell: {flow: consumption, sector: residential}}", 1)
    path = tmp_path / "products.yaml"
    path.write_text(text)
    with pytest.raises(SecrecyConfigError, match="not a free dimension of 'uc3'") as err:
        load_products(path)
    assert str(path) in str(err.value)
