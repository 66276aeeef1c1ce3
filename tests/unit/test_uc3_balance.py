"""UC3 balance and rates, on cases computed by hand (ratio of sums; Paris days of 46 and 50 half-hours)."""

import math

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.transforms.balance import (
    PvScenario,
    half_hour_balance,
    period_rates,
    pv_what_if,
    territorial_energy,
)


def _balance(times, consumption, production, territory="t1", solar=None, capacity=0.0):
    """A half-hourly balance frame as half_hour_balance returns it (big counts: no secrecy here)."""
    frame = pd.DataFrame({"territory_id": territory, "datetime_utc": pd.DatetimeIndex(times),
                          "consumption_kwh": consumption, "production_kwh": production})
    frame["self_consumed_kwh"] = frame[["consumption_kwh", "production_kwh"]].min(axis=1)
    frame["surplus_kwh"] = frame["production_kwh"] - frame["self_consumed_kwh"]
    frame["import_kwh"] = frame["consumption_kwh"] - frame["self_consumed_kwh"]
    frame["solar_kwh"] = frame["production_kwh"] if solar is None else solar
    frame["solar_capacity_kw"] = capacity
    frame["consumption_points"] = 1000
    frame["production_points"] = 100
    frame["largest_consumption_point_kwh"] = 0.0
    frame["largest_production_point_kwh"] = 0.0
    frame["communes_reporting"] = 3
    frame["communes_expected"] = 3
    frame["complete"] = True
    return frame


def _paris_day(day):
    start, end = paris_day_bounds(day)
    return pd.date_range(start, end, freq="30min", inclusive="left")


def test_rates_are_ratios_of_sums_not_means_of_ratios():
    times = pd.date_range("2025-06-02 10:00", periods=4, freq="30min", tz="UTC")
    bal = _balance(times, [10.0, 10.0, 10.0, 10.0], [0.0, 5.0, 20.0, 10.0])
    hourly = period_rates(bal, "hour")
    # hour 1: A = 0 + 5, P = 5, C = 20; hour 2: A = 10 + 10, P = 30, C = 20
    assert hourly["self_consumed_kwh"].tolist() == [5.0, 20.0]
    assert hourly["self_consumption_rate_pct"].tolist() == pytest.approx([100.0, 100 * 20 / 30])
    assert hourly["self_production_rate_pct"].tolist() == pytest.approx([25.0, 100.0])
    daily = period_rates(bal, "day")
    assert len(daily) == 1
    # sum A = 25, sum P = 35, sum C = 40 (the mean of half-hour rates would give 83.3 %)
    assert daily["self_consumption_rate_pct"].iat[0] == pytest.approx(100 * 25 / 35)
    assert daily["self_production_rate_pct"].iat[0] == pytest.approx(62.5)
    assert daily["coverage_rate_pct"].iat[0] == pytest.approx(87.5)


def test_spring_forward_day_has_46_half_hours_and_its_own_sums():
    day = _paris_day("2025-03-30")
    assert len(day) == 46
    before = pd.date_range(day[0] - pd.Timedelta(hours=3), day[0], freq="30min", inclusive="left")
    after = pd.date_range(day[-1] + pd.Timedelta(minutes=30), periods=6, freq="30min")
    times = before.append(day).append(after)
    consumption = [100.0] * len(before) + [2.0] * 46 + [100.0] * len(after)
    production = [0.0] * len(before) + [3.0] * 10 + [0.0] * 36 + [500.0] * len(after)
    daily = period_rates(_balance(times, consumption, production), "day").set_index("period_start_utc")
    row = daily.loc[pd.Timestamp("2025-03-29 23:00", tz="UTC")]
    assert row["period_end_utc"] == pd.Timestamp("2025-03-30 22:00", tz="UTC")
    assert row["half_hours_expected"] == 46 and row["half_hours_present"] == 46
    assert row["consumption_kwh"] == pytest.approx(92.0)
    assert row["production_kwh"] == pytest.approx(30.0)
    assert row["self_consumed_kwh"] == pytest.approx(20.0)
    assert row["self_consumption_rate_pct"] == pytest.approx(100 * 20 / 30)
    assert row["self_production_rate_pct"] == pytest.approx(100 * 20 / 92)
    hourly = period_rates(_balance(day, [2.0] * 46, [3.0] * 10 + [0.0] * 36), "hour")
    assert len(hourly) == 23


def test_fall_back_day_has_50_half_hours_and_keeps_the_repeated_hour_twice():
    day = _paris_day("2025-10-26")
    assert len(day) == 50
    # the repeated local hour 02:00-03:00 is 00:00-02:00 UTC: four half-hours
    repeated = (day >= pd.Timestamp("2025-10-26 00:00", tz="UTC")) & (day < pd.Timestamp("2025-10-26 02:00", tz="UTC"))
    assert repeated.sum() == 4
    production = [2.0 if r else 0.0 for r in repeated]
    bal = _balance(day, [1.0] * 50, production)
    daily = period_rates(bal, "day")
    assert len(daily) == 1
    row = daily.iloc[0]
    assert row["half_hours_expected"] == 50
    assert row["period_start_utc"] == pd.Timestamp("2025-10-25 22:00", tz="UTC")
    assert row["consumption_kwh"] == pytest.approx(50.0)
    assert row["self_consumed_kwh"] == pytest.approx(4.0)
    assert row["self_consumption_rate_pct"] == pytest.approx(50.0)
    assert row["self_production_rate_pct"] == pytest.approx(8.0)
    hourly = period_rates(bal, "hour")
    assert len(hourly) == 25
    local = hourly["period_start_utc"].dt.tz_convert("Europe/Paris")
    twice = hourly[local.dt.hour == 2]
    assert len(twice) == 2 and set(twice["self_consumption_rate_pct"]) == {50.0}


