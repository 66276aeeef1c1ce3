"""Three real years of RTE's PACA archives: one row per UTC half-hour present, DST handled, totals kept."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.rte_eco2mix import ADAPTER
from energy_pipelines.transforms.common import missing_half_hours
from energy_pipelines.transforms.eco2mix import clean_eco2mix

pytestmark = pytest.mark.realdata

# year: (rows with values in the file, spring day, autumn day)
YEARS = {2012: (17_568, "2012-03-25", "2012-10-28"), 2013: (17_520, "2013-03-31", "2013-10-27"),
         2017: (17_520, "2017-03-26", "2017-10-29")}


def archive(realdata, year):
    return realdata / "rte_eco2mix_paca" / f"eCO2mix_RTE_PACA_Annuel-Definitif_{year}.csv"


def file_sums(path) -> pd.Series:
    """The file's own sums, computed independently of our reader."""
    raw = pd.read_csv(path, sep=";", encoding="latin-1", dtype=str, skipfooter=1, engine="python")
    values = raw[["Consommation", "Solaire", "Hydraulique"]].apply(pd.to_numeric, errors="coerce")
    return values.sum()


@pytest.mark.parametrize("year", sorted(YEARS))
def test_a_year_ingests_to_one_row_per_utc_half_hour_present(realdata, tmp_path, year):
    with_values, spring, autumn = YEARS[year]
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    landing.dir.mkdir(parents=True)
    (landing.dir / archive(realdata, year).name).write_bytes(archive(realdata, year).read_bytes())
    start, end = paris_day_bounds(f"{year}-01-01")[0], paris_day_bounds(f"{year + 1}-01-01")[0]
    read = landing.read_window(ADAPTER, start, end)
    cleaned = clean_eco2mix(read.rows)
    data = cleaned.data

    # the two RTE filler rows of the non-existent spring hour are quarantined, nothing else
    assert read.rejects["reason"].str.contains("spring-forward").sum() == 2
    assert len(read.rejects) == 2 and cleaned.rejects.empty
    assert len(data) == with_values - 2
    assert data["datetime_utc"].is_unique
    assert read.stats["empty_grid_rows"] == with_values  # the half-empty 15-minute grid
    assert read.stats["disclaimer_lines"] == 1

    paris_day = data["datetime_utc"].dt.tz_convert("Europe/Paris").dt.strftime("%Y-%m-%d")
    per_day = paris_day.value_counts()
    assert per_day[spring] == 46
    assert per_day[autumn] == 48  # 50 expected: the repeated hour is given once by RTE
    assert set(per_day.drop([spring, autumn])) == {48}

    # the autumn day's two absent half-hours are reported, never invented
    missing = missing_half_hours(data["datetime_utc"], start, end)
    assert [t.isoformat() for t in missing] == [f"{autumn}T01:00:00+00:00", f"{autumn}T01:30:00+00:00"]

    # energy totals: what we kept plus what we quarantined is exactly the file's own sum
    rejected = pd.DataFrame([dict(zip(["p", "n", "d", "h", "Consommation", "t", "nu", "e", "Solaire", "Hydraulique"],
                                      r.split(";"), strict=False)) for r in read.rejects["record"]])
    for column, ours in (("Consommation", "consommation_mw"), ("Solaire", "solaire_mw"),
                         ("Hydraulique", "hydraulique_mw")):
        kept = data[ours].sum()
        quarantined = pd.to_numeric(rejected[column]).sum()
        assert kept + quarantined == pytest.approx(file_sums(archive(realdata, year))[column]), column


def test_2013_not_available_row_is_kept_as_missing_values(realdata, tmp_path):
    read = ADAPTER.read_file(archive(realdata, 2013))
    data = clean_eco2mix(read.rows.assign(source_file="2013")).data
    first = data.iloc[0]
    assert first["datetime_utc"] == pd.Timestamp("2012-12-31T23:00Z")
    assert pd.isna(first["consommation_mw"]) and pd.isna(first["green_share_pct"])


def test_the_2017_archive_dropped_in_landing_and_materialised_through_the_cli(realdata, settings, monkeypatch,
                                                                            capsys):
    """The history-load path: drop RTE's file, run the CLI (live mode, offline), read the warehouse."""
    import dagster as dg

    from energy_pipelines import cli
    from energy_pipelines.storage import ParquetStore

    monkeypatch.setenv("ENERGY_PIPELINES_MODE", "live")
    monkeypatch.setenv("ENERGY_PIPELINES_OFFLINE", "1")
    monkeypatch.setenv("DAGSTER_HOME", str(settings.home / "dagster_home"))
    folder = settings.landing_dir / "rte_eco2mix_regional"
    folder.mkdir(parents=True)
    (folder / archive(realdata, 2017).name).write_bytes(archive(realdata, 2017).read_bytes())
    store = ParquetStore(settings.warehouse_dir)
    for first, last, expected, missing in (("2017-03-26", "2017-03-27", 46, 0), ("2017-10-29", "2017-10-30", 48, 2)):
        code = cli.main(["materialize", "raw_rte__eco2mix_regional,core_rte__eco2mix_regional",
                         "--from", first, "--to", last])
        assert code == 0
        out = capsys.readouterr().out
        if first == "2017-03-26":  # history predates the configured start
            assert "partitions start moved from 2024-01-01 to 2017-03-26" in out
        window = paris_day_bounds(first)
        core = store.read("core_rte__eco2mix_regional", time_column="datetime_utc", window=window).to_pandas()
        assert len(core) == expected and core["datetime_utc"].is_unique
        instance = dg.DagsterInstance.get()
        event = instance.get_latest_materialization_event(dg.AssetKey("core_rte__eco2mix_regional"))
        assert event.asset_materialization.metadata["missing_half_hours"].value == missing
    rejects = store.read("raw_rte__eco2mix_regional_rejects", time_column="partition_start_utc").to_pandas()
    assert len(rejects) == 2 and rejects["reason"].str.contains("spring-forward").all()
    meta = json.loads(pq.read_schema(store.files("core_rte__eco2mix_regional")[0]).metadata[b"energy_pipelines"])
    assert [o["id"] for o in meta["owners"]] == ["rte"]
