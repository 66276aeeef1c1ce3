"""UC4 readers: SGE load curves across both DST days, bills, temperature and school calendar quirks."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from energy_pipelines.simulate import simulate
from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.simulate import buildings as sb
from energy_pipelines.sources import buildings_bills, buildings_load_curves, school_calendar, temperature_daily
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.transforms.buildings import curves

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("day, hours", [("2025-03-30", 23), ("2025-10-26", 25), ("2025-06-12", 24)])
def test_load_curves_of_a_dst_day_have_its_length(tmp_path, day, hours):
    lz = LandingZone(tmp_path, "enedis_sge_courbes")
    lo, hi = paris_day_bounds(day)
    simulate("enedis_sge_courbes", lz, lo, hi, now=NOW)
    read = lz.read_window(buildings_load_curves.ADAPTER, lo, hi)
    assert read.bad_files == {} and len(read.rows)
    rows = read.rows
    per_prm = rows.groupby("prm").agg(minutes=("step_minutes", "sum"), first=("datetime_utc", "min"))
    complete = per_prm[per_prm["minutes"] == hours * 60]
    assert len(complete) >= 0.9 * len(per_prm)  # a few PRMs have a delivery gap that day
    assert (per_prm["first"] == pd.Timestamp(lo)).mean() > 0.9
    daily = curves.daily_load(rows)
    ten = daily[daily["expected_points"] == hours * 6]
    half = daily[daily["expected_points"] == hours * 2]
    assert len(ten) and len(half) and len(ten) + len(half) == len(daily)  # 138/144/150 or 46/48/50


def test_naive_local_stamps_read_the_repeated_october_hour_twice_and_refuse_the_march_gap(tmp_path):
    header = ("Identifiant PRM;Date de début;Date de fin;Grandeur physique;Grandeur métier;Etape métier;Unité;"
              "Horodate;Valeur;Nature;Pas;Indice de vraisemblance;Etat complémentaire\n")
    rows = ["30000000000001;2025-10-26;2025-10-27;PA;CONS;BRUT;W;2025-10-26 02:30:00;1000;R;PT30M;0;0",
            "30000000000001;2025-10-26;2025-10-27;PA;CONS;BRUT;W;2025-10-26 02:30:00;2000;R;PT30M;0;0",
            "30000000000001;2025-03-30;2025-03-31;PA;CONS;BRUT;W;2025-03-30 02:30:00;3000;R;PT30M;0;0",
            "30000000000001;2025-03-30;2025-03-31;PA;CONS;BRUT;W;2025-03-30 04:00:00;-5;R;PT30M;0;0",
            "30000000000001;2025-03-30;2025-03-31;EA;CONS;BRUT;Wh;2025-03-30 05:00:00;5;R;PT30M;0;0"]
    path = tmp_path / "R63_20251026.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    read = buildings_load_curves.ADAPTER.read_file(path)
    starts = sorted(read.rows["datetime_utc"])
    assert starts == [pd.Timestamp("2025-10-26 00:00", tz="UTC"), pd.Timestamp("2025-10-26 01:00", tz="UTC")]
    assert read.rows["energy_wh"].tolist() == [500.0, 1000.0]
    reasons = " | ".join(read.rejects["reason"])
    assert "non-existent local Horodate" in reasons and "negative power" in reasons and "not a load curve" in reasons


def test_bill_reader_types_french_numbers_and_rejects_unreadable_lines(tmp_path):
    text = ("\ufeff" + ";".join(sb.BILL_COLUMNS) + "\n"
            "F1;05/02/2024;ENGIE;FACTURE;;GI000001;Gaz naturel;01/01/2024;31/01/2024;1 000;2 000;R;1 000;m3;11,2;700,50;140,10;840,60\n"
            "F2;05/02/2024;ENGIE;FACTURE;;GI000001;Gaz naturel;31/01/2024;01/01/2024;1;2;R;1;m3;11,2;1;0;1\n"
            "F3;05/02/2024;ENGIE;FACTURE;;GI000001;Gaz naturel;01/01/2024;31/01/2024;1;2;R;1;litres;11,2;1;0;1\n")
    path = tmp_path / "factures_ENG_202402.csv"
    path.write_text(text, encoding="utf-8")
    read = buildings_bills.ADAPTER.read_file(path)
    row = read.rows.iloc[0]
    assert (row["quantity"], row["conversion_kwh_per_m3"], row["amount_incl_vat_eur"]) == (1000.0, 11.2, 840.6)
    assert row["period_start"] == date(2024, 1, 1) and row["datetime_utc"] == pd.Timestamp("2024-02-04 23:00", tz="UTC")
    assert sorted(read.rejects["reason"].str[:22]) == ["period ends before it ", "unknown unit 'litres' "]
    assert buildings_bills.ADAPTER.span_from_name(path)[0] == paris_day_bounds("2024-02-01")[0]


def test_temperature_reader_refuses_inconsistent_days(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ID;Date;Code INSEE région;Région;TMin (°C);TMax (°C);TMoy (°C)\n"
                    "x;01/01/24;93;PACA;3,1;12,2;7,6\nx;02/01/24;93;PACA;13,1;12,2;12,6\n", encoding="utf-8")
    read = temperature_daily.ADAPTER.read_file(path)
    assert read.rows["day"].tolist() == [date(2024, 1, 1)] and read.rows["tmean_c"].iloc[0] == 7.6
    assert read.rejects["reason"].tolist() == ["TMin above TMax"]


def test_school_calendar_simulation_round_trips_through_the_official_format(tmp_path):
    lz = LandingZone(tmp_path, "education_calendrier")
    simulate("education_calendrier", lz, None, None, now=NOW)
    rows = school_calendar.ADAPTER.read_file(lz.dir / "fr-en-calendrier-scolaire.csv").rows
    aix = rows[(rows["location"] == "Aix-Marseille") & (rows["school_year"] == "2024-2025")]
    toussaint = aix[aix["description"] == "Vacances de la Toussaint"].iloc[0]
    # Saturday to the Monday classes resume, Paris midnights stored in UTC (summer time then winter time)
    assert toussaint["start_utc"] == pd.Timestamp("2024-10-18 22:00", tz="UTC")
    assert toussaint["end_utc"] == pd.Timestamp("2024-11-03 23:00", tz="UTC")
    assert set(rows["zones"]) == {"Zone A", "Zone B"}