def test_month_and_year_periods_follow_the_paris_calendar():
    times = pd.date_range("2025-03-01", "2025-04-01", freq="30min", inclusive="left", tz="Europe/Paris")
    times = times.tz_convert("UTC")
    assert len(times) == 30 * 48 + 46
    bal = _balance(times, [1.0] * len(times), [0.5] * len(times))
    monthly = period_rates(bal, "month")
    assert len(monthly) == 1
    assert monthly["half_hours_expected"].iat[0] == 1486 == monthly["half_hours_present"].iat[0]
    assert monthly["self_production_rate_pct"].iat[0] == pytest.approx(50.0)
    yearly = period_rates(bal, "year")
    assert yearly["period_start_utc"].iat[0] == pd.Timestamp("2024-12-31 23:00", tz="UTC")
    assert yearly["half_hours_expected"].iat[0] == 17520


def test_no_production_gives_undefined_self_consumption_rate():
    times = pd.date_range("2025-01-06 00:00", periods=2, freq="30min", tz="UTC")
    hourly = period_rates(_balance(times, [4.0, 4.0], [0.0, 0.0]), "hour")
    assert math.isnan(hourly["self_consumption_rate_pct"].iat[0])
    assert hourly["self_production_rate_pct"].iat[0] == 0.0


def test_communes_sum_into_overlapping_territories_with_totals():
    t0 = pd.Timestamp("2025-06-01 12:00", tz="UTC")
    rows = [
        # commune, flow, category, Wh, points, largest Wh, kW
        ("83001", "consumption", "residential", 4000, 20, 400, None),
        ("83001", "consumption", "business", 6000, 3, 3000, None),
        ("83002", "consumption", "residential", 2000, 12, 300, None),
        ("83001", "production", "solar", 3000, 30, 500, 60.0),
        ("83002", "production", "solar", 1000, 10, 200, 20.0),
        ("83002", "production", "hydro", 5000, 1, 5000, 800.0),
    ]
    energy = pd.DataFrame(rows, columns=["commune_code", "flow", "category", "energy_wh", "n_points",
                                         "max_point_wh", "capacity_kw"])
    energy.insert(0, "datetime_utc", t0)
    members = pd.DataFrame({"territory_id": ["a", "a", "b"], "commune_code": ["83001", "83002", "83002"]})
    out = territorial_energy(energy, members).to_pandas().set_index(["territory_id", "flow", "category"])
    assert out.loc[("a", "consumption", "total"), "energy_kwh"] == pytest.approx(12.0)
    assert out.loc[("a", "consumption", "total"), "n_points"] == 35
    assert out.loc[("a", "consumption", "residential"), "energy_kwh"] == pytest.approx(6.0)
    assert out.loc[("a", "production", "total"), "largest_point_kwh"] == pytest.approx(5.0)
    assert out.loc[("a", "production", "solar"), "capacity_kw"] == pytest.approx(80.0)
    assert out.loc[("b", "production", "total"), "energy_kwh"] == pytest.approx(6.0)
    assert out.loc[("b", "consumption", "total"), "communes_expected"] == 1
    assert out.loc[("a", "consumption", "total"), "communes_reporting"] == 2
    bal = half_hour_balance(out.reset_index()).set_index("territory_id")
    assert bal.loc["a", "self_consumed_kwh"] == pytest.approx(9.0)  # min(P = 9, C = 12)
    assert bal.loc["b", "self_consumed_kwh"] == pytest.approx(2.0)  # min(P = 6, C = 2)
    assert bal.loc["b", "surplus_kwh"] == pytest.approx(4.0)
    assert bal.loc["a", "solar_capacity_kw"] == pytest.approx(80.0)
    assert bool(bal.loc["a", "complete"])


def test_pv_what_if_adds_the_fleet_profile_before_taking_min():
    times = pd.date_range("2025-06-02 00:00", periods=2, freq="30min", tz="UTC")
    # night then noon: the fleet of 20 kWp gives 10 kWh at noon, i.e. 0.5 kWh per kWp
    bal = _balance(times, [10.0, 10.0], [0.0, 10.0], solar=[0.0, 10.0], capacity=20.0)
    out = pv_what_if(bal, [PvScenario(id="plus20", added_mwp=0.02), PvScenario(id="double", added_share_of_installed=1.0)])
    out = out.set_index("scenario_id")
    assert out.loc["baseline", "self_consumption_rate_pct"] == pytest.approx(100.0)
    assert out.loc["baseline", "self_production_rate_pct"] == pytest.approx(50.0)
    for scenario in ("plus20", "double"):
        assert out.loc[scenario, "added_pv_kwp"] == pytest.approx(20.0)
        assert out.loc[scenario, "production_kwh"] == pytest.approx(20.0)
        # the extra noon output cannot cover the night: A stays 10
        assert out.loc[scenario, "self_consumption_rate_pct"] == pytest.approx(50.0)
        assert out.loc[scenario, "self_production_rate_pct"] == pytest.approx(50.0)


