"""UC2 hybrid signal: colours from versioned thresholds (and none without their data), the surplus list, DST days."""

from __future__ import annotations

from datetime import timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.transforms import green_signal, usage

UTC = timezone.utc


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def thresholds(*versions):
    rows = []
    for version, valid_from, green, orange, regional in versions:
        rows.append({"version": version, "valid_from": ts(valid_from), "green_local_ratio_min": green,
                     "orange_local_ratio_min": orange, "orange_regional_share_min_pct": regional})
    return pd.DataFrame(rows)


REGISTER = pd.DataFrame({"id_pdc_itinerance": ["FRS05E1", "FRS05E2"], "id_station_itinerance": ["FRS05P1", "FRS05P2"],
                         "code_insee_commune": ["05061", "05023"], "puissance_nominale_kw": [22.0, 22.0]})


def signal_for(ratios: dict, shares: dict, thr, usage_rows=None, start="2025-06-01T10:00Z", end="2025-06-01T11:00Z",
               events=None):
    en = pd.DataFrame([{"datetime_utc": ts(t), "id_station_itinerance": st, "code_poste_source": "PS", "ratio_vert": r}
                       for (t, st), r in ratios.items()])
    rte = pd.DataFrame([{"datetime_utc": ts(t), "green_share_pct": s} for t, s in shares.items()])
    use = usage_rows if usage_rows is not None else pd.DataFrame()
    status = usage.slot_status(events if events is not None else pd.DataFrame(), ts(start), ts(end))
    return green_signal.green_charging_signal(start=ts(start), end=ts(end), register=REGISTER, usage=use,
                                              status=status, enedis=en, rte=rte, thresholds=thr)


