"""Quality checks: expectation suites run as Dagster asset checks (filled in by the quality work)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from energy_pipelines.catalog import Catalog
from energy_pipelines.settings import Settings


def build_checks(assets: Sequence[dg.AssetsDefinition], catalog: Catalog, settings: Settings) -> list:
    """Asset checks for every catalogued asset in `assets`."""
    return []
