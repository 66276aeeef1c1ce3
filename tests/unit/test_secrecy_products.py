"""audit_products on long and wide tables of a UC1-like system (communes, EPCI, sectors), with a runtime map."""

import json

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.secrecy import SecrecyProducts, audit_products, cells_from_table

LAYOUTS = SecrecyProducts.model_validate({
    "systems": {"local": {
        "description": "communes and their EPCI x sectors, one year",
        "unit": "MWh", "dimensions": ["geo", "sector"],
        "hierarchies": [{"name": "sectors", "dimension": "sector",
                         "parents": {"residential": "total", "industry": "total"}},
                        {"name": "geography", "dimension": "geo", "parents_from": "epci"}]}},
    "products": {
        "long": {"system": "local", "description": "one row per area and sector",
                 "keys": {"geo": "code"},
                 "measures": [{"column": "consumption_mwh", "cell": {"sector": {"column": "sector"}}}]},
        "wide": {"system": "local", "description": "one row per area, sectors as columns",
                 "keys": {"geo": "code"},
                 "measures": [{"column": "residential_mwh", "cell": {"sector": "residential"}},
                              {"column": "industry_mwh", "cell": {"sector": "industry"}},
                              {"column": "total_mwh", "cell": {"sector": "total"}}],
                 "derived": [{"column": "industry_share_pct", "inputs": ["industry_mwh", "total_mwh"]}]},
    }})
EPCI = {"c1": "e1", "c2": "e1", "c3": "e1"}
VALUES = {("c1", "residential"): 40.0, ("c1", "industry"): 60.0, ("c2", "residential"): 30.0,
          ("c2", "industry"): 10.0, ("c3", "residential"): 20.0, ("c3", "industry"): 25.0}


def _long(masked=()):
    rows = []
    for geo in ("c1", "c2", "c3", "e1"):
        for sector in ("residential", "industry", "total"):
            value = sum(v for (g, s), v in VALUES.items() if geo in (g, EPCI[g]) and sector in (s, "total"))
            rows.append({"code": geo, "sector": sector, "consumption_mwh": np.nan if (geo, sector) in masked
                         else value, "true_mwh": value})
    return pd.DataFrame(rows)


def _wide(long):
    wide = long.pivot(index="code", columns="sector", values="consumption_mwh").add_suffix("_mwh").reset_index()
    wide["industry_share_pct"] = 100 * wide["industry_mwh"] / wide["total_mwh"]
    return wide


def _truth(long):
    return pd.DataFrame({"geo": long["code"], "sector": long["sector"], "value": long["true_mwh"],
                         "masked": long["consumption_mwh"].isna(), "mask_kind": "primary",
                         "protection_pct": np.where(long["consumption_mwh"].isna(), 10.0, 0.0)})


def test_long_and_wide_tables_give_the_same_cells():
    long = _long()
    a = cells_from_table(long, LAYOUTS.products["long"], LAYOUTS.systems["local"], "long")
    b = cells_from_table(_wide(long), LAYOUTS.products["wide"], LAYOUTS.systems["local"], "wide")
    key = ["geo", "sector"]
    assert a.sort_values(key)[[*key, "value"]].reset_index(drop=True).equals(
        b.sort_values(key)[[*key, "value"]].reset_index(drop=True))


def test_a_commune_cell_recomputed_from_its_epci_is_found_in_long_form():
    long = _long(masked={("c2", "industry")})
    result = audit_products({"long": long}, products=LAYOUTS, truth=_truth(long), maps={"epci": EPCI})
    assert not result.passed
    assert result.exposed["exposure"].tolist() == ["recovered exactly (10)"]
    json.dumps(result.as_metadata())
    # mask a rectangle (two communes x two sectors): every cell can move by the other corner's value
    safe = _long(masked={("c2", "industry"), ("c2", "residential"), ("c3", "industry"), ("c3", "residential")})
    assert audit_products({"long": safe}, products=LAYOUTS, truth=_truth(safe), maps={"epci": EPCI}).passed


def test_the_geographic_map_must_be_given_and_a_derived_column_must_follow_its_inputs():
    long = _long(masked={("c2", "industry"), ("c2", "residential"), ("c3", "industry"), ("c3", "residential")})
    with pytest.raises(ValueError, match="takes its map from 'epci'"):
        audit_products({"long": long}, products=LAYOUTS, truth=_truth(long))
    wide = _wide(long)
    wide.loc[wide["code"] == "c2", "industry_share_pct"] = 25.0  # 10 / 40 published next to masked inputs
    result = audit_products({"wide": wide}, products=LAYOUTS, truth=_truth(long), maps={"epci": EPCI})
    assert result.reports["local"].passed and not result.passed
    assert result.violations[["column", "problem"]].values.tolist() == [
        ["industry_share_pct", "published although an input is masked"]]


def test_the_same_cell_published_in_one_table_and_masked_in_another_is_a_violation():
    masked = _long(masked={("c2", "industry"), ("c2", "residential"), ("c3", "industry"), ("c3", "residential")})
    clear = _wide(_long())
    result = audit_products({"long": masked, "wide": clear}, products=LAYOUTS, truth=_truth(masked),
                            maps={"epci": EPCI})
    assert not result.passed
    assert set(result.violations["problem"]) == {"masked in one product, published in another"}


def test_a_system_with_nothing_stored_yet_passes_with_no_cell():
    """The blocking check of a product materialised before the others (the demo's forecasts) audits nothing."""
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.clock import Window
    from energy_pipelines.secrecy import load_products
    from energy_pipelines.secrecy.stored import audit_stored

    catalog = default_catalog()
    asked = []

    def read(dataset, window):
        asked.append(dataset)
        return catalog[dataset].table_schema.to_arrow().empty_table().to_pandas()

    result = audit_stored(["out_uc3__forecasts"], read, Window.all_time())
    assert set(asked) == {p for p, layout in load_products().products.items() if layout.system == "uc3"} | {
        "core_enedis__territorial_energy"}
    assert result.passed and result.reports["uc3"].summary["masked_cells"] == 0
