"""The éCO2mix reader: every real format, RTE's DST quirks, and bad input named or quarantined."""

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.rte_eco2mix import ADAPTER
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


def test_odre_csv_json_jsonl_and_zip_flavours_agree(tmp_path):
    from energy_pipelines.simulate.paca_mix import odre_export

    times = pd.date_range("2025-10-25 22:00", "2025-10-26 23:00", freq="30min", inclusive="left", tz="UTC")
    csv_text = odre_export(times)
    (tmp_path / "x.csv").write_text(csv_text, encoding="utf-8-sig")  # with a BOM
    records = pd.read_csv(io.StringIO(csv_text), sep=";", dtype=str, keep_default_na=False).to_dict("records")
    (tmp_path / "x.json").write_text(json.dumps(records))
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("eCO2mix_RTE_PACA.xls", csv_text.replace(";", "\t"))
    reads = {ext: ADAPTER.read_file(tmp_path / f"x.{ext}").rows for ext in ("csv", "json", "jsonl", "zip")}
    assert len(reads["csv"]) == 50
    for ext, rows in reads.items():
        assert rows["datetime_utc"].tolist() == reads["csv"]["datetime_utc"].tolist(), ext
        assert rows["consommation"].tolist() == reads["csv"]["consommation"].tolist(), ext


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
