"""Enedis's own allocation results for the operation, when the PMO receives them (closed).

Per PRM and step, the quantities Enedis computed with the key in force (those of the R15 ACC flux):
CONS, AUTOCONS, COMPLEMENT for consumers; PROD, AUTOPROD, SURPLUS for producers; same layout as
the curves (`sources/acc_formats.py`), one file per Paris day,
`ACC_<operation>_REPARTITION_<YYYYMMDD>.csv`, in landing/acc_enedis_allocation/. The platform
recomputes the allocation itself and reconciles the two (transforms/acc/invariants.py).
"""

from __future__ import annotations

from pathlib import Path

from energy_pipelines.sources.acc_formats import ALLOCATED, day_span, read_measures
from energy_pipelines.sources.base import FileRead, SourceAdapter


class AccEnedisAllocationAdapter(SourceAdapter):
    suffixes = (".csv",)

    def span_from_name(self, path: Path):
        return day_span(path)

    def read_file(self, path: Path) -> FileRead:
        return read_measures(path, ALLOCATED, "allocation")


ADAPTER = AccEnedisAllocationAdapter()
