"""A deterministic estate of the Region's lycées (UC4): their meters, bills, load curves and gas days.

The simulator plays every provider of UC4 and writes their formats into the landing zone,
upstream of the readers (`sources/buildings_*`, `temperature_daily`, `school_calendar`):

- the Region's building register (buildings, and meters with their supply contracts);
- supplier bills, one file per supplier and issue month: periods not aligned on months,
  monthly or bi-monthly, kWh / m³ (with the kWh PCS coefficient) / MWh, estimated and read
  indexes, regularisations, cancel-and-rebill credit notes;
- Enedis load curves of the electricity meters as SGE delivers them to a trusted third party
  (R63 CSV: mean power in W, 10-min for C1-C4, 30-min for C5, end-of-interval local time with
  its UTC offset, quality flags), one file per Paris day;
- GRDF daily "informative" gas volumes of the remotely read meters (JSON Lines, one per day);
- the daily temperature of PACA (ODRÉ temperature-quotidienne-regionale) and the school calendar
  (data.education.gouv.fr fr-en-calendrier-scolaire, zone B) the consumption depends on.

Realism: heating fluids follow heating degree days of the building's own climate (the regional
temperature plus its département's offset: Gap is colder than Nice) with a night/weekend/holiday
setback; electricity follows occupancy (school days, Wednesday afternoons, staff days in the
holidays, empty summers), a base load, and degree days where heating is electric; water follows
pupils on school days. Everything is a pure function of the meter and the day (counter-based
noise), so any window is generated independently and re-runs give the same bytes.

Known anomalies are injected, each kind at a known rate, and their truth is kept apart: it is
returned by `injected_anomalies()` (for tests and `benchmarks/uc4_detection.py`), never written
into the landing zone, and no detector reads it.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import holidays as public_holidays
import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS, PARIS_NAME, UTC, paris_start
from energy_pipelines.simulate import weather

# meters are commissioned and billed from here on; anomalies are scheduled from here on
EPOCH = date(2022, 1, 1)
N_LYCEES = 150
REGION_CODE = "93"
REGION_NAME = "Provence-Alpes-Côte d'Azur"
ACADEMIES = ("Aix-Marseille", "Nice")

# département -> temperature offset against the regional mean (°C)
DEPT_OFFSET = {"04": -3.0, "05": -5.0, "06": 0.4, "13": 0.3, "83": -0.2, "84": -0.6}
COMMUNES = [
    ("13055", "Marseille", 14), ("06088", "Nice", 8), ("83137", "Toulon", 6), ("13001", "Aix-en-Provence", 6),
    ("84007", "Avignon", 5), ("05061", "Gap", 3), ("04070", "Digne-les-Bains", 2), ("06029", "Cannes", 3),
    ("06004", "Antibes", 3), ("13004", "Arles", 2), ("13056", "Martigues", 2), ("13005", "Aubagne", 2),
    ("13103", "Salon-de-Provence", 2), ("13047", "Istres", 2), ("83069", "Hyères", 2), ("83061", "Fréjus", 2),
    ("83050", "Draguignan", 2), ("83023", "Brignoles", 2), ("83126", "La Seyne-sur-Mer", 2),
    ("84031", "Carpentras", 2), ("84087", "Orange", 2), ("84035", "Cavaillon", 2), ("84089", "Pertuis", 1),
    ("04112", "Manosque", 2), ("04209", "Sisteron", 1), ("05023", "Briançon", 1), ("05046", "Embrun", 1),
    ("06069", "Grasse", 2), ("06083", "Menton", 1), ("13117", "Vitrolles", 2), ("13028", "La Ciotat", 1),
    ("13041", "Gardanne", 1), ("13063", "Miramas", 1), ("13054", "Marignane", 1), ("83118", "Saint-Raphaël", 1),
    ("04088", "Forcalquier", 1), ("04019", "Barcelonnette", 1), ("84003", "Apt", 1), ("84138", "Valréas", 1),
    ("06157", "Vence", 1), ("06027", "Cagnes-sur-Mer", 2), ("06030", "Le Cannet", 1),
    ("06123", "Saint-Laurent-du-Var", 1), ("83144", "La Valette-du-Var", 1), ("83129", "Six-Fours-les-Plages", 1),
    ("83072", "Lorgues", 1), ("83116", "Saint-Maximin-la-Sainte-Baume", 1), ("84019", "Bollène", 1),
    ("84054", "L'Isle-sur-la-Sorgue", 1), ("13108", "Tarascon", 1), ("13027", "Châteaurenard", 1),
    ("13077", "Port-de-Bouc", 1), ("06152", "Valbonne", 2), ("83073", "Le Luc", 1), ("83115", "Sainte-Maxime", 1),
]
PATRONS = ["Victor Hugo", "Jean Moulin", "Marie Curie", "Paul Cézanne", "Frédéric Mistral", "Jules Ferry",
           "Louis Pasteur", "Adolphe Thiers", "Antoine de Saint-Exupéry", "Jean Jaurès", "Albert Camus",
           "Marcel Pagnol", "Joliot-Curie", "Georges Brassens", "Honoré Daumier", "Pierre Mendès France",
           "Émile Zola", "Jean Giono", "Simone Veil", "René Char", "Paul Langevin", "Alphonse Daudet",
           "Les Eucalyptus", "Les Iscles", "Le Rempart", "Vauvenargues", "Dumont d'Urville", "Rouvière",
           "Jean Cocteau", "Raoul Follereau", "Camille Claudel", "Charles de Gaulle", "Auguste Renoir",
           "Pierre-Gilles de Gennes", "Lucie Aubrac", "Vincent Van Gogh", "Arthur Rimbaud", "Val de Durance"]
UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # 23 letters: the UAI key is the 7-digit number modulo 23

FLUID_LABEL = {"electricite": "Électricité", "gaz": "Gaz naturel", "eau": "Eau", "reseau_chaleur": "Réseau de chaleur"}
SUPPLIERS = {
    "electricite": [("EDF Collectivités", "EDF", "regularisation")],
    "gaz": [("ENGIE", "ENG", "regularisation"), ("TotalEnergies", "TTE", "annulation")],
    "eau": [("Société des Eaux de Marseille", "SEM", "annulation"), ("Veolia Eau", "VEO", "regularisation")],
    "reseau_chaleur": [("Dalkia", "DKA", "regularisation")],
}
# contract price ranges (energy part, EUR excl. VAT per billed kWh or m³) and VAT rates
PRICE_RANGE = {"electricite": (0.140, 0.200), "gaz": (0.055, 0.085), "eau": (3.20, 4.60),
               "reseau_chaleur": (0.085, 0.110)}
VAT = {"electricite": 0.20, "gaz": 0.20, "eau": 0.055, "reseau_chaleur": 0.055}
DAYS_PER_MONTH = 30.4375

# per-year probabilities of each injected anomaly (bill-level per meter, consumption per building)
RATES = {"duplicate_bill": 0.06, "impossible_quantity": 0.05, "price_out_of_range": 0.06, "missing_bill": 0.05,
         "estimate_correction": 0.12, "night_base_load": 0.10, "holiday_base_load": 0.08,
         "gas_summer_holidays": 0.10, "drift": 0.10}
BILL_KINDS = ("duplicate_bill", "impossible_quantity", "price_out_of_range", "missing_bill", "estimate_correction")


# -- deterministic noise ---------------------------------------------------------------------------

def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_hash(*parts))


_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
    return x ^ (x >> np.uint64(31))


def normal_noise(seed: int, counter: np.ndarray) -> np.ndarray:
    """N(0,1) values that depend only on (seed, counter): the same day gives the same noise in any window."""
    with np.errstate(over="ignore"):
        base = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        c = np.asarray(counter, dtype=np.int64).astype(np.uint64)
        u1 = (_splitmix(base ^ (c * np.uint64(2))) >> np.uint64(11)).astype(np.float64) / 2.0**53
        u2 = (_splitmix(base ^ (c * np.uint64(2) + np.uint64(1))) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log(np.maximum(u1, 1e-300))) * np.cos(2 * np.pi * u2)


def smooth_daily(seed: int, day_numbers: np.ndarray, persistence: float = 0.7) -> np.ndarray:
    """AR(1)-like daily noise: a 10-day exponentially weighted sum of counter-based normals."""
    out = np.zeros(len(day_numbers))
    norm = 0.0
    for lag in range(10):
        w = persistence**lag
        out += w * normal_noise(seed, day_numbers - lag)
        norm += w * w
    return out / np.sqrt(norm)


# -- the estate -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Meter:
    meter_id: str
    building_id: str
    fluid: str
    segment: str
    capacity: float
    capacity_unit: str
    supplier: str
    supplier_code: str
    style: str  # regularisation or annulation (cancel-and-rebill) when a read index follows estimates
    contract_ref: str
    price_min: float
    price_max: float
    price: float  # the contract's usual energy price, inside the range
    fixed_eur_month: float
    months_per_bill: int
    read_day: int
    read_pattern: str  # one letter per bill in a cycle: R read, E estimated
    billed_unit: str  # kWh, m3, MWh
    curve_step_min: int | None  # Enedis load curve step, electricity only
    grdf_daily: bool
    index_start: float


@dataclass(frozen=True)
class Building:
    building_id: str
    name: str
    uai: str | None
    commune_code: str
    commune_name: str
    departement: str
    area_m2: float
    use: str
    heating: str
    year_built: int
    operat_category: str
    pupils: int
    temp_offset: float
    # physics
    base_w_m2: float
    occ_w_m2: float
    elec_heat_w_m2_k: float
    cool_w_m2_k: float
    heat_kwh_m2_k: float
    balance_c: float
    setback: float
    dhw_kwh_m2: float
    water_l_pupil: float
    reference_year: int | None
    reference_kwh: float | None
    cabs_kwh_m2: float | None
    meters: tuple[Meter, ...] = field(default_factory=tuple)


def uai_code(departement: str, number: int) -> str:
    seven = f"0{departement}{number:04d}"
    return seven + UAI_LETTERS[int(seven) % 23]


def _meter(building: Building, fluid: str, k: int, peak: float) -> Meter:
    r = _rng("meter", building.building_id, fluid, k)
    supplier, code, style = SUPPLIERS[fluid][_hash("supplier", building.building_id, fluid) % len(SUPPLIERS[fluid])]
    lo, hi = PRICE_RANGE[fluid]
    width = (hi - lo) * float(r.uniform(0.25, 0.45))
    p_min = round(float(r.uniform(lo, hi - width)), 4)
    p_max = round(p_min + width, 4)
    price = p_min + (p_max - p_min) * float(r.uniform(0.3, 0.7))
    if fluid == "electricite":
        kva = float(np.ceil(peak * float(r.uniform(1.4, 1.8)) / 6) * 6)
        segment = "C5" if kva <= 36 else "C4" if kva <= 250 else "C3"
        meter_id = f"{30000000000000 + _hash('prm', building.building_id, k) % 9999999999999:014d}"
        return Meter(meter_id, building.building_id, fluid, segment, kva, "kVA", supplier, code, style,
                     f"{code}-{_hash('ctr', meter_id) % 10**6:06d}", p_min, p_max, price,
                     round(kva * 1.6, 2), 1 if segment != "C5" else 2, 1 + _hash("rd", meter_id) % 28,
                     "R", "kWh", 30 if segment == "C5" else 10, False, float(_hash("idx", meter_id) % 900000))
    if fluid in ("gaz", "reseau_chaleur"):
        annual = peak
        if fluid == "gaz":
            segment = "T2" if annual < 300_000 else "T3" if annual < 5_000_000 else "T4"
            meter_id = (f"GI{_hash('pce', building.building_id) % 10**6:06d}" if segment != "T2"
                        else f"{20000000000000 + _hash('pce', building.building_id) % 9999999999999:014d}")
            qmax = float(np.ceil(annual / 1500 / 11.0 * float(r.uniform(1.5, 2.2)) / 10) * 10)
            return Meter(meter_id, building.building_id, fluid, segment, max(qmax, 16.0), "m3/h", supplier, code,
                         style, f"{code}-{_hash('ctr', meter_id) % 10**6:06d}", p_min, p_max, price,
                         round(float(r.uniform(40, 140)), 2), 1 if segment != "T2" else 2,
                         1 + _hash("rd", meter_id) % 28, "R" if segment != "T2" else "ER", "kWh" if code == "TTE" else "m3",
                         None, segment != "T2", float(_hash("idx", meter_id) % 500000))
        kw = float(np.ceil(annual / 1400 * float(r.uniform(1.4, 1.8)) / 10) * 10)
        meter_id = f"SST-{building.building_id[-3:]}-{k}"
        return Meter(meter_id, building.building_id, fluid, "R2", kw, "kW", supplier, code, style,
                     f"{code}-{_hash('ctr', meter_id) % 10**6:06d}", p_min, p_max, price, round(kw * 2.4, 2), 1,
                     1 + _hash("rd", meter_id) % 28, "R", "MWh", None, False,
                     float(_hash("idx", meter_id) % 5000))
    meter_id = f"{'AB'[k % 2]}{_hash('eau', building.building_id) % 100:02d}SA{_hash('wm', building.building_id) % 10**6:06d}"
    return Meter(meter_id, building.building_id, fluid, "DN40" if peak < 40 else "DN65", 15.0 if peak < 40 else 40.0,
                 "m3/h", supplier, code, style, f"{code}-{_hash('ctr', meter_id) % 10**6:06d}", p_min, p_max, price,
                 round(float(r.uniform(12, 30)), 2), 2, 1 + _hash("rd", meter_id) % 28, "REE", "m3", None, False,
                 float(_hash("idx", meter_id) % 40000))


@lru_cache(maxsize=4)
def build_estate(n_lycees: int = N_LYCEES) -> tuple[Building, ...]:
    """The lycées (and a few administrative buildings) of the Region, with their meters."""
    slots = [c for c in COMMUNES for _ in range(c[2])]
    buildings = []
    total = n_lycees + max(1, n_lycees // 40)
    for i in range(total):
        lycee = i < n_lycees
        code, commune, _ = slots[i % len(slots)] if lycee else ("13055", "Marseille", 0)
        dep = code[:2]
        r = _rng("building", i)
        bid = f"{'LYC' if lycee else 'ADM'}-{code}-{i:03d}"
        area = float(np.clip(r.lognormal(np.log(9000 if lycee else 6000), 0.45), 2500, 32000))
        heating = ["gaz", "gaz", "gaz", "gaz", "gaz", "gaz", "gaz", "electricite", "electricite", "reseau_chaleur"][
            _hash("heating", bid) % 10]
        if heating == "reseau_chaleur" and code not in ("13055", "06088", "83137", "13001", "84007", "05061"):
            heating = "gaz"  # heat networks serve the larger towns
        patron = PATRONS[_hash("patron", bid) % len(PATRONS)]
        kind = ["Lycée", "Lycée", "Lycée professionnel", "Lycée polyvalent"][_hash("kind", bid) % 4]
        name = f"{kind} {patron}" if lycee else ["Hôtel de Région", "Maison de la Région", "Archives régionales",
                                                 "Centre administratif"][i % 4]
        year_built = int(r.integers(1955, 2016))
        heat = float(r.uniform(0.038, 0.068)) * (1.15 if year_built < 1975 else 0.85 if year_built > 2005 else 1.0)
        ref_year = int(r.integers(2010, 2020)) if _hash("ref", bid) % 3 else None
        b = Building(
            building_id=bid, name=name, uai=uai_code(dep, int(r.integers(100, 9999))) if lycee else None,
            commune_code=code, commune_name=commune, departement=dep, area_m2=round(area, 0),
            use="Enseignement secondaire" if lycee else "Bureaux", heating=heating, year_built=year_built,
            operat_category="Enseignement secondaire - lycée" if lycee else "Bureaux - administration",
            pupils=int(area / float(r.uniform(9, 14))) if lycee else int(area / 25),
            temp_offset=DEPT_OFFSET[dep] + float(r.normal(0, 0.4)),
            base_w_m2=float(r.uniform(1.1, 2.1)), occ_w_m2=float(r.uniform(5.0, 9.0)),
            elec_heat_w_m2_k=float(r.uniform(1.6, 2.6)) if heating == "electricite" else 0.0,
            cool_w_m2_k=float(r.uniform(0.15, 0.5)) if _hash("ac", bid) % 3 == 0 else 0.0,
            heat_kwh_m2_k=heat, balance_c=float(r.uniform(15.0, 17.5)), setback=float(r.uniform(0.5, 0.75)),
            dhw_kwh_m2=float(r.uniform(0.015, 0.04)), water_l_pupil=float(r.uniform(10, 20)),
            reference_year=ref_year, reference_kwh=None, cabs_kwh_m2=None,
        )
        peak_kw = area * (b.base_w_m2 + b.occ_w_m2 * 1.15 + b.elec_heat_w_m2_k * 14) / 1000
        annual_heat = area * heat * 1700 * (1.6 if dep in ("04", "05") else 1.0)
        meters = [_meter(b, "electricite", 0, peak_kw)]
        if area > 14000 and _hash("second_prm", bid) % 2 == 0:  # a gymnasium on its own small supply
            meters.append(_meter(b, "electricite", 1, peak_kw * 0.12))
        if heating in ("gaz", "reseau_chaleur"):
            meters.append(_meter(b, heating, 0, annual_heat))
        meters.append(_meter(b, "eau", 0, b.pupils * b.water_l_pupil / 1000 * 3))
        # the OPERAT declaration: a reference year's consumption (about 15-35 % above today's level)
        ref_kwh = None
        if ref_year is not None:
            today = area * (32 + b.elec_heat_w_m2_k * 40 + (heat * 1700 if heating != "electricite" else 0))
            ref_kwh = round(today * float(r.uniform(1.15, 1.35)), -2)
        cabs = round(float(r.uniform(70, 110)), 1) if _hash("cabs", bid) % 4 == 0 else None
        buildings.append(Building(**{**b.__dict__, "meters": tuple(meters), "reference_kwh": ref_kwh,
                                     "cabs_kwh_m2": cabs}))
    return tuple(buildings)


def meters_of(estate: tuple[Building, ...]) -> dict[str, tuple[Building, Meter]]:
    return {m.meter_id: (b, m) for b in estate for m in b.meters}


# -- weather and calendar ----------------------------------------------------------------------------

def regional_temperature(first: date, last: date) -> pd.DataFrame:
    """Daily TMin / TMax / TMoy (°C) of PACA for Paris days first..last, from the same weather as the mix."""
    days = pd.date_range(first, last, freq="D")
    hours = pd.date_range(pd.Timestamp(first, tz=PARIS_NAME), pd.Timestamp(last + timedelta(days=1), tz=PARIS_NAME),
                          freq="1h", inclusive="left").tz_convert("UTC")
    temp = weather.temperature_c(hours, mean_c=15.3, seasonal_amp=8.2, daily_amp=4.5)
    frame = pd.DataFrame({"t": temp, "day": hours.tz_convert(PARIS_NAME).tz_localize(None).normalize()})
    stats = frame.groupby("day")["t"].agg(["min", "max", "mean"]).reindex(days)
    return pd.DataFrame({"date": days.date, "tmin": stats["min"].round(2).to_numpy(),
                         "tmax": stats["max"].round(2).to_numpy(), "tmoy": stats["mean"].round(2).to_numpy()})


def _saturday_between(year: int, month: int, lo: int, hi: int) -> date:
    for d in range(lo, hi + 1):
        if date(year, month, d).weekday() == 5:
            return date(year, month, d)
    raise AssertionError("a week always has a Saturday")


def _first_monday_from(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def school_holidays(first_school_year: int, last_school_year: int) -> list[dict]:
    """Zone B holidays of school years first..last (start year), as [first day, day classes resume).

    A rule-based calendar shaped like the ministry's (two weeks at Toussaint, Christmas, winter and
    spring, summer from early July to the September rentrée); the live source is the official file.
    """
    out = []
    for y in range(first_school_year, last_school_year + 1):
        year = f"{y}-{y + 1}"
        toussaint = _saturday_between(y, 10, 17, 23)
        noel = _saturday_between(y, 12, 17, 23)
        hiver = _saturday_between(y + 1, 2, 15, 21)
        printemps = _saturday_between(y + 1, 4, 15, 21)
        ete = _saturday_between(y + 1, 7, 1, 7)
        rentree = _first_monday_from(date(y + 1, 9, 1))
        for desc, start, end, population in (
            ("Vacances de la Toussaint", toussaint, toussaint + timedelta(days=16), "-"),
            ("Vacances de Noël", noel, noel + timedelta(days=16), "-"),
            ("Vacances d'Hiver", hiver, hiver + timedelta(days=16), "-"),
            ("Vacances de Printemps", printemps, printemps + timedelta(days=16), "-"),
            ("Vacances d'Été", ete, rentree, "Élèves"),
            ("Vacances d'Été", ete + timedelta(days=5), rentree - timedelta(days=2), "Enseignants"),
        ):
            out.append({"description": desc, "start": start, "end": end, "population": population,
                        "annee_scolaire": year})
    return out


@lru_cache(maxsize=16)
def day_calendar(first: date, last: date) -> pd.DataFrame:
    """Per Paris day: school day, holiday (pupils), public holiday, weekend, summer holiday, Wednesday."""
    days = pd.date_range(first, last, freq="D")
    hol = np.zeros(len(days), dtype=bool)
    summer = np.zeros(len(days), dtype=bool)
    for h in school_holidays(first.year - 1, last.year):
        if h["population"] == "Enseignants":
            continue
        inside = (days >= pd.Timestamp(h["start"])) & (days < pd.Timestamp(h["end"]))
        hol |= inside
        if h["description"] == "Vacances d'Été":
            summer |= inside
    fr = public_holidays.France(years=range(first.year, last.year + 1))
    public = np.array([d.date() in fr for d in days])
    weekend = days.dayofweek >= 5
    school = ~hol & ~public & ~weekend
    return pd.DataFrame({"date": days.date, "school_day": school, "holiday": hol, "public_holiday": public,
                         "weekend": weekend, "summer": summer, "wednesday": days.dayofweek == 2})


# -- the anomaly plan (truth) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Episode:
    kind: str
    building_id: str
    fluid: str
    meter_id: str | None
    start: date
    end: date  # exclusive; date.max for a drift that persists
    magnitude: float
    detail: str = ""


def _holiday_of(year: int, description: str) -> dict | None:
    for h in school_holidays(year - 1, year):
        if h["description"] == description and h["population"] != "Enseignants" and h["start"].year == year:
            return h
    return None


@lru_cache(maxsize=4)
def consumption_episodes(n_lycees: int = N_LYCEES, last_year: int = 2030) -> tuple[Episode, ...]:
    """The consumption anomalies of the estate (drift, night and holiday base load, summer gas)."""
    out = []
    for b in build_estate(n_lycees):
        elec = [m for m in b.meters if m.fluid == "electricite"]
        main_prm = elec[0]
        heat = [m for m in b.meters if m.fluid in ("gaz", "reseau_chaleur")]
        for year in range(EPOCH.year + 1, last_year + 1):
            r = _rng("episodes", b.building_id, year)
            if _hash("drift", b.building_id, year) % 1000 < RATES["drift"] * 1000 and year >= 2024 and \
                    not any(e.kind == "drift" for e in out if e.building_id == b.building_id):
                fluid = "electricite" if not heat or _hash("drift_fluid", b.building_id) % 2 else heat[0].fluid
                start = date(year, int(r.integers(2, 10)), 1)
                out.append(Episode("drift", b.building_id, fluid, None, start, date.max,
                                   round(float(r.uniform(0.18, 0.35)), 3), "consumption up by the magnitude, for good"))
            if _hash("night", b.building_id, year) % 1000 < RATES["night_base_load"] * 1000:
                start = date(year, 1, 1) + timedelta(days=int(r.integers(15, 330)))
                out.append(Episode("night_base_load", b.building_id, "electricite", main_prm.meter_id, start,
                                   start + timedelta(days=int(r.integers(21, 70))), round(float(r.uniform(0.8, 1.6)), 3),
                                   "night load (21:00-06:00) up by magnitude x the base load"))
            if _hash("holiday", b.building_id, year) % 1000 < RATES["holiday_base_load"] * 1000:
                desc = ["Vacances d'Hiver", "Vacances de Printemps", "Vacances de la Toussaint"][
                    _hash("which", b.building_id, year) % 3]
                h = _holiday_of(year, desc)
                if h is not None:
                    out.append(Episode("holiday_base_load", b.building_id, "electricite", main_prm.meter_id,
                                       h["start"], h["end"], round(float(r.uniform(0.7, 1.0)), 3),
                                       f"{desc}: the building runs as on a school day"))
            if heat and _hash("summer_gas", b.building_id, year) % 1000 < RATES["gas_summer_holidays"] * 1000:
                h = _holiday_of(year, "Vacances d'Été")
                if h is not None:
                    out.append(Episode("gas_summer_holidays", b.building_id, heat[0].fluid, heat[0].meter_id,
                                       h["start"], h["end"], round(float(r.uniform(0.012, 0.03)), 4),
                                       "heating/hot water left on: magnitude kWh per m² per day"))
    return tuple(out)


# -- consumption ------------------------------------------------------------------------------------

def _day_numbers(days: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    return ((pd.DatetimeIndex(days) - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)).astype(np.int64).to_numpy()


def _context(first: date, last: date) -> pd.DataFrame:
    cal = day_calendar(first, last).copy()
    temp = regional_temperature(first, last)
    cal["tmoy"] = temp["tmoy"].to_numpy()
    cal["day_number"] = _day_numbers(pd.to_datetime(cal["date"]))
    weekday = ~cal["weekend"] & ~cal["public_holiday"]
    mid_summer = pd.to_datetime(cal["date"]).map(lambda d: (d.month, d.day) >= (7, 12) and (d.month, d.day) <= (8, 22))
    cal["staff_day"] = (cal["holiday"] & weekday & ~mid_summer.to_numpy()).to_numpy()
    return cal


def _episode_mask(dates: np.ndarray, episodes: list[Episode], kind: str) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros(len(dates), dtype=bool)
    mag = np.zeros(len(dates))
    for e in episodes:
        if e.kind == kind:
            inside = (dates >= np.datetime64(e.start)) & (dates < np.datetime64(min(e.end, date(2200, 1, 1))))
            mask |= inside
            mag[inside] = e.magnitude
    return mask, mag


def _drift_factor(dates: np.ndarray, episodes: list[Episode], fluid: str) -> np.ndarray:
    factor = np.ones(len(dates))
    for e in episodes:
        if e.kind == "drift" and e.fluid == fluid:
            since = (dates - np.datetime64(e.start)).astype("timedelta64[D]").astype(float)
            factor *= 1 + e.magnitude * np.clip(since / 45.0, 0, 1)  # a 45-day ramp
    return factor


def electricity_half_hours(b: Building, m: Meter, starts_utc: pd.DatetimeIndex, ctx: pd.DataFrame,
                           episodes: list[Episode]) -> np.ndarray:
    """kWh of each half-hour [start, start + 30 min) for one electricity meter."""
    local = starts_utc.tz_convert(PARIS_NAME)
    day = local.tz_localize(None).normalize()
    idx = ctx.index.get_indexer(day)
    if (idx < 0).any():
        raise ValueError("half-hours outside the simulated calendar")
    c = ctx.iloc[idx]
    h = np.asarray(local.hour + local.minute / 60 + 0.25, dtype=float)
    school = c["school_day"].to_numpy()
    staff = c["staff_day"].to_numpy()
    temp = c["tmoy"].to_numpy() + b.temp_offset
    dates = np.asarray(day.values.astype("datetime64[D]"))
    holiday_on, holiday_mag = _episode_mask(dates, [e for e in episodes if e.meter_id == m.meter_id], "holiday_base_load")
    occupied_day = school | (holiday_on & ~c["weekend"].to_numpy() & ~c["public_holiday"].to_numpy())
    occ_level = np.where(school, 1.0, holiday_mag)
    shape = np.interp(h, [0, 6.5, 8, 12, 12.01, 13.5, 13.51, 17, 19, 24], [0, 0, 1, 1, 1.2, 1.2, 1, 1, 0, 0])
    shape = np.where(c["wednesday"].to_numpy() & (h >= 13), shape * 0.35, shape)
    staff_shape = ((h >= 8) & (h < 16.5)).astype(float)
    scale = 1.0 if m.meter_id == b.meters[0].meter_id else 0.12
    area_kw = b.area_m2 / 1000 * scale
    base = b.base_w_m2 * area_kw
    kw = base + b.occ_w_m2 * area_kw * shape * occupied_day * occ_level + 0.18 * b.occ_w_m2 * area_kw * staff_shape * staff
    if b.elec_heat_w_m2_k:
        # a well-run lycée keeps the holidays in reduced mode, staff or not (heating them is the anomaly)
        occupied = np.where(occupied_day, 1.0, b.setback)
        daytime = np.where((h >= 6) & (h < 18), 1.25, 0.75)
        kw = kw + b.elec_heat_w_m2_k * area_kw * np.clip(b.balance_c - temp, 0, None) * occupied * daytime
    if b.cool_w_m2_k:
        kw = kw + b.cool_w_m2_k * area_kw * np.clip(temp - 22.0, 0, None) * shape * school
    night_on, night_mag = _episode_mask(dates, [e for e in episodes if e.meter_id == m.meter_id], "night_base_load")
    kw = kw + night_on * ((h < 6) | (h >= 21)) * night_mag * base
    seed = _hash("elec", m.meter_id)
    day_noise = 1 + 0.05 * smooth_daily(seed, c["day_number"].to_numpy())
    slot = ((starts_utc - pd.Timestamp("2000-01-01", tz="UTC")) / pd.Timedelta(minutes=30)).astype(np.int64).to_numpy()
    kw = kw * day_noise * (1 + 0.04 * normal_noise(seed + 1, slot))
    kw = kw * _drift_factor(dates, [e for e in episodes if e.building_id == b.building_id], "electricite")
    return np.clip(kw, 0.05 * base, None) * 0.5


def daily_quantity(b: Building, m: Meter, ctx: pd.DataFrame, episodes: list[Episode]) -> np.ndarray:
    """Per Paris day of ctx: kWh (gas, heat network) or m³ (water) used by one meter."""
    dates = pd.to_datetime(ctx["date"]).to_numpy().astype("datetime64[D]")
    school = ctx["school_day"].to_numpy()
    staff = ctx["staff_day"].to_numpy()
    seed = _hash("daily", m.meter_id)
    noise = 1 + 0.06 * smooth_daily(seed, ctx["day_number"].to_numpy())
    mine = [e for e in episodes if e.building_id == b.building_id]
    if m.fluid == "eau":
        m3 = b.pupils * b.water_l_pupil / 1000 * school + b.area_m2 * 0.0004 + 0.3 * b.pupils / 1000 * staff
        return np.clip(m3 * (1 + 0.08 * normal_noise(seed, ctx["day_number"].to_numpy())), 0, None)
    temp = ctx["tmoy"].to_numpy() + b.temp_offset
    occupied = np.where(school, 1.0, b.setback)
    # boilers are in summer mode through the summer holidays (hot water only): heating then is the anomaly
    heat = b.heat_kwh_m2_k * b.area_m2 * np.clip(b.balance_c - temp, 0, None) * occupied * ~ctx["summer"].to_numpy()
    dhw = b.dhw_kwh_m2 * b.area_m2 * school + 0.0006 * b.area_m2
    kwh = (heat * _drift_factor(dates, mine, m.fluid) + dhw) * noise
    summer_on, summer_mag = _episode_mask(dates, [e for e in mine if e.meter_id == m.meter_id], "gas_summer_holidays")
    kwh = kwh + summer_on * summer_mag * b.area_m2 * (1 + 0.1 * normal_noise(seed + 7, ctx["day_number"].to_numpy()))
    return np.clip(kwh, 0, None)


@lru_cache(maxsize=4)
def meter_days(n_lycees: int, first: date, last: date) -> pd.DataFrame:
    """Every meter's daily quantity (kWh, or m³ for water) over Paris days first..last."""
    ctx = _context(first, last).set_index(pd.to_datetime(_context(first, last)["date"]))
    episodes = list(consumption_episodes(n_lycees))
    lo, hi = paris_start(first), paris_start(last + timedelta(days=1))
    starts = pd.date_range(lo, hi, freq="30min", inclusive="left", tz="UTC")
    local_day = starts.tz_convert(PARIS_NAME).tz_localize(None).normalize()
    frames = []
    for b in build_estate(n_lycees):
        for m in b.meters:
            if m.fluid == "electricite":
                hh = electricity_half_hours(b, m, starts, ctx, episodes)
                q = pd.Series(hh).groupby(local_day).sum().reindex(ctx.index).to_numpy()
            else:
                q = daily_quantity(b, m, ctx.reset_index(drop=True), episodes)
            frames.append(pd.DataFrame({"meter_id": m.meter_id, "date": ctx.index, "quantity": q}))
    return pd.concat(frames, ignore_index=True)


