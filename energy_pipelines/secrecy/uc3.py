"""UC3 protected as one system of tables: every product takes its masks from the half-hour cells.

The system (`products.yaml`, system `uc3`): territory x time x flow x category. Published cells:
half-hours with every category and the flow totals (`out_uc3__territorial_balance`); hours,
days, months, years with the flow totals only (`out_uc3__rates_*`, the baseline of
`out_uc3__pv_what_if`). Relations: categories -> total at each half-hour, and half-hour -> hour
-> day -> month -> year on the totals. Territories overlap and none is a union of others: no
geographic relation.

Design, and why it is safe:

1. Masks are decided at the finest grain, each half-hour line (territory, half-hour, flow) on
   its own: primary rules on every category and total cell with that cell's own contributors,
   then the relation pass of `suppress.py` over the line (a masked cell gets a partner in its
   line large enough to hide it, by 10 % of its value, also from an insider who knows one
   one-contributor cell; else the line's total). Only the half-hour's own data decides, so the
   half-hourly product can be published as soon as its half-hour is, and every product, whatever
   window it is computed on, finds the same masks.
2. Closed upward in time: a total of an hour / day / month / year is masked when any half-hour
   total of the same series inside it is masked ("secondary: protects <that half-hour>").
   - A coarse total with no masked half-hour inside is the sum of published cells: it tells
     nothing new, so no later product ever has to mask an already published cell.
   - Its own primary check is then implied (mediant inequality): if every half-hour passes the
     count rule, the period's count bound max(n_t) passes it; if every half-hour passes the
     dominance rule, largest_t <= s v_t for all t gives sum largest_t <= s sum v_t, so the
     period's bound passes it too (tested with hypothesis in tests/unit/test_secrecy_uc3.py).
     It is evaluated all the same, and names its rule when it fails.
   - Audit argument: a masked category cell x has a masked partner y in its line: moving energy
     between them keeps every published figure, so x ranges over [0, x + y] (or [0, inf) when
     the partner is the line's total: the total's masked hour, day, ... up to the year carry
     the change). Coarse cells are totals only, so no other relation binds x. The LP audit
     (`audit_products`) checks this on the published tables rather than trusting it.
3. Derived figures (A = min(P, C), surplus P - A, import C - A, the rates, coverage; the
   what-if's production from the solar fleet's output; forecasts from their training window)
   are nonlinear or reveal their inputs: each is masked when any of its inputs is masked (a
   dependency closure declared in products.yaml). The audit then only needs additive relations.
   The PV what-if reveals the solar filière over the year: it is masked when any solar
   half-hour of the year is, so solar is a costly partner (`partner_cost_factor`).

Alternatives considered: auditing and repairing at each publication (tau-ARGUS style) would
make a published half-hour depend on cells published later (not publishable before its month
closes, and repairs could hit published cells); masking each product on its own (the previous
design) leaks a masked half-hour as hour minus the other half-hour (issue 9.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from energy_pipelines.secrecy.products import PRODUCTS_PATH, load_products
from energy_pipelines.secrecy.rules import RULES_PATH, RuleSet, evaluate_primary, load_rules
from energy_pipelines.secrecy.suppress import apply_primary, relation_pass
from energy_pipelines.secrecy.system import PERIOD_START, RESOLUTION, MappingHierarchy, TableSystem, floor_paris
from energy_pipelines.transforms import balance as bl

SYSTEM = "uc3"
FLUID = "electricity"
DIMS = ("territory_id", RESOLUTION, PERIOD_START, "flow", "category")
CATEGORY_HIERARCHY = MappingHierarchy("categories", "category",
                                      {c: bl.TOTAL for cats in bl.CATEGORIES.values() for c in cats})
MEASURE_COLUMNS = {(flow, cat): f"{flow}_kwh" if cat == bl.TOTAL else f"{flow}_{cat}_kwh"
                   for flow, cats in bl.CATEGORIES.items() for cat in (bl.TOTAL, *cats)}
DERIVED_COLUMNS = ("self_consumed_kwh", "surplus_kwh", "import_kwh", "self_consumption_rate_pct",
                   "self_production_rate_pct", "coverage_rate_pct")


@dataclass(frozen=True)
class Uc3Secrecy:
    """What UC3 secrecy runs with: the rules, partner costs, and two switches for tests.

    `secondary=False` applies primary masks only; `close_upward=False` masks each resolution on
    its own (the behaviour before issue 9.1). Both exist so tests can show what the audit finds.
    """

    rules: RuleSet
    partner_cost_factor: dict[str, float] = field(default_factory=dict)
    secondary: bool = True
    close_upward: bool = True

    @classmethod
    def load(cls, directory: Path | str | None = None) -> Uc3Secrecy:
        """From `<directory>/rules.yaml` and `<directory>/products.yaml` (default assets_config/secrecy)."""
        rules_path = Path(directory) / "rules.yaml" if directory else RULES_PATH
        products_path = Path(directory) / "products.yaml" if directory else PRODUCTS_PATH
        spec = load_products(products_path).systems[SYSTEM]
        return cls(rules=load_rules(rules_path), partner_cost_factor=dict(spec.partner_cost_factor))

    def as_metadata(self) -> dict:
        return {**self.rules.as_metadata(), "partner_cost_factor": self.partner_cost_factor,
                "secondary": self.secondary, "close_upward": self.close_upward}


@lru_cache(maxsize=1)
def default_settings() -> Uc3Secrecy:
    return Uc3Secrecy.load()


# -- the system's cells -----------------------------------------------------------------------------

def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def halfhour_system(energy: pa.Table | pd.DataFrame, settings: Uc3Secrecy) -> TableSystem:
    """Half-hour cells (every category and the totals) with their masks, decided line by line."""
    e = bl.check_energy(energy)
    value = e["energy_kwh"].to_numpy(dtype=float)
    cells = pd.DataFrame({
        "territory_id": e["territory_id"].astype(object).to_numpy(), RESOLUTION: "halfhour",
        PERIOD_START: e["datetime_utc"].to_numpy(), "flow": e["flow"].astype(object).to_numpy(),
        "category": e["category"].astype(object).to_numpy(), "value": value,
        # unknown contributors (a column absent) are masked by the rules, never assumed
        "n_contributors": _numbers(e, "n_points"), "largest_contributor": _numbers(e, "largest_point_kwh"),
        "fluid": FLUID, "sector": e["category"].astype(object).to_numpy(),
    })
    cells[PERIOD_START] = pd.to_datetime(cells[PERIOD_START], utc=True)
    factor = cells["category"].map(settings.partner_cost_factor).fillna(1.0).to_numpy(dtype=float)
    cells["partner_cost"] = np.abs(value) * factor
    system = TableSystem(cells, DIMS, (CATEGORY_HIERARCHY,))
    apply_primary(system, settings.rules, unit="kWh")
    if settings.secondary:
        relation_pass(system, cost="partner_cost")
    return system


def period_cells(halfhours: TableSystem, resolution: str, settings: Uc3Secrecy,
                 category: str = bl.TOTAL) -> pd.DataFrame:
    """Cells of one series kind (flow totals by default) at `resolution`, with their masks.

    Contributors over the period are bounded from the per-half-hour figures (module doc of
    `rules.py`): count >= max count, largest <= sum of the per-half-hour largest.
    """
    hh = halfhours.cells
    part = hh[hh["category"] == category]
    if part.empty:
        return pd.DataFrame(columns=[*DIMS, "period_end_utc", "value", "n_contributors", "largest_contributor",
                                     "masked", "mask_kind", "mask_reason", "rule_id", "protection_pct"])
    frame = part.assign(_start=floor_paris(part[PERIOD_START], resolution).to_numpy(), _id=part.index.to_numpy())
    frame["_masked_id"] = np.where(frame["masked"].to_numpy(dtype=bool), frame["_id"], np.iinfo(np.int64).max)
    keys = ["territory_id", "flow", "_start"]
    agg = frame.groupby(keys, sort=True).agg(
        value=("value", "sum"), n_contributors=("n_contributors", "max"),
        largest_contributor=("largest_contributor", lambda s: s.sum(min_count=len(s))),
        first_masked=("_masked_id", "min"), half_hours=("value", "size")).reset_index()
    out = pd.DataFrame({"territory_id": agg["territory_id"], RESOLUTION: resolution,
                        PERIOD_START: pd.to_datetime(agg["_start"], utc=True), "flow": agg["flow"],
                        "category": category, "value": agg["value"], "n_contributors": agg["n_contributors"],
                        "largest_contributor": agg["largest_contributor"], "fluid": FLUID, "sector": category,
                        "half_hours": agg["half_hours"]})
    primary = evaluate_primary(out, settings.rules, unit="kWh")
    reason = primary["primary_reason"].to_numpy(dtype=object)
    own = reason != ""
    inner = agg["first_masked"].to_numpy() != np.iinfo(np.int64).max
    closed = inner & ~own & settings.close_upward
    labels = {i: lab for i, lab in zip(np.unique(agg.loc[closed, "first_masked"]),
                                       halfhours.label(np.unique(agg.loc[closed, "first_masked"])), strict=True)}
    out["rule_id"] = primary["rule_id"].to_numpy()
    out["protection_pct"] = np.where(own, primary["protection_pct"].to_numpy(dtype=float), 0.0)
    out["masked"] = own | closed
    out["mask_kind"] = np.where(own, "primary", np.where(closed, "secondary", None)).astype(object)
    out["mask_reason"] = np.where(own, reason, None).astype(object)
    out.loc[closed, "mask_reason"] = [f"secondary: protects {labels[i]} (a masked half-hour inside the period)"
                                      for i in agg.loc[closed, "first_masked"]]
    return out


def system_cells(energy: pa.Table | pd.DataFrame, settings: Uc3Secrecy | None = None,
                 resolutions: tuple[str, ...] = bl.RESOLUTIONS) -> pd.DataFrame:
    """Every cell of the system over `energy` (half-hours and the coarser totals), with true values,
    contributors and masks: the `truth` the audit of the published products needs."""
    settings = settings or default_settings()
    hh = halfhour_system(energy, settings)
    parts = [hh.cells] + [period_cells(hh, r, settings) for r in resolutions]
    columns = [*DIMS, "value", "n_contributors", "largest_contributor", "rule_id", "protection_pct", "masked",
               "mask_kind", "mask_reason"]
    return pd.concat([p[columns] for p in parts], ignore_index=True)


def stored_truth(energy: pd.DataFrame, directory: Path) -> pd.DataFrame:
    """`system_cells` under the rules of `directory`: the truth that products.yaml declares for UC3."""
    return system_cells(energy, Uc3Secrecy.load(directory))


# -- the products ------------------------------------------------------------------------------------

def _notes(parts: list[pd.Series]) -> pd.Series:
    frame = pd.concat(parts, axis=1)
    return frame.apply(lambda row: "; ".join(v for v in row if isinstance(v, str)) or None, axis=1)


def published_balance(energy: pa.Table | pd.DataFrame, settings: Uc3Secrecy | None = None) -> pd.DataFrame:
    """The half-hourly balance as published: category cells and totals after secrecy, A, rates.

    A masked figure is null and `secrecy_notes` says why; A, surplus, import and the rates are
    null with a masked total. A category absent from a delivered line is a true zero; a flow not
    delivered is null (fail closed, `incomplete_reason`). `masked_cells` counts masked figures.
    """
    settings = settings or default_settings()
    hh = halfhour_system(energy, settings).cells
    bal = bl.half_hour_balance(energy)
    index = ["territory_id", "datetime_utc"]
    bal = bal.set_index(index)
    hh = hh.rename(columns={PERIOD_START: "datetime_utc"})
    hh["column"] = [MEASURE_COLUMNS[(f, c)] for f, c in zip(hh["flow"], hh["category"], strict=True)]
    values = hh.pivot(index=index, columns="column", values="value")
    masked = hh.assign(masked=hh["masked"].astype(float)).pivot(index=index, columns="column", values="masked") > 0.5
    reasons = hh.pivot(index=index, columns="column", values="mask_reason")
    stray = values.index.difference(bal.index)
    if len(stray):
        raise ValueError(f"cells of {len(stray)} half-hour(s) have no balance row (misaligned timestamps), "
                         f"e.g. {list(stray[:3])}")
    wide = pd.DataFrame(index=bal.index)
    notes = []
    any_total_masked = np.zeros(len(wide), dtype=bool)
    for flow, cats in bl.CATEGORIES.items():
        delivered = bal[f"{flow}_kwh"].notna().to_numpy()
        for cat in (bl.TOTAL, *cats):
            col = MEASURE_COLUMNS[(flow, cat)]
            v = values[col].reindex(wide.index).to_numpy(dtype=float) if col in values else np.full(len(wide), np.nan)
            # a category absent from a delivered line holds nothing; an undelivered flow is unknown
            v = np.where(np.isnan(v) & delivered & (cat != bl.TOTAL), 0.0, v)
            m = (masked[col].reindex(wide.index, fill_value=False).to_numpy(dtype=bool) if col in masked
                 else np.zeros(len(wide), bool))
            wide[col] = np.where(m, np.nan, v)
            if m.any():
                r = reasons[col].reindex(wide.index)
                notes.append(pd.Series(np.where(m, col + ": " + r.astype(str), None), index=wide.index))
            if cat == bl.TOTAL:
                any_total_masked |= m
    for col in ("self_consumed_kwh", "surplus_kwh", "import_kwh", "complete", "incomplete_reason",
                "communes_reporting", "communes_expected"):
        wide[col] = bal[col]
    wide = bl.add_rates(wide)
    for col in DERIVED_COLUMNS:
        wide[col] = wide[col].where(~any_total_masked)
    if any_total_masked.any():
        which = np.where(masked["consumption_kwh"].reindex(wide.index, fill_value=False).to_numpy(dtype=bool),
                         "consumption_kwh", "") if "consumption_kwh" in masked else np.full(len(wide), "")
        which_p = np.where(masked["production_kwh"].reindex(wide.index, fill_value=False).to_numpy(dtype=bool),
                           "production_kwh", "") if "production_kwh" in masked else np.full(len(wide), "")
        src = [" and ".join(x for x in pair if x) for pair in zip(which, which_p, strict=True)]
        notes.append(pd.Series(np.where(any_total_masked, [f"{', '.join(DERIVED_COLUMNS)}: derived from masked {s}"
                                                           for s in src], None), index=wide.index))
    measure_cols = [MEASURE_COLUMNS[(f, c)] for f, cats in bl.CATEGORIES.items() for c in (bl.TOTAL, *cats)]
    mask_count = sum((masked[c].reindex(wide.index, fill_value=False).to_numpy(dtype=bool) if c in masked
                      else np.zeros(len(wide), bool)).astype(int) for c in measure_cols)
    wide["masked_cells"] = (mask_count + any_total_masked * len(DERIVED_COLUMNS)).astype("int64")
    wide["secrecy_notes"] = _notes(notes) if notes else None
    return wide.reset_index()


def _coarse_masks(energy, resolution: str, settings: Uc3Secrecy, categories=(bl.TOTAL,)) -> pd.DataFrame:
    hh = halfhour_system(energy, settings)
    frames = [period_cells(hh, resolution, settings, category) for category in categories]
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True).rename(columns={PERIOD_START: "period_start_utc"})


def _apply_period_masks(rates: pd.DataFrame, masks: pd.DataFrame) -> pd.DataFrame:
    """Null the masked totals of each (territory, period) row and every derived figure with them."""
    out = rates.copy()
    key = ["territory_id", "period_start_utc"]
    totals = masks[masks["category"] == bl.TOTAL]
    reasons = []
    any_masked = np.zeros(len(out), dtype=bool)
    for flow in (bl.CONSUMPTION, bl.PRODUCTION):
        f = totals[totals["flow"] == flow].set_index(key)
        idx = pd.MultiIndex.from_frame(out[key])
        m = f["masked"].reindex(idx, fill_value=False).to_numpy(dtype=bool)
        r = f["mask_reason"].reindex(idx).to_numpy(dtype=object)
        out.loc[m, f"{flow}_kwh"] = np.nan
        any_masked |= m
        reasons.append(np.where(m, [f"{flow}_kwh: {x}" for x in r], None))
    for col in DERIVED_COLUMNS:
        if col in out:
            out.loc[any_masked, col] = np.nan
    notes = ["; ".join(x for x in row if x) or None for row in zip(*reasons, strict=True)]
    out["masked"] = any_masked
    out["mask_reason"] = notes
    return out


def published_rates(energy: pa.Table | pd.DataFrame, resolution: str,
                    settings: Uc3Secrecy | None = None) -> pd.DataFrame:
    """Totals and ratio-of-sums rates per territory and period, masked from the half-hour system.

    A total is masked when it fails its rule or holds a masked half-hour total; A, surplus,
    import and the rates are masked with it. `mask_reason` names the total and the reason.
    """
    settings = settings or default_settings()
    rates = bl.period_rates(bl.half_hour_balance(energy), resolution)
    return _apply_period_masks(rates, _coarse_masks(energy, resolution, settings))


def published_what_if(energy: pa.Table | pd.DataFrame, scenarios, settings: Uc3Secrecy | None = None,
                      resolution: str = "year") -> pd.DataFrame:
    """The PV what-if with the system's masks: the baseline like the rates; a scenario row also
    reveals the solar filière over the period (its output per kW), so it is masked when any solar
    half-hour of the period is; the installed and added PV power with it."""
    settings = settings or default_settings()
    out = bl.pv_what_if(bl.half_hour_balance(energy), scenarios, resolution)
    masks = _coarse_masks(energy, resolution, settings, categories=(bl.TOTAL, "solar"))
    base = out["scenario_id"] == "baseline"
    masked = _apply_period_masks(out, masks)
    key = ["territory_id", "period_start_utc"]
    solar = masks[(masks["category"] == "solar") & (masks["flow"] == bl.PRODUCTION)].set_index(key)
    idx = pd.MultiIndex.from_frame(out[key])
    solar_m = solar["masked"].reindex(idx, fill_value=False).to_numpy(dtype=bool)
    solar_r = solar["mask_reason"].reindex(idx).to_numpy(dtype=object)
    scen_m = ~base.to_numpy() & solar_m
    for col in ("production_kwh", *DERIVED_COLUMNS):
        masked.loc[scen_m, col] = np.nan
    for col in ("installed_pv_kwp", "added_pv_kwp"):
        masked.loc[solar_m, col] = np.nan
    what = np.where(base.to_numpy(), "installed_pv_kwp, added_pv_kwp",
                    "production_kwh and the figures derived from it, installed_pv_kwp, added_pv_kwp")
    extra = np.where(solar_m, [f"{w}: the solar filière is masked ({r})" for w, r in zip(what, solar_r, strict=True)],
                     None)
    masked["mask_reason"] = ["; ".join(x for x in (a, b) if x) or None
                             for a, b in zip(masked["mask_reason"], extra, strict=True)]
    masked["masked"] = masked["masked"].to_numpy() | solar_m
    return masked


def forecast_masks(energy: pa.Table | pd.DataFrame, start: datetime, end: datetime,
                   settings: Uc3Secrecy | None = None) -> pd.DataFrame:
    """Per territory and flow: whether the total series has a masked half-hour in [start, end)
    (a forecast trained on that window is a function of it), and why."""
    settings = settings or default_settings()
    frame = energy.to_pandas() if isinstance(energy, pa.Table) else energy
    times = pd.to_datetime(frame["datetime_utc"], utc=True)
    frame = frame[(times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))]
    rows = []
    if frame.empty:
        return pd.DataFrame(columns=["territory_id", "flow", "masked", "mask_reason"])
    hh = halfhour_system(frame, settings)
    cells = hh.cells[hh.cells["category"] == bl.TOTAL]
    for (territory, flow), group in cells.groupby(["territory_id", "flow"]):
        hit = group[group["masked"].to_numpy(dtype=bool)]
        reason = None
        if len(hit):
            first = hit.index[0]
            reason = (f"{len(hit)} masked half-hour(s) of the {flow} total in the training window, e.g. "
                      f"{hh.label([first])[0]}: {hit.loc[first, 'mask_reason']}")
        rows.append({"territory_id": territory, "flow": flow, "masked": bool(len(hit)), "mask_reason": reason})
    return pd.DataFrame(rows)
