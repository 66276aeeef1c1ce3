"""UC1 sample: a year of local energy data for every commune of the referential, in the providers' formats.

One deterministic model per commune (seeded by its INSEE code) gives, each year, the "truth" of
AtmoSud's inventory — final consumption by sector x energy, renewable production by filière, CO2, CH4
and N2O by sector — and, from the same numbers, what the network operators measure and publish:
Agence ORE's electricity and gas by sector with delivery points (IRIS, commune, département, region),
Enedis's production by filière and voltage domain with site counts (commune, département). The
providers' own secrecy is applied as they do it, so the readers and the transforms meet real secret
cells: ORE's 0 with a secret-cell count (residential electricity < 10 points; residential gas < 10
points and <= 200 MWh, ORE note v5.0 §4; other sectors < 3 points, our model of the masks seen in
every sector of the real files), Enedis's blank site count and energy for a `BT <= 36 kVA` cell of
1 to 9 sites (what ../shared/realdata/enedis_production_departement shows: such cells are blank, those
of >= 10 sites and those of other domains are published even with one site).

Communes: those of the referential delivered in landing/insee_cog/ (the real COG + epcicom gives all
946 PACA communes and their 52 EPCI), else those of the declared territories, which is what the
referential's own sample holds. Sizes from the referential's populations (epcicom `ptot`), else the
territory YAMLs, else a hashed size. The sample pretends every year that is over is published.

Realism: consumption per inhabitant and energy mix by climate (Alpine départements 04/05 heat more
and burn more wood), gas network in towns, ski resorts with many secondary homes, a few heavy
industrial communes (where one plant dominates: the 85 % rule bites), weather of each year through a
heating-degree-day index, PV growing ~13 %/year, Alpine small hydro with wet and dry years, a few
wind parks, biogas plants and city cogeneration; 2020's lockdowns cut transport and tertiary use.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.sources.ore_consumption import complete_years, current_paris_year
from energy_pipelines.transforms.territorial.referential import (
    PACA_DEPARTEMENTS, Referential, ReferentialError, build_referential, from_territories,
)

FIRST_YEAR = 2011  # ORE's and Enedis's series start in 2011
REFERENCE_POP_YEAR = 2021
# heating-degree-day index of PACA relative to a normal year (mild 2014, 2020, 2022; cold 2012-2013)
HDD = {2010: 1.14, 2011: 0.92, 2012: 1.06, 2013: 1.09, 2014: 0.88, 2015: 0.96, 2016: 0.97, 2017: 0.95,
       2018: 0.97, 2019: 0.94, 2020: 0.86, 2021: 0.99, 2022: 0.84, 2023: 0.87, 2024: 0.90, 2025: 0.92}
# hydraulicity of Alpine rivers (snow and rain of the year) relative to normal
HYDRO = {2011: 0.86, 2012: 0.82, 2013: 1.18, 2014: 1.12, 2015: 0.95, 2016: 0.98, 2017: 0.78, 2018: 1.10,
         2019: 0.97, 2020: 1.00, 2021: 0.92, 2022: 0.70, 2023: 0.85, 2024: 1.08, 2025: 0.95}
COVID = {"tertiaire": {2020: 0.91, 2021: 0.97}, "transport_routier": {2020: 0.84, 2021: 0.95},
         "autres_transports": {2020: 0.70, 2021: 0.85}}
# t CO2 per MWh of final energy burnt (ADEME Base Empreinte orders of magnitude, PCI)
CO2_FACTORS = {"gaz": 0.205, "produits_petroliers": 0.272, "combustibles_mineraux_solides": 0.345,
               "autres_non_enr": 0.30, "chaleur_froid_reseau": 0.085}
SECTOR_LABELS = {"residentiel": "Résidentiel", "tertiaire": "Tertiaire", "industrie": "Industrie hors branche énergie",
                 "agriculture": "Agriculture", "transport_routier": "Transport routier",
                 "autres_transports": "Autres transports", "branche_energie": "Branche énergie",
                 "dechets": "Déchets"}
ENERGY_LABELS = {"electricite": "Electricité", "gaz": "Gaz Naturel", "produits_petroliers": "Produits pétroliers",
                 "bois_energie": "Bois-énergie (EnR)", "autres_enr": "Autres énergies renouvelables (EnR)",
                 "chaleur_froid_reseau": "Chaleur et froid issus de réseau",
                 "combustibles_mineraux_solides": "Combustibles Minéraux Solides", "autres_non_enr": "Autres non EnR"}
FILIERE_LABELS = {"photovoltaique": "Photovoltaïque", "solaire_thermique": "Solaire thermique", "eolien": "Eolien",
                  "hydraulique": "Hydraulique", "biomasse": "Biomasse", "biogaz": "Biogaz",
                  "pompes_a_chaleur": "Pompes à chaleur", "dechets": "Valorisation énergétique des déchets"}
DOMAINS = ("BT <= 36 kVA", "BT > 36 kVA", "HTA")
ORE_SECTORS = ("a", "i", "t", "r", "na")
DEP_NAMES = {"04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes", "06": "Alpes-Maritimes",
             "13": "Bouches-du-Rhône", "83": "Var", "84": "Vaucluse"}
REGION_NAME = "Provence-Alpes-Côte d'Azur"
CIGALE_VERSION = "v11.1"


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_hash(*parts))


# -- the communes ---------------------------------------------------------------------------------

def simulation_referential(landing_root: Path) -> Referential:
    """The referential delivered in landing/insee_cog/ (read by its own reader), else the territories'."""
    from energy_pipelines.sources.base import SourceFileError
    from energy_pipelines.sources.insee_cog import ADAPTER as COG
    from energy_pipelines.territories import default_territories

    folder = Path(landing_root) / "insee_cog"
    frames = []
    for path in sorted(folder.glob("*.csv")) if folder.exists() else []:
        try:
            frames.append(COG.read_file(path).rows)
        except SourceFileError:
            continue  # the referential's own asset reports it; the sample simulates what it can
    territories = default_territories()
    if frames:
        try:
            return build_referential(pd.concat(frames, ignore_index=True), territories)
        except ReferentialError:
            pass
    return from_territories(territories)


