"""A collective self-consumption operation in Forcalquier (04): Les Colibres' PMO and its participants.

What the simulator plays (sample mode), in the formats of `sources/acc_*.py`:
- the PMO's register snapshots (landing/acc_register/) and its allocation keys (landing/acc_keys/);
- Enedis's daily measure files of every participant (landing/acc_curves/) and Enedis's own daily
  allocation results (landing/acc_enedis_allocation/).

The operation: 20 households of the eco-hamlet and 2 PV producers, the common house's roof (36 kWc)
and household H07's roof (6 kWc; H07 consumes on its withdrawal PRM and injects its surplus on its
injection PRM: a "consommateur_producteur").
Timeline (known truth the tests rely on):
- 2024-09-01 operation starts, 19 households, key K1 statique without redistribution;
- 2025-04-15 household H20 enters; key K2 statique with redistribution (20 consumers);
- 2025-09-01 key K3 dynamique par défaut;
- 2026-02-28 household H12 leaves (last day in the operation).
Enedis's results follow the key in force, computed in floating point and rounded to the Wh per
quantity (their own arithmetic), except on 2025-04-15 when Enedis still applied K1 (a key taken into
account one day late): the reconciliation must flag that day.

Realism: household loads from a daily profile (morning and evening peaks), occupancy (weekends,
holiday weeks), heating by type (electric convectors, heat pump, wood stove) driven by the inland
temperature of Forcalquier (~550 m), water heaters at night; PV from solar geometry at Forcalquier
with the regional cloudiness of `weather`. Every value is a pure function of the PRM and the Paris
day, so any window is reproducible. Injected anomalies with known truth, never on DST days: a
negative reading (`anomaly_days`), and a household whose curve misses three hours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS, UTC, paris_day_bounds
from energy_pipelines.simulate import weather

OPERATION_ID = "ACC-COLIBRES-04088"
FORCALQUIER = (43.9597, 5.7808)
ALTITUDE_M = 550
STEP_MINUTES = 30
START = date(2024, 9, 1)
NEWCOMER, NEWCOMER_ENTRY = "H20", date(2025, 4, 15)
LEAVER, LEAVER_LAST_DAY = "H12", date(2026, 2, 28)
PROSUMER = "H07"
LATE_KEY_DAY = date(2025, 4, 15)  # Enedis applied the previous key that day
MEASURE_HEADER = ["Identifiant PRM", "Date de début", "Date de fin", "Grandeur physique", "Grandeur métier",
                  "Etape métier", "Unité", "Horodate", "Valeur", "Nature", "Pas", "Indice de vraisemblance",
                  "Etat complémentaire"]
REGISTER_HEADER = ["id_operation", "id_participant", "nom", "type_participant", "prm_soutirage", "prm_injection",
                   "date_entree", "date_sortie", "latitude", "longitude", "puissance_crete_kwc",
                   "puissance_injection_kva", "puissance_souscrite_kva", "tarif"]
KEY_HEADER = ["id_operation", "id_cle", "type_cle", "redistribution", "date_debut", "date_fin", "horodate",
              "prm_injection", "prm_soutirage", "coefficient_pct"]
SURNAMES = ["Martin", "Bernard", "Roux", "Fabre", "Garnier", "Blanc", "Chabaud", "Arnaud", "Reynaud", "Michel",
            "Giraud", "Bonnet", "Brun", "Girard", "Faure", "Mercier", "Aubert", "Meyer", "Laurent", "Barthélemy"]


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def _prm(kind: str, n: int) -> str:
    # 14 digits; a fixed fictitious prefix so no real delivery point is named
    return f"{99 if kind == 'S' else 98}{_hash('prm', kind, n) % 10**10:010d}{n:02d}"


@dataclass(frozen=True)
class Household:
    id: str
    n: int
    name: str
    annual_kwh: float
    heating: str  # electric, heat_pump, wood
    water_heater: bool
    persons: int
    lat: float
    lon: float
    subscribed_kva: int
    tariff: str

    @property
    def prm(self) -> str:
        return _prm("S", self.n)


@dataclass(frozen=True)
class Producer:
    id: str
    n: int
    name: str
    kwc: float
    lat: float
    lon: float
    household: str | None  # the household that also consumes behind this roof

    @property
    def prm(self) -> str:
        return _prm("I", self.n)


@lru_cache(maxsize=1)
def households() -> tuple[Household, ...]:
    out = []
    for n in range(1, 21):
        rng = np.random.default_rng(_hash("household", n))
        heating = ["electric", "heat_pump", "wood", "wood"][int(rng.integers(0, 4))]
        persons = int(rng.integers(1, 5))
        annual = (1400 + 900 * persons) * (1.6 if heating == "electric" else 1.25 if heating == "heat_pump" else 1.0)
        # within ~400 m of the common house (the hamlet and the lower town)
        angle, dist_m = rng.uniform(0, 2 * np.pi), rng.uniform(30, 420)
        lat = FORCALQUIER[0] + dist_m * np.cos(angle) / 111_320
        lon = FORCALQUIER[1] + dist_m * np.sin(angle) / (111_320 * np.cos(np.deg2rad(FORCALQUIER[0])))
        out.append(Household(
            id=f"H{n:02d}", n=n, name=f"Foyer {SURNAMES[n - 1]}", annual_kwh=float(annual * rng.uniform(0.85, 1.15)),
            heating=heating, water_heater=bool(rng.random() < 0.6), persons=persons,
            lat=round(float(lat), 6), lon=round(float(lon), 6),
            subscribed_kva=9 if heating == "electric" or persons > 3 else 6,
            tariff="base" if n % 3 else "heures_creuses"))
    return tuple(out)


@lru_cache(maxsize=1)
def producers() -> tuple[Producer, ...]:
    h = _household(PROSUMER)
    return (Producer("P01", 1, "Maison commune des Colibres (toiture)", 36.0, FORCALQUIER[0], FORCALQUIER[1], None),
            Producer("P02", 2, f"Toiture du foyer {PROSUMER}", 6.0, h.lat, h.lon, PROSUMER))


def _household(hid: str) -> Household:
    return next(h for h in households() if h.id == hid)


def entry_day(hid: str) -> date:
    return NEWCOMER_ENTRY if hid == NEWCOMER else START


def last_day(hid: str) -> date | None:
    return LEAVER_LAST_DAY if hid == LEAVER else None


def active_households(day: date) -> list[Household]:
    return [h for h in households()
            if entry_day(h.id) <= day and (last_day(h.id) is None or day <= last_day(h.id))]


# -- keys -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimKey:
    id: str
    type: str
    redistribution: bool
    first_day: date
    last_day: date | None
    coefficients: dict[str, float] | None  # prm_soutirage -> fraction


def _static_coefficients(members: list[Household]) -> dict[str, float]:
    """Pro rata of the expected annual consumption, rounded to 0.01 %, the rest on the largest."""
    total = sum(h.annual_kwh for h in members)
    pct = {h.prm: round(100 * h.annual_kwh / total, 2) for h in members}
    largest = max(members, key=lambda h: h.annual_kwh).prm
    pct[largest] = round(pct[largest] + 100 - sum(pct.values()), 2)
    return {k: v / 100 for k, v in pct.items()}


def keys() -> list[SimKey]:
    before = [h for h in households() if h.id != NEWCOMER]
    return [
        SimKey("K1", "statique", False, START, NEWCOMER_ENTRY - timedelta(days=1), _static_coefficients(before)),
        SimKey("K2", "statique", True, NEWCOMER_ENTRY, date(2025, 8, 31), _static_coefficients(households())),
        SimKey("K3", "dynamique_defaut", False, date(2025, 9, 1), None, None),
    ]


def key_on(day: date, enedis: bool = False) -> SimKey:
    if enedis and day == LATE_KEY_DAY:
        day = day - timedelta(days=1)
    return [k for k in keys() if k.first_day <= day][-1]


# -- curves ---------------------------------------------------------------------------------------


def _steps(day: date) -> pd.DatetimeIndex:
    lo, hi = paris_day_bounds(day)
    return pd.date_range(lo, hi, freq=f"{STEP_MINUTES}min", inclusive="left")


def _temperature(times: pd.DatetimeIndex) -> np.ndarray:
    # Forcalquier: inland, ~550 m: colder winters and wider daily range than the coast
    return weather.temperature_c(times, mean_c=15.5 - 0.0065 * ALTITUDE_M - 1.5, seasonal_amp=10.0, daily_amp=6.5)


def household_load_wh(h: Household, day: date) -> np.ndarray:
    """Energy withdrawn per step (before any PV behind the meter), whole Wh."""
    times = _steps(day)
    local = times.tz_convert(PARIS)
    hour = np.asarray(local.hour + local.minute / 60, dtype=float)
    weekend = local.dayofweek[0] >= 5
    rng = np.random.default_rng(_hash("load", h.n, day.isoformat()))
    away = (_hash("holiday", h.n, day.isocalendar()[0], day.isocalendar()[1]) % 17 == 0)
    presence = 0.25 if away else 1.0
    profile = (0.55 + 0.55 * np.exp(-((hour - 7.5) / 1.2) ** 2) + 1.1 * np.exp(-((hour - 20.0) / 2.0) ** 2)
               + (0.5 if weekend else 0.15) * np.exp(-((hour - 13.0) / 2.5) ** 2))
    base_kw = h.annual_kwh / 8760 * 0.7 * profile * presence
    temp = _temperature(times)
    if h.heating == "electric":
        heat_kw = 0.13 * np.clip(15.5 - temp, 0, None) * (1.0 if presence == 1.0 else 0.4)
    elif h.heating == "heat_pump":
        heat_kw = 0.05 * np.clip(15.5 - temp, 0, None) * (1.0 if presence == 1.0 else 0.4)
    else:  # wood stove: circulation pump and fan only
        heat_kw = 0.01 * np.clip(15.5 - temp, 0, None)
    water_kw = np.where((hour >= 1.0) & (hour < 4.0), 0.9 * h.persons / 2, 0.0) if h.water_heater else 0.0
    kw = (base_kw + heat_kw + water_kw) * rng.lognormal(0, 0.18, len(times))
    return np.round(kw * 1000 * STEP_MINUTES / 60).astype(np.int64)


def plane_of_array_factor(times: pd.DatetimeIndex, lat: float, lon: float, tilt_deg: float = 30.0) -> np.ndarray:
    """Irradiance on a south-facing plane tilted `tilt_deg`, per unit of global horizontal irradiance.

    Beam (75 % under the clearness of `weather`) follows the cosine of incidence; diffuse is isotropic.
    """
    doy = weather.day_of_year(times)
    gamma = 2 * np.pi / 365 * (doy - 1 + (np.asarray(times.hour) - 12) / 24)
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    minutes = np.asarray(times.hour * 60 + times.minute, dtype=float) + STEP_MINUTES / 2
    h = np.deg2rad((minutes + eqtime + 4 * lon) / 4 - 180)
    phi, beta = np.deg2rad(lat), np.deg2rad(tilt_deg)
    sin_el = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(h)
    cos_inc = np.sin(decl) * np.sin(phi - beta) + np.cos(decl) * np.cos(phi - beta) * np.cos(h)
    beam = np.clip(cos_inc, 0, None) / np.clip(sin_el, 0.08, None)
    return np.where(sin_el > 0, 0.75 * np.clip(beam, 0, 4) + 0.25 * (1 + np.cos(beta)) / 2, 0.0)


def pv_wh(p: Producer, day: date) -> np.ndarray:
    """PV injection before any consumption behind the meter: 30° south roofs, 14 % system losses."""
    times = _steps(day)
    sun = np.clip(weather.solar_elevation_sin(times, lat_deg=p.lat, lon_deg=p.lon), 0, None)
    ghi = 1050 * sun**1.15 * weather.clearness(times)  # W/m², as the Météo-France sample
    rng = np.random.default_rng(_hash("pv", p.n, day.isoformat()))
    kw = p.kwc * 0.86 * ghi / 1000 * plane_of_array_factor(times, p.lat, p.lon)
    kw = np.minimum(kw * np.clip(rng.normal(1.0, 0.04, len(times)), 0.8, 1.1), p.kwc)
    return np.round(kw * 1000 * STEP_MINUTES / 60).astype(np.int64)


def metered(day: date) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(withdrawal per active consumer PRM, injection per producer PRM) of one Paris day, true values."""
    cons, prod = {}, {}
    for h in active_households(day):
        cons[h.prm] = household_load_wh(h, day)
    for p in producers():
        pv = pv_wh(p, day)
        if p.household is not None:
            h = _household(p.household)
            if h.prm in cons:  # behind the meter: the household uses its own PV first
                load = cons[h.prm]
                cons[h.prm] = np.maximum(load - pv, 0)
                pv = np.maximum(pv - load, 0)
        prod[p.prm] = pv
    return cons, prod


