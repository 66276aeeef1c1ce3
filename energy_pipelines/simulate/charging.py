"""The SyMEnergie05 charging network and its sessions, written as SPIE would deliver them.

- `network()`: about 300 public charge points (IRVE `id_pdc_itinerance`) in real communes of the
  Hautes-Alpes, or `network(n_pdc=100_000)` for the national-scale benchmark.
- `sessions_for_days()`: every session of a set of Paris days, as a pure function of (network, day):
  weekday commuting, weekend leisure, ski-season and summer tourism, overnight charging, EVs that
  stop drawing before they are unplugged, charge points out of order. ~1 % of sessions carry an
  injected anomaly with known truth (`anomaly` column, never written to files): a meter glitch
  (energy above power x duration), a ghost session overlapping another on the same charge point,
  a StopTransaction sent twice.
- writers of the three SPIE deliveries: the historical export (monthly CSV, one row per
  transaction), and the half-hourly drops of the OCPP 1.6 transaction log (Start/Stop/MeterValues)
  and event log (StatusNotification, with the occasional reservation). Charge points meter as
  real ones do, each by its configuration (`CADENCES`): clock-aligned every 30 or 15 min,
  periodic samples every 10 min (register in kWh, with the power in W) or every minute on DC
  chargers (with the state of charge in %), or nothing but meterStart / meterStop.

Half-hourly drop files are named by the UTC start of the half-hour they report on
(`..._20251026T0030Z.csv`) and are never overwritten once delivered: a corrected file is the
owner's to drop. A clock-aligned meter reading stamped exactly on a boundary closes the half-hour
before it, so it is delivered in that half-hour's file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.simulate.hautes_alpes import COMMUNES

UTC = timezone.utc
SEED = 2025
OPERATOR_PREFIX = "FRS05"  # eMI3/AFIREV operator id of the SyMEnergie05 network (sample)
EPOCH = date(2020, 1, 1)
# the sample history export covers sessions that ended before the half-hourly drops started
HISTORY_END = datetime(2025, 1, 1, tzinfo=UTC)
HALF_HOUR = pd.Timedelta(minutes=30)

TX_COLUMNS = ["timestamp", "charge_point_id", "connector_id", "message", "transaction_id", "id_tag",
              "id_tag_status", "meter_value", "unit", "measurand", "context", "reason"]
EVENT_COLUMNS = ["timestamp", "charge_point_id", "connector_id", "status", "error_code", "info",
                 "vendor_error_code"]
HISTORY_COLUMNS = ["id_transaction", "id_pdc_itinerance", "connecteur", "badge", "debut", "fin",
                   "index_debut_wh", "index_fin_wh", "energie_wh", "motif_arret"]
FAULT_CODES = np.array(["GroundFailure", "PowerMeterFailure", "ConnectorLockFailure", "OtherError",
                        "EVCommunicationError"])


@dataclass(frozen=True)
class Network:
    stations: pd.DataFrame
    pdc: pd.DataFrame
    n_tourists: int


def _h64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def network(n_pdc: int | None = None) -> Network:
    """The Hautes-Alpes network (about 300 charge points), or `n_pdc` charge points at national scale."""
    rng = np.random.default_rng(SEED)
    rows = []
    if n_pdc is None:
        for c in COMMUNES:
            n_st = max(1, round(np.sqrt(c.population) / 15)) + (1 if c.resort else 0)
            for k in range(n_st):
                rows.append((f"{OPERATOR_PREFIX}P{c.code}{k + 1:02d}", c, k))
    else:
        # national scale: the same communes cycled, unique ids by running number
        n_st = int(n_pdc / 1.9) + 1
        rows = [(f"{OPERATOR_PREFIX}P{i:07d}", COMMUNES[i % len(COMMUNES)], i) for i in range(n_st)]
    kinds = rng.choice(["ac2", "ac1", "dc", "ac4"], size=len(rows), p=[0.74, 0.10, 0.12, 0.04])
    st_records, pdc_records = [], []
    for (station_id, c, k), kind in zip(rows, kinds, strict=True):
        n = {"ac2": 2, "ac1": 1, "dc": 2, "ac4": 4}[kind]
        power = 50.0 if kind == "dc" else 22.0
        jitter = rng.normal(0, 0.002, size=2)
        st_records.append({
            "id_station_itinerance": station_id, "nom_station": f"{c.name} - borne {k + 1}",
            "commune_code": c.code, "commune_name": c.name, "lat": round(c.lat + jitter[0], 6),
            "lon": round(c.lon + jitter[1], 6), "node": c.node, "resort": c.resort, "population": c.population,
            "implantation": "Station dédiée à la recharge rapide" if kind == "dc" else
            ("Parking public" if kind == "ac4" else "Voirie"),
            "nbre_pdc": n, "power_kw": power,
            "mise_en_service": (date(2019, 3, 1) + timedelta(days=int(rng.integers(0, 1500)))).isoformat(),
        })
        for j in range(n):
            pdc_records.append({
                "id_pdc_itinerance": station_id.replace("P", "E", 1) + str(j + 1),
                "id_station_itinerance": station_id, "connector_id": 1, "power_kw": power, "dc": kind == "dc",
                "commune_code": c.code, "node": c.node, "resort": c.resort, "population": c.population,
            })
    stations = pd.DataFrame(st_records)
    pdc = pd.DataFrame(pdc_records)
    if n_pdc is not None:
        pdc = pdc.iloc[:n_pdc].copy()
        stations = stations[stations["id_station_itinerance"].isin(pdc["id_station_itinerance"])].copy()
        stations["nbre_pdc"] = stations["id_station_itinerance"].map(pdc["id_station_itinerance"].value_counts())
    pdc["pdc_index"] = np.arange(len(pdc))
    # local users: a pool per station, bigger in bigger communes
    pool = (6 + np.power(stations["population"].to_numpy(), 0.4)).astype(int)
    offsets = np.concatenate([[0], np.cumsum(pool)[:-1]])
    stations["user_pool"] = pool
    stations["user_offset"] = offsets
    pdc = pdc.merge(stations[["id_station_itinerance", "user_pool", "user_offset"]], on="id_station_itinerance")
    n_tourists = max(4000, 10 * len(pdc))
    return Network(stations=stations.reset_index(drop=True), pdc=pdc, n_tourists=n_tourists)


def badge_of(user: np.ndarray) -> np.ndarray:
    """RFID UIDs (7 bytes, 14 hex digits): the OCPP idTag of each user."""
    return np.array([hashlib.blake2b(f"badge:{int(u)}".encode(), digest_size=7).hexdigest().upper()
                     for u in user], dtype=object)


def _season_factor(day: date, resort: np.ndarray) -> np.ndarray:
    md = (day.month, day.day)
    if md >= (12, 20) or md <= (4, 10):
        return np.where(resort, 2.6, 1.05)
    if (7, 1) <= md <= (8, 31):
        return np.where(resort, 1.8, 1.45)
    return np.where(resort, 0.5, 1.0)


def _day_sessions(net: Network, day: date) -> pd.DataFrame:
    pdc = net.pdc
    n_pdc = len(pdc)
    ordinal = (day - EPOCH).days
    rng = np.random.default_rng([SEED, ordinal])
    resort = pdc["resort"].to_numpy()
    dc = pdc["dc"].to_numpy()
    weekday = day.weekday()
    weekend = weekday >= 5
    base = np.where(dc, 2.6, 0.95)
    dow = np.where(resort, 1.25 if weekend else 1.0, [1.0, 1.0, 1.0, 1.0, 1.05, 0.85, 0.7][weekday])
    size = 0.6 + 0.4 * np.minimum(1.0, pdc["population"].to_numpy() / 5000)
    lam = base * dow * size * _season_factor(day, resort)
    # a charge point is out of order on ~0.3 % of days
    faulted = rng.random(n_pdc) < 0.003
    fault_start_h = rng.uniform(0, 20, n_pdc)
    fault_hours = rng.uniform(2, 20, n_pdc)
    n = np.minimum(rng.poisson(lam), 6)
    idx = np.repeat(np.arange(n_pdc), n)
    m = len(idx)
    u = rng.random(m)
    if weekend:
        start_h = rng.normal(11.5, 2.8, m)
        dur_h = rng.lognormal(np.log(2.3), 0.6, m)
    else:
        kind = np.where(u < 0.3, 0, np.where(u < 0.7, 1, 2))  # commute / errands / evening
        start_h = np.choose(kind, [rng.normal(8.3, 0.8, m), rng.normal(12.8, 2.2, m), rng.normal(18.6, 1.3, m)])
        dur_h = np.choose(kind, [rng.lognormal(np.log(6.5), 0.35, m), rng.lognormal(np.log(1.3), 0.6, m),
                                 rng.lognormal(np.log(7.0), 0.8, m)])
    is_dc = dc[idx]
    start_h = np.where(is_dc, rng.uniform(7, 22, m), start_h)
    dur_h = np.where(is_dc, rng.lognormal(np.log(0.6), 0.4, m), dur_h)
    start_h = np.clip(start_h, 6.5, 22.5)
    midnight = pd.Timestamp(day).tz_localize(PARIS)
    start_local = (pd.Timestamp(day) + pd.to_timedelta(np.round(start_h * 3600), unit="s"))
    start = pd.DatetimeIndex(start_local).tz_localize(PARIS, nonexistent="shift_forward", ambiguous=np.ones(m, bool))
    start = start.tz_convert(UTC)
    cap = (pd.Timestamp(day + timedelta(days=1)) + pd.Timedelta(hours=6, minutes=15)).tz_localize(
        PARIS, nonexistent="shift_forward", ambiguous=True).tz_convert(UTC)
    stop = start + pd.to_timedelta(np.round(dur_h * 3600), unit="s")
    stop = stop.where(stop < cap, cap)
    frame = pd.DataFrame({"pdc_index": idx, "start": start, "stop": stop})
    # out-of-order charge points lose the sessions that overlap the fault
    fs = midnight.tz_convert(UTC) + pd.to_timedelta(fault_start_h * 3600, unit="s")
    fe = fs + pd.to_timedelta(fault_hours * 3600, unit="s")
    hit = faulted[idx] & (frame["start"].to_numpy() < fe[idx].to_numpy()) & (frame["stop"].to_numpy() > fs[idx].to_numpy())
    frame = frame[~hit]
    # one session at a time per charge point: cut a session 5 minutes before the next one starts
    frame = frame.sort_values(["pdc_index", "start"], kind="stable").reset_index(drop=True)
    nxt = frame.groupby("pdc_index")["start"].shift(-1)
    limit = nxt - pd.Timedelta(minutes=5)
    frame["stop"] = frame["stop"].where(nxt.isna() | (frame["stop"] <= limit), limit)
    frame = frame[(frame["stop"] - frame["start"]) >= pd.Timedelta(minutes=5)].reset_index(drop=True)
    m = len(frame)
    pidx = frame["pdc_index"].to_numpy()
    power = pdc["power_kw"].to_numpy()[pidx]
    car = np.where(power > 22, 50.0 * 0.8, rng.choice([7.4, 11.0, 22.0], size=m, p=[0.4, 0.45, 0.15]))
    p_eff = np.minimum(car, power) * 0.95
    need = np.where(power > 22, rng.uniform(10, 50, m), rng.uniform(4, 45, m))
    hours = ((frame["stop"] - frame["start"]).dt.total_seconds() / 3600).to_numpy()
    energy_wh = np.floor(np.minimum(need, p_eff * hours) * 1000).astype("int64")
    # users: mostly the station's locals (a few frequent ones), tourists in season
    in_season = _season_factor(day, np.ones(1, dtype=bool))[0] > 1.5
    p_local = np.where(pdc["resort"].to_numpy()[pidx] & in_season, 0.35, 0.75)
    local = rng.random(m) < p_local
    pool = pdc["user_pool"].to_numpy()[pidx]
    local_user = pdc["user_offset"].to_numpy()[pidx] + np.floor(pool * rng.random(m) ** 2).astype(int)
    tourist = 10_000_000 + rng.integers(0, net.n_tourists, m)
    user = np.where(local, local_user, tourist)
    frame["energy_wh"] = energy_wh
    frame["p_eff_kw"] = p_eff
    frame["user"] = user
    frame["reason"] = rng.choice(["EVDisconnected", "Local", "Remote"], size=m, p=[0.8, 0.15, 0.05])
    # meter register: a day budget above what the charge point can deliver keeps it monotonic
    budget = np.ceil(power * 24 * 1.1 * 1000).astype("int64")
    reg0 = (pidx % 97).astype("int64") * 1_000_000 + ordinal * budget
    before = frame.groupby("pdc_index")["energy_wh"].cumsum().to_numpy() - energy_wh
    frame["meter_start_wh"] = reg0 + before
    frame["meter_stop_wh"] = frame["meter_start_wh"] + energy_wh
    frame["transaction_id"] = ordinal * 10_000_000 + np.arange(m, dtype="int64")
    frame["anomaly"] = None
    # injected anomalies with known truth
    a = rng.random(m)
    glitch = a < 0.004
    frame.loc[glitch, "meter_stop_wh"] += 2 * frame.loc[glitch, "energy_wh"] + 5000
    frame.loc[glitch, "anomaly"] = "energy_exceeds_power"
    dup = (a >= 0.004) & (a < 0.007)
    frame.loc[dup, "anomaly"] = "duplicate"
    ghost_src = frame[(a >= 0.007) & (a < 0.010)]
    if len(ghost_src):
        ghosts = ghost_src.copy()
        ghosts["start"] = ghosts["start"] + pd.Timedelta(minutes=10)
        ghosts["stop"] = ghosts["stop"] + pd.Timedelta(minutes=1)
        ghosts["energy_wh"] = (ghosts["energy_wh"] // 3).astype("int64")
        ghosts["meter_start_wh"] = ghosts["meter_start_wh"] + 7
        ghosts["meter_stop_wh"] = ghosts["meter_start_wh"] + ghosts["energy_wh"]
        ghosts["user"] = 10_000_000 + rng.integers(0, net.n_tourists, len(ghosts))
        ghosts["transaction_id"] = ordinal * 10_000_000 + 9_000_000 + np.arange(len(ghosts), dtype="int64")
        ghosts["anomaly"] = "overlap"
        frame = pd.concat([frame, ghosts], ignore_index=True)
    frame["day"] = day
    faults = pd.DataFrame({
        "pdc_index": np.flatnonzero(faulted), "fault_start": fs[faulted], "fault_end": fe[faulted],
        "error_code": rng.choice(FAULT_CODES, size=int(faulted.sum())),
    })
    return frame, faults


def simulate_days(net: Network, days: list[date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sessions, faults) of the given Paris days; sessions carry the charge point ids and badges."""
    parts, faults = [], []
    for d in days:
        f, flt = _day_sessions(net, d)
        parts.append(f)
        faults.append(flt)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    pdc = net.pdc
    if len(frame):
        frame["id_pdc_itinerance"] = pdc["id_pdc_itinerance"].to_numpy()[frame["pdc_index"]]
        frame["id_station_itinerance"] = pdc["id_station_itinerance"].to_numpy()[frame["pdc_index"]]
        frame["dc"] = pdc["dc"].to_numpy()[frame["pdc_index"]]
        frame["connector_id"] = 1
        frame["badge"] = badge_of(frame["user"].to_numpy())
    fault_frame = pd.concat(faults, ignore_index=True) if faults else pd.DataFrame()
    if len(fault_frame):
        fault_frame["id_pdc_itinerance"] = pdc["id_pdc_itinerance"].to_numpy()[fault_frame["pdc_index"]]
    return frame, fault_frame


