"""Territories of the territorial balance (UC3): `assets_config/territories/*.yaml`, one file each.

A territory is a named list of INSEE commune codes (an EPCI, a natural park, any grouping an
authority asks for). Adding one is adding a YAML file; nothing in the code names a territory.
Communes may belong to several territories (the PNR de la Sainte-Baume overlaps EPCIs).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import Field, ValidationError, model_validator

from energy_pipelines.catalog import StrictModel
from energy_pipelines.settings import CATALOG_DIR

TERRITORIES_DIR = CATALOG_DIR / "territories"
# INSEE commune codes: 2 digits (or 2A/2B) + 3 digits
COMMUNE_CODE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$")


class TerritoryError(ValueError):
    """A territory file is malformed; the message names the file and the field."""



class Commune(StrictModel):
    code: str = Field(pattern=COMMUNE_CODE.pattern)
    name: str
    population: int | None = Field(default=None, ge=0)
    # only part of the commune is in the territory (a park); the whole commune is counted
    partial: bool = False


class Centroid(StrictModel):
    lat: float = Field(ge=41, le=46)
    lon: float = Field(ge=4, le=8)


class Territory(StrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    kind: Literal["epci", "pnr", "other"]
    epci_siren: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    centroid: Centroid
    source: str
    notes: str | None = None
    communes: tuple[Commune, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Territory:
        if not self.communes:
            raise ValueError("a territory lists at least one commune")
        codes = [c.code for c in self.communes]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"commune(s) listed twice: {dupes}")
        if self.kind == "epci" and self.epci_siren is None:
            raise ValueError("an EPCI territory declares its epci_siren")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.communes)


def load_territories(directory: Path | str = TERRITORIES_DIR) -> dict[str, Territory]:
    directory = Path(directory)
    out: dict[str, Territory] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            territory = Territory.model_validate(data)
        except yaml.YAMLError as exc:
            raise TerritoryError(f"{path}: not valid YAML: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"field '{'.'.join(map(str, e['loc'])) or '(file)'}': {e['msg']}"
                                 for e in exc.errors())
            raise TerritoryError(f"{path}: {problems}") from None
        if territory.id != path.stem:
            raise TerritoryError(f"{path}: field 'id': {territory.id!r} differs from the file name {path.stem!r}")
        out[territory.id] = territory
    if not out:
        raise TerritoryError(f"{directory}: no territory YAML found")
    return out


@lru_cache(maxsize=4)
def default_territories(directory: str = str(TERRITORIES_DIR)) -> dict[str, Territory]:
    return load_territories(directory)


def membership(territories: dict[str, Territory]) -> pd.DataFrame:
    """One row per (territory, commune): the declared composition, as a frame."""
    rows = [
        {"territory_id": t.id, "territory_name": t.name, "territory_kind": t.kind, "commune_code": c.code,
         "commune_name_declared": c.name, "partial": c.partial, "population_declared": c.population}
        for t in territories.values() for c in t.communes
    ]
    return pd.DataFrame(rows)


def all_communes(territories: dict[str, Territory]) -> dict[str, Commune]:
    """Every commune of every territory once (the first declaration wins for name and size)."""
    out: dict[str, Commune] = {}
    for t in territories.values():
        for c in t.communes:
            out.setdefault(c.code, c)
    return out
