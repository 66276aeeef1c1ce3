"""UC4 detectors on a small simulated estate (30 lycées): they find the anomalies the simulator injected.

The simulator writes its files, the real readers read them, `run_estate` detects; the truth comes
from the simulator and is only used here to score. Not a timed test: figures are in
benchmarks/uc4_detection.py.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from energy_pipelines.clock import paris_start
from energy_pipelines.simulate import buildings as sb
from energy_pipelines.sources import (buildings_bills, buildings_grdf, buildings_load_curves, buildings_meters,
                                      buildings_register, school_calendar, temperature_daily)
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.transforms.buildings.params import Uc4Params
from energy_pipelines.transforms.buildings.pipeline import run_estate

N = 30
START, END = date(2023, 1, 1), date(2025, 1, 1)
CURVES = (date(2024, 1, 1), date(2024, 4, 1))
NOW = datetime(2025, 1, 2, tzinfo=timezone.utc)
ALL = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
BILLING = ["duplicate_bill", "impossible_quantity", "price_out_of_range", "missing_bill", "estimate_correction"]


def _read(adapter, root, source, write) -> pd.DataFrame:
    lz = LandingZone(root, source)
    write(lz)
    return lz.read_window(adapter, *ALL).rows


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    root = tmp_path_factory.mktemp("uc4")
    s, e = paris_start(sb.EPOCH), paris_start(END)
    t = {
        "buildings": _read(buildings_register.ADAPTER, root, "b", lambda lz: sb.write_register(lz, "batiments", n_lycees=N)),
        "meters": _read(buildings_meters.ADAPTER, root, "m", lambda lz: sb.write_register(lz, "compteurs", n_lycees=N)),
        "calendar": _read(school_calendar.ADAPTER, root, "c", lambda lz: sb.write_school_calendar(lz, s, e)),
        "temperature": _read(temperature_daily.ADAPTER, root, "t", lambda lz: sb.write_temperature(lz, s, e, now=NOW)),
        "bills": _read(buildings_bills.ADAPTER, root, "f", lambda lz: sb.write_bills(lz, s, e, now=NOW, n_lycees=N)),
        "curves": _read(buildings_load_curves.ADAPTER, root, "l", lambda lz: sb.write_load_curves(
            lz, paris_start(CURVES[0]), paris_start(CURVES[1]), now=NOW, n_lycees=N)),
        "gas": pd.concat([_read(buildings_grdf.ADAPTER, root, f"g{y}", lambda lz, y=y: sb.write_grdf(
            lz, paris_start(date(y, 7, 1)), paris_start(date(y, 9, 1)), now=NOW, n_lycees=N)) for y in (2023, 2024)]),
    }
    result = run_estate(t["bills"], t["meters"], t["buildings"], t["calendar"], t["temperature"], date(2024, 12, 31),
                        Uc4Params(), load_curves=t["curves"], gas_days=t["gas"])
    truth = sb.injected_anomalies(START, END, n_lycees=N, until=date(2024, 12, 31))
    truth = truth[(truth["kind"] != "drift") | (pd.to_datetime(truth["period_start"]).dt.year > 2023)]
    curve_kind = truth["kind"].isin(["night_base_load", "holiday_base_load"])
    in_curves = (pd.to_datetime(truth["period_end"]) >= pd.Timestamp(CURVES[0])) & \
        (pd.to_datetime(truth["period_start"]) < pd.Timestamp(CURVES[1]))
    truth = truth[~curve_kind | in_curves].reset_index(drop=True)
    return result, truth


def test_billing_errors_are_found_with_few_false_alarms(estate):
    result, truth = estate
    score = sb.score_detections(result.anomalies, truth, START, END).set_index("kind")
    billing = score.loc[BILLING]
    assert (billing["injected"] > 0).all()
    assert (billing["true_positives"] > 0).all()
    tp, fp = billing["true_positives"].sum(), billing["false_positives"].sum()
    assert tp / (tp + fp) >= 0.9
    assert (billing["recall"] * billing["injected"]).sum() / billing["injected"].sum() >= 0.8


def test_drifts_and_summer_gas_are_found(estate):
    result, truth = estate
    score = sb.score_detections(result.anomalies, truth, START, END).set_index("kind")
    for kind in ("drift", "gas_summer_holidays"):
        assert score.loc[kind, "injected"] > 0
        assert score.loc[kind, "recall"] >= 0.8, kind
        assert score.loc[kind, "precision"] >= 0.5, kind


def test_load_curve_anomalies_in_the_delivered_months_are_found(estate):
    result, truth = estate
    a = result.anomalies
    for kind, building in (("night_base_load", "LYC-13055-005"), ("holiday_base_load", "LYC-83137-027")):
        assert ((truth["kind"] == kind) & (truth["building_id"] == building)).any()
        found = a[(a["kind"] == kind) & (a["building_id"] == building)]
        assert len(found) and found["eur_at_stake"].gt(0).all() and found["evidence"].str.len().gt(40).all()
    score = sb.score_detections(a[a["kind"].isin(["night_base_load", "holiday_base_load"])], truth, START, END)
    assert score.set_index("kind").loc[["night_base_load", "holiday_base_load"], "false_positives"].sum() <= 1


def test_every_anomaly_says_where_when_why_and_what_is_at_stake(estate):
    result, _ = estate
    a = result.anomalies
    assert a["building_id"].notna().all() and a["fluid"].notna().all() and a["evidence"].str.len().gt(20).all()
    assert (a["period_end"] >= a["period_start"]).all()
    assert a["eur_at_stake"].notna().mean() > 0.9 and (a["eur_at_stake"].dropna() >= 0).all()
    assert a[a["unit"] == "kWh"]["kwh_at_stake"].notna().all()
