"""Hostile input, part 3: two deliveries disagree on the same half-hour (issue 10, point 4).

The rule is declared (transforms/eco2mix.py): at equal status, the latest delivery wins — when the
file arrived, never its name — and the replaced figure is quarantined with both values.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pandas as pd

from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.rte_eco2mix import ADAPTER
from energy_pipelines.transforms.eco2mix import clean_eco2mix

T = datetime(2025, 6, 1, 8, tzinfo=timezone.utc)


def _export(zone: LandingZone, name: str, consumption: int, arrived: datetime) -> None:
    record = {"code_insee_region": "93", "nature": "Données consolidées", "date_heure": T.isoformat(),
              "consommation": consumption, "thermique": 300, "nucleaire": None, "eolien": 10, "solaire": 600,
              "hydraulique": 1000, "pompage": 0, "bioenergies": 100, "ech_physiques": consumption - 2010}
    path = zone.write_atomic(name, json.dumps([record]))
    os.utime(path, (arrived.timestamp(), arrived.timestamp()))


def test_the_latest_delivery_wins_whatever_the_file_names_and_both_values_are_kept(tmp_path):
    zone = LandingZone(tmp_path / "landing", "rte_eco2mix_regional")
    # "z_first" sorts last by name but arrived first; "a_correction" arrived an hour later
    _export(zone, "odre_eco2mix-regional-cons-def_z_first.json", 4000, T + timedelta(days=1))
    _export(zone, "odre_eco2mix-regional-cons-def_a_correction.json", 4321, T + timedelta(days=1, hours=1))
    read = zone.read_window(ADAPTER, T, T + timedelta(minutes=30))
    cleaned = clean_eco2mix(read.rows)
    assert cleaned.data["consommation_mw"].tolist() == [4321.0]
    assert cleaned.data["source_file"].tolist() == ["odre_eco2mix-regional-cons-def_a_correction.json"]
    (reason,) = cleaned.rejects["reason"].tolist()
    assert reason.startswith("superseded: other values kept from odre_eco2mix-regional-cons-def_a_correction.json:1")
    assert "consommation 4321.0 MW kept, 4000.0 MW here" in reason and "delivered 2025-06-02T09:00:00Z" in reason
    # nothing lost: one row kept, one quarantined
    assert len(cleaned.data) + len(cleaned.rejects) == len(read.rows) == 2


def test_the_same_figure_delivered_twice_is_a_duplicate_not_a_conflict(tmp_path):
    zone = LandingZone(tmp_path / "landing", "rte_eco2mix_regional")
    _export(zone, "odre_eco2mix-regional-cons-def_1.json", 4000, T + timedelta(days=1))
    _export(zone, "odre_eco2mix-regional-cons-def_2.json", 4000, T + timedelta(days=2))
    cleaned = clean_eco2mix(zone.read_window(ADAPTER, T, T + timedelta(minutes=30)).rows)
    assert cleaned.rejects["reason"].str.startswith("duplicate row: same values as").all()
    assert pd.Series(cleaned.data["consommation_mw"]).tolist() == [4000.0]
