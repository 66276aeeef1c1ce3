"""UC3 end to end in sample mode: simulator -> landing -> raw -> core -> published products, in Dagster.

One module-scoped run of three weeks (the October 2025 DST change inside) feeds every test here:
the run is what costs (about a minute on two cores); the tests only read its outputs.
"""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.governance.dagster_specs import graph_deps
from energy_pipelines.governance.lineage import compute_lineage
from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.settings import CATALOG_DIR, load_settings
from energy_pipelines.storage import ParquetStore
from energy_pipelines.territories import load_territories
from energy_pipelines.transforms import balance as bl

TERRITORIAL = ["raw_enedis__commune_consumption", "raw_enedis__commune_production", "core_enedis__commune_energy",
               "core_enedis__territorial_energy", "out_uc3__territorial_balance"]
REGIONAL = ["raw_enedis__conso_inf36_region", "raw_enedis__conso_sup36_region", "raw_enedis__prod_region",
            "core_enedis__regional_aggregates", "out_uc3__regional_balance"]
FIRST_DAY, LAST_DAY = "2025-10-06", "2025-10-28"  # 22 Paris days, 26 October has 50 half-hours


class Run:
    def __init__(self, home: Path):
        self.home = home
        self.settings = load_settings({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01"})
        self.defs = build_defs(self.settings)
        self.instance = dg.DagsterInstance.ephemeral()
        self.store = ParquetStore(home / "warehouse")
        self.results = {}

    def materialize(self, names, first_day=None, last_day=None):
        graph = self.defs.resolve_asset_graph()
        keys = [dg.AssetKey(n) for n in names]
        tags = {}
        pdef = graph.get(keys[0]).partitions_def
        if pdef is not None:
            start, end = paris_day_bounds(first_day)[0], paris_day_bounds(last_day)[0]
            window = pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, end))
            tags = {"dagster/asset_partition_range_start": window[0], "dagster/asset_partition_range_end": window[-1]}
        result = dg.materialize(list(self.defs.assets), selection=keys, instance=self.instance,
                                resources=self.defs.resources, tags=tags, raise_on_error=True)
        for event in result.get_asset_materialization_events():
            self.results[event.asset_key.to_user_string()] = event.materialization.metadata
        return result

    def read(self, dataset):
        return self.store.read(dataset, time_column=default_catalog()[dataset].time_column).to_pandas()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = Run(tmp_path_factory.mktemp("uc3"))
    r.materialize(["raw_insee__communes", "core_insee__territory_communes"])
    r.materialize(TERRITORIAL, FIRST_DAY, LAST_DAY)
    r.materialize(REGIONAL, "2025-10-25", "2025-10-28")
    r.materialize(["out_uc3__rates_hourly"], "2025-10-26", "2025-10-27")
    r.materialize(["out_uc3__rates_daily"], "2025-10-01", "2025-11-01")
    r.materialize(["out_uc3__rates_yearly", "out_uc3__pv_what_if"], "2025-01-01", "2026-01-01")
    r.materialize(["raw_meteofrance__weather"], FIRST_DAY, LAST_DAY)
    r.materialize(["out_uc3__forecasts"], "2025-10-07", "2025-10-08")  # one day of history: nothing issued
    r.materialize(["out_uc3__forecasts"], "2025-10-27", "2025-10-28")
    return r


def test_five_territories_balance_every_half_hour_with_a_50_half_hour_day(run):
    balance = run.read("out_uc3__territorial_balance")
    assert set(balance["territory_id"]) == set(load_territories(CATALOG_DIR / "territories"))
    start, end = paris_day_bounds("2025-10-26")
    day = balance[(balance["datetime_utc"] >= start) & (balance["datetime_utc"] < end)]
    assert day.groupby("territory_id").size().eq(50).all()
    published = balance.dropna(subset=["consumption_kwh", "production_kwh"])
    assert np.allclose(published["self_consumed_kwh"],
                       np.minimum(published["consumption_kwh"], published["production_kwh"]))
    assert (balance["consumption_kwh"] > 0).all()
    # the declared territories really differ: the alpine one produces most of what it uses
    rate = balance.groupby("territory_id")[["self_consumed_kwh", "consumption_kwh"]].sum()
    rate = rate["self_consumed_kwh"] / rate["consumption_kwh"]
    assert rate["provence_alpes_agglomeration"] > 0.3 > rate["metropole_aix_marseille"] > 0.02


def test_secrecy_masks_small_filieres_says_why_and_leaves_nothing_to_subtract(run):
    balance = run.read("out_uc3__territorial_balance")
    masked = balance[balance["masked_cells"] > 0]
    assert len(masked) and masked["secrecy_notes"].notna().all()
    assert masked["secrecy_notes"].str.contains("primary: ").all()
    assert masked["secrecy_notes"].str.contains("secondary: protects").all()
    production = [f"production_{c}_kwh" for c in bl.PRODUCTION_CATEGORIES]
    # no row has exactly one masked filière next to a published total
    nulls = balance[production].isna().sum(axis=1)
    assert not ((nulls == 1) & balance["production_kwh"].notna()).any()
    # and no commune-level figure leaves: the closed extracts stay closed
    catalog = default_catalog()
    # the datasets' own assets (publication assets are keyed under a prefix)
    data_assets = [a for a in run.defs.assets if all(len(k.path) == 1 for k in a.keys)]
    lineage = compute_lineage(catalog, graph_deps(data_assets))
    assert lineage["core_enedis__territorial_energy"].access == "closed"
    published = lineage["out_uc3__territorial_balance"]
    assert published.access == "open" and published.lifted_by == "out_uc3__territorial_balance"
    assert not published.personal_data
    assert {"enedis", "insee", "region_sud"} <= set(published.owners)