def is_dst_day(day: date) -> bool:
    lo, hi = paris_day_bounds(day)
    return (hi - lo) != timedelta(days=1)


def anomaly_days(day: date) -> dict[str, str]:
    """Known-truth anomalies of the delivered curves that day: {kind: household id}."""
    if is_dst_day(day):
        return {}
    out = {}
    if _hash("negative", day.isoformat()) % 29 == 0:
        out["negative"] = households()[_hash("neg-h", day.isoformat()) % 19].id
    if _hash("gap", day.isoformat()) % 31 == 0:
        out["gap"] = households()[_hash("gap-h", day.isoformat()) % 19].id
    return {k: v for k, v in out.items() if v in {h.id for h in active_households(day)}}


def _end_labels(times: pd.DatetimeIndex) -> list[str]:
    """End of each step in Paris wall-clock time, without offset, as portal exports write it."""
    ends = (times + pd.Timedelta(minutes=STEP_MINUTES)).tz_convert(PARIS)
    return [t.strftime("%Y-%m-%d %H:%M:%S") for t in ends]


def _measure_rows(day: date, series: dict[tuple[str, str], np.ndarray]) -> list[list[str]]:
    times = _steps(day)
    labels = _end_labels(times)
    first, nxt = day.isoformat(), (day + timedelta(days=1)).isoformat()
    rows = []
    for (prm, grandeur), values in series.items():
        for label, v in zip(labels, values, strict=True):
            if v is None:
                continue
            rows.append([prm, first, nxt, "EA", grandeur, "BRUT", "Wh", label, str(int(v)), "R", f"PT{STEP_MINUTES}M",
                         "0", "0"])
    return rows


