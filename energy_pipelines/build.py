"""build_defs(): the one Definitions object, assembled from the catalogue.

Tests, the CLI and notebooks call build_defs() with their own settings; `definitions.py` is the
stable module `workspace.yaml` and `dg` load.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from energy_pipelines import automation, checks
from energy_pipelines.assets import derived, publication, raw, uc2, uc3
from energy_pipelines.catalog import Catalog, default_catalog
from energy_pipelines.governance.dagster_specs import apply_governance, graph_deps
from energy_pipelines.portal.dagster import portal_definitions
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.ops.alerts import alert_sensors
from energy_pipelines.ops.celery import scale_out
from energy_pipelines.resources import Platform, Portal
from energy_pipelines.settings import CATALOG_DIR, Settings, load_settings
from energy_pipelines.storage.io_manager import ParquetIOManager

# BackfillPolicy is still flagged beta in 1.13; we rely on it knowingly (DESIGN §4)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# use-case modules, each with build_assets(catalog, settings)
ASSET_MODULES = [uc2, uc3]


def build_data_assets(catalog: Catalog, settings: Settings) -> tuple[list[dg.AssetsDefinition], dict[str, Effective]]:
    """Every catalogued dataset as an asset, with the ownership its lineage gives it."""
    assets = raw.build_raw_assets(catalog, settings) + derived.build_derived_assets(catalog, settings)
    for module in ASSET_MODULES:
        assets.extend(module.build_assets(catalog, settings))
    return apply_governance(assets, catalog)


def build_defs(settings: Settings | None = None, catalog_dir: Path | str = CATALOG_DIR,
               resource_overrides: dict | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    catalog = default_catalog(str(catalog_dir))
    data, lineage = build_data_assets(catalog, settings)
    data_checks = checks.build_checks(data, catalog, settings)
    resources = {
        "platform": Platform.from_settings(settings),
        "portal": Portal.from_settings(settings),
        "parquet_io": ParquetIOManager(home=str(settings.home), catalog_dir=str(catalog_dir)),
        **(resource_overrides or {}),
    }
    # the publication's quality gate reads the data assets with their checks: that graph is complete
    # before any publication asset exists, so it is handed to them (nothing filled in afterwards)
    data_defs = dg.Definitions(assets=data, asset_checks=data_checks, resources=resources)
    assets = [*data, *publication.build_publication_assets(catalog, lineage, data_defs)]
    executor, jobs = scale_out(settings, automation.jobs(assets))  # Celery when ENERGY_PIPELINES_EXECUTOR=celery
    pipeline = dg.Definitions(
        assets=assets,
        asset_checks=data_checks,
        jobs=jobs,
        executor=executor,
        schedules=automation.schedules(assets),
        sensors=[*automation.sensors(assets, settings), *alert_sensors(catalog, settings)],
        resources=resources,
    )
    return dg.Definitions.merge(pipeline, portal_definitions(catalog, lineage, graph_deps(data)))
