"""`energy-pipelines backtest`: rolling-origin evaluation of the forecasters on a series.

The series comes from RTE annual archives (national or regional, as dropped in landing; RTE's J-1
forecast is scored too when the archive has it) or from a warehouse dataset (`--dataset`, with
`--where` to pick one region). Writes the score table (Parquet, and printed), the forecasts
(Parquet) and charts under `--out` (default: <data root>/reports/backtest/<series>_<from>_<to>).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from energy_pipelines.forecasting.features import DailyContext
from energy_pipelines.forecasting.models import MODELS, Forecaster


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("backtest", help="rolling-origin backtest of the forecasts on a series, with scores",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archives", nargs="+", type=Path, help="RTE annual archive files or folders holding them")
    src.add_argument("--dataset", help="a warehouse dataset (e.g. core_rte__eco2mix_regional)")
    p.add_argument("--where", help="SQL filter on the dataset, e.g. \"region_code = '93'\"")
    p.add_argument("--column", default="consommation", help="the series to forecast (default consommation; "
                                                                     "renewable_share_pct from the archives)")
    p.add_argument("--area", default="national", help="'national' (population-weighted temperature, zones A-C) "
                                                      "or an INSEE region code (default national)")
    p.add_argument("--temperature", nargs="+", type=Path, required=True,
                   help="ODRÉ temperature-quotidienne-regionale file(s)")
    p.add_argument("--school-calendar", nargs="+", type=Path, required=True, help="fr-en-calendrier-scolaire file(s)")
    p.add_argument("--from", dest="start", required=True, help="first test day (UTC), YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="day after the last test day (UTC), YYYY-MM-DD")
    p.add_argument("--models", default="hgb", help=f"comma-separated, from {','.join(MODELS)} (default hgb)")
    p.add_argument("--origin-every", type=int, default=5, help="days between origins (default 5: all weekdays)")
    p.add_argument("--origin-hour", type=int, default=10, help="UTC hour of the origins (default 10)")
    p.add_argument("--refit-days", type=int, default=91, help="days between refits (default 91)")
    p.add_argument("--history-days", type=int, default=3 * 365, help="history a fit uses (default 1095)")
    p.add_argument("--out", type=Path, help="output folder")
    p.set_defaults(func=_cmd_backtest)


def _archive_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.name.startswith("eCO2mix_RTE_"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such archive file or folder")
    if not files:
        raise FileNotFoundError(f"no eCO2mix_RTE_* archive in {[str(p) for p in paths]}")
    return files


def _dataset_series(dataset: str, column: str, where: str | None) -> pd.DataFrame:
    import duckdb

    from energy_pipelines.settings import load_settings
    from energy_pipelines.storage import ParquetStore

    store = ParquetStore(load_settings().warehouse_dir)
    if not store.files(dataset):
        raise FileNotFoundError(f"dataset {dataset} has no file in the warehouse {store.root}")
    sql = (f"SELECT datetime_utc, avg(\"{column}\") AS \"{column}\" FROM read_parquet('{store.glob(dataset)}', "
           f"union_by_name = true) {'WHERE ' + where if where else ''} GROUP BY 1 ORDER BY 1")
    frame = duckdb.sql(sql).df().set_index("datetime_utc")
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC") if frame.index.tz else \
        pd.DatetimeIndex(frame.index).tz_localize("UTC")
    grid = pd.date_range(frame.index[0], frame.index[-1], freq="30min")
    return frame.reindex(grid)


def _cmd_backtest(args) -> int:
    from energy_pipelines.forecasting import series as inputs
    from energy_pipelines.forecasting.backtest import charts, printed_table, run_backtest

    t0 = time.monotonic()
    minimum = Forecaster().minimum_history_days
    if args.history_days < minimum:  # the fit would find no data to calibrate on, deep in pandas
        print(f"error: --history-days {args.history_days}: the 80 % intervals are calibrated on the last "
              f"{Forecaster().calibration_days} days of the history and the model trains before them; give at "
              f"least {minimum}", file=sys.stderr)
        return 2
    if args.archives:
        frame = inputs.read_rte_archives(_archive_files(args.archives))
        name = f"rte_{args.area}_{args.column}"
    else:
        frame = _dataset_series(args.dataset, args.column, args.where)
        name = f"{args.dataset}_{args.column}"
    # RTE's J-1 is a forecast of consumption: it is the provider's forecast of that column only
    provider = "prevision_j1" if args.column == "consommation" and "prevision_j1" in frame \
        and frame["prevision_j1"].notna().any() else None
    context = DailyContext.build(inputs.daily_temperature(args.temperature, args.area),
                                 inputs.school_holiday_share(args.school_calendar, args.area))
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")
    result = run_backtest(frame, args.column, context, start, end, models=tuple(args.models.split(",")),
                          provider=provider, origin_every=args.origin_every, origin_hour_utc=args.origin_hour,
                          refit_days=args.refit_days, history_days=args.history_days)
    if args.out:
        out = args.out
    else:
        from energy_pipelines.settings import load_settings

        out = load_settings().reports_dir / "backtest" / f"{name}_{args.start}_{args.end}"
    out.mkdir(parents=True, exist_ok=True)
    from energy_pipelines.storage.atomic import write_atomic

    write_atomic(out / "scores.parquet", lambda tmp: result.scores.to_parquet(tmp, index=False))
    write_atomic(out / "forecasts.parquet", lambda tmp: result.forecasts.to_parquet(tmp, index=False))
    chart_paths = charts(result, args.column, out, provider="provider" if provider else None)
    print(f"\nBacktest of {args.column} ({args.area}), origins every {args.origin_every} days at "
          f"{args.origin_hour:02d}:00 UTC from {args.start} to {args.end}, refit every {args.refit_days} days on "
          f"{args.history_days} days of history; 80 % split-conformal intervals per band.")
    print("Temperature of the days ahead: 'observed' = the observed daily mean used as a perfect forecast; "
          "'climatology' = the mean of the same days of the training years (no weather forecast).")
    if args.area == "national":
        print("National temperature = mean of the 13 mainland regions weighted by population (INSEE 2019).")
    if provider:
        print("Provider = RTE's J-1 forecast (Prévision J-1) of the same half-hours; "
              "mape_ratio_to_provider = our MAPE / RTE J-1's MAPE.")
    print(printed_table(result.scores))
    print(f"chosen model (lowest RMSE, observed temperature): {result.chosen_model}")
    print(f"written: {out / 'scores.parquet'}, {out / 'forecasts.parquet'}, "
          f"{', '.join(str(p) for p in chart_paths)} in {time.monotonic() - t0:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:  # for `python -m energy_pipelines.forecasting.cli`
    parser = argparse.ArgumentParser(prog="energy-pipelines")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
