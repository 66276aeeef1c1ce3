"""One licence per product, decided by the catalogue and checked against every upstream owner's terms.

A product is published under the licence it declares (`licence:` in its catalogue YAML), never
under the union of its upstream licences. That licence is allowed only if every upstream dataset
that has an owner permits it (`assets_config/licence_terms.yaml`):

- the upstream's own licence may say `any` (Etalab 2.0, CC-BY: attribution only), list what it
  permits (ODbL: share-alike), or defer to the `owner`'s convention (proprietary data);
- keeping the upstream's own licence is always allowed (the same terms carried on).

The decision names every upstream that refuses and why, so publication can be refused with the
reason; it also lists whom the product must credit (licences with `attribution: true`).
The data package, the Parquet key-value metadata and CKAN's `license_id` all take the decided
licence (`publish/products.py`, `governance/dagster_specs.py`, `publish/products.publication_request`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from energy_pipelines.catalog import Catalog, CatalogError, StrictModel, read_yaml
from energy_pipelines.governance.lineage import Effective

TERMS_FILE = "licence_terms.yaml"



class LicenceTerms(StrictModel):
    derived: Literal["any", "owner"] | tuple[str, ...]
    attribution: bool
    note: str


class OwnerConvention(StrictModel):
    convention: str
    derived: tuple[str, ...]


class Terms(StrictModel):
    licences: dict[str, LicenceTerms]
    owners: dict[str, OwnerConvention] = {}


@dataclass(frozen=True)
class UpstreamTerm:
    """What one owned upstream dataset says about the product's licence."""

    dataset: str
    owner: str
    licence: str
    permits: bool
    why: str


@dataclass(frozen=True)
class LicenceDecision:
    dataset: str
    licence: str  # the one licence of the product (its declared one)
    allowed: bool
    reason: str
    terms: tuple[UpstreamTerm, ...] = ()
    attribution: tuple[str, ...] = ()  # organisations to credit

    @property
    def refusals(self) -> tuple[UpstreamTerm, ...]:
        return tuple(t for t in self.terms if not t.permits)


def load_terms(directory: Path | str) -> Terms:
    """`<catalogue>/licence_terms.yaml`, validated against the catalogue's licences and organisations."""
    path = Path(directory) / TERMS_FILE
    return _load(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> Terms:
    data = read_yaml(Path(path))
    try:
        return Terms.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors())
        raise CatalogError(f"{path}: {fields}") from None


def _check_against(terms: Terms, catalog: Catalog, path: Path) -> None:
    for lic in catalog.licences:
        if lic not in terms.licences:
            raise CatalogError(f"{path}: field 'licences': no terms for licence {lic!r} of licences.yaml")
    for lic, t in terms.licences.items():
        if lic not in catalog.licences:
            raise CatalogError(f"{path}: field 'licences.{lic}': not a licence of licences.yaml")
        for other in t.derived if isinstance(t.derived, tuple) else ():
            if other not in catalog.licences:
                raise CatalogError(f"{path}: field 'licences.{lic}.derived': {other!r} is not in licences.yaml")
    for owner, conv in terms.owners.items():
        if owner not in catalog.organisations:
            raise CatalogError(f"{path}: field 'owners.{owner}': not an organisation of organisations.yaml")
        for other in conv.derived:
            if other not in catalog.licences:
                raise CatalogError(f"{path}: field 'owners.{owner}.derived': {other!r} is not in licences.yaml")


def catalogue_terms(catalog: Catalog) -> Terms:
    terms = load_terms(catalog.directory)
    _check_against(terms, catalog, Path(catalog.directory) / TERMS_FILE)
    return terms


def _term(catalog: Catalog, terms: Terms, upstream: str, licence: str) -> UpstreamTerm:
    spec = catalog[upstream]
    own = spec.licence
    base = UpstreamTerm(upstream, spec.owner or "", own, True, "")
    if own == licence:
        return UpstreamTerm(**{**base.__dict__, "why": f"same licence as {upstream}"})
    rule = terms.licences[own].derived
    if rule == "any":
        return UpstreamTerm(**{**base.__dict__, "why": f"{own} allows any licence for derived products"})
    if rule != "owner":
        ok = licence in rule
        return UpstreamTerm(upstream, spec.owner or "", own, ok,
                            f"{own} " + ("allows" if ok else "does not allow")
                            + f" {licence} for a derived product (allowed: {', '.join(rule) or 'none'})")
    conv = terms.owners.get(spec.owner or "")
    owner_name = catalog.organisations[spec.owner].name if spec.owner in catalog.organisations else spec.owner
    if conv is None:
        return UpstreamTerm(upstream, spec.owner or "", own, False,
                            f"no convention with {owner_name} says under which licence a product derived "
                            f"from {upstream} ({own}) may be published")
    ok = licence in conv.derived
    return UpstreamTerm(upstream, spec.owner or "", own, ok,
                        f"the convention '{conv.convention}' " + ("allows" if ok else "does not allow")
                        + f" {licence} (allowed: {', '.join(conv.derived) or 'none outside the convention'})")


def decide_licence(eff: Effective, catalog: Catalog, terms: Terms | None = None) -> LicenceDecision:
    """The product's one licence and whether every owned upstream dataset permits it."""
    terms = terms or catalogue_terms(catalog)
    spec = catalog[eff.dataset]
    licence = spec.licence
    owned = [u for u in eff.upstream if catalog[u].owner is not None]
    results = tuple(_term(catalog, terms, u, licence) for u in owned)
    credit = sorted({catalog[t.dataset].owner for t in results if terms.licences[t.licence].attribution})
    refused = [t for t in results if not t.permits]
    if refused:
        reason = (f"{eff.dataset} cannot be published under {licence}: "
                  + "; ".join(f"{t.dataset} ({t.owner}, {t.licence}): {t.why}" for t in refused))
        return LicenceDecision(eff.dataset, licence, False, reason, results, tuple(credit))
    reason = (f"{catalog.licences[licence].title}, permitted by the terms of "
              f"{len(results)} owned upstream dataset(s)" if results else catalog.licences[licence].title)
    return LicenceDecision(eff.dataset, licence, True, reason, results, tuple(credit))
