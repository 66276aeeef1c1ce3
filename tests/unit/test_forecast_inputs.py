"""Inputs of the backtest read from files as dropped in landing: RTE national archive (with J-1),
national temperature as a population-weighted mean, the school zones' holiday share."""

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.forecasting import series as inputs
from energy_pipelines.sources.base import SourceFileError


@pytest.mark.realdata
def test_national_archive_gives_consumption_and_rte_j1_on_utc_half_hours(realdata):
    frame = inputs.read_rte_archive(realdata / "rte_eco2mix_national" / "eCO2mix_RTE_Annuel-Definitif_2019.zip")
    assert {"consommation", "prevision_j1"} <= set(frame.columns)
    assert frame.index.tz is not None and (frame.index.minute % 30 == 0).all()
    paris_day = frame.index.tz_convert("Europe/Paris").normalize()
    per_day = frame.groupby(paris_day).size()
    # RTE's DST quirks: the spring filler rows are dropped, the autumn repeated hour is given once
    assert per_day[pd.Timestamp("2019-03-31", tz="Europe/Paris")] == 46
    assert per_day[pd.Timestamp("2019-10-27", tz="Europe/Paris")] == 48
    assert 50_000 < frame["consommation"].mean() < 56_200  # PROVENANCE: annual means 50.8-56.2 GW
    j1_error = (frame["prevision_j1"] - frame["consommation"]).abs() / frame["consommation"]
    assert 0.005 < j1_error.mean() < 0.03  # RTE's own day-ahead forecast is ~1.5 % off


@pytest.mark.realdata
def test_national_temperature_is_the_population_weighted_mean_of_the_regions(realdata):
    path = realdata / "temperature_daily_france" / "temperature-quotidienne-regionale_predict_elec.csv"
    national = inputs.daily_temperature([path])
    day = pd.Timestamp("2019-01-15")
    rows = pd.read_csv(path, sep=";", encoding="utf-8-sig")
    rows = rows[rows["Date"] == "15/01/19"]
    weights = rows["Code INSEE région"].astype(str).str.zfill(2).map(inputs.REGION_POPULATION_2019)
    assert national[day] == pytest.approx(np.average(rows["TMoy (°C)"], weights=weights))
    assert 11 < national["2019"].mean() < 15
    assert inputs.daily_temperature([path], area="93")[day] == pytest.approx(rows.loc[rows["Code INSEE région"] == 93, "TMoy (°C)"].iloc[0])


@pytest.mark.realdata
def test_school_share_counts_zones_and_is_unknown_before_the_zones(realdata):
    share = inputs.school_holiday_share([realdata / "school_calendar" / "fr-en-calendrier-scolaire.csv"])
    assert share.index.min() == pd.Timestamp("2017-09-01")  # zones A-C start with 2017-2018: earlier is unknown
    assert share[pd.Timestamp("2019-08-01")] == 1.0 and share[pd.Timestamp("2019-03-12")] == 0.0
    assert share[pd.Timestamp("2019-02-12")] == pytest.approx(1 / 3)  # winter holidays are staggered by zone


def test_a_file_that_is_not_an_archive_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "eCO2mix_RTE_Annuel-Definitif_2019.csv"
    bad.write_text("a;b;c\n1;2;3\n", encoding="latin-1")
    with pytest.raises(SourceFileError, match="eCO2mix_RTE_Annuel-Definitif_2019.csv.*Consommation"):
        inputs.read_rte_archive(bad)