def colour_of(ratio, share, thr=None, column="colour"):
    thr = thr if thr is not None else thresholds(("v1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0))
    ratios = {} if ratio is None else {("2025-06-01T10:00Z", "FRS05P1"): ratio}
    shares = {} if share is None else {"2025-06-01T10:00Z": share}
    out = signal_for(ratios, shares, thr, end="2025-06-01T10:30Z")
    value = out[out["id_pdc_itinerance"] == "FRS05E1"][column].iat[0]
    return None if pd.isna(value) else value


@pytest.mark.parametrize(("ratio", "share", "colour"), [
    (1.0, 10.0, "green"), (3.2, 0.0, "green"), (0.6, 10.0, "orange"), (0.59, 50.0, "orange"),
    (0.59, 49.9, "red"), (0.0, 0.0, "red"),
    # the ratio alone decides green, and orange above the orange ratio, whatever RTE would say
    (1.2, None, "green"), (0.7, None, "orange")])
def test_colour_boundaries(ratio, share, colour):
    assert colour_of(ratio, share) == colour


@pytest.mark.parametrize(("ratio", "share", "reason"), [
    (0.3, None, "no RTE share"),  # orange or red depends on the share: it used to say red
    (0.59, None, "no RTE share"),
    (None, 80.0, "no Enedis ratio"),  # the share would say orange, the ratio might say green
    (None, None, "no Enedis ratio, no RTE share")])
def test_no_colour_without_the_data_that_decides_it(ratio, share, reason):
    assert colour_of(ratio, share) is None
    assert colour_of(ratio, share, column="colour_reason") == reason
    assert not colour_of(ratio, share, column="signal_complete")


def test_decided_colours_have_no_reason_and_complete_rows_are_flagged():
    assert colour_of(0.3, 20.0, column="colour_reason") is None
    assert colour_of(0.3, 20.0, column="signal_complete")
    assert colour_of(1.5, None, column="colour_reason") is None and not colour_of(1.5, None, column="signal_complete")


def full_rule(ratio, share, g=1.0, o=0.6, s=50.0):
    return "green" if ratio >= g else "orange" if ratio >= o or share >= s else "red"


maybe = st.one_of(st.none(), st.floats(0, 4, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(ratio=maybe, share=st.one_of(st.none(), st.floats(0, 120, allow_nan=False)))
def test_a_colour_is_published_exactly_when_the_inputs_present_decide_it(ratio, share):
    """Decided -> equals the rule with full information; undecided -> the missing input could change it."""
    code, _ = green_signal.colour_codes([np.nan if ratio is None else ratio], [np.nan if share is None else share],
                                        [1.0], [0.6], [50.0])
    ratios = [ratio] if ratio is not None else [0.0, 0.59, 0.6, 1.0, 3.0]
    shares = [share] if share is not None else [0.0, 49.9, 50.0, 100.0]
    possible = {full_rule(r, s) for r in ratios for s in shares}
    if code[0] >= 0:
        assert possible == {green_signal.COLOURS[code[0]]}
    else:
        assert len(possible) > 1


def test_decide_colours_uses_the_version_valid_at_each_instant():
    thr = thresholds(("2025.1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0), ("2026.1", "2026-01-01T00:00Z", 1.3, 0.8, 60.0))
    thr["surplus_local_ratio_min"] = thr["green_local_ratio_min"]
    out = green_signal.decide_colours([1.1, 1.1, 0.7, 0.7, 0.2], [np.nan, np.nan, 55.0, np.nan, np.nan], thr,
                                      [ts("2025-12-31T23:30Z"), ts("2026-01-01T00:00Z"), ts("2026-01-01T00:00Z"),
                                       ts("2026-01-01T00:00Z"), ts("2023-06-01T00:00Z")])
    assert out["colour"].tolist() == ["green", "orange", "red", None, None]
    assert out["colour_reason"].tolist() == [None, None, None, "no RTE share", "no thresholds version valid then"]
    assert out["thresholds_version"].tolist() == ["2025.1", "2026.1", "2026.1", "2026.1", None]


def test_no_enedis_value_gives_no_colour_and_idle_points_are_still_listed():
    thr = thresholds(("v1", "2024-01-01T00:00Z", 1.0, 0.6, 50.0))
    out = signal_for({("2025-06-01T10:00Z", "FRS05P1"): 1.2}, {"2025-06-01T10:00Z": 40.0,
                                                               "2025-06-01T10:30Z": 40.0}, thr)
    assert len(out) == 4  # 2 charge points x 2 half-hours, though nothing happened
    assert out["colour"].notna().sum() == 1 and (~out["signal_complete"]).sum() == 3
    assert set(out["colour_reason"].dropna()) == {"no Enedis ratio"}
    # no status ever notified: the state is unknown, never counted as free
    assert set(out["occupation_pdc"]) == {"inconnu"} and set(out["etat_pdc"]) == {"inconnu"}


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
                        "in_use": [True, True], "energy_wh": [20_000.0, 11_000.0], "energy_status": "ok",
                        "n_transactions": [1, 1]})
    out = signal_for({}, {}, thr, usage_rows=use, end="2025-06-01T10:30Z").set_index("id_pdc_itinerance")
    assert pd.isna(out.loc["FRS05E1", "energy_wh"]) and out.loc["FRS05E1", "energy_quality"] == "above_nominal_power"
    assert out.loc["FRS05E2", "energy_wh"] == 11_000 and out.loc["FRS05E2", "energy_quality"] == "ok"
    assert out["in_use"].all() and set(out["occupation_pdc"]) == {"occupe"}


def surplus_thresholds(yaml_text, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml_text)
    return green_signal.load_thresholds(path)


V1 = """versions:
  - {version: "2025.1", valid_from: "2024-01-01T00:00:00Z", green: {local_ratio_min: 1.0},
     orange: {local_ratio_min: 0.6, regional_share_min_pct: 50}}
"""


def test_surplus_list_is_in_use_and_ratio_at_the_versioned_threshold(tmp_path):
    sig = pd.DataFrame({"datetime_utc": [ts("2025-10-26T01:00Z")] * 3 + [ts("2026-02-01T12:00Z")] * 3,
                        "id_pdc_itinerance": ["A", "B", "C"] * 2, "id_station_itinerance": ["SA", "SB", "SC"] * 2,
                        "code_insee_commune": "05061", "code_poste_source": "PS", "in_use": [True, True, False] * 2,
                        "local_green_ratio": [1.0, 0.99, 2.0, 1.1, 1.25, 2.0], "regional_green_share_pct": 30.0,
                        "energy_wh": 1.0, "energy_quality": "ok",
                        "thresholds_version": ["2025.1"] * 3 + ["2026.1"] * 3})
    # version 2026.1 sets its own over-production threshold: the list follows the file, not a constant
    thr = surplus_thresholds(V1 + """  - {version: "2026.1", valid_from: "2026-01-01T00:00:00Z", green: {local_ratio_min: 1.0},
     orange: {local_ratio_min: 0.6, regional_share_min_pct: 50}, surplus: {local_ratio_min: 1.2}}
""", tmp_path)
    out = green_signal.surplus_in_use(sig, thr)
    assert out[["id_pdc_itinerance", "thresholds_version"]].values.tolist() == [["A", "2025.1"], ["B", "2026.1"]]
    assert out["surplus_local_ratio_min"].tolist() == [1.0, 1.2]
    assert out["datetime_local"].iat[0] == "2025-10-26T02:00:00+01:00"  # the second 02:00 of the autumn day
    # a row with no version (no threshold valid then) is not asserted to be in surplus
    assert green_signal.surplus_in_use(sig.assign(thresholds_version=None), thr).empty


@pytest.mark.parametrize(("day", "half_hours"), [("2025-03-30", 46), ("2025-06-01", 48), ("2025-10-26", 50)])
def test_daily_occupancy_uses_the_half_hours_of_the_paris_day(day, half_hours):
    lo, hi = paris_day_bounds(day)
    slots = pd.date_range(lo, hi, freq="30min", inclusive="left")
    assert len(slots) == half_hours
    sig = pd.DataFrame({"datetime_utc": slots, "id_pdc_itinerance": "A", "id_station_itinerance": "SA",
                        "code_insee_commune": "05061", "code_poste_source": "PS05GAP",
                        "in_use": [i < 12 for i in range(len(slots))],
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
    # 2025.1 has no surplus entry: over-production is its green threshold (the version is not edited)
    assert table["surplus_local_ratio_min"].iat[0] == table["green_local_ratio_min"].iat[0]
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



def test_the_restricted_surplus_product_counts_charge_points_per_area_never_per_station():
    t = ts("2025-06-01T12:00Z")
    surplus = pd.DataFrame({"datetime_utc": [t] * 4, "id_pdc_itinerance": ["A1", "A2", "B1", "Z1"],
                            "id_station_itinerance": ["SA", "SA", "SB", "SZ"],
                            "code_insee_commune": ["05061", "05061", "05061", "05999"],
                            "code_poste_source": "PS05GAP", "local_green_ratio": 1.4, "regional_green_share_pct": 30.0,
                            "energy_wh": [3_000.0, 1_000.0, 2_500.0, 100.0], "energy_quality": "ok",
                            "thresholds_version": "2025.1", "surplus_local_ratio_min": 1.0})
    opened = pd.DataFrame({"datetime_utc": [t] * 4, "id_station_itinerance": ["SA", "SB", "SC", "SZ"],
                           "occupancy_area": ["commune:05061"] * 3 + [None],
                           "area_type": ["commune"] * 3 + [None]})
    register = pd.DataFrame({"id_station_itinerance": ["SA", "SB", "SC", "SZ"], "latitude": [44.5, 44.6, 44.7, 45.0],
                             "longitude": [6.0, 6.1, 6.2, 6.5]})
    out, figures = green_signal.surplus_by_area(surplus, opened, register)
    assert len(out) == 1 and out["occupancy_area"].iat[0] == "commune:05061"
    row = out.iloc[0]
    assert row["n_stations_in_use"] == 2 and row["n_charge_points_in_use"] == 3 and row["charging_hours"] == 1.5
    assert row["energy_kwh"] == 6.5 and row["delivered_power_kw"] == 13.0 and row["energy_complete"]
    assert row["latitude"] == pytest.approx(44.6) and row["longitude"] == pytest.approx(6.1)  # the area's centre
    assert figures == {"charge_point_half_hours_in_surplus": 4, "charge_point_half_hours_outside_any_area": 1}
    # one charge point's energy not covered by readings yet: no energy, no power for the area
    late = surplus.assign(energy_wh=[3_000.0, None, 2_500.0, 100.0],
                          energy_quality=["ok", "awaiting_reading", "ok", "ok"])
    row = green_signal.surplus_by_area(late, opened, register)[0].iloc[0]
    assert not row["energy_complete"] and pd.isna(row["energy_kwh"]) and pd.isna(row["delivered_power_kw"])
