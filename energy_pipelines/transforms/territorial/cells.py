"""Additive cells: commune cells, their margins, and exact roll-ups to EPCI, territories, départements, region.

A *cell* is one figure that adds up: the energy (or emissions) of one territory, year, source and
breakdown (carrier x sector), with what statistical secrecy needs to judge it — the number of
contributors (delivery points, production sites, establishments), the largest contributor where
known — and what the providers' own secrecy left out. Every aggregate is computed from commune cells
by plain sums (before any secrecy of ours), so a commune column always adds up to its EPCI, its
département and the region, exactly.

Combining cells (the same rule at every step):
- value: sum of the known values; unknown (null) when every part is unknown;
- `secret_cells`: how many source cells the providers masked and the value therefore omits
  (ORE's secret cells and secret-cell counts, Enedis's blanks); the value is then a lower bound;
- contributors: summed across communes and sectors (a delivery point, a site, an establishment is in
  one commune and one sector) but the **maximum** across energies (one consumer may use electricity and
  gas: the maximum is a lower bound of the distinct contributors, the safe side for a contributor
  threshold); unknown as soon as a non-zero part has an unknown count;
- largest contributor: the maximum of the parts' largest contributors; unknown as soon as a non-zero
  part's is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_pipelines.transforms.territorial.referential import Referential

LEVELS = ("commune", "epci", "territoire", "departement", "region")
CELL_FIELDS = ["value", "secret_cells", "open_data_secret", "contributors", "largest", "communes"]


def combine(cells: pd.DataFrame, keys: Sequence[str], contributors: str = "sum", communes: str = "max") -> pd.DataFrame:
    """Cells grouped by `keys` into one cell each, by the rules of the module docstring.

    `communes`: `max` when the parts are cells of the same commune (margins, several operators or
    voltage domains), `sum` when they are different communes (geographic roll-up).
    """
    if cells.empty:
        return pd.DataFrame(columns=[*keys, *CELL_FIELDS])
    value = pd.to_numeric(cells["value"], errors="coerce")
    known = value.notna()
    nonzero = known & (value != 0)
    contrib = pd.to_numeric(cells["contributors"], errors="coerce")
    largest = pd.to_numeric(cells["largest"], errors="coerce")
    work = pd.DataFrame({
        **{k: cells[k].to_numpy() for k in keys},
        "v": value.fillna(0.0).to_numpy(), "known": known.to_numpy(),
        "secret_cells": pd.to_numeric(cells["secret_cells"], errors="coerce").fillna(0).to_numpy(),
        "c": contrib.where(known, 0).fillna(0).to_numpy(),
        "c_unknown": (nonzero & contrib.isna()).to_numpy(),
        "l": largest.where(known).to_numpy(),
        "l_unknown": (nonzero & largest.isna()).to_numpy(),
        "communes": pd.to_numeric(cells["communes"], errors="coerce").fillna(0).to_numpy(),
    })
    g = work.groupby(list(keys), sort=False, dropna=False)
    out = g.agg(value=("v", "sum"), any_known=("known", "any"), secret_cells=("secret_cells", "sum"),
                contributors=("c", contributors), c_unknown=("c_unknown", "any"), largest=("l", "max"),
                l_unknown=("l_unknown", "any"), communes=("communes", communes))
    out = out.reset_index()
    out.loc[~out["any_known"], "value"] = np.nan
    out.loc[out["c_unknown"] | ~out["any_known"], "contributors"] = np.nan
    out.loc[out["l_unknown"], "largest"] = np.nan
    out["open_data_secret"] = False
    return out[[*keys, *CELL_FIELDS]]


def with_margins(cells: pd.DataFrame, base: Sequence[str], carrier: str = "carrier", sector: str = "sector",
                 carrier_subtotals: dict[str, Sequence[str]] | None = None,
                 across_carriers: str = "max") -> pd.DataFrame:
    """Commune cells plus their totals over sectors, over carriers (and declared carrier subtotals), and both.

    `across_carriers`: how contributors add across carriers — `max` for energies and gases (one consumer
    or plant has several), `sum` for production filières (a site produces one filière).
    """
    only_totals = set(cells[sector].unique()) == {"total"}  # production: no sector breakdown
    by_carrier = cells if only_totals else combine(cells, [*base, carrier], "sum").assign(**{sector: "total"})
    parts = [cells] if only_totals else [cells, by_carrier]
    if not only_totals:
        parts.append(combine(cells, [*base, sector], across_carriers).assign(**{carrier: "total"}))
    parts.append(combine(by_carrier, list(base), across_carriers).assign(**{carrier: "total", sector: "total"}))
    for name, members in (carrier_subtotals or {}).items():
        sub = by_carrier[by_carrier[carrier].isin(members)]
        if not sub.empty:
            parts.append(combine(sub, list(base), across_carriers).assign(**{carrier: name, sector: "total"}))
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


def geography(ref: Referential) -> pd.DataFrame:
    """commune_code -> (level, territory_code, territory_name) for every level it rolls up to."""
    c = ref.communes
    rows = [c.assign(level="commune", territory_code=c["commune_code"], territory_name=c["commune_name"])]
    e = c.dropna(subset=["epci_siren"])
    rows.append(e.assign(level="epci", territory_code=e["epci_siren"], territory_name=e["epci_name"]))
    t = ref.territories[ref.territories["commune_code"].isin(c["commune_code"])]
    rows.append(t.assign(level="territoire", territory_code=t["territory_id"]))
    rows.append(c.assign(level="departement", territory_code=c["departement_code"],
                         territory_name=c["departement_code"].map(DEPARTEMENT_NAMES).fillna(c["departement_code"])))
    rows.append(c.assign(level="region", territory_code=c["region_code"],
                         territory_name=c["region_code"].map(REGION_NAMES).fillna(c["region_code"])))
    out = pd.concat([r[["commune_code", "level", "territory_code", "territory_name"]] for r in rows],
                    ignore_index=True)
    return out.drop_duplicates(["commune_code", "level", "territory_code"])


DEPARTEMENT_NAMES = {"04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes", "06": "Alpes-Maritimes",
                     "13": "Bouches-du-Rhône", "83": "Var", "84": "Vaucluse"}
REGION_NAMES = {"93": "Provence-Alpes-Côte d'Azur"}


def roll_up(commune_cells: pd.DataFrame, geo: pd.DataFrame, dims: Sequence[str],
            present: pd.DataFrame | None = None) -> pd.DataFrame:
    """Commune cells (with margins) summed to every level of `geo`.

    `present` (year, source, commune_code) lists the communes a source covers; when given, a territory
    with a member commune the source does not cover gets a null value and its `missing_communes` count
    (used for AtmoSud's inventory, which covers every commune: a missing one is a missing input).
    """
    joined = commune_cells.merge(geo, on="commune_code", how="inner")
    out = combine(joined, ["level", "territory_code", "territory_name", *dims], "sum", communes="sum")
    out["missing_communes"] = 0
    if present is not None and not out.empty:
        members = geo.groupby(["level", "territory_code"])["commune_code"].apply(frozenset)
        covered = present.groupby(["year", "source"])["commune_code"].apply(frozenset)
        combos = out[["level", "territory_code", "year", "source"]].drop_duplicates()
        missing = []
        for level, code, year, source in combos.itertuples(index=False):
            cov = covered.get((year, source))
            missing.append(0 if cov is None else len(members[(level, code)] - cov))
        combos["missing_communes"] = np.asarray(missing, dtype="int64")
        out = out.drop(columns="missing_communes").merge(combos, on=["level", "territory_code", "year", "source"],
                                                         how="left")
        gap = (out["missing_communes"] > 0) & out["source"].isin(present["source"].unique())
        out.loc[gap, ["value", "contributors", "largest"]] = np.nan
    commune_level = out["level"] == "commune"
    flags = commune_cells.set_index(["commune_code", *dims])["open_data_secret"]
    idx = pd.MultiIndex.from_frame(out.loc[commune_level, ["territory_code", *dims]])
    out.loc[commune_level, "open_data_secret"] = flags.reindex(idx).fillna(False).to_numpy()
    return out


def status(frame: pd.DataFrame) -> pd.Series:
    """exact | lower_bound (omits provider-secret cells) | secret (provider-masked) | incomplete (missing communes)."""
    out = pd.Series("exact", index=frame.index, dtype=object)
    out[frame["secret_cells"] > 0] = "lower_bound"
    out[frame["value"].isna()] = "secret"
    out[frame["missing_communes"] > 0] = "incomplete"
    return out
