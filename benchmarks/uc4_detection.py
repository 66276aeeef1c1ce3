"""UC4 detection benchmark: precision and recall per anomaly kind on the simulated estate.

The simulator writes two years and more of the ~150 lycées' files (bills from 2022, load curves
and GRDF days of the evaluation years) into a throw-away landing zone; the real readers read them;
`run_estate` cleans, allocates, fits the baselines on the reference year and detects; the
detections are scored against the simulator's truth (never seen by the detectors).

    .venv/bin/python benchmarks/uc4_detection.py [--from 2023-01-01] [--to 2025-01-01]
        [--reference-year 2023] [--curve-year 2024] [--buildings 150]

Aim (issue 15): precision >= 0.9 and recall >= 0.8 on billing errors and drifts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

import pandas as pd

from energy_pipelines.simulate import simulate
from energy_pipelines.simulate import buildings as sb
from energy_pipelines.sources import (buildings_bills, buildings_grdf, buildings_load_curves, buildings_meters,
                                      buildings_register, school_calendar, temperature_daily)
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.transforms.buildings.params import load_params
from energy_pipelines.transforms.buildings.pipeline import run_estate

UTC = timezone.utc
ALL = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
BILLING = ("duplicate_bill", "impossible_quantity", "price_out_of_range", "missing_bill", "estimate_correction")


def paris(d: date) -> datetime:
    from energy_pipelines.clock import paris_start

    return paris_start(d)


def read(adapter, root, source, start: date, end: date, now: datetime) -> pd.DataFrame:
    lz = LandingZone(root, source)
    simulate(source, lz, paris(start), paris(end), now=now)
    r = lz.read_window(adapter, *ALL)
    if len(r.rejects):
        print(f"  {source}: {len(r.rejects)} rows rejected by the reader")
    return r.rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="start", default="2023-01-01")
    ap.add_argument("--to", dest="end", default="2025-01-01")
    ap.add_argument("--reference-year", type=int, default=2023)
    ap.add_argument("--curve-year", type=int, default=2024)
    args = ap.parse_args(argv)
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    as_of = end - timedelta(days=1)
    now = paris(end + timedelta(days=1))
    params = load_params()
    params = params.model_copy(update={"baseline": params.baseline.model_copy(update={"reference_year": args.reference_year})})
    root = tempfile.mkdtemp(prefix="uc4_bench_")
    t0 = time.perf_counter()
    tables = {}
    for name, adapter, source, s, e in (
        ("buildings", buildings_register.ADAPTER, "patrimoine_batiments", sb.EPOCH, end),
        ("meters", buildings_meters.ADAPTER, "patrimoine_compteurs", sb.EPOCH, end),
        ("calendar", school_calendar.ADAPTER, "education_calendrier", sb.EPOCH, end),
        ("temperature", temperature_daily.ADAPTER, "rte_temperature_daily", sb.EPOCH, end),
        ("bills", buildings_bills.ADAPTER, "fournisseurs_factures", sb.EPOCH, end),
        ("curves", buildings_load_curves.ADAPTER, "enedis_sge_courbes", date(args.curve_year, 1, 1),
         date(args.curve_year + 1, 1, 1)),
    ):
        t = time.perf_counter()
        tables[name] = read(adapter, root, source, s, e, now)
        print(f"simulate + read {name:12s} {len(tables[name]):>10,d} rows  {time.perf_counter() - t:6.1f} s")
    t = time.perf_counter()
    gas = []
    for year in range(start.year, end.year):
        gas.append(read(buildings_grdf.ADAPTER, root, "grdf_adict", date(year, 7, 1), date(year, 9, 1), now))
    tables["gas"] = pd.concat(gas, ignore_index=True)
    print(f"simulate + read gas days     {len(tables['gas']):>10,d} rows  {time.perf_counter() - t:6.1f} s")
    t = time.perf_counter()
    res = run_estate(tables["bills"], tables["meters"], tables["buildings"], tables["calendar"], tables["temperature"],
                     as_of, params, load_curves=tables["curves"], gas_days=tables["gas"])
    print(f"run_estate (clean, allocate, baselines, detect)         {time.perf_counter() - t:6.1f} s")
    truth = sb.injected_anomalies(start, end, until=as_of)
    # load-curve kinds are only observable in the year of curves delivered
    curve_kinds = truth["kind"].isin(["night_base_load", "holiday_base_load"])
    in_curve_year = pd.to_datetime(truth["period_start"]).dt.year == args.curve_year
    truth = truth[~curve_kinds | in_curve_year].reset_index(drop=True)
    # drifts are measured against the reference year: only those starting after it are observable
    truth = truth[(truth["kind"] != "drift") | (pd.to_datetime(truth["period_start"]).dt.year > args.reference_year)]
    detected = res.anomalies
    curve_det = detected["kind"].isin(["night_base_load", "holiday_base_load"])
    detected = detected[~curve_det | (pd.to_datetime(detected["period_start"]).dt.year == args.curve_year)]
    score = sb.score_detections(detected, truth.reset_index(drop=True), start, end)
    b = res.baselines
    print(f"\nbaselines on {args.reference_year}: {len(b)} building-fluids, {int(b['passes_g14'].sum())} meet "
          f"ASHRAE Guideline 14 (monthly CV(RMSE) <= 15 %, |NMBE| <= 5 %); median CV(RMSE) by fluid:")
    print(b.groupby("fluid")[["cvrmse_pct", "test_cvrmse_pct"]].median().round(2).to_string())
    print(f"\nbill lines: {res.lines['status'].value_counts().to_dict()}; rejected {len(res.rejects)}")
    print(f"\ndetection {start} .. {end} (truth from the simulator, kept apart from the detectors):")
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 160):
        print(score.to_string(index=False))
    billing = score[score["kind"].isin(BILLING)]
    tp, fp = billing["true_positives"].sum(), billing["false_positives"].sum()
    found = (billing["recall"] * billing["injected"]).sum()
    print(f"\nbilling errors together: precision {tp / max(tp + fp, 1):.3f}, recall {found / max(billing['injected'].sum(), 1):.3f}")
    print(f"total {time.perf_counter() - t0:.0f} s; EUR at stake flagged: {detected['eur_at_stake'].sum():,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
