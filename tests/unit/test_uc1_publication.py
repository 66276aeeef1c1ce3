"""UC1 published products: CIGALE cells through the one secrecy module, audited from what is published.

The sample (one year) through the readers and the additive transforms, then `published_energy_balance`
and `published_emissions`. The audit (`audit_published`) rebuilds the system from the published table
(a null is unknown to the attacker) and the table before secrecy (true values, protection levels):
it passes on what the engine publishes and finds the exposure when secondary suppression is off.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.clock import Window
from energy_pipelines.secrecy.stored import audit_stored
from energy_pipelines.simulate import simulate
from energy_pipelines.sources.cigale_inventory import ADAPTER as CIGALE
from energy_pipelines.sources.enedis_production_annual import ADAPTER as ENEDIS
from energy_pipelines.sources.insee_cog import ADAPTER as COG
from energy_pipelines.sources.insee_population import ADAPTER as POPULATION
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.ore_consumption import ADAPTER as ORE
from energy_pipelines.transforms.territorial import publish as pb
from energy_pipelines.transforms.territorial.dashboards import dashboards
from energy_pipelines.transforms.territorial.indicators import Uc1Settings, energy_balance, ghg_emissions
from energy_pipelines.transforms.territorial.ratios import TargetSet, Uc1Targets, territorial_indicators
from tests.unit.test_uc1_dashboards import figures_of

UTC = timezone.utc
START, END = datetime(2019, 12, 31, 23, tzinfo=UTC), datetime(2020, 12, 31, 23, tzinfo=UTC)  # 2020
SETTINGS = Uc1Settings()
TARGETS = Uc1Targets(source="test", reference_year=2020,
                     default=TargetSet(consumption_change_pct={2030: -30, 2050: -50},
                                       emissions_change_pct={2030: -55, 2050: -83},
                                       renewable_coverage_pct={2030: 30, 2050: 100}))
ENERGY = {"value": "energy_mwh", "largest": "largest_contributor_mwh", "carrier": "carrier"}
EMISSIONS = {"value": "emissions_tco2e", "largest": "largest_contributor_tco2e", "carrier": "gas", "flow": "emissions"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("uc1_pub")
    rows = {}
    for source, adapter in (("insee_cog", COG), ("ore_local", ORE), ("enedis_production_annual", ENEDIS),
                            ("atmosud_cigale", CIGALE), ("insee_population", POPULATION)):
        zone = LandingZone(root, source)
        simulate(source, zone, START, END)
        window = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)) if source == "insee_cog" \
            else (START, END)
        rows[source] = zone.read_window(adapter, *window).rows
    balance = energy_balance(rows["ore_local"], rows["enedis_production_annual"], rows["atmosud_cigale"],
                             rows["insee_cog"], params=SETTINGS).data
    emissions = ghg_emissions(rows["atmosud_cigale"], rows["insee_cog"], params=SETTINGS).data
    return rows, balance, emissions


@pytest.fixture(scope="module")
def published(sample):
    rows, balance, emissions = sample
    return (pb.published_energy_balance(balance, rows["insee_cog"], params=SETTINGS),
            pb.published_emissions(emissions, rows["insee_cog"], params=SETTINGS))


@pytest.mark.slow
def test_the_audit_finds_no_exposed_cell_in_the_published_uc1_products(sample, published):
    rows, balance, emissions = sample
    energy, ghg = published
    for result, before, kw in ((energy, balance, ENERGY), (ghg, emissions[emissions["gas"] == "total"], EMISSIONS)):
        assert result.figures["secrecy_2020"]["audit_passed"] and result.figures["secrecy_2020"]["exposed_cells"] == 0
        cigale = before[before["source"] == "cigale"]
        report = pb.audit_published(result.data, cigale, rows["insee_cog"], SETTINGS, **kw)
        assert report.passed and report.exposed.empty
        # something was worth protecting: primary cells, and partners masked for them
        assert {"primary", "secondary"} <= set(result.data["secrecy_status"])


@pytest.mark.slow
def test_the_audit_finds_the_exposure_when_secondary_suppression_is_off(sample):
    rows, balance, _ = sample
    production = balance[(balance["source"] == "cigale") & (balance["measure"] == "production")]
    leaky, report = pb.protect_cigale(production, rows["insee_cog"], SETTINGS, secondary=False, **ENERGY)
    assert (leaky["secrecy_status"] == "primary").any() and not (leaky["secrecy_status"] == "secondary").any()
    assert not report.passed
    found = pb.audit_published(leaky, production, rows["insee_cog"], SETTINGS, **ENERGY)
    assert not found.passed and len(found.exposed) > 0
    assert (found.exposed["kind"] == "primary").all()
    safe, _ = pb.protect_cigale(production, rows["insee_cog"], SETTINGS, **ENERGY)
    assert pb.audit_published(safe, production, rows["insee_cog"], SETTINGS, **ENERGY).passed


@pytest.mark.slow
def test_published_tables_say_what_they_hide_and_publish_no_commune(sample, published):
    _, balance, _ = sample
    energy = published[0].data
    assert set(energy["level"]) <= set(pb.PUBLISHED_LEVELS)
    masked = energy[energy["masked"]]
    assert masked["energy_mwh"].isna().all()
    # no CIGALE row says what its largest establishment emits or uses, masked or not (before secrecy some do)
    cigale = energy[energy["source"] == "cigale"]
    assert cigale["largest_contributor_mwh"].isna().all() and len(cigale) > len(masked)
    assert balance.loc[balance["source"] == "cigale", "largest_contributor_mwh"].notna().any()
    assert masked["secrecy_reason"].str.startswith(("primary:", "secondary: protects")).all()
    assert (energy.loc[~energy["masked"], "secrecy_reason"].isna()).all()
    # the operators' open data is published as they publish it: same values, their secrets null
    ore_before = balance[(balance["source"] == "ore") & balance["level"].isin(pb.PUBLISHED_LEVELS)]
    ore_after = energy[energy["source"] == "ore"]
    assert len(ore_after) == len(ore_before) and not ore_after["masked"].any()
    assert np.allclose(ore_after["energy_mwh"].fillna(-1).sort_values().to_numpy(),
                       ore_before["energy_mwh"].fillna(-1).sort_values().to_numpy())


@pytest.mark.slow
def test_dashboards_built_from_the_published_tables_draw_every_chart_they_announce(sample, published):
    rows, _, _ = sample
    energy, ghg = published[0].data, published[1].data
    indicators = territorial_indicators(energy, ghg, rows["insee_population"], rows["insee_cog"], params=TARGETS).data
    # a masked input leaves the figure null, never computed from the hidden value
    region = indicators[(indicators["level"] == "region")].iloc[0]
    total = energy[(energy["level"] == "region") & (energy["source"] == "cigale") & (energy["measure"] == "consumption")
                   & (energy["carrier"] == "total") & (energy["sector"] == "total")]
    assert (region["consumption_mwh"] == total["energy_mwh"].iat[0]) if total["energy_mwh"].notna().iat[0] \
        else np.isnan(region["consumption_mwh"])
    pages = dashboards(energy, ghg, indicators, pd.DataFrame(), rows["insee_cog"], params=SETTINGS).data
    assert "index.html" in set(pages["page"]) and (pages["level"] == "epci").sum() >= 1
    for html in pages["html"]:
        for chart, info in figures_of(html).items():
            assert info["empty"] or (info["points"] > 0 and info["artists"] > 0), chart


@pytest.mark.slow
def test_the_stored_audit_reads_back_uc1_products_and_fails_on_a_leaky_year(sample, published):
    """What the blocking `secrecy_audit` check and `energy-pipelines secrecy-audit` run on UC1's products."""
    rows, balance, emissions = sample
    energy, ghg = published
    stored = {"out_uc1__energy_balance": energy.data, "out_uc1__ghg_emissions": ghg.data,
              "hybrid_uc1__energy_balance": balance, "hybrid_uc1__ghg_emissions": emissions,
              "raw_insee__communes": rows["insee_cog"]}
    asked = []

    def read(dataset, window):
        asked.append((dataset, window.is_all_time))
        return stored[dataset]

    window = Window(START, END)
    result = audit_stored(["out_uc1__ghg_emissions", "out_uc1__energy_balance"], read, window)
    assert result.passed, result.exposed
    assert set(result.reports) == {"uc1_energy", "uc1_emissions"}
    assert result.reports["uc1_energy"].summary["masked_cells"] > 0
    assert ("raw_insee__communes", True) in asked and ("hybrid_uc1__energy_balance", False) in asked

    production = balance[(balance["source"] == "cigale") & (balance["measure"] == "production")]
    leaky, _ = pb.protect_cigale(production, rows["insee_cog"], SETTINGS, secondary=False, **ENERGY)
    stored["out_uc1__energy_balance"] = leaky.assign(masked=leaky["secrecy_status"].eq("primary"))
    stored["hybrid_uc1__energy_balance"] = production
    result = audit_stored(["out_uc1__energy_balance"], read, window)
    assert not result.passed and set(result.reports) == {"uc1_energy"}
    assert (result.exposed["kind"] == "primary").all() and len(result.exposed) > 0
