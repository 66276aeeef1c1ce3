"""Reference tables the UC2 simulator places things on: communes of the Hautes-Alpes, grid nodes,
weather stations of the six PACA départements.

Commune codes, names and populations are the real INSEE COG 2024 / DGCL 2024 values (checked by
`tests/unit/test_uc2_simulator.py` against ../shared/realdata when it is present); coordinates and
altitudes are approximate town centres. Grid nodes (Enedis "postes sources") and their renewable
capacities are SIMULATED: named after the valleys they would serve, sized so that the local green
ratio behaves like the Hautes-Alpes one (hydro-rich valleys, PV-rich Buëch, ski resorts whose
winter load dwarfs local production). Weather station numbers follow Météo-France's NUM_POSTE
convention (INSEE commune code + 3 digits) but are not guaranteed to be real stations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Commune:
    code: str  # INSEE COG
    name: str
    population: int  # DGCL 2024 total population (ptot_2024)
    lat: float
    lon: float
    altitude_m: int
    density_level: int  # INSEE grille communale de densité, 7 levels (sample values)
    resort: bool  # ski resort: winter tourist season
    node: str  # grid node (poste source) code, simulated


@dataclass(frozen=True)
class GridNode:
    code: str
    name: str
    lat: float
    lon: float
    consumption_mw: float  # mean load of the node outside the tourist seasons
    hydro_mw: float  # run-of-river capacity connected to the distribution network
    solar_mw: float
    wind_mw: float
    resort_share: float  # share of the load that follows the ski season


NODES: tuple[GridNode, ...] = (
    GridNode("PS05GAP", "Gap", 44.56, 6.08, 42.0, 14.0, 60.0, 0.0, 0.0),
    GridNode("PS05LAR", "Laragne", 44.32, 5.82, 7.5, 3.0, 40.0, 0.0, 0.0),
    GridNode("PS05VEY", "Veynes", 44.53, 5.82, 6.5, 2.5, 11.0, 2.0, 0.0),
    GridNode("PS05SER", "Serres", 44.43, 5.72, 3.5, 1.0, 16.0, 0.0, 0.0),
    GridNode("PS05EMB", "Embrun", 44.56, 6.50, 10.0, 16.0, 8.0, 0.0, 0.15),
    GridNode("PS05BRI", "Briançon", 44.90, 6.64, 22.0, 28.0, 3.0, 0.0, 0.25),
    GridNode("PS05ARG", "L'Argentière", 44.79, 6.56, 7.0, 30.0, 2.0, 0.0, 0.20),
    GridNode("PS05GUI", "Guillestre", 44.66, 6.65, 11.0, 15.0, 4.0, 0.0, 0.45),
    GridNode("PS05CHA", "Champsaur", 44.68, 6.08, 8.0, 13.0, 6.0, 0.0, 0.35),
    GridNode("PS05SCH", "Serre-Chevalier", 44.94, 6.57, 14.0, 16.0, 4.0, 0.0, 0.60),
    GridNode("PS05DEV", "Dévoluy", 44.69, 5.89, 3.0, 2.5, 5.0, 0.0, 0.70),
)

# code, name, population, lat, lon, altitude, density level, resort, node
_COMMUNES = [
    ("05061", "Gap", 41935, 44.559, 6.079, 735, 3, False, "PS05GAP"),
    ("05023", "Briançon", 10875, 44.897, 6.635, 1326, 4, False, "PS05BRI"),
    ("05046", "Embrun", 6751, 44.564, 6.496, 871, 4, False, "PS05EMB"),
    ("05070", "Laragne-Montéglin", 3637, 44.316, 5.820, 568, 5, False, "PS05LAR"),
    ("05179", "Veynes", 3385, 44.533, 5.823, 827, 5, False, "PS05VEY"),
    ("05040", "Chorges", 3145, 44.547, 6.279, 864, 5, False, "PS05EMB"),
    ("05017", "La Bâtie-Neuve", 2666, 44.568, 6.191, 850, 5, False, "PS05GAP"),
    ("05065", "Guillestre", 2376, 44.660, 6.649, 1000, 5, False, "PS05GUI"),
    ("05170", "Tallard", 2366, 44.462, 6.054, 608, 5, False, "PS05GAP"),
    ("05006", "L'Argentière-la-Bessée", 2334, 44.791, 6.556, 979, 5, False, "PS05ARG"),
    ("05132", "Saint-Bonnet-en-Champsaur", 2147, 44.682, 6.078, 1025, 5, False, "PS05CHA"),
    ("05123", "La Roche-des-Arnauds", 1670, 44.561, 5.956, 930, 6, False, "PS05GAP"),
    ("05133", "Saint-Chaffrey", 1561, 44.925, 6.608, 1360, 5, True, "PS05SCH"),
    ("05183", "Villar-Saint-Pancrace", 1483, 44.874, 6.626, 1250, 5, False, "PS05BRI"),
    ("05162", "La Saulce", 1421, 44.424, 5.997, 570, 6, False, "PS05LAR"),
    ("05118", "Val Buëch-Méouge", 1345, 44.330, 5.780, 600, 6, False, "PS05LAR"),
    ("05166", "Serres", 1325, 44.429, 5.717, 680, 6, False, "PS05SER"),
    ("05036", "Châteauroux-les-Alpes", 1246, 44.614, 6.520, 950, 6, False, "PS05EMB"),
    ("05101", "Vallouise-Pelvoux", 1171, 44.846, 6.485, 1170, 6, True, "PS05ARG"),
    ("05045", "Crots", 1166, 44.541, 6.466, 800, 6, False, "PS05EMB"),
    ("05151", "Saint-Martin-de-Queyrières", 1161, 44.823, 6.583, 1100, 6, False, "PS05ARG"),
    ("05164", "Savines-le-Lac", 1146, 44.527, 6.398, 800, 6, False, "PS05EMB"),
    ("05079", "Le Monêtier-les-Bains", 1040, 44.976, 6.509, 1500, 6, True, "PS05SCH"),
    ("05161", "La Salle-les-Alpes", 946, 44.944, 6.567, 1400, 6, True, "PS05SCH"),
    ("05004", "Ancelle", 928, 44.623, 6.206, 1340, 6, True, "PS05CHA"),
    ("05139", "Dévoluy", 921, 44.690, 5.890, 1500, 7, True, "PS05DEV"),
    ("05010", "Aspres-sur-Buëch", 818, 44.524, 5.747, 760, 6, False, "PS05VEY"),
    ("05052", "Eygliers", 807, 44.674, 6.634, 900, 6, False, "PS05GUI"),
    ("05136", "Saint-Crépin", 737, 44.707, 6.602, 900, 6, False, "PS05GUI"),
    ("05096", "Orcières", 700, 44.695, 6.325, 1450, 7, True, "PS05CHA"),
    ("05119", "Risoul", 678, 44.626, 6.639, 1100, 7, True, "PS05GUI"),
    ("05012", "Baratier", 645, 44.538, 6.492, 855, 6, False, "PS05EMB"),
    ("05178", "Ventavon", 632, 44.375, 5.911, 580, 7, False, "PS05LAR"),
    ("05177", "Vars", 585, 44.594, 6.680, 1650, 7, True, "PS05GUI"),
    ("05098", "Les Orres", 532, 44.513, 6.549, 1500, 7, True, "PS05EMB"),
    ("05063", "La Grave", 487, 45.046, 6.306, 1500, 7, True, "PS05SCH"),
    ("05085", "Montgenèvre", 470, 44.931, 6.726, 1860, 7, True, "PS05BRI"),
    ("05142", "Saint-Firmin", 459, 44.785, 6.030, 900, 7, False, "PS05CHA"),
    ("05001", "Abriès-Ristolas", 388, 44.792, 6.926, 1550, 7, True, "PS05GUI"),
    ("05003", "Aiguilles", 388, 44.783, 6.872, 1450, 7, True, "PS05GUI"),
    ("05093", "Névache", 378, 45.019, 6.605, 1600, 7, True, "PS05BRI"),
    ("05097", "Orpierre", 363, 44.311, 5.694, 680, 7, False, "PS05SER"),
    ("05110", "Puy-Saint-Vincent", 284, 44.823, 6.487, 1400, 7, True, "PS05ARG"),
    ("05026", "Ceillac", 282, 44.667, 6.778, 1640, 7, True, "PS05GUI"),
    ("05114", "Réallon", 247, 44.593, 6.354, 1380, 7, True, "PS05EMB"),
    ("05157", "Saint-Véran", 172, 44.702, 6.868, 2040, 7, True, "PS05GUI"),
]

COMMUNES: tuple[Commune, ...] = tuple(Commune(*row) for row in _COMMUNES)

DENSITY_LABELS = {
    1: "Grands centres urbains", 2: "Centres urbains intermédiaires", 3: "Ceintures urbaines",
    4: "Petites villes", 5: "Bourgs ruraux", 6: "Rural à habitat dispersé", 7: "Rural à habitat très dispersé",
}


@dataclass(frozen=True)
class WeatherStation:
    num_poste: str
    name: str
    lat: float
    lon: float
    altitude_m: int
    measures_glo: bool  # global radiation is measured at a minority of stations


# Six PACA départements (UC3 reads temperature for all of them)
WEATHER_STATIONS: tuple[WeatherStation, ...] = (
    WeatherStation("04049001", "ST AUBAN", 44.060, 5.990, 460, True),
    WeatherStation("04070001", "DIGNE", 44.090, 6.235, 600, False),
    WeatherStation("04112001", "MANOSQUE", 43.830, 5.790, 380, False),
    WeatherStation("05046001", "EMBRUN", 44.566, 6.502, 871, True),
    WeatherStation("05061001", "GAP", 44.559, 6.079, 735, False),
    WeatherStation("05023001", "BRIANCON", 44.897, 6.635, 1326, False),
    WeatherStation("05070001", "LARAGNE", 44.316, 5.820, 568, False),
    WeatherStation("05079001", "LE MONETIER", 44.976, 6.509, 1500, False),
    WeatherStation("06088001", "NICE", 43.648, 7.209, 2, True),
    WeatherStation("06029001", "CANNES", 43.542, 6.953, 2, False),
    WeatherStation("13054001", "MARIGNANE", 43.438, 5.216, 9, True),
    WeatherStation("13055001", "MARSEILLE", 43.300, 5.400, 75, False),
    WeatherStation("13004001", "ARLES", 43.677, 4.631, 10, False),
    WeatherStation("83137001", "TOULON", 43.103, 5.933, 24, True),
    WeatherStation("83069001", "HYERES", 43.097, 6.146, 3, False),
    WeatherStation("83050001", "DRAGUIGNAN", 43.536, 6.464, 180, False),
    WeatherStation("84031001", "CARPENTRAS", 44.083, 5.059, 99, True),
    WeatherStation("84007001", "AVIGNON", 43.949, 4.806, 20, False),
    WeatherStation("84087001", "ORANGE", 44.138, 4.809, 53, False),
)

PACA_DEPARTEMENTS = ("04", "05", "06", "13", "83", "84")


def commune(code: str) -> Commune:
    for c in COMMUNES:
        if c.code == code:
            return c
    raise KeyError(code)


def node(code: str) -> GridNode:
    for n in NODES:
        if n.code == code:
            return n
    raise KeyError(code)
