"""UC2 anonymisation: keyed pseudonyms, the key's handling, QualiCharge rules, small-group suppression."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_pipelines.transforms import anonymise as anon

KEY = "k" * 40
UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


LIVE = {"spie_transaction_log": "live"}
SAMPLE = {"spie_transaction_log": "sample", "spie_transaction_history": "sample"}


def test_pseudonyms_are_keyed_stable_and_hide_the_key():
    p1 = anon.pseudonymiser_for(LIVE, KEY)
    p2 = anon.pseudonymiser_for(LIVE, "z" * 40)
    a = p1.one("04A2B3C4D5E680", "badge")
    assert a == p1.one("04a2b3c4d5e680 ", "badge")  # badge ids are case/space-normalised
    assert a != p2.one("04A2B3C4D5E680", "badge")  # another key, another pseudonym
    assert a != p1.one("04A2B3C4D5E680", "transaction")  # domains are separated
    assert len(a) == 32 and int(a, 16) >= 0
    assert KEY not in repr(p1) and KEY not in p1.key_id and p1.key_id != p2.key_id
    assert p1.one(None, "badge") is None


def test_live_input_refuses_to_run_without_a_key_and_never_echoes_one():
    with pytest.raises(anon.PseudonymisationKeyError, match=anon.KEY_ENV):
        anon.pseudonymiser_for(LIVE, None)
    short = "tooshort-secret"
    with pytest.raises(anon.PseudonymisationKeyError) as err:
        anon.pseudonymiser_for(LIVE, short)
    assert short not in str(err.value)
    sample = anon.pseudonymiser_for(SAMPLE, None)
    assert "demo" in sample.source
    # an explicit key wins over the demo key when every input is simulated too
    assert anon.pseudonymiser_for(SAMPLE, KEY).source == "environment"


def test_one_live_input_among_simulated_ones_requires_the_key():
    """A per-source override to sample on one input does not let live files of another get the demo key."""
    mixed = {**SAMPLE, "spie_transaction_history": "live"}
    with pytest.raises(anon.PseudonymisationKeyError, match="spie_transaction_history") as err:
        anon.pseudonymiser_for(mixed, None)
    assert "spie_transaction_log" not in str(err.value)


def session(tx, pdc, start, end, wh, tag="B1", origin="ocpp_log"):
    return {"transaction_id": tx, "id_pdc_itinerance": pdc, "connector_id": 1, "id_tag": tag,
            "start_utc": ts(start), "end_utc": ts(end), "meter_start_wh": 1000, "meter_stop_wh": 1000 + wh,
            "energy_wh": wh, "stop_reason": "Local", "origin": origin, "source_file": "f.csv", "source_line": 1}


def test_each_qualicharge_rule_quarantines_with_its_reason():
    rows = pd.DataFrame([
        session(1, "FRS05E1", "2025-06-01T08:00Z", "2025-06-01T09:00Z", 7_000),      # ok
        session(2, "FRS05E1", "2025-06-01T10:00Z", "2025-06-01T09:00Z", 1_000),      # end before start
        session(3, "FRS05E1", "2025-06-01T10:00Z", "2025-06-09T10:00Z", 10_000),     # > 7 days
        session(4, "FRS05E2", "2025-06-01T10:00Z", "2025-06-01T11:00Z", 30_000),     # > 22 kW x 1 h + 10 %
        session(5, "FRS05E2", "2025-06-01T12:00Z", "2025-06-01T12:00Z", 2_000),      # zero duration > 1 kWh
        session(6, "FRS05E9", "2025-06-01T12:00Z", "2025-06-01T13:00Z", 1_000),      # unknown charge point
        session(7, "FRS05E3", "2025-06-01T00:00Z", "2025-06-06T00:00Z", 1_000_000),  # >= 1000 kWh
        session(8, "FRS05E1", "2025-06-01T08:30Z", "2025-06-01T08:50Z", 1_000),      # overlaps 1
        session(9, "FRS05E1", "2025-06-01T09:05Z", "2025-06-01T09:50Z", 1_000),      # after 1: ok
    ])
    power = {"FRS05E1": 22.0, "FRS05E2": 22.0, "FRS05E3": 50.0}
    reasons = anon.qualicharge_check(rows, power).tolist()
    assert reasons[0] == "" and reasons[8] == ""
    assert reasons[1] == "end before start"
    assert reasons[2].startswith("session longer than 7")
    assert reasons[3].startswith("energy above nominal power")
    assert reasons[4].startswith("zero duration")
    assert reasons[5] == "charge point not in the IRVE register"
    assert reasons[6].startswith("energy >= 1000")
    assert reasons[7].startswith("overlaps")


def test_overlap_keeps_the_next_real_session_after_a_ghost():
    # a ghost starting 10 min after a real session must not take the following session with it
    rows = pd.DataFrame([
        session(1, "P1", "2025-06-01T10:00Z", "2025-06-01T12:00Z", 1_000),
        session(2, "P1", "2025-06-01T10:10Z", "2025-06-01T12:20Z", 1_000),
        session(3, "P1", "2025-06-01T12:15Z", "2025-06-01T13:00Z", 1_000),
    ])
    assert anon.qualicharge_check(rows, {"P1": 22.0}).tolist() == ["", "overlaps an earlier session on the same charge point", ""]


def test_too_many_sessions_a_day():
    rows = pd.DataFrame([session(i, "P1", f"2025-06-01T10:{i:02d}:00Z", f"2025-06-01T10:{i:02d}:30Z", 10)
                         for i in range(4)])
    rules = anon.QualiChargeRules(max_sessions_per_day=3)
    assert anon.qualicharge_check(rows, {"P1": 22.0}, rules).tolist()[-1].startswith("more than 3 sessions")


def test_sessions_from_the_log_pair_start_and_stop_and_quarantine_the_rest():
    def msg(kind, tx, t, wh, pdc="P1", tag="B1", line=1):
        return {"message": kind, "transaction_id": tx, "id_pdc_itinerance": pdc, "connector_id": 1,
                "timestamp_utc": ts(t), "datetime_utc": ts(t).floor("30min"), "meter_wh": wh, "id_tag": tag,
                "stop_reason": "Local" if kind == "StopTransaction" else None, "source_file": "f", "source_line": line}
    tx = pd.DataFrame([
        msg("StartTransaction", 1, "2025-06-01T08:00Z", 100),
        msg("MeterValues", 1, "2025-06-01T08:30Z", 2_000),
        msg("StopTransaction", 1, "2025-06-01T09:10Z", 5_100, tag=None),
        msg("StopTransaction", 1, "2025-06-01T09:11Z", 5_100, tag=None, line=2),  # resent
        msg("StopTransaction", 2, "2025-06-01T09:20Z", 900),  # its start is older than the look-back
        msg("StartTransaction", 3, "2025-06-01T09:00Z", 0, pdc="P2"),
        msg("StopTransaction", 3, "2025-06-01T09:30Z", 10, pdc="P3"),  # stopped elsewhere
    ])
    sessions, refused = anon.sessions_from_log(tx)
    assert sessions["transaction_id"].tolist() == [1]
    assert sessions["energy_wh"].tolist() == [5_000] and sessions["id_tag"].tolist() == ["B1"]
    assert sorted(refused["reason"].str.split(":").str[0]) == [
        "StopTransaction on another charge point than its StartTransaction", "duplicate",
        "no StartTransaction for this transaction in the 7 days before its stop"]


def test_log_wins_over_the_history_export_for_the_same_transaction():
    both = pd.DataFrame([session(1, "P1", "2025-06-01T08:00Z", "2025-06-01T09:00Z", 5, origin="history_export"),
                         session(1, "P1", "2025-06-01T08:00Z", "2025-06-01T09:00Z", 5)])
    kept, refused = anon.deduplicate(both)
    assert kept["origin"].tolist() == ["ocpp_log"]
    assert refused["reason"].str.startswith("duplicate").all()


def test_rejects_records_hold_pseudonyms_not_raw_ids():
    p = anon.pseudonymiser_for(SAMPLE, None)
    rows = pd.DataFrame([session(123456789, "P1", "2025-06-01T08:00Z", "2025-06-01T09:00Z", 5, tag="SECRETBADGE1")])
    rows["reason"] = "end before start"
    rejects = anon.pseudonymised_rejects(rows, p, "end_utc")
    text = rejects.to_json()
    assert "SECRETBADGE1" not in text and "123456789" not in text
    assert p.one("SECRETBADGE1", "badge") in rejects["record"].iat[0]


def test_small_groups_are_masked_with_a_reason():
    frame = pd.DataFrame({"station": ["A", "B"], "n_users": [4, 5], "energy_kwh": [10.0, 20.0], "n_sessions": [9, 7]})
    out = anon.suppress_small_groups(frame, "n_users", ["energy_kwh", "n_sessions", "n_users"], k=5)
    assert out["suppressed"].tolist() == [True, False]
    assert out.loc[0, ["energy_kwh", "n_sessions", "n_users"]].isna().all()
    assert out.loc[1, "energy_kwh"] == 20.0 and out.loc[1, "n_users"] == 5
    assert out.loc[0, "suppression_reason"] == "fewer than 5 distinct users in the group"


@pytest.mark.realdata
def test_real_sessions_pseudonymised_and_aggregated_leave_no_user_id_and_no_small_group(realdata):
    """6,878 real residential sessions (Trondheim): pseudonymise users, aggregate per garage and month."""
    raw = pd.read_csv(realdata / "ev_norway_residential" / "ev_charging_reports.csv", sep=";", decimal=",")
    assert len(raw) == 6878 and raw["User_ID"].nunique() == 97
    start = pd.to_datetime(raw["Start_plugin"], format="%d.%m.%Y %H:%M").dt.tz_localize(
        "Europe/Oslo", ambiguous="NaT", nonexistent="NaT")
    p = anon.pseudonymiser_for(SAMPLE, None)
    anon_rows = pd.DataFrame({"garage": raw["Garage_ID"], "user_pseudonym": p.many(raw["User_ID"], "badge"),
                              "month": start.dt.strftime("%Y-%m"), "energy_kwh": raw["El_kWh"]})
    text = anon_rows.to_csv()
    assert not any(uid in text for uid in raw["User_ID"].unique())
    assert anon_rows["user_pseudonym"].nunique() == 97  # linkable within the product, not to the badge
    grouped = anon_rows.groupby(["garage", "month"]).agg(n_users=("user_pseudonym", "nunique"),
                                                          n_sessions=("energy_kwh", "size"),
                                                          energy_kwh=("energy_kwh", "sum")).reset_index()
    out = anon.suppress_small_groups(grouped, "n_users", ["n_users", "n_sessions", "energy_kwh"], k=5)
    published = out[~out["suppressed"]]
    assert (published["n_users"] >= 5).all()
    # most garage-months of a residential car park have few users: suppression is doing real work
    assert out["suppressed"].mean() > 0.3
    # a singled-out session (the only one of its garage-month) is not findable in the open rows
    lonely = grouped[grouped["n_sessions"] == 1]
    assert len(lonely) and not published.merge(lonely[["garage", "month"]]).shape[0]
    print(f"\nTrondheim sessions: {len(grouped)} garage-months, {out['suppressed'].sum()} suppressed (k=5), "
          f"{published['n_sessions'].sum():.0f} of {len(raw)} sessions in published rows")
