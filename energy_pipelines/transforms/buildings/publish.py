"""UC4's open per-area product after the platform's secrecy engine (`energy_pipelines.secrecy`).

`area_cells` sums the Region's buildings per commune, département and region and year (contributors
= buildings, with the largest building of each measure); `protect_cells` masks them and
`products.energy_by_commune` publishes the result as `out_uc4__energy_by_commune`.

- One system per year: area (commune -> département -> region, `area_parents`) x measure
  (`fluid`: final_energy kWh, water m³, floor_area m²), relations `parent = sum(children)` within a
  year and a measure.
- Primary rule `region_buildings` of `assets_config/secrecy/rules.yaml` (>= 3 buildings, none above
  85 % of the cell) on each measure cell with its own contributors and largest building; secondary
  suppression over every relation, then the LP audit with repairs (`secrecy.protect`), insiders
  included (a lycée alone in its commune knows its own figures).
- A row is published or masked as a whole: a cell masked for one measure masks the row's other
  measures too ("secondary: masked with its row"), so kWh/m² never shows where either input is
  masked. Masking more only widens what an attacker can derive; the row-closed system is audited
  again all the same, and a year the audit still finds exposed is refused (`SecrecyExposure`).
- A figure the data cannot give (a building's incomplete year, no water meter) is null in the cell
  and in every area above it (sums need every building): unknown, not secret; such cells are left
  out of the system (`buildings_complete` < `buildings` says why energy is missing).
- The largest building of a cell is never published: largest share x total would be one lycée's
  exact consumption.

`secrecy.audit_products({"out_uc4__energy_by_commune": table}, maps={MAP_NAME: area_parents(table)},
truth=...)` audits the published table on its own (layout in `assets_config/secrecy/products.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.secrecy import AuditReport, MappingHierarchy, RuleSet, TableSystem, audit, load_rules, protect
from energy_pipelines.transforms.territorial.publish import SecrecyExposure

__all__ = ["MAP_NAME", "MEASURES", "PUBLISHED_COLUMNS", "SecrecyExposure", "Uc4Secrecy", "area_cells",
           "area_parents", "protect_cells"]

# the `parents_from` name of the area hierarchy in assets_config/secrecy/products.yaml (system uc4)
MAP_NAME = "uc4_areas"
LEVELS = ("commune", "departement", "region")
SECTOR = "region_buildings"  # the cells' sector for the rules (rule region_buildings)
DIMS = ("area", "fluid", "year")  # the order of the uc4 system's key in products.yaml
# measure (fluid of the system) -> (published column, largest building's column, flow for the rules)
MEASURES = {
    "final_energy": ("final_energy_kwh", "largest_building_kwh", "consumption"),
    "water": ("water_m3", "largest_building_m3", "consumption"),
    "floor_area": ("floor_area_m2", "largest_building_m2", "stock"),
}
CELL_COLUMNS = ["year_start_utc", "year", "area_level", "area_code", "area_name", "buildings", "buildings_complete",
                "floor_area_m2", "final_energy_kwh", "kwh_per_m2", "water_m3", "largest_building_kwh",
                "largest_building_m3", "largest_building_m2"]
SECRECY_COLUMNS = ["masked", "secrecy_status", "secrecy_reason"]
PUBLISHED_COLUMNS = [*CELL_COLUMNS[:11], *SECRECY_COLUMNS]
ROW_REASON = "secondary: masked with its row"


def departement_of(commune_code: pd.Series) -> pd.Series:
    """The département of a PACA commune: the first two characters of its INSEE code."""
    return commune_code.astype(str).str[:2]


def _sum_all(s: pd.Series) -> float:
    """Sum that needs every building: one unknown figure makes the area's figure unknown."""
    return s.sum(min_count=len(s))


