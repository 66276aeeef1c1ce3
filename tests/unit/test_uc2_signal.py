"""UC2 hybrid signal: energy attribution per half-hour, colours from versioned thresholds, DST days."""

from __future__ import annotations

from datetime import timezone

import pandas as pd
import pytest

from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.transforms import green_signal, usage

UTC = timezone.utc


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def reading(tx, t, wh, slot, pdc="FRS05E1"):
    return {"id_pdc_itinerance": pdc, "transaction_id": tx, "timestamp_utc": ts(t), "datetime_utc": ts(slot),
            "meter_wh": wh}


# a session 10:10-11:10 UTC: Start, clock readings at 10:30 and 11:00 (each closing the half-hour before), Stop
LOG = pd.DataFrame([
    reading(1, "2025-06-01T10:10Z", 0, "2025-06-01T10:00Z"),
    reading(1, "2025-06-01T10:30Z", 3_000, "2025-06-01T10:00Z"),
    reading(1, "2025-06-01T11:00Z", 8_000, "2025-06-01T10:30Z"),
    reading(1, "2025-06-01T11:10Z", 9_000, "2025-06-01T11:00Z"),
])


def test_energy_goes_to_the_half_hour_it_was_metered_in():
    out = usage.slot_usage(LOG, ts("2025-06-01T10:00Z"), ts("2025-06-01T11:30Z"))
    assert out.set_index("datetime_utc")["energy_wh"].to_dict() == {
        ts("2025-06-01T10:00Z"): 3_000, ts("2025-06-01T10:30Z"): 5_000, ts("2025-06-01T11:00Z"): 1_000}
    assert out["in_use"].all() and len(out) == 3


def test_one_half_hour_needs_the_reading_that_closed_the_previous_one():
    window = (ts("2025-06-01T10:30Z"), ts("2025-06-01T11:00Z"))
    with_previous = usage.slot_usage(LOG, *window)
    without = usage.slot_usage(LOG[LOG["datetime_utc"] >= window[0]], *window)
    assert with_previous["energy_wh"].tolist() == [5_000]
    assert without["energy_wh"].tolist() == [0]  # hence the (start_offset=-1) input of the signal asset


def thresholds(*versions):
    rows = []
    for version, valid_from, green, orange, regional in versions:
        rows.append({"version": version, "valid_from": ts(valid_from), "green_local_ratio_min": green,
                     "orange_local_ratio_min": orange, "orange_regional_share_min_pct": regional})
    return pd.DataFrame(rows)


REGISTER = pd.DataFrame({"id_pdc_itinerance": ["FRS05E1", "FRS05E2"], "id_station_itinerance": ["FRS05P1", "FRS05P2"],
                         "code_insee_commune": ["05061", "05023"], "puissance_nominale_kw": [22.0, 22.0]})


def signal_for(ratios: dict, shares: dict, thr, usage_rows=None, start="2025-06-01T10:00Z", end="2025-06-01T11:00Z"):
    en = pd.DataFrame([{"datetime_utc": ts(t), "id_station_itinerance": st, "code_poste_source": "PS", "ratio_vert": r}
                       for (t, st), r in ratios.items()])
    rte = pd.DataFrame([{"datetime_utc": ts(t), "green_share_pct": s} for t, s in shares.items()])
    use = usage_rows if usage_rows is not None else pd.DataFrame(
        columns=["id_pdc_itinerance", "datetime_utc", "in_use", "energy_wh", "n_transactions"])
    status = pd.DataFrame(columns=["id_pdc_itinerance", "datetime_utc", "ocpp_status", "out_of_order"])
    return green_signal.green_charging_signal(start=ts(start), end=ts(end), register=REGISTER, usage=use,
                                              status=status, enedis=en, rte=rte, thresholds=thr)


