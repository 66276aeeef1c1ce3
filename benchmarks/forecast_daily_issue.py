"""Cost of one daily forecast issue on the production path (`forecasting.models.Forecaster`).

    python benchmarks/forecast_daily_issue.py [--realdata PATH] [--model hgb|prophet]

On RTE national consumption (real archives) with the population-weighted national temperature:
fit (conformal calibration on the last 364 days + refit on 1095 days) as of 2019-06-03, then one
7-day forecast issued at 10:00 UTC. Prints wall-clock seconds of each step, training rows, the
conformal half-widths and the threads allowed. Figures, not assertions: a daily issue refitting
every day costs fit + predict; refitting weekly or quarterly (as the backtest does) costs predict.
The boosting runs on one OpenMP thread by default (`TabularModel(threads=1)`): measured on the
2-core machine shared with other jobs (load ~7), a fit took 246 s with 2 threads and 28 s with 1.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _realdata() -> Path:
    for parent in ROOT.parents:
        if (parent / "shared" / "realdata").is_dir():
            return parent / "shared" / "realdata"
    return ROOT.parent / "shared" / "realdata"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=_realdata())
    parser.add_argument("--model", default="hgb")
    args = parser.parse_args()
    from energy_pipelines.forecasting import series as inputs
    from energy_pipelines.forecasting.features import DailyContext
    from energy_pipelines.forecasting.models import Forecaster

    r = args.realdata
    t0 = time.perf_counter()
    frame = inputs.read_rte_archives(sorted((r / "rte_eco2mix_national").glob("*.zip")))
    context = DailyContext.build(
        inputs.daily_temperature([r / "temperature_daily_france" / "temperature-quotidienne-regionale_predict_elec.csv"]),
        inputs.school_holiday_share([r / "school_calendar" / "fr-en-calendrier-scolaire.csv"]))
    t_read = time.perf_counter() - t0
    until = pd.Timestamp("2019-06-03", tz="UTC")
    t0 = time.perf_counter()
    forecaster = Forecaster(model_name=args.model).fit(frame["consommation"], context, until)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = forecaster.predict(frame["consommation"], context, pd.DatetimeIndex([until + pd.Timedelta(hours=10)]))
    t_predict = time.perf_counter() - t0
    print(f"boosting threads: 1 (TabularModel default); cores seen: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"read archives 2012-2019 + temperature + school calendar: {t_read:6.1f} s")
    print(f"fit {args.model} (calibrate on 364 days, refit on 1095 days): {t_fit:6.1f} s")
    print(f"one 7-day issue ({len(out)} half-hours): {t_predict:6.1f} s")
    print(f"conformal half-widths (MW): {({k: round(v) for k, v in forecaster.quantiles['observed'].items()})}")


if __name__ == "__main__":
    main()