def area_cells(per_building: pd.DataFrame, region_code: str) -> pd.DataFrame:
    """Per commune, département and region and year, from per building-year rows (building_id, year,
    commune_code, commune_name, floor_area_m2, final_energy_kwh, water_m3): sums, contributors, and the
    largest building of each measure (for the dominance rule; never published)."""
    missing = [c for c in ("building_id", "year", "commune_code", "commune_name", "floor_area_m2",
                           "final_energy_kwh", "water_m3") if c not in per_building]
    if missing:
        raise ValueError(f"per-building rows lack column(s) {missing}")
    ind = per_building.dropna(subset=["commune_code"]).assign(
        departement_code=lambda f: departement_of(f["commune_code"]), region_code=str(region_code))
    rows = []
    for level, key in zip(LEVELS, ("commune_code", "departement_code", "region_code"), strict=True):
        g = ind.groupby([key, "year"]).agg(
            buildings=("building_id", "nunique"), buildings_complete=("final_energy_kwh", "count"),
            floor_area_m2=("floor_area_m2", _sum_all), final_energy_kwh=("final_energy_kwh", _sum_all),
            water_m3=("water_m3", _sum_all), largest_building_kwh=("final_energy_kwh", "max"),
            largest_building_m3=("water_m3", "max"), largest_building_m2=("floor_area_m2", "max")).reset_index()
        g["area_level"] = level
        g["area_code"] = g[key].astype(str)
        if level == "commune":
            names = ind.drop_duplicates("commune_code", keep="last").set_index("commune_code")["commune_name"]
            g["area_name"] = g[key].map(names)
        else:
            g["area_name"] = None
        rows.append(g)
    out = pd.concat(rows, ignore_index=True)
    out["year"] = out["year"].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["kwh_per_m2"] = out["final_energy_kwh"] / out["floor_area_m2"].where(out["floor_area_m2"] > 0)
    out["year_start_utc"] = (pd.to_datetime(out["year"].astype(str) + "-01-01").dt.tz_localize(PARIS)
                             .dt.tz_convert("UTC"))
    return out[CELL_COLUMNS]


def area_parents(table: pd.DataFrame) -> dict[str, str]:
    """commune code -> département code, département code -> region code, from a table of area rows
    (area_level, area_code): the run-time map `uc4_areas` of products.yaml. Communes of a département
    with no row hang directly under the region (the nearest ancestor present)."""
    levels = table[["area_level", "area_code"]].drop_duplicates()
    unknown = sorted(set(levels["area_level"]) - set(LEVELS))
    if unknown:
        raise ValueError(f"area_level {unknown}: expected one of {LEVELS}")
    communes = levels.loc[levels["area_level"] == "commune", "area_code"].astype(str)
    deps = levels.loc[levels["area_level"] == "departement", "area_code"].astype(str)
    regions = levels.loc[levels["area_level"] == "region", "area_code"].astype(str).unique()
    if len(regions) > 1:
        raise ValueError(f"several region rows {sorted(regions)}: UC4 covers one region")
    parents = dict(zip(communes, departement_of(communes), strict=True))
    if len(regions):
        parents.update({d: regions[0] for d in set(deps) | set(parents.values())})
    clash = sorted(set(communes) & set(deps) | set(deps) & set(regions) | set(communes) & set(regions))
    if clash:
        raise ValueError(f"area code(s) {clash} name two levels: the secrecy system keys areas by code")
    return parents



def stored_area_parents(table: pd.DataFrame, directory: Path) -> dict[str, str]:
    """`area_parents` as products.yaml's stored map `uc4_areas` (read back by `secrecy.stored`)."""
    return area_parents(table)

def _long(cells: pd.DataFrame) -> pd.DataFrame:
    """One system cell per (area, measure, year) with a value; unknown figures stay out (not secret)."""
    parts = []
    for fluid, (column, largest, flow) in MEASURES.items():
        part = pd.DataFrame({"area": cells["area_code"].astype(str).to_numpy(), "fluid": fluid,
                             "year": cells["year"].to_numpy(dtype="int64"),
                             "value": pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=float),
                             "n_contributors": pd.to_numeric(cells["buildings"]).to_numpy(dtype=float),
                             "largest_contributor": pd.to_numeric(cells[largest], errors="coerce").to_numpy(float),
                             "flow": flow, "sector": SECTOR, "row": cells.index.to_numpy(),
                             # one cost per row: the same partner row suits every measure when it covers them
                             "row_cost": pd.to_numeric(cells["floor_area_m2"], errors="coerce").to_numpy(float)})
        parts.append(part[np.isfinite(part["value"].to_numpy())])
    return pd.concat(parts, ignore_index=True)


