"""UC1 additive indicators: energy consumption and production, and greenhouse-gas emissions, per territory.

Two derived datasets, each one pure function:

- `energy_balance` -> `hybrid_uc1__energy_balance`: per year and territory (commune, EPCI, the UC3
  territories, département, region), consumption by energy x sector and production by filière, from
  three sources kept side by side (`source`): AtmoSud's CIGALE inventory (every energy and sector,
  renewable production by filière; de-secretised, restricted), Agence ORE's measured electricity and gas
  by sector (open, already secretised by the operators), Enedis's measured production by filière (open,
  already secretised);
- `ghg_emissions` -> `hybrid_uc1__ghg_emissions`: CIGALE's CO2, CH4 and N2O by sector, t CO2e.

Both are the **input of the secrecy engine**, not published tables: each row carries the value, the
number of contributors, the largest contributor where known, `open_data_secret` (the operators'
open data publishes this commune cell as secret: ORE's 0 with a secret flag, Enedis's blank — a CIGALE
cell of the same commune, energy and sector must then be masked too, whatever its own counts) and
`secret_cells` / `value_status` for the operators' cells the value omits. Roll-ups are exact sums of
the commune cells (module `cells`); totals over sectors and carriers are explicit rows
(`sector = total`, `carrier = total`, and `total_enr` for Enedis's renewable filières), so every
additive relation the secrecy engine must protect is in the table:

    commune -> epci (-> nothing above: EPCI do not nest), commune -> territoire, commune -> departement
    -> region; carriers -> total; sectors -> total; renewable filières -> total_enr (Enedis).
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict

from energy_pipelines.clock import Window
from energy_pipelines.sources.cigale_inventory import RAW_COLUMNS as CIGALE_RAW
from energy_pipelines.sources.cigale_inventory import version_key
from energy_pipelines.sources.enedis_production_annual import RAW_COLUMNS as ENEDIS_RAW
from energy_pipelines.sources.ore_consumption import RAW_COLUMNS as ORE_RAW
from energy_pipelines.territories import Territory, default_territories
from energy_pipelines.transforms.common import REJECT_COLUMNS, rejects_from_rows
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.territorial import cells as cl
from energy_pipelines.transforms.territorial.referential import (
    PACA_DEPARTEMENTS, PACA_REGION, Referential, arrondissement_parent, build_referential,
)

DIMS = ["year", "source", "measure", "carrier", "sector"]
ORE_COLUMNS = ORE_RAW
ENEDIS_COLUMNS = ENEDIS_RAW
CIGALE_COLUMNS = CIGALE_RAW
ORE_SECTORS = ("residentiel", "tertiaire", "industrie", "agriculture")


class Uc1Settings(BaseModel):
    """assets_config/uc1/settings.yaml: the region and how the sources meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region_code: str = PACA_REGION
    departements: tuple[str, ...] = PACA_DEPARTEMENTS
    # Enedis filières counted as renewable in `total_enr` (cogeneration is mostly natural gas)
    enedis_renewable: tuple[str, ...] = ("photovoltaique", "eolien", "hydraulique", "bioenergies")
    # CIGALE filière -> the Enedis filière whose blank cell makes the same commune cell secret
    cigale_enedis_filieres: dict[str, str] = {"photovoltaique": "photovoltaique", "eolien": "eolien",
                                              "hydraulique": "hydraulique", "biogaz": "bioenergies"}


