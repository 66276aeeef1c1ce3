"""What every source adapter provides: one reader, and for API sources a live fetch.

Both modes end the same way: files in `landing/<source id>/`, read by the same reader. In sample
mode the simulator (`energy_pipelines.simulate`, looked up by source id) writes those files: it is
upstream of the reader, never a shortcut around it, and readers never import it.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

if TYPE_CHECKING:
    import logging


REJECT_COLUMNS = ["datetime_utc", "source_line", "reason", "record"]


class Landing(Protocol):
    """What a live fetch writes into: a landing folder (`sources.landing.LandingZone`)."""

    dir: Path

    def write_atomic(self, name: str, content: bytes | str, encoding: str = "utf-8") -> Path: ...


class SourceFileError(ValueError):
    """A landing file cannot be read at all; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


@dataclass
class FileRead:
    """One landing file, parsed: rows located in UTC time, rows it had to reject, and figures."""

    rows: pd.DataFrame  # must hold `datetime_utc` (tz-aware UTC) and `source_line`
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    stats: dict[str, int] = field(default_factory=dict)


def reject_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rejects as a frame; `record` is kept as JSON text so nothing of the input is lost."""
    frame = pd.DataFrame(rows, columns=REJECT_COLUMNS)
    frame["record"] = [r if isinstance(r, str) or r is None else json.dumps(r, ensure_ascii=False, default=str)
                       for r in frame["record"]]
    frame["datetime_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True)
    return frame


@dataclass(frozen=True)
class FetchContext:
    """What a live fetch needs besides the window: the catalogue's live settings and a logger."""

    live: dict[str, Any]
    log: logging.Logger


class SourceAdapter(ABC):
    """One provider's formats. Subclasses live in `energy_pipelines.sources.<module>` as `ADAPTER`."""

    #: file suffixes the reader understands (lower case); others in the folder are reported
    suffixes: tuple[str, ...] = (".csv",)

    @abstractmethod
    def read_file(self, path: Path) -> FileRead:
        """Parse one file; raise SourceFileError when the file as a whole is unusable."""

    def span_from_name(self, path: Path) -> tuple[datetime, datetime] | None:
        """The UTC span a file covers, when its name tells it (saves parsing it)."""
        return None

    def fetch(self, landing: Landing, start: datetime, end: datetime, ctx: FetchContext) -> list[Path]:
        """Live mode: pull [start, end) from the provider's API into the landing zone.

        File-drop sources (the owner delivers files) fetch nothing: the default.
        """
        return []


def load_adapter(name: str) -> SourceAdapter:
    try:
        module = importlib.import_module(f"energy_pipelines.sources.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"source adapter {name!r}: no module energy_pipelines.sources.{name}") from exc
    adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, SourceAdapter):
        raise ValueError(f"source adapter {name!r}: module defines no ADAPTER instance")
    return adapter
