"""What was published, read back the way a reuser would: the portal's package dicts and data packages.

Two sources give the same `PublishedProduct`s:

- :class:`MirrorSource`: the offline portal mirror, `<root>/<org>/<dataset>/package.json` with
  `datapackage.json` and the files beside it (`publish/mirror.py`);
- :class:`CkanSource`: a CKAN portal (DataSud), `package_show` per product and the data package
  and Parquet files downloaded with the publisher's key (it sees private datasets too).

The quality status comes from the Data Docs ledgers the blocking `expectations` check writes
(`<reports>/data_docs/<dataset>/ledger.json`, see `checks/datadocs.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from energy_pipelines.clock import UTC
from energy_pipelines.publish.mirror import PACKAGE_FILE

DATAPACKAGE = "datapackage.json"


@dataclass(frozen=True)
class Resource:
    name: str
    format: str
    url: str  # relative to the dataset folder (mirror) or absolute (CKAN)
    size: int | None
    sha256: str | None
    description: str
    period: tuple[datetime, datetime] | None  # [start, end) in UTC, from the data package


@dataclass
class PublishedProduct:
    name: str
    title: str
    notes: str
    organisation: str
    private: bool
    license_id: str
    package: dict[str, Any]
    datapackage: dict[str, Any]
    resources: list[Resource]
    modified: datetime | None
    folder: Path | None = None  # the mirror folder (None on CKAN)
    _tables: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def access(self) -> str:
        return (self.datapackage.get("energy_pipelines") or {}).get("access") or ("restricted" if self.private
                                                                                  else "open")

    @property
    def parquet(self) -> list[Resource]:
        return sorted((r for r in self.resources if r.format.lower() == "parquet"),
                      key=lambda r: (r.period[0] if r.period else datetime.min.replace(tzinfo=UTC), r.name))

    @property
    def fields(self) -> list[dict[str, Any]]:
        for res in self.datapackage.get("resources", []):
            schema = res.get("schema") or {}
            if schema.get("fields"):
                return list(schema["fields"])
        return []


class Source(Protocol):
    def products(self) -> list[PublishedProduct]: ...

    def read(self, product: PublishedProduct, resource: Resource) -> pa.Table: ...


def _period(entry: dict[str, Any]) -> tuple[datetime, datetime] | None:
    temporal = entry.get("temporal")
    if not temporal:
        return None
    return (datetime.fromisoformat(temporal["start"]).astimezone(UTC),
            datetime.fromisoformat(temporal["end"]).astimezone(UTC))


def _modified(package: dict[str, Any]) -> datetime | None:
    stamps = [package.get("metadata_modified")] + [r.get("last_modified") for r in package.get("resources", [])]
    times = []
    for s in stamps:
        if not s:
            continue
        t = datetime.fromisoformat(s)
        times.append(t if t.tzinfo else t.replace(tzinfo=UTC))  # CKAN and the mirror write naive UTC
    return max(times) if times else None


def product_of(package: dict[str, Any], datapackage: dict[str, Any], folder: Path | None) -> PublishedProduct:
    periods = {r.get("path"): _period(r) for r in datapackage.get("resources", [])}
    resources = [Resource(name=r["name"], format=r.get("format") or "", url=r.get("url") or r["name"],
                          size=r.get("size"), sha256=r.get("sha256") or r.get("hash"),
                          description=r.get("description") or "", period=periods.get(r["name"]))
                 for r in package.get("resources", [])]
    org = package.get("organization") or {}
    return PublishedProduct(
        name=package["name"], title=package.get("title") or package["name"], notes=package.get("notes") or "",
        organisation=org.get("name") or package.get("owner_org") or "", private=bool(package.get("private")),
        license_id=package.get("license_id") or "", package=package, datapackage=datapackage,
        resources=resources, modified=_modified(package), folder=folder)


class MirrorSource:
    """The portal mirror folder: every `<org>/<dataset>/package.json` under `root`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def products(self) -> list[PublishedProduct]:
        out = []
        for path in sorted(self.root.glob(f"*/*/{PACKAGE_FILE}")):
            package = json.loads(path.read_text(encoding="utf-8"))
            dp_path = path.parent / DATAPACKAGE
            datapackage = json.loads(dp_path.read_text(encoding="utf-8")) if dp_path.exists() else {}
            out.append(product_of(package, datapackage, path.parent))
        return out

    def read(self, product: PublishedProduct, resource: Resource) -> pa.Table:
        assert product.folder is not None
        return pq.read_table(product.folder / resource.url)

    def href(self, product: PublishedProduct, resource: Resource, site_root: Path) -> str:
        """The file's link relative to the site root (the mirror root)."""
        assert product.folder is not None
        return (product.folder / resource.url).relative_to(site_root).as_posix()


class CkanSource:
    """Products on a CKAN portal, read with a :class:`~energy_pipelines.publish.CkanPublisher`."""

    def __init__(self, publisher: Any, names: Iterable[str]) -> None:
        self.publisher = publisher
        self.names = sorted(set(names))

    def products(self) -> list[PublishedProduct]:
        out = []
        for name in self.names:
            package = self.publisher.find_package(name)
            if package is None or package.get("state", "active") != "active":
                continue
            dp = next((r for r in package.get("resources", []) if r.get("name") == DATAPACKAGE), None)
            datapackage = json.loads(self.publisher.download(dp["url"])) if dp else {}
            out.append(product_of(package, datapackage, None))
        return out

    def read(self, product: PublishedProduct, resource: Resource) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.publisher.download(resource.url)))

    def href(self, product: PublishedProduct, resource: Resource, site_root: Path) -> str:
        return resource.url


# -- quality -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quality:
    """The latest results of a dataset's blocking check (the expectations suite)."""

    dataset: str
    latest: dict[str, Any] | None  # the ledger's last entry: verdict, window, validated_at, failed_rules
    counts: dict[str, int]  # verdict -> how many of the recent validations

    @property
    def verdict(self) -> str | None:
        return self.latest["verdict"] if self.latest else None


def quality_of(reports_dir: Path | str, dataset: str) -> Quality:
    path = Path(reports_dir) / "data_docs" / dataset / "ledger.json"
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        ledger = []
    counts: dict[str, int] = {}
    for entry in ledger:
        counts[entry.get("verdict", "?")] = counts.get(entry.get("verdict", "?"), 0) + 1
    return Quality(dataset, ledger[-1] if ledger else None, counts)