# -- bills -------------------------------------------------------------------------------------------

def _add_months(d: date, months: int) -> date:
    y, mth = divmod(d.month - 1 + months, 12)
    return date(d.year + y, mth + 1, d.day)


def billing_periods(m: Meter, until: date) -> list[tuple[date, date]]:
    """[start, end] (end inclusive) of every billing period ending before `until`."""
    first = date(EPOCH.year, EPOCH.month, m.read_day)
    if first < EPOCH:
        first = _add_months(first, 1)
    out, s = [], first
    while True:
        e = _add_months(s, m.months_per_bill)
        if e - timedelta(days=1) >= until:
            return out
        out.append((s, e - timedelta(days=1)))
        s = e


def gas_coefficient(meter_id: str, period_start: date) -> float:
    """kWh PCS per m³ of the period (energy content and pressure/temperature correction vary a little)."""
    season = 0.18 * np.sin(2 * np.pi * (period_start.month - 2) / 12)
    return round(11.22 + season + 0.06 * float(normal_noise(_hash("pcs", meter_id), np.array([period_start.toordinal()]))[0]), 4)


def _fmt_number(x: float | None, decimals: int) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    return f"{x:.{decimals}f}".replace(".", ",")


def _invoice(code: str, meter_id: str, key: object, issued: date) -> str:
    return f"{code}{issued:%y%m}{_hash('invoice', meter_id, key) % 10**7:07d}"