@dataclass
class Commune:
    code: str
    name: str
    dep: str
    epci: str | None
    epci_name: str | None
    population: float  # reference population (REFERENCE_POP_YEAR)

    def __post_init__(self) -> None:
        rng = _rng("uc1", self.code)
        self.growth = float(rng.uniform(-0.004, 0.014))
        self.mountain = self.dep in ("04", "05")
        self.coastal = self.dep in ("06", "13", "83")
        self.rural = self.population < 2000
        self.gas_network = (self.population >= 2000 and _hash("gas", self.code) % 10 < 8) or (
            self.population >= 600 and not self.mountain and _hash("gas", self.code) % 10 < 3)
        self.resort = self.dep in ("05", "04", "06") and self.population < 5000 and _hash("resort", self.code) % 7 == 0
        self.heavy_industry = _hash("heavy", self.code) % 31 == 0 and self.population > 1500
        self.industry_scale = float(rng.lognormal(0.0, 1.0)) * (25.0 if self.heavy_industry else 1.0)
        self.through_traffic = float(rng.lognormal(0.0, 0.35))
        self.landfill = _hash("landfill", self.code) % 37 == 0
        self.incinerator = self.population > 150000
        self.pv_rooftop_per_inhab = 0.035 * (1.5 if self.rural else 1.0) * float(rng.uniform(0.7, 1.3))
        self.pv_bt_large = int(self.population * 0.0012 + rng.integers(0, 3))
        self.pv_farms = ([(float(rng.uniform(4000, 12000)), int(rng.integers(2010, 2023)))]
                         if (self.dep in ("04", "05", "13", "83", "84") and self.population < 15000
                             and _hash("farm", self.code) % 9 == 0) else [])
        self.hydro = ([float(x) for x in rng.uniform(300, 5000, size=int(rng.integers(1, 4)))]
                      if self.dep in ("04", "05", "06") and _hash("hydro", self.code) % 4 == 0 else [])
        self.wind = ((float(rng.uniform(8000, 12000)), int(rng.integers(2005, 2019)))
                     if self.dep in ("04", "13", "83", "84") and _hash("wind", self.code) % 29 == 0 else None)
        self.bio = ([float(x) for x in rng.uniform(500, 2000, size=int(rng.integers(1, 3)))]
                    if _hash("bio", self.code) % 15 == 0 or self.population > 100000 else [])
        self.cogeneration = ([float(x) for x in rng.uniform(1000, 4000, size=int(rng.integers(2, 4)))]
                             if self.population > 40000 else [])
        self.autres = _hash("autres", self.code) % 41 == 0
        n_iris = math.ceil(self.population / 3000) if self.population >= 10000 else 0
        self.iris_weights = rng.dirichlet(np.full(min(n_iris, 60), 4.0)) if n_iris else None

    def population_in(self, year: int) -> int:
        return max(1, int(round(self.population * (1 + self.growth) ** (year - REFERENCE_POP_YEAR))))


def communes_of(ref: Referential) -> list[Commune]:
    out = []
    for r in ref.communes.itertuples(index=False):
        pop = r.population_ref
        if pd.isna(pop):  # COG without epcicom: a hashed size (median ~1,100 inhabitants, as in PACA)
            pop = float(np.exp(_rng("size", r.commune_code).normal(7.0, 1.3)))
        epci = None if pd.isna(r.epci_siren) else r.epci_siren
        out.append(Commune(r.commune_code, r.commune_name, r.departement_code, epci,
                           None if epci is None else r.epci_name, float(max(pop, 5))))
    return out


# -- the inventory (truth) ------------------------------------------------------------------------

def _norm(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items() if v > 0}


