"""UC1 indicators: exact roll-ups, the providers' secrecy carried (never zero), ratios that fail closed, targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.sources.cigale_inventory import RAW_COLUMNS as CIGALE_RAW
from energy_pipelines.sources.ore_consumption import year_start_utc
from energy_pipelines.territories import Centroid, Commune, Territory
from energy_pipelines.transforms.territorial.indicators import Uc1Settings, energy_balance, ghg_emissions
from energy_pipelines.transforms.territorial.ratios import TargetSet, Uc1Targets, path_value, territorial_indicators

COMMUNES = [("04001", "Aiglun", "04", "200067437", "Agglo A", 1400), ("04009", "Archail", "04", "200067437", "Agglo A", 20),
            ("13001", "Aix", "13", "200054807", "Métropole B", 145000), ("13002", "Allauch", "13", "200054807",
                                                                           "Métropole B", 21000)]
PARK = {"park": Territory(id="park", name="Parc", kind="pnr", centroid=Centroid(lat=43.5, lon=5.5), source="test",
                          communes=(Commune(code="04009", name="Archail", partial=True),
                                    Commune(code="13002", name="Allauch")))}
SETTINGS = Uc1Settings()


def referential(communes=COMMUNES) -> pd.DataFrame:
    rows = []
    for code, name, dep, epci, ename, pop in communes:
        rows.append({"file_kind": "cog_communes", "millesime": 2024, "commune_code": code, "commune_type": "COM",
                     "commune_name": name, "departement_code": dep, "region_code": "93", "epci_siren": None,
                     "epci_name": None, "population": None})
        rows.append({"file_kind": "epci_composition", "millesime": 2024, "commune_code": code, "commune_type": "COM",
                     "commune_name": name, "departement_code": dep, "region_code": None, "epci_siren": epci,
                     "epci_name": ename, "population": pop})
    return pd.DataFrame(rows)


def ore(cells: list[dict]) -> pd.DataFrame:
    """cells: year, commune, energy, sector, mwh, points, [secret], [secret_cells], [operator], [file]."""
    rows = []
    for i, c in enumerate(cells):
        secret = c.get("secret", False)
        rows.append({"datetime_utc": None, "year": c.get("year", 2020), "maille": "commune",
                     "operator": c.get("operator", "Enedis"), "energy": c["energy"], "sector": c["sector"],
                     "commune_code": c["commune"], "departement_code": c["commune"][:2],
                     "consumption_mwh": np.nan if secret else c["mwh"],
                     "delivery_points": pd.NA if secret else c["points"], "secret": secret,
                     "secret_cells": c.get("secret_cells", 1 if secret else 0),
                     "source_file": c.get("file", "ore_2020.csv"), "source_line": i + 2})
    frame = pd.DataFrame(rows)
    frame["datetime_utc"] = year_start_utc(frame["year"])
    return frame


def cigale(rows: list[tuple], version="v11.1", file="cigale.csv") -> pd.DataFrame:
    """rows: (year, commune, measure, sector, category, value[, contributors, share])."""
    out = []
    for i, r in enumerate(rows):
        year, commune, measure, sector, category, value = r[:6]
        out.append({"year": year, "inventory_version": version, "commune_code": commune, "measure": measure,
                    "sector": sector, "category": category,
                    "energy_mwh": value if measure != "emissions" else np.nan,
                    "emissions_tco2e": value if measure == "emissions" else np.nan,
                    "contributors": r[6] if len(r) > 6 else pd.NA,
                    "largest_contributor_share_pct": r[7] if len(r) > 7 else np.nan,
                    "source_file": file, "source_line": i + 2})
    frame = pd.DataFrame(out)
    frame["datetime_utc"] = year_start_utc(frame["year"])
    return frame


NO_ENEDIS = pd.DataFrame(columns=["datetime_utc", "year", "maille", "commune_code", "voltage_domain", "filiere",
                                  "sites", "energy_mwh", "secret", "source_file", "source_line"])


def cell(frame, **where) -> pd.Series:
    sel = pd.Series(True, index=frame.index)
    for k, v in where.items():
        sel &= frame[k] == v
    rows = frame[sel]
    assert len(rows) == 1, (where, len(rows))
    return rows.iloc[0]


def balance(ore_rows, cigale_rows=None, enedis=NO_ENEDIS, communes=None, territories=None):
    return energy_balance(ore_rows, enedis, cigale_rows if cigale_rows is not None else pd.DataFrame(columns=CIGALE_RAW),
                          communes if communes is not None else referential(), params=SETTINGS,
                          territories=territories if territories is not None else PARK)


def full_cigale(year=2020, skip=()):
    rows = []
    for code, *_ in COMMUNES:
        if code in skip:
            continue
        rows += [(year, code, "consumption", "residentiel", "electricite", 100.0),
                 (year, code, "consumption", "residentiel", "gaz", 50.0),
                 (year, code, "consumption", "industrie", "electricite", 30.0, 4, 80.0),
                 (year, code, "production", "total", "photovoltaique", 20.0)]
    return cigale(rows)


# -- additive cells ----------------------------------------------------------------------------------

def test_ore_secret_cell_is_unknown_and_makes_the_cigale_cell_of_that_commune_secret_too():
    rows = ore([{"commune": "04009", "energy": "electricite", "sector": "residentiel", "mwh": 0, "points": 0,
                 "secret": True},
                {"commune": "04001", "energy": "electricite", "sector": "residentiel", "mwh": 5000.0, "points": 700}])
    out = balance(rows, full_cigale()).data
    secret = cell(out, level="commune", territory_code="04009", source="ore", carrier="electricite", sector="residentiel")
    assert pd.isna(secret["energy_mwh"]) and secret["value_status"] == "secret" and secret["open_data_secret"]
    assert pd.isna(secret["contributors"])
    epci = cell(out, level="epci", territory_code="200067437", source="ore", carrier="electricite", sector="residentiel")
    assert epci["energy_mwh"] == 5000.0 and epci["value_status"] == "lower_bound" and epci["secret_cells"] == 1
    assert not epci["open_data_secret"]  # aggregates are for the secrecy engine to judge
    inventory = cell(out, level="commune", territory_code="04009", source="cigale", measure="consumption",
                     carrier="electricite", sector="residentiel")
    assert inventory["energy_mwh"] == 100.0 and inventory["value_status"] == "exact" and inventory["open_data_secret"]
    other = cell(out, level="commune", territory_code="04001", source="cigale", measure="consumption",
                 carrier="electricite", sector="residentiel")
    assert not other["open_data_secret"] and other["contributors"] == 700  # ORE's delivery points stand in


def test_contributors_add_across_communes_and_sectors_but_not_across_energies():
    rows = ore([{"commune": "04001", "energy": "electricite", "sector": "residentiel", "mwh": 10.0, "points": 30},
                {"commune": "04001", "energy": "gaz", "sector": "residentiel", "mwh": 8.0, "points": 12},
                {"commune": "04001", "energy": "electricite", "sector": "tertiaire", "mwh": 5.0, "points": 4},
                {"commune": "04009", "energy": "electricite", "sector": "residentiel", "mwh": 3.0, "points": 11},
                {"commune": "04001", "energy": "electricite", "sector": "residentiel", "mwh": 2.0, "points": 1,
                 "operator": "RTE"}])
    out = balance(rows).data
    c = dict(level="commune", territory_code="04001", source="ore")
    assert cell(out, **c, carrier="electricite", sector="residentiel")["contributors"] == 31  # two operators
    assert cell(out, **c, carrier="electricite", sector="total")["contributors"] == 35
    assert cell(out, **c, carrier="total", sector="residentiel")["contributors"] == 31  # max(31, 12)
    assert cell(out, **c, carrier="total", sector="total")["energy_mwh"] == pytest.approx(25.0)
    epci = cell(out, level="epci", territory_code="200067437", source="ore", carrier="electricite", sector="residentiel")
    assert epci["contributors"] == 42 and epci["communes"] == 2 and epci["energy_mwh"] == pytest.approx(15.0)


def test_largest_contributor_and_unknown_counts_follow_the_cells():
    out = balance(ore([{"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2}]),
                  full_cigale()).data
    ind = cell(out, level="commune", territory_code="04001", source="cigale", measure="consumption",
               carrier="electricite", sector="industrie")
    assert ind["contributors"] == 4 and ind["largest_contributor_mwh"] == pytest.approx(24.0)
    total = cell(out, level="commune", territory_code="04001", source="cigale", measure="consumption",
                 carrier="total", sector="total")
    assert pd.isna(total["contributors"]) and pd.isna(total["largest_contributor_mwh"])  # residential gas unknown


def test_a_commune_missing_from_the_inventory_makes_its_territories_incomplete_not_smaller():
    out = balance(ore([{"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2}]),
                  full_cigale(skip={"13002"})).data
    sel = dict(source="cigale", measure="consumption", carrier="total", sector="total")
    epci = cell(out, level="epci", territory_code="200054807", **sel)
    assert pd.isna(epci["energy_mwh"]) and epci["value_status"] == "incomplete" and epci["missing_communes"] == 1
    assert cell(out, level="territoire", territory_code="park", **sel)["value_status"] == "incomplete"
    assert cell(out, level="region", territory_code="93", **sel)["value_status"] == "incomplete"
    whole = cell(out, level="epci", territory_code="200067437", **sel)
    assert whole["energy_mwh"] == pytest.approx(2 * 180.0) and whole["value_status"] == "exact"


def test_the_latest_inventory_version_replaces_the_older_ones():
    old = full_cigale().assign(inventory_version="v10.2", energy_mwh=lambda f: f["energy_mwh"] * 3)
    new = full_cigale()
    both = pd.concat([old.assign(source_file="old.csv"), new.assign(source_file="new.csv")], ignore_index=True)
    result = balance(ore([{"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2}]), both)
    region = cell(result.data, level="region", territory_code="93", source="cigale", measure="consumption",
                  carrier="total", sector="total")
    assert region["energy_mwh"] == pytest.approx(4 * 180.0)
    assert result.figures["cigale_rows_of_superseded_versions"] == len(old)
    assert result.figures["cigale_versions_used"] == {2020: "v11.1"}


def test_unknown_commune_of_the_region_is_quarantined_other_regions_are_out_of_scope():
    rows = ore([{"commune": "04999", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2},
                {"commune": "75056", "energy": "gaz", "sector": "tertiaire", "mwh": 9.0, "points": 2},
                {"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2}])
    result = balance(rows)
    assert result.rejects["reason"].str.contains("not in the referential").sum() == 1
    assert "04999" not in set(result.data["territory_code"]) and "75056" not in set(result.data["territory_code"])


def test_a_cell_delivered_twice_keeps_the_latest_file_and_quarantines_the_other():
    rows = ore([{"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 1.0, "points": 2, "file": "a_2020.csv"},
                {"commune": "04001", "energy": "gaz", "sector": "tertiaire", "mwh": 7.0, "points": 3, "file": "b_2020.csv"}])
    result = balance(rows)
    c = cell(result.data, level="commune", territory_code="04001", source="ore", carrier="gaz", sector="tertiaire")
    assert c["energy_mwh"] == 7.0
    assert result.rejects["reason"].tolist() == ["ORE: the same cell is delivered again in b_2020.csv, which is kept"]


values = st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([c[0] for c in COMMUNES]), st.sampled_from(["electricite", "gaz"]),
                          st.sampled_from(["residentiel", "tertiaire", "industrie"]), values, st.integers(1, 900),
                          st.booleans()), min_size=1, max_size=25, unique_by=lambda t: t[:3]))
def test_property_every_aggregate_is_the_sum_of_its_communes(cells):
    rows = ore([{"commune": c, "energy": e, "sector": s, "mwh": v, "points": p, "secret": secret}
                for c, e, s, v, p, secret in cells])
    out = balance(rows).data
    keys = ["year", "source", "measure", "carrier", "sector"]
    communes = out[out["level"] == "commune"]
    members = {"200067437": {"04001", "04009"}, "200054807": {"13001", "13002"}, "04": {"04001", "04009"},
               "13": {"13001", "13002"}, "93": {c[0] for c in COMMUNES}, "park": {"04009", "13002"}}
    for _, agg in out[out["level"] != "commune"].iterrows():
        parts = communes[communes["territory_code"].isin(members[agg["territory_code"]])]
        parts = parts[(parts[keys] == agg[keys]).all(axis=1)]
        assert agg["secret_cells"] == parts["secret_cells"].sum()
        if parts["energy_mwh"].notna().any():
            assert agg["energy_mwh"] == pytest.approx(parts["energy_mwh"].sum(), rel=1e-9, abs=1e-6)
        else:
            assert pd.isna(agg["energy_mwh"]) and agg["value_status"] == "secret"
    # margins: a sector total is the sum of its sectors at every level
    detail = out[(out["sector"] != "total") & (out["carrier"] != "total")]
    sums = detail.groupby(["level", "territory_code", "carrier"])["energy_mwh"].sum(min_count=1)
    totals = out[(out["sector"] == "total") & (out["carrier"] != "total")].set_index(
        ["level", "territory_code", "carrier"])["energy_mwh"]
    pd.testing.assert_series_equal(sums.sort_index(), totals.sort_index(), check_names=False)
    n_secret = sum(1 for *_, s in cells if s)
    assert out[(out["level"] == "commune") & (out["sector"] != "total") & (out["carrier"] != "total")][
        "open_data_secret"].sum() == n_secret


def test_emissions_roll_up_with_gas_and_sector_totals():
    rows = []
    for code, *_ in COMMUNES:
        rows += [(2020, code, "emissions", "residentiel", "co2", 10.0), (2020, code, "emissions", "agriculture", "ch4", 4.0),
                 (2020, code, "emissions", "industrie", "co2", 100.0, 2, 90.0)]
    out = ghg_emissions(cigale(rows), referential(), params=SETTINGS, territories=PARK).data
    region = out[(out["level"] == "region")].set_index(["sector", "gas"])["emissions_tco2e"]
    assert region[("total", "total")] == pytest.approx(4 * 114.0)
    assert region[("total", "co2")] == pytest.approx(4 * 110.0)
    ind = cell(out, level="epci", territory_code="200067437", sector="industrie", gas="co2")
    assert ind["contributors"] == 4 and ind["largest_contributor_tco2e"] == pytest.approx(90.0)


# -- ratios ------------------------------------------------------------------------------------------

TARGETS = Uc1Targets(source="test", reference_year=2018,
                     default=TargetSet(consumption_change_pct={2030: -30, 2050: -50},
                                       emissions_change_pct={2030: -40}, renewable_coverage_pct={2030: 40}))


def population(years=(2017, 2018)) -> pd.DataFrame:
    rows = [{"year": y, "commune_code": code, "population_municipale": pop + (y - 2018) * 10}
            for y in years for code, _n, _d, _e, _en, pop in COMMUNES]
    frame = pd.DataFrame(rows)
    frame["datetime_utc"] = year_start_utc(frame["year"])
    return frame


def yearly_cells(years=(2018, 2019, 2020), factor=(1.0, 0.9, 0.8)):
    bal, em = [], []
    for y, f in zip(years, factor, strict=True):
        rows = []
        for code, *_ in COMMUNES:
            rows += [(y, code, "consumption", "residentiel", "electricite", 100.0 * f),
                     (y, code, "production", "total", "photovoltaique", 10.0 / f),
                     (y, code, "emissions", "residentiel", "co2", 50.0 * f)]
        c = cigale(rows)
        bal.append(energy_balance(ore([{"year": y, "commune": "04001", "energy": "gaz", "sector": "tertiaire",
                                        "mwh": 1.0, "points": 2}]), NO_ENEDIS, c, referential(), params=SETTINGS,
                                  territories=PARK).data)
        em.append(ghg_emissions(c, referential(), params=SETTINGS, territories=PARK).data)
    return pd.concat(bal, ignore_index=True), pd.concat(em, ignore_index=True)


def test_ratios_trends_and_trajectory_of_a_territory():
    bal, em = yearly_cells()
    out = territorial_indicators(bal, em, population(), referential(), params=TARGETS, territories=PARK).data
    r = cell(out, level="epci", territory_code="200067437", year=2020)
    assert r["population"] == 1400 + 20 and r["population_year"] == 2018  # latest millésime <= 2020
    assert r["consumption_mwh"] == pytest.approx(160.0)
    assert r["consumption_per_capita_mwh"] == pytest.approx(160.0 / 1420)
    assert r["renewable_coverage_pct"] == pytest.approx(100 * 25.0 / 160.0)
    assert r["consumption_change_yoy_pct"] == pytest.approx(100 * (0.8 / 0.9 - 1))
    assert r["consumption_change_since_reference_pct"] == pytest.approx(-20.0)
    # linear trajectory: -30 % over 12 years, two years in: -5 %
    assert r["consumption_trajectory_mwh"] == pytest.approx(200.0 * 0.95)
    assert r["consumption_target_2030_mwh"] == pytest.approx(140.0)
    assert r["consumption_gap_to_trajectory_pct"] == pytest.approx(100 * (160 / 190 - 1))
    assert r["renewable_coverage_trajectory_pct"] == pytest.approx(10 + (40 - 10) * 2 / 12)
    assert r["measured_consumption_status"] == "exact" and pd.isna(r["notes"])
    assert pd.isna(cell(out, level="commune", territory_code="04001", year=2020)["consumption_trajectory_mwh"])
    assert pd.isna(cell(out, level="epci", territory_code="200067437", year=2018)["consumption_change_yoy_pct"])


def test_a_masked_cell_nulls_every_ratio_that_uses_it_and_says_why():
    bal, em = yearly_cells()
    masked = bal.assign(masked=(bal["level"] == "epci") & (bal["territory_code"] == "200067437")
                        & (bal["year"] == 2019) & (bal["source"] == "cigale") & (bal["measure"] == "consumption")
                        & (bal["carrier"] == "total") & (bal["sector"] == "total"))
    out = territorial_indicators(masked, em, population(), referential(), params=TARGETS, territories=PARK).data
    r19 = cell(out, level="epci", territory_code="200067437", year=2019)
    assert pd.isna(r19["consumption_mwh"]) and pd.isna(r19["consumption_per_capita_mwh"])
    assert pd.isna(r19["renewable_coverage_pct"]) and "consumption: masked (secret)" in r19["notes"]
    assert pd.isna(cell(out, level="epci", territory_code="200067437", year=2020)["consumption_change_yoy_pct"])
    assert cell(out, level="epci", territory_code="200054807", year=2019)["consumption_mwh"] == pytest.approx(180.0)


def test_population_missing_for_a_commune_nulls_the_territory_population():
    bal, em = yearly_cells()
    pop = population()
    pop = pop[pop["commune_code"] != "13002"]
    out = territorial_indicators(bal, em, pop, referential(), params=TARGETS, territories=PARK).data
    r = cell(out, level="epci", territory_code="200054807", year=2019)
    assert pd.isna(r["population"]) and pd.isna(r["consumption_per_capita_mwh"])
    assert "1 commune(s) without INSEE population" in r["notes"]


@given(st.dictionaries(st.integers(2021, 2060), st.floats(-90, 0), min_size=1, max_size=4),
       st.floats(1, 1e6), st.integers(2000, 2070))
def test_property_trajectory_passes_through_its_points(points, start, year):
    ref = 2020
    value = path_value(points, start, ref, year)
    if year < ref:
        assert np.isnan(value)
        return
    if year == ref:
        assert value == pytest.approx(start)
    if year in points:
        assert value == pytest.approx(points[year])
    ys = [start, *points.values()]
    assert min(ys) - 1e-9 <= value <= max(ys) + 1e-9


def test_targets_cannot_predate_the_reference_year_and_own_targets_cite_a_source():
    with pytest.raises(ValueError, match="not after the reference year"):
        Uc1Targets(source="x", reference_year=2012, default=TargetSet(consumption_change_pct={2010: -5}))
    with pytest.raises(ValueError, match="cite their source"):
        Uc1Targets(source="x", reference_year=2012, default=TargetSet(),
                   epci={"200054807": TargetSet(consumption_change_pct={2030: -20})})


def test_a_ratio_over_object_columns_with_masked_cells_is_null_not_an_error():
    """A masked published cell arrives as None in an object column (the demo's UC1 year failed on it)."""
    import pandas as pd

    from energy_pipelines.transforms.territorial.ratios import _ratio

    num = pd.Series([10.0, None, 6.0], dtype=object)
    den = pd.Series([2, 5, None], dtype=object)
    out = _ratio(num, den)
    assert out.iloc[0] == 5.0 and out.iloc[1:].isna().all()