def colour_of(ratio, share, thr=None):
    thr = thr if thr is not None else thresholds(("v1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0))
    out = signal_for({("2025-06-01T10:00Z", "FRS05P1"): ratio}, {"2025-06-01T10:00Z": share}, thr,
                     end="2025-06-01T10:30Z")
    return out[out["id_pdc_itinerance"] == "FRS05E1"]["colour"].iat[0]


@pytest.mark.parametrize(("ratio", "share", "colour"), [
    (1.0, 10.0, "green"), (3.2, 0.0, "green"), (0.6, 10.0, "orange"), (0.59, 50.0, "orange"),
    (0.59, 49.9, "red"), (0.0, 0.0, "red")])
def test_colour_boundaries(ratio, share, colour):
    assert colour_of(ratio, share) == colour


def test_no_enedis_value_gives_no_colour_and_idle_points_are_still_listed():
    thr = thresholds(("v1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0))
    out = signal_for({("2025-06-01T10:00Z", "FRS05P1"): 1.2}, {"2025-06-01T10:00Z": 40.0,
                                                               "2025-06-01T10:30Z": 40.0}, thr)
    assert len(out) == 4  # 2 charge points x 2 half-hours, though nothing happened
    assert out["colour"].notna().sum() == 1 and (~out["signal_complete"]).sum() == 3
    assert set(out["occupation_pdc"]) == {"libre"}


def test_each_half_hour_uses_the_threshold_version_valid_then():
    thr = thresholds(("2025.1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0), ("2026.1", "2025-06-01T10:30Z", 1.3, 0.8, 60.0))
    out = signal_for({("2025-06-01T10:00Z", "FRS05P1"): 1.1, ("2025-06-01T10:30Z", "FRS05P1"): 1.1},
                     {"2025-06-01T10:00Z": 10.0, "2025-06-01T10:30Z": 10.0}, thr)
    row = out[out["id_pdc_itinerance"] == "FRS05E1"].set_index("datetime_utc")
    assert row.loc[ts("2025-06-01T10:00Z"), ["colour", "thresholds_version"]].tolist() == ["green", "2025.1"]
    assert row.loc[ts("2025-06-01T10:30Z"), ["colour", "thresholds_version"]].tolist() == ["orange", "2026.1"]


def test_energy_above_nominal_power_is_not_trusted_but_the_row_stays():
    thr = thresholds(("v1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0))
    use = pd.DataFrame({"id_pdc_itinerance": ["FRS05E1", "FRS05E2"], "datetime_utc": [ts("2025-06-01T10:00Z")] * 2,
                        "in_use": [True, True], "energy_wh": [20_000.0, 11_000.0], "n_transactions": [1, 1]})
    out = signal_for({}, {}, thr, usage_rows=use, end="2025-06-01T10:30Z").set_index("id_pdc_itinerance")
    assert pd.isna(out.loc["FRS05E1", "energy_wh"]) and out.loc["FRS05E1", "energy_quality"] == "above_nominal_power"
    assert out.loc["FRS05E2", "energy_wh"] == 11_000 and out.loc["FRS05E2", "energy_quality"] == "ok"
    assert out["in_use"].all() and set(out["occupation_pdc"]) == {"occupe"}


def test_surplus_list_is_in_use_and_ratio_at_least_one():
    sig = pd.DataFrame({"datetime_utc": [ts("2025-10-26T01:00Z")] * 3, "id_pdc_itinerance": ["A", "B", "C"],
                        "id_station_itinerance": ["SA", "SB", "SC"], "code_insee_commune": "05061",
                        "code_poste_source": "PS", "in_use": [True, True, False],
                        "local_green_ratio": [1.0, 0.99, 2.0], "regional_green_share_pct": 30.0, "energy_wh": 1.0})
    out = green_signal.surplus_in_use(sig)
    assert out["id_pdc_itinerance"].tolist() == ["A"]
    assert out["datetime_local"].iat[0] == "2025-10-26T02:00:00+01:00"  # the second 02:00 of the autumn day


@pytest.mark.parametrize(("day", "half_hours"), [("2025-03-30", 46), ("2025-06-01", 48), ("2025-10-26", 50)])
def test_daily_occupancy_uses_the_half_hours_of_the_paris_day(day, half_hours):
    lo, hi = paris_day_bounds(day)
    slots = pd.date_range(lo, hi, freq="30min", inclusive="left")
    assert len(slots) == half_hours
    sig = pd.DataFrame({"datetime_utc": slots, "id_pdc_itinerance": "A", "id_station_itinerance": "SA",
                        "code_insee_commune": "05061", "in_use": [i < 12 for i in range(len(slots))],
                        "energy_wh": [1000.0 if i < 12 else 0.0 for i in range(len(slots))],
                        "colour": ["green" if i < 6 else "red" for i in range(len(slots))],
                        "local_green_ratio": 1.0, "regional_green_share_pct": 40.0, "etat_pdc": "en_service"})
    sessions = pd.DataFrame({"id_pdc_itinerance": ["A", "A"], "user_pseudonym": ["u1", "u1"], "duration_h": [3.0, 3.0]})
    out = usage.daily_usage(sig, sessions, lo, hi, day)
    row = out.iloc[0]
    assert row["half_hours_in_day"] == half_hours and row["occupied_half_hours"] == 12
    assert row["occupancy_rate_pct"] == pytest.approx(100 * 12 / half_hours, abs=1e-3)
    assert row["energy_kwh"] == 12.0 and row["green_energy_share_pct"] == 50.0
    assert row["n_sessions"] == 2 and row["n_users"] == 1
    # busy from local midnight: every hour ties at 2 half-hours, except the repeated 02:00 of autumn (4)
    assert row["peak_hour_local"] == 2 if half_hours == 50 else row["peak_hour_local"] in {0, 1, 3, 4, 5, 6}


def test_the_committed_thresholds_load_and_bad_ones_are_refused(tmp_path):
    table = green_signal.load_thresholds(CATALOG_DIR / "uc2" / "signal_thresholds.yaml")
    assert table["version"].iat[0] == "2025.1" and table["green_local_ratio_min"].iat[0] == 1.0
    bad = tmp_path / "t.yaml"
    bad.write_text("versions:\n  - {version: x, valid_from: '2024-01-01T00:00:00Z', green: {local_ratio_min: 0.5},"
                   " orange: {local_ratio_min: 0.8, regional_share_min_pct: 50}}\n")
    with pytest.raises(green_signal.ThresholdError, match="orange threshold above green"):
        green_signal.load_thresholds(bad)
    bad.write_text("versions:\n  - {version: x, valid_from: '2024-01-01T00:00:00Z'}\n")
    with pytest.raises(green_signal.ThresholdError, match="version 'x'"):
        green_signal.load_thresholds(bad)


def test_seasonal_history_medians_and_green_frequency():
    slots = pd.date_range("2025-01-06", periods=48 * 14, freq="30min", tz="UTC")  # two winter weeks
    sig = pd.DataFrame({"datetime_utc": slots, "id_station_itinerance": "S1", "code_poste_source": "PS",
                        "local_green_ratio": [1.5 if t.hour == 11 else 0.5 for t in slots],
                        "regional_green_share_pct": 30.0})
    hist = pd.DataFrame({"datetime_utc": [ts("2024-01-01T00:00Z")], "id_station_itinerance": ["S1"], "season": ["hiver"],
                         "day_type": ["ouvre"], "slot_local": ["12:00"], "ratio_median": [1.4]})
    out = green_signal.seasonal_history(sig, hist).set_index(["day_type", "slot_local"])
    assert out.loc[("ouvre", "12:00"), "median_local_green_ratio"] == 1.5  # 11:00 UTC = 12:00 in winter
    assert out.loc[("ouvre", "12:00"), "green_frequency_pct"] == 100.0
    assert out.loc[("ouvre", "12:00"), "enedis_median_ratio"] == 1.4
    assert out.loc[("week-end", "03:00"), "green_frequency_pct"] == 0.0
    assert set(out.reset_index()["season"]) == {"hiver"} and out["n_half_hours"].max() == 10

