"""UC3's datasets are built from their catalogue entry alone (`derive:` + transforms/uc3.py).

A transform's warnings reach the run's log through the factory: the territorial energy of a
half-hour made before the territory communes were materialised uses the declared composition and
says so, and its sums follow the declared territories.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines.assets.derived import build_derived_asset
from energy_pipelines.catalog import default_catalog
from energy_pipelines.partitions import half_hour_key
from energy_pipelines.resources import Platform
from energy_pipelines.storage.io_manager import ParquetIOManager
from energy_pipelines.storage.schema import conform
from energy_pipelines.territories import membership
from energy_pipelines.transforms.uc3 import territories_of

COMMUNE, TERRITORIAL = "core_enedis__commune_energy", "core_enedis__territorial_energy"
T0 = pd.Timestamp("2025-06-01 10:00", tz="UTC")


def test_territorial_energy_without_its_communes_uses_the_declared_composition_and_says_so(settings):
    catalog = default_catalog()
    members = membership(territories_of(catalog))
    territory = members["territory_id"].iloc[0]
    communes = members.loc[members["territory_id"] == territory, "commune_code"].drop_duplicates().head(2).tolist()
    rows = pd.DataFrame({"datetime_utc": T0, "commune_code": communes, "flow": "consumption",
                         "category": "residential", "label": "Résidentiel", "n_points": 20, "energy_wh": 4000.0,
                         "max_point_wh": 400.0, "capacity_kw": None, "source_file": "test.csv", "source_line": 1})
    io = ParquetIOManager(home=str(settings.home))
    spec = catalog[COMMUNE]
    io.store.write(COMMUNE, conform(rows, spec.table_schema.to_arrow(), COMMUNE), time_column="datetime_utc",
                   window=(T0, T0 + pd.Timedelta(minutes=30)))
    asset = build_derived_asset(catalog[TERRITORIAL], settings, catalog)
    upstream = [dg.AssetSpec(name, partitions_def=asset.partitions_def if name == COMMUNE else None)
                for name in (COMMUNE, "core_insee__territory_communes")]
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([*upstream, asset], selection=[TERRITORIAL], partition_key=half_hour_key(T0),
                            instance=instance,
                            resources={"platform": Platform.from_settings(settings), "parquet_io": io, "io_manager": io})
    assert result.success
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("core_insee__territory_communes is empty" in m and "declared territory composition" in m
               for m in messages)
    out = io.store.read(TERRITORIAL, time_column="datetime_utc").to_pandas()
    total = out[(out["territory_id"] == territory) & (out["flow"] == "consumption") & (out["category"] == "total")]
    assert total["energy_kwh"].tolist() == [pytest.approx(4.0 * len(communes))]
    assert total["communes_reporting"].tolist() == [len(communes)]
    meta = result.asset_materializations_for_node(TERRITORIAL)[0].metadata
    assert meta["half_hours_in_window"].value == 1