def sessions_for_days(net: Network, days: list[date]) -> pd.DataFrame:
    """Every session of the given Paris days (see `simulate_days`)."""
    return simulate_days(net, days)[0]


def _days_covering(start: datetime, end: datetime, before: int = 1) -> list[date]:
    first = pd.Timestamp(start).tz_convert(PARIS).date() - timedelta(days=before)
    last = pd.Timestamp(end).tz_convert(PARIS).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _iso(ts: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(ts).tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object)


# How each charge point meters (OCPP 1.6 leaves it to configuration): ClockAlignedDataInterval
# (0 by default: no clock-aligned readings), MeterValueSampleInterval (periodic samples from the
# start of the transaction), or nothing but meterStart / meterStop. Vendors differ in units and
# in the measurands they add. (kind, interval in seconds, register unit, extra measurands)
CADENCES = {
    "clock_30min": ("Sample.Clock", 1800, "Wh", ()),
    "clock_15min": ("Sample.Clock", 900, "Wh", ()),
    "periodic_600s_kwh": ("Sample.Periodic", 600, "kWh", ("Power.Active.Import",)),
    "periodic_60s_dc": ("Sample.Periodic", 60, "Wh", ("Power.Active.Import", "SoC")),
    "start_stop_only": (None, 0, "Wh", ()),
}


