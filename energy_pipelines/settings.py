"""Where the data lives and how sources run, read from the environment.

Everything a deployment changes is an environment variable; nothing here holds a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = PROJECT_ROOT / "assets_config"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

Mode = Literal["sample", "live"]
MODES: tuple[str, ...] = ("sample", "live")

# Dagster keeps its UI fast below ~100k partitions per asset; 2025-01-01 keeps the
# half-hourly definition near 35k today. History loads set an earlier start.
DEFAULT_PARTITIONS_START = "2025-01-01"


class SettingsError(ValueError):
    """A setting read from the environment is malformed."""


@dataclass(frozen=True)
class Settings:
    home: Path
    mode: str
    partitions_start: datetime
    partitions_end: datetime | None

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse_dir(self) -> Path:
        """Parquet files of every dataset, hive-partitioned by UTC date."""
        return self.home / "warehouse"

    @property
    def warehouse_db(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        """The local portal mirror: the default publication target."""
        return self.home / "published"

    @property
    def reports_dir(self) -> Path:
        """Data Docs pages and charts written beside the outputs."""
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"


def _parse_day(name: str, value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from None
    return day.replace(tzinfo=timezone.utc)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("ENERGY_PIPELINES_HOME") or PROJECT_ROOT / "data").expanduser().resolve()
    mode = env.get("ENERGY_PIPELINES_MODE", "sample").strip().lower()
    if mode not in MODES:
        raise SettingsError(f"ENERGY_PIPELINES_MODE={mode!r}: expected one of {', '.join(MODES)}")
    start = _parse_day(
        "ENERGY_PIPELINES_PARTITIONS_START",
        env.get("ENERGY_PIPELINES_PARTITIONS_START") or DEFAULT_PARTITIONS_START,
    )
    end_raw = env.get("ENERGY_PIPELINES_PARTITIONS_END")
    end = _parse_day("ENERGY_PIPELINES_PARTITIONS_END", end_raw) if end_raw else None
    if end is not None and end <= start:
        raise SettingsError(
            f"ENERGY_PIPELINES_PARTITIONS_END={end_raw} must be after the start {start:%Y-%m-%d}"
        )
    return Settings(home=home, mode=mode, partitions_start=start, partitions_end=end)


def source_mode(source_id: str, declared: str | None, settings: Settings,
                environ: dict[str, str] | None = None) -> str:
    """Mode of one source: its own env override, else the catalogue's, else the global one."""
    env = os.environ if environ is None else environ
    key = f"ENERGY_PIPELINES_MODE__{source_id.upper()}"
    mode = (env.get(key) or declared or settings.mode).strip().lower()
    if mode not in MODES:
        raise SettingsError(f"{key or 'mode'}={mode!r}: expected one of {', '.join(MODES)}")
    return mode