@dataclass
class _Chain:
    billed_index: float
    last_read_index: float
    estimated: list = field(default_factory=list)  # bills (rows) estimated since the last read


def bills_and_truth(n_lycees: int, until: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every bill line issued up to `until` (inclusive) and the truth of the injected bill anomalies."""
    bills, truth = _bills_of_year(n_lycees, until.year)
    return (bills[bills["date_facture"] <= until].reset_index(drop=True),
            truth[truth["issued"] <= until].drop(columns="issued").reset_index(drop=True))


@lru_cache(maxsize=2)
def _bills_of_year(n_lycees: int, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bills issued by the end of `year` (one computation serves every window of the year).

    Computed two months further, so what a bill of December brings later (its duplicate in
    January) is the same whichever year's computation delivers it.
    """
    until = date(year + 1, 2, 28)
    days = meter_days(n_lycees, EPOCH, until)
    by_meter = {k: v.set_index("date")["quantity"] for k, v in days.groupby("meter_id")}
    rows, truth = [], []
    for b in build_estate(n_lycees):
        for m in b.meters:
            q = by_meter[m.meter_id]
            cum = q.cumsum()
            chain = _Chain(m.index_start, m.index_start)
            for i, (s, e) in enumerate(billing_periods(m, until)):
                coef = gas_coefficient(m.meter_id, s) if m.fluid == "gaz" else None
                true_units = float(cum.loc[pd.Timestamp(e)]) - (float(cum.loc[pd.Timestamp(s) - pd.Timedelta(days=1)])
                                                                if pd.Timestamp(s) > cum.index[0] else 0.0)
                # the meter's own unit: kWh (electricity), m³ (gas, water), MWh (heat network)
                meter_units = true_units / 11.22 if m.fluid == "gaz" else true_units / 1000 if m.fluid == "reseau_chaleur" else true_units
                decimals = 3 if m.fluid == "reseau_chaleur" else 0
                true_end = round(chain.last_read_index + meter_units + sum(x["_true_units"] for x in chain.estimated), decimals)
                letter = m.read_pattern[i % len(m.read_pattern)]
                issued = e + timedelta(days=4 + _hash("delay", m.meter_id, i) % 12)
                if issued > until:
                    break
                u = (_hash("bill_anomaly", m.meter_id, i) % 100000) / 100000
                cuts, acc = {}, 0.0
                for kind in ("duplicate_bill", "impossible_quantity", "price_out_of_range", "missing_bill"):
                    acc += RATES[kind] * m.months_per_bill / 12
                    cuts[kind] = acc
                anomaly = next((k for k, c in cuts.items() if u < c), None)
                r = _rng("bill", m.meter_id, i)
                rows_here = []
                if letter == "E":
                    bad = (_hash("bad_estimate", m.meter_id, i) % 1000) < RATES["estimate_correction"] * 1000
                    factor = (0.35 if r.random() < 0.5 else 2.2) if bad else 1 + 0.08 * float(r.standard_normal())
                    index_fin = round(chain.billed_index + meter_units * factor, decimals)
                    line = dict(type_document="FACTURE", date_debut=s, date_fin=e, index_debut=chain.billed_index,
                                index_fin=index_fin, nature_index="E", _true_units=meter_units, _bad=bad)
                    rows_here.append(line)
                    chain.estimated.append(line)
                    chain.billed_index = index_fin
                else:
                    if chain.estimated and m.style == "annulation":
                        for est in chain.estimated:
                            rows_here.append(dict(est, type_document="AVOIR", _cancels=True))
                        line = dict(type_document="FACTURE", date_debut=chain.estimated[0]["date_debut"], date_fin=e,
                                    index_debut=chain.last_read_index, index_fin=true_end, nature_index="R")
                    else:
                        line = dict(type_document="FACTURE", date_debut=s, date_fin=e, index_debut=chain.billed_index,
                                    index_fin=true_end, nature_index="R")
                    if chain.estimated:
                        billed = sum(x["index_fin"] - x["index_debut"] for x in chain.estimated)
                        real = true_end - chain.last_read_index - meter_units
                        if any(x.get("_bad") for x in chain.estimated) and abs(billed - real) > 0.3 * max(real, 1e-9):
                            truth.append(dict(kind="estimate_correction", issued=issued, building_id=b.building_id, fluid=m.fluid,
                                              meter_id=m.meter_id, period_start=chain.estimated[0]["date_debut"],
                                              period_end=e, magnitude=round((billed - real) / max(real, 1e-9), 3),
                                              detail=f"estimated {billed:.0f} vs read {real:.0f} ({m.billed_unit})"))
                    rows_here.append(line)
                    chain.estimated = []
                    chain.billed_index = true_end
                    chain.last_read_index = true_end
                for line in rows_here:
                    cancels = line.get("_cancels", False)
                    units = line["index_fin"] - line["index_debut"]
                    qty = units * coef if (m.fluid == "gaz" and m.billed_unit == "kWh") else units
                    price = m.price + (m.price_max - m.price_min) * 0.08 * float(r.standard_normal())
                    price = float(np.clip(price, m.price_min + 0.05 * (m.price_max - m.price_min),
                                          m.price_max - 0.05 * (m.price_max - m.price_min)))
                    this_anomaly = None if cancels or line["type_document"] == "AVOIR" else anomaly
                    if this_anomaly == "impossible_quantity":
                        if line["nature_index"] == "R" and units > 0 and _hash("flavour", m.meter_id, i) % 3 == 0:
                            line["index_debut"], line["index_fin"] = line["index_fin"], line["index_debut"]
                            qty = -qty
                        else:
                            qty = qty * 10
                    if this_anomaly == "price_out_of_range":
                        price = m.price_max * float(r.uniform(1.15, 1.5))
                    price_units = (units * (coef or 1) if m.fluid == "gaz" else units * 1000 if m.fluid == "reseau_chaleur"
                                   else units)
                    if this_anomaly == "impossible_quantity" and qty < 0 < units:
                        price_units = -price_units
                    elif this_anomaly == "impossible_quantity":
                        price_units *= 10
                    period_days = (line["date_fin"] - line["date_debut"]).days + 1
                    ht = round(m.fixed_eur_month * period_days / DAYS_PER_MONTH + price * price_units, 2)
                    sign = -1 if cancels else 1
                    ht = sign * ht
                    qty = sign * qty
                    tva = round(ht * VAT[m.fluid], 2)
                    number = _invoice(m.supplier_code, m.meter_id, (i, line["type_document"], line["date_debut"]), issued)
                    row = dict(numero_facture=number, date_facture=issued, fournisseur=m.supplier,
                               type_document=line["type_document"],
                               facture_annulee=line.get("_number", "") if cancels else "",
                               numero_compteur=m.meter_id, fluide=FLUID_LABEL[m.fluid],
                               date_debut=line["date_debut"], date_fin=line["date_fin"],
                               index_debut=line["index_debut"], index_fin=line["index_fin"],
                               nature_index=line["nature_index"], quantite=qty, unite=m.billed_unit,
                               coefficient_conversion=coef, montant_ht_eur=ht, montant_tva_eur=tva,
                               montant_ttc_eur=round(ht + tva, 2), _decimals=decimals, _building=b.building_id,
                               _fluid=m.fluid)
                    if cancels:
                        row["facture_annulee"] = line["_number"]
                    else:
                        line["_number"] = number  # a later credit note names it
                    at_stake_kwh = None
                    if this_anomaly == "missing_bill":
                        truth.append(dict(kind="missing_bill", issued=issued, building_id=b.building_id, fluid=m.fluid,
                                          meter_id=m.meter_id, period_start=line["date_debut"], period_end=line["date_fin"],
                                          magnitude=round(qty, 3), detail=f"bill {number} never delivered"))
                        continue
                    rows.append(row)
                    if this_anomaly == "duplicate_bill":
                        dup_issued = issued + timedelta(days=3 + _hash("dup", m.meter_id, i) % 23)
                        if dup_issued <= until:
                            dup = dict(row, numero_facture=_invoice(m.supplier_code, m.meter_id, (i, "dup"), dup_issued),
                                       date_facture=dup_issued)
                            rows.append(dup)
                            truth.append(dict(kind="duplicate_bill", issued=dup_issued, building_id=b.building_id, fluid=m.fluid,
                                              meter_id=m.meter_id, period_start=line["date_debut"],
                                              period_end=line["date_fin"], magnitude=row["montant_ttc_eur"],
                                              detail=f"{dup['numero_facture']} repeats {number}"))
                    elif this_anomaly in ("impossible_quantity", "price_out_of_range"):
                        at_stake_kwh = qty
                        truth.append(dict(kind=this_anomaly, issued=issued, building_id=b.building_id, fluid=m.fluid,
                                          meter_id=m.meter_id, period_start=line["date_debut"],
                                          period_end=line["date_fin"], magnitude=round(price if this_anomaly ==
                                                                                       "price_out_of_range" else at_stake_kwh, 4),
                                          detail=f"bill {number}"))
    bills = pd.DataFrame(rows)
    truth_frame = pd.DataFrame(truth, columns=["kind", "issued", "building_id", "fluid", "meter_id", "period_start",
                                               "period_end", "magnitude", "detail"])
    return bills, truth_frame


def injected_anomalies(start: date, end: date, n_lycees: int = N_LYCEES, *, until: date | None = None) -> pd.DataFrame:
    """The truth: every anomaly injected over Paris days [start, end) — for tests and benchmarks only.

    Bill anomalies count when the bill concerned is issued by `until` (default: `end`); consumption
    episodes when they overlap [start, end). Columns: kind, building_id, fluid, meter_id,
    period_start, period_end (inclusive), magnitude, detail.
    """
    until = until or end - timedelta(days=1)
    _, bill_truth = bills_and_truth(n_lycees, until)
    bill_truth = bill_truth[(pd.to_datetime(bill_truth["period_end"]) >= pd.Timestamp(start))
                            & (pd.to_datetime(bill_truth["period_start"]) < pd.Timestamp(end))]
    episodes = [e for e in consumption_episodes(n_lycees) if e.start < end and e.end > start]
    ep = pd.DataFrame([{"kind": e.kind, "building_id": e.building_id, "fluid": e.fluid, "meter_id": e.meter_id,
                        "period_start": e.start, "period_end": min(e.end, end) - timedelta(days=1),
                        "magnitude": e.magnitude, "detail": e.detail} for e in episodes],
                      columns=bill_truth.columns)
    return pd.concat([bill_truth, ep], ignore_index=True).sort_values(["kind", "building_id", "period_start"],
                                                                       ignore_index=True)


# -- writers: the providers' files -------------------------------------------------------------------

def _today(now: datetime | None) -> date:
    return (now or datetime.now(UTC)).astimezone(PARIS).date()


def _write_if_changed(landing, name: str, content: str | bytes) -> Path | None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    target = landing.dir / name
    if target.exists() and target.read_bytes() == data:
        return None
    return landing.write_atomic(name, data)


def _paris_dates(start: datetime, end: datetime, today: date) -> list[date]:
    first = start.astimezone(PARIS).date()
    last = min((end - timedelta(microseconds=1)).astimezone(PARIS).date(), today - timedelta(days=1))
    return [first + timedelta(days=k) for k in range((last - first).days + 1)] if last >= first else []


def register_files(n_lycees: int = N_LYCEES) -> dict[str, str]:
    """The register as the Region's asset-management software exports it (UTF-8 with BOM, ';')."""
    estate = build_estate(n_lycees)
    b_cols = ["id_batiment", "nom", "uai", "code_commune", "commune", "surface_m2", "usage", "energie_chauffage",
              "annee_construction", "categorie_operat", "annee_reference_dt", "conso_reference_kwh",
              "valeur_absolue_kwh_m2"]
    m_cols = ["id_batiment", "fluide", "numero_compteur", "segment", "capacite", "unite_capacite", "fournisseur",
              "reference_contrat", "prix_min_eur_ht", "prix_max_eur_ht", "unite_prix", "abonnement_eur_ht_mois",
              "date_debut", "date_fin"]
    b_rows, m_rows = [], []
    for b in estate:
        b_rows.append([b.building_id, b.name, b.uai or "", b.commune_code, b.commune_name, f"{b.area_m2:.0f}", b.use,
                       FLUID_LABEL[b.heating], str(b.year_built), b.operat_category,
                       str(b.reference_year or ""), _fmt_number(b.reference_kwh, 0) if b.reference_kwh else "",
                       _fmt_number(b.cabs_kwh_m2, 1) if b.cabs_kwh_m2 else ""])
        for m in b.meters:
            unit = "EUR/m3" if m.fluid == "eau" else "EUR/kWh"
            m_rows.append([b.building_id, FLUID_LABEL[m.fluid], m.meter_id, m.segment, _fmt_number(m.capacity, 0),
                           m.capacity_unit, m.supplier, m.contract_ref, _fmt_number(m.price_min, 4),
                           _fmt_number(m.price_max, 4), unit, _fmt_number(m.fixed_eur_month, 2),
                           f"{EPOCH:%d/%m/%Y}", ""])
    def text(cols, rows):
        return "\ufeff" + ";".join(cols) + "\n" + "".join(";".join(r) + "\n" for r in rows)
    return {"patrimoine_batiments.csv": text(b_cols, b_rows), "patrimoine_compteurs.csv": text(m_cols, m_rows)}


def write_register(landing, which: str, *, n_lycees: int = N_LYCEES) -> list[Path]:
    """`which`: batiments or compteurs (each goes to its own landing folder)."""
    name = f"patrimoine_{which}.csv"
    p = _write_if_changed(landing, name, register_files(n_lycees)[name])
    return [p] if p else []


BILL_COLUMNS = ["numero_facture", "date_facture", "fournisseur", "type_document", "facture_annulee",
                "numero_compteur", "fluide", "date_debut", "date_fin", "index_debut", "index_fin", "nature_index",
                "quantite", "unite", "coefficient_conversion", "montant_ht_eur", "montant_tva_eur", "montant_ttc_eur"]


def bill_file_text(bills: pd.DataFrame) -> str:
    """Suppliers' billing export: ';', dd/mm/yyyy, decimal comma, UTF-8 with BOM (opens in Excel)."""
    out = io.StringIO()
    out.write("\ufeff" + ";".join(BILL_COLUMNS) + "\n")
    for d in bills.to_dict("records"):
        dec = d["_decimals"]
        qty_dec = 3 if d["unite"] in ("MWh", "m3") and dec else (0 if d["unite"] != "MWh" else 3)
        out.write(";".join([
            d["numero_facture"], f"{d['date_facture']:%d/%m/%Y}", d["fournisseur"], d["type_document"],
            d["facture_annulee"] or "", d["numero_compteur"], d["fluide"], f"{d['date_debut']:%d/%m/%Y}",
            f"{d['date_fin']:%d/%m/%Y}", _fmt_number(d["index_debut"], dec), _fmt_number(d["index_fin"], dec),
            d["nature_index"], _fmt_number(d["quantite"], qty_dec if d["unite"] != "kWh" else 0), d["unite"],
            _fmt_number(d["coefficient_conversion"], 4), _fmt_number(d["montant_ht_eur"], 2),
            _fmt_number(d["montant_tva_eur"], 2), _fmt_number(d["montant_ttc_eur"], 2)]) + "\n")
    return out.getvalue()


def write_bills(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                n_lycees: int = N_LYCEES) -> list[Path]:
    """One file per supplier and issue month touching [start, end): the bills issued so far that month."""
    days = _paris_dates(start, end, _today(now) + timedelta(days=1))
    if not days:
        return []
    months = sorted({(d.year, d.month) for d in days})
    written = []
    for year in sorted({y for y, _ in months}):
        bills, _ = bills_and_truth(n_lycees, min(date(year, 12, 31), _today(now)))
        issued = pd.to_datetime(bills["date_facture"])
        for y, mth in (x for x in months if x[0] == year):
            month_bills = bills[(issued.dt.year == y) & (issued.dt.month == mth)]
            for code, group in month_bills.groupby(month_bills["numero_facture"].str[:3]):
                name = f"factures_{code}_{y}{mth:02d}.csv"
                if p := _write_if_changed(landing, name, bill_file_text(group.sort_values("numero_facture"))):
                    written.append(p)
    return written


R63_COLUMNS = ["Identifiant PRM", "Date de début", "Date de fin", "Grandeur physique", "Grandeur métier",
               "Etape métier", "Unité", "Horodate", "Valeur", "Nature", "Pas", "Indice de vraisemblance",
               "Etat complémentaire"]


def load_curve_day(day: date, n_lycees: int = N_LYCEES) -> pd.DataFrame:
    """The R63 rows of one Paris day for every metered PRM (mean power in W, end-of-interval stamps)."""
    estate = build_estate(n_lycees)
    ctx = _context(day - timedelta(days=1), day + timedelta(days=1))
    ctx = ctx.set_index(pd.to_datetime(ctx["date"]))
    episodes = list(consumption_episodes(n_lycees))
    lo, hi = paris_start(day), paris_start(day + timedelta(days=1))
    starts = pd.date_range(lo, hi, freq="30min", inclusive="left", tz="UTC")
    parts = []
    for b in estate:
        for m in b.meters:
            if m.fluid != "electricite":
                continue
            kwh = electricity_half_hours(b, m, starts, ctx, episodes)
            seed = _hash("curve", m.meter_id)
            if m.curve_step_min == 10:
                slot = ((starts - pd.Timestamp("2000-01-01", tz="UTC")) / pd.Timedelta(minutes=30)).astype(np.int64).to_numpy()
                wiggle = 0.05 * np.stack([normal_noise(seed + k, slot) for k in range(3)], axis=1)
                wiggle -= wiggle.mean(axis=1, keepdims=True)  # the three sub-steps keep the half-hour's energy
                sub = (kwh[:, None] / 3) * (1 + wiggle)
                offsets = np.array([10, 20, 30], dtype="timedelta64[m]")
                ends = pd.DatetimeIndex((starts.tz_localize(None).to_numpy()[:, None] + offsets[None, :]).ravel(),
                                        tz="UTC")
                watts = sub.ravel() * 6000
                step = "PT10M"
            else:
                ends = starts + pd.Timedelta(minutes=30)
                watts = kwh * 2000
                step = "PT30M"
            ends = pd.DatetimeIndex(ends)
            nature = np.full(len(ends), "R", dtype=object)
            keep = np.ones(len(ends), dtype=bool)
            k = _hash("gap", m.meter_id, day.toordinal())
            if k % 150 == 0:  # a telecom failure: a block of points never delivered
                first = (k // 150) % max(1, len(ends) - 24)
                keep[first:first + 12 + (k % 12)] = False
            elif k % 150 == 1:  # a block Enedis filled by estimation
                first = (k // 150) % max(1, len(ends) - 24)
                nature[first:first + 12] = "E"
            parts.append(pd.DataFrame({
                "Identifiant PRM": m.meter_id, "Date de début": f"{day:%Y-%m-%d}",
                "Date de fin": f"{day + timedelta(days=1):%Y-%m-%d}", "Grandeur physique": "PA",
                "Grandeur métier": "CONS", "Etape métier": "BRUT", "Unité": "W",
                "Horodate": [t.isoformat() for t in ends[keep].tz_convert(PARIS_NAME)],
                "Valeur": np.round(watts[keep]).astype(np.int64), "Nature": nature[keep], "Pas": step,
                "Indice de vraisemblance": 0, "Etat complémentaire": 0,
            }))
    return pd.concat(parts, ignore_index=True)


def write_load_curves(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                      n_lycees: int = N_LYCEES) -> list[Path]:
    """One SGE delivery per Paris day (the day before `now` at the latest: curves come at D+1)."""
    written = []
    for day in _paris_dates(start, end, _today(now)):
        text = load_curve_day(day, n_lycees).to_csv(sep=";", index=False, lineterminator="\n")
        if p := _write_if_changed(landing, f"ENEDIS_SGE_R63_CDC_{day:%Y%m%d}.csv", text):
            written.append(p)
    return written


@lru_cache(maxsize=2)
def _gas_volumes(n_lycees: int, year: int) -> dict[str, pd.Series]:
    """Cumulative m³ at the end of each day, per remotely read PCE (the GRDF index minus its start)."""
    days = meter_days(n_lycees, EPOCH, date(year, 12, 31))
    daily = {m.meter_id for b in build_estate(n_lycees) for m in b.meters if m.grdf_daily}
    days = days[days["meter_id"].isin(daily)]
    return {k: (v.set_index("date")["quantity"] / 11.22).cumsum() for k, v in days.groupby("meter_id")}


def grdf_day(day: date, n_lycees: int = N_LYCEES) -> list[dict]:
    """GRDF ADICT "consommations informatives" records of one gas day for the remotely read PCEs."""
    estate = build_estate(n_lycees)
    volumes = _gas_volumes(n_lycees, day.year)
    out = []
    for b in estate:
        for m in b.meters:
            if not m.grdf_daily:
                continue
            cum = volumes[m.meter_id]
            coef = gas_coefficient(m.meter_id, date(day.year, day.month, 1))
            after = float(cum.loc[pd.Timestamp(day)])
            vol = after - (float(cum.loc[pd.Timestamp(day) - pd.Timedelta(days=1)]) if pd.Timestamp(day) > cum.index[0] else 0.0)
            before = after - vol
            idx0 = round(m.index_start + before)
            idx1 = round(m.index_start + before + vol)
            estimated = _hash("grdf_est", m.meter_id, day.toordinal()) % 60 == 0
            out.append({"pce": {"id_pce": m.meter_id}, "consommation": {
                "date_debut_consommation": f"{day:%Y-%m-%d}", "date_fin_consommation": f"{day + timedelta(days=1):%Y-%m-%d}",
                "journee_gaziere": f"{day:%Y-%m-%d}", "index_debut": idx0, "index_fin": idx1,
                "volume_brut": idx1 - idx0, "coeff_calcul": {"coeff_conversion": coef},
                "volume_converti": idx1 - idx0, "energie": round((idx1 - idx0) * coef),
                "type_qualif_conso": "Estimée" if estimated else "Mesurée",
                "statut_conso": "Provisoire" if estimated else "Définitive", "sens_flux_gaz": "Soutirage",
                "flag_retour_zero": False}, "statut_restitution": None})
    return out


def write_grdf(landing, start: datetime, end: datetime, *, now: datetime | None = None,
               n_lycees: int = N_LYCEES) -> list[Path]:
    written = []
    for day in _paris_dates(start, end, _today(now)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in grdf_day(day, n_lycees))
        if p := _write_if_changed(landing, f"GRDF_ADICT_informatives_{day:%Y-%m-%d}.jsonl", text):
            written.append(p)
    return written


def write_temperature(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """ODRÉ exports of temperature-quotidienne-regionale for PACA, one JSON file per Paris month."""
    days = _paris_dates(start, end, _today(now))
    written = []
    for y, mth in sorted({(d.year, d.month) for d in days}):
        first = date(y, mth, 1)
        last = min(_add_months(first, 1) - timedelta(days=1), _today(now) - timedelta(days=1))
        temp = regional_temperature(first, last)
        records = [{"id": f"{d:%Y-%m-%d}T00:00:00-{REGION_CODE}", "date": f"{d:%Y-%m-%d}",
                    "code_insee_region": REGION_CODE, "region": REGION_NAME, "tmin": tmin, "tmax": tmax, "tmoy": tmoy}
                   for d, tmin, tmax, tmoy in temp.itertuples(index=False)]
        name = f"odre_temperature-quotidienne-regionale_{REGION_CODE}_{y}-{mth:02d}.json"
        if p := _write_if_changed(landing, name, json.dumps(records, ensure_ascii=False)):
            written.append(p)
    return written


def school_calendar_text(first_school_year: int = 2017, last_school_year: int = 2029) -> str:
    """The ministry's fr-en-calendrier-scolaire format for the two PACA academies (zone B) and Lyon (A)."""
    def instant(d: date) -> str:
        return paris_start(d).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    lines = ["\ufeffdescription;population;start_date;end_date;location;zones;annee_scolaire"]
    for h in school_holidays(first_school_year, last_school_year):
        for academy in ACADEMIES:
            lines.append(";".join([h["description"], h["population"], instant(h["start"]), instant(h["end"]), academy,
                                   "Zone B", h["annee_scolaire"]]))
        shift = 7 if h["description"] in ("Vacances d'Hiver", "Vacances de Printemps") else 0
        lines.append(";".join([h["description"], h["population"], instant(h["start"] + timedelta(days=shift)),
                               instant(h["end"] + timedelta(days=shift)), "Lyon", "Zone A", h["annee_scolaire"]]))
    return "\n".join(lines) + "\n"


def write_school_calendar(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    p = _write_if_changed(landing, "fr-en-calendrier-scolaire.csv", school_calendar_text())
    return [p] if p else []


# -- scoring detections against the truth (tests and benchmarks) -----------------------------------

SLACK_DAYS = {"drift": 62, "night_base_load": 7, "holiday_base_load": 3, "gas_summer_holidays": 7}


def _overlaps(a0, a1, b0, b1, slack: int) -> bool:
    return pd.Timestamp(a0) <= pd.Timestamp(b1) + pd.Timedelta(days=slack) and \
        pd.Timestamp(b0) <= pd.Timestamp(a1) + pd.Timedelta(days=slack)


def score_detections(detected: pd.DataFrame, truth: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Precision and recall per kind over periods overlapping [start, end).

    A detection is a true positive when a truth of its kind, building and fluid overlaps its period
    (with a slack per kind: a drift is found months after it starts); a detection that matches no
    truth of its kind but one of another kind on the same building and fluid (a night load left on
    raises the month's consumption too) is counted apart, as `explained_by_other`, and left out of
    the precision.
    """
    det = detected[(pd.to_datetime(detected["period_end"]) >= pd.Timestamp(start))
                   & (pd.to_datetime(detected["period_start"]) < pd.Timestamp(end))]
    rows = []
    kinds = sorted(set(truth["kind"]) | set(det["kind"]))
    matched_truth: set[int] = set()
    per_kind = {k: {"tp": 0, "fp": 0, "other": 0} for k in kinds}
    for d in det.itertuples(index=False):
        slack = SLACK_DAYS.get(d.kind, 0)
        same = truth[(truth["building_id"] == d.building_id) & ((truth["fluid"] == d.fluid) | truth["fluid"].isna())]
        hits = [i for i, t in same.iterrows() if t["kind"] == d.kind
                and _overlaps(d.period_start, d.period_end, t["period_start"], t["period_end"], slack)]
        if hits:
            per_kind[d.kind]["tp"] += 1
            matched_truth.update(hits)
        elif any(_overlaps(d.period_start, d.period_end, t["period_start"], t["period_end"], max(slack, 31))
                 for _, t in same.iterrows()):
            per_kind[d.kind]["other"] += 1
        else:
            per_kind[d.kind]["fp"] += 1
    for k in kinds:
        t_k = truth[truth["kind"] == k]
        found = sum(1 for i in t_k.index if i in matched_truth)
        c = per_kind[k]
        rows.append({"kind": k, "injected": len(t_k), "detected": c["tp"] + c["fp"] + c["other"],
                     "true_positives": c["tp"], "false_positives": c["fp"], "explained_by_other": c["other"],
                     "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None,
                     "recall": found / len(t_k) if len(t_k) else None})
    return pd.DataFrame(rows)


def write_buildings(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """The registry's entry for the building register (the same estate whatever the window)."""
    return write_register(landing, "batiments")


def write_meters(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    return write_register(landing, "compteurs")
