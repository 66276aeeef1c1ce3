"""Eligibility of the operation as an extended collective self-consumption (out_acc__eligibility).

Two rules checked on the register, for every configuration of members over time (each entry or
exit starts a new one):
- perimeter: the distance between the two furthest participants (great-circle, WGS84 mean radius)
  must not exceed the limit that applies (2 km by default; larger limits by derogation, each with
  its legal source in assets_config/uc5/eligibility.yaml);
- power cap: the cumulated peak power of the producers must not exceed the cap.
Each finding says in French what was measured, against which limit and source, and whether the
operation complies; a participant without coordinates makes the perimeter unknown (null), never
compliant by default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import Window
from energy_pipelines.transforms.acc.params import EligibilityParams
from energy_pipelines.transforms.acc.register import PRODUCER
from energy_pipelines.transforms.result import Derived

EARTH_RADIUS_M = 6_371_008.8
ELIGIBILITY_COLUMNS = ["rule", "period_start_utc", "period_end_utc", "members", "value", "limit", "unit",
                       "compliant", "participant_a", "participant_b", "legal_source", "source_verified", "message"]


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dp, dl = p2 - p1, np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _fr(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}".replace(",", " ").replace(".", ",")


def furthest_pair(people: pd.DataFrame) -> tuple[float | None, str | None, str | None]:
    """(distance in m, id a, id b) of the two furthest participants; None when a position is missing."""
    one = people.drop_duplicates("participant_id")
    if len(one) < 2:
        return 0.0, None, None
    if one[["latitude", "longitude"]].isna().any().any():
        return None, None, None
    lat, lon = one["latitude"].to_numpy(float), one["longitude"].to_numpy(float)
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    i, j = np.unravel_index(np.argmax(d), d.shape)
    ids = one["participant_id"].to_numpy()
    return float(d[i, j]), str(ids[i]), str(ids[j])


def eligibility(participants: pd.DataFrame, params: EligibilityParams, window: Window | None = None) -> Derived:
    """out_acc__eligibility from core_acc__participants (all)."""
    if participants.empty:
        return Derived(pd.DataFrame(columns=ELIGIBILITY_COLUMNS), figures={"configurations": 0})
    start = pd.to_datetime(participants["membership_start_utc"], utc=True)
    end = pd.to_datetime(participants["membership_end_utc"], utc=True)
    bounds = sorted(set(start) | set(end.dropna()))
    limit = params.perimeters[params.perimeter]
    rows = []
    for lo, hi in zip(bounds, [*bounds[1:], pd.NaT], strict=True):
        members = participants[(start <= lo) & (end.isna() | (end > lo))]
        if members.empty:
            continue
        n = int(members["participant_id"].nunique())
        dist, a, b = furthest_pair(members)
        common = {"period_start_utc": lo, "period_end_utc": hi, "members": n}
        if dist is None:
            rows.append({**common, "rule": "perimetre", "value": None, "limit": limit.max_distance_km, "unit": "km",
                         "compliant": None, "participant_a": None, "participant_b": None,
                         "legal_source": limit.legal_source, "source_verified": limit.verified,
                         "message": "Périmètre inconnu : au moins un participant n'a pas de coordonnées dans le "
                                    "registre ; la règle ne peut pas être vérifiée."})
        else:
            km = dist / 1000
            ok = km <= limit.max_distance_km
            rows.append({**common, "rule": "perimetre", "value": round(km, 3), "limit": limit.max_distance_km,
                         "unit": "km", "compliant": ok, "participant_a": a, "participant_b": b,
                         "legal_source": limit.legal_source, "source_verified": limit.verified,
                         "message": (f"Périmètre {'respecté' if ok else 'dépassé'} : les deux participants les plus "
                                     f"éloignés ({a} et {b}) sont à {_fr(km)} km l'un de l'autre, pour une limite de "
                                     f"{_fr(limit.max_distance_km, 0)} km ({params.perimeter} ; {limit.legal_source})."
                                     if a else "Périmètre respecté : un seul participant.")})
        kwc = float(members.loc[members["role"] == PRODUCER, "pv_peak_kwc"].fillna(0).sum())
        missing = members.loc[members["role"] == PRODUCER, "pv_peak_kwc"].isna().any()
        cap = params.max_total_peak_power_kw
        ok = None if missing else kwc <= cap
        rows.append({**common, "rule": "puissance", "value": None if missing else round(kwc, 3), "limit": cap,
                     "unit": "kWc", "compliant": ok, "participant_a": None, "participant_b": None,
                     "legal_source": params.power_cap_legal_source, "source_verified": params.power_cap_verified,
                     "message": "Puissance inconnue : un producteur n'a pas de puissance crête dans le registre."
                     if missing else (f"Puissance cumulée des producteurs {'conforme' if ok else 'au-delà du plafond'} : "
                                      f"{_fr(kwc, 1)} kWc pour un plafond de {_fr(cap, 0)} kWc "
                                      f"({params.power_cap_legal_source}).")})
    out = pd.DataFrame(rows, columns=ELIGIBILITY_COLUMNS)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    out["compliant"] = out["compliant"].astype("boolean")
    failing = out[out["compliant"].eq(False).fillna(False)]
    return Derived(out, figures={
        "configurations": int(out["period_start_utc"].nunique()),
        "non_compliant": failing["message"].tolist(),
        "unknown": int(out["compliant"].isna().sum()),
        "latest_diameter_km": None if out.empty else out.loc[out["rule"] == "perimetre", "value"].iloc[-1]})
