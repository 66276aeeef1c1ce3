"""The open signal identifies nobody: the disclosure rule of docs/uc2.md, attacked.

Two attacks run on a simulated week of the SyMEnergie05 network (real communes, sessions,
OCPP logs), against the product as it was (occupancy per station) and as it is (per area):
- re-identification: sessions rebuilt from the open archive as runs of busy half-hours at one-
  and two-point stations, matched to the true sessions;
- differencing: the usage product masks stations with fewer than k users; the open occupancy of
  the same period minus what the usage product publishes gives a masked station back.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.clock import paris_day_bounds, paris_periods
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.simulate import charging, paca_mix
from energy_pipelines.simulate import green_signal as sim_signal
from energy_pipelines.transforms import anonymise, green_signal, usage

K_USERS, K_POINTS = 5, 5
FIRST, LAST = date(2025, 10, 6), date(2025, 10, 12)  # a shoulder-season week


@pytest.fixture(scope="module")
def world():
    net = charging.network()
    # two days before the window: sessions open at its start, statuses carried into it
    days = [FIRST - timedelta(days=2) + timedelta(days=i) for i in range((LAST - FIRST).days + 3)]
    sessions, faults = charging.simulate_days(net, days)
    msgs = charging.ocpp_messages(sessions)
    events = charging.ocpp_events(sessions, faults, charging.status_refresh(net, days, sessions, faults))
    lo, hi = (pd.Timestamp(paris_day_bounds(FIRST)[0]), pd.Timestamp(paris_day_bounds(LAST)[1]))
    tx = pd.DataFrame({"id_pdc_itinerance": msgs["charge_point_id"], "transaction_id": msgs["transaction_id"],
                       "timestamp_utc": msgs["ts"], "message": msgs["message"], "meter_wh": msgs["meter_wh"],
                       "measurand": msgs["measurand"]})
    ev = pd.DataFrame({"id_pdc_itinerance": events["charge_point_id"], "timestamp_utc": events["ts"],
                       "status": events["status"]})
    slots = pd.date_range(lo, hi, freq="30min", inclusive="left")
    rte = paca_mix.mix(slots)
    rte["green_share_pct"] = 100 * rte[["eolien", "solaire", "hydraulique", "bioenergies"]].sum(axis=1) / rte[
        "consommation"]
    register = net.pdc.rename(columns={"commune_code": "code_insee_commune", "power_kw": "puissance_nominale_kw"})
    signal = green_signal.green_charging_signal(
        start=lo, end=hi, register=register, usage=usage.slot_usage(tx, lo, hi),
        status=usage.slot_status(ev, lo, hi), enedis=sim_signal.station_signal(slots, net),
        rte=rte[["datetime_utc", "green_share_pct"]],
        thresholds=green_signal.load_thresholds(CATALOG_DIR / "uc2" / "signal_thresholds.yaml"))
    real = sessions[sessions["anomaly"].isna()]
    anon = pd.DataFrame({"id_pdc_itinerance": real["id_pdc_itinerance"], "id_station_itinerance": real["id_station_itinerance"],
                         "user_pseudonym": real["badge"], "start_utc": real["start"], "end_utc": real["stop"],
                         "duration_h": (real["stop"] - real["start"]).dt.total_seconds() / 3600})
    return {"net": net, "signal": signal, "sessions": anon, "lo": lo, "hi": hi}


def legacy_open_signal(signal: pd.DataFrame) -> pd.DataFrame:
    """The open product before issue 9: free points per station and half-hour, archived (a point then was
    free unless in use or out of order)."""
    con = duckdb.connect()
    con.register("sig", signal)
    return con.sql("""
        SELECT datetime_utc, id_station_itinerance, count(*) AS n_charge_points,
               count(*) FILTER (WHERE NOT in_use AND etat_pdc <> 'hors_service') AS n_free
        FROM sig GROUP BY ALL""").df()


def units_of(product: pd.DataFrame, new: bool) -> pd.DataFrame:
    """What an attacker reads: per unit of occupancy and half-hour, its stations, points and free points."""
    if not new:
        return product.assign(unit=product["id_station_itinerance"],
                              stations=product["id_station_itinerance"].map(lambda s: (s,)))
    rows = product.dropna(subset=["occupancy_area"])
    members = rows.groupby("occupancy_area")["id_station_itinerance"].agg(lambda s: tuple(sorted(set(s))))
    per = rows.drop_duplicates(["occupancy_area", "datetime_utc"])
    return pd.DataFrame({"datetime_utc": per["datetime_utc"], "unit": per["occupancy_area"],
                         "stations": per["occupancy_area"].map(members),
                         "n_charge_points": per["area_n_charge_points"], "n_free": per["area_n_free"]})


def true_sessions(world) -> set[tuple[str, pd.Timestamp, pd.Timestamp]]:
    s = world["sessions"]
    s = s[(s["start_utc"] >= world["lo"]) & (s["end_utc"] < world["hi"])]
    last = (s["end_utc"] - pd.Timedelta(microseconds=1)).dt.floor("30min")
    return set(zip(s["id_station_itinerance"], s["start_utc"].dt.floor("30min"), last, strict=True))


def reidentify(units: pd.DataFrame, true: set) -> dict:
    """Lone sessions as runs of exactly one busy point between idle half-hours, claimed for the unit's stations."""
    claims, unique_hits, hits = 0, 0, set()
    near = {}
    for station, first, last in true:
        near.setdefault(station, []).append((first, last))
    for unit, rows in units.sort_values("datetime_utc").groupby("unit"):
        busy = (rows["n_charge_points"] - rows["n_free"]).to_numpy()
        times = list(rows["datetime_utc"])
        stations = rows["stations"].iat[0]
        i = 0
        while i < len(busy):
            if busy[i] == 1 and (i == 0 or busy[i - 1] == 0):
                j = i
                while j + 1 < len(busy) and busy[j + 1] == 1:
                    j += 1
                if j + 1 < len(busy) and busy[j + 1] == 0:
                    first, last = times[i], times[j]
                    for station in stations:
                        claims += 1
                        for tf, tl in near.get(station, []):
                            if abs(tf - first) <= pd.Timedelta(minutes=30) and abs(tl - last) <= pd.Timedelta(minutes=30):
                                hits.add((station, tf, tl))
                                unique_hits += len(stations) == 1
                                break
                i = j + 1
            else:
                i += 1
    return {"claims": claims, "hits": len(hits), "unique": unique_hits}