def consumption(c: Commune, year: int) -> dict[tuple[str, str], float]:
    """(sector, energy) -> MWh of final consumption."""
    pop = c.population_in(year)
    hdd = HDD.get(year, 0.93)
    rng = _rng("cons", c.code, year)
    out: dict[tuple[str, str], float] = {}
    t = year - 2019

    def put(sector: str, total: float, shares: dict[str, float]) -> None:
        for energy, share in _norm(shares).items():
            out[(sector, energy)] = total * share * float(rng.uniform(0.97, 1.03))

    climate = 1.30 if c.mountain else 0.95 if c.coastal else 1.05
    res = pop * 6.1 * climate * (1.8 if c.resort else 1.0) * (0.42 + 0.58 * hdd) * 0.99 ** t
    oil_trend, hp_trend = 0.95 ** t, 1.07 ** t
    if c.gas_network:
        shares = {"electricite": 0.42, "gaz": 0.33, "produits_petroliers": 0.08 * oil_trend,
                  "bois_energie": 0.16 if c.mountain else 0.09, "autres_enr": 0.05 * hp_trend,
                  "chaleur_froid_reseau": 0.03 if pop > 100000 else 0.0}
    else:
        shares = {"electricite": 0.52, "produits_petroliers": 0.18 * oil_trend,
                  "bois_energie": 0.30 if c.mountain else 0.20, "autres_enr": 0.05 * hp_trend}
    put("residentiel", res, shares)
    ter = pop * 3.5 * (1.25 if pop > 50000 else 1.0) * (1.5 if c.resort else 1.0) * (0.7 + 0.3 * hdd) \
        * COVID["tertiaire"].get(year, 1.0) * 0.995 ** t
    put("tertiaire", ter, {"electricite": 0.60, "gaz": 0.25 if c.gas_network else 0.0,
                           "produits_petroliers": 0.09 * oil_trend + (0.15 if not c.gas_network else 0.0),
                           "chaleur_froid_reseau": 0.05 if pop > 100000 else 0.0, "autres_enr": 0.02 * hp_trend})
    ind = pop * 2.2 * c.industry_scale * 0.994 ** t
    put("industrie", ind, {"electricite": 0.38, "gaz": 0.37 if c.gas_network or c.heavy_industry else 0.0,
                           "produits_petroliers": 0.15 + (0.2 if not c.gas_network else 0.0),
                           "combustibles_mineraux_solides": 0.06 if c.heavy_industry else 0.0,
                           "autres_non_enr": 0.04, "bois_energie": 0.02})
    agri = pop * (1.7 if pop < 5000 else 0.15) * float(_rng("agri", c.code).lognormal(0, 0.5))
    put("agriculture", agri, {"produits_petroliers": 0.72, "electricite": 0.23, "gaz": 0.05 if c.gas_network else 0.0})
    road = pop * 7.4 * (1.3 if c.rural else 1.0) * c.through_traffic * COVID["transport_routier"].get(year, 1.0)
    ev = 0.002 * 1.3 ** max(0, year - 2015)
    put("transport_routier", road, {"produits_petroliers": 0.945 - ev, "autres_enr": 0.045, "electricite": ev,
                                    "gaz": 0.01})
    if pop > 100000 or _hash("port", c.code) % 25 == 0:
        other = pop * 0.9 * float(_rng("port", c.code).lognormal(0, 0.5)) * COVID["autres_transports"].get(year, 1.0)
        put("autres_transports", other, {"produits_petroliers": 0.62, "electricite": 0.38})
    if c.heavy_industry and _hash("refinery", c.code) % 2 == 0:
        put("branche_energie", 60000 + pop * 12.0, {"gaz": 0.5, "produits_petroliers": 0.45, "electricite": 0.05})
    return out


@dataclass
class Plant:
    filiere: str      # Enedis filière
    domain: str
    kw: float         # each
    since: int
    count: int = 1    # identical installations (rooftops)


def plants(c: Commune, year: int) -> list[Plant]:
    """The electricity producers connected to Enedis's network that year."""
    pop = c.population_in(year)
    out: list[Plant] = []
    n_roof = int(round(pop * c.pv_rooftop_per_inhab * 1.13 ** (year - 2024)))
    if n_roof:
        out.append(Plant("photovoltaique", "BT <= 36 kVA", 4.5, year, n_roof))
    n_large = int(round(c.pv_bt_large * 1.10 ** (year - 2024)))
    if n_large:
        out.append(Plant("photovoltaique", "BT > 36 kVA", 110.0, year, n_large))
    out += [Plant("photovoltaique", "HTA", kw, since) for kw, since in c.pv_farms if since <= year]
    out += [Plant("hydraulique", "HTA", kw, 1990) for kw in c.hydro]
    if c.wind and c.wind[1] <= year:
        out.append(Plant("eolien", "HTA", c.wind[0], c.wind[1]))
    out += [Plant("bioenergies", "HTA", kw, 2008) for kw in c.bio]
    out += [Plant("cogeneration", "HTA" if kw > 2500 else "BT > 36 kVA", kw, 2005) for kw in c.cogeneration]
    if c.autres:
        out.append(Plant("autres", "BT > 36 kVA", 60.0, 2012))
    return out


