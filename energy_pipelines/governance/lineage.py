"""Effective ownership of every dataset, computed from the asset graph, never typed by hand.

- owners, publishers, licences: the union over everything upstream (plus the dataset's own
  publisher and licence);
- access: the most restrictive upstream access; personal / commercially sensitive: if any
  upstream is;
- except where the dataset declares an anonymisation or secrecy `step` in the catalogue: the
  step's declared result replaces the inherited access and flags. Nothing else can lift them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from energy_pipelines.catalog import ACCESS_ORDER, Catalog


class LineageError(ValueError):
    """The graph and the catalogue disagree (unknown dataset, cycle)."""


@dataclass(frozen=True)
class Effective:
    dataset: str
    owners: tuple[str, ...]
    publishers: tuple[str, ...]
    licences: tuple[str, ...]
    access: str
    personal_data: bool
    commercially_sensitive: bool
    upstream: tuple[str, ...]  # every catalogued dataset it derives from, transitively
    # the datasets that impose the current access / flags (raw sources, or the lifting step)
    access_from: tuple[str, ...] = ()
    personal_from: tuple[str, ...] = ()
    commercial_from: tuple[str, ...] = ()
    lifted_by: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_metadata(self) -> dict:
        return {
            "owners": list(self.owners), "publishers": list(self.publishers), "licences": list(self.licences),
            "access": self.access, "personal_data": self.personal_data,
            "commercially_sensitive": self.commercially_sensitive, "upstream": list(self.upstream),
            "access_from": list(self.access_from), "lifted_by": self.lifted_by,
        }


def _sorted(values) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def compute_lineage(catalog: Catalog, deps: Mapping[str, set[str] | list[str]]) -> dict[str, Effective]:
    """`deps` maps each dataset id to the ids it reads (direct parents) in the asset graph."""
    result: dict[str, Effective] = {}
    visiting: set[str] = set()

    def visit(dataset: str) -> Effective:
        if dataset in result:
            return result[dataset]
        if dataset in visiting:
            raise LineageError(f"cycle in the asset graph through {dataset}")
        if dataset not in catalog:
            raise LineageError(f"{dataset} is in the asset graph but not in the catalogue")
        visiting.add(dataset)
        spec = catalog[dataset]
        parents = [visit(p) for p in sorted(set(deps.get(dataset, ())))]
        warnings: list[str] = []
        if not parents:
            if spec.layer != "raw" and spec.owner is None:
                raise LineageError(f"{dataset} has no upstream dataset and declares no owner")
            eff = Effective(
                dataset=dataset, owners=_sorted([spec.owner]), publishers=_sorted([spec.publisher]),
                licences=_sorted([spec.licence]), access=spec.access or "closed",
                personal_data=bool(spec.personal_data), commercially_sensitive=bool(spec.commercially_sensitive),
                upstream=(), access_from=(dataset,), personal_from=(dataset,) if spec.personal_data else (),
                commercial_from=(dataset,) if spec.commercially_sensitive else (),
            )
        else:
            access = max((p.access for p in parents), key=ACCESS_ORDER.__getitem__)
            access_from = _sorted(a for p in parents if p.access == access for a in p.access_from)
            personal_from = _sorted(a for p in parents for a in p.personal_from)
            commercial_from = _sorted(a for p in parents for a in p.commercial_from)
            lifted_by = None
            if spec.step is not None:
                step = spec.step
                lifted_by = dataset
                access, access_from = step.yields_access, (dataset,)
                if step.removes_personal_data:
                    personal_from = ()
                if step.removes_commercial_sensitivity:
                    commercial_from = ()
            upstream = _sorted([p.dataset for p in parents] + [u for p in parents for u in p.upstream])
            owners = {o for p in parents for o in p.owners}
            if spec.owner:
                owners.add(spec.owner)
            if spec.access is not None and ACCESS_ORDER[spec.access] < ACCESS_ORDER[access]:
                warnings.append(f"declares access {spec.access!r} but its lineage gives {access!r} "
                                f"(from {', '.join(access_from)})")
            eff = Effective(
                dataset=dataset, owners=_sorted(owners),
                publishers=_sorted([spec.publisher] + [x for p in parents for x in p.publishers]),
                licences=_sorted([spec.licence] + [x for p in parents for x in p.licences]),
                access=access, personal_data=bool(personal_from), commercially_sensitive=bool(commercial_from),
                upstream=upstream, access_from=access_from, personal_from=personal_from,
                commercial_from=commercial_from, lifted_by=lifted_by, warnings=tuple(warnings),
            )
        visiting.discard(dataset)
        result[dataset] = eff
        return eff

    for dataset in deps:
        visit(dataset)
    return result
