"""The geography of UC1: PACA communes, their EPCI, département and region, and the UC3 territories.

Built from `raw_insee__communes` (INSEE COG + DGCL epcicom, the referential UC3 already loads) and
the territory YAMLs (`energy_pipelines.territories`); nothing here names a commune. When several
millésimes of the reference files were delivered, the latest one is the geography.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from energy_pipelines.territories import Territory

PACA_REGION = "93"
PACA_DEPARTEMENTS = ("04", "05", "06", "13", "83", "84")
# municipal arrondissements of Paris, Lyon and Marseille (COG TYPECOM ARM) -> their commune
_PLM = (("751", "75056", range(75101, 75121)), ("6938", "69123", range(69381, 69390)),
        ("132", "13055", range(13201, 13217)))
COMMUNE_COLUMNS = ["commune_code", "commune_name", "departement_code", "region_code", "epci_siren", "epci_name",
                   "population_ref"]


class ReferentialError(ValueError):
    """The referential cannot describe the region (no commune delivered, or none in the region)."""


@dataclass(frozen=True)
class Referential:
    communes: pd.DataFrame      # COMMUNE_COLUMNS, one row per commune of the region
    territories: pd.DataFrame   # territory_id, territory_name, territory_kind, commune_code, partial
    millesime: int | None

    @property
    def codes(self) -> set[str]:
        return set(self.communes["commune_code"])

    def epcis(self) -> pd.DataFrame:
        known = self.communes.dropna(subset=["epci_siren"])
        return (known.groupby(["epci_siren", "epci_name"], as_index=False)
                .agg(communes=("commune_code", "size")))


def arrondissement_parent(codes: pd.Series) -> pd.Series:
    """13201..13216 -> 13055 (and Paris, Lyon); other codes unchanged."""
    out = codes.copy()
    numeric = pd.to_numeric(codes, errors="coerce")
    for _, parent, numbers in _PLM:
        out[numeric.between(numbers.start, numbers.stop - 1)] = parent
    return out


def _latest(rows: pd.DataFrame) -> tuple[pd.DataFrame, int | None]:
    if rows.empty:
        return rows, None
    millesime = pd.to_numeric(rows["millesime"], errors="coerce").fillna(-1)
    top = millesime.max()
    return rows[millesime == top], (int(top) if top >= 0 else None)


def build_referential(communes_raw: pd.DataFrame | None, territories: dict[str, Territory] | None = None,
                      departements: Iterable[str] = PACA_DEPARTEMENTS, region: str = PACA_REGION) -> Referential:
    """The region's communes from the raw referential; its EPCI membership and populations from epcicom."""
    departements = tuple(departements)
    raw = communes_raw if communes_raw is not None else pd.DataFrame(columns=["file_kind"])
    cog, millesime = _latest(raw[(raw["file_kind"] == "cog_communes")
                                 & raw.get("commune_type", pd.Series(dtype=object)).isin(["COM"])])
    epci, epci_millesime = _latest(raw[raw["file_kind"] == "epci_composition"])
    if not cog.empty:
        in_region = cog["departement_code"].isin(departements) | (cog["region_code"] == region)
        base = cog[in_region][["commune_code", "commune_name", "departement_code", "region_code"]]
    elif not epci.empty:
        base = epci[epci["departement_code"].isin(departements)][["commune_code", "commune_name",
                                                                   "departement_code"]].assign(region_code=region)
    else:
        base = pd.DataFrame(columns=["commune_code", "commune_name", "departement_code", "region_code"])
    base = base.drop_duplicates("commune_code")
    members = epci[["commune_code", "epci_siren", "epci_name", "population"]].drop_duplicates("commune_code")
    communes = base.merge(members, on="commune_code", how="left").rename(columns={"population": "population_ref"})
    communes["region_code"] = communes["region_code"].fillna(region)
    communes["population_ref"] = pd.array(communes["population_ref"], dtype="Int64")
    if communes.empty and territories:
        return from_territories(territories)
    if communes.empty:
        raise ReferentialError("no commune of the region in raw_insee__communes: deliver the INSEE COG and DGCL "
                               "epcicom files into landing/insee_cog/")
    return Referential(communes=communes[COMMUNE_COLUMNS].sort_values("commune_code").reset_index(drop=True),
                       territories=territory_membership(territories or {}),
                       millesime=millesime or epci_millesime)


def territory_membership(territories: dict[str, Territory]) -> pd.DataFrame:
    rows = [{"territory_id": t.id, "territory_name": t.name, "territory_kind": t.kind, "commune_code": c.code,
             "partial": c.partial} for t in territories.values() for c in t.communes]
    return pd.DataFrame(rows, columns=["territory_id", "territory_name", "territory_kind", "commune_code", "partial"])


def from_territories(territories: dict[str, Territory]) -> Referential:
    """What the referential's own sample holds: the communes of the declared territories (EPCI ones named)."""
    rows: dict[str, dict] = {}
    for t in territories.values():
        for c in t.communes:
            row = rows.setdefault(c.code, {"commune_code": c.code, "commune_name": c.name,
                                           "departement_code": c.code[:2], "region_code": PACA_REGION,
                                           "epci_siren": None, "epci_name": None, "population_ref": c.population})
            if t.kind == "epci":
                row["epci_siren"], row["epci_name"] = t.epci_siren, t.name
    communes = pd.DataFrame(list(rows.values()), columns=COMMUNE_COLUMNS)
    communes["population_ref"] = pd.array(communes["population_ref"], dtype="Int64")
    return Referential(communes=communes.sort_values("commune_code").reset_index(drop=True),
                       territories=territory_membership(territories), millesime=None)
