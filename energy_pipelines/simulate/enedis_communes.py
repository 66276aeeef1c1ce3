"""Enedis per-commune half-hourly extracts (closed) for the communes of the declared territories.

What Enedis delivers for FlexGRID, one file per flow and Paris day (see sources/enedis_commune.py):
consumption per commune and sector (résidentiel / professionnel / entreprise) with the number of
delivery points, production per commune and filière with injection points and installed power,
and the energy of the largest point of each cell (so statistical secrecy can be applied downstream).

Realism (consistent with `paca_mix` and `weather`):
- communes are sized by their population (territory YAML); residential points ~ households,
  per-point loads driven by local time, weekday, and temperature (colder inland: 04/05);
- PV follows the same solar geometry and cloudiness as the regional mix (same per-kWp formula),
  at the commune's département latitude/longitude; ~0.3 kWp per inhabitant, more in villages,
  and a few ground-mounted farms that dominate their commune;
- small hydro in the Alps (snow-melt seasonality), a few wind parks, biogas, urban cogeneration:
  cells with one to three plants, which secrecy must mask;
- `NOTABLE_PLANTS`, declared so that every demo exercises the secrecy rules and their audit: two
  small hydro plants in the Métropole Toulon (a filière with 2 contributors: masked by the count
  rule every half-hour) and an industrial "other" plant in the Provence Alpes Agglomération
  holding ~90 % of its filière (masked by the dominance rule although 3 plants contribute);
- injected anomaly with known truth: on a few days one row carries a negative energy (rejected).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.simulate import weather
from energy_pipelines.territories import Commune, all_communes, default_territories

UTC = timezone.utc
# département -> (lat, lon, temperature offset against the coastal reference, °C)
DEPARTEMENTS = {"04": (44.1, 6.2, -3.0), "05": (44.6, 6.3, -5.0), "06": (43.8, 7.1, 0.0),
                "13": (43.5, 5.2, 0.3), "83": (43.4, 6.2, -0.3), "84": (44.0, 5.1, -0.5)}
SECTORS = {"residential": "Résidentiel", "professional": "Professionnel", "business": "Entreprise"}
FILIERES = {"thermal": "F1 : Thermique non renouvelable", "bioenergy": "F2 : Bioénergies",
            "hydro": "F3 : Hydraulique", "wind": "F4 : Eolien", "solar": "F5 : Solaire", "other": "F6 : Autres"}
CONSUMPTION_HEADER = ["horodate", "code_commune", "nom_commune", "secteur_activite", "nb_points_soutirage",
                      "total_energie_soutiree_wh", "energie_soutiree_max_point_wh"]
PRODUCTION_HEADER = ["horodate", "code_commune", "nom_commune", "filiere_de_production", "nb_points_injection",
                     "puissance_installee_kw", "total_energie_injectee_wh", "energie_injectee_max_point_wh"]
FILE_PREFIX = {"consumption": "ENEDIS_FLEXGRID_CONSO_COMMUNES", "production": "ENEDIS_FLEXGRID_PROD_COMMUNES"}


# commune -> filière -> capacities (kW) of plants added to the random ones (see the module doc)
NOTABLE_PLANTS: dict[str, dict[str, tuple[float, ...]]] = {
    "83103": {"hydro": (600.0, 250.0)},         # Le Revest-les-Eaux (Dardennes dam): the only hydro of Toulon
    "04049": {"other": (7800.0, 450.0, 300.0)},  # Château-Arnoux-Saint-Auban: one industrial plant dominates
}


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def load_shape(kind: str, local: pd.DatetimeIndex, temp: np.ndarray) -> np.ndarray:
    """Relative load of a segment (mean ~1): homes, electric heating, offices, industry."""
    hour = np.asarray(local.hour + local.minute / 60, dtype=float)
    weekday = np.asarray(local.dayofweek) < 5
    work = weekday & (hour >= 8) & (hour < 19)
    if kind == "home":
        return 1 + 0.12 * np.exp(-((hour - 20) / 2) ** 2) - 0.08 * work - 0.15 * np.exp(-((hour - 4) / 2.5) ** 2)
    if kind == "heating":
        return (1 + 0.04 * np.clip(15 - temp, 0, None)) * (1 - 0.05 * work)
    if kind == "office":
        return 0.8 + 0.45 * work - 0.15 * ~weekday
    if kind == "industry":
        return 0.9 + 0.2 * work - 0.1 * ~weekday
    return np.ones(len(local))


class CommuneModel:
    """Everything fixed about one commune: its points, its plants, its climate."""

    def __init__(self, commune: Commune):
        self.code, self.name = commune.code, commune.name
        pop = float(commune.population or 1000)
        self.population = pop
        rng = np.random.default_rng(_hash("commune", self.code))
        self.lat, self.lon, self.temp_offset = DEPARTEMENTS.get(self.code[:2], (43.5, 6.0, 0.0))
        self.points = {"residential": max(1, round(pop * 0.48)), "professional": max(1, round(pop * 0.055)),
                       "business": int(round(pop * 0.004 + rng.uniform(0, 2.2)))}
        self.business_kw = 90.0 * float(rng.lognormal(0, 0.4))
        factor = 1.8 if pop < 2000 else 1.2 if pop < 10000 else 1.0 if pop < 100000 else 0.5
        rooftop_kwp = pop * 0.30 * factor * float(rng.uniform(0.7, 1.3))
        rooftops = max(1, round(rooftop_kwp / 7))
        farm = (_hash("farm", self.code) % 9 == 0 and pop < 15000 and self.code[:2] in ("04", "05", "13", "83", "84"))
        farm_kwp = float(rng.uniform(3000, 12000)) if farm else 0.0
        largest = max(farm_kwp, min(250.0, rooftop_kwp))
        # filière -> (points, installed kW, largest point kW)
        self.plants: dict[str, tuple[int, float, float]] = {
            "solar": (rooftops + int(farm), rooftop_kwp + farm_kwp, largest)}
        if self.code[:2] in ("04", "05") and _hash("hydro", self.code) % 4 == 0:
            caps = rng.uniform(300, 3000, size=int(rng.integers(1, 4)))
            self.plants["hydro"] = (len(caps), float(caps.sum()), float(caps.max()))
        if self.code[:2] in ("04", "13", "83") and _hash("wind", self.code) % 29 == 0:
            cap = float(rng.uniform(8000, 12000))
            self.plants["wind"] = (1, cap, cap)
        if _hash("bio", self.code) % 13 == 0 or pop > 100000:
            caps = rng.uniform(500, 2000, size=int(rng.integers(1, 3)))
            self.plants["bioenergy"] = (len(caps), float(caps.sum()), float(caps.max()))
        if pop > 40000:
            caps = rng.uniform(1000, 4000, size=int(rng.integers(2, 4)))
            self.plants["thermal"] = (len(caps), float(caps.sum()), float(caps.max()))
        for filiere, caps in NOTABLE_PLANTS.get(self.code, {}).items():
            n, cap, top = self.plants.get(filiere, (0, 0.0, 0.0))
            self.plants[filiere] = (n + len(caps), cap + float(sum(caps)), max(top, float(max(caps))))

    def consumption_kw(self, times: pd.DatetimeIndex, local: pd.DatetimeIndex, temp: np.ndarray) -> dict[str, np.ndarray]:
        noise = 1 + 0.04 * weather.smooth_noise(times, f"load:{self.code}")
        home = 0.42 * load_shape("home", local, temp) + 0.06 * np.clip(15 - temp, 0, None) + 0.03 * np.clip(temp - 24, 0, None)
        return {
            "residential": self.points["residential"] * home * noise,
            "professional": self.points["professional"] * 1.4 * load_shape("office", local, temp) * noise,
            "business": self.points["business"] * self.business_kw * load_shape("industry", local, temp) * noise,
        }

    def production_kw(self, times: pd.DatetimeIndex, local: pd.DatetimeIndex, sun: np.ndarray,
                      clear: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        doy = weather.day_of_year(times)
        for filiere, (_, cap, _) in self.plants.items():
            if filiere == "solar":
                cf = 0.78 * sun**1.15 * clear  # the per-kWp formula of paca_mix
            elif filiere == "hydro":
                melt = 1.0 + 0.55 * np.exp(-((doy - 150) / 35) ** 2) - 0.25 * np.exp(-((doy - 250) / 40) ** 2)
                cf = np.clip(0.42 * melt * (1 + 0.08 * weather.smooth_noise(times, f"hydro:{self.code}")), 0, 1)
            elif filiere == "wind":
                cf = np.clip((weather.wind_speed_ms(times) - 3.0) / 9.0, 0, 1) ** 2
            elif filiere == "bioenergy":
                cf = np.full(len(times), 0.75)
            elif filiere == "other":  # an industrial site: steady on working hours, lower at night
                cf = 0.55 + 0.25 * load_shape("industry", local, np.zeros(len(times)))
            else:  # cogeneration, more in winter
                cf = 0.5 + 0.3 * np.cos(2 * np.pi * (doy - 15) / 365.25)
            out[filiere] = cap * cf
        return out


def _largest_share(n: int, k: float) -> float:
    return max(1.0 / n, min(1.0, k / np.sqrt(n))) if n > 0 else 0.0


def models(codes: dict[str, Commune] | None = None) -> list[CommuneModel]:
    communes = codes if codes is not None else all_communes(default_territories())
    return [CommuneModel(c) for c in sorted(communes.values(), key=lambda c: c.code)]


def extract(flow: str, times: pd.DatetimeIndex, communes: list[CommuneModel]) -> str:
    """The CSV Enedis delivers for `times` (UTC half-hour starts) and one flow."""
    local = times.tz_convert(PARIS)
    stamps = np.array([t.isoformat() for t in local], dtype=object)
    n = len(times)
    base_temp = weather.temperature_c(times)
    clear = weather.clearness(times)
    suns: dict[tuple[float, float], np.ndarray] = {}
    columns: dict[str, list] = {k: [] for k in (CONSUMPTION_HEADER if flow == "consumption" else PRODUCTION_HEADER)}
    for model in communes:
        if flow == "consumption":
            series = model.consumption_kw(times, local, base_temp + model.temp_offset)
            for sector, kw in series.items():
                points = model.points[sector]
                if points == 0:
                    continue
                energy = kw * 500.0  # kW over a half-hour -> Wh
                share = 5.0 / points if sector == "residential" else _largest_share(points, 1.3)
                columns["horodate"].append(stamps)
                columns["code_commune"].append(np.full(n, model.code, dtype=object))
                columns["nom_commune"].append(np.full(n, model.name, dtype=object))
                columns["secteur_activite"].append(np.full(n, SECTORS[sector], dtype=object))
                columns["nb_points_soutirage"].append(np.full(n, points))
                columns["total_energie_soutiree_wh"].append(np.round(energy).astype("int64"))
                columns["energie_soutiree_max_point_wh"].append(np.round(energy * min(1.0, share)).astype("int64"))
        else:
            key = (model.lat, model.lon)
            if key not in suns:
                suns[key] = np.clip(weather.solar_elevation_sin(times, *key), 0, None)
            series = model.production_kw(times, local, suns[key], clear)
            for filiere, kw in series.items():
                points, cap, largest = model.plants[filiere]
                energy = kw * 500.0
                columns["horodate"].append(stamps)
                columns["code_commune"].append(np.full(n, model.code, dtype=object))
                columns["nom_commune"].append(np.full(n, model.name, dtype=object))
                columns["filiere_de_production"].append(np.full(n, FILIERES[filiere], dtype=object))
                columns["nb_points_injection"].append(np.full(n, points))
                columns["puissance_installee_kw"].append(np.full(n, round(cap, 1)))
                columns["total_energie_injectee_wh"].append(np.round(energy).astype("int64"))
                columns["energie_injectee_max_point_wh"].append(np.round(energy * largest / cap).astype("int64"))
    frame = pd.DataFrame({k: np.concatenate(v) if v else [] for k, v in columns.items()})
    day = local[0].strftime("%Y-%m-%d") if n else ""
    if n and flow == "consumption" and _hash("anomaly", day) % 31 == 0 and len(frame):
        # known truth for the readers: one negative energy, to be rejected with its reason
        row = _hash("anomaly-row", day) % len(frame)
        frame.loc[row, "total_energie_soutiree_wh"] = -abs(int(frame.loc[row, "total_energie_soutiree_wh"])) - 1
    return frame.to_csv(sep=";", index=False, lineterminator="\n")


def paris_day_files(landing, start: datetime, end: datetime, *, now: datetime | None,
                    name: Callable[[str], str], content: Callable[[pd.DatetimeIndex], str]) -> list:
    """One file per Paris day touching [start, end), holding the half-hours already ended by `now`.

    A file is rewritten only when its content would change (the day grew), so re-runs are free
    and deterministic.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stop = now - timedelta(minutes=now.minute % 30, seconds=now.second, microseconds=now.microsecond)
    written = []
    day = start.astimezone(PARIS).date()
    while True:
        lo = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
        nxt = day + timedelta(days=1)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=PARIS).astimezone(UTC)
        if lo >= end.astimezone(UTC) or lo >= stop:
            break
        times = pd.date_range(lo, min(hi, stop), freq="30min", inclusive="left")
        if len(times):
            target_name = name(day.strftime("%Y-%m-%d"))
            text = content(times)
            target = landing.dir / target_name
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                written.append(landing.write_atomic(target_name, text))
        day = nxt
    return written


