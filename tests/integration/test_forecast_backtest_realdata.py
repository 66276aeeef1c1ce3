"""`energy-pipelines backtest` on real data: RTE national consumption 2019, the model tuned on
2016-2018 only (hyper-parameters fixed on the 2018 backtest, docs/forecasting.md), the national
temperature a population-weighted mean of the regions, the school calendar of zones A-C.

One run of the command (not one per parameter); the issue's done-when thresholds are asserted on
the Parquet score table it writes: skill >= 0.3 against the better naive forecast for 0-24 h and
24-48 h, 80 % intervals covering 75-85 % of the observations, the ratio to RTE J-1's MAPE printed.
"""

import pandas as pd
import pytest

from energy_pipelines.cli import main


@pytest.mark.realdata
@pytest.mark.slow
def test_backtest_national_consumption_2019(realdata, tmp_path, capsys):
    out = tmp_path / "backtest"
    code = main(["backtest", "--archives", str(realdata / "rte_eco2mix_national"),
                 "--temperature", str(realdata / "temperature_daily_france" /
                                      "temperature-quotidienne-regionale_predict_elec.csv"),
                 "--school-calendar", str(realdata / "school_calendar" / "fr-en-calendrier-scolaire.csv"),
                 "--from", "2019-01-01", "--to", "2020-01-01", "--out", str(out)])
    printed = capsys.readouterr().out
    with capsys.disabled():
        print(printed)
    assert code == 0
    table = pd.read_parquet(out / "scores.parquet")
    observed = table[(table["model"] == "hgb") & (table["temperature"] == "observed")].set_index("band")
    for band in ("0-24h", "24-48h"):
        assert observed.loc[band, "skill_vs_best_naive"] >= 0.3, observed.loc[band].to_dict()
        assert observed.loc[band, "n"] > 3000
    assert 0.75 <= observed.loc["all", "coverage"] <= 0.85
    # the provider's own forecast is scored on the same half-hours, and the ratio is printed
    assert observed.loc["0-24h", "mape_provider"] > 0 and "mape_ratio_to_provider" in printed
    # climatological temperature is reported too: the weather's share of the skill is visible
    climatology = table[(table["temperature"] == "climatology") & (table["band"] == "24-48h")]
    assert len(climatology) == 1 and climatology["rmse"].iloc[0] > observed.loc["24-48h", "rmse"]
    assert (out / "skill_by_band.png").stat().st_size > 1000 and (out / "forecasts.parquet").exists()
