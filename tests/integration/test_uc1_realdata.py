"""UC1 on real files: Agence ORE's département export, its per-NAF region export, Enedis's defective copy, and
the real COG + EPCI referential driving the sample over all 946 PACA communes and 52 EPCI."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_pipelines.simulate import simulate
from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.settings import load_settings
from energy_pipelines.sources.enedis_production_annual import ADAPTER as ENEDIS
from energy_pipelines.sources.insee_cog import ADAPTER as COG
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.ore_consumption import ADAPTER as ORE
from energy_pipelines.storage import ParquetStore
from tests.conftest import REALDATA

pytestmark = pytest.mark.realdata
UTC = timezone.utc
ORE_DEP = "ore_energy_annual/conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-departement_labels_2011-2019.csv"
ORE_NAF = "ore_energy_annual/conso-elec-gaz-annuelle-par-naf-agregee-region.csv"
ENEDIS_DEP = "enedis_production_departement/production-electrique-par-filiere-a-la-maille-departement.csv"
SECTOR_WORDS = {"Agriculture": "agriculture", "Industrie": "industrie", "Tertiaire": "tertiaire",
                "Résidentiel": "residentiel", "Secteur Inconnu": "non_affecte"}


def ore_file_cells(path, region: str | None = "93") -> pd.DataFrame:
    """The département file's cells (PACA's by default), read independently of our reader (pandas, labels as published)."""
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    raw = raw[raw["Code Région"] == region] if region else raw
    cells = []
    for word, sector in SECTOR_WORDS.items():
        conso = next(c for c in raw.columns if c.startswith(f"Consommation {word}"))
        points = f"Nombre de points {word}"
        secret = next(c for c in raw.columns if c.startswith("Nombre de mailles secret") and word.lower() in c.lower())
        cells.append(pd.DataFrame({"year": raw["Année"].astype(int), "sector": sector,
                                   "mwh": pd.to_numeric(raw[conso]), "points": pd.to_numeric(raw[points]),
                                   "count": pd.to_numeric(raw[secret])}))
    return pd.concat(cells, ignore_index=True)


@pytest.fixture(scope="module")
def ore_run(tmp_path_factory):
    """The real département file dropped in landing/ore_aggregates/, its nine years materialised (live, offline)."""
    if not REALDATA.exists():
        pytest.skip(f"real data folder not present at {REALDATA}")
    realdata = REALDATA
    home = tmp_path_factory.mktemp("uc1_real")
    landing = home / "landing" / "ore_aggregates"
    landing.mkdir(parents=True)
    shutil.copy(realdata / ORE_DEP, landing)
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_PARTITIONS_START": "2011-01-01",
                              "ENERGY_PIPELINES_SOURCES__ORE_AGGREGATES__MODE": "live",
                              "ENERGY_PIPELINES_OFFLINE": "true"})
    defs = build_defs(settings)
    result = dg.materialize(list(defs.assets), selection=[dg.AssetKey("raw_ore__aggregate_consumption")],
                            instance=dg.DagsterInstance.ephemeral(), resources=defs.resources,
                            tags={"dagster/asset_partition_range_start": "2011",
                                  "dagster/asset_partition_range_end": "2019"}, raise_on_error=True)
    assert result.success
    store = ParquetStore(home / "warehouse")
    spec = default_catalog()["raw_ore__aggregate_consumption"]
    rows = store.read(spec.id, time_column=spec.time_column).to_pandas()
    try:
        rejects = store.read(spec.rejects_id, time_column="partition_start_utc").to_pandas()
    except FileNotFoundError:  # nothing was ever quarantined
        rejects = None
    return rows, rejects


def test_paca_totals_per_year_and_sector_equal_the_files_own_sums(ore_run, realdata):
    rows, _ = ore_run
    paca = rows[rows["region_code"] == "93"]
    ours = paca.groupby(["year", "sector"])["consumption_mwh"].sum()
    theirs = ore_file_cells(realdata / ORE_DEP).groupby(["year", "sector"])["mwh"].sum()
    assert len(theirs) == 9 * 5
    pd.testing.assert_series_equal(ours.sort_index(), theirs.sort_index(), check_names=False, rtol=1e-12)
    # and the file's own total column agrees with them (the publisher's arithmetic)
    raw = pd.read_csv(realdata / ORE_DEP, sep=";", dtype=str, keep_default_na=False)
    raw = raw[raw["Code Région"] == "93"]
    assert pd.to_numeric(raw["Consommation totale (MWh)"]).sum() == pytest.approx(ours.sum(), rel=1e-12)


def test_secret_cells_are_recognised_as_secret_not_as_zero_consumption(ore_run, realdata):
    rows, rejects = ore_run
    cells = ore_file_cells(realdata / ORE_DEP, region=None)
    masked = cells[(cells["mwh"] == 0) & (cells["points"] == 0) & (cells["count"] > 0)]
    assert len(masked) == 87 and rows["secret"].sum() == len(masked)  # France: 87 cells wholly secret
    assert rows.loc[rows["secret"], "consumption_mwh"].isna().all()
    assert rows.loc[rows["secret"], "secret_marker"].eq("zero_with_count").all()
    true_zeros = cells[(cells["mwh"] == 0) & (cells["count"] == 0)]
    assert (rows["consumption_mwh"] == 0).sum() == len(true_zeros)  # real zeros stay zeros
    assert len(rows) == len(cells) and (rejects is None or rejects.empty)  # nothing lost
    # PACA: no aggregate is wholly secret, but many omit secret communes; they keep their count
    paca = rows[rows["region_code"] == "93"]
    assert not paca["secret"].any() and set(paca["departement_code"]) == {"04", "05", "06", "13", "83", "84"}
    file_counts = ore_file_cells(realdata / ORE_DEP).groupby(["year", "sector"])["count"].sum()
    ours = paca.groupby(["year", "sector"])["secret_cells"].sum()
    pd.testing.assert_series_equal(ours.sort_index().astype(int), file_counts.sort_index().astype(int),
                                   check_names=False)
    assert file_counts.sum() > 0


def test_the_per_naf_region_file_sums_to_its_sectors(realdata, tmp_path):
    read = ORE.read_file(realdata / ORE_NAF)
    assert read.rejects.empty and read.stats["rows"] == read.stats["lines"]
    paca = read.rows[read.rows["region_code"] == "93"]
    raw = pd.read_csv(realdata / ORE_NAF, sep=";", dtype=str, keep_default_na=False)
    raw = raw[raw["code_region"] == "93"]
    theirs = pd.to_numeric(raw["conso"]).groupby([raw["annee"].astype(int), raw["code_grand_secteur"]]).sum()
    ours = paca.groupby(["year", "sector"])["consumption_mwh"].sum(min_count=1).fillna(0)
    code = {"A": "agriculture", "I": "industrie", "T": "tertiaire", "R": "residentiel", "X": "non_affecte"}
    theirs.index = theirs.index.set_levels(theirs.index.levels[1].map(code), level=1)
    pd.testing.assert_series_equal(ours.sort_index(), theirs.sort_index(), check_names=False, rtol=1e-12)


def test_enedis_real_file_with_its_defects(realdata):
    read = ENEDIS.read_file(realdata / ENEDIS_DEP)
    assert read.rejects.empty and read.stats["lines"] == 3666
    assert read.stats["names_repaired"] > 0 and read.stats["codes_padded"] > 0
    paca = read.rows[read.rows["region_code"] == "93"]
    assert set(paca["departement_code"]) == {"04", "05", "06", "13", "83", "84"}
    assert {"Bouches-du-Rhône", "Alpes-Maritimes"} <= set(paca["territory_name"])
    assert not paca["territory_name"].str.contains("Ã").any()
    # the 220 blank cells of the PACA rows are 110 secret (count, energy) pairs, all in BT <= 36 kVA
    assert paca["secret"].sum() == 110 and paca.loc[paca["secret"], ["sites", "energy_mwh"]].isna().all().all()
    assert set(paca.loc[paca["secret"], "voltage_domain"]) == {"BT <= 36 kVA"}
    raw = pd.read_csv(realdata / ENEDIS_DEP, dtype=str, keep_default_na=False)
    raw = raw[raw["code_region"] == "93"]
    pv = pd.to_numeric(raw["energie_produite_annuelle_photovoltaique_enedis_mwh"].replace("", np.nan))
    assert paca.loc[paca["filiere"] == "photovoltaique", "energy_mwh"].sum() == pytest.approx(pv.sum(), rel=1e-12)


@pytest.mark.slow
def test_the_sample_over_the_real_referential_clusters_all_52_epci(realdata, tmp_path):
    """The real COG and EPCI files in landing/insee_cog/: the sample covers the 946 communes, and EPCIs are
    numerous enough to be grouped, with stability and profiles."""
    from energy_pipelines.sources.cigale_inventory import ADAPTER as CIGALE
    from energy_pipelines.sources.insee_population import ADAPTER as POPULATION
    from energy_pipelines.transforms.territorial.clustering import ClusteringParams, territorial_clusters
    from energy_pipelines.transforms.territorial.indicators import Uc1Settings, energy_balance, ghg_emissions
    from energy_pipelines.transforms.territorial.ratios import TargetSet, Uc1Targets, territorial_indicators

    cog = tmp_path / "insee_cog"
    cog.mkdir()
    for name in ("insee_cog_communes_paca.csv", "dgcl_epcicom_paca.csv"):
        shutil.copy(realdata / "cog-paca-communes-epci" / name, cog)
    communes = pd.concat([COG.read_file(p).rows for p in sorted(cog.glob("*.csv"))], ignore_index=True)
    start, end = datetime(2021, 12, 31, 23, tzinfo=UTC), datetime(2022, 12, 31, 23, tzinfo=UTC)
    rows = {}
    for source, adapter in (("ore_local", ORE), ("enedis_production_annual", ENEDIS), ("atmosud_cigale", CIGALE),
                            ("insee_population", POPULATION)):
        zone = LandingZone(tmp_path, source)
        simulate(source, zone, start, end)
        rows[source] = zone.read_window(adapter, start, end).rows
    assert rows["atmosud_cigale"]["commune_code"].nunique() == 946
    settings = Uc1Settings()
    balance = energy_balance(rows["ore_local"], rows["enedis_production_annual"], rows["atmosud_cigale"], communes,
                             params=settings)
    assert balance.figures["communes_in_referential"] == 946 and balance.figures["epci"] == 52
    assert balance.rejects.empty
    emissions = ghg_emissions(rows["atmosud_cigale"], communes, params=settings).data
    targets = Uc1Targets(source="test", reference_year=2022, default=TargetSet(consumption_change_pct={2030: -30}))
    indicators = territorial_indicators(balance.data, emissions, rows["insee_population"], communes, params=targets).data
    assert indicators[indicators["level"] == "epci"]["consumption_per_capita_mwh"].notna().sum() == 52
    clusters = territorial_clusters(indicators, balance.data, communes,
                                    params=ClusteringParams(levels=("epci",), bootstrap=20))
    info = clusters.figures["2022/epci/consumption"]
    assert info["units"] == 52 and 3 <= info["k"] <= 8
    assert info["stability"]["replicates"] == 20 and 0 <= info["stability"]["ari_mean"] <= 1
    assert info["profiles"] and sum(info["cluster_sizes"].values()) == info["units_fitted"]