def small_station_sessions(world, true) -> set:
    points = world["net"].stations.set_index("id_station_itinerance")["nbre_pdc"]
    return {s for s in true if points[s[0]] <= 2}


def test_re_identification_succeeds_on_the_old_archive_and_fails_on_the_open_signal(world):
    true = true_sessions(world)
    small = small_station_sessions(world, true)
    assert len(small) > 300  # most stations have one or two points
    old = reidentify(units_of(legacy_open_signal(world["signal"]), new=False), small)
    new_product = green_signal.open_signal(world["signal"], K_POINTS).to_pandas()
    new = reidentify(units_of(new_product, new=True), small)
    print(f"\nre-identification of sessions at 1-2 point stations: old {old}, new {new}, of {len(small)}")
    # per-station archive: most sessions at small stations come back with their station and times
    assert old["unique"] >= 0.4 * len(small) and old["hits"] / max(old["claims"], 1) > 0.7
    # per area: never a single station to pin a run on; a lone run claimed for each of an area's (>= 2)
    # stations is right at most once, so an attacker is wrong at least half the time
    assert new["unique"] == 0
    assert new["hits"] / max(new["claims"], 1) <= 0.5
    # and the disclosure rule itself: areas of at least k points in at least 2 stations, no station alone
    areas = new_product.dropna(subset=["occupancy_area"])
    assert (areas["area_n_charge_points"] >= K_POINTS).all() and (areas["area_n_stations"] >= 2).all()
    assert "n_free" not in new_product.columns


