"""Quality checks: expectation suites run as Dagster asset checks, quarantine, completeness, freshness,
and the secrecy audit of every product with a secrecy layout (`secrecy_audit.py`).

`build_checks(assets, catalog, settings)` (called by build.py) gives every catalogued asset its
checks, from the catalogue and `expectations/<id>.json`, with no code per dataset. See
docs/quality.md for how to add domain rules, and `factory.py` for what each check does.

Public API for publication: `publication_gate(instance, defs, asset_key, partitions)` ->
`QualityGate` (`.ok`, `.problems`, `.explain()`).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from energy_pipelines.catalog import Catalog
from energy_pipelines.checks.factory import (
    BLOCKING_CHECKS,
    CHECK_NAMES,
    COMPLETENESS,
    EXPECTATIONS,
    FRESHNESS,
    REJECTS,
    Clock,
    checks_for,
    utc_now,
)
from energy_pipelines.checks.gate import CheckVerdict, QualityGate, blocking_check_keys, publication_gate
from energy_pipelines.checks.secrecy_audit import SECRECY_AUDIT, audited_products, build_secrecy_audit_check
from energy_pipelines.checks.suites import Suite, expectations_dir_for, load_suite
from energy_pipelines.settings import Settings

__all__ = [
    "BLOCKING_CHECKS", "CHECK_NAMES", "COMPLETENESS", "EXPECTATIONS", "FRESHNESS", "REJECTS",
    "SECRECY_AUDIT",
    "CheckVerdict", "QualityGate", "Suite", "blocking_check_keys", "build_checks", "load_suite",
    "publication_gate",
]


def build_checks(assets: Sequence[dg.AssetsDefinition], catalog: Catalog, settings: Settings, *,
                 clock: Clock | None = None) -> list:
    """Asset checks for every catalogued asset in `assets`.

    `clock` gives "now" to the freshness checks (tests pass a fixed one); default: the wall clock.
    A malformed suite file fails here, at definitions load, naming the file.
    """
    directory = expectations_dir_for(catalog)
    secret = audited_products(catalog)
    out: list = []
    for assets_def in assets:
        for key in sorted(assets_def.keys, key=lambda k: k.to_user_string()):
            dataset = key.path[-1]
            if dataset not in catalog:
                continue
            spec = catalog[dataset]
            suite = load_suite(spec, directory)
            out.extend(checks_for(key, spec, suite, assets_def.partitions_def, clock or utc_now))
            if dataset in secret:
                out.append(build_secrecy_audit_check(key, spec, catalog, assets_def.partitions_def))
    return out