def plant_energy_mwh(c: Commune, p: Plant, year: int) -> float:
    rng = _rng("yield", c.code, p.filiere, p.domain, year)
    if p.filiere == "photovoltaique":
        hours = (1450 if c.mountain else 1350) * float(rng.uniform(0.95, 1.05))
    elif p.filiere == "hydraulique":
        hours = 3600 * HYDRO.get(year, 0.95)
    elif p.filiere == "eolien":
        hours = 2100 * float(rng.uniform(0.85, 1.15))
    elif p.filiere == "bioenergies":
        hours = 6500
    elif p.filiere == "cogeneration":
        hours = 3800 * (0.6 + 0.4 * HDD.get(year, 0.93))
    else:
        hours = 900
    return p.kw * hours / 1000.0  # of one installation


def inventory(c: Commune, year: int) -> tuple[list[dict], list[dict], list[dict]]:
    """AtmoSud's rows for one commune and year: consumption, renewable production, emissions."""
    cons = consumption(c, year)
    rng = _rng("inv", c.code, year)
    pop = c.population_in(year)
    cons_rows = []
    n_estab = max(1, int(round(pop * 0.004 + c.industry_scale * 2)))
    lead = 0.9 if c.heavy_industry else min(0.8, 1.6 / math.sqrt(n_estab))
    for (sector, energy), mwh in cons.items():
        contributors, share = None, None
        if sector == "industrie":
            contributors, share = n_estab, lead * 100
        elif sector == "branche_energie":
            contributors, share = int(rng.integers(1, 3)), float(rng.uniform(70, 100))
        cons_rows.append({"sector": sector, "energy": energy, "mwh": mwh, "contributors": contributors,
                          "share": share})
    prod: dict[str, list[tuple[float, int]]] = {}
    for p in plants(c, year):
        key = {"photovoltaique": "photovoltaique", "hydraulique": "hydraulique", "eolien": "eolien",
               "bioenergies": "biogaz"}.get(p.filiere)
        if key:  # biogas: electricity and the heat of the same engines
            prod.setdefault(key, []).append((plant_energy_mwh(c, p, year) * (2.2 if key == "biogaz" else 1.0),
                                             p.count))
    prod_rows = []
    for f, units in prod.items():
        total = sum(e * n for e, n in units)
        prod_rows.append({"filiere": f, "mwh": total, "contributors": sum(n for _, n in units),
                          "share": 100 * max(e for e, _ in units) / total if total else None})
    wood = sum(v for (s, e), v in cons.items() if e == "bois_energie" and s in ("residentiel", "tertiaire"))
    heat_pumps = sum(v for (s, e), v in cons.items() if e == "autres_enr" and s in ("residentiel", "tertiaire"))
    prod_rows.append({"filiere": "biomasse", "mwh": 0.8 * wood, "contributors": None, "share": None})
    prod_rows.append({"filiere": "pompes_a_chaleur", "mwh": heat_pumps, "contributors": None, "share": None})
    prod_rows.append({"filiere": "solaire_thermique", "mwh": pop * 0.045 * 1.03 ** (year - 2019),
                      "contributors": None, "share": None})
    if c.incinerator:
        prod_rows.append({"filiere": "dechets", "mwh": 55000.0 * float(rng.uniform(0.9, 1.1)), "contributors": 1,
                          "share": 100.0})
    em: dict[tuple[str, str], float] = {}
    for (sector, energy), mwh in cons.items():
        factor = CO2_FACTORS.get(energy, 0.0) * (0.95 if sector == "transport_routier" else 1.0)
        if factor:
            em[(sector, "co2")] = em.get((sector, "co2"), 0.0) + mwh * factor
        if energy == "bois_energie":
            em[(sector, "ch4")] = em.get((sector, "ch4"), 0.0) + mwh * 0.011
            em[(sector, "n2o")] = em.get((sector, "n2o"), 0.0) + mwh * 0.004
        if energy in ("produits_petroliers", "gaz"):
            em[(sector, "n2o")] = em.get((sector, "n2o"), 0.0) + mwh * 0.0025
            em[(sector, "ch4")] = em.get((sector, "ch4"), 0.0) + mwh * 0.0008
    agri = sum(v for (s, _), v in cons.items() if s == "agriculture")
    em[("agriculture", "ch4")] = em.get(("agriculture", "ch4"), 0.0) + agri * 0.9
    em[("agriculture", "n2o")] = em.get(("agriculture", "n2o"), 0.0) + agri * 0.6
    if c.landfill:
        em[("dechets", "ch4")] = float(_rng("landfill", c.code).uniform(5000, 40000)) * 0.97 ** (year - 2011)
        em[("dechets", "n2o")] = em[("dechets", "ch4")] * 0.04
    if c.incinerator:
        em[("dechets", "co2")] = 90000.0 * float(rng.uniform(0.95, 1.05))
    em_rows = []
    for (sector, gas), t in em.items():
        contributors, share = None, None
        if sector in ("industrie", "branche_energie"):
            contributors, share = n_estab, lead * 100
        elif sector == "dechets":
            contributors, share = 1, 100.0
        em_rows.append({"sector": sector, "gas": gas, "tco2e": t, "contributors": contributors, "share": share})
    return cons_rows, prod_rows, em_rows


# -- what the operators publish ------------------------------------------------------------------

