"""UC1 published tables: the additive cells after the platform's secrecy engine (`energy_pipelines.secrecy`).

`published_energy_balance` -> `out_uc1__energy_balance`, `published_emissions` -> `out_uc1__ghg_emissions`.

What is published: the EPCI, département and region levels (the dashboards' levels). Commune cells and
the UC3 territories (overlapping, already published by UC3's own products) are not.

- Agence ORE and Enedis cells are the operators' open data, secretised by them (a secret cell is null):
  their roll-ups are sums of public figures, published as they are.
- AtmoSud's CIGALE cells (de-secretised under the convention) go through `secrecy.protect`: primary
  rules of `assets_config/secrecy/rules.yaml`, secondary suppression over every relation (EPCI -> region
  when every commune has an EPCI, département -> region, carriers -> total, sectors -> total), then the LP
  audit with repairs. The unpublished EPCI x département pieces are in the system as masked unknowns, so
  the attacker's knowledge that an EPCI's communes also sum into their départements is modelled (a piece
  the rules do not mask counts as known to the attacker: the safe side).
  A CIGALE cell the operators' open data publishes as secret (`open_data_secret`) is masked too.

Contributors of an aggregate whose count is unknown (AtmoSud gives them for point sources only) take
a lower bound: a commune cell with a value has at least one contributor, and contributors are located in
one commune; its largest contributor an upper bound: at most the largest commune cell. Both err on the
side of masking. Every masked cell says why in `secrecy_reason` (primary rule, or "secondary: protects X").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.catalog import load_model
from energy_pipelines.secrecy import AuditReport, MappingHierarchy, TableSystem, load_rules, protect
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.territorial import cells as cl
from energy_pipelines.transforms.territorial.indicators import Uc1Settings, _referential

PUBLISHED_LEVELS = ("epci", "departement", "region")
PIECE = "piece"  # unpublished EPCI x département part, a node of the secrecy system only
# the secrecy rules speak of fluids and sectors in English (rules.yaml)
RULE_FLUIDS = {"electricite": "electricity", "gaz": "gas"}
RULE_SECTORS = {"residentiel": "residential"}
# HiGHS's tolerances are absolute: the LP works in GWh so totals stay near 1e5, not 1e9 kWh
LP_SCALE, LP_UNIT = 1e-3, "GWh"
SECRECY_COLUMNS = ["masked", "secrecy_status", "secrecy_reason"]


class SecrecyExposure(RuntimeError):
    """The audit finds a cell an attacker could narrow below its protection: nothing is published."""


def _geo(level: pd.Series, code: pd.Series) -> pd.Series:
    return level.astype(str) + ":" + code.astype(str)


def _maps(ref) -> tuple[dict, dict]:
    """commune pieces -> EPCI (-> region when every commune has one), pieces -> département -> region."""
    c = ref.communes
    region = f"region:{c['region_code'].iat[0]}"
    with_epci = c.dropna(subset=["epci_siren"])
    piece = PIECE + ":" + with_epci["epci_siren"].astype(str) + "|" + with_epci["departement_code"].astype(str)
    to_epci = dict(zip(piece, "epci:" + with_epci["epci_siren"].astype(str), strict=True))
    to_dep = dict(zip(piece, "departement:" + with_epci["departement_code"].astype(str), strict=True))
    # a commune without an EPCI is its own piece of its département only
    alone = c[c["epci_siren"].isna()]
    to_dep.update(dict(zip(PIECE + ":-|" + alone["commune_code"].astype(str),
                           "departement:" + alone["departement_code"].astype(str), strict=True)))
    if alone.empty:
        to_epci.update({e: region for e in set(to_epci.values())})
    to_dep.update({d: region for d in set(to_dep.values())})
    return to_epci, to_dep


def _commune_piece(ref) -> pd.DataFrame:
    c = ref.communes
    piece = np.where(c["epci_siren"].isna(), PIECE + ":-|" + c["commune_code"].astype(str),
                     PIECE + ":" + c["epci_siren"].astype(str) + "|" + c["departement_code"].astype(str))
    return pd.DataFrame({"commune_code": c["commune_code"].to_numpy(), "geo": piece})


def _bounds(commune_rows: pd.DataFrame, membership: pd.DataFrame, dims: list[str], value: str,
            largest: str) -> pd.DataFrame:
    """Per aggregate (geo x dims): contributors lower bound, largest contributor upper bound, value."""
    known = commune_rows["contributors"].notna()
    v = pd.to_numeric(commune_rows[value], errors="coerce")
    rows = commune_rows.assign(
        _lb=np.where(known, pd.to_numeric(commune_rows["contributors"], errors="coerce"), (v.fillna(0) != 0) * 1.0),
        _ub=pd.to_numeric(commune_rows[largest], errors="coerce").fillna(v.abs()),
        _v=v)
    joined = rows.merge(membership, left_on="territory_code", right_on="commune_code", how="inner")
    return joined.groupby(["geo", *dims], dropna=False).agg(
        value=("_v", lambda s: s.sum(min_count=len(s))), lb=("_lb", "sum"), ub=("_ub", "max")).reset_index()


def _system(frame: pd.DataFrame, communes: pd.DataFrame, settings: Uc1Settings, *, value: str, largest: str,
            carrier: str, flow: str | None) -> tuple[TableSystem, pd.DataFrame, list[str]]:
    """The secrecy system of one year of a CIGALE table: (system, published-level rows with `geo`, dims)."""
    ref = _referential(communes, settings, None)
    dims = ["year", *(["measure"] if "measure" in frame else []), carrier, "sector"]
    commune_rows = frame[frame["level"] == "commune"]
    published = frame[frame["level"].isin(PUBLISHED_LEVELS)].reset_index(drop=True)
    memberships = []
    geo = cl.geography(ref)
    for level in PUBLISHED_LEVELS:
        g = geo[geo["level"] == level]
        memberships.append(pd.DataFrame({"commune_code": g["commune_code"].to_numpy(),
                                         "geo": _geo(g["level"], g["territory_code"]).to_numpy()}))
    memberships.append(_commune_piece(ref))
    bounds = _bounds(commune_rows, pd.concat(memberships, ignore_index=True), dims, value, largest)
    pub = published.assign(geo=_geo(published["level"], published["territory_code"]))
    cells = pub[["geo", *dims]].merge(bounds, on=["geo", *dims], how="left")
    cells["value"] = pd.to_numeric(pub[value], errors="coerce").to_numpy()
    # the table's own counts where known, else the bounds
    own_n = pd.to_numeric(pub["contributors"], errors="coerce").to_numpy(dtype=float)
    own_top = pd.to_numeric(pub[largest], errors="coerce").to_numpy(dtype=float)
    cells["n_contributors"] = np.where(np.isnan(own_n), cells["lb"], own_n)
    cells["largest_contributor"] = np.where(np.isnan(own_top), cells["ub"], own_top)
    # a piece is never published, but the system treats it like a cell that is unless its rule masks it:
    # an attacker assumed to know more than he does only makes the masks wider
    pieces = bounds[bounds["geo"].str.startswith(PIECE + ":")].rename(
        columns={"lb": "n_contributors", "ub": "largest_contributor"})
    cells = pd.concat([cells.drop(columns=["lb", "ub"]), pieces], ignore_index=True)
    forced = pub["open_data_secret"].to_numpy(dtype=bool) if "open_data_secret" in pub else np.zeros(len(pub), bool)
    cells["forced"] = np.concatenate([forced, np.zeros(len(pieces), bool)])
    # values the LP cannot use (incomplete territories) are simply not published: unknown, not secret
    cells = cells[cells["value"].notna()].reset_index(drop=True)
    cells["value"] = cells["value"] * LP_SCALE
    cells["largest_contributor"] = cells["largest_contributor"] * LP_SCALE
    cells["fluid"] = cells[carrier].map(RULE_FLUIDS).fillna(cells[carrier])
    cells["flow"] = flow or cells["measure"]
    # forced cells (open-data secret) read as unknown contributors, which every rule masks
    cells.loc[cells["forced"], "n_contributors"] = np.nan
    # the rules match on `sector` in their own words; the system's dimension keeps UC1's
    cells = cells.rename(columns={"sector": "uc1_sector"})
    cells["sector"] = cells["uc1_sector"].map(RULE_SECTORS).fillna(cells["uc1_sector"])
    to_epci, to_dep = _maps(ref)
    hierarchies = (MappingHierarchy("epci", "geo", to_epci), MappingHierarchy("departements", "geo", to_dep),
                   MappingHierarchy("carriers", carrier, {c: "total" for c in cells[carrier].unique()
                                                          if c not in ("total", "total_enr")}),
                   MappingHierarchy("sectors", "uc1_sector", {s: "total" for s in cells["uc1_sector"].unique()
                                                              if s != "total"}))
    system_dims = ("geo", *[d if d != "sector" else "uc1_sector" for d in dims])
    return TableSystem(cells, dims=system_dims, hierarchies=hierarchies), pub, dims


def _keys(frame: pd.DataFrame, dims: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[["geo", *dims]].astype(str))


def protect_cigale(frame: pd.DataFrame, communes: pd.DataFrame, settings: Uc1Settings, *, value: str,
                   largest: str, carrier: str, flow: str | None = None, secondary: bool = True):
    """Mask the published levels of one year of a CIGALE table; returns (rows with masks, audit report).

    `secondary=False` applies the primary rules only (what a test of the audit wants to break)."""
    system, pub, dims = _system(frame, communes, settings, value=value, largest=largest, carrier=carrier, flow=flow)
    report = protect(system, load_rules(), unit=LP_UNIT, secondary=secondary, scope="primary")
    out = system.cells.drop(columns="sector").rename(columns={"uc1_sector": "sector"})
    out = out[~out["geo"].str.startswith(PIECE + ":")]
    found = out.set_index(_keys(out, dims))[["masked", "mask_kind", "mask_reason"]].reindex(_keys(pub, dims))
    masked = found["masked"].fillna(False).to_numpy(dtype=bool)
    published = pub.drop(columns="geo")
    published[value] = published[value].where(~masked)
    published["secrecy_status"] = np.where(masked, found["mask_kind"].to_numpy(dtype=object),
                                           np.where(published[value].isna(), "not_published", "published"))
    published["secrecy_reason"] = np.where(masked, found["mask_reason"].to_numpy(dtype=object), None)
    # the largest contributor of a CIGALE cell is one establishment's own figure: never published (on a
    # masked cell it would also bound the cell)
    published[largest] = np.nan
    return published, report


def audit_published(published: pd.DataFrame, before: pd.DataFrame, communes: pd.DataFrame, settings: Uc1Settings,
                    *, value: str, largest: str, carrier: str, flow: str | None = None):
    """The LP audit of one year of a published CIGALE table, from what it publishes (a null value is unknown
    to the attacker) and the table before secrecy (true values and protection levels of the hidden cells).

    Independent of how the masks were chosen: a table published with too few masks fails here."""
    system, pub, dims = _system(before, communes, settings, value=value, largest=largest, carrier=carrier, flow=flow)
    from energy_pipelines.secrecy import apply_primary, audit

    apply_primary(system, load_rules(), unit=LP_UNIT)  # which hidden cells need protection, and how much
    cells = system.cells
    shown = published[published["source"] == "cigale"].assign(geo=lambda f: _geo(f["level"], f["territory_code"]))
    shown_values = pd.Series(pd.to_numeric(shown[value], errors="coerce").to_numpy(), index=_keys(shown, dims))
    key = _keys(cells.drop(columns="sector").rename(columns={"uc1_sector": "sector"}), dims)
    hidden = shown_values.reindex(key).isna().to_numpy()  # not published, or a piece
    cells["mask_kind"] = np.where(hidden, np.where(cells["masked"], "primary", "secondary"), None).astype(object)
    cells["masked"] = hidden
    return audit(system, intervals="verdict", scope="primary")


ENERGY_AUDIT = {"value": "energy_mwh", "largest": "largest_contributor_mwh", "carrier": "carrier"}
EMISSIONS_AUDIT = {"value": "emissions_tco2e", "largest": "largest_contributor_tco2e", "carrier": "gas",
                   "flow": "emissions"}


def _audit_years(published: pd.DataFrame, before: pd.DataFrame, communes: pd.DataFrame, directory: Path,
                 columns: dict) -> AuditReport:
    """Each stored year of a published CIGALE table audited against the table before secrecy."""
    settings = load_model(Path(directory).parent / "uc1" / "settings.yaml", Uc1Settings)
    cigale = before[before["source"] == "cigale"]
    reports = [audit_published(published[published["year"] == year], rows, communes, settings, **columns)
               for year, rows in cigale.groupby("year") if (published["year"] == year).any()]
    return AuditReport.combine(reports)


def audit_stored_energy(tables: dict[str, pd.DataFrame], inputs: dict[str, pd.DataFrame],
                        directory: Path) -> AuditReport:
    """The auditor products.yaml declares for `out_uc1__energy_balance` (see `secrecy.stored`)."""
    return _audit_years(tables["out_uc1__energy_balance"], inputs["before"], inputs["communes"], directory,
                        ENERGY_AUDIT)


def audit_stored_emissions(tables: dict[str, pd.DataFrame], inputs: dict[str, pd.DataFrame],
                           directory: Path) -> AuditReport:
    """The auditor products.yaml declares for `out_uc1__ghg_emissions`: the gases' total, as published."""
    before = inputs["before"]
    return _audit_years(tables["out_uc1__ghg_emissions"], before[before["gas"] == "total"], inputs["communes"],
                        directory, EMISSIONS_AUDIT)