def write_days(landing, flow: str, start: datetime, end: datetime, *, now: datetime | None = None) -> list:
    communes = models()
    prefix = FILE_PREFIX[flow]
    return paris_day_files(landing, start, end, now=now,
                           name=lambda day: f"{prefix}_{day.replace('-', '')}_{day.replace('-', '')}.csv",
                           content=lambda times: extract(flow, times, communes))


def sample_territorial_energy(start: datetime, end: datetime, directory, territories=None):
    """Territorial energy of [start, end) as the pipeline computes it from the sample, without Dagster:
    the extracts written in `directory` (one folder per flow, as in landing/), read by the real
    reader, typed, and summed per territory (`core_enedis__territorial_energy`, as a DataFrame).
    For tests and benchmarks of what comes after (balance, secrecy)."""
    from pathlib import Path

    from energy_pipelines.sources.enedis_commune import ADAPTER
    from energy_pipelines.territories import membership
    from energy_pipelines.transforms import balance

    territories = territories or default_territories()
    communes = [CommuneModel(c) for c in sorted(all_communes(territories).values(), key=lambda c: c.code)]
    times = pd.date_range(start, end, freq="30min", inclusive="left", tz="UTC") if start.tzinfo is None else \
        pd.date_range(start, end, freq="30min", inclusive="left")
    rows = {}
    for flow in ("consumption", "production"):
        folder = Path(directory) / f"enedis_commune_{flow}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{FILE_PREFIX[flow]}_{times[0]:%Y%m%d}_{times[-1]:%Y%m%d}.csv"
        path.write_text(extract(flow, times.tz_convert(UTC), communes), encoding="utf-8")
        rows[flow] = ADAPTER.read_file(path).rows.assign(source_file=path.name)
    typed = balance.commune_energy(rows["consumption"], rows["production"])
    return balance.territorial_energy(typed.data, membership(territories)).to_pandas()


def write_source(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list:
    """The registry's entry: the extract of the flow this landing folder receives."""
    from energy_pipelines.sources.enedis_commune import SOURCE_FLOWS

    return write_days(landing, SOURCE_FLOWS[landing.source_id], start, end, now=now)