def monthly(world, protect: bool) -> pd.DataFrame:
    sig, ses = world["signal"], world["sessions"]
    parts = []
    for day in paris_periods(world["lo"], world["hi"], "day"):
        lo, hi = pd.Timestamp(day.start), pd.Timestamp(day.end)
        parts.append(usage.daily_usage(sig[(sig["datetime_utc"] >= lo) & (sig["datetime_utc"] < hi)],
                                       ses[(ses["end_utc"] >= lo) & (ses["end_utc"] < hi)], lo, hi, day.label))
    daily = pd.concat(parts, ignore_index=True)
    ses = ses[(ses["end_utc"] >= world["lo"]) & (ses["end_utc"] < world["hi"])]
    if protect:
        return usage.open_monthly_usage(daily, ses, world["lo"], k_min=K_USERS, k_points=K_POINTS)
    raw = usage.monthly_station_usage(daily, ses, world["lo"])
    return anonymise.suppress_small_groups(raw, "n_users", usage.OPEN_USAGE_VALUES, K_USERS)


def difference(open_product: pd.DataFrame, usage_product: pd.DataFrame, half_hours: int) -> dict[str, float]:
    """Occupied half-hours of masked stations recovered as area occupancy minus the published stations'."""
    units = units_of(open_product, new=True)
    busy = (units["n_charge_points"] - units["n_free"]).groupby(units["unit"]).sum()
    members = units.drop_duplicates("unit").set_index("unit")["stations"]
    u = usage_product.set_index("id_station_itinerance")
    recovered = {}
    for unit, stations in members.items():
        stations = [s for s in stations if s in u.index]
        masked = [s for s in stations if u.at[s, "suppressed"]]
        if len(masked) != 1:
            continue
        shown = sum(u.at[s, "occupancy_rate_pct"] / 100 * u.at[s, "n_charge_points"] * half_hours
                    for s in stations if not u.at[s, "suppressed"])
        recovered[masked[0]] = busy[unit] - shown
    return recovered


def test_the_usage_masks_cannot_be_undone_from_the_open_signal(world):
    half_hours = int((world["hi"] - world["lo"]) / pd.Timedelta(minutes=30))
    occupied = world["signal"].groupby("id_station_itinerance")["in_use"].sum()
    new_product = green_signal.open_signal(world["signal"], K_POINTS).to_pandas()
    # the old archive gives every masked station's occupancy directly
    legacy = legacy_open_signal(world["signal"])
    per_station = (legacy["n_charge_points"] - legacy["n_free"]).groupby(legacy["id_station_itinerance"]).sum()
    primary = monthly(world, protect=False)
    masked = primary.loc[primary["suppressed"], "id_station_itinerance"]
    assert len(masked) >= 10
    close = [abs(per_station[s] - occupied[s]) <= max(4, 0.15 * occupied[s]) for s in masked]
    assert np.mean(close) > 0.8
    # areas without secondary suppression: a masked station alone in its area comes back by difference
    leaked = difference(new_product, primary, half_hours)
    assert leaked, "the simulated week should hold an area with exactly one masked station"
    assert np.mean([abs(v - occupied[s]) <= max(4, 0.15 * occupied[s]) for s, v in leaked.items()]) > 0.8
    # with it: no area has a single masked station, and the masked ones of an area cover >= k users together
    protected = monthly(world, protect=True)
    assert difference(new_product, protected, half_hours) == {}
    areas = new_product.drop_duplicates("id_station_itinerance").set_index("id_station_itinerance")["occupancy_area"]
    users = world["sessions"][(world["sessions"]["end_utc"] >= world["lo"]) & (world["sessions"]["end_utc"] < world["hi"])]
    users = users.groupby("id_station_itinerance")["user_pseudonym"].agg(set)
    for area, rows in protected.groupby(protected["id_station_itinerance"].map(areas)):
        hidden = rows.loc[rows["suppressed"], "id_station_itinerance"]
        if len(hidden):
            assert len(hidden) >= 2 and len(set().union(*(users.get(s, set()) for s in hidden))) >= K_USERS, area
    secondary = protected["suppression_reason"].fillna("").str.startswith("secondary")
    assert secondary.any() and protected.loc[secondary, usage.OPEN_USAGE_VALUES].isna().all().all()