def _ensure(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """An input as the transform expects it, even when a source has delivered nothing yet."""
    frame = pd.DataFrame() if frame is None else frame
    missing = [c for c in [*columns, "source_file"] if c not in frame.columns]
    return frame.assign(**{c: pd.Series(dtype=object) for c in missing}) if missing else frame


def _reject(rows: pd.DataFrame, reason: str | pd.Series) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    reasons = reason if isinstance(reason, pd.Series) else pd.Series(reason, index=rows.index)
    return rejects_from_rows(rows, reasons.loc[rows.index])


def _in_scope(rows: pd.DataFrame, ref: Referential, settings: Uc1Settings, what: str,
              rejects: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of the region's communes; a commune of the region's départements absent from the referential is
    quarantined (a code the geography does not know); rows of other regions are out of scope, not errors."""
    rows = rows.assign(commune_code=arrondissement_parent(rows["commune_code"].astype(str)))
    known = rows["commune_code"].isin(ref.codes)
    in_region = rows["commune_code"].str[:2].isin(settings.departements)
    unknown = in_region & ~known
    rejects.append(_reject(rows[unknown], f"{what}: commune code not in the referential of the region "
                                          f"(COG millésime {ref.millesime or 'unknown'})"))
    return rows[known]


def _latest_file(rows: pd.DataFrame, key: list[str], what: str, rejects: list[pd.DataFrame]) -> pd.DataFrame:
    """The same cell delivered by several files (a corrected re-delivery): the file sorting last wins."""
    if "source_file" not in rows or rows.empty:
        return rows
    rows = rows.sort_values(["source_file", "source_line"])
    dup = rows.duplicated(key, keep="last")
    if dup.any():
        winner = rows.drop_duplicates(key, keep="last").set_index(key)["source_file"]
        other = rows[dup]
        kept = winner.reindex(pd.MultiIndex.from_frame(other[key])).to_numpy()
        reasons = pd.Series([f"{what}: the same cell is delivered again in {k}, which is kept" for k in kept],
                            index=other.index)
        rejects.append(_reject(other, reasons))
    return rows[~dup]


def ore_commune_cells(ore: pd.DataFrame, ref: Referential, settings: Uc1Settings,
                      rejects: list[pd.DataFrame]) -> pd.DataFrame:
    """ORE commune lines -> one cell per commune x energy x sector (operators summed)."""
    rows = ore[ore["maille"] == "commune"]
    rows = _in_scope(rows, ref, settings, "ORE", rejects)
    rows = _latest_file(rows, ["year", "operator", "energy", "sector", "commune_code"], "ORE", rejects)
    secret = rows["secret"].astype(bool)
    counts = pd.to_numeric(rows["secret_cells"], errors="coerce").fillna(0)
    frame = pd.DataFrame({
        "year": rows["year"].astype("int64"), "commune_code": rows["commune_code"], "source": "ore",
        "measure": "consumption", "carrier": rows["energy"], "sector": rows["sector"],
        "value": rows["consumption_mwh"].where(~secret),
        # a secret cell is one masked cell at least; a published one may omit masked IRIS
        "secret_cells": counts.where(~secret, counts.clip(lower=1)),
        "contributors": rows["delivery_points"].astype("Float64").where(~secret),
        "largest": float("nan"), "communes": 1, "secret": secret,
    })
    out = cl.combine(frame, ["year", "commune_code", "source", "measure", "carrier", "sector"])
    flag = frame.groupby(["year", "commune_code", "carrier", "sector"])["secret"].any()
    out["open_data_secret"] = flag.reindex(pd.MultiIndex.from_frame(
        out[["year", "commune_code", "carrier", "sector"]])).to_numpy()
    return out


def enedis_commune_cells(enedis: pd.DataFrame, ref: Referential, settings: Uc1Settings,
                         rejects: list[pd.DataFrame]) -> pd.DataFrame:
    """Enedis commune lines -> one cell per commune x filière (voltage domains summed)."""
    rows = enedis[enedis["maille"] == "commune"]
    rows = _in_scope(rows, ref, settings, "Enedis", rejects)
    rows = _latest_file(rows, ["year", "commune_code", "voltage_domain", "filiere"], "Enedis", rejects)
    secret = rows["secret"].astype(bool)
    frame = pd.DataFrame({
        "year": rows["year"].astype("int64"), "commune_code": rows["commune_code"], "source": "enedis",
        "measure": "production", "carrier": rows["filiere"], "sector": "total",
        "value": rows["energy_mwh"].where(~secret), "secret_cells": secret.astype(int),
        "contributors": rows["sites"].astype("Float64").where(~secret), "largest": float("nan"), "communes": 1,
        "secret": secret,
    })
    out = cl.combine(frame, ["year", "commune_code", "source", "measure", "carrier", "sector"])
    flag = frame.groupby(["year", "commune_code", "carrier"])["secret"].any()
    out["open_data_secret"] = flag.reindex(pd.MultiIndex.from_frame(out[["year", "commune_code", "carrier"]])).to_numpy()
    return out


def cigale_rows(cigale: pd.DataFrame, ref: Referential, settings: Uc1Settings,
                rejects: list[pd.DataFrame], figures: dict) -> pd.DataFrame:
    """CIGALE rows of the latest inventory version of each year, in the region's communes."""
    rows = cigale.copy()
    if rows.empty:
        return rows
    rows["_v"] = rows["inventory_version"].map(version_key)
    latest = rows.groupby("year")["_v"].transform("max")
    superseded = rows["_v"] != latest
    figures["cigale_rows_of_superseded_versions"] = int(superseded.sum())
    figures["cigale_versions_used"] = {int(y): v for y, v in
                                       rows[~superseded].groupby("year")["inventory_version"].first().items()}
    rows = rows[~superseded].drop(columns="_v")
    outside = ~rows["commune_code"].astype(str).str[:2].isin(settings.departements)
    rejects.append(_reject(rows[outside], "CIGALE: commune outside the region's départements"))
    rows = _in_scope(rows[~outside], ref, settings, "CIGALE", rejects)
    return _latest_file(rows, ["year", "commune_code", "measure", "sector", "category"], "CIGALE", rejects)


def cigale_energy_cells(rows: pd.DataFrame, ore_cells: pd.DataFrame, enedis_cells: pd.DataFrame,
                        settings: Uc1Settings) -> pd.DataFrame:
    """CIGALE consumption (energy x sector) and production (filière) commune cells, with the operators'
    secrecy of the same commune cells and, where AtmoSud gives no contributor count, the operators' counts."""
    energy = rows[rows["measure"].isin(["consumption", "production"])]
    value = energy["energy_mwh"]
    frame = pd.DataFrame({
        "year": energy["year"].astype("int64"), "commune_code": energy["commune_code"], "source": "cigale",
        "measure": energy["measure"], "carrier": energy["category"], "sector": energy["sector"], "value": value,
        "secret_cells": 0, "contributors": energy["contributors"].astype("Float64"),
        "largest": value * energy["largest_contributor_share_pct"] / 100.0, "communes": 1,
    })
    frame = cl.combine(frame, ["year", "commune_code", "source", "measure", "carrier", "sector"])
    # the operators' cell for the same commune, energy and sector (or filière)
    ore = ore_cells[ore_cells["sector"].isin(ORE_SECTORS)][["year", "commune_code", "carrier", "sector",
                                                            "open_data_secret", "contributors"]]
    enedis = enedis_cells.assign(carrier=enedis_cells["carrier"].map(
        {v: k for k, v in settings.cigale_enedis_filieres.items()}))
    enedis = enedis.dropna(subset=["carrier"])[["year", "commune_code", "carrier", "sector", "open_data_secret",
                                                "contributors"]]
    ops = pd.concat([f for f in (ore.assign(measure="consumption"), enedis.assign(measure="production")) if not f.empty]
                    or [ore.assign(measure="consumption")], ignore_index=True)
    ops = ops.rename(columns={"open_data_secret": "op_secret", "contributors": "op_contributors"})
    frame = frame.merge(ops, on=["year", "commune_code", "measure", "carrier", "sector"], how="left")
    frame["open_data_secret"] = frame["op_secret"].astype("boolean").fillna(False).astype(bool)
    frame["contributors"] = frame["contributors"].fillna(frame["op_contributors"])
    return frame.drop(columns=["op_secret", "op_contributors"])


def _finish(out: pd.DataFrame, value_col: str, largest_col: str, carrier_col: str,
            kinds: dict[tuple[str, str], str]) -> pd.DataFrame:
    from energy_pipelines.sources.ore_consumption import year_start_utc

    out = out.copy()
    out["value_status"] = cl.status(out)
    out["contributors_kind"] = [kinds.get((s, m)) for s, m in zip(out["source"], out["measure"], strict=True)]
    out["period_start_utc"] = year_start_utc(out["year"])
    out = out.rename(columns={"value": value_col, "largest": largest_col, "carrier": carrier_col})
    out["contributors"] = pd.to_numeric(out["contributors"]).round().astype("Int64")
    out["secret_cells"] = out["secret_cells"].astype("int64")
    out["communes"] = out["communes"].astype("int64")
    out["open_data_secret"] = out["open_data_secret"].astype(bool)
    return out


ENERGY_COLUMNS = ["period_start_utc", "year", "level", "territory_code", "territory_name", "source", "measure",
                  "carrier", "sector", "energy_mwh", "value_status", "secret_cells", "open_data_secret",
                  "contributors", "contributors_kind", "largest_contributor_mwh", "communes", "missing_communes"]
EMISSION_COLUMNS = ["period_start_utc", "year", "level", "territory_code", "territory_name", "source", "sector",
                    "gas", "emissions_tco2e", "value_status", "contributors", "largest_contributor_tco2e",
                    "communes", "missing_communes"]


def _referential(communes: pd.DataFrame, settings: Uc1Settings,
                 territories: dict[str, Territory] | None) -> Referential:
    return build_referential(communes, territories if territories is not None else default_territories(),
                             settings.departements, settings.region_code)


def energy_balance(ore: pd.DataFrame, enedis: pd.DataFrame, cigale: pd.DataFrame, communes: pd.DataFrame, *,
                   params: Uc1Settings, window: Window | None = None, ore_aggregates: pd.DataFrame | None = None,
                   territories: dict[str, Territory] | None = None) -> Derived:
    """Consumption and production cells of every territory and year, the secrecy engine's input."""
    ore = _ensure(ore, ORE_COLUMNS)
    enedis = _ensure(enedis, ENEDIS_COLUMNS)
    cigale = _ensure(cigale, CIGALE_COLUMNS)
    ref = _referential(communes, params, territories)
    rejects: list[pd.DataFrame] = []
    figures: dict = {"communes_in_referential": len(ref.communes), "epci": int(ref.communes["epci_siren"].nunique()),
                     "referential_millesime": ref.millesime}
    ore_c = ore_commune_cells(ore, ref, params, rejects)
    enedis_c = enedis_commune_cells(enedis, ref, params, rejects)
    cig = cigale_rows(cigale, ref, params, rejects, figures)
    cig_c = cigale_energy_cells(cig, ore_c, enedis_c, params)
    base = ["year", "commune_code", "source", "measure"]
    parts = []
    if not ore_c.empty:
        parts.append(cl.with_margins(ore_c, base))
    if not enedis_c.empty:
        parts.append(cl.with_margins(enedis_c, base, carrier_subtotals={"total_enr": params.enedis_renewable},
                                     across_carriers="sum"))
    for measure, rule in (("consumption", "max"), ("production", "sum")):
        sub = cig_c[cig_c["measure"] == measure]
        if not sub.empty:
            parts.append(cl.with_margins(sub, base, across_carriers=rule))
    if not parts:
        return Derived(pd.DataFrame(columns=ENERGY_COLUMNS), rejects=_concat(rejects), figures=figures)
    commune_cells = pd.concat(parts, ignore_index=True)
    present = cig[["year", "commune_code"]].drop_duplicates().assign(source="cigale")
    out = cl.roll_up(commune_cells, cl.geography(ref), DIMS, present=present)
    out = _finish(out, "energy_mwh", "largest_contributor_mwh", "carrier",
                  {("ore", "consumption"): "points_de_livraison", ("enedis", "production"): "sites",
                   ("cigale", "consumption"): "contributeurs", ("cigale", "production"): "contributeurs"})
    figures.update({
        "rows": len(out),
        "ore_commune_cells_secret": int(ore_c["open_data_secret"].sum()),
        "enedis_commune_cells_secret": int(enedis_c["open_data_secret"].sum()),
        "cigale_commune_cells_secret_in_open_data": int(cig_c["open_data_secret"].sum()),
        "cells_by_status": out["value_status"].value_counts().to_dict(),
    })
    if ore_aggregates is not None and not ore_aggregates.empty:
        figures["ore_departement_check"] = departement_check(out, ore_aggregates, params)
    return Derived(out[ENERGY_COLUMNS].sort_values(["year", "level", "territory_code", "source", "measure",
                                                    "carrier", "sector"]).reset_index(drop=True),
                   rejects=_concat(rejects), figures=figures)


def departement_check(out: pd.DataFrame, aggregates: pd.DataFrame, settings: Uc1Settings) -> dict:
    """ORE's own département file against our roll-up of its commune file (both omit the same secret cells):
    the largest relative gap per year, and the cells compared. A large gap means missing commune lines."""
    dep = aggregates[(aggregates["maille"] == "departement") & aggregates["departement_code"].isin(settings.departements)]
    theirs = dep.groupby(["year", "departement_code", "energy", "sector"])["consumption_mwh"].sum(min_count=1)
    ours = out[(out["source"] == "ore") & (out["level"] == "departement") & (out["sector"] != "total")
               & (out["carrier"] != "total")].set_index(["year", "territory_code", "carrier", "sector"])["energy_mwh"]
    ours.index = ours.index.set_names(theirs.index.names)
    both = pd.concat({"ours": ours, "theirs": theirs}, axis=1).dropna()
    both = both[both["theirs"] > 0]
    if both.empty:
        return {"cells_compared": 0}
    gap = (both["ours"] - both["theirs"]).abs() / both["theirs"]
    return {"cells_compared": int(len(both)),
            "max_relative_gap_by_year": {int(y): round(float(v), 6) for y, v in gap.groupby(level=0).max().items()}}


def _concat(rejects: list[pd.DataFrame]) -> pd.DataFrame:
    rejects = [r for r in rejects if not r.empty]
    return pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)


def ghg_emissions(cigale: pd.DataFrame, communes: pd.DataFrame, *, params: Uc1Settings,
                  window: Window | None = None, territories: dict[str, Territory] | None = None) -> Derived:
    """CIGALE emissions (t CO2e) by sector and gas for every territory and year, with totals."""
    cigale = _ensure(cigale, CIGALE_COLUMNS)
    ref = _referential(communes, params, territories)
    rejects: list[pd.DataFrame] = []
    figures: dict = {}
    rows = cigale_rows(cigale, ref, params, rejects, figures)
    rows = rows[rows["measure"] == "emissions"]
    if rows.empty:
        return Derived(pd.DataFrame(columns=EMISSION_COLUMNS), rejects=_concat(rejects), figures=figures)
    value = rows["emissions_tco2e"]
    frame = pd.DataFrame({
        "year": rows["year"].astype("int64"), "commune_code": rows["commune_code"], "source": "cigale",
        "measure": "emissions", "carrier": rows["category"], "sector": rows["sector"], "value": value,
        "secret_cells": 0, "contributors": rows["contributors"].astype("Float64"),
        "largest": value * rows["largest_contributor_share_pct"] / 100.0, "communes": 1,
    })
    frame = cl.combine(frame, ["year", "commune_code", "source", "measure", "carrier", "sector"])
    commune_cells = cl.with_margins(frame, ["year", "commune_code", "source", "measure"], across_carriers="max")
    present = rows[["year", "commune_code"]].drop_duplicates().assign(source="cigale")
    out = cl.roll_up(commune_cells, cl.geography(ref), DIMS, present=present)
    out = _finish(out, "emissions_tco2e", "largest_contributor_tco2e", "gas", {("cigale", "emissions"): "contributeurs"})
    figures.update({"rows": len(out), "cells_by_status": out["value_status"].value_counts().to_dict()})
    return Derived(out[EMISSION_COLUMNS].sort_values(["year", "level", "territory_code", "sector", "gas"])
                   .reset_index(drop=True), rejects=_concat(rejects), figures=figures)
