"""UC5 readers: Enedis measure files in local time (both DST days), the PMO's register and keys, the simulator."""

from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.simulate import acc as sim
from energy_pipelines.sources import acc_curves, acc_enedis_allocation, acc_keys, acc_register
from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.landing import LandingZone

HEADER = ("Identifiant PRM;Date de début;Date de fin;Grandeur physique;Grandeur métier;Etape métier;Unité;"
          "Horodate;Valeur;Nature;Pas;Indice de vraisemblance;Etat complémentaire")
PRM = "99000000000001"


def _write(tmp_path: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _row(horodate: str, value: str = "100", grandeur: str = "CONS", physique: str = "EA", unit: str = "Wh",
         pas: str = "PT30M", prm: str = PRM) -> str:
    return f"{prm};2025-10-26;2025-10-27;{physique};{grandeur};BRUT;{unit};{horodate};{value};R;{pas};0;0"


def _lines_read(read) -> int:
    return len(read.rows) + len(read.rejects)


@pytest.mark.parametrize("day, steps", [("2025-03-30", 46), ("2025-10-26", 50), ("2025-06-21", 48)])
def test_simulated_day_in_local_time_gives_every_utc_step_once(tmp_path, day, steps):
    path = tmp_path / f"ACC_X_COURBES_{day.replace('-', '')}.csv"
    path.write_text(sim.curves_csv(date.fromisoformat(day)), encoding="utf-8")
    read = acc_curves.ADAPTER.read_file(path)
    assert read.rejects.empty
    lo, hi = paris_day_bounds(day)
    expected = pd.date_range(lo, hi, freq="30min", inclusive="left")
    assert len(expected) == steps
    for _, series in read.rows.groupby(["prm", "grandeur_metier"]):
        assert list(series["datetime_utc"]) == list(expected)


def test_autumn_repeated_local_stamps_are_summer_time_first_then_winter_time(tmp_path):
    labels = ["2025-10-26 02:00:00", "2025-10-26 02:30:00", "2025-10-26 02:00:00", "2025-10-26 02:30:00",
              "2025-10-26 03:00:00"]
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", [_row(h, str(i)) for i, h in enumerate(labels)]))
    starts = read.rows.sort_values("source_line")["datetime_utc"].dt.strftime("%H:%M").tolist()
    # end stamps: 02:00 CEST = 00:00Z, 02:30 CEST = 00:30Z, 02:00 CET = 01:00Z ...; starts one step earlier
    assert starts == ["23:30", "00:00", "00:30", "01:00", "01:30"]


def test_a_stamp_repeated_a_third_time_on_the_autumn_day_is_rejected(tmp_path):
    labels = ["2025-10-26 02:30:00"] * 3
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", [_row(h) for h in labels]))
    assert len(read.rows) == 2
    assert read.rejects["reason"].str.contains("repeated more than twice").all()
    assert _lines_read(read) == 3


def test_a_spring_day_delivered_with_48_stamps_is_a_dst_shifted_day_and_its_impossible_hours_are_rejected(tmp_path):
    ends = pd.date_range("2025-03-30 00:30", periods=48, freq="30min")  # naive, as if there were no change
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", [_row(f"{t:%Y-%m-%d %H:%M:%S}") for t in ends]))
    assert len(read.rows) == 46 and len(read.rejects) == 2
    assert read.rejects["reason"].str.contains("does not exist").all()
    assert read.rejects["record"].str.contains("2025-03-30 02:00:00|2025-03-30 02:30:00").all()


def test_stamps_with_an_offset_are_taken_as_they_are(tmp_path):
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", [_row("2026-01-01T00:30:00+01:00")]))
    assert read.rows["datetime_utc"].iloc[0] == pd.Timestamp("2025-12-31T23:00Z")


def test_bad_readings_are_rejected_with_their_reason_and_nothing_is_lost(tmp_path):
    lines = [_row("2025-06-01 00:30:00", "-12"), _row("2025-06-01 01:00:00", ""), _row("2025-06-01 01:30:00", "abc"),
             _row("2025-06-01 02:00:00", "10", grandeur="AUTOCONS"), _row("2025-06-01 02:30:00", "10", pas="PT7M"),
             _row("2025-06-01 03:00:00", "10", prm="123"), _row("2025-06-01 03:30:00", "10.5"),
             _row("2025-06-01 04:00:00", "10"), _row("2025-06-01 04:00:00", "11"),
             _row("2025-06-01 04:30:00", "10", physique="XX")]
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", lines))
    assert _lines_read(read) == len(lines)
    assert read.rows["energy_wh"].tolist() == [10]
    reasons = " | ".join(read.rejects.sort_values("source_line")["reason"])
    for expected in ("negative reading -12", "missing value", "non-numeric value abc", "grandeur métier not expected",
                     "unknown step", "invalid PRM", "not in whole Wh", "duplicate reading", "unknown quantity/unit"):
        assert expected in reasons


def test_mean_power_in_w_becomes_wh_over_the_step_rounded_half_up(tmp_path):
    lines = [_row("2025-06-01 00:30:00", "1001", physique="PA", unit="W"),
             _row("2025-06-01 00:15:00", "2", physique="PA", unit="kW", pas="PT15M", prm="99000000000002"),
             _row("2025-06-01 01:00:00", "1,5", physique="EA", unit="kWh", pas="PT60M", prm="99000000000003")]
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", lines))
    assert read.rows.sort_values("source_line")["energy_wh"].tolist() == [501, 500, 1500]
    assert read.rows.sort_values("source_line")["step_minutes"].tolist() == [30, 15, 60]
    assert read.stats["curves_power_rows_rounded_to_wh"] == 1


def test_labels_are_matched_without_accents_or_case_and_a_missing_column_names_the_file(tmp_path):
    header = HEADER.replace("Grandeur métier", "GRANDEUR METIER").replace("Unité", "unite")
    read = acc_curves.ADAPTER.read_file(_write(tmp_path, "c.csv", [_row("2025-06-01 00:30:00")], header=header))
    assert len(read.rows) == 1
    with pytest.raises(SourceFileError, match=r"c2\.csv: missing column"):
        acc_curves.ADAPTER.read_file(_write(tmp_path, "c2.csv", ["x;y"], header="Identifiant PRM;Valeur"))


def test_enedis_results_accept_the_allocated_quantities(tmp_path):
    lines = [_row("2025-06-01 12:30:00", v, grandeur=g) for g, v in
             (("CONS", "500"), ("AUTOCONS", "300"), ("COMPLEMENT", "200"))]
    read = acc_enedis_allocation.ADAPTER.read_file(_write(tmp_path, "r.csv", lines))
    assert read.rows["grandeur_metier"].tolist() == ["CONS", "AUTOCONS", "COMPLEMENT"]


def test_daily_file_names_give_their_paris_day_span(tmp_path):
    span = acc_curves.ADAPTER.span_from_name(tmp_path / "ACC_X_COURBES_20251026.csv")
    assert span == paris_day_bounds("2025-10-26")


# -- register and keys ----------------------------------------------------------------------------

REGISTER_HEADER = ";".join(sim.REGISTER_HEADER)


def _reg(**fields) -> str:
    base = dict(id_operation="OP", id_participant="A", nom="x", type_participant="consommateur",
                prm_soutirage="99000000000001", prm_injection="", date_entree="2025-01-01", date_sortie="",
                latitude="43.96", longitude="5.78", puissance_crete_kwc="", puissance_injection_kva="",
                puissance_souscrite_kva="6", tarif="base")
    base.update(fields)
    return ";".join(base[k] for k in sim.REGISTER_HEADER)


def test_register_rows_that_break_a_rule_are_rejected_with_the_rule(tmp_path):
    lines = [_reg(), _reg(id_participant="B", type_participant="producteur", prm_soutirage="",
                          prm_injection="98000000000001", puissance_crete_kwc="36"),
             _reg(id_participant="C", prm_soutirage=""), _reg(id_participant="D", type_participant="voisin"),
             _reg(id_participant="E", date_sortie="2024-12-31"),
             _reg(id_participant="F", type_participant="producteur", prm_soutirage="", prm_injection="98000000000002"),
             _reg(id_participant="G", latitude="")]
    read = acc_register.ADAPTER.read_file(_write(tmp_path, "REGISTRE_ACC_OP_20250101.csv", lines, REGISTER_HEADER))
    assert read.rows["id_participant"].tolist() == ["A", "B"]
    assert _lines_read(read) == len(lines)
    reasons = " | ".join(read.rejects["reason"])
    for expected in ("withdrawal PRM", "unknown type_participant", "date_sortie before date_entree",
                     "PV peak power", "latitude missing"):
        assert expected in reasons
    assert read.rows["datetime_utc"].iloc[0] == pd.Timestamp("2024-12-31T23:00Z")
    with pytest.raises(SourceFileError, match="snapshot date"):
        acc_register.ADAPTER.read_file(_write(tmp_path, "registre.csv", lines, REGISTER_HEADER))


def test_key_rows_are_typed_and_row_errors_rejected(tmp_path):
    header = ";".join(sim.KEY_HEADER)
    lines = ["OP;K;statique;non;2025-01-01;;;;99000000000001;60",
             "OP;K;statique;non;2025-01-01;;;;99000000000002;40",
             "OP;K;statique;peut-etre;2025-01-01;;;;99000000000003;40",
             "OP;D;dynamique_simple;oui;2025-01-01;;2025-10-26 02:30:00;;99000000000001;100",
             "OP;D;dynamique_simple;oui;2025-01-01;;2025-10-26T02:30:00+01:00;;99000000000001;100",
             "OP;Z;dynamique_defaut;non;2025-01-01;;;;99000000000001;100",
             "OP;S;statique;non;2025-01-01;;;;99000000000001;120"]
    read = acc_keys.ADAPTER.read_file(_write(tmp_path, "CLE_ACC_OP_K.csv", lines, header))
    assert _lines_read(read) == len(lines)
    assert len(read.rows) == 3
    dynamic = read.rows[read.rows["type_cle"] == "dynamique_simple"]
    assert dynamic["step_start_utc"].iloc[0] == pd.Timestamp("2025-10-26T01:30Z")
    reasons = " | ".join(read.rejects["reason"])
    for expected in ("redistribution must be oui or non", "UTC offset", "no PRM and no coefficient", "outside [0, 100]"):
        assert expected in reasons


# -- simulator ------------------------------------------------------------------------------------


def test_the_simulator_is_deterministic_and_delivers_only_days_that_are_over(tmp_path):
    assert sim.curves_csv(date(2025, 7, 1)) == sim.curves_csv(date(2025, 7, 1))
    landing = LandingZone(tmp_path, "acc_curves")
    start, end = paris_day_bounds("2025-07-01")[0], paris_day_bounds("2025-07-03")[0]
    written = sim.write_curves(landing, start, end, now=datetime(2025, 7, 2, 12, tzinfo=timezone.utc))
    assert [p.name for p in written] == [f"ACC_{sim.OPERATION_ID}_COURBES_20250701.csv"]
    assert sim.write_curves(landing, start, end, now=datetime(2025, 7, 2, 12, tzinfo=timezone.utc)) == []


def test_the_simulated_operation_has_20_households_2_producers_a_newcomer_and_a_key_change():
    assert len(sim.households()) == 20 and len(sim.producers()) == 2
    assert len(sim.active_households(date(2025, 4, 14))) == 19
    assert len(sim.active_households(date(2025, 4, 15))) == 20
    assert len(sim.active_households(date(2026, 3, 1))) == 19
    assert [sim.key_on(date(2025, d[0], d[1])).id for d in ((4, 14), (4, 15), (9, 1))] == ["K1", "K2", "K3"]
    for key in sim.keys():
        if key.coefficients:
            assert sum(round(100 * c, 2) for c in key.coefficients.values()) == pytest.approx(100, abs=1e-9)
    cons, prod = sim.metered(date(2025, 6, 21))
    assert sum(int(v.sum()) for v in prod.values()) > 150_000  # a sunny June day on 42 kWc
    assert all((v >= 0).all() for v in cons.values())