def cadence_of(pdc: pd.DataFrame) -> np.ndarray:
    """The metering configuration of each charge point: fixed per charge point (deterministic)."""
    u = np.array([_h64("cadence:" + p) % 1000 / 1000 for p in pdc["id_pdc_itinerance"]])
    ac = np.select([u < 0.55, u < 0.65, u < 0.80], ["clock_30min", "clock_15min", "periodic_600s_kwh"],
                   "start_stop_only")
    return np.where(pdc["dc"].to_numpy(), "periodic_60s_dc", ac).astype(object)


def _register_at(s: pd.DataFrame, rep: np.ndarray, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(register in Wh, power in W) of session rows `rep` at instants `t_ns`: charging at p_eff, then idle."""
    elapsed_h = (t_ns - pd.DatetimeIndex(s["start"]).asi8[rep]) / 3.6e12
    p_kw = s["p_eff_kw"].to_numpy()[rep]
    energy = s["energy_wh"].to_numpy()[rep]
    delivered = np.minimum(energy, np.floor(p_kw * elapsed_h * 1000)).astype("int64")
    power_w = np.where(delivered < energy, np.round(p_kw * 1000), 0).astype("int64")
    return s["meter_start_wh"].to_numpy()[rep] + delivered, power_w


def _readings(s: pd.DataFrame, cadence: np.ndarray) -> list[pd.DataFrame]:
    """MeterValues strictly inside each session, as each charge point's configuration sends them."""
    start_ns = pd.DatetimeIndex(s["start"]).asi8
    stop_ns = pd.DatetimeIndex(s["stop"]).asi8
    parts = []
    for name, (context, interval, unit, extras) in CADENCES.items():
        rows = np.flatnonzero(cadence == name)
        if context is None or not len(rows):
            continue
        step = interval * 10**9
        if context == "Sample.Clock":  # on the clock: every :00/:15/:30/:45 (or :00/:30) inside the session
            first = (start_ns[rows] // step + 1) * step
        else:  # periodic: counted from the start of the transaction
            first = start_ns[rows] + step
        n = np.maximum(0, -(-(stop_ns[rows] - first) // step))
        rep = np.repeat(rows, n)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)
        t_ns = np.repeat(first, n) + k * step
        register_wh, power_w = _register_at(s, rep, t_ns)
        base = {"ts": pd.to_datetime(t_ns, utc=True), "charge_point_id": s["id_pdc_itinerance"].to_numpy()[rep],
                "message": "MeterValues", "transaction_id": s["transaction_id"].to_numpy()[rep], "id_tag": None,
                "id_tag_status": None, "context": context, "reason": None}
        value = (np.char.mod("%.3f", register_wh / 1000) if unit == "kWh" else register_wh.astype(str))
        parts.append(pd.DataFrame({**base, "meter_value": value, "unit": unit,
                                   "measurand": "Energy.Active.Import.Register", "meter_wh": register_wh}))
        if "Power.Active.Import" in extras:
            parts.append(pd.DataFrame({**base, "meter_value": power_w.astype(str), "unit": "W",
                                       "measurand": "Power.Active.Import", "meter_wh": np.nan}))
        if "SoC" in extras:
            battery_wh = 60_000.0
            soc0 = 10 + (s["transaction_id"].to_numpy()[rep] % 31)
            soc = np.minimum(100, soc0 + 100 * (register_wh - s["meter_start_wh"].to_numpy()[rep]) / battery_wh)
            parts.append(pd.DataFrame({**base, "meter_value": np.round(soc).astype("int64").astype(str), "unit": "Percent",
                                       "measurand": "SoC", "meter_wh": np.nan}))
    return parts


def ocpp_messages(sessions: pd.DataFrame) -> pd.DataFrame:
    """The OCPP 1.6 transaction log of the sessions, with `slot` = the half-hour each row reports on.

    Each charge point meters as its configuration says (`cadence_of`): clock-aligned readings every
    30 or 15 min, periodic samples (with power and state of charge on DC chargers, the register in
    kWh for one vendor), or start and stop only. `meter_wh` (not written) is the register in Wh.
    """
    if sessions.empty:
        return pd.DataFrame(columns=[*TX_COLUMNS, "slot", "ts", "meter_wh"])
    s = sessions.reset_index(drop=True)
    dc = s["dc"].to_numpy(dtype=bool) if "dc" in s else (s["p_eff_kw"] > 22).to_numpy()
    cadence = cadence_of(pd.DataFrame({"id_pdc_itinerance": s["id_pdc_itinerance"], "dc": dc}))
    start = pd.DataFrame({"ts": s["start"], "charge_point_id": s["id_pdc_itinerance"], "message": "StartTransaction",
                          "transaction_id": s["transaction_id"], "id_tag": s["badge"], "id_tag_status": "Accepted",
                          "meter_value": s["meter_start_wh"].astype(str), "unit": None, "measurand": None,
                          "meter_wh": s["meter_start_wh"], "context": "Transaction.Begin", "reason": None})
    stop = pd.DataFrame({"ts": s["stop"], "charge_point_id": s["id_pdc_itinerance"], "message": "StopTransaction",
                         "transaction_id": s["transaction_id"], "id_tag": s["badge"], "id_tag_status": None,
                         "meter_value": s["meter_stop_wh"].astype(str), "unit": None, "measurand": None,
                         "meter_wh": s["meter_stop_wh"], "context": "Transaction.End", "reason": s["reason"]})
    dup = stop[s["anomaly"].to_numpy() == "duplicate"].copy()
    dup["ts"] = dup["ts"] + pd.Timedelta(seconds=50)  # the charge point retried: same stop sent twice
    out = pd.concat([start, stop, dup, *_readings(s, cadence)], ignore_index=True)
    out["meter_wh"] = out["meter_wh"].astype("float64")
    out["connector_id"] = 1
    ts = pd.DatetimeIndex(out["ts"])
    # a clock reading on a boundary closes the half-hour before it; any other row reports on its own
    closing = ((out["context"].to_numpy() == "Sample.Clock") & (ts.asi8 % HALF_HOUR.value == 0)).astype("int64")
    out["slot"] = pd.to_datetime(ts.floor("30min").asi8 - closing * HALF_HOUR.value, utc=True)
    out["timestamp"] = _iso(ts)
    return out.sort_values(["slot", "ts", "charge_point_id", "transaction_id"], kind="stable").reset_index(drop=True)


def status_refresh(net: Network, days: list[date], sessions: pd.DataFrame,
                   faults: pd.DataFrame | None = None) -> pd.DataFrame:
    """The nightly StatusNotification of idle charge points (the central system's TriggerMessage at 03:1x).

    OCPP notifies changes only; without this, a charge point nobody used for days has no known
    state. A charge point busy or out of order at that time sends nothing then.
    """
    rows = []
    pdc = net.pdc["id_pdc_itinerance"].to_numpy()
    offset = np.array([_h64("refresh:" + p) % 600 for p in pdc])  # seconds after 03:10, per charge point
    for d in days:
        at = (pd.Timestamp(d) + pd.Timedelta(hours=3, minutes=10)).tz_localize(PARIS).tz_convert(UTC)
        ts = at + pd.to_timedelta(offset, unit="s")
        rows.append(pd.DataFrame({"ts": ts, "cp": pdc}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["ts", "cp"])
    busy = pd.concat([sessions[["id_pdc_itinerance", "start", "stop"]].set_axis(["cp", "a", "b"], axis=1)]
                     + ([faults[["id_pdc_itinerance", "fault_start", "fault_end"]].set_axis(["cp", "a", "b"], axis=1)]
                        if faults is not None and len(faults) else []), ignore_index=True)
    hit = out.merge(busy, on="cp")
    hit = hit[(hit["a"] - pd.Timedelta(minutes=1) <= hit["ts"]) & (hit["ts"] <= hit["b"] + pd.Timedelta(minutes=1))]
    out = out[~out.set_index(["cp", "ts"]).index.isin(hit.set_index(["cp", "ts"]).index)]
    return out.assign(status="Available")


def ocpp_events(sessions: pd.DataFrame, faults: pd.DataFrame | None = None,
                refresh: pd.DataFrame | None = None) -> pd.DataFrame:
    """StatusNotification messages consistent with the sessions and the faults (and the nightly refresh)."""
    s = sessions
    full_at = s["start"] + pd.to_timedelta(s["energy_wh"] / (s["p_eff_kw"] * 1000) * 3600, unit="s")
    parts = [
        pd.DataFrame({"ts": s["start"] - pd.Timedelta(seconds=40), "cp": s["id_pdc_itinerance"], "status": "Preparing"}),
        pd.DataFrame({"ts": s["start"] + pd.Timedelta(seconds=5), "cp": s["id_pdc_itinerance"], "status": "Charging"}),
        pd.DataFrame({"ts": s["stop"], "cp": s["id_pdc_itinerance"], "status": "Finishing"}),
        pd.DataFrame({"ts": s["stop"] + pd.Timedelta(seconds=30), "cp": s["id_pdc_itinerance"], "status": "Available"}),
    ]
    # ~3 % of drivers reserve (ReserveNow) 15 minutes ahead, when the charge point was free by then
    prev_stop = s.sort_values("start").groupby("id_pdc_itinerance")["stop"].shift().reindex(s.index)
    reserve_at = s["start"] - pd.Timedelta(minutes=15)
    reserved = (s["transaction_id"].to_numpy() % 33 == 0) & (prev_stop.isna() | (prev_stop + pd.Timedelta(minutes=1)
                                                                                  < reserve_at)).to_numpy()
    parts.append(pd.DataFrame({"ts": reserve_at[reserved], "cp": s.loc[reserved, "id_pdc_itinerance"],
                               "status": "Reserved"}))
    suspended = full_at < s["stop"] - pd.Timedelta(minutes=1)
    parts.append(pd.DataFrame({"ts": full_at[suspended].dt.floor("s"), "cp": s.loc[suspended, "id_pdc_itinerance"],
                               "status": "SuspendedEV"}))
    if refresh is not None and len(refresh):
        parts.append(refresh[["ts", "cp", "status"]])
    out = pd.concat(parts, ignore_index=True)
    out["error_code"] = "NoError"
    if faults is not None and len(faults):
        out = pd.concat([out,
                         pd.DataFrame({"ts": faults["fault_start"].dt.floor("s"), "cp": faults["id_pdc_itinerance"],
                                       "status": "Faulted", "error_code": faults["error_code"]}),
                         pd.DataFrame({"ts": faults["fault_end"].dt.floor("s"), "cp": faults["id_pdc_itinerance"],
                                       "status": "Available", "error_code": "NoError"})], ignore_index=True)
    ts = pd.DatetimeIndex(out["ts"])
    frame = pd.DataFrame({"timestamp": _iso(ts), "charge_point_id": out["cp"].to_numpy(), "connector_id": 1,
                          "status": out["status"].to_numpy(), "error_code": out["error_code"].to_numpy(),
                          "info": None, "vendor_error_code": None, "slot": ts.floor("30min"), "ts": ts})
    return frame.sort_values(["slot", "ts", "charge_point_id"], kind="stable").reset_index(drop=True)


def slot_file_name(prefix: str, slot: datetime) -> str:
    return f"{prefix}_{pd.Timestamp(slot).tz_convert(UTC):%Y%m%dT%H%M}Z.csv"


TX_PREFIX = "spie_symenergie05_transactions"
EVENT_PREFIX = "spie_symenergie05_events"
HISTORY_PREFIX = "spie_symenergie05_historique_transactions"


def _ended_slots(start: datetime, end: datetime, now: datetime | None) -> pd.DatetimeIndex:
    now = pd.Timestamp(now or datetime.now(UTC)).tz_convert(UTC)
    stop = min(pd.Timestamp(end).tz_convert(UTC), now.floor("30min"))
    first = pd.Timestamp(start).tz_convert(UTC).ceil("30min")
    if stop <= first:
        return pd.DatetimeIndex([], tz=UTC)
    return pd.date_range(first, stop, freq="30min", inclusive="left")


def write_slot_files(landing, frame: pd.DataFrame, columns: list[str], prefix: str,
                     slots: pd.DatetimeIndex) -> list[Path]:
    """One file per half-hour (header only when nothing happened); existing deliveries are kept."""
    written = []
    header = ";".join(columns) + "\n"
    groups = dict(tuple(frame.groupby("slot"))) if len(frame) else {}
    for slot in slots:
        name = slot_file_name(prefix, slot)
        if (landing.dir / name).exists():
            continue
        rows = groups.get(slot)
        body = "" if rows is None else rows[columns].to_csv(sep=";", index=False, header=False, lineterminator="\n")
        written.append(landing.write_atomic(name, header + body))
    return written


def _missing_slots(landing, prefix: str, slots: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([s for s in slots if not (landing.dir / slot_file_name(prefix, s)).exists()], tz=UTC)


def write_transaction_log(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                          net: Network | None = None) -> list[Path]:
    slots = _missing_slots(landing, TX_PREFIX, _ended_slots(max(start, HISTORY_END), end, now))
    if not len(slots):
        return []
    net = net or network()
    sessions = sessions_for_days(net, _days_covering(slots[0], slots[-1] + HALF_HOUR))
    msgs = ocpp_messages(sessions)
    msgs = msgs[msgs["slot"].isin(slots)]
    return write_slot_files(landing, msgs, TX_COLUMNS, TX_PREFIX, slots)


def write_event_log(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                    net: Network | None = None) -> list[Path]:
    slots = _missing_slots(landing, EVENT_PREFIX, _ended_slots(max(start, HISTORY_END), end, now))
    if not len(slots):
        return []
    net = net or network()
    days = _days_covering(slots[0], slots[-1] + HALF_HOUR)
    sessions, faults = simulate_days(net, days)
    events = ocpp_events(sessions, faults, status_refresh(net, days, sessions, faults))
    events = events[events["slot"].isin(slots)]
    return write_slot_files(landing, events, EVENT_COLUMNS, EVENT_PREFIX, slots)


def history_export(sessions: pd.DataFrame) -> str:
    """SPIE's historical export: one row per transaction, local times with their offset."""
    s = sessions
    dup = s[s["anomaly"] == "duplicate"]
    s = pd.concat([s, dup], ignore_index=True).sort_values(["stop", "transaction_id"], kind="stable")
    local = lambda col: [t.isoformat() for t in pd.DatetimeIndex(s[col]).tz_convert(PARIS)]  # noqa: E731
    out = pd.DataFrame({
        "id_transaction": s["transaction_id"].to_numpy(), "id_pdc_itinerance": s["id_pdc_itinerance"].to_numpy(),
        "connecteur": 1, "badge": s["badge"].to_numpy(), "debut": local("start"), "fin": local("stop"),
        "index_debut_wh": s["meter_start_wh"].to_numpy(), "index_fin_wh": s["meter_stop_wh"].to_numpy(),
        "energie_wh": (s["meter_stop_wh"] - s["meter_start_wh"]).to_numpy(), "motif_arret": s["reason"].to_numpy(),
    })
    return out[HISTORY_COLUMNS].to_csv(sep=";", index=False, lineterminator="\n")


def write_history(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                  net: Network | None = None) -> list[Path]:
    """Monthly export files (UTC months, by session end) for the time before the half-hourly drops."""
    stop = min(pd.Timestamp(end).tz_convert(UTC), pd.Timestamp(HISTORY_END),
               pd.Timestamp(now or datetime.now(UTC)).tz_convert(UTC))
    first = max(pd.Timestamp(start).tz_convert(UTC), pd.Timestamp("2024-01-01", tz=UTC))
    written = []
    month = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month < stop:
        nxt = month + pd.offsets.MonthBegin(1)
        name = f"{HISTORY_PREFIX}_{month:%Y-%m}.csv"
        if nxt <= stop and not (landing.dir / name).exists():
            sessions = sessions_for_days(net or network(), _days_covering(month, nxt))
            sessions = sessions[(sessions["stop"] >= month) & (sessions["stop"] < nxt)]
            written.append(landing.write_atomic(name, history_export(sessions)))
        month = nxt
    return written