# -- the rule's invariants on any network ----------------------------------------------------------


@st.composite
def networks(draw):
    n = draw(st.integers(1, 40))
    communes = [f"05{draw(st.integers(0, 8)):03d}" for _ in range(n)]
    nodes = [draw(st.sampled_from(["PSA", "PSB", "PSC", None])) for _ in range(n)]
    return pd.DataFrame({"id_station_itinerance": [f"S{i:03d}" for i in range(n)], "code_insee_commune": communes,
                         "code_poste_source": nodes, "n_charge_points": [draw(st.integers(1, 6)) for _ in range(n)]})


@settings(max_examples=200, deadline=None)
@given(networks(), st.integers(2, 8))
def test_occupancy_areas_are_a_partition_of_groups_of_k_points_and_two_stations(stations, k):
    areas = green_signal.occupancy_areas(stations, k)
    assert areas["id_station_itinerance"].is_unique and len(areas) == len(stations)
    merged = areas.merge(stations, on="id_station_itinerance")
    for area, rows in merged.dropna(subset=["occupancy_area"]).groupby("occupancy_area"):
        assert rows["n_charge_points"].sum() >= k and len(rows) >= 2, area
        kind, code = area.split(":", 1)
        column = {"commune": "code_insee_commune", "poste_source": "code_poste_source"}[kind]
        assert (rows[column] == code).all()
        if kind == "commune":  # a commune area is the whole commune: no station of it left outside
            assert set(rows["id_station_itinerance"]) == set(stations.loc[stations[column] == code,
                                                                          "id_station_itinerance"])
    # a station outside any area could not have joined one: its commune and its node's rest are too small
    for _, s in merged[merged["occupancy_area"].isna()].iterrows():
        commune = stations[stations["code_insee_commune"] == s["code_insee_commune"]]
        assert commune["n_charge_points"].sum() < k or len(commune) < 2


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_secondary_suppression_leaves_no_area_with_a_recoverable_masked_station(data):
    n = data.draw(st.integers(2, 12))
    stations = [f"S{i}" for i in range(n)]
    area = {s: data.draw(st.sampled_from(["A", "B", "C"])) for s in stations}
    users = {s: set(data.draw(st.lists(st.integers(0, 12), max_size=9))) for s in stations}
    frame = pd.DataFrame({"id_station_itinerance": stations, "n_users": [len(users[s]) for s in stations],
                          "occupancy_rate_pct": data.draw(st.lists(st.floats(0, 100), min_size=n, max_size=n))})
    sessions = pd.DataFrame([(s, f"u{u}") for s in stations for u in users[s]],
                            columns=["id_station_itinerance", "user_pseudonym"])
    masked = anonymise.suppress_small_groups(frame, "n_users", ["n_users", "occupancy_rate_pct"], K_USERS)
    out = anonymise.protect_against_areas(
        masked, pd.DataFrame({"id_station_itinerance": stations, "occupancy_area": [area[s] for s in stations]}),
        sessions, ["n_users", "occupancy_rate_pct"], K_USERS)
    assert (out["suppressed"] >= masked["suppressed"]).all()  # only ever masks more
    for a in "ABC":
        hidden = [s for s in stations if area[s] == a and out.set_index("id_station_itinerance").at[s, "suppressed"]]
        shown = [s for s in stations if area[s] == a and s not in hidden]
        if hidden and shown:  # what the area's total minus the shown stations gives covers >= k users
            assert len(set().union(*(users[s] for s in hidden))) >= K_USERS
    assert out.loc[out["suppressed"], ["n_users", "occupancy_rate_pct"]].isna().all().all()