def ore_commune_cells(c: Commune, year: int) -> pd.DataFrame:
    """True cells per operator x energy x ORE sector: MWh and delivery points (before ORE's secrecy)."""
    cons = consumption(c, year)
    pop = c.population_in(year)
    rng = _rng("ore", c.code, year)
    households = pop * 0.46 * (2.2 if c.resort else 1.0)
    n_estab = max(1, int(round(pop * 0.004 + c.industry_scale * 2)))
    rows = []

    def cell(operator, energy, sector, mwh, points):
        rows.append({"operator": operator, "energy": energy, "sector": sector, "mwh": max(0.0, mwh),
                     "points": int(max(0, round(points))) if mwh > 0 else 0})

    noise = lambda: float(rng.uniform(0.97, 1.03))  # noqa: E731 - measured vs modelled
    elec = {s: cons.get((s, "electricite"), 0.0) for s in ("residentiel", "tertiaire", "industrie", "agriculture")}
    cell("Enedis", "electricite", "r", elec["residentiel"] * noise(), households)
    cell("Enedis", "electricite", "t", elec["tertiaire"] * noise(), pop * 0.05 + 2)
    if c.heavy_industry:  # the plant takes its power from the transmission grid
        cell("Enedis", "electricite", "i", elec["industrie"] * 0.3 * noise(), n_estab - 1)
        cell("RTE", "electricite", "i", elec["industrie"] * 0.7 * noise(), 1)
    else:
        cell("Enedis", "electricite", "i", elec["industrie"] * noise(), n_estab)
    cell("Enedis", "electricite", "a", elec["agriculture"] * noise(), pop * (0.02 if pop < 5000 else 0.002) + 1)
    cell("Enedis", "electricite", "na", sum(elec.values()) * 0.012, pop * 0.002 + 1)
    if c.gas_network:
        gas = {s: cons.get((s, "gaz"), 0.0) for s in ("residentiel", "tertiaire", "industrie", "agriculture")}
        cell("GRDF", "gaz", "r", gas["residentiel"] * noise(), households * 0.42)
        cell("GRDF", "gaz", "t", gas["tertiaire"] * noise(), pop * 0.008 + 1)
        cell("GRDF", "gaz", "i", gas["industrie"] * (0.4 if c.heavy_industry else 1.0) * noise(), n_estab * 0.5)
        cell("GRDF", "gaz", "a", gas["agriculture"] * noise(), pop * 0.002)
        cell("GRDF", "gaz", "na", sum(gas.values()) * 0.01, pop * 0.001 + 1)
    elif c.heavy_industry:
        pass
    if c.heavy_industry:
        cell("GRTgaz", "gaz", "i", cons.get(("industrie", "gaz"), 0.0) * 0.6 * noise(), 1)
    return pd.DataFrame(rows)


def ore_secret(energy: str, sector: str, mwh: np.ndarray, points: np.ndarray) -> np.ndarray:
    """ORE's masks: residential electricity < 10 points; residential gas < 10 points and <= 200 MWh;
    other sectors (our model of the masks seen in every sector of the real files) 1 or 2 points."""
    occupied = points > 0
    if sector == "r" and energy == "electricite":
        return occupied & (points < 10)
    if sector == "r" and energy == "gaz":
        return occupied & (points < 10) & (mwh <= 200)
    return occupied & (points < 3)


