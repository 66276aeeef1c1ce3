"""UC1 sample: deterministic, in the providers' formats, with the providers' own secrecy, over the referential's communes."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.simulate import simulate as play
from energy_pipelines.simulate import uc1 as sim
from energy_pipelines.sources.cigale_inventory import ADAPTER as CIGALE
from energy_pipelines.sources.enedis_production_annual import ADAPTER as ENEDIS
from energy_pipelines.sources.insee_cog import ADAPTER as COG
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.ore_aggregates import ADAPTER as ORE_AGG
from energy_pipelines.sources.ore_consumption import ADAPTER as ORE
from energy_pipelines.transforms.territorial.indicators import Uc1Settings, energy_balance

UTC = timezone.utc
START, END = datetime(2019, 12, 31, 23, tzinfo=UTC), datetime(2020, 12, 31, 23, tzinfo=UTC)  # the year 2020


def simulate(root, adapter, source):
    zone = LandingZone(root, source)
    play(source, zone, START, END)
    return zone


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("uc1_landing")
    zones = {s: simulate(root, a, s) for s, a in (("insee_cog", COG), ("ore_local", ORE), ("ore_aggregates", ORE_AGG),
                                                  ("enedis_production_annual", ENEDIS), ("atmosud_cigale", CIGALE))}
    return root, zones


def read(zone, adapter):
    out = zone.read_window(adapter, START, END)
    assert not out.bad_files and out.rejects.empty
    return out.rows


def test_the_sample_is_deterministic(landing, tmp_path):
    root, zones = landing
    again = simulate(tmp_path, COG, "insee_cog")
    for source, adapter in (("ore_local", ORE), ("atmosud_cigale", CIGALE), ("enedis_production_annual", ENEDIS)):
        zone = simulate(tmp_path, adapter, source)
        for path in zones[source].files():
            assert (zone.dir / path.name).read_bytes() == path.read_bytes(), path.name
    assert again.files()


def test_ore_masks_as_its_note_says_and_marks_it_as_ore_does(landing):
    root, zones = landing
    communes = sim.communes_of(sim.simulation_referential(root))
    split = {c.code for c in communes if c.iris_weights is not None}
    truth = pd.concat([sim.ore_commune_cells(c, 2020).assign(commune=c.code) for c in communes if c.code not in split])
    rows = read(zones["ore_local"], ORE)
    rows = rows[(rows["maille"] == "commune") & ~rows["commune_code"].isin(split)]
    code = {"agriculture": "a", "industrie": "i", "tertiaire": "t", "residentiel": "r", "non_affecte": "na"}
    published = rows.assign(sector=rows["sector"].map(code)).set_index(
        ["commune_code", "operator", "energy", "sector"])["secret"]
    for r in truth.itertuples(index=False):
        expected = bool(sim.ore_secret(r.energy, r.sector, np.array([r.mwh]), np.array([r.points]))[0])
        assert published[(r.commune, r.operator, r.energy, r.sector)] == expected
    res = truth[(truth["sector"] == "r") & (truth["energy"] == "electricite")]
    assert (res["points"].between(1, 9)).any()  # small communes exist, and were masked above
    assert rows.loc[rows["secret"], "secret_marker"].eq("zero_with_count").all()


def test_enedis_blanks_only_small_low_voltage_cells(landing):
    _, zones = landing
    rows = read(zones["enedis_production_annual"], ENEDIS)
    assert rows["secret"].any()
    assert set(rows.loc[rows["secret"], "voltage_domain"]) == {"BT <= 36 kVA"}
    low = rows[(rows["voltage_domain"] == "BT <= 36 kVA") & ~rows["secret"]]
    assert ((low["sites"] == 0) | (low["sites"] >= 10)).all()
    dep = rows[rows["maille"] == "departement"]
    assert set(dep["departement_code"]) <= set(sim.DEP_NAMES) and "Bouches-du-Rhône" in set(dep["territory_name"])


def test_operators_aggregates_are_the_sums_of_their_commune_files(landing):
    root, zones = landing
    communes = pd.concat([COG.read_file(p).rows for p in zones["insee_cog"].files()], ignore_index=True)
    result = energy_balance(read(zones["ore_local"], ORE), read(zones["enedis_production_annual"], ENEDIS),
                            read(zones["atmosud_cigale"], CIGALE), communes, params=Uc1Settings(),
                            ore_aggregates=read(zones["ore_aggregates"], ORE_AGG))
    check = result.figures["ore_departement_check"]
    assert check["cells_compared"] > 20 and max(check["max_relative_gap_by_year"].values()) < 1e-5


def test_inventory_and_measures_tell_the_same_story(landing):
    root, zones = landing
    ore = read(zones["ore_local"], ORE)
    cig = read(zones["atmosud_cigale"], CIGALE)
    measured = ore[(ore["maille"] == "commune") & (ore["energy"] == "electricite") & (ore["sector"] == "residentiel")
                   & ~ore["secret"] & (ore["secret_cells"] == 0)].groupby("commune_code")["consumption_mwh"].sum()
    modelled = cig[(cig["measure"] == "consumption") & (cig["category"] == "electricite")
                   & (cig["sector"] == "residentiel")].set_index("commune_code")["energy_mwh"]
    ratio = (measured / modelled.reindex(measured.index)).dropna()
    assert len(ratio) > 50 and ratio.between(0.95, 1.05).all()
    per_capita = cig[cig["measure"] == "consumption"]["energy_mwh"].sum() / sum(
        c.population_in(2020) for c in sim.communes_of(sim.simulation_referential(root)))
    assert 12 < per_capita < 40  # MWh of final energy per inhabitant: PACA's order of magnitude


def test_the_sample_covers_the_communes_of_the_referential_delivered(tmp_path):
    cog = tmp_path / "insee_cog"
    cog.mkdir()
    (cog / "v_commune_2024.csv").write_text(
        "TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT\n"
        "COM,05001,93,05,,,0,ABRIES,Abriès,Abriès-Ristolas,,\nCOM,84007,93,84,,,0,AVIGNON,Avignon,Avignon,,\n"
        "COM,75056,11,75,,,0,PARIS,Paris,Paris,,\n", encoding="utf-8")
    zone = LandingZone(tmp_path, "atmosud_cigale")
    sim.write_cigale(zone, START, END)
    rows = CIGALE.read_file(zone.files()[0]).rows
    assert set(rows["commune_code"]) == {"05001", "84007"}
