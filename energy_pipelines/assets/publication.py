"""Publication to DataSud: one asset per published product (`datasud/<out dataset>`).

Each runs when its product changes and its blocking checks have passed (declarative
automation), applies the access policy computed from the lineage of owners, rebuilds the
product's monthly files and data package, holds back any file whose partitions fail a
blocking check, and publishes the rest, uploading only files whose content changed.
"""

import json
from datetime import datetime
from pathlib import Path

import dagster as dg

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.checks import publication_gate
from energy_pipelines.governance.dagster_specs import parquet_metadata
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.governance.policy import PRIVATE, decide
from energy_pipelines.publish import PublicationRequest
from energy_pipelines.publish.products import datapackage, export_product, write_datapackage
from energy_pipelines.resources import Platform, Portal

GROUP = "publication"
MANIFEST = ".published.json"  # what was last published from this staging folder: name -> sha256
# metadata key saying what a publication run did: new files uploaded, nothing changed, or no data at all
PUBLICATION_STATUS = "publication_status"
PUBLISHED, UNCHANGED, EMPTY = "published", "unchanged", "empty"


def publication_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["datasud", dataset])


def _partitions_in(instance: dg.DagsterInstance, graph, dataset: str,
                   period: tuple[datetime, datetime] | None) -> list[str] | None:
    """The materialised partitions of the product that a file covers (what it actually holds)."""
    pdef = graph.get(dg.AssetKey(dataset)).partitions_def
    if pdef is None or period is None:
        return None
    materialised = instance.get_materialized_partitions(dg.AssetKey(dataset))
    return [k for k in pdef.get_partition_keys_in_time_window(dg.TimeWindow(*period)) if k in materialised]


# The dynamic link: publish whenever the product was updated since the last publication. Not
# `eager()`: it waits for *every* partition of a partitioned product to exist, which a product
# started on 2025-01-01 never satisfies. Quality is gated inside the asset, per file.
WHEN_PRODUCT_CHANGES = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("when the product changes")


def build_publication_asset(spec: DatasetSpec, eff: Effective, catalog: Catalog,
                            data_defs: dg.Definitions) -> dg.AssetsDefinition:
    """`data_defs`: the data assets with their checks, which the quality gate reads."""
    decision = decide(eff, catalog)

    @dg.asset(
        key=publication_key(spec.id),
        deps=[spec.id],
        group_name=GROUP,
        owners=[f"team:{o}" for o in eff.owners],
        tags={"access": eff.access, "publication": decision.outcome},
        kinds={"ckan"},
        description=f"Publishes {spec.id} to DataSud ({decision.reason}).",
        metadata={"policy": decision.reason, "product": spec.id},
        automation_condition=WHEN_PRODUCT_CHANGES,
        # a product with no data publishes nothing: the step succeeds without a materialisation
        output_required=False,
    )
    def _publish(context: dg.AssetExecutionContext, platform: Platform, portal: Portal):
        verdict = decide(eff, catalog)
        if not verdict.allowed:
            raise dg.Failure(description=verdict.reason,
                             metadata={"responsible_upstream": list(eff.access_from + eff.personal_from
                                                                    + eff.commercial_from)})
        if not platform.store.files(spec.id):
            reason = f"{spec.id} holds no data yet: nothing published"
            context.log.warning("skipped %s: %s", context.asset_key.to_user_string(), reason)
            # no materialisation (the asset stays unmaterialised in the UI); the observation keeps the reason
            yield dg.AssetObservation(asset_key=context.asset_key, metadata={
                PUBLICATION_STATUS: EMPTY, "reason": reason, "target": portal.target, "outcome": verdict.outcome})
            return
        staging = Path(platform.home) / "publication" / spec.id
        files = export_product(spec, platform.store, staging, parquet_metadata(eff, catalog))
        manifest_path = staging / MANIFEST
        previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        graph = data_defs.resolve_asset_graph()
        held_back = {}
        for f in files:
            if previous.get(f.resource.name) == f.sha256:
                continue  # unchanged since the last publication: nothing new to vouch for
            gate = publication_gate(context.instance, graph, spec.id,
                                    _partitions_in(context.instance, graph, spec.id, f.period))
            if not gate.ok:
                held_back[f.resource.name] = gate.explain(limit=5)
        publishable = [f for f in files if f.resource.name not in held_back]
        package = write_datapackage(datapackage(spec, eff, catalog, publishable), staging)
        request = PublicationRequest(
            name=spec.id, title=spec.title, notes=" ".join(spec.description.split()),
            owner_org=verdict.organisation, private=verdict.outcome == PRIVATE,
            license_id=catalog.licences[spec.licence].ckan_id,
            tags=tuple(k.replace(" ", "-") for k in spec.keywords),
            extras={"owners": ", ".join(eff.owners), "publishers": ", ".join(eff.publishers),
                    "licences": ", ".join(eff.licences), "access": eff.access,
                    "derived_from": ", ".join(eff.upstream), "lifted_by": eff.lifted_by or ""},
            resources=tuple(f.resource for f in [*publishable, package]),
        )
        report = portal.publisher().publish(request)
        published = {**{k: v for k, v in previous.items() if k in held_back},
                     **{f.resource.name: f.sha256 for f in [*publishable, package]}}
        manifest_path.write_text(json.dumps(published, indent=1, sort_keys=True))
        context.log.info("%s: uploaded %d file(s), %d unchanged, %d held back", spec.id, len(report.uploaded),
                         len(report.unchanged), len(held_back))
        meta = {
            PUBLICATION_STATUS: PUBLISHED if report.uploaded else UNCHANGED,
            "target": portal.target, "outcome": verdict.outcome, "organisation": verdict.organisation,
            "uploaded": dg.MetadataValue.json(report.uploaded), "unchanged": len(report.unchanged),
            "held_back": dg.MetadataValue.json(held_back), "files": len(publishable),
            "datapackage": dg.MetadataValue.path(str(package.resource.path)),
            **({"url": dg.MetadataValue.url(report.url)} if report.url else {}),
        }
        if held_back:
            raise dg.Failure(description=f"{len(held_back)} file(s) of {spec.id} held back by failing blocking "
                                         f"checks; the rest is published", metadata=meta)
        yield dg.MaterializeResult(metadata=meta)

    return _publish


def build_publication_assets(catalog: Catalog, lineage: dict[str, Effective],
                             data_defs: dg.Definitions) -> list[dg.AssetsDefinition]:
    return [build_publication_asset(catalog[d], lineage[d], catalog, data_defs)
            for d in sorted(lineage) if catalog[d].publish]
