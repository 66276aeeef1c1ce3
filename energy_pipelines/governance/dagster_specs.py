"""Effective ownership onto the Dagster asset specs: owners, tags, metadata, Parquet metadata."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from energy_pipelines.catalog import Catalog
from energy_pipelines.governance.lineage import Effective, compute_lineage
from energy_pipelines.storage.io_manager import PARQUET_METADATA_KEY


def graph_deps(assets: Sequence[dg.AssetsDefinition]) -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {}
    for assets_def in assets:
        for spec in assets_def.specs:
            deps[spec.key.path[-1]] = {d.asset_key.path[-1] for d in spec.deps}
    return deps


def parquet_metadata(eff: Effective, catalog: Catalog) -> dict:
    """What every Parquet file of the dataset carries about who owns it."""
    spec = catalog[eff.dataset]
    return {
        "dataset": eff.dataset,
        "title": spec.title,
        "owners": [{"id": o, "name": catalog.organisations[o].name} for o in eff.owners],
        "publishers": [{"id": p, "name": catalog.organisations[p].name} for p in eff.publishers],
        "licences": [{"id": lic, "title": catalog.licences[lic].title, "url": catalog.licences[lic].url}
                     for lic in eff.licences],
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
            "licences": ", ".join(catalog.licences[x].title for x in eff.licences),
            "access": eff.access,
            "lineage_of_owners": dg.MetadataValue.json(eff.as_metadata()),
            PARQUET_METADATA_KEY: dg.MetadataValue.json(parquet_metadata(eff, catalog)),
            **({"governance_warnings": dg.MetadataValue.json(list(eff.warnings))} if eff.warnings else {}),
        })

    return list(dg.map_asset_specs(with_ownership, assets)), lineage
