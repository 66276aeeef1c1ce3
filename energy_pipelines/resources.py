"""Dagster resources: the data root and the source mode, handed to assets (tests override them)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from energy_pipelines.settings import MODES, Settings, load_settings, source_mode
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.storage import ParquetStore, Warehouse, warehouse_of


class Platform(dg.ConfigurableResource):
    """Where this deployment keeps its data and whether sources are simulated or live."""

    home: str
    mode: str = "sample"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Platform:
        settings = settings or load_settings()
        return cls(home=str(settings.home), mode=settings.mode)

    def settings(self) -> Settings:
        base = load_settings()
        if self.mode not in MODES:
            raise ValueError(f"Platform.mode={self.mode!r}: expected one of {MODES}")
        return Settings(home=Path(self.home), mode=self.mode, partitions_start=base.partitions_start,
                        partitions_end=base.partitions_end)

    def landing(self, source_id: str) -> LandingZone:
        return LandingZone(Path(self.home) / "landing", source_id)

    def source_mode(self, source_id: str, declared: str | None) -> str:
        return source_mode(source_id, declared, self.settings())

    @property
    def warehouse(self) -> Warehouse:
        return warehouse_of(self.home)

    @property
    def store(self) -> ParquetStore:
        return self.warehouse.store


class Portal(dg.ConfigurableResource):
    """Where products are published: the local portal mirror (default, offline) or DataSud (CKAN).

    `target="datasud"` reads DATASUD_URL and DATASUD_API_KEY from the environment at run time;
    the key is never part of this resource's configuration, so it never reaches run storage.
    """

    target: str = "mirror"
    mirror_root: str

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Portal:
        import os

        settings = settings or load_settings()
        target = os.environ.get("ENERGY_PIPELINES_PUBLISH_TARGET", "mirror")
        return cls(target=target, mirror_root=str(settings.published_dir))

    def publisher(self):
        from energy_pipelines.publish import CkanPublisher, MirrorPublisher

        if self.target == "datasud":
            return CkanPublisher.from_env()
        if self.target == "mirror":
            return MirrorPublisher(Path(self.mirror_root))
        raise ValueError(f"Portal.target={self.target!r}: expected 'mirror' or 'datasud'")