# -- fail closed (issue 9.6) ----------------------------------------------------------------------

def _territorial(times, flows=("consumption", "production"), territory="t1"):
    """Territorial energy rows for `times` (big counts: no secrecy), category rows and their totals."""
    rows = []
    for t in times:
        for flow in flows:
            cats = {"consumption": [("residential", 6.0, 500), ("business", 4.0, 20)],
                    "production": [("solar", 3.0, 300), ("bioenergy", 2.0, 5)]}[flow]
            for cat, kwh, n in cats:
                rows.append((territory, t, flow, cat, kwh, n, kwh / 10))
            rows.append((territory, t, flow, "total", sum(c[1] for c in cats), sum(c[2] for c in cats), 0.6))
    frame = pd.DataFrame(rows, columns=["territory_id", "datetime_utc", "flow", "category", "energy_kwh", "n_points",
                                        "largest_point_kwh"])
    frame["capacity_kw"] = np.where(frame["category"] == "solar", 10.0, np.nan)
    frame["communes_reporting"] = 3
    frame["communes_expected"] = 3
    return frame


def test_a_missing_production_file_gives_null_rates_and_incomplete_never_zero():
    from energy_pipelines.secrecy import uc3

    times = pd.date_range("2025-06-02 10:00", periods=2, freq="30min", tz="UTC")
    energy = _territorial(times, flows=("consumption",))
    bal = half_hour_balance(energy)
    assert bal["production_kwh"].isna().all() and bal["self_consumed_kwh"].isna().all()
    assert not bal["complete"].any() and (bal["incomplete_reason"] == "production not delivered").all()
    published = uc3.published_balance(energy)
    for column in ("production_kwh", "production_solar_kwh", "self_consumed_kwh", "self_production_rate_pct",
                   "self_consumption_rate_pct", "coverage_rate_pct", "surplus_kwh", "import_kwh"):
        assert published[column].isna().all(), column
    assert (published["consumption_kwh"] == 10.0).all() and not published["complete"].any()
    hourly = uc3.published_rates(energy, "hour").iloc[0]
    assert np.isnan(hourly["production_kwh"]) and np.isnan(hourly["self_production_rate_pct"])
    assert hourly["half_hours_complete"] == 0 and not hourly["masked"]
    assert hourly["incomplete_reason"] == "production not delivered in 2 half-hour(s)"


def test_a_period_sum_is_null_when_one_half_hour_lacks_the_figure():
    times = pd.date_range("2025-06-02 10:00", periods=2, freq="30min", tz="UTC")
    energy = pd.concat([_territorial(times[:1]), _territorial(times[1:], flows=("consumption",))])
    hourly = period_rates(half_hour_balance(energy), "hour").iloc[0]
    assert hourly["consumption_kwh"] == 20.0
    assert np.isnan(hourly["production_kwh"]) and np.isnan(hourly["self_consumed_kwh"])  # not the 5 kWh of one half
    assert np.isnan(hourly["self_production_rate_pct"])
    assert hourly["half_hours_present"] == 2 and hourly["half_hours_complete"] == 1


def test_timestamps_in_another_resolution_are_read_right_and_misaligned_ones_raise():
    from energy_pipelines.secrecy import uc3

    times = pd.date_range("2025-06-02 10:00", periods=2, freq="30min", tz="UTC")
    energy = _territorial(times)
    micro = energy.assign(datetime_utc=energy["datetime_utc"].astype("datetime64[us, UTC]"))
    published = uc3.published_balance(micro)
    assert (published["production_solar_kwh"] == 3.0).all() and (published["self_consumed_kwh"] == 5.0).all()
    shifted = energy.copy()
    cats = shifted["category"] != "total"
    shifted.loc[cats, "datetime_utc"] = shifted.loc[cats, "datetime_utc"] + pd.Timedelta(milliseconds=1)
    with pytest.raises(ValueError, match="off the half-hour grid"):
        uc3.published_balance(shifted)
    moved = energy.copy()
    moved.loc[cats, "datetime_utc"] = moved.loc[cats, "datetime_utc"] + pd.Timedelta(minutes=30)
    with pytest.raises(ValueError, match="without their total row"):
        uc3.published_balance(moved)
    naive = energy.assign(datetime_utc=energy["datetime_utc"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="tz-aware"):
        half_hour_balance(naive)
    wrong = energy.copy()
    wrong.loc[wrong["category"] == "solar", "energy_kwh"] = 30.0
    with pytest.raises(ValueError, match="do not add up to the total"):
        half_hour_balance(wrong)
