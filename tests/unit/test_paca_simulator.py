"""The sample-mode simulator of the PACA mix: deterministic, window-independent, physically sensible."""

import numpy as np
import pandas as pd

import pytest

from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.simulate.paca_mix import mix, quarter_hour_mix, write_eco2mix_days
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.rte_eco2mix import ADAPTER
from energy_pipelines.transforms.eco2mix import clean_eco2mix

YEAR = pd.date_range("2025-01-01", "2026-01-01", freq="30min", inclusive="left", tz="UTC")


def test_values_depend_on_the_half_hour_only_not_on_the_window():
    whole = mix(YEAR[:96]).set_index("datetime_utc")
    piece = mix(YEAR[40:41]).set_index("datetime_utc")
    pd.testing.assert_series_equal(whole.loc[piece.index[0]], piece.iloc[0], check_names=False)


def test_magnitudes_and_shapes_follow_the_real_paca_archives():
    m = mix(YEAR).set_index("datetime_utc")
    assert 4000 < m["consommation"].mean() < 5500  # real 2017: 4,707 MW
    assert m["consommation"].min() > 2500 and m["consommation"].max() < 9000
    local_hour = m.index.tz_convert("Europe/Paris").hour
    assert m["solaire"][(local_hour < 5) | (local_hour > 22)].max() == 0  # no sun at night
    summer_noon = m["solaire"][(m.index.month == 6) & (local_hour == 13)].mean()
    winter_noon = m["solaire"][(m.index.month == 12) & (local_hour == 13)].mean()
    assert summer_noon > 1.5 * winter_noon
    winter = m["consommation"][m.index.month.isin([1, 2, 12])].mean()
    spring = m["consommation"][m.index.month.isin([4, 5])].mean()
    assert winter > spring  # heating load
    weekday = m["consommation"][m.index.dayofweek < 5].mean()
    assert m["consommation"][m.index.dayofweek >= 5].mean() < weekday
    # balance identity: consumption = production + pumping + exchanges, to the MW
    parts = m[["thermique", "eolien", "solaire", "hydraulique", "bioenergies", "pompage", "ech_physiques"]].sum(axis=1)
    assert np.allclose(parts, m["consommation"])


REAL_CONS_DEF_HEADER = (  # the header of ODRÉ's eco2mix-regional-cons-def export (2024 file in realdata)
    "Code INSEE région;Région;Nature;Date;Heure;Date - Heure;Consommation (MW);Thermique (MW);Nucléaire (MW);"
    "Eolien (MW);Solaire (MW);Hydraulique (MW);Pompage (MW);Bioénergies (MW);Ech. physiques (MW);Stockage batterie;"
    "Déstockage batterie;Eolien terrestre;Eolien offshore;TCO Thermique (%);TCH Thermique (%);TCO Nucléaire (%);"
    "TCH Nucléaire (%);TCO Eolien (%);TCH Eolien (%);TCO Solaire (%);TCH Solaire (%);TCO Hydraulique (%);"
    "TCH Hydraulique (%);TCO Bioénergies (%);TCH Bioénergies (%);Column 30")
# the current API fields of eco2mix-regional-tr (realdata PROVENANCE)
API_TR_FIELDS = ("code_insee_region;libelle_region;nature;date;heure;date_heure;consommation;thermique;nucleaire;"
                 "eolien;solaire;hydraulique;pompage;bioenergies;ech_physiques;stockage_batterie;destockage_batterie;"
                 "tco_thermique;tch_thermique;tco_nucleaire;tch_nucleaire;tco_eolien;tch_eolien;tco_solaire;"
                 "tch_solaire;tco_hydraulique;tch_hydraulique;tco_bioenergies;tch_bioenergies;column_68")


def core_of(landing: LandingZone, start, end):
    read = landing.read_window(ADAPTER, start, end)
    return read, clean_eco2mix(read.rows)


def test_a_half_hour_is_the_mean_of_its_quarter_hours_and_both_balance():
    times = YEAR[::37]
    quarters = quarter_hour_mix(times.append(times + pd.Timedelta(minutes=15)))
    n = len(times)
    halves = mix(times)
    values = ["consommation", "thermique", "eolien", "solaire", "hydraulique", "pompage", "bioenergies"]
    mean = (quarters[values].iloc[:n].to_numpy() + quarters[values].iloc[n:].to_numpy()) / 2
    assert np.abs(halves[values].to_numpy() - mean).max() <= 0.5  # rounded to the MW like RTE's
    parts = ["thermique", "eolien", "solaire", "hydraulique", "bioenergies", "pompage", "ech_physiques"]
    for frame in (quarters, halves):
        assert (frame[parts].sum(axis=1) == frame["consommation"]).all()
        assert (frame[values] == frame[values].round()).all().all()
    # the quarter-hours move within the half-hour: the feed is not a half-hourly one written twice
    assert (quarters["consommation"].iloc[:n].to_numpy() != quarters["consommation"].iloc[n:].to_numpy()).mean() > 0.9