def curves_csv(day: date) -> str:
    cons, prod = metered(day)
    series: dict[tuple[str, str], np.ndarray] = {}
    for prm, v in cons.items():
        series[(prm, "CONS")] = v.astype(object)
    for prm, v in prod.items():
        series[(prm, "PROD")] = v.astype(object)
    anomalies = anomaly_days(day)
    if "negative" in anomalies:
        prm = _household(anomalies["negative"]).prm
        i = _hash("neg-step", day.isoformat()) % len(series[(prm, "CONS")])
        series[(prm, "CONS")][i] = -abs(int(series[(prm, "CONS")][i])) - 7
    if "gap" in anomalies:
        prm = _household(anomalies["gap"]).prm
        i = 16 + _hash("gap-step", day.isoformat()) % 20
        series[(prm, "CONS")][i:i + 6] = None  # three hours never delivered
    return _csv(MEASURE_HEADER, _measure_rows(day, series))


def _csv(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([";".join(header), *(";".join(r) for r in rows)]) + "\n"


# -- Enedis's own allocation (floating point, independent of transforms/acc) ----------------------


def enedis_allocation(day: date) -> dict[tuple[str, str], np.ndarray]:
    cons, prod = metered(day)
    key = key_on(day, enedis=True)
    prms = list(cons)
    c = np.array([cons[p] for p in prms], dtype=float).T  # [T, N]
    p_mat = np.array(list(prod.values()), dtype=float).T  # [T, M]
    pool = p_mat.sum(axis=1)
    if key.type == "dynamique_defaut":
        total = c.sum(axis=1)
        share = np.divide(c, total[:, None], out=np.zeros_like(c), where=total[:, None] > 0)
        auto = np.minimum(c, pool[:, None] * share)
    else:
        s = np.array([key.coefficients.get(prm, 0.0) for prm in prms])
        auto = np.minimum(c, pool[:, None] * s[None, :])
        if key.redistribution:
            for _ in range(len(prms) + 1):
                left = pool - auto.sum(axis=1)
                head = c - auto
                w = np.where(head > 1e-9, s[None, :], 0.0)
                ws = w.sum(axis=1)
                todo = (left > 1e-9) & (ws > 0)
                if not todo.any():
                    break
                extra = np.divide(left[:, None] * w, ws[:, None], out=np.zeros_like(w), where=ws[:, None] > 0)
                auto += np.minimum(extra, head)
    autocons = np.round(auto).astype(np.int64)
    self_consumed = auto.sum(axis=1)
    out: dict[tuple[str, str], np.ndarray] = {}
    for i, prm in enumerate(prms):
        out[(prm, "CONS")] = cons[prm]
        out[(prm, "AUTOCONS")] = autocons[:, i]
        out[(prm, "COMPLEMENT")] = cons[prm] - autocons[:, i]
    for j, prm in enumerate(prod):
        share = np.divide(p_mat[:, j], pool, out=np.zeros_like(pool), where=pool > 0)
        autoprod = np.round(self_consumed * share).astype(np.int64)
        out[(prm, "PROD")] = prod[prm]
        out[(prm, "AUTOPROD")] = autoprod
        out[(prm, "SURPLUS")] = prod[prm] - autoprod
    return out


def enedis_allocation_csv(day: date) -> str:
    return _csv(MEASURE_HEADER, _measure_rows(day, {k: v.astype(object) for k, v in enedis_allocation(day).items()}))


# -- writers --------------------------------------------------------------------------------------


def _days_ended(start: datetime, end: datetime, now: datetime | None, delay_days: int = 1):
    """Paris days touching [start, end) that Enedis has delivered by `now` (the day after, J+1)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    first = max(pd.Timestamp(start).tz_convert(PARIS).date(), START)
    last = (pd.Timestamp(end) - pd.Timedelta(microseconds=1)).tz_convert(PARIS).date()
    day = first
    while day <= last:
        if paris_day_bounds(day + timedelta(days=delay_days))[0] <= now:
            yield day
        day += timedelta(days=1)


def _write_if_changed(landing, name: str, text: str) -> list[Path]:
    target = landing.dir / name
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return []
    return [landing.write_atomic(name, text)]


def write_curves(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    written = []
    for day in _days_ended(start, end, now, delay_days=1):
        written += _write_if_changed(landing, f"ACC_{OPERATION_ID}_COURBES_{day:%Y%m%d}.csv", curves_csv(day))
    return written


def write_enedis_allocation(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    written = []
    for day in _days_ended(start, end, now, delay_days=1):
        written += _write_if_changed(landing, f"ACC_{OPERATION_ID}_REPARTITION_{day:%Y%m%d}.csv",
                                     enedis_allocation_csv(day))
    return written


def register_csv(snapshot: date) -> str:
    rows = []
    for h in households():
        if entry_day(h.id) > snapshot + timedelta(days=60):  # a newcomer is announced before entering
            continue
        leaves = last_day(h.id)
        is_prosumer = h.id == PROSUMER
        rows.append([OPERATION_ID, h.id, h.name, "consommateur_producteur" if is_prosumer else "consommateur",
                     h.prm, _prm("I", 2) if is_prosumer else "", entry_day(h.id).isoformat(),
                     leaves.isoformat() if leaves and leaves <= snapshot + timedelta(days=60) else "",
                     f"{h.lat:.6f}", f"{h.lon:.6f}", "6.0" if is_prosumer else "", "6" if is_prosumer else "",
                     str(h.subscribed_kva), h.tariff])
    p = producers()[0]
    rows.append([OPERATION_ID, p.id, p.name, "producteur", "", p.prm, START.isoformat(), "", f"{p.lat:.6f}",
                 f"{p.lon:.6f}", f"{p.kwc:.1f}", "36", "", "producteur"])
    return _csv(REGISTER_HEADER, rows)


def register_snapshots() -> list[date]:
    return [START, NEWCOMER_ENTRY - timedelta(days=14), LEAVER_LAST_DAY - timedelta(days=30)]


def write_register(landing, *, now: datetime | None = None) -> list[Path]:
    today = (now or datetime.now(UTC)).astimezone(PARIS).date()
    written = []
    for snap in register_snapshots():
        if snap <= today:
            written += _write_if_changed(landing, f"REGISTRE_ACC_{OPERATION_ID}_{snap:%Y%m%d}.csv", register_csv(snap))
    return written


def key_csv(key: SimKey) -> str:
    common = [OPERATION_ID, key.id, key.type, "oui" if key.redistribution else "non", key.first_day.isoformat(),
              key.last_day.isoformat() if key.last_day else "", ""]
    if key.coefficients is None:
        return _csv(KEY_HEADER, [[*common, "", "", ""]])
    return _csv(KEY_HEADER, [[*common, "", prm, f"{100 * c:.2f}"] for prm, c in key.coefficients.items()])


def write_keys(landing, *, now: datetime | None = None) -> list[Path]:
    today = (now or datetime.now(UTC)).astimezone(PARIS).date()
    written = []
    for key in keys():
        # the PMO declares a key before it takes effect
        if key.first_day - timedelta(days=14) <= today:
            written += _write_if_changed(landing, f"CLE_ACC_{OPERATION_ID}_{key.id}.csv", key_csv(key))
    return written



def write_register_source(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """The registry's entry: the operation's register as the PMO delivers it (window-independent)."""
    return write_register(landing, now=now)


def write_keys_source(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    return write_keys(landing, now=now)
