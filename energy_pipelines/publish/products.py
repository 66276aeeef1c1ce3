"""A published product's files: period Parquet files and a Frictionless `datapackage.json`.

Files are rebuilt from the warehouse deterministically (sorted rows, fixed compression, no
timestamps in the metadata): unchanged data gives identical bytes, the same sha256, and so
nothing to upload. Time-partitioned products get one file per Paris calendar month, so a
corrected source file re-publishes exactly the months it touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.clock import PARIS, paris_periods
from energy_pipelines.governance.licensing import decide_licence
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.publish.base import PublicationRequest, ResourceFile, file_sha256
from energy_pipelines.storage import ParquetStore
from energy_pipelines.storage.atomic import write_atomic, write_text_atomic

FRICTIONLESS_TYPES = {"string": "string", "int64": "integer", "float64": "number", "bool": "boolean",
                      "timestamp": "datetime", "date": "date"}


@dataclass(frozen=True)
class ProductFile:
    resource: ResourceFile
    period: tuple[datetime, datetime] | None  # [start, end) the file covers, None for whole datasets
    sha256: str
    bytes: int


def _months(store: ParquetStore, dataset: str) -> list[tuple[datetime, datetime]]:
    """Paris months that may hold stored rows (a UTC date can touch two Paris months)."""
    span = store.stored_span(dataset)
    if span is None:
        return []
    return [(p.start.astimezone(PARIS), p.end.astimezone(PARIS))
            for p in paris_periods(*span, "month", partial=True, clip=False)]


def _write_deterministic(table: pa.Table, target: Path) -> None:
    write_atomic(target, lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=128 * 1024,
                                                    write_statistics=True))


def export_product(spec: DatasetSpec, store: ParquetStore, staging: Path, file_metadata: dict) -> list[ProductFile]:
    """Write the product's files under `staging` and describe them; stale files are removed."""
    schema = spec.table_schema.to_arrow().with_metadata({"energy_pipelines": json.dumps(file_metadata,
                                                                                       sort_keys=True)})
    sort = [(k, "ascending") for k in spec.table_schema.primary_key]
    files: list[ProductFile] = []
    if spec.time_column is None or not store.files(spec.id):
        periods: list[tuple[datetime, datetime] | None] = [None]
    else:
        periods = list(_months(store, spec.id))
    for period in periods:
        table = store.read(spec.id, time_column=spec.time_column, window=period, schema=spec.table_schema.to_arrow())
        if period is not None and table.num_rows == 0:
            continue
        table = table.sort_by(sort).replace_schema_metadata(schema.metadata) if sort else table
        name = f"{spec.id}_{period[0]:%Y-%m}.parquet" if period else f"{spec.id}.parquet"
        path = staging / name
        _write_deterministic(table.cast(schema), path)
        files.append(ProductFile(ResourceFile(name=name, path=path, format="Parquet",
                                              description=(f"{spec.title}, {period[0]:%B %Y} (Paris time)"
                                                           if period else spec.title)),
                                 period, file_sha256(path), path.stat().st_size))
    keep = {f.resource.name for f in files} | {"datapackage.json"}
    for stale in staging.glob("*.parquet"):
        if stale.name not in keep:
            stale.unlink()
    return files


def datapackage(spec: DatasetSpec, eff: Effective, catalog: Catalog, files: list[ProductFile]) -> dict:
    """Frictionless Data Package (v1 profile) describing the product and who owns it."""
    licence = decide_licence(eff, catalog)
    fields = []
    for name, col in spec.table_schema.columns.items():
        field = {"name": name, "type": FRICTIONLESS_TYPES[col.dtype], "description": col.description}
        if col.unit:
            field["unit"] = col.unit
        constraints = {k: v for k, v in (("required", not col.nullable), ("minimum", col.minimum),
                                         ("maximum", col.maximum), ("pattern", col.pattern),
                                         ("enum", list(col.allowed_values) if col.allowed_values else None))
                       if v not in (None, False)}
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    # Parquet nulls are missing values; readers that go through pandas see float nulls as "nan"
    table_schema = {"fields": fields, "primaryKey": list(spec.table_schema.primary_key),
                    "missingValues": ["", "nan", "NaN"]}
    return {
        "profile": "data-package",
        "name": spec.id.replace("__", "-").replace("_", "-"),
        "id": spec.id,
        "title": spec.title,
        "description": " ".join(spec.description.split()),
        "keywords": list(spec.keywords),
        # one licence per product (governance/licensing.py): the same as the Parquet metadata and CKAN
        "licenses": [{k: v for k, v in (("name", spec.licence), ("title", catalog.licences[spec.licence].title),
                                        ("path", catalog.licences[spec.licence].url)) if v}],
        "contributors": (
            [{"title": catalog.organisations[o].name, "role": "owner", "organization": o,
              "path": catalog.organisations[o].url} for o in eff.owners]
            + [{"title": catalog.organisations[p].name, "role": "publisher", "organization": p,
                "path": catalog.organisations[p].url} for p in eff.publishers]
        ),
        "sources": [{"title": f"{u} ({catalog[u].title})", "name": u} for u in eff.upstream
                    if catalog[u].layer == "raw"],
        **({"attribution": "Sources : " + ", ".join(catalog.organisations[o].name for o in licence.attribution)}
           if licence.attribution else {}),
        "energy_pipelines": {"access": eff.access, "personal_data": eff.personal_data,
                             "commercially_sensitive": eff.commercially_sensitive,
                             "derived_from": list(eff.upstream), "lifted_by": eff.lifted_by},
        "resources": [
            {"name": f.resource.name.removesuffix(".parquet").lower().replace("__", "-").replace("_", "-"),
             "path": f.resource.name, "format": "parquet", "mediatype": "application/vnd.apache.parquet",
             "encoding": "binary", "bytes": f.bytes, "hash": f"sha256:{f.sha256}",
             "description": f.resource.description, "schema": table_schema,
             **({"temporal": {"start": f.period[0].isoformat(), "end": f.period[1].isoformat()}} if f.period else {})}
            for f in files
        ],
    }


def write_datapackage(package: dict, staging: Path) -> ProductFile:
    path = staging / "datapackage.json"
    text = json.dumps(package, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    write_text_atomic(path, text)
    return ProductFile(ResourceFile(name="datapackage.json", path=path, format="JSON",
                                    description="Frictionless data package: schema, sources, licences, owners"),
                       None, file_sha256(path), path.stat().st_size)


def publication_request(spec: DatasetSpec, eff: Effective, catalog: Catalog, *, organisation: str, private: bool,
                        resources: list[ResourceFile]) -> PublicationRequest:
    """The portal dataset of a product: one licence (the decided one) in `license_id` and in the extras."""
    licence = decide_licence(eff, catalog)
    if not licence.allowed:
        raise ValueError(licence.reason)
    return PublicationRequest(
        name=spec.id, title=spec.title, notes=" ".join(spec.description.split()),
        owner_org=organisation, private=private,
        license_id=catalog.licences[licence.licence].ckan_id,
        tags=tuple(k.replace(" ", "-") for k in spec.keywords),
        extras={"owners": ", ".join(eff.owners), "publishers": ", ".join(eff.publishers),
                "licence": licence.licence, "attribution": ", ".join(licence.attribution),
                "access": eff.access, "derived_from": ", ".join(eff.upstream), "lifted_by": eff.lifted_by or ""},
        resources=tuple(resources),
    )
