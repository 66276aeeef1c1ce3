"""The deterministic regional simulator behind the offline `sample` mode.

It plays the data providers: it writes files in their exact formats into the landing zone,
upstream of the real readers. Every value is a pure function of the timestamp (and a seed),
so re-running gives the same bytes and any window can be generated independently.

Readers never import simulators: this registry maps each source (the catalogue's `source.id`)
to the function that plays it, `fn(landing, start, end, *, now=None) -> list[Path]`.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path

SIMULATORS: dict[str, str] = {
    "rte_eco2mix_regional": "paca_mix:write_eco2mix_days",
    "rte_temperature_daily": "buildings:write_temperature",
    "spie_transaction_history": "charging:write_history",
    "spie_transaction_log": "charging:write_transaction_log",
    "spie_event_log": "charging:write_event_log",
    "irve_symenergie05": "registers:write_irve",
    "insee_commune_typology": "registers:write_typology",
    "insee_cog": "registers:write_cog",
    "meteofrance_weather": "climate:write_weather",
    "enedis_green_signal": "green_signal:write_signal",
    "enedis_green_signal_history": "green_signal:write_history",
    "enedis_commune_consumption": "enedis_communes:write_source",
    "enedis_commune_production": "enedis_communes:write_source",
    "enedis_conso_inf36_region": "enedis_open:write_source",
    "enedis_conso_sup36_region": "enedis_open:write_source",
    "enedis_prod_region": "enedis_open:write_source",
    "ore_local": "uc1:write_ore_local",
    "ore_aggregates": "uc1:write_ore_aggregates",
    "enedis_production_annual": "uc1:write_enedis_production",
    "atmosud_cigale": "uc1:write_cigale",
    "insee_population": "uc1:write_population",
    "patrimoine_batiments": "buildings:write_buildings",
    "patrimoine_compteurs": "buildings:write_meters",
    "fournisseurs_factures": "buildings:write_bills",
    "enedis_sge_courbes": "buildings:write_load_curves",
    "grdf_adict": "buildings:write_grdf",
    "education_calendrier": "buildings:write_school_calendar",
    "acc_register": "acc:write_register_source",
    "acc_keys": "acc:write_keys_source",
    "acc_curves": "acc:write_curves",
    "acc_enedis_allocation": "acc:write_enedis_allocation",
}


class NoSimulator(LookupError):
    """A source in sample mode that nothing simulates; the message names it."""


def simulator_for(source_id: str):
    target = SIMULATORS.get(source_id)
    if target is None:
        raise NoSimulator(f"no simulator for source {source_id!r}: add it to energy_pipelines/simulate/SIMULATORS "
                          "or run the source in live mode")
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(f"energy_pipelines.simulate.{module}"), function)


def simulate(source_id: str, landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """Sample mode: write what the provider of `source_id` would have delivered for [start, end)."""
    return simulator_for(source_id)(landing, start, end, now=now)
