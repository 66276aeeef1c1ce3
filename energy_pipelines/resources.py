"""Dagster resources, built from the one `Settings` object (tests override them).

Resource fields are Dagster config, visible in the UI: they hold paths and modes, never a secret.
Secrets (the pseudonymisation key, the portal key) are read from the environment at run time
through `settings.load_settings()`, the only reader of the environment.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from energy_pipelines.settings import Settings, SourceOverride, load_settings
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.storage import ParquetStore, Warehouse, warehouse_of


class Platform(dg.ConfigurableResource):
    """Where this deployment keeps its data and how its sources run."""

    home: str
    mode: str = "sample"
    offline: bool = False
    # per-source overrides, {source_id: {"mode": ..., "url": ...}} as JSON (Dagster config is flat)
    sources_json: str = "{}"
    max_landing_file_mb: float = 256.0
    # where reports/ is served over http (`energy-pipelines ui`, `serve`); None: links are file:// URLs
    reports_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        sources = {k: v.model_dump(exclude_none=True) for k, v in settings.sources.items()}
        return cls(home=str(settings.home), mode=settings.mode, offline=settings.offline,
                   sources_json=json.dumps(sources, sort_keys=True), max_landing_file_mb=settings.max_landing_file_mb,
                   reports_url=settings.reports_url)

    @property
    def _sources(self) -> dict[str, SourceOverride]:
        return {k: SourceOverride.model_validate(v) for k, v in json.loads(self.sources_json).items()}

    def source_mode(self, source_id: str, declared: str | None) -> str:
        override = self._sources.get(source_id.lower())
        return (override.mode if override and override.mode else None) or declared or self.mode

    def source_url(self, source_id: str, declared: str | None) -> str | None:
        override = self._sources.get(source_id.lower())
        return (override.url if override and override.url else None) or declared

    @property
    def reports_dir(self) -> Path:
        return Path(self.home) / "reports"

    def landing(self, source_id: str) -> LandingZone:
        return LandingZone(Path(self.home) / "landing", source_id,
                           max_file_bytes=int(self.max_landing_file_mb * 1024 * 1024))

    @property
    def warehouse(self) -> Warehouse:
        return warehouse_of(self.home)

    @property
    def store(self) -> ParquetStore:
        return self.warehouse.store

    @staticmethod
    def pseudonymisation_key() -> str | None:
        """Read at run time from the environment, never part of the resource's config."""
        key = load_settings().pseudonymisation_key
        return key.get_secret_value() if key else None


class Portal(dg.ConfigurableResource):
    """Where products are published: the local portal mirror (default, offline) or DataSud (CKAN).

    `target="datasud"` reads DATASUD_URL and DATASUD_API_KEY from the environment at run time;
    the key is never part of this resource's configuration, so it never reaches run storage.
    """

    target: str = "mirror"
    mirror_root: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Portal:
        return cls(target=settings.publish_target, mirror_root=str(settings.published_dir))

    def publisher(self):
        from energy_pipelines.publish import CkanPublisher, MirrorPublisher

        if self.target == "datasud":
            return CkanPublisher.from_settings(load_settings())
        if self.target == "mirror":
            return MirrorPublisher(Path(self.mirror_root))
        raise ValueError(f"Portal.target={self.target!r}: expected 'mirror' or 'datasud'")