def _split(total: float, points: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A commune cell spread over its IRIS: points by largest remainder, energy pro rata of the points."""
    raw = points * weights
    pts = np.floor(raw).astype(int)
    pts[np.argsort(raw - pts)[::-1][: points - pts.sum()]] += 1
    share = pts / pts.sum() if pts.sum() else weights
    return total * share, pts


def ore_published(communes: list[Commune], year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(IRIS cells, commune cells) as ORE publishes them: secret cells at 0 with their count."""
    iris_rows, commune_rows = [], []
    for c in communes:
        cells = ore_commune_cells(c, year)
        for r in cells.itertuples(index=False):
            base = {"commune": c, "operator": r.operator, "energy": r.energy, "sector": r.sector}
            if c.iris_weights is not None:
                mwh, pts = _split(r.mwh, r.points, c.iris_weights)
                secret = ore_secret(r.energy, r.sector, mwh, pts)
                for i in range(len(pts)):
                    iris_rows.append({**base, "iris": f"{c.code}{i + 1:04d}", "mwh": 0.0 if secret[i] else mwh[i],
                                      "points": 0 if secret[i] else int(pts[i]), "secret_cells": int(secret[i])})
                commune_rows.append({**base, "mwh": float(mwh[~secret].sum()), "points": int(pts[~secret].sum()),
                                     "secret_cells": int(secret.sum())})
            else:
                secret = bool(ore_secret(r.energy, r.sector, np.array([r.mwh]), np.array([r.points]))[0])
                commune_rows.append({**base, "mwh": 0.0 if secret else r.mwh, "points": 0 if secret else r.points,
                                     "secret_cells": int(secret)})
    return pd.DataFrame(iris_rows), pd.DataFrame(commune_rows)


def _ore_wide(cells: pd.DataFrame, keys: list[str], year: int) -> pd.DataFrame:
    """ORE's one line per operator x filière x territory, the five sectors side by side."""
    rows = []
    for key, group in cells.groupby(keys, sort=True, dropna=False):
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row = {"operateur": key["operator"], "annee": str(year),
               "filiere": "Electricité" if key["energy"] == "electricite" else "Gaz"}
        by = {s: g for s, g in group.groupby("sector")}
        total = 0.0
        for s in ORE_SECTORS:
            g = by.get(s)
            mwh = float(g["mwh"].sum()) if g is not None else 0.0
            pts = int(g["points"].sum()) if g is not None else 0
            n_secret = int(g["secret_cells"].sum()) if g is not None else 0
            row[f"conso{s}"], row[f"pdl{s}"] = round(mwh, 3), pts
            row[f"nombre_mailles_secretisees_{s}"] = n_secret
            row[f"indqual{s}"] = (0.0 if pts == 0 else round(0.34 if s == "r" else 0.93, 3))
            total += mwh
        row.update({k: v for k, v in key.items() if k not in ("operator", "energy")})
        row["id_filiere"] = "100" if key["energy"] == "electricite" else "200"
        row["consototale"] = round(total, 3)
        rows.append(row)
    return pd.DataFrame(rows)


ORE_FIELDS_LOCAL = ["operateur", "annee", "filiere"] + [f"{m}{s}" if m in ("conso", "pdl", "indqual") else
                                                       f"nombre_mailles_secretisees_{s}"
                                                       for s in ORE_SECTORS
                                                       for m in ("conso", "pdl", "nombre", "indqual")]
ORE_LABELS = {"operateur": "Opérateur", "annee": "Année", "filiere": "Filière",
              "code_departement": "Code Département", "libelle_departement": "Libellé Département",
              "code_region": "Code Région", "libelle_region": "Libellé Région", "id_filiere": "id_filiere",
              "consototale": "Consommation totale (MWh)"}
_ORE_SECTOR_LABELS = {"a": ("Agriculture", "agriculture", "Indique qualité Agriculture"),
                      "i": ("Industrie", "industrie", "Indice qualité Industrie"),
                      "t": ("Tertiaire ", "tertiaire", "Indice qualité Tertiaire"),  # the publisher's double space
                      "r": ("Résidentiel ", "résidentiel", "Indice qualité Résidentiel"),
                      "na": ("Secteur Inconnu", "secteur inconnu", "Indice qualité Non Affecté")}
for _s, (_c, _n, _q) in _ORE_SECTOR_LABELS.items():
    ORE_LABELS[f"conso{_s}"] = f"Consommation {_c} (MWh)"
    ORE_LABELS[f"pdl{_s}"] = f"Nombre de points {_c.strip()}"
    ORE_LABELS[f"nombre_mailles_secretisees_{_s}"] = f"Nombre de mailles secretisées ({_n})"
    ORE_LABELS[f"indqual{_s}"] = _q


def _csv(frame: pd.DataFrame, sep: str = ";") -> str:
    return frame.to_csv(sep=sep, index=False, lineterminator="\n")


def _years(start: datetime, end: datetime, now: datetime | None) -> list[int]:
    return [y for y in complete_years(start, end, now) if y >= FIRST_YEAR]


def _write_if_changed(landing, name: str, content: str) -> Path | None:
    target = landing.dir / name
    if target.exists() and target.read_text(encoding="utf-8") == content:
        return None
    return landing.write_atomic(name, content)


def write_ore(landing, start: datetime, end: datetime, *, scope: str, now: datetime | None = None) -> list[Path]:
    communes = communes_of(simulation_referential(landing.dir.parent))
    by_code = {c.code: c for c in communes}
    written = []
    for year in _years(start, end, now):
        iris, commune = ore_published(communes, year)
        for frame in (iris, commune):
            if not frame.empty:
                frame["code_commune"] = frame["commune"].map(lambda c: c.code)
                frame["code_departement"] = frame["commune"].map(lambda c: c.dep)
        files: dict[str, str] = {}
        if scope == "local":
            commune["libelle_commune"] = commune["code_commune"].map(lambda k: by_code[k].name)
            commune["code_epci"] = commune["code_commune"].map(lambda k: by_code[k].epci or "")
            commune["libelle_epci"] = commune["code_commune"].map(lambda k: by_code[k].epci_name or "")
            keys = ["operator", "energy", "code_commune", "libelle_commune", "code_epci", "libelle_epci",
                    "code_departement"]
            wide = _ore_wide(commune.drop(columns="commune"), keys, year)
            wide["libelle_departement"] = wide["code_departement"].map(DEP_NAMES)
            wide["code_region"], wide["libelle_region"] = "93", REGION_NAME
            files[f"conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-commune_93_{year}.csv"] = _csv(
                wide[ORE_FIELDS_LOCAL + ["code_commune", "libelle_commune", "code_epci", "libelle_epci",
                                         "code_departement", "libelle_departement", "code_region", "libelle_region",
                                         "id_filiere", "consototale"]])
            if not iris.empty:
                iris["code_iris"] = iris["iris"]
                iris["libelle_iris"] = iris["iris"].map(lambda k: f"{by_code[k[:5]].name} {int(k[5:])}")
                wide = _ore_wide(iris.drop(columns=["commune", "iris"]),
                                 ["operator", "energy", "code_iris", "libelle_iris", "code_commune",
                                  "code_departement"], year)
                wide["code_region"] = "93"
                files[f"conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-iris_93_{year}.csv"] = _csv(
                    wide[ORE_FIELDS_LOCAL + ["code_iris", "libelle_iris", "code_commune", "code_departement",
                                             "code_region", "id_filiere", "consototale"]])
        else:
            dep = _ore_wide(commune.drop(columns="commune"), ["operator", "energy", "code_departement"], year)
            dep["libelle_departement"] = dep["code_departement"].map(DEP_NAMES)
            dep["code_region"], dep["libelle_region"], dep["geom"] = "93", REGION_NAME, ""
            cols = ORE_FIELDS_LOCAL + ["code_departement", "libelle_departement", "code_region", "libelle_region",
                                       "id_filiere", "geom", "consototale"]
            # the département file in the label form, as the real export of ../shared/realdata/ore_energy_annual
            files[f"conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-departement_93_{year}.csv"] = _csv(
                dep[cols].rename(columns=ORE_LABELS))
            commune["code_region"] = "93"
            reg = _ore_wide(commune.drop(columns="commune"), ["operator", "energy", "code_region"], year)
            reg["libelle_region"] = REGION_NAME
            files[f"conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-region_93_{year}.csv"] = _csv(
                reg[ORE_FIELDS_LOCAL + ["code_region", "libelle_region", "id_filiere", "consototale"]])
        for name, content in files.items():
            if (path := _write_if_changed(landing, name, content)) is not None:
                written.append(path)
    return written


# -- Enedis ------------------------------------------------------------------------------------------

ENEDIS_FILIERES = ("photovoltaique", "eolien", "hydraulique", "bio_energie", "cogeneration", "autres_filieres")
_ENEDIS_KEY = {"photovoltaique": "photovoltaique", "eolien": "eolien", "hydraulique": "hydraulique",
               "bioenergies": "bio_energie", "cogeneration": "cogeneration", "autres": "autres_filieres"}


def enedis_cells(communes: list[Commune], year: int) -> pd.DataFrame:
    rows = []
    for c in communes:
        for p in plants(c, year):
            rows.append({"code": c.code, "dep": c.dep, "domain": p.domain, "filiere": _ENEDIS_KEY[p.filiere],
                         "sites": p.count, "mwh": plant_energy_mwh(c, p, year) * p.count})
    cells = pd.DataFrame(rows, columns=["code", "dep", "domain", "filiere", "sites", "mwh"])
    return cells.groupby(["code", "dep", "domain", "filiere"], as_index=False).sum()


def _enedis_wide(cells: pd.DataFrame, keys: list[str], year: int, index: pd.DataFrame) -> pd.DataFrame:
    """One line per territory and voltage domain; Enedis blanks a BT <= 36 kVA cell of 1-9 sites."""
    frame = index.merge(pd.DataFrame({"domain": DOMAINS}), how="cross")
    for f in ENEDIS_FILIERES:
        sub = cells[cells["filiere"] == f].groupby(keys + ["domain"], as_index=False)[["sites", "mwh"]].sum()
        merged = frame[keys + ["domain"]].merge(sub, on=keys + ["domain"], how="left").fillna({"sites": 0, "mwh": 0.0})
        blank = (merged["domain"] == "BT <= 36 kVA") & merged["sites"].between(1, 9)
        frame[f"nb_sites_{f}_enedis"] = np.where(blank, "", merged["sites"].astype(int).astype(str))
        frame[f"energie_produite_annuelle_{f}_enedis_mwh"] = np.where(blank, "", merged["mwh"].round(4).astype(str))
    frame.insert(0, "annee", str(year))
    return frame.rename(columns={"domain": "domaine_de_tension"})


ENEDIS_COMMUNE_LABELS = {"annee": "Année", "nom_commune": "Nom commune", "code_commune": "Code commune",
                         "nom_epci": "Nom EPCI", "code_epci": "Code EPCI", "nom_departement": "Nom département",
                         "code_departement": "Code département", "nom_region": "Nom région",
                         "code_region": "Code région", "domaine_de_tension": "Domaine de tension"}
_F_LABEL = {"photovoltaique": "Photovoltaïque", "eolien": "Eolien", "hydraulique": "Hydraulique",
            "bio_energie": "Bio Energie", "cogeneration": "Cogénération", "autres_filieres": "Autres filières"}
for _f, _l in _F_LABEL.items():
    ENEDIS_COMMUNE_LABELS[f"nb_sites_{_f}_enedis"] = f"Nb sites {_l} Enedis"
    ENEDIS_COMMUNE_LABELS[f"energie_produite_annuelle_{_f}_enedis_mwh"] = f"Energie produite annuelle {_l} Enedis (MWh)"


def _double_encode(text: str) -> str:
    """The re-hosted copy's defect: UTF-8 bytes read back as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def write_enedis_production(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    communes = communes_of(simulation_referential(landing.dir.parent))
    index = pd.DataFrame([{"code_commune": c.code, "nom_commune": c.name, "code_epci": c.epci or "",
                           "nom_epci": c.epci_name or "", "code_departement": c.dep,
                           "nom_departement": DEP_NAMES.get(c.dep, c.dep)} for c in communes])
    written = []
    for year in _years(start, end, now):
        cells = enedis_cells(communes, year).rename(columns={"code": "code_commune", "dep": "code_departement"})
        com = _enedis_wide(cells, ["code_commune"], year, index[["code_commune"]])
        com = index.merge(com, on="code_commune")
        com["nom_region"], com["code_region"] = REGION_NAME, "93"
        order = ["annee", "nom_commune", "code_commune", "nom_epci", "code_epci", "nom_departement",
                 "code_departement", "nom_region", "code_region", "domaine_de_tension"] + \
            [c for f in ENEDIS_FILIERES for c in (f"nb_sites_{f}_enedis", f"energie_produite_annuelle_{f}_enedis_mwh")]
        files = {f"production-electrique-par-filiere-a-la-maille-commune_93_{year}.csv":
                 _csv(com[order].rename(columns=ENEDIS_COMMUNE_LABELS))}
        deps = pd.DataFrame({"code_departement": sorted({c.dep for c in communes})})
        dep = _enedis_wide(cells, ["code_departement"], year, deps)
        dep["nom_departement"] = dep["code_departement"].map(lambda d: _double_encode(DEP_NAMES.get(d, d)))
        dep["nom_region"], dep["code_region"] = _double_encode(REGION_NAME), "93"
        dep["code_departement"] = dep["code_departement"].str.lstrip("0")  # the copy's lost leading zeros
        dep["geom"], dep["geo_point_2d"] = "", ""
        order = ["annee", "nom_departement", "code_departement", "nom_region", "code_region", "domaine_de_tension"] + \
            order[10:] + ["geom", "geo_point_2d"]
        files[f"production-electrique-par-filiere-a-la-maille-departement_93_{year}.csv"] = _csv(dep[order], sep=",")
        for name, content in files.items():
            if (path := _write_if_changed(landing, name, content)) is not None:
                written.append(path)
    return written


# -- CIGALE ----------------------------------------------------------------------------------------

CIGALE_HEADER = ["Version", "Année", "Code INSEE", "Commune", "Type", "Secteur", "Catégorie", "Valeur", "Unité",
                 "Nombre de contributeurs", "Part du premier contributeur (%)"]


def _fr(x: float | None, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}".replace(".", ",")


def cigale_rows(communes: list[Commune], year: int) -> list[list[str]]:
    out = []
    for c in communes:
        cons, prod, em = inventory(c, year)
        base = [CIGALE_VERSION, str(year), c.code, c.name]
        for r in cons:
            out.append(base + ["Consommation", SECTOR_LABELS[r["sector"]], ENERGY_LABELS[r["energy"]], _fr(r["mwh"]),
                               "MWh", "" if r["contributors"] is None else str(r["contributors"]), _fr(r["share"], 1)])
        for r in prod:
            out.append(base + ["Production", "", FILIERE_LABELS[r["filiere"]], _fr(r["mwh"]), "MWh",
                               "" if r["contributors"] is None else str(r["contributors"]), _fr(r["share"], 1)])
        for r in em:
            out.append(base + ["Emissions", SECTOR_LABELS[r["sector"]], r["gas"].upper(), _fr(r["tco2e"]), "t CO2e",
                               "" if r["contributors"] is None else str(r["contributors"]), _fr(r["share"], 1)])
    return out


def write_cigale(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    communes = communes_of(simulation_referential(landing.dir.parent))
    written = []
    for year in _years(start, end, now):
        buf = io.StringIO()
        buf.write(";".join(CIGALE_HEADER) + "\n")
        for row in cigale_rows(communes, year):
            buf.write(";".join(row) + "\n")
        name = f"cigale_extraction_communes_{CIGALE_VERSION}_{year}.csv"
        if (path := _write_if_changed(landing, name, buf.getvalue())) is not None:
            written.append(path)
    return written


# -- INSEE populations -----------------------------------------------------------------------------

def write_population(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """INSEE's historical series (one column per millésime): legal populations lag three years."""
    communes = communes_of(simulation_referential(landing.dir.parent))
    last = current_paris_year(now) - 3
    years = list(range(last, FIRST_YEAR - 2, -1))
    frame = pd.DataFrame({"CODGEO": [c.code for c in communes], "REG": "93", "DEP": [c.dep for c in communes],
                          "LIBGEO": [c.name for c in communes]})
    for y in years:
        frame[f"PMUN{y}"] = [c.population_in(y) for c in communes]
    name = "base-pop-historiques_sample.csv"
    path = _write_if_changed(landing, name, _csv(frame))
    return [path] if path else []


__all__ = ["PACA_DEPARTEMENTS", "simulation_referential", "communes_of", "inventory", "ore_published",
           "enedis_cells", "write_ore", "write_enedis_production", "write_cigale", "write_population"]


def write_ore_local(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    return write_ore(landing, start, end, scope="local", now=now)


def write_ore_aggregates(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    return write_ore(landing, start, end, scope="aggregates", now=now)
