"""The UC3 forecaster evaluated on real data: PACA 2017 (RTE éCO2mix definitive archive) as a test year.

Ten issues, every four weeks from March to December, each forecasting the next 168 hours from
the 56 days before it; scored together against the seasonal naive forecast (same hour one week
earlier). The skill is printed; the test asserts it is computed and sane, not that it is good.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.sources.rte_eco2mix import ADAPTER
from energy_pipelines.transforms import territorial_forecast as tf
from energy_pipelines.transforms.eco2mix import clean_eco2mix


PRODUCTION = ["thermique_mw", "eolien_mw", "solaire_mw", "hydraulique_mw", "bioenergies_mw"]


@pytest.mark.realdata
def test_forecast_skill_on_paca_2017(realdata):
    path = realdata / "rte_eco2mix_paca" / "eCO2mix_RTE_PACA_Annuel-Definitif_2017.csv"
    mix = clean_eco2mix(ADAPTER.read_file(path).rows.assign(source_file=path.name)).data
    half = pd.DataFrame({"territory_id": "paca", "datetime_utc": mix["datetime_utc"],
                         "consumption_kwh": mix["consommation_mw"] * 500,  # MW over half an hour -> kWh
                         "production_kwh": mix[PRODUCTION].sum(axis=1, min_count=len(PRODUCTION)) * 500})
    hourly = tf.hourly(half)
    assert 8700 < len(hourly) <= 8760  # hours with both half-hours (RTE's DST quirks drop a few)
    origins = [pd.Timestamp("2017-03-06", tz="Europe/Paris") + pd.Timedelta(weeks=4 * k) for k in range(10)]
    cfg = tf.ForecastConfig.from_yaml(Path(__file__).resolve().parents[2] / "assets_config" / "uc3" / "forecast.yaml")
    scores, issued = tf.backtest(hourly, origins, cfg, tf.Site(43.9, 6.0))
    print("\nPACA 2017, 10 issues x 168 h, prophet vs seasonal naive (same hour one week earlier):")
    for variable, s in scores.items():
        print(f"  {variable:26s} skill(RMSE) {s['skill_rmse']:+.3f}  skill(MAE) {s['skill_mae']:+.3f}  "
              f"MASE {s['mase']:.3f}  80% interval coverage {s['interval_coverage']:.2f}  n={s['n']}")
    assert set(scores) == set(tf.VARIABLES)
    for s in scores.values():
        assert s["issues"] == 10 and s["n"] > 1600
        assert np.isfinite(s["skill_rmse"]) and -1 < s["skill_rmse"] < 1
        assert 0 < s["mase"] < 3
        assert 0.3 < s["interval_coverage"] <= 1
    assert len(issued) == 10 * 168 * 3
