"""The worked example of docs/adding-a-dataset.md: `out_rte__eco2mix_daily`, one YAML and one function.

The test builds it the way the platform does (the catalogue's `derive:` block through the generic
factory), on both daylight-saving days, and checks its figures against the half-hours it sums.
"""

from __future__ import annotations


import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_pipelines.assets.derived import build_derived_asset
from energy_pipelines.catalog import default_catalog
from energy_pipelines.clock import Window, paris_day_bounds
from energy_pipelines.storage.io_manager import ParquetIOManager
from energy_pipelines.resources import Platform
from energy_pipelines.transforms.eco2mix import daily_balance

DAILY, CORE = "out_rte__eco2mix_daily", "core_rte__eco2mix_regional"


def _core(day: str, drop: int = 0) -> pd.DataFrame:
    start, end = paris_day_bounds(day)
    times = pd.date_range(start, end, freq="30min", inclusive="left")[drop:]
    rng = np.random.default_rng(3)
    return pd.DataFrame({"datetime_utc": times, "region_code": "93",
                         "consommation_mw": rng.uniform(3000, 6000, len(times)),
                         "eolien_mw": rng.uniform(0, 100, len(times)), "solaire_mw": rng.uniform(0, 900, len(times)),
                         "hydraulique_mw": rng.uniform(200, 900, len(times)), "bioenergies_mw": 50.0})


@pytest.mark.parametrize(("day", "half_hours"), [("2025-03-30", 46), ("2025-10-26", 50), ("2025-06-01", 48)])
def test_a_day_is_the_sum_of_its_half_hours_in_mwh(day, half_hours):
    core = _core(day)
    out = daily_balance(core, window=Window(*paris_day_bounds(day))).data
    assert len(out) == 1
    row = out.iloc[0]
    assert row["half_hours_expected"] == row["half_hours_present"] == half_hours
    assert row["consumption_mwh"] == pytest.approx(core["consommation_mw"].sum() / 2)
    green = core[["eolien_mw", "solaire_mw", "hydraulique_mw", "bioenergies_mw"]].sum(axis=1).sum() / 2
    assert row["green_share_pct"] == pytest.approx(100 * green / row["consumption_mwh"])
    assert row["day_local"] == day and pd.isna(row["incomplete_reason"])


def test_an_incomplete_day_has_no_figures_and_says_why():
    out = daily_balance(_core("2025-10-26", drop=1), window=Window(*paris_day_bounds("2025-10-26"))).data
    row = out.iloc[0]
    assert pd.isna(row["consumption_mwh"]) and pd.isna(row["green_share_pct"])
    assert row["incomplete_reason"] == "1 demi-heure(s) manquante(s) sur 50"


def test_the_catalogue_entry_alone_makes_the_asset(settings):
    """No asset code: the factory reads the YAML, maps the daily partition onto its half-hours, stores it."""
    catalog = default_catalog()
    daily = build_derived_asset(catalog[DAILY], settings, catalog)
    assert daily.partitions_def.get_partition_keys()[0] == settings.partitions_start.strftime("%Y-%m-%d")
    # the core half-hours come from the store, as the upstream asset would have written them
    io = ParquetIOManager(home=str(settings.home))
    core = _core("2025-10-26")
    schema = catalog[CORE].table_schema.to_arrow()
    table = pd.DataFrame({c: core[c] if c in core else None for c in schema.names})
    table["datetime_local"] = table["datetime_utc"].dt.tz_convert("Europe/Paris").astype(str)
    table["nature"] = "Données temps réel"
    io.store.write(CORE, table, time_column="datetime_utc", window=paris_day_bounds("2025-10-26"))
    core_spec = dg.AssetSpec(CORE, partitions_def=dg.TimeWindowPartitionsDefinition(
        cron_schedule="*/30 * * * *", start=settings.partitions_start.strftime("%Y-%m-%d-%H:%M"),
        fmt="%Y-%m-%d-%H:%M", timezone="Europe/Paris"))
    result = dg.materialize([core_spec, daily], selection=[DAILY], partition_key="2025-10-26",
                            resources={"platform": Platform.from_settings(settings), "parquet_io": io, "io_manager": io})
    assert result.success
    stored = io.store.read(DAILY, time_column="day_start_utc", window=paris_day_bounds("2025-10-26")).to_pandas()
    assert stored["half_hours_present"].tolist() == [50]
    assert stored["consumption_mwh"].iloc[0] == pytest.approx(core["consommation_mw"].sum() / 2)
    assert daily.metadata_by_key[dg.AssetKey(DAILY)]["transform"] == "energy_pipelines.transforms.eco2mix:daily_balance"
    assert result.asset_materializations_for_node(DAILY)[0].metadata["days"].value == 1
