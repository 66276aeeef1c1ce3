"""The blocking `secrecy_audit` check of every product that declares a secrecy layout.

`assets_config/secrecy/products.yaml` names the published products built from confidential cells. Each
gets this check: after a materialisation, the LP audit (`secrecy.stored.audit_stored`) reads back every
product of the same system over the whole Paris years the partition touches — what an attacker holds
together — and fails with ERROR when a masked cell can be narrowed below its protection, or when the
products disagree (a cell masked in one and published in another, a derived figure whose input is
masked). Blocking: downstream steps of the run stop, and the publication gate refuses the partition.

No `from __future__ import annotations` here: Dagster reads the context/resource annotations.
"""

import time
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.checks.factory import Verdict, _md_table, _read, emit, scope_of, why
from energy_pipelines.clock import Window
from energy_pipelines.resources import Platform
from energy_pipelines.secrecy.products import PRODUCTS_PATH, ProductsAudit, load_products
from energy_pipelines.secrecy.stored import audit_stored

SECRECY_AUDIT = "secrecy_audit"
SAMPLE = 10


def products_path_for(catalog: Catalog) -> Path:
    """The catalogue's own products.yaml (a test catalogue may declare other layouts), else the default."""
    path = catalog.directory / "secrecy" / "products.yaml"
    return path if path.exists() else PRODUCTS_PATH


def audited_products(catalog: Catalog) -> set[str]:
    return set(load_products(products_path_for(catalog)).products)


def reader(platform: Platform, catalog: Catalog):
    """read(dataset, window) -> the stored rows, as the audit wants them (all time: the whole dataset)."""
    def read(dataset: str, window: Window) -> pd.DataFrame:
        return _read(platform, catalog[dataset], None if window.is_all_time else (window.start, window.end)).to_pandas()
    return read


def verdict_of(result: ProductsAudit, seconds: float) -> Verdict:
    """Pass/fail, the counts, and the first exposed cells or violations as a table a reviewer can read."""
    masked = sum(r.summary.get("masked_cells", 0) for r in result.reports.values())
    exposed = result.exposed
    metadata = {
        "masked_cells": masked, "exposed_cells": int(len(exposed)), "violations": int(len(result.violations)),
        "unverifiable": int(len(result.unverifiable)), "audit_seconds": round(seconds, 2),
        "audited_rows": dg.MetadataValue.json(result.summary.get("rows", {})),
        "audited_windows": dg.MetadataValue.json(result.summary.get("windows", {})),
    }
    if result.passed:
        return Verdict(True, metadata=metadata, description=(
            f"{masked} masked cell(s) audited with every product of the system: none can be narrowed below "
            "its protection" if masked else "no masked cell in the audited products"))
    if len(exposed):
        dims = list(exposed.columns[exposed.columns.get_loc("label") + 1:exposed.columns.get_loc("kind")])
        metadata["exposed"] = dg.MetadataValue.md(_md_table(
            exposed[[*dims, "kind", "exposure", "attacker"]].drop_duplicates(dims[:1] + ["kind"]), SAMPLE))
    if len(result.violations):
        metadata["violations_sample"] = dg.MetadataValue.md(_md_table(result.violations, SAMPLE))
    reasons: dict[str, int | None] = {}
    if len(exposed):
        # "insider interval [3206.25, 3206.25] does not reach [...]" -> one reason, counted over its cells
        kinds = exposed["kind"].astype(str) + " cell: " + exposed["exposure"].str.replace(r"\[[^\]]*\]|\([-\d.,\s]+\)", "…", regex=True)
        reasons.update({k: int(n) for k, n in kinds.value_counts().items()})
    reasons.update({f"violation: {p}": int(n) for p, n in result.violations["problem"].value_counts().items()})
    return Verdict(False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                   description=(f"Secrecy audit failed ({len(exposed)} exposed cell(s), {len(result.violations)} "
                                f"violation(s)), nothing may be published: " + why(reasons, unit="cell(s)")))


def build_secrecy_audit_check(asset_key: dg.AssetKey, spec: DatasetSpec, catalog: Catalog,
                              partitions_def: dg.PartitionsDefinition | None) -> dg.AssetChecksDefinition:
    products_path = products_path_for(catalog)
    with warnings.catch_warnings():  # partitioned asset checks are "preview" in 1.13 (see factory.py)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _check(asset_key, spec, catalog, partitions_def, products_path)


def _check(asset_key, spec, catalog, partitions_def, products_path) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key, name=SECRECY_AUDIT, blocking=True, partitions_def=partitions_def,
        description=(f"Statistical secrecy: the LP audit of {spec.id} with every product of its system "
                     f"({products_path.name}) over the whole Paris years of the partition. An exposed masked cell or "
                     "an inconsistency between products fails with ERROR and blocks publication."),
    )
    def _secrecy_audit(context: dg.AssetCheckExecutionContext, platform: Platform):
        scope = scope_of(context, partitions_def)
        window = Window(*scope.window) if scope.window else Window.all_time()
        started = time.perf_counter()
        result = audit_stored([spec.id], reader(platform, catalog), window, products_path=products_path)
        verdict = verdict_of(result, time.perf_counter() - started)
        if not verdict.passed:
            context.log.error("%s [%s]: %s", spec.id, scope.label, verdict.description)
        # the audit covers whole years: every partition of the range shares its verdict
        yield from emit(context, asset_key, SECRECY_AUDIT, True, scope, verdict, lambda _: verdict)

    return _secrecy_audit
