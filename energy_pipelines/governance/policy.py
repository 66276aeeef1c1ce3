"""Publication policy: what the effective ownership of a dataset allows on the portal.

- open, no personal data, not commercially sensitive -> a public dataset under its licence;
- restricted -> a private dataset in the owner's organisation on the portal;
- closed, or still personal or commercially sensitive -> refused, naming the upstream dataset(s)
  responsible, so the fix (an anonymisation or secrecy step) goes in the right place;
- a declared licence that an upstream owner's terms do not permit -> refused, naming the upstream
  and its terms (`governance/licensing.py`). The decision carries the one licence of the product.
"""

from __future__ import annotations

from dataclasses import dataclass

from energy_pipelines.catalog import Catalog
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.governance.licensing import decide_licence

PUBLIC, PRIVATE, REFUSED = "public", "private", "refused"


class PublicationRefused(PermissionError):
    """Publishing this dataset would expose closed, personal or commercially sensitive data."""


@dataclass(frozen=True)
class Decision:
    dataset: str
    outcome: str  # public | private | refused
    organisation: str | None  # CKAN organisation slug
    licence: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome != REFUSED

    def require(self) -> Decision:
        if not self.allowed:
            raise PublicationRefused(self.reason)
        return self


def decide(eff: Effective, catalog: Catalog) -> Decision:
    spec = catalog[eff.dataset]
    problems = []
    if eff.access == "closed":
        problems.append(f"its effective access is closed, inherited from {', '.join(eff.access_from)}")
    if eff.personal_data:
        problems.append(f"it still holds personal data from {', '.join(eff.personal_from)}")
    if eff.commercially_sensitive:
        problems.append(f"it still holds commercially sensitive data from {', '.join(eff.commercial_from)}")
    if not problems:
        licence = decide_licence(eff, catalog)
        if not licence.allowed:
            return Decision(eff.dataset, REFUSED, None, spec.licence, licence.reason)
    if problems:
        return Decision(eff.dataset, REFUSED, None, spec.licence,
                        f"{eff.dataset} cannot be published: " + "; ".join(problems)
                        + ". Only a catalogued anonymisation or secrecy step can lift this.")
    if eff.access == "restricted":
        # the owner's organisation; a product of several owners stays with its publisher
        org = eff.owners[0] if len(eff.owners) == 1 else spec.publisher
        return Decision(eff.dataset, PRIVATE, catalog.organisations[org].ckan_org, spec.licence,
                        f"restricted (from {', '.join(eff.access_from)}): private dataset in "
                        f"{catalog.organisations[org].name}'s organisation")
    if not catalog.licences[spec.licence].open:
        return Decision(eff.dataset, REFUSED, None, spec.licence,
                        f"{eff.dataset} is open but its licence {spec.licence!r} is not an open licence")
    return Decision(eff.dataset, PUBLIC, catalog.organisations[spec.publisher].ckan_org, spec.licence,
                    f"open: public dataset under {catalog.licences[spec.licence].title}")