def _close_rows(system: TableSystem) -> None:
    """Mask every measure of a row one of whose measures is masked."""
    c = system.cells
    row_masked = c.groupby("row")["masked"].transform("any").to_numpy(dtype=bool)
    extra = row_masked & ~c["masked"].to_numpy(dtype=bool)
    c.loc[extra, "masked"] = True
    c.loc[extra, "mask_kind"] = "secondary"
    c.loc[extra, "mask_reason"] = ROW_REASON


def _row_reason(group: pd.DataFrame) -> str:
    """The reasons of a masked row's cells: primary ones first, each once with the measures it masks."""
    g = group[group["masked"] & (group["mask_reason"] != ROW_REASON)]
    g = g.assign(order=(g["mask_kind"] != "primary").astype(int))
    by_reason = g.sort_values(["order", "fluid"]).groupby("mask_reason", sort=False)["fluid"].apply(list)
    return "; ".join(f"{reason} [{', '.join(fluids)}]" for reason, fluids in by_reason.items())


@dataclass
class Uc4Secrecy:
    """The published rows, each year's final audit, and the system cells (truth for `audit_products`)."""

    published: pd.DataFrame
    reports: dict[int, AuditReport] = field(default_factory=dict)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports.values())

    def figures(self) -> dict:
        out = {}
        for year, report in self.reports.items():
            out[f"secrecy_{year}"] = {k: report.summary.get(k) for k in (
                "cells", "relations", "primary_cells", "secondary_cells", "row_cells", "audit_repairs",
                "exposed_cells", "seconds")} | {"audit_passed": bool(report.passed)}
        out["rows_by_secrecy_status"] = self.published["secrecy_status"].value_counts().to_dict()
        return out


def protect_cells(cells: pd.DataFrame, *, rules: RuleSet | None = None, secondary: bool = True) -> Uc4Secrecy:
    """Mask the area cells year by year (module doc). `secondary=False` applies the primary rules (and the
    row closure) only: what a test of the audit wants to break. Raises nothing: check `passed`."""
    rules = rules or load_rules()
    cells = cells.reset_index(drop=True)
    published = cells[PUBLISHED_COLUMNS[:11]].copy()
    masked = np.zeros(len(cells), dtype=bool)
    status = np.full(len(cells), "published", dtype=object)
    reason = np.full(len(cells), None, dtype=object)
    reports, system_cells = {}, []
    parents = area_parents(cells) if len(cells) else {}
    for year, rows in cells.groupby("year"):
        long = _long(cells.loc[rows.index])
        system = TableSystem(long, dims=DIMS, hierarchies=(MappingHierarchy("areas", "area", parents),))
        first = protect(system, rules, unit="kWh", secondary=secondary, scope="primary", cost="row_cost")
        _close_rows(system)
        report = audit(system, insiders=True, scope="primary", intervals="verdict")
        report.summary.update({k: first.summary.get(k) for k in ("primary_cells", "audit_repairs")})
        report.summary["secondary_cells"] = int((system.cells["mask_kind"] == "secondary").sum())
        report.summary["row_cells"] = int((system.cells["mask_reason"] == ROW_REASON).sum())
        reports[int(year)] = report
        c = system.cells
        system_cells.append(c)
        for row, group in c[c["row"].isin(c.loc[c["masked"], "row"])].groupby("row"):
            masked[row] = True
            status[row] = "primary" if (group["mask_kind"] == "primary").any() else "secondary"
            reason[row] = _row_reason(group)
    for column in ("floor_area_m2", "final_energy_kwh", "kwh_per_m2", "water_m3"):
        published[column] = published[column].where(~masked)
    published["masked"] = masked
    published["secrecy_status"] = status
    published["secrecy_reason"] = reason
    truth = pd.concat(system_cells, ignore_index=True) if system_cells else pd.DataFrame()
    return Uc4Secrecy(published=published, reports=reports, cells=truth)


def publish_cells(cells: pd.DataFrame, *, rules: RuleSet | None = None) -> Uc4Secrecy:
    """`protect_cells`, refusing to publish (SecrecyExposure) a year the audit still finds exposed."""
    result = protect_cells(cells, rules=rules)
    for year, report in result.reports.items():
        if not report.passed:  # fail closed: never publish a year the audit finds exposed
            raise SecrecyExposure(f"out_uc4__energy_by_commune {year}: the secrecy audit still finds "
                                  f"{len(report.exposed)} exposed cell(s) after repairs, e.g. "
                                  f"{report.exposed['label'].head(3).tolist()}")
    return result
