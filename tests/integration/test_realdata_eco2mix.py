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
        # a range run labels its totals run_* on its last partition (each partition keeps its own row count)
        assert event.asset_materialization.metadata["run_missing_half_hours"].value == missing
    rejects = store.read("raw_rte__eco2mix_regional_rejects", time_column="partition_start_utc").to_pandas()
    assert len(rejects) == 2 and rejects["reason"].str.contains("spring-forward").all()
    meta = json.loads(pq.read_schema(store.files("core_rte__eco2mix_regional")[0]).metadata[b"energy_pipelines"])
    assert [o["id"] for o in meta["owners"]] == ["rte"]


# -- the real-time feed (quarter-hourly) and the consolidated exports of ODRÉ ---------------------------

FEED = "rte_eco2mix_realtime_15min"
PACA_TR = "eco2mix-regional-tr_PACA_2020-05_projet_qualite_air.csv"
NATIONAL_LABELS = "eco2mix-national-tr_2021-12_labels_MathisGrSsT.csv"
NATIONAL_FIELDS = "eco2mix-national-tr_2022-01_fieldnames_Zineb106.csv"
CONS_DEF_2024 = "eco2mix-regional-cons-def_2024_Energy4Climate.csv"


def by_hand(path, column: str) -> dict:
    """{UTC quarter-hour start: value or None} straight from the file with the csv module (not our reader)."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    stamp = "Date - Heure" if "Date - Heure" in rows[0] else "date_heure"
    return {pd.Timestamp(r[stamp]).tz_convert("UTC"): (float(r[column]) if r[column] else None) for r in rows}


def hand_half_hour(quarters: dict, t: str):
    a, b = quarters.get(pd.Timestamp(t)), quarters.get(pd.Timestamp(t) + pd.Timedelta(minutes=15))
    return None if a is None or b is None else (a + b) / 2


def test_real_paca_real_time_export_half_hours_are_the_hand_computed_means(realdata, tmp_path):
    path = realdata / FEED / PACA_TR
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    landing.dir.mkdir(parents=True)
    (landing.dir / PACA_TR).write_bytes(path.read_bytes())
    read = landing.read_window(ADAPTER, pd.Timestamp("2020-04-30T22:00Z"), pd.Timestamp("2020-06-06T00:00Z"))
    assert len(read.rows) == 3456 and read.rejects.empty and (read.rows["interval_minutes"] == 15).all()
    cleaned = clean_eco2mix(read.rows)
    data, f = cleaned.data.set_index("datetime_utc"), cleaned.figures
    # 3,366 valued quarter-hours make 1,683 half-hours; the last day's 90 empty placeholders make none
    assert len(data) == 1683 and f["placeholder_rows"] == 90 and cleaned.rejects.empty
    assert f["rows_in"] == f["raw_rows_in_kept_half_hours"] + f["placeholder_rows"]
    assert data["consommation_mw"].mean() == pytest.approx(3428, abs=1)  # PROVENANCE: 3,428 MW in May 2020

    consumption, solar, pumping = (by_hand(path, c) for c in ("Consommation (MW)", "Solaire (MW)", "Pompage (MW)"))
    for t in ("2020-04-30T22:00Z", "2020-05-01T00:00Z", "2020-05-15T10:30Z", "2020-05-31T18:00Z"):
        row = data.loc[pd.Timestamp(t)]
        assert row["consommation_mw"] == hand_half_hour(consumption, t), t
        assert row["solaire_mw"] == hand_half_hour(solar, t), t
        assert row["pompage_mw"] == hand_half_hour(pumping, t), t
    noon = data.loc[pd.Timestamp("2020-05-15T10:30Z")]
    green = sum(hand_half_hour(by_hand(path, c), "2020-05-15T10:30Z")
                for c in ("Eolien (MW)", "Solaire (MW)", "Hydraulique (MW)", "Bioénergies (MW)"))
    assert noon["green_share_pct"] == pytest.approx(100 * green / hand_half_hour(consumption, "2020-05-15T10:30Z"),
                                                    abs=1e-3)
    # the month's total: every complete pair, by hand, equals what the core kept
    starts = sorted(t for t in consumption if t.minute in (0, 30))
    pairs = [hand_half_hour(consumption, t.isoformat()) for t in starts]
    assert data["consommation_mw"].sum() == pytest.approx(sum(p for p in pairs if p is not None))

    # RTE left consumption empty at 00:00 local on 19 May: that half-hour has none, and says why
    gap = data.loc[pd.Timestamp("2020-05-18T22:00Z")]
    assert consumption[pd.Timestamp("2020-05-18T22:15Z")] is not None  # one quarter-hour was there
    assert pd.isna(gap["consommation_mw"]) and pd.isna(gap["green_share_pct"])
    assert gap["incomplete_reason"].startswith("no value at 22:00Z for consommation_mw")
    # and on 10 May 02:00-03:15 local in both quarter-hours: null with the reason, never 0
    night = data.loc[[pd.Timestamp("2020-05-10T00:00Z"), pd.Timestamp("2020-05-10T00:30Z")]]
    assert night["consommation_mw"].isna().all()
    assert night["incomplete_reason"].str.startswith("green share not computable: consommation").all()


def test_real_national_exports_with_labels_and_field_names_read_the_same(realdata):
    """The same December 2021 in both header forms: the portal's labels name the API's fields."""
    from energy_pipelines.sources.base import SourceFileError
    from energy_pipelines.sources.rte_eco2mix import odre_field
    from energy_pipelines.transforms.eco2mix import quarter_hour_means

    labels = pd.read_csv(realdata / FEED / NATIONAL_LABELS, sep=";", dtype=str, keep_default_na=False)
    fields = pd.read_csv(realdata / FEED / NATIONAL_FIELDS, sep=";", dtype=str, keep_default_na=False)
    labels.columns = [odre_field(c) for c in labels.columns]
    assert list(labels.columns) == list(fields.columns)
    both = labels.merge(fields, on="date_heure", suffixes=("_l", "_f"))
    assert len(both) == 2976  # the whole of December in both files
    for c in fields.columns.drop("date_heure"):
        assert (both[f"{c}_l"] == both[f"{c}_f"]).all(), c
    # a national export in the regional folder is refused by name, whatever its header form
    for name in (NATIONAL_LABELS, NATIONAL_FIELDS):
        with pytest.raises(SourceFileError, match="national export"):
            ADAPTER.read_file(realdata / FEED / name)

    # the feed's quirk: commercial exchanges only at :00 and :30, so no half-hour value for them
    stamp = pd.to_datetime(fields["date_heure"], utc=True)
    quarters = pd.DataFrame({"datetime_utc": stamp.dt.floor("30min"), "interval_start_utc": stamp,
                             "consommation": pd.to_numeric(fields["consommation"]),
                             "ech_comm_espagne": pd.to_numeric(fields["ech_comm_espagne"], errors="coerce")})
    means = quarter_hour_means(quarters, ["consommation", "ech_comm_espagne"], []).set_index("datetime_utc")
    assert len(means) == 4896 // 2 and (means["quarter_hours"] == 2).all()
    consumption = by_hand(realdata / FEED / NATIONAL_FIELDS, "consommation")
    for t in ("2022-01-01T17:00Z", "2022-01-02T01:30Z"):
        assert means.loc[pd.Timestamp(t), "consommation"] == hand_half_hour(consumption, t)
    assert means["ech_comm_espagne"].isna().all()
    served = by_hand(realdata / FEED / NATIONAL_FIELDS, "ech_comm_espagne")
    flagged = means["incomplete_reason"] != ""
    assert flagged.tolist() == [served[t] is not None for t in means.index]  # the half-hours it was given for
    assert flagged.sum() > 2000
    assert means.loc[flagged, "incomplete_reason"].str.fullmatch(
        r"no value at \d\d:(15|45)Z for (consommation, )?ech_comm_espagne").all()
    # the export ends with empty rows for what RTE had not published yet (from 20:45 local on 19 January):
    # the half-hour cut by that edge has one quarter-hour only, hence no consumption, and says so
    lost = means[means["incomplete_reason"].str.contains("consommation")]
    assert len(lost) == 1 and lost["consommation"].isna().all()
    hand = [hand_half_hour(consumption, t.isoformat()) for t in means.index]  # every half-hour, by hand
    assert [None if pd.isna(v) else v for v in means["consommation"]] == hand
    assert sum(v is None for v in hand) == 1 + 54  # + the half-hours with only placeholder rows


def test_real_consolidated_export_on_both_dst_days(realdata):
    """Hauts-de-France 2024: 30-min rows with RTE's local grid; date_heure decides, fillers are refused."""
    path = realdata / FEED / CONS_DEF_2024
    read = ADAPTER.read_file(path)
    assert len(read.rows) == 17566 and (read.rows["interval_minutes"] == 30).all()
    assert sorted(read.rejects["reason"].str[:38]) == ["date/heure 2024-03-31 02:00 does not e",
                                                     "date/heure 2024-03-31 02:30 does not e"]
    cleaned = clean_eco2mix(read.rows.assign(source_file=CONS_DEF_2024), regions=("32",))
    data = cleaned.data
    assert len(data) == 17566 and data["datetime_utc"].is_unique and cleaned.rejects.empty
    per_day = data["datetime_utc"].dt.tz_convert("Europe/Paris").dt.strftime("%Y-%m-%d").value_counts()
    assert per_day["2024-03-31"] == 46 and per_day["2024-10-27"] == 48
    assert set(per_day.drop(["2024-03-31", "2024-10-27"])) == {48}
    autumn = paris_day_bounds("2024-10-27")
    assert [t.isoformat() for t in missing_half_hours(data["datetime_utc"], *autumn)] == [
        "2024-10-27T00:00:00+00:00", "2024-10-27T00:30:00+00:00"]  # the summer-time 02:00 and 02:30
    # totals: kept + refused fillers is the file's own sum
    own = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig")["Consommation (MW)"].astype(float).sum()
    fillers = sum(float(r.split(";")[6]) for r in read.rejects["record"])
    assert data["consommation_mw"].sum() + fillers == pytest.approx(own)


def test_the_simulated_consolidated_export_has_the_real_header(realdata):
    from energy_pipelines.simulate.paca_mix import cons_def_export

    real = (realdata / FEED / CONS_DEF_2024).read_bytes().split(b"\r\n", 1)[0]
    simulated = cons_def_export(pd.DatetimeIndex([pd.Timestamp("2025-06-01T10:00Z")])).encode().split(b"\r\n", 1)[0]
    assert simulated == real  # BOM included
