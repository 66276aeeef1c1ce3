"""Effective ownership onto the Dagster asset specs: owners, tags, metadata, Parquet metadata."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from energy_pipelines.catalog import Catalog
from energy_pipelines.governance.licensing import decide_licence
from energy_pipelines.governance.lineage import Effective, compute_lineage
from energy_pipelines.storage.io_manager import PARQUET_METADATA_KEY


def graph_deps(assets: Sequence[dg.AssetsDefinition]) -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            deps[spec.key.path[-1]] = {d.asset_key.path[-1] for d in spec.deps}
    return deps


def licence_entry(licence: str, catalog: Catalog) -> dict:
    entry = catalog.licences[licence]
    return {"id": licence, "title": entry.title, "url": entry.url, "ckan_id": entry.ckan_id}


def parquet_metadata(eff: Effective, catalog: Catalog) -> dict:
    """What every Parquet file of the dataset carries about who owns it."""
    spec = catalog[eff.dataset]
    licence = decide_licence(eff, catalog)
    return {
        "dataset": eff.dataset,
        "title": spec.title,
        "owners": [{"id": o, "name": catalog.organisations[o].name} for o in eff.owners],
        "publishers": [{"id": p, "name": catalog.organisations[p].name} for p in eff.publishers],
        # one licence, the dataset's own (for a published product: the one its publication was allowed
        # under, see governance/licensing.py); the same in datapackage.json and CKAN's license_id
        "licence": licence_entry(spec.licence, catalog),
        "attribution": [{"id": o, "name": catalog.organisations[o].name} for o in licence.attribution],
        "access": eff.access,
        "personal_data": eff.personal_data,
        "commercially_sensitive": eff.commercially_sensitive,
        "derived_from": list(eff.upstream),
    }


def apply_governance(assets: Sequence[dg.AssetsDefinition], catalog: Catalog) -> tuple[list, dict[str, Effective]]:
    lineage = compute_lineage(catalog, graph_deps(assets))

    def with_ownership(spec: dg.AssetSpec) -> dg.AssetSpec:
        eff = lineage[spec.key.path[-1]]
        return spec.replace_attributes(
            owners=[f"team:{o}" for o in eff.owners],
            tags={
                **spec.tags,
                "access": eff.access,
                "personal_data": str(eff.personal_data).lower(),
                "commercially_sensitive": str(eff.commercially_sensitive).lower(),
            },
        ).merge_attributes(metadata={
            "owners": ", ".join(catalog.organisations[o].name for o in eff.owners),
            "publishers": ", ".join(catalog.organisations[p].name for p in eff.publishers),
            "licence": catalog.licences[catalog[eff.dataset].licence].title,
            "upstream_licences": ", ".join(catalog.licences[x].title for x in eff.licences),
            "access": eff.access,
            "lineage_of_owners": dg.MetadataValue.json(eff.as_metadata()),
            PARQUET_METADATA_KEY: dg.MetadataValue.json(parquet_metadata(eff, catalog)),
            **({"governance_warnings": dg.MetadataValue.json(list(eff.warnings))} if eff.warnings else {}),
        })

    return list(dg.map_asset_specs(with_ownership, assets)), lineage