def test_hourly_rates_are_ratios_of_the_published_sums_and_keep_the_repeated_hour(run):
    hourly = run.read("out_uc3__rates_hourly")
    assert hourly.groupby("territory_id").size().eq(25).all()
    assert (hourly["half_hours_expected"] == 2).all()
    toulon = hourly[hourly["territory_id"] == "metropole_toulon"].set_index("period_start_utc")
    balance = run.read("out_uc3__territorial_balance")
    b = balance[balance["territory_id"] == "metropole_toulon"].set_index("datetime_utc")
    for hour in (pd.Timestamp("2025-10-26 00:00", tz="UTC"), pd.Timestamp("2025-10-26 01:00", tz="UTC")):
        halves = b.loc[[hour, hour + pd.Timedelta(minutes=30)]]
        expected = 100 * halves["self_consumed_kwh"].sum() / halves["consumption_kwh"].sum()
        assert toulon.loc[hour, "self_production_rate_pct"] == pytest.approx(expected)
    assert (toulon["period_local"].str.startswith("2025-10-26 02:00")).sum() == 2


def test_daily_and_yearly_rates_and_the_pv_what_if(run):
    daily = run.read("out_uc3__rates_daily")
    oct26 = daily[daily["period_local"] == "2025-10-26"]
    assert len(oct26) == 5 and (oct26["half_hours_expected"] == 50).all()
    assert (oct26["half_hours_present"] == 50).all()
    yearly = run.read("out_uc3__rates_yearly")
    assert len(yearly) == 5 and (yearly["half_hours_expected"] == 17520).all()
    assert (yearly["half_hours_present"] == 22 * 48 + 2).all()  # what the run holds, reported not invented
    what_if = run.read("out_uc3__pv_what_if").set_index(["territory_id", "scenario_id"])
    for territory in yearly["territory_id"]:
        base = what_if.loc[(territory, "baseline")]
        more = what_if.loc[(territory, "plus_50_mwp")]
        assert more["production_kwh"] > base["production_kwh"]
        assert more["self_production_rate_pct"] >= base["self_production_rate_pct"]
        assert more["self_consumption_rate_pct"] <= base["self_consumption_rate_pct"] + 1e-9
        assert base["self_production_rate_pct"] == pytest.approx(
            yearly.set_index("territory_id").loc[territory, "self_production_rate_pct"])


def test_forecasts_are_issued_scored_and_archived_without_overwriting(run):
    forecasts = run.read("out_uc3__forecasts")
    assert forecasts["issued_at_utc"].nunique() == 1
    assert forecasts.groupby(["territory_id", "variable"]).size().eq(168).all()
    assert forecasts["territory_id"].nunique() == 5
    ok = forecasts.dropna(subset=["yhat"])
    assert (ok["yhat_lower"] <= ok["yhat"] + 1e-6).all() and (ok["yhat"] <= ok["yhat_upper"] + 1e-6).all()
    rate = ok[ok["variable"] == "self_production_rate_pct"]
    assert rate["yhat"].between(0, 100).all()
    meta = run.results["out_uc3__forecasts"]
    for variable in ("consumption_kwh", "production_kwh", "self_production_rate_pct"):
        skill = meta[f"skill_vs_seasonal_naive_{variable}"].value
        mase = meta[f"mase_{variable}"].value
        print(f"sample back-test {variable}: skill {skill:+.3f}, MASE {mase:.3f}")
        assert -1.0 < skill < 1.0 and 0 < mase < 3
    assert "chart" in meta
    # temperature drives the simulated load: with the observed temperature (what a weather forecast
    # feed would give) the back-test must do better than without
    with_temperature = meta["skill_vs_seasonal_naive_consumption_kwh_with_observed_temperature"].value
    print(f"sample back-test consumption with observed temperature: skill {with_temperature:+.3f}")
    assert with_temperature > meta["skill_vs_seasonal_naive_consumption_kwh"].value
    run.materialize(["out_uc3__forecasts"], "2025-10-27", "2025-10-28")
    again = run.read("out_uc3__forecasts")
    assert len(again) == 2 * len(forecasts)  # a second issue is added; the first is untouched


def test_regional_open_balance_honours_enedis_secrecy(run):
    regional = run.read("out_uc3__regional_balance")
    start, end = paris_day_bounds("2025-10-26")
    assert ((regional["datetime_utc"] >= start) & (regional["datetime_utc"] < end)).sum() == 50
    assert regional["approximate"].all() and (regional["secret_segments"] > 0).all()
    aggregates = run.read("core_enedis__regional_aggregates")
    secret = aggregates[aggregates["secret"]]
    assert len(secret) and secret["energy_wh"].isna().all() and (secret["step_minutes"] == 1440).all()
    assert secret["daily_mean_energy_wh"].notna().all()


def test_rates_never_exceed_100_percent(run):
    for dataset in ("out_uc3__territorial_balance", "out_uc3__rates_hourly", "out_uc3__rates_daily"):
        frame = run.read(dataset)
        for column in ("self_consumption_rate_pct", "self_production_rate_pct"):
            assert frame[column].dropna().between(0, 100).all(), (dataset, column)


def test_charts_are_attached(run):
    assert "chart" in run.results["out_uc3__territorial_balance"]
    assert "chart" in run.results["out_uc3__rates_hourly"]
