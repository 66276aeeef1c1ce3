"""UC2 energy and occupancy from whatever the charger sends (OCPP 1.6 leaves the cadence to configuration).

The energy register is interpolated between all readings of a transaction and split over the
half-hours it spans; `in_use` is a transaction open during the half-hour; other measurands are
ignored; a half-hour not covered by readings yet has no energy (never 0); statuses carry over.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.sources.base import load_adapter
from energy_pipelines.transforms import green_signal, usage

H = pd.Timedelta(minutes=30)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def row(tx, t, message, wh, pdc="FRS05E1", measurand=None):
    t = ts(t) if isinstance(t, str) else t
    # datetime_utc as the reader sets it (the half-hour the row reports on); the transform needs only the time
    return {"id_pdc_itinerance": pdc, "transaction_id": tx, "timestamp_utc": t, "datetime_utc": t.floor("30min"),
            "message": message, "meter_wh": wh, "measurand": measurand}


def log(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    frame["meter_wh"] = frame["meter_wh"].astype("float64")
    return frame


def by_slot(out: pd.DataFrame, column: str = "energy_wh") -> dict:
    return out.set_index("datetime_utc")[column].to_dict()


# -- the example of issue 9 ---------------------------------------------------------------------

START_STOP_ONLY = log(row(1, "2025-06-01T10:05Z", "StartTransaction", 120_000),
                      row(1, "2025-06-01T11:10Z", "StopTransaction", 127_000))


def test_a_session_with_readings_only_at_start_and_stop_shares_its_energy_over_its_half_hours():
    """10:05-11:10, 7 kWh, no reading in between: 10:30 is in use with its share, 11:00 too (not 0 Wh)."""
    out = usage.slot_usage(START_STOP_ONLY, ts("2025-06-01T10:00Z"), ts("2025-06-01T11:30Z"))
    assert out["in_use"].all() and len(out) == 3
    energy = by_slot(out)
    assert energy[ts("2025-06-01T10:00Z")] == pytest.approx(7000 * 25 / 65)
    assert energy[ts("2025-06-01T10:30Z")] == pytest.approx(7000 * 30 / 65)
    assert energy[ts("2025-06-01T11:00Z")] == pytest.approx(7000 * 10 / 65)
    assert set(out["energy_status"]) == {"ok"}


def test_a_half_hour_run_alone_sees_the_session_through_its_lookback_and_lookahead():
    # the run of 10:30 alone, with the log of the whole session (look-back to its start, and what came after)
    out = usage.slot_usage(START_STOP_ONLY, ts("2025-06-01T10:30Z"), ts("2025-06-01T11:00Z"))
    assert out["energy_wh"].tolist() == [pytest.approx(7000 * 30 / 65)] and out["in_use"].tolist() == [True]


def test_energy_not_covered_by_readings_yet_is_null_never_zero():
    # in real time, at the end of 10:30 only the start is known: in use, energy awaiting a reading
    started = START_STOP_ONLY.iloc[:1]
    out = usage.slot_usage(started, ts("2025-06-01T10:00Z"), ts("2025-06-01T11:00Z"))
    assert out["in_use"].all() and out["energy_wh"].isna().all()
    assert set(out["energy_status"]) == {"awaiting_reading"}
    # a session whose start is outside the log (only its stop and a reading) has no trustworthy energy there
    headless = log(row(2, "2025-06-01T10:40Z", "MeterValues", 5_000, measurand="Energy.Active.Import.Register"),
                   row(2, "2025-06-01T10:50Z", "StopTransaction", 6_000))
    out = usage.slot_usage(headless, ts("2025-06-01T10:00Z"), ts("2025-06-01T11:00Z"))
    assert out["energy_status"].tolist() == ["missing_readings"] and out["energy_wh"].isna().all()


def test_clock_aligned_readings_give_each_half_hour_exactly_its_increment():
    out = usage.slot_usage(log(row(1, "2025-06-01T10:10Z", "StartTransaction", 0),
                               row(1, "2025-06-01T10:30Z", "MeterValues", 3_000),
                               row(1, "2025-06-01T11:00Z", "MeterValues", 8_000),
                               row(1, "2025-06-01T11:10Z", "StopTransaction", 9_000)),
                           ts("2025-06-01T10:00Z"), ts("2025-06-01T11:30Z"))
    assert by_slot(out) == {ts("2025-06-01T10:00Z"): 3_000, ts("2025-06-01T10:30Z"): 5_000,
                            ts("2025-06-01T11:00Z"): 1_000}


def test_ten_second_sampling_at_constant_power():
    """A 7.2 kW charge 10:20:00-11:40:00 sampled every 10 s (register in Wh): 2 kWh every 10 s x 0.5 h/1000."""
    t0 = ts("2025-06-01T10:20Z")
    times = [t0 + pd.Timedelta(seconds=10 * k) for k in range(1, 80 * 6)]
    rows = [row(1, t0, "StartTransaction", 50_000)]
    rows += [row(1, t, "MeterValues", 50_000 + 20 * k, measurand="Energy.Active.Import.Register")
             for k, t in enumerate(times, start=1)]
    rows.append(row(1, t0 + pd.Timedelta(minutes=80), "StopTransaction", 50_000 + 20 * 480))
    out = usage.slot_usage(log(*rows), ts("2025-06-01T10:00Z"), ts("2025-06-01T12:00Z"))
    assert by_slot(out) == pytest.approx({ts("2025-06-01T10:00Z"): 1200.0, ts("2025-06-01T10:30Z"): 3600.0,
                                          ts("2025-06-01T11:00Z"): 3600.0, ts("2025-06-01T11:30Z"): 1200.0})


def test_power_and_state_of_charge_are_not_energy():
    """Mixed measurands in one MeterValues stream: only the register counts (power W and SoC % ignored)."""
    rows = [row(1, "2025-06-01T10:05Z", "StartTransaction", 1_000)]
    for minute, wh in ((15, 2_000), (25, 3_000), (35, 4_000)):
        t = f"2025-06-01T10:{minute}Z"
        rows += [row(1, t, "MeterValues", wh, measurand="Energy.Active.Import.Register"),
                 row(1, t, "MeterValues", 7_400, measurand="Power.Active.Import"),
                 row(1, t, "MeterValues", 40 + minute, measurand="SoC")]
    rows.append(row(1, "2025-06-01T10:45Z", "StopTransaction", 5_000))
    out = usage.slot_usage(log(*rows), ts("2025-06-01T10:00Z"), ts("2025-06-01T11:00Z"))
    assert by_slot(out) == pytest.approx({ts("2025-06-01T10:00Z"): 2_500.0, ts("2025-06-01T10:30Z"): 1_500.0})


def test_the_reader_normalises_kwh_and_keeps_other_measurands_in_raw(tmp_path):
    """From the file: a vendor in kWh, power in W, SoC in %: meter_wh is the register in Wh, only."""
    path = tmp_path / "spie_symenergie05_transactions_20250601T1000Z.csv"
    path.write_text(
        "timestamp;charge_point_id;connector_id;message;transaction_id;id_tag;id_tag_status;meter_value;unit;measurand;"
        "context;reason\n"
        "2025-06-01T10:05:00Z;FRS05E1;1;StartTransaction;7;04AABBCCDDEEFF;Accepted;1000;;;Transaction.Begin;\n"
        "2025-06-01T10:15:00Z;FRS05E1;1;MeterValues;7;;;2.500;kWh;Energy.Active.Import.Register;Sample.Periodic;\n"
        "2025-06-01T10:15:00Z;FRS05E1;1;MeterValues;7;;;7400;W;Power.Active.Import;Sample.Periodic;\n"
        "2025-06-01T10:15:00Z;FRS05E1;1;MeterValues;7;;;57;Percent;SoC;Sample.Periodic;\n"
        "2025-06-01T10:25:00Z;FRS05E1;1;MeterValues;7;;;3,75;kWh;;Sample.Periodic;\n"
        "2025-06-01T10:29:00Z;FRS05E1;1;StopTransaction;7;;;4100;;;Transaction.End;EVDisconnected\n")
    read = load_adapter("spie_transaction_log").read_file(path)
    assert read.rejects.empty
    rows = read.rows
    assert rows["meter_value"].tolist() == [1000, 2.5, 7400, 57, 3.75, 4100]
    assert rows["meter_wh"].tolist()[:2] == [1000, 2500] and np.isnan(rows["meter_wh"].iat[2])
    assert np.isnan(rows["meter_wh"].iat[3]) and rows["meter_wh"].tolist()[4:] == [3750, 4100]
    assert rows["measurand"].tolist()[2:4] == ["Power.Active.Import", "SoC"]  # kept in raw
    out = usage.slot_usage(rows, ts("2025-06-01T10:00Z"), ts("2025-06-01T10:30Z"))
    assert out["energy_wh"].tolist() == [pytest.approx(3_100.0)]


def test_a_first_format_file_with_power_rows_is_read_as_wh_and_power_is_not_summed(tmp_path):
    """The first delivery format (meter_wh column, no unit): a Power.Active.Import row used to count as Wh."""
    path = tmp_path / "spie_symenergie05_transactions_20250601T1000Z.csv"
    path.write_text(
        "timestamp;charge_point_id;connector_id;message;transaction_id;id_tag;id_tag_status;meter_wh;measurand;"
        "context;reason\n"
        "2025-06-01T10:05:00Z;FRS05E1;1;StartTransaction;7;04AABBCCDDEEFF;Accepted;1000;;Transaction.Begin;\n"
        "2025-06-01T10:15:00Z;FRS05E1;1;MeterValues;7;;;2000;Energy.Active.Import.Register;Sample.Periodic;\n"
        "2025-06-01T10:15:01Z;FRS05E1;1;MeterValues;7;;;7400;Power.Active.Import;Sample.Periodic;\n"
        "2025-06-01T10:25:00Z;FRS05E1;1;StopTransaction;7;;;3000;;Transaction.End;Local\n")
    rows = load_adapter("spie_transaction_log").read_file(path).rows
    out = usage.slot_usage(rows, ts("2025-06-01T10:00Z"), ts("2025-06-01T10:30Z"))
    assert out["energy_wh"].tolist() == [pytest.approx(2_000.0)]


def test_energy_units_and_values_the_reader_refuses(tmp_path):
    path = tmp_path / "spie_symenergie05_transactions_20250601T1000Z.csv"
    path.write_text(
        "timestamp;charge_point_id;connector_id;message;transaction_id;id_tag;id_tag_status;meter_value;unit;measurand;"
        "context;reason\n"
        "2025-06-01T10:05:00Z;FRS05E1;1;MeterValues;7;;;12;MWh;Energy.Active.Import.Register;Sample.Periodic;\n"
        "2025-06-01T10:06:00Z;FRS05E1;1;MeterValues;7;;;12;Wh;Energy.Active.Import.Registr;Sample.Periodic;\n"
        "2025-06-01T10:07:00Z;FRS05E1;1;StartTransaction;8;04AABBCCDDEEFF;Accepted;1.5;kWh;;Transaction.Begin;\n"
        "2025-06-01T10:08:00Z;FRS05E1;1;MeterValues;7;;;;W;Power.Active.Import;Sample.Periodic;\n"
        "2025-06-01T10:09:00Z;FRS05E1;1;MeterValues;7;;;-3;W;Power.Active.Import;Sample.Periodic;\n")
    read = load_adapter("spie_transaction_log").read_file(path)
    assert sorted(read.rejects["reason"].str.split(":").str[0]) == [
        "energy register in MWh", "meter value missing or not a number",
        "meterStart / meterStop is not a non-negative integer in Wh (OCPP 1.6)", "unknown OCPP 1.6 measurand"]
    assert read.rows["measurand"].tolist() == ["Power.Active.Import"]  # a negative power (export) is kept


# -- midnight and the two DST days -------------------------------------------------------------------


@pytest.mark.parametrize(("start_local", "stop_local", "utc_half_hours"), [
    # across midnight (summer time)
    ("2025-06-01T23:40:00+02:00", "2025-06-02T01:10:00+02:00", 4),
    # spring: 02:00-03:00 does not exist; 01:40 -> 03:20 local is 40 minutes
    ("2025-03-30T01:40:00+01:00", "2025-03-30T03:20:00+02:00", 2),
    # autumn: 02:00-03:00 happens twice; 01:40 (summer) -> 03:20 (winter) is 2 h 40
    ("2025-10-26T01:40:00+02:00", "2025-10-26T03:20:00+01:00", 6)])
def test_sessions_across_midnight_and_both_dst_days_are_split_in_utc(start_local, stop_local, utc_half_hours):
    start, stop = pd.Timestamp(start_local).tz_convert("UTC"), pd.Timestamp(stop_local).tz_convert("UTC")
    minutes = (stop - start).total_seconds() / 60
    out = usage.slot_usage(log(row(1, start, "StartTransaction", 0), row(1, stop, "StopTransaction", 9_000)),
                           start.floor("D") - pd.Timedelta(days=1), stop.ceil("D") + pd.Timedelta(days=1))
    assert len(out) == utc_half_hours and out["in_use"].all()
    assert out["energy_wh"].sum() == pytest.approx(9_000)
    for t, wh in by_slot(out).items():  # each half-hour gets the share of the session's time inside it
        inside = (min(stop, t + H) - max(start, t)).total_seconds() / 60
        assert wh == pytest.approx(9_000 * inside / minutes)


@pytest.mark.parametrize(("day", "half_hours"), [("2025-03-30", 46), ("2025-10-26", 50)])
def test_a_day_long_charge_fills_every_half_hour_of_the_dst_day(day, half_hours):
    """Plugged from 10 min before Paris midnight to 10 min after the next, at a constant rate."""
    lo, hi = (pd.Timestamp(t) for t in paris_day_bounds(day))
    total_min = half_hours * 30 + 20
    tx = log(row(1, lo - pd.Timedelta(minutes=10), "StartTransaction", 0),
             row(1, hi + pd.Timedelta(minutes=10), "StopTransaction", 10 * total_min))
    out = usage.slot_usage(tx, lo, hi)
    assert len(out) == half_hours and out["in_use"].all()
    assert out["energy_wh"].tolist() == pytest.approx([300.0] * half_hours)  # 10 Wh a minute, 30 minutes each


# -- invariants ------------------------------------------------------------------------------------

BASE = ts("2025-10-26T00:00Z")


@st.composite
def sessions_with_readings(draw):
    """A session on one charge point with a monotone register and readings at any cadence."""
    start_s = draw(st.integers(0, 4 * 3600))
    duration_s = draw(st.integers(1, 6 * 3600))
    energy = draw(st.integers(0, 60_000))
    cadence = draw(st.sampled_from(["start_stop", "clock", "periodic", "random"]))
    if cadence == "clock":
        times = [t for t in range(0, 12 * 3600, 1800) if start_s < t < start_s + duration_s]
    elif cadence == "periodic":
        step = draw(st.sampled_from([10, 60, 600]))
        times = list(range(start_s + step, start_s + duration_s, step))
    elif cadence == "random" and duration_s >= 2:
        times = sorted(set(draw(st.lists(st.integers(start_s + 1, start_s + duration_s - 1), max_size=30))))
    else:
        times = []
    fractions = sorted(draw(st.lists(st.floats(0, 1), min_size=len(times), max_size=len(times))))
    rows = [row(1, BASE + pd.Timedelta(seconds=start_s), "StartTransaction", 10_000)]
    rows += [row(1, BASE + pd.Timedelta(seconds=t), "MeterValues", 10_000 + round(f * energy),
                 measurand="Energy.Active.Import.Register") for t, f in zip(times, fractions, strict=True)]
    rows.append(row(1, BASE + pd.Timedelta(seconds=start_s + duration_s), "StopTransaction", 10_000 + energy))
    return log(*rows), start_s, duration_s, energy


@settings(max_examples=60, deadline=None)
@given(sessions_with_readings(), st.integers(1, 20))
def test_energy_is_conserved_non_negative_and_in_use_is_the_open_transaction(case, cut):
    tx, start_s, duration_s, energy = case
    lo, hi = BASE - pd.Timedelta(hours=1), BASE + pd.Timedelta(hours=12)
    out = usage.slot_usage(tx, lo, hi)
    assert (out["energy_status"] == "ok").all() and (out["energy_wh"] >= -1e-9).all()
    assert out["energy_wh"].sum() == pytest.approx(energy, abs=1e-6)
    start, stop = BASE + pd.Timedelta(seconds=start_s), BASE + pd.Timedelta(seconds=start_s + duration_s)
    slots = pd.date_range(start.floor("30min"), stop, freq="30min", inclusive="left")
    assert sorted(out["datetime_utc"]) == list(slots)
    # a run of any window gives the same half-hours as the whole (the log is the same)
    mid = lo + cut * H
    parts = pd.concat([usage.slot_usage(tx, lo, mid), usage.slot_usage(tx, mid, hi)], ignore_index=True)
    pd.testing.assert_frame_equal(parts.sort_values("datetime_utc").reset_index(drop=True),
                                  out.sort_values("datetime_utc").reset_index(drop=True), check_dtype=False)


def test_two_sessions_in_one_half_hour_add_up_and_the_second_waits_for_its_reading():
    tx = log(row(1, "2025-06-01T10:02Z", "StartTransaction", 0), row(1, "2025-06-01T10:12Z", "StopTransaction", 1_000),
             row(2, "2025-06-01T10:20Z", "StartTransaction", 1_000))
    out = usage.slot_usage(tx, ts("2025-06-01T10:00Z"), ts("2025-06-01T10:30Z"))
    assert out["n_transactions"].tolist() == [2] and out["energy_status"].tolist() == ["awaiting_reading"]
    settled = usage.slot_usage(pd.concat([tx, log(row(2, "2025-06-01T10:40Z", "StopTransaction", 3_000))]),
                               ts("2025-06-01T10:00Z"), ts("2025-06-01T10:30Z"))
    assert settled["energy_wh"].tolist() == [pytest.approx(1_000 + 2_000 * 10 / 20)]


def test_a_transaction_without_its_stop_is_open_for_seven_days_at_most():
    tx = log(row(1, "2025-06-01T10:00Z", "StartTransaction", 0))
    out = usage.slot_usage(tx, ts("2025-06-01T00:00Z"), ts("2025-06-10T00:00Z"))
    assert out["datetime_utc"].max() == ts("2025-06-08T09:30Z") and len(out) == 7 * 48


# -- status: carried, reserved, unknown ------------------------------------------------------------

REGISTER = pd.DataFrame({"id_pdc_itinerance": ["A", "B", "C", "D"], "id_station_itinerance": ["S1", "S1", "S2", "S2"],
                         "code_insee_commune": "05061", "puissance_nominale_kw": 22.0})
THRESHOLDS = pd.DataFrame([{"version": "v1", "valid_from": ts("2024-01-01T00:00Z"), "green_local_ratio_min": 1.0,
                            "orange_local_ratio_min": 0.6, "orange_regional_share_min_pct": 50.0,
                            "surplus_local_ratio_min": 1.0}])


def ev(pdc, t, status):
    return {"id_pdc_itinerance": pdc, "timestamp_utc": ts(t), "datetime_utc": ts(t).floor("30min"), "status": status}


def test_ocpp_statuses_map_to_irve_and_unknown_is_never_free():
    events = pd.DataFrame([ev("A", "2025-05-30T08:00Z", "Available"),  # two days before: still the state
                           ev("B", "2025-06-01T09:50Z", "Available"), ev("B", "2025-06-01T10:10Z", "Reserved"),
                           ev("C", "2025-06-01T09:00Z", "Faulted"),
                           ev("A", "2025-06-01T10:40Z", "Preparing")])  # plugged, no transaction yet
    start, end = ts("2025-06-01T10:00Z"), ts("2025-06-01T11:00Z")
    signal = green_signal.green_charging_signal(
        start=start, end=end, register=REGISTER, usage=usage.slot_usage(pd.DataFrame(), start, end),
        status=usage.slot_status(events, start, end), enedis=pd.DataFrame(), rte=pd.DataFrame(),
        thresholds=THRESHOLDS).set_index(["id_pdc_itinerance", "datetime_utc"])
    state = signal[["etat_pdc", "occupation_pdc"]].apply(tuple, axis=1).to_dict()
    assert state[("A", start)] == ("en_service", "libre")  # carried from a notification two days before
    assert state[("A", start + H)] == ("en_service", "occupe")  # Preparing: a car is there
    assert state[("B", start)] == ("en_service", "reserve") and state[("B", start + H)] == ("en_service", "reserve")
    assert state[("C", start)] == ("hors_service", "inconnu")  # out of order: never free, never occupied
    assert state[("D", start)] == ("inconnu", "inconnu")  # never notified: unknown, not free
    assert signal.loc[("B", start), "ocpp_status"] == "Reserved"
