"""`energy-pipelines backtest` inputs: a warehouse dataset as the series, clear errors on bad paths."""

import pandas as pd
import pytest

from energy_pipelines.cli import main
from energy_pipelines.forecasting.cli import _archive_files, _dataset_series
from energy_pipelines.storage import ParquetStore


def test_a_warehouse_dataset_gives_one_region_on_a_regular_grid(tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_PIPELINES_HOME", str(tmp_path))
    t = pd.date_range("2024-03-30", "2024-04-01", freq="30min", tz="UTC", inclusive="left")
    rows = pd.concat([pd.DataFrame({"datetime_utc": t, "region_code": code, "consommation_mw": value})
                      for code, value in (("93", 5000.0), ("11", 9000.0))])
    rows = rows.drop(rows.index[5])  # a missing half-hour in PACA stays a gap
    ParquetStore(tmp_path / "warehouse").write("core_rte__eco2mix_regional", rows, time_column=None)
    series = _dataset_series("core_rte__eco2mix_regional", "consommation_mw", "region_code = '93'")
    assert series.index.tz is not None and len(series) == len(t)
    assert series["consommation_mw"].isna().sum() == 1 and set(series["consommation_mw"].dropna()) == {5000.0}


def test_missing_archive_and_dataset_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_PIPELINES_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nowhere.zip"):
        _archive_files([tmp_path / "nowhere.zip"])
    with pytest.raises(FileNotFoundError, match="no_such_dataset has no file"):
        _dataset_series("no_such_dataset", "x", None)


def test_backtest_is_a_command_of_the_cli(capsys):
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    assert "rolling-origin" in capsys.readouterr().out


def test_a_history_shorter_than_the_calibration_window_is_refused_with_the_minimum(tmp_path, capsys):
    """It crashed deep in pandas (an empty calibration set) when the PACA 2017 backtest asked for 180 days."""
    from energy_pipelines.forecasting.models import Forecaster

    code = main(["backtest", "--archives", str(tmp_path), "--temperature", str(tmp_path), "--school-calendar",
                 str(tmp_path), "--from", "2017-07-01", "--to", "2018-01-01", "--history-days", "180"])
    err = capsys.readouterr().err
    assert code == 2 and "--history-days 180" in err and f"at least {Forecaster().minimum_history_days}" in err
    with pytest.raises(ValueError, match="give at least 392 days"):
        Forecaster(history_days=180).fit(pd.Series(dtype=float), None, pd.Timestamp("2017-07-01", tz="UTC"))
