"""Enedis regional half-hourly aggregates of PACA, written as Opendatasoft CSV exports.

Consistent with the regional mix (`paca_mix.mix`): the distribution network carries ~80 % of
RTE's regional consumption (the rest is transmission-connected industry) and most of the PV,
all the wind, part of the hydro, bioenergy and thermal output. A few segments with too few sites
are secret, as Enedis publishes them: `indice_representativite_*` = `S` and the curve replaced
by the mean of its Paris day.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.simulate import paca_mix
from energy_pipelines.simulate.enedis_communes import load_shape, paris_day_files
from energy_pipelines.sources.enedis_open import FIELDS

REGION = ("Provence-Alpes-Côte d'Azur", "93")
P0_INF = "P0: Total <= 36 kVA"
P0_SUP = "P0: Total > 36 kVA"
P0_INJ = "P0 : Total toutes puissances"

# (profil, plage, sites, share of RTE regional consumption, shape, secret)
INF36 = [
    ("RES1 (+ RES1WE)", P0_INF, 1_650_000, 0.22, "home", False),
    ("RES2 (+ RES5)", P0_INF, 700_000, 0.14, "heating", False),
    ("RES11 (+ RES11WE)", P0_INF, 300_000, 0.03, "home", False),
    ("PRO1 (+ PRO1WE)", P0_INF, 380_000, 0.08, "office", False),
    ("PRO2 (+ PRO2WE)", P0_INF, 60_000, 0.03, "office", False),
    ("PRO6", P0_INF, 8, 0.000002, "flat", True),
]
# (profil, plage, secteur, sites, share, shape, secret); sector labels [to verify on a live export]
SUP36 = [
    ("ENT1 (+ ENT2)", P0_SUP, "S1: Agriculture", 3_000, 0.01, "office", False),
    ("ENT1 (+ ENT2)", P0_SUP, "S2: Industrie", 6_000, 0.12, "industry", False),
    ("ENT1 (+ ENT2)", P0_SUP, "S3: Tertiaire", 25_000, 0.24, "office", False),
    ("ENT1 (+ ENT2)", P0_SUP, "S4: Non affecté", 9, 0.000004, "flat", True),
]
# (filière, plage, sites, source column of the regional mix, share of it, secret)
PROD = [
    ("F5 : Solaire", P0_INJ, 98_000, "solaire", 0.85, False),
    ("F5 : Solaire", "P1 : ]0 - 3] kW", 55_000, "solaire", 0.10, False),
    ("F5 : Solaire", "P2 : ]3 - 9] kW", 30_000, "solaire", 0.17, False),
    ("F3 : Hydraulique", P0_INJ, 90, "hydraulique", 0.15, False),
    ("F4 : Eolien", P0_INJ, 12, "eolien", 1.0, False),
    ("F2 : Bioénergies", P0_INJ, 40, "bioenergies", 0.6, False),
    ("F1 : Thermique non renouvelable", P0_INJ, 25, "thermique", 0.06, False),
    ("F6 : Autres", P0_INJ, 2, None, 3.0, True),  # 3 MW flat
]


def _curves(values: np.ndarray, sites: int, secret: bool, local: pd.DatetimeIndex) -> dict[str, list]:
    """Total and mean curves as Enedis writes them; a secret segment gets its Paris-day mean."""
    if secret:
        day = pd.Series(values).groupby(np.asarray(local.date)).transform("mean").to_numpy()
        values = day
    mean = values / max(sites, 1)
    index = "S" if secret else "97"
    return {
        "total": np.round(values).astype("int64").tolist(),
        "courbe_moyenne_ndeg1_wh": np.round(mean * 1.01).astype("int64").tolist(),
        "indice_representativite_courbe_ndeg1": [index] * len(values),
        "courbe_moyenne_ndeg2_wh": np.round(mean * 0.99).astype("int64").tolist(),
        "indice_representativite_courbe_ndeg2": [index] * len(values),
        "courbe_moyenne_ndeg1_ndeg2_wh": np.round(mean).astype("int64").tolist(),
        "indice_representativite_courbe_ndeg1_ndeg2": [index] * len(values),
    }


def export(dataset: str, times: pd.DatetimeIndex) -> str:
    """The rows of one Enedis dataset for `times` (UTC half-hour starts), as a ';' CSV export."""
    mix = paca_mix.mix(times)
    local = times.tz_convert(PARIS)
    from energy_pipelines.simulate import weather

    temp = weather.temperature_c(times)
    stamps = [t.isoformat() for t in local]
    wh = 1e6 * 0.5  # MW over a half-hour -> Wh
    frames = []
    if dataset == "prod-region":
        segments = []
        for filiere, plage, sites, column, share, secret in PROD:
            mw = share * (mix[column].to_numpy(dtype=float) if column else np.ones(len(times)))
            segments.append(({"filiere_de_production": filiere, "plage_de_puissance_injection": plage,
                              "nb_points_injection": sites}, mw * wh, sites, secret))
        p0 = [s for s in segments if s[0]["plage_de_puissance_injection"] == P0_INJ]
        total = np.sum([s[1] for s in p0], axis=0)
        segments.insert(0, ({"filiere_de_production": "F0 : Total toutes filières",
                             "plage_de_puissance_injection": P0_INJ,
                             "nb_points_injection": sum(s[2] for s in p0)}, total, sum(s[2] for s in p0), False))
        energy_field, count_field = "total_energie_injectee_wh", "nb_points_injection"
    else:
        table = INF36 if dataset == "conso-inf36-region" else SUP36
        segments = []
        consumption = mix["consommation"].to_numpy(dtype=float)
        for row in table:
            if dataset == "conso-inf36-region":
                profil, plage, sites, share, kind, secret = row
                keys = {"profil": profil, "plage_de_puissance_souscrite": plage}
            else:
                profil, plage, secteur, sites, share, kind, secret = row
                keys = {"profil": profil, "plage_de_puissance_souscrite": plage, "secteur_activite": secteur}
            values = share * consumption * load_shape(kind, local, temp) * wh
            segments.append(({**keys, "nb_points_soutirage": sites}, values, sites, secret))
        energy_field, count_field = "total_energie_soutiree_wh", "nb_points_soutirage"
    for keys, values, sites, secret in segments:
        curves = _curves(np.asarray(values, dtype=float), sites, secret, local)
        frame = pd.DataFrame({"horodate": stamps, "region": REGION[0], "code_region": REGION[1], **keys})
        frame[count_field] = sites
        frame[energy_field] = curves.pop("total")
        for k, v in curves.items():
            frame[k] = v
        frame["jour_max_du_mois_0_1"] = "0"
        frame["semaine_max_du_mois_0_1"] = "0"
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    return out[FIELDS[dataset]].to_csv(sep=";", index=False, lineterminator="\n")


def write_days(landing, dataset: str, start: datetime, end: datetime, *, now: datetime | None = None) -> list:
    return paris_day_files(landing, start, end, now=now,
                           name=lambda day: f"sample_{dataset}_93_{day}.csv",
                           content=lambda times: export(dataset, times))


def write_source(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list:
    """The registry's entry: the open dataset this landing folder receives."""
    from energy_pipelines.sources.enedis_open import SOURCE_DATASETS

    return write_days(landing, SOURCE_DATASETS[landing.source_id], start, end, now=now)