def test_real_time_quarter_hours_then_consolidated_half_hours_as_the_live_api_serves(tmp_path):
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    now = pd.Timestamp("2025-10-26T05:07Z")  # consolidated until 1 September (Paris), real time after
    start, end = pd.Timestamp("2025-08-31T20:00Z"), pd.Timestamp("2025-09-01T00:00Z")
    written = write_eco2mix_days(landing, start, end, now=now)
    assert [p.name for p in written] == ["sample_eco2mix-regional-cons-def_93_2025-08-31.csv",
                                         "sample_eco2mix-regional-tr_93_2025-08-31.csv"]
    cons = written[0].read_bytes()
    assert cons.startswith("\ufeff".encode()) and b"\r\n" in cons
    assert cons.decode("utf-8-sig").split("\r\n")[0] == REAL_CONS_DEF_HEADER
    tr = written[1].read_text(encoding="utf-8").splitlines()
    assert tr[0] == API_TR_FIELDS and len(tr) == 1 + 8  # 22:00-24:00 UTC, quarter-hours
    assert tr[1].split(";")[2:6] == ["Données temps réel", "2025-09-01", "00:00", "2025-09-01T00:00:00+02:00"]
    read, cleaned = core_of(landing, start, end)
    assert read.rejects.empty and cleaned.rejects.empty
    data = cleaned.data
    assert data["datetime_utc"].tolist() == list(pd.date_range(start, end, freq="30min", inclusive="left"))
    assert data["source_interval_minutes"].tolist() == [30] * 4 + [15] * 4
    assert data["nature"].tolist() == ["Données consolidées"] * 4 + ["Données temps réel"] * 4
    assert data["incomplete_reason"].isna().all()
    expected = mix(pd.DatetimeIndex(data["datetime_utc"]))["consommation"].to_numpy()
    assert np.abs(data["consommation_mw"].to_numpy() - expected).max() <= 0.5


def test_day_files_only_grow_and_list_the_unpublished_quarter_hours_as_empty_rows(tmp_path):
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    day = pd.Timestamp("2025-10-26", tz="UTC")
    now = day + pd.Timedelta(hours=5, minutes=7)
    written = write_eco2mix_days(landing, day, day + pd.Timedelta(days=1), now=now)
    assert [p.name for p in written] == ["sample_eco2mix-regional-tr_93_2025-10-26.csv"]
    first = written[0].read_text(encoding="utf-8").splitlines()
    valued = [line for line in first[1:] if line.split(";")[6]]
    assert len(valued) == 20 and len(first) - 1 == 20 + 72  # 00:00-04:45 published; until 23:00Z (Paris midnight)
    assert first[21].split(";")[5] == "2025-10-26T06:00:00+01:00" and not first[21].split(";")[6]
    # an earlier window or the same request later on writes nothing
    assert write_eco2mix_days(landing, day, day + pd.Timedelta(hours=1), now=now) == []
    assert write_eco2mix_days(landing, day, day + pd.Timedelta(days=1), now=now) == []
    later = write_eco2mix_days(landing, day, day + pd.Timedelta(days=1), now=now + pd.Timedelta(hours=2))
    again = later[0].read_text(encoding="utf-8").splitlines()
    assert again[:21] == first[:21] and len([x for x in again[1:] if x.split(";")[6]]) == 28
    read, cleaned = core_of(landing, day, day + pd.Timedelta(days=1))
    assert len(read.rows) == 92 and read.stats["quarter_hour_rows"] == 92
    assert len(cleaned.data) == 14 and cleaned.data["incomplete_reason"].isna().all()  # 00:00 .. 06:30 UTC
    assert cleaned.figures["placeholder_rows"] == 64


@pytest.mark.parametrize(("day", "expected"), [("2025-03-30", 46), ("2025-10-26", 50)])
def test_dst_days_from_the_real_time_feed_are_whole(tmp_path, day, expected):
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    start, end = (pd.Timestamp(t) for t in paris_day_bounds(day))
    write_eco2mix_days(landing, start, end, now=end + pd.Timedelta(hours=1))
    read, cleaned = core_of(landing, start, end)
    assert len(read.rows) == 2 * expected and (read.rows["interval_minutes"] == 15).all()
    data = cleaned.data
    assert len(data) == expected and data["datetime_utc"].is_unique and data["incomplete_reason"].isna().all()
    assert (data["source_interval_minutes"] == 15).all()
    assert data["datetime_local"].str[11:16].value_counts().max() == (2 if expected == 50 else 1)


@pytest.mark.parametrize(("day", "quirk", "kept", "fillers"), [
    ("2025-03-30", False, 46, 0), ("2025-10-26", False, 50, 0),
    ("2025-03-30", True, 46, 2), ("2025-10-26", True, 48, 0)])
def test_dst_days_from_consolidated_exports_with_and_without_rtes_quirk(tmp_path, day, quirk, kept, fillers):
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    start, end = (pd.Timestamp(t) for t in paris_day_bounds(day))
    written = write_eco2mix_days(landing, start, end, now=pd.Timestamp("2026-11-29T05:00Z"), dst_quirk=quirk)
    assert {p.name.split("_")[1] for p in written} == {"eco2mix-regional-cons-def"}
    read, cleaned = core_of(landing, start, end)
    assert len(read.rejects) == fillers and read.rejects["reason"].str.contains("RTE filler row").all()
    assert len(cleaned.data) == kept and (cleaned.data["source_interval_minutes"] == 30).all()
    assert set(cleaned.data["nature"]) == {"Données définitives"}  # 2025 is final by mid-2026
