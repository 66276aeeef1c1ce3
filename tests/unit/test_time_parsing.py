"""Time in every reader: a local time without its offset is refused with a reason naming it; formats
that define their zone resolve the DST days by their documented rule; UTF-16 files are decoded.

Both DST days of 2025: 30 March (02:00-03:00 Paris does not exist) and 26 October (02:00-03:00
Paris happens twice).
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy_pipelines.sources.base import load_adapter
from energy_pipelines.sources.delimited import decode, to_utc
from energy_pipelines.sources.timeparse import parse_instants, wall_clock_to_utc

UTC = timezone.utc


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# -- the shared helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(("stamp", "instant"), [
    ("2025-03-30T01:30:00+01:00", "2025-03-30T00:30:00Z"),  # last half-hour of winter time
    ("2025-03-30T03:00:00+02:00", "2025-03-30T01:00:00Z"),  # first of summer time
    ("2025-10-26T02:10:00+02:00", "2025-10-26T00:10:00Z"),  # the repeated hour, first time
    ("2025-10-26T02:10:00+01:00", "2025-10-26T01:10:00Z"),  # ... and second time
    ("2025-10-26T01:10:00Z", "2025-10-26T01:10:00Z"),
    ("2025-10-26 02:10:00+0100", "2025-10-26T01:10:00Z"),
    (" 2025-10-26T02:10+01:00 ", "2025-10-26T01:10:00Z"),
])
def test_a_stamp_with_its_offset_gives_its_exact_instant(stamp, instant):
    parsed = parse_instants(pd.Series([stamp]), "date_heure")
    assert parsed.utc.iloc[0] == ts(instant)
    assert parsed.reason.iloc[0] == ""


def test_a_stamp_without_offset_is_refused_even_after_rows_with_one():
    # pandas' ISO 8601 parser gave such a value the offset of the row before it (01:10Z here)
    text = pd.Series(["2025-10-26T02:10:00+01:00", "2025-10-26T02:10:00", "2025-03-30T02:30:00",
                      "2025-03-30T03:30:00+02:00", "26/10/2025 02:10", "", None])
    parsed = parse_instants(text, "debut")
    assert parsed.utc.iloc[0] == ts("2025-10-26T01:10Z") and parsed.utc.iloc[3] == ts("2025-03-30T01:30Z")
    assert parsed.utc.iloc[[1, 2, 4, 5, 6]].isna().all()
    reasons = parsed.reason.tolist()
    assert reasons[1].startswith("debut '2025-10-26T02:10:00' has no UTC offset")
    assert reasons[2].startswith("debut '2025-03-30T02:30:00' has no UTC offset")
    assert reasons[4].startswith("unparseable debut '26/10/2025 02:10'")
    assert reasons[5] == reasons[6] == "missing debut"
    assert to_utc(text).isna().tolist() == [False, True, True, False, True, True, True]  # the shared reader helper


OFFSETS = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timedelta(minutes=15 * q))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)), OFFSETS)
def test_any_instant_written_with_any_offset_reads_back_and_without_it_is_refused(naive, offset):
    instant = naive.replace(microsecond=0, tzinfo=UTC)
    written = instant.astimezone(timezone(offset)).isoformat()
    back = parse_instants(pd.Series([written, written[:19]]))
    assert back.utc.iloc[0] == pd.Timestamp(instant)
    assert pd.isna(back.utc.iloc[1]) and "has no UTC offset" in back.reason.iloc[1]


def test_wall_clock_times_follow_the_formats_rule_on_both_dst_days():
    naive = pd.Series(pd.to_datetime(["2025-03-30 01:30", "2025-03-30 02:00", "2025-03-30 03:00",
                                      "2025-10-26 02:00", "2025-10-26 02:00", "2025-10-26 03:00"]))
    rte = wall_clock_to_utc(naive, repeated="order")  # RTE archives: first row = summer time
    assert rte.utc.tolist()[:1] + rte.utc.tolist()[2:] == [ts("2025-03-30T00:30Z"), ts("2025-03-30T01:00Z"),
                                                           ts("2025-10-26T00:00Z"), ts("2025-10-26T01:00Z"),
                                                           ts("2025-10-26T02:00Z")]
    assert pd.isna(rte.utc.iloc[1]) and rte.anchor.iloc[1] == ts("2025-03-30T01:00Z")  # when the clocks jumped
    assert "does not exist in Europe/Paris" in rte.reason.iloc[1]
    strict = wall_clock_to_utc(naive, repeated="refuse")
    assert strict.utc.iloc[[3, 4]].isna().all()
    assert strict.reason.iloc[3].startswith("local time 2025-10-26 02:00 occurs twice")
    utc = wall_clock_to_utc(naive, "UTC")  # a format in UTC (Météo-France): no DST at all
    assert utc.utc.tolist() == [t.tz_localize("UTC") for t in naive] and (utc.reason == "").all()


# -- the readers ----------------------------------------------------------------------------------


def write(tmp_path, folder: str, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


HISTORY = ("id_transaction;id_pdc_itinerance;connecteur;badge;debut;fin;index_debut_wh;index_fin_wh;energie_wh;"
           "motif_arret\n")


def test_spie_history_sessions_without_offset_are_rejected_on_both_dst_days(tmp_path):
    path = write(tmp_path, "spie_transaction_history", "spie_symenergie05_historique_transactions_2025-10.csv",
                 HISTORY
                 + "1;FRS05E05061011;1;04AA;2025-10-26T01:40:00+02:00;2025-10-26T02:10:00+01:00;100;5100;5000;Local\n"
                 + "2;FRS05E05061011;1;04AA;2025-10-26T01:40:00+02:00;2025-10-26T02:10:00;100;5100;5000;Local\n"
                 + "3;FRS05E05061012;1;04AB;2025-10-26T02:10:00;2025-10-26T04:00:00+01:00;0;900;900;Local\n"
                 + "4;FRS05E05061012;1;04AB;2025-03-30T01:50:00+01:00;2025-03-30T03:10:00+02:00;0;900;900;Local\n"
                 + "5;FRS05E05061012;1;04AB;2025-03-30T01:50:00+01:00;2025-03-30T02:30:00;0;900;900;Local\n")
    read = load_adapter("spie_transaction_history").read_file(path)
    kept = read.rows.set_index("transaction_id")
    assert list(kept.index) == [1, 4]
    assert kept.loc[1, "start_utc"] == ts("2025-10-25T23:40Z") and kept.loc[1, "end_utc"] == ts("2025-10-26T01:10Z")
    assert kept.loc[4, "end_utc"] == ts("2025-03-30T01:10Z")
    reasons = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert set(reasons) == {3, 4, 6}
    assert "2025-10-26T02:10:00" in reasons[3] and reasons[3].startswith("unparseable fin")
    assert "2025-10-26T02:10:00" in reasons[4] and reasons[4].startswith("unparseable debut")
    assert "2025-03-30T02:30:00" in reasons[6]


def test_spie_log_and_enedis_signal_rows_without_offset_are_rejected(tmp_path):
    log = write(tmp_path, "spie_transaction_log", "spie_symenergie05_transactions_20251026T0100Z.csv",
                "timestamp;charge_point_id;connector_id;message;transaction_id;id_tag;id_tag_status;meter_wh;"
                "measurand;context;reason\n"
                "2025-10-26T01:05:00Z;FRS05E05061011;1;StartTransaction;7;04AABB;Accepted;1000;;Transaction.Begin;\n"
                "2025-10-26T02:10:00;FRS05E05061011;1;MeterValues;7;;;1500;;Sample.Periodic;\n")
    read = load_adapter("spie_transaction_log").read_file(log)
    assert read.rows["message"].tolist() == ["StartTransaction"]
    assert read.rejects["reason"].tolist() == ["unparseable timestamp: 2025-10-26T02:10:00"]
    signal = write(tmp_path, "enedis_green_signal", "enedis_signal_vert_05_20251026T0100Z.csv",
                   "horodate;id_station_itinerance;num_pdl;code_poste_source;production_enr_wh;consommation_wh;"
                   "ratio_vert\n"
                   "2025-10-26T02:00:00+01:00;FRS05P0506101;1;PS05GAP;100;200;0.5\n"
                   "2025-10-26T02:00:00;FRS05P0506102;1;PS05GAP;100;200;0.5\n")
    read = load_adapter("enedis_green_signal").read_file(signal)
    assert read.rows["datetime_utc"].tolist() == [ts("2025-10-26T01:00Z")]
    assert read.rejects["reason"].iloc[0] == ("unparseable horodate (expected ISO 8601 with offset): "
                                              "2025-10-26T02:00:00")


def test_enedis_open_and_commune_extracts_refuse_a_horodate_without_offset(tmp_path):
    from energy_pipelines.sources.enedis_open import FIELDS

    fields = FIELDS["prod-region"]
    row = {"region": "Provence-Alpes-Côte d'Azur", "code_region": "93", "plage_de_puissance_injection": "P0",
           "filiere_de_production": "F5 : Solaire", "nb_points_injection": "12", "total_energie_injectee_wh": "1000"}

    def line(horodate):
        return ";".join([horodate if f == "horodate" else row.get(f, "") for f in fields]) + "\n"

    path = write(tmp_path, "x", "ods_prod.csv", ";".join(fields) + "\n" + line("2025-03-30T03:00:00+02:00")
                 + line("2025-03-30T02:30:00") + line("2025-10-26T02:30:00+01:00"))
    read = load_adapter("enedis_open").read_file(path)
    assert read.rows["datetime_utc"].tolist() == [ts("2025-03-30T01:00Z"), ts("2025-10-26T01:30Z")]
    assert read.rejects["reason"].iloc[0].startswith("horodate '2025-03-30T02:30:00' has no UTC offset")

    commune = write(tmp_path, "y", "extract.csv",
                    "horodate;code_commune;nom_commune;secteur_activite;nb_points_soutirage;"
                    "total_energie_soutiree_wh;energie_soutiree_max_point_wh\n"
                    "2025-10-26T02:00:00+02:00;04112;Forcalquier;Résidentiel;120;50000;900\n"
                    "2025-10-26T02:00:00;04112;Forcalquier;Résidentiel;120;50000;900\n")
    read = load_adapter("enedis_commune").read_file(commune)
    assert read.rows["datetime_utc"].tolist() == [ts("2025-10-26T00:00Z")]
    assert read.rejects["reason"].iloc[0].startswith("horodate '2025-10-26T02:00:00' has no UTC offset")


ODRE = ("code_insee_region;libelle_region;nature;date;heure;date_heure;consommation;thermique;nucleaire;eolien;"
        "solaire;hydraulique;pompage;bioenergies;ech_physiques\n")


def odre_row(date, heure, stamp, nature="Données temps réel"):
    return f"93;Provence-Alpes-Côte d'Azur;{nature};{date};{heure};{stamp};4000;1000;;10;0;900;0;100;1990\n"


def test_odre_date_heure_is_kept_with_its_offset_and_refused_without_on_both_dst_days(tmp_path):
    path = write(tmp_path, "rte", "export.csv", ODRE
                 + odre_row("2025-03-30", "01:45", "2025-03-30T01:45:00+01:00")
                 + odre_row("2025-03-30", "03:00", "2025-03-30T03:00:00+02:00")
                 + odre_row("2025-03-30", "03:15", "2025-03-30T03:15:00")
                 + odre_row("2025-10-26", "02:15", "2025-10-26T02:15:00+02:00")
                 + odre_row("2025-10-26", "02:15", "2025-10-26T02:15:00+01:00")
                 + odre_row("2025-10-26", "02:30", "2025-10-26T02:30:00"))
    read = load_adapter("rte_eco2mix").read_file(path)
    assert read.rows["interval_start_utc"].tolist() == [ts("2025-03-30T00:45Z"), ts("2025-03-30T01:00Z"),
                                                        ts("2025-10-26T00:15Z"), ts("2025-10-26T01:15Z")]
    # each quarter-hour belongs to the half-hour holding it
    assert read.rows["datetime_utc"].tolist() == [ts("2025-03-30T00:30Z"), ts("2025-03-30T01:00Z"),
                                                  ts("2025-10-26T00:00Z"), ts("2025-10-26T01:00Z")]
    reasons = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert set(reasons) == {4, 7}
    assert reasons[4].startswith("date_heure '2025-03-30T03:15:00' has no UTC offset")
    assert reasons[7].startswith("date_heure '2025-10-26T02:30:00' has no UTC offset")


def test_rte_archive_keeps_its_documented_dst_rule(tmp_path):
    """Paris wall-clock by definition: the spring fillers refused, the autumn label read as summer time."""
    header = ("Périmètre;Nature;Date;Heures;Consommation;Thermique;Nucléaire;Eolien;Solaire;Hydraulique;Pompage;"
              "Bioénergies;Ech. physiques\n")
    rows = "".join(f"PACA;Données définitives;{d};{h};4000;150;-;8;0;1300;0;100;2442\n"
                   for d in ("30/03/2025", "26/10/2025") for h in ("01:30", "02:00", "02:30", "03:00"))
    read = load_adapter("rte_eco2mix").read_file(write(tmp_path, "rte", "archive.csv", header + rows, "latin-1"))
    assert read.rows["datetime_utc"].tolist() == [ts("2025-03-30T00:30Z"), ts("2025-03-30T01:00Z"),
                                                  ts("2025-10-25T23:30Z"), ts("2025-10-26T00:00Z"),
                                                  ts("2025-10-26T00:30Z"), ts("2025-10-26T02:00Z")]
    assert read.rejects["reason"].tolist() == ["local time does not exist (spring-forward DST gap): RTE filler row"] * 2


def test_meteofrance_hours_are_utc_by_format_so_the_autumn_night_has_no_repeat(tmp_path):
    header = "NUM_POSTE;NOM_USUEL;LAT;LON;ALTI;AAAAMMJJHH;T\n"
    rows = "".join(f"05046001;EMBRUN;44.56;6.50;871;20251026{h:02d};8.{h}\n" for h in range(4))
    path = tmp_path / "meteofrance" / "H_05_2025-10-26.csv.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress((header + rows).encode()))
    read = load_adapter("meteofrance").read_file(path)
    assert read.rows["datetime_utc"].tolist() == [ts(f"2025-10-26T{h:02d}:00Z") for h in range(4)]


# -- UTF-16 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_files_are_decoded_by_their_bom(tmp_path, encoding):
    text = HISTORY + "1;FRS05E05061011;1;04AA;2025-10-26T01:40:00+02:00;2025-10-26T02:10:00+01:00;100;5100;5000;Local\n"
    raw = text.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + text.encode(encoding)
    assert decode(tmp_path / "x.csv", raw) == text
    utf8 = write(tmp_path, "a", "spie_symenergie05_historique_transactions_2025-10.csv", text)
    utf16 = tmp_path / "b" / utf8.name
    utf16.parent.mkdir()
    utf16.write_bytes(raw)
    adapter = load_adapter("spie_transaction_history")
    pd.testing.assert_frame_equal(adapter.read_file(utf16).rows, adapter.read_file(utf8).rows)


def test_utf16_without_bom_is_still_named_as_binary(tmp_path):
    from energy_pipelines.sources.base import SourceFileError

    with pytest.raises(SourceFileError, match="NUL bytes; UTF-16 without a BOM"):
        decode(tmp_path / "x.csv", HISTORY.encode("utf-16-le"))
