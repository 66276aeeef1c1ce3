"""Agence ORE département and region aggregates: the same reader as the commune/IRIS files.

A separate landing folder (`landing/ore_aggregates/`) and raw dataset because they are separate
Opendatasoft datasets, fetched and delivered on their own; the format, secrecy marks and checks are
those of `ore_consumption`.
"""

from energy_pipelines.sources.ore_consumption import OreConsumptionAdapter

ADAPTER = OreConsumptionAdapter("aggregates")