def _publish(frame: pd.DataFrame, communes: pd.DataFrame, params: Uc1Settings, *, value: str, largest: str,
             carrier: str, flow: str | None, columns: list[str]) -> Derived:
    if frame.empty:
        return Derived(pd.DataFrame(columns=[*columns, *SECRECY_COLUMNS]))
    parts, figures = [], {}
    open_rows = frame[(frame["source"] != "cigale") & frame["level"].isin(PUBLISHED_LEVELS)]
    if not open_rows.empty:
        parts.append(open_rows.assign(secrecy_status=np.where(open_rows[value].isna(), "operator_secret",
                                                              "published"), secrecy_reason=None))
    cigale = frame[frame["source"] == "cigale"]
    for year, rows in cigale.groupby("year"):
        masked, report = protect_cigale(rows, communes, params, value=value, largest=largest, carrier=carrier,
                                        flow=flow)
        if not report.passed:  # fail closed: never publish a year the audit finds exposed
            raise SecrecyExposure(f"{year}: the secrecy audit still finds {len(report.exposed)} exposed cell(s) "
                                  f"after repairs, e.g. {report.exposed['label'].head(3).tolist()}")
        parts.append(masked)
        figures[f"secrecy_{year}"] = {k: report.summary.get(k) for k in (
            "cells", "relations", "primary_cells", "secondary_cells", "audit_repairs", "exposed_cells", "seconds")}
        figures[f"secrecy_{year}"]["audit_passed"] = bool(report.passed)
    out = pd.concat(parts, ignore_index=True)
    out["masked"] = out["secrecy_status"].isin(["primary", "secondary"])
    out = out[[*columns, *SECRECY_COLUMNS]]
    figures["cells_by_secrecy_status"] = out["secrecy_status"].value_counts().to_dict()
    return Derived(out.sort_values([c for c in columns[:9] if c in out]).reset_index(drop=True), figures=figures)


def published_energy_balance(balance: pd.DataFrame, communes: pd.DataFrame, *, params: Uc1Settings) -> Derived:
    from energy_pipelines.transforms.territorial.indicators import ENERGY_COLUMNS

    return _publish(balance, communes, params, flow=None, columns=ENERGY_COLUMNS, **ENERGY_AUDIT)


def published_emissions(emissions: pd.DataFrame, communes: pd.DataFrame, *, params: Uc1Settings) -> Derived:
    from energy_pipelines.transforms.territorial.indicators import EMISSION_COLUMNS

    # the gases' total only: the CH4 / N2O detail would triple the cells for little the pages use
    emissions = emissions[emissions["gas"] == "total"]
    return _publish(emissions, communes, params, columns=EMISSION_COLUMNS, **EMISSIONS_AUDIT)
