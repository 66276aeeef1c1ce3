"""The éCO2mix reader: every real format, RTE's DST quirks, and bad input named or quarantined."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.simulate.paca_mix import CONS_DEF_LABELS, cons_def_export, tr_export
from energy_pipelines.sources.rte_eco2mix import ADAPTER, odre_field
from energy_pipelines.sources.rte_eco2mix import RAW_COLUMNS as ADAPTER_COLUMNS
from energy_pipelines.transforms.eco2mix import clean_eco2mix

HEADER = "Périmètre;Nature;Date;Heures;Consommation;Thermique;Nucléaire;Eolien;Solaire;Hydraulique;Pompage;Bioénergies;Ech. physiques"
DISCLAIMER = ("RTE ne pourra être tenu responsable de l'usage qui pourrait être fait des données mises à disposition, "
              "ni en cas de prévisions qui se révèleraient imprécises.;;;;;;;;;;;;")


def archive_rows(day: str, hours: list[str], base: int = 4000) -> list[str]:
    rows = []
    for i, hhmm in enumerate(hours):
        rows.append(f"PACA;Données définitives;{day};{hhmm};{base + i};150;-;8;0;1300;0;100;{base + i - 1558}")
        quarter = hhmm[:3] + ("15" if hhmm.endswith("00") else "45")
        rows.append(f"PACA;Données définitives;{day};{quarter};;;;;;;;;")
    return rows


def write_archive(path: Path, rows: list[str], encoding="latin-1", disclaimer=True) -> Path:
    text = "\n".join([HEADER, *rows, *([DISCLAIMER] if disclaimer else [])]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


ALL_HOURS = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30)]


def test_spring_day_fillers_are_rejected_and_46_half_hours_remain(tmp_path):
    path = write_archive(tmp_path / "eCO2mix_RTE_PACA_Annuel-Definitif_2017.csv", archive_rows("26/03/2017", ALL_HOURS))
    read = ADAPTER.read_file(path)
    assert len(read.rows) == 46
    assert read.rows["datetime_utc"].is_unique
    fillers = read.rejects[read.rejects["reason"].str.contains("does not exist")]
    assert len(fillers) == 2
    # the fillers are anchored at the instant the clocks jumped (01:00 UTC), so they land in a window
    assert set(fillers["datetime_utc"].dt.strftime("%H:%M")) == {"01:00"}
    assert read.stats == {"disclaimer_lines": 1, "empty_grid_rows": 48}


def test_autumn_day_repeated_hour_is_read_as_summer_time_and_two_half_hours_are_missing(tmp_path):
    path = write_archive(tmp_path / "a.csv", archive_rows("29/10/2017", ALL_HOURS))
    rows = ADAPTER.read_file(path).rows
    assert len(rows) == 48
    utc = rows.set_index("time_local")["datetime_utc"]
    assert utc["02:00"] == pd.Timestamp("2017-10-29 00:00", tz="UTC")  # first (CEST) occurrence
    assert utc["03:00"] == pd.Timestamp("2017-10-29 02:00", tz="UTC")  # CET
    cleaned = clean_eco2mix(rows.assign(source_file="a.csv"))
    from energy_pipelines.partitions import paris_day_bounds
    from energy_pipelines.transforms.common import missing_half_hours
    missing = missing_half_hours(cleaned.data["datetime_utc"], *paris_day_bounds("2017-10-29"))
    assert [t.strftime("%H:%M") for t in missing] == ["01:00", "01:30"]


def test_a_label_given_twice_in_autumn_maps_to_both_occurrences(tmp_path):
    hours = ALL_HOURS[:6] + ["02:00", "02:30"] + ALL_HOURS[6:]
    path = write_archive(tmp_path / "b.csv", archive_rows("26/10/2025", hours))
    rows = ADAPTER.read_file(path).rows
    assert len(rows) == 50 and rows["datetime_utc"].is_unique


TR_LABELS = {**CONS_DEF_LABELS, "column_68": "Column 68"}
STRING_FIELDS = ("pompage", "stockage_batterie", "destockage_batterie")  # served as text by the API


def api_records(csv_text: str) -> list[dict]:
    """What the Explore API's JSON export serves for these rows: numbers as numbers (pompage and the
    battery columns as strings), empty values as null, date_heure in UTC (timezone=UTC)."""
    frame = pd.read_csv(io.StringIO(csv_text), sep=";", dtype=str, keep_default_na=False)
    records = []
    for row in frame.to_dict("records"):
        out = {}
        for k, v in row.items():
            if v == "":
                out[k] = None
            elif k == "date_heure":
                out[k] = pd.Timestamp(v).tz_convert("UTC").isoformat()
            elif k in STRING_FIELDS or not v.lstrip("-").replace(".", "", 1).isdigit():
                out[k] = v
            else:
                out[k] = float(v) if "." in v else int(v)
        records.append(out)
    return records


def test_odre_tr_flavours_agree_field_names_labels_json_jsonl_and_zip(tmp_path):
    quarters = pd.date_range("2025-10-25 22:00", "2025-10-26 23:00", freq="15min", inclusive="left", tz="UTC")
    csv_text = tr_export(quarters)
    header, body = csv_text.split("\n", 1)
    labels = ";".join(TR_LABELS.get(f, f) for f in header.split(";")) + "\n" + body
    (tmp_path / "x.csv").write_text(csv_text, encoding="utf-8-sig")  # with a BOM
    (tmp_path / "labels.csv").write_text(labels, encoding="utf-8")
    records = api_records(csv_text)
    assert isinstance(records[0]["pompage"], str) and isinstance(records[0]["consommation"], int)
    (tmp_path / "x.json").write_text(json.dumps(records))
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("eco2mix-regional-tr.xls", csv_text.replace(";", "\t"))
    reads = {ext: ADAPTER.read_file(tmp_path / name) for ext, name in
             (("csv", "x.csv"), ("labels", "labels.csv"), ("json", "x.json"), ("jsonl", "x.jsonl"), ("zip", "x.zip"))}
    rows = reads["csv"].rows
    assert len(rows) == 100 and (rows["interval_minutes"] == 15).all()  # 25 hours of quarter-hours
    assert rows["interval_start_utc"].tolist() == list(quarters)
    assert rows["datetime_utc"].tolist() == list(quarters.floor("30min"))
    for ext, read in reads.items():
        assert read.rejects.empty, ext
        for col in ("interval_start_utc", "datetime_utc", "date_local", "time_local", "consommation", "pompage",
                    "stockage_batterie", "nucleaire"):
            assert read.rows[col].tolist() == rows[col].tolist(), (ext, col)


def test_portal_labels_map_to_api_field_names():
    assert [odre_field(x) for x in ["Code INSEE région", "Région", "Date - Heure", "Consommation (MW)",
                                    "Ech. physiques (MW)", "Déstockage batterie", "TCO Bioénergies (%)",
                                    "Prévision J-1 (MW)", "\ufeffPérimètre", "pompage"]] == [
        "code_insee_region", "libelle_region", "date_heure", "consommation", "ech_physiques", "destockage_batterie",
        "tco_bioenergies", "prevision_j1", "perimetre", "pompage"]


def test_values_served_as_strings_nd_or_empty_stay_as_received(tmp_path):
    base = {"code_insee_region": 93, "nature": "Données temps réel", "consommation": 4000, "thermique": 1000,
            "nucleaire": None, "eolien": 10, "solaire": 0.0, "hydraulique": 900, "bioenergies": 100,
            "ech_physiques": 1990, "stockage_batterie": "0", "destockage_batterie": ""}
    records = [{**base, "date_heure": "2025-06-01T10:00:00+00:00", "pompage": "-51"},
               {**base, "date_heure": "2025-06-01T10:15:00+00:00", "pompage": "ND", "consommation": 4010.5}]
    (tmp_path / "x.json").write_text(json.dumps(records))
    rows = ADAPTER.read_file(tmp_path / "x.json").rows
    assert rows["pompage"].tolist() == ["-51", "ND"]
    assert rows["consommation"].tolist() == ["4000", "4010.5"]
    assert rows["solaire"].tolist() == ["0", "0"]  # 0.0 from JSON is the export's "0"
    assert rows["stockage_batterie"].tolist() == ["0", "0"] and rows["destockage_batterie"].isna().all()
    assert rows["region_code"].tolist() == ["93", "93"] and rows["nucleaire"].isna().all()
    assert rows["date_local"].tolist() == ["2025-06-01", "2025-06-01"]  # from date_heure when not given
    assert rows["time_local"].tolist() == ["12:00", "12:15"]


def test_a_national_export_is_refused_by_name(tmp_path):
    path = tmp_path / "eco2mix-national-tr.csv"
    path.write_text("perimetre;nature;date;heure;date_heure;consommation;fioul;charbon;gaz\n"
                    "France;Données temps réel;2022-01-01;18:15;2022-01-01T18:15:00+01:00;52869;215;27;2574\n")
    with pytest.raises(SourceFileError, match="national export .perimetre 'France'."):
        ADAPTER.read_file(path)


def test_consolidated_exports_are_half_hourly_their_empty_quarter_grid_is_skipped(tmp_path):
    text = cons_def_export(pd.date_range("2025-06-01 10:00", periods=2, freq="30min", tz="UTC"))
    lines = text.split("\r\n")
    empty_quarter = lines[1].replace("12:00", "12:15").split(";")
    empty_quarter[6:] = [""] * len(empty_quarter[6:])
    valued_quarter = lines[2].replace("12:30", "12:45")
    path = tmp_path / "cons.csv"
    path.write_text("\r\n".join([*lines[:3], ";".join(empty_quarter), valued_quarter, ""]), encoding="utf-8")
    read = ADAPTER.read_file(path)
    assert read.rows["interval_minutes"].tolist() == [30, 30]
    assert read.rows["datetime_utc"].tolist() == [pd.Timestamp("2025-06-01T10:00Z"), pd.Timestamp("2025-06-01T10:30Z")]
    assert read.stats["empty_grid_rows"] == 1
    assert read.rejects["reason"].tolist() == ["quarter-hour row carries values; consolidated and definitive "
                                               "figures are half-hourly"]


def test_rte_dst_quirk_of_consolidated_exports_filler_rows_refused_autumn_hour_once(tmp_path):
    spring = pd.date_range("2025-03-29 23:00", "2025-03-30 22:00", freq="30min", inclusive="left", tz="UTC")
    autumn = pd.date_range("2025-10-25 22:00", "2025-10-26 23:00", freq="30min", inclusive="left", tz="UTC")
    path = tmp_path / "cons.csv"
    path.write_text(cons_def_export(spring.append(autumn), dst_quirk=True), encoding="utf-8")
    text = path.read_text(encoding="utf-8-sig")
    assert text.count(";2025-03-30;") == 48 and text.count(";2025-10-26;") == 48  # RTE's 48 local rows a day
    read = ADAPTER.read_file(path)
    assert sorted(read.rejects["reason"].str[:55]) == [
        "date/heure 2025-03-30 02:00 does not exist in Paris (sp",
        "date/heure 2025-03-30 02:30 does not exist in Paris (sp"]
    assert "RTE filler row repeating date_heure 2025-03-30T03:00:00+02:00" in read.rejects["reason"].iloc[0]
    day = read.rows["datetime_utc"].dt.tz_convert("Europe/Paris").dt.strftime("%Y-%m-%d").value_counts()
    assert day["2025-03-30"] == 46
    assert day["2025-10-26"] == 48  # the summer-time 02:00 and 02:30 are not in the export
    autumn_rows = read.rows[read.rows["datetime_utc"].isin(autumn)]
    assert set(autumn) - set(autumn_rows["datetime_utc"]) == {pd.Timestamp("2025-10-26T00:00Z"),
                                                              pd.Timestamp("2025-10-26T00:30Z")}


def test_date_heure_disagreeing_with_date_and_heure_is_refused(tmp_path):
    text = tr_export(pd.date_range("2025-06-01 10:00", periods=2, freq="15min", tz="UTC"))
    path = tmp_path / "tr.csv"
    path.write_text(text.replace(";2025-06-01;12:15;", ";2025-06-01;12:45;"), encoding="utf-8")
    read = ADAPTER.read_file(path)
    assert len(read.rows) == 1
    assert read.rejects["reason"].tolist() == ["date/heure 2025-06-01 12:45 disagree with date_heure "
                                               "2025-06-01T12:15:00+02:00 (Paris 2025-06-01 12:15)"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (HEADER.replace(";", ",").encode() + b"\nPACA,x\n", "no ';' or TAB separator (found ',')"),
        ((HEADER + "\n").encode("utf-16-le"), "UTF-16 without a BOM"),
        (HEADER.replace("Consommation", "Conso").encode("latin-1") + b"\n", "missing column(s) ['Consommation']"),
        (b"date;heure;valeur\n2025-01-01;00:00;1\n", "unrecognised header"),
        (b'[{"date_heure": "2025-01-01T00:00:00+00:00", "consommation": 1', "invalid JSON (truncated?)"),
        (b"\x00\x01\x02binary", "binary content"),
    ],
)
def test_unreadable_files_get_a_clear_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "eCO2mix_bad.csv"
    path.write_bytes(content)
    with pytest.raises(SourceFileError) as err:
        ADAPTER.read_file(path)
    assert problem in str(err.value)
    assert str(err.value).startswith("eCO2mix_bad.csv:")


def test_utf8_encoded_archive_reads_like_the_latin1_original(tmp_path):
    rows = archive_rows("01/06/2017", ALL_HOURS[:4])
    a = ADAPTER.read_file(write_archive(tmp_path / "latin.csv", rows))
    b = ADAPTER.read_file(write_archive(tmp_path / "utf8.csv", rows, encoding="utf-8"))
    assert a.rows.drop(columns="source_format").equals(b.rows.drop(columns="source_format"))


def test_truncated_and_bad_rows_are_quarantined_with_their_line(tmp_path):
    rows = archive_rows("01/06/2017", ALL_HOURS[:6])
    rows[4] = "PACA;Données définitives;01/06/2017;01:00;4004;150"  # cut mid-row
    rows[6] = "PACA;Données définitives;31/13/2017;01:30;4004;150;-;8;0;1300;0;100;1"  # no such date
    path = write_archive(tmp_path / "t.csv", rows, disclaimer=False)
    read = ADAPTER.read_file(path)
    assert len(read.rows) == 4
    reasons = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert reasons[6].startswith("truncated row: 6 fields, header has 13")
    assert reasons[8].startswith("unparseable date/time")


def test_non_numeric_values_and_duplicates_are_quarantined_by_the_core_step(tmp_path):
    rows = archive_rows("01/06/2017", ALL_HOURS[:4])
    rows[2] = rows[2].replace(";4001;", ";4O01;")  # letter O instead of zero
    rows.append(rows[0])  # duplicated row
    read = ADAPTER.read_file(write_archive(tmp_path / "d.csv", rows))
    cleaned = clean_eco2mix(read.rows.assign(source_file="d.csv"))
    assert len(cleaned.data) == 3
    reasons = cleaned.rejects["reason"].tolist()
    assert any(r == "non-numeric value in column consommation: 4O01" for r in reasons)
    assert any(r.startswith("duplicate row: same values as d.csv:") for r in reasons)
    assert len(cleaned.data) + len(cleaned.rejects) == len(read.rows)


def test_nd_and_dash_are_missing_values_never_zero(tmp_path):
    rows = archive_rows("01/01/2013", ALL_HOURS[:2])
    rows[0] = "PACA;Données définitives;01/01/2013;00:00;ND;ND;ND;ND;ND;ND;ND;ND;ND"
    cleaned = clean_eco2mix(ADAPTER.read_file(write_archive(tmp_path / "nd.csv", rows)).rows.assign(source_file="nd"))
    first = cleaned.data.iloc[0]
    assert pd.isna(first["consommation_mw"]) and pd.isna(first["green_share_pct"])
    assert pd.isna(cleaned.data.iloc[1]["nucleaire_mw"])
    assert cleaned.figures["rows_not_available"] == 1


def test_green_share_and_precedence_of_final_figures(tmp_path):
    raw = pd.DataFrame({
        "datetime_utc": pd.to_datetime(["2025-01-01T00:00Z"] * 2), "region_code": "93",
        "nature": ["Données temps réel", "Données définitives"], "date_local": "x", "time_local": "x",
        "consommation": ["5000", "4000"], "thermique": "0", "nucleaire": None, "eolien": ["10", "100"],
        "solaire": "0", "hydraulique": ["990", "1000"], "pompage": "-50", "bioenergies": ["0", "100"],
        "ech_physiques": "0", "source_line": [1, 2], "source_format": "odre_csv", "source_file": ["tr", "def"],
    })
    cleaned = clean_eco2mix(raw)
    assert len(cleaned.data) == 1
    kept = cleaned.data.iloc[0]
    assert kept["nature"] == "Données définitives"
    assert kept["green_share_pct"] == pytest.approx(100 * (100 + 0 + 1000 + 100) / 4000)  # pumping excluded
    assert cleaned.rejects["reason"].iloc[0].startswith("superseded: other values kept from def:2")


def test_a_bad_file_never_stops_the_others_and_is_reported_until_fixed(tmp_path):
    landing = LandingZone(tmp_path, "rte")
    landing.dir.mkdir(parents=True)
    write_archive(landing.dir / "eCO2mix_RTE_PACA_Annuel-Definitif_2017.csv", archive_rows("01/06/2017", ALL_HOURS))
    (landing.dir / "broken.csv").write_bytes(b"a,b,c\n1,2,3\n")
    (landing.dir / "notes.pdf").write_bytes(b"%PDF")
    start, end = pd.Timestamp("2017-05-31T22:00Z"), pd.Timestamp("2017-06-01T22:00Z")
    read = landing.read_window(ADAPTER, start, end)
    assert len(read.rows) == 48
    assert set(read.bad_files) == {"broken.csv", "notes.pdf"}
    assert "unexpected file type .pdf" in read.bad_files["notes.pdf"]
    assert (read.rejects["reason"].str.startswith("unreadable file:")).sum() == 2
    # a second run reports it again; once corrected it is read
    (landing.dir / "broken.csv").unlink()
    write_archive(landing.dir / "fixed.csv", archive_rows("01/06/2017", ALL_HOURS[:2], base=9000))
    again = landing.read_window(ADAPTER, start, end)
    assert set(again.bad_files) == {"notes.pdf"}
    assert len(again.rows) == 50


def test_files_outside_the_window_are_not_opened_twice(tmp_path, monkeypatch):
    landing = LandingZone(tmp_path, "rte")
    landing.dir.mkdir(parents=True)
    write_archive(landing.dir / "custom_name.csv", archive_rows("01/06/2017", ALL_HOURS[:4]))
    opened = []
    real = ADAPTER.read_file
    monkeypatch.setattr(ADAPTER, "read_file", lambda p: opened.append(p.name) or real(p))
    far = (pd.Timestamp("2020-01-01T00:00Z"), pd.Timestamp("2020-01-01T00:30Z"))
    landing.read_window(ADAPTER, *far)
    landing.read_window(ADAPTER, *far)
    assert opened == ["custom_name.csv"]  # parsed once for its span, then skipped from the cache


# -- the core step: half-hours from the quarter-hourly real-time feed ----------------------------------

QUARTER_VALUES = {"consommation": 4000, "thermique": 1000, "nucleaire": None, "eolien": 10, "solaire": 500,
                  "hydraulique": 900, "pompage": "-50", "bioenergies": 100, "ech_physiques": 2040,
                  "stockage_batterie": "0", "destockage_batterie": "0"}


def tr_file(tmp_path, name: str, quarters: dict[str, dict | None]) -> pd.DataFrame:
    """An ODRÉ JSON export of real-time quarter-hours (stamp -> value overrides, None = empty placeholder)."""
    records = []
    for stamp, over in quarters.items():
        values = {k: None for k in QUARTER_VALUES} if over is None else {**QUARTER_VALUES, **over}
        records.append({"code_insee_region": "93", "nature": "Données temps réel", "date_heure": stamp, **values})
    path = tmp_path / name
    path.write_text(json.dumps(records))
    return ADAPTER.read_file(path).rows.assign(source_file=name)


def test_a_half_hour_is_the_mean_of_its_two_quarter_hours(tmp_path):
    raw = tr_file(tmp_path, "tr.json", {
        "2025-06-01T10:00:00+00:00": {},
        "2025-06-01T10:15:00+00:00": {"consommation": 4101, "solaire": 541, "pompage": "-10", "ech_physiques": 2180}})
    cleaned = clean_eco2mix(raw)
    (row,) = cleaned.data.to_dict("records")
    assert row["datetime_utc"] == pd.Timestamp("2025-06-01T10:00Z") and row["source_interval_minutes"] == 15
    assert (row["consommation_mw"], row["solaire_mw"], row["pompage_mw"]) == (4050.5, 520.5, -30.0)
    assert row["green_share_pct"] == pytest.approx(100 * (10 + 520.5 + 900 + 100) / 4050.5, abs=1e-3)
    assert pd.isna(row["nucleaire_mw"]) and row["incomplete_reason"] is None  # not served in either: not a gap
    assert (row["source_file"], row["source_line"]) == ("tr.json", 1)
    assert cleaned.rejects.empty and cleaned.figures["half_hours_from_quarter_hours"] == 1


def test_one_quarter_hour_is_never_passed_off_as_the_half_hour(tmp_path):
    raw = tr_file(tmp_path, "tr.json", {
        "2025-06-01T10:00:00+00:00": {},                                         # 10:15 never came
        "2025-06-01T11:00:00+00:00": {}, "2025-06-01T11:15:00+00:00": {"consommation": None},
        "2025-06-01T11:30:00+00:00": {"pompage": "ND"}, "2025-06-01T11:45:00+00:00": {"pompage": "-20"}})
    data = clean_eco2mix(raw).data.set_index("datetime_utc")
    lone = data.loc[pd.Timestamp("2025-06-01T10:00Z")]
    assert lone[[f"{c}_mw" for c in QUARTER_VALUES]].isna().all()  # 4000 MW of the lone quarter is nowhere
    assert lone["incomplete_reason"].startswith("no value for quarter-hour 10:15Z; green share not computable")
    half = data.loc[pd.Timestamp("2025-06-01T11:00Z")]
    assert pd.isna(half["consommation_mw"]) and half["solaire_mw"] == 500 and pd.isna(half["green_share_pct"])
    assert half["incomplete_reason"] == ("no value at 11:15Z for consommation_mw; "
                                         "green share not computable: consommation missing")
    nd = data.loc[pd.Timestamp("2025-06-01T11:30Z")]
    assert pd.isna(nd["pompage_mw"]) and nd["green_share_pct"] == pytest.approx(100 * 1510 / 4000)
    assert nd["incomplete_reason"] == "no value at 11:30Z for pompage_mw; ND (not available) from RTE: pompage"


def test_placeholder_rows_of_unpublished_quarter_hours_make_no_half_hour(tmp_path):
    raw = tr_file(tmp_path, "tr.json", {"2025-06-01T10:00:00+00:00": {}, "2025-06-01T10:15:00+00:00": {},
                                        "2025-06-01T10:30:00+00:00": None, "2025-06-01T10:45:00+00:00": None})
    cleaned = clean_eco2mix(raw)
    assert cleaned.data["datetime_utc"].tolist() == [pd.Timestamp("2025-06-01T10:00Z")]
    assert cleaned.figures["placeholder_rows"] == 2 and cleaned.rejects.empty


def test_the_consolidated_half_hour_wins_over_the_real_time_quarter_hours(tmp_path):
    real_time = tr_file(tmp_path, "odre_tr.json", {
        "2025-06-01T10:00:00+00:00": {}, "2025-06-01T10:15:00+00:00": {"consommation": 4100},
        "2025-06-01T10:30:00+00:00": {}, "2025-06-01T10:45:00+00:00": {}})
    cons = tmp_path / "cons.csv"
    cons.write_text(cons_def_export(pd.DatetimeIndex([pd.Timestamp("2025-06-01T10:00Z")])), encoding="utf-8")
    consolidated = ADAPTER.read_file(cons).rows.assign(source_file="cons.csv")
    cleaned = clean_eco2mix(pd.concat([real_time, consolidated], ignore_index=True))
    kept = cleaned.data.set_index("datetime_utc")
    assert kept.loc[pd.Timestamp("2025-06-01T10:00Z"), "nature"] == "Données consolidées"
    assert kept.loc[pd.Timestamp("2025-06-01T10:00Z"), "source_interval_minutes"] == 30
    assert kept.loc[pd.Timestamp("2025-06-01T10:30Z"), "nature"] == "Données temps réel"  # nothing better yet
    # both quarter-hours it replaces are quarantined, naming the kept row
    assert cleaned.rejects["source_line"].tolist() == [1, 2]
    assert all(r.startswith("superseded: other values kept from cons.csv:2") for r in cleaned.rejects["reason"])
    # the correction shows both figures: the kept one and the half-hour its quarter-hours made (their mean)
    kept_mw = kept.loc[pd.Timestamp("2025-06-01T10:00Z"), "consommation_mw"]
    replaced_mw = (4000 + 4100) / 2
    assert kept_mw != replaced_mw
    assert all(r.endswith(f"consommation {kept_mw} MW kept, {replaced_mw} MW here") for r in cleaned.rejects["reason"])
    assert cleaned.figures["rows_in"] == cleaned.figures["raw_rows_in_kept_half_hours"] + len(cleaned.rejects)


def test_a_quarter_hour_delivered_twice_is_kept_once(tmp_path):
    quarters = {"2025-06-01T10:00:00+00:00": {}, "2025-06-01T10:15:00+00:00": {}}
    raw = pd.concat([tr_file(tmp_path, "a.json", quarters), tr_file(tmp_path, "b.json", quarters)], ignore_index=True)
    cleaned = clean_eco2mix(raw)
    assert len(cleaned.data) == 1 and cleaned.data["consommation_mw"].iloc[0] == 4000
    assert cleaned.rejects["reason"].tolist() == ["duplicate row: same values as b.json:1",
                                                  "duplicate row: same values as b.json:2"]


QUARTER_TEXT = st.one_of(st.integers(-500, 9000).map(str), st.sampled_from(["ND", "", "-"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.dictionaries(st.sampled_from(["consommation", "solaire", "pompage"]),
                                                         QUARTER_TEXT)), min_size=8, max_size=8))
def test_quarter_hour_invariants(quarters):
    """Any mix of present, absent and partly empty quarter-hours over four half-hours."""
    t0 = pd.Timestamp("2025-10-26T00:00Z")
    rows = []
    for i, (present, over) in enumerate(quarters):
        if not present:
            continue
        start = t0 + pd.Timedelta(minutes=15 * i)
        values = {k: None if v in (None, "") else str(v) for k, v in {**QUARTER_VALUES, **over}.items()}
        rows.append({"datetime_utc": start.floor("30min"), "interval_start_utc": start, "interval_minutes": 15,
                     "region_code": "93", "nature": "Données temps réel", "date_local": "x", "time_local": "x",
                     **values, "source_line": i + 2, "source_format": "odre_csv", "source_file": "tr.csv"})
    raw = pd.DataFrame(rows, columns=[*ADAPTER_COLUMNS, "source_file"])
    cleaned = clean_eco2mix(raw)
    f = cleaned.figures
    assert f["rows_in"] == f["raw_rows_in_kept_half_hours"] + len(cleaned.rejects) + f["placeholder_rows"]
    number = {i: pd.to_numeric(pd.Series([{**QUARTER_VALUES, **over}.get("consommation")]), errors="coerce").iloc[0]
              if present else np.nan for i, (present, over) in enumerate(quarters)}
    for _, row in cleaned.data.iterrows():
        i = int((row["datetime_utc"] - t0) / pd.Timedelta(minutes=15))
        expected = (number[i] + number[i + 1]) / 2
        assert row["consommation_mw"] == expected or (pd.isna(row["consommation_mw"]) and pd.isna(expected))
        if pd.isna(row["consommation_mw"]) and (pd.notna(number[i]) or pd.notna(number[i + 1])):
            assert "consommation" in row["incomplete_reason"] or "quarter-hour" in row["incomplete_reason"]
        if pd.isna(row["green_share_pct"]):
            assert row["incomplete_reason"]
