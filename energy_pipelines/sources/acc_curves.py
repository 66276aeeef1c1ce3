"""Participants' load and production curves of a collective self-consumption operation (closed).

What the PMO receives from Enedis for each PRM of the operation: the measured withdrawal (CONS) of
consumers and injection (PROD) of producers, at the operation's step (30 min, 15 min), in the
Enedis measure-file layout of `sources/acc_formats.py` (end-of-step horodate, Paris time with or
without offset, EA in Wh or PA in W). One file per Paris day, `ACC_<operation>_COURBES_<YYYYMMDD>.csv`,
dropped in landing/acc_curves/ (delivery: file drop; the simulator writes the same in sample mode).
Rows are located in UTC by the START of their step; rows that cannot be typed (PRM, step, time that
does not exist or repeats on a DST day, negative or missing reading, duplicate) are rejected with
the reason. Load curves are personal data.
"""

from __future__ import annotations

from pathlib import Path

from energy_pipelines.sources.acc_formats import MEASURED, day_span, read_measures
from energy_pipelines.sources.base import FileRead, SourceAdapter


class AccCurvesAdapter(SourceAdapter):
    suffixes = (".csv",)

    def span_from_name(self, path: Path):
        return day_span(path)

    def read_file(self, path: Path) -> FileRead:
        return read_measures(path, MEASURED, "curves")


ADAPTER = AccCurvesAdapter()
