"""UC3 derived datasets as pure functions: each is named by the `derive:` block of its dataset YAML.

Territories come from `assets_config/territories/`, secrecy rules from `assets_config/secrecy/`
(every product's masks from one system of tables, `secrecy.uc3`); the computations live in
`transforms.balance`. Here is what a product adds around them: its territory names, its Paris
labels, its figures and charts (`reporting.uc3`). Closed data stays in the core layer; every out_*
product passes statistical secrecy (its catalogue `step:` is what lifts its access).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.clock import PARIS, Window, local_iso, local_label
from energy_pipelines.reporting import uc3 as charts
from energy_pipelines.secrecy import uc3 as secrecy_uc3
from energy_pipelines.territories import Territory, load_territories, membership
from energy_pipelines.transforms import balance as bl
from energy_pipelines.transforms import territorial_forecast as tf
from energy_pipelines.transforms.common import REJECT_COLUMNS
from energy_pipelines.transforms.result import Derived

@lru_cache(maxsize=8)
def _territories(directory: Path) -> dict[str, Territory]:
    return load_territories(directory / "territories")


@lru_cache(maxsize=8)
def _rules(directory: Path) -> secrecy_uc3.Uc3Secrecy:
    return secrecy_uc3.Uc3Secrecy.load(directory / "secrecy")


def territories_of(catalog: Catalog) -> dict[str, Territory]:
    """The declared territories (assets_config/territories/)."""
    return _territories(Path(catalog.directory))


def names_of(catalog: Catalog) -> dict[str, str]:
    return {t.id: t.name for t in territories_of(catalog).values()}


def rules_of(catalog: Catalog) -> secrecy_uc3.Uc3Secrecy:
    """The secrecy rules and product layouts (assets_config/secrecy/)."""
    return _rules(Path(catalog.directory))


def _empty(spec: DatasetSpec) -> pa.Table:
    """Nothing to write: an empty table of the dataset's schema (the IO manager still replaces the window)."""
    return spec.table_schema.to_arrow().empty_table()


def _rejects(frame: pd.DataFrame | None) -> pd.DataFrame:
    return frame if frame is not None and len(frame) else pd.DataFrame(columns=REJECT_COLUMNS)


# -- core -------------------------------------------------------------------------------------------

def communes_of_territories(referential: pd.DataFrame,
                            territories: dict[str, Territory]) -> tuple[pd.DataFrame, dict]:
    """Declared membership completed from the referential (latest millésime of each file kind)."""
    members = membership(territories)
    ref = referential.copy()
    if len(ref):
        ref["millesime"] = pd.to_numeric(ref["millesime"], errors="coerce").fillna(0)
        ref = ref.sort_values(["millesime", "source_file", "source_line"])
    cog = ref[(ref.get("file_kind") == "cog_communes") & (ref.get("commune_type") == "COM")] if len(ref) else ref
    epci = ref[ref.get("file_kind") == "epci_composition"] if len(ref) else ref
    cog = cog.drop_duplicates("commune_code", keep="last").set_index("commune_code") if len(cog) else None
    epci = epci.drop_duplicates("commune_code", keep="last").set_index("commune_code") if len(epci) else None
    codes = members["commune_code"]

    def pick(frame, column):
        if frame is None:
            return pd.Series([None] * len(codes), index=members.index, dtype=object)
        return pd.Series(frame[column].reindex(codes).to_numpy(), index=members.index)

    out = members[["territory_id", "territory_name", "territory_kind", "commune_code", "partial"]].copy()
    name = pick(cog, "commune_name").fillna(pick(epci, "commune_name"))
    out["commune_name"] = name.fillna(members["commune_name_declared"])
    out["departement_code"] = pick(cog, "departement_code").fillna(pick(epci, "departement_code")).fillna(
        codes.str[:2])
    out["epci_siren"] = pick(epci, "epci_siren")
    out["epci_name"] = pick(epci, "epci_name")
    out["population"] = pd.array(pd.to_numeric(pick(epci, "population"), errors="coerce"), dtype="Int64")
    out["in_referential"] = codes.isin(cog.index).to_numpy() if cog is not None else False
    unknown = sorted(out.loc[~out["in_referential"], "commune_code"].unique())
    figures = {
        "territories": int(out["territory_id"].nunique()), "communes": int(out["commune_code"].nunique()),
        "communes_not_in_referential": len(unknown), "communes_not_in_referential_sample": unknown[:20],
        "referential_loaded": cog is not None,
        "communes_per_territory": out.groupby("territory_id").size().to_dict(),
    }
    return out, figures


def territory_communes(referential: pd.DataFrame, *, catalog: Catalog) -> Derived:
    """core_insee__territory_communes: the communes of each declared territory, named by the referential."""
    out, figures = communes_of_territories(referential, territories_of(catalog))
    warnings = []
    if figures["communes_not_in_referential"] and figures["referential_loaded"]:
        warnings.append(f"{figures['communes_not_in_referential']} declared commune code(s) are not communes of "
                        f"the referential: {figures['communes_not_in_referential_sample']}")
    return Derived(data=out, figures=figures, warnings=warnings)


def commune_energy(consumption: pa.Table, production: pa.Table) -> Derived:
    """core_enedis__commune_energy: both Enedis extracts typed into one table of commune cells."""
    typed = bl.commune_energy(consumption, production)
    warnings = ([f"unknown sector/filière labels rejected: {typed.figures['unknown_labels']}"]
                if typed.figures["unknown_labels"] else [])
    return Derived(data=typed.data, rejects=_rejects(typed.rejects), figures=typed.figures, warnings=warnings)


def territorial_energy(energy: pa.Table, members: pd.DataFrame, *, window: Window, catalog: Catalog) -> Derived:
    """core_enedis__territorial_energy: commune cells summed per territory, half-hour, flow and category."""
    warnings = []
    if members.empty:
        # the composition is configuration: the referential only checks and names it
        warnings.append("core_insee__territory_communes is empty (not materialised?): using the declared "
                        "territory composition")
        members = membership(territories_of(catalog))
    out = bl.territorial_energy(energy, members)
    frame = out.select(["territory_id", "datetime_utc", "flow", "category", "communes_reporting",
                        "communes_expected"]).to_pandas()
    totals = frame[(frame["flow"] == bl.CONSUMPTION) & (frame["category"] == bl.TOTAL)]
    incomplete = totals[totals["communes_reporting"] < totals["communes_expected"]]
    figures = {
        "territories": int(frame["territory_id"].nunique()),
        "half_hours_with_consumption": int(totals["datetime_utc"].nunique()),
        "incomplete_half_hours": int(len(incomplete)),
        "incomplete_by_territory": incomplete.groupby("territory_id").size().to_dict(),
    }
    if not window.is_all_time:
        figures["half_hours_in_window"] = len(window.half_hours())
    return Derived(data=out, figures=figures, warnings=warnings)


def regional_aggregates(conso_inf36_region: pd.DataFrame, conso_sup36_region: pd.DataFrame,
                        prod_region: pd.DataFrame) -> Derived:
    """core_enedis__regional_aggregates: Enedis's three open regional datasets, typed, 'S' marks honoured."""
    typed = bl.regional_aggregates({"conso-inf36-region": conso_inf36_region,
                                    "conso-sup36-region": conso_sup36_region, "prod-region": prod_region})
    return Derived(data=typed.data, rejects=_rejects(typed.rejects), figures=typed.figures)


# -- published ------------------------------------------------------------------------------------

def regional_balance(aggregates: pd.DataFrame, *, spec: DatasetSpec) -> Derived:
    """out_uc3__regional_balance: PACA on the distribution network from Enedis's open data."""
    out = bl.regional_balance(aggregates)
    if out.empty:
        return Derived(data=_empty(spec))
    sums = out[["consumption_kwh", "production_kwh", "self_consumed_kwh"]].sum()
    figures = {"half_hours": len(out), "approximate_half_hours": int(out["approximate"].sum()),
               "self_consumption_rate_pct": float(100 * sums["self_consumed_kwh"] / sums["production_kwh"]),
               "self_production_rate_pct": float(100 * sums["self_consumed_kwh"] / sums["consumption_kwh"])}
    pngs = {}
    if len(out) >= 48:
        pngs["chart"] = charts.balance_chart(out.assign(territory_id=out["region_code"]),
                                             {"93": "PACA (Enedis open data)"},
                                             "PACA distribution network: consumption, production, self-consumed")
    return Derived(data=out, figures=figures, charts=pngs)


def territorial_balance(energy: pd.DataFrame, *, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__territorial_balance: the half-hourly balance of each territory, after statistical secrecy."""
    if energy.empty:
        return Derived(data=_empty(spec))
    rules, names = rules_of(catalog), names_of(catalog)
    out = secrecy_uc3.published_balance(energy, rules)
    figures: dict = {"secrecy_rules": rules.as_metadata()}
    pngs = {}
    if len(out):
        out.insert(1, "territory_name", out["territory_id"].map(names).fillna(out["territory_id"]))
        out.insert(3, "datetime_local", local_iso(out["datetime_utc"]))
        notes = out["secrecy_notes"].dropna().str.split("; ").explode()
        figures.update({
            "masked_figures": int(out["masked_cells"].sum()),
            "masked_figures_by_column": notes.str.split(":").str[0].value_counts().to_dict(),
            "incomplete_half_hours": int((~out["complete"]).sum()),
        })
        if len(out) >= 48 * out["territory_id"].nunique():
            pngs["chart"] = charts.balance_chart(
                out, names, f"Territorial balance, {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} (Paris time)")
    return Derived(data=out, figures=figures, charts=pngs)


def _rates(energy: pd.DataFrame, resolution: str, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """Self-production and self-consumption rates per territory and `resolution` period, after secrecy."""
    if energy.empty:
        return Derived(data=_empty(spec), warnings=[f"no territorial energy in [{window.start}, {window.end})"])
    names = names_of(catalog)
    rates = secrecy_uc3.published_rates(energy, resolution, rules_of(catalog))
    # a partial period at the window's edge would be mislabelled: keep periods inside the window
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    out = rates[(rates["period_start_utc"] >= start) & (rates["period_end_utc"] <= end)].copy()
    out.insert(1, "territory_name", out["territory_id"].map(names).fillna(out["territory_id"]))
    out.insert(4, "period_local", local_label(out["period_start_utc"], resolution))
    out = out[[c for c in spec.table_schema.columns if c in out]]
    sums = out.groupby("territory_id")[["consumption_kwh", "production_kwh", "self_consumed_kwh"]].sum(min_count=1)
    figures = {
        "periods": int(out["period_start_utc"].nunique()),
        "masked_periods": int(out["masked"].sum()),
        "incomplete_periods": int((out["half_hours_complete"] < out["half_hours_expected"]).sum()),
        "self_production_rate_pct_over_window": (100 * sums["self_consumed_kwh"] / sums["consumption_kwh"])
        .round(2).to_dict(),
        "self_consumption_rate_pct_over_window": (100 * sums["self_consumed_kwh"] / sums["production_kwh"])
        .round(2).to_dict(),
    }
    pngs = {}
    if out["period_start_utc"].nunique() >= 3:
        pngs["chart"] = charts.rates_chart(
            out, names, f"Self-production rate per {resolution}, {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d}")
    return Derived(data=out, figures=figures, charts=pngs)


def rates_hourly(energy: pd.DataFrame, *, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__rates_hourly (daily partitions): rates per Paris hour."""
    return _rates(energy, "hour", window, catalog, spec)


def rates_daily(energy: pd.DataFrame, *, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__rates_daily (monthly partitions): rates per Paris day."""
    return _rates(energy, "day", window, catalog, spec)


def rates_monthly(energy: pd.DataFrame, *, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__rates_monthly (yearly partitions): rates per Paris month."""
    return _rates(energy, "month", window, catalog, spec)


def rates_yearly(energy: pd.DataFrame, *, window: Window, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__rates_yearly (yearly partitions): rates per Paris year."""
    return _rates(energy, "year", window, catalog, spec)


def pv_what_if(energy: pd.DataFrame, *, params: bl.WhatIfScenarios, catalog: Catalog, spec: DatasetSpec) -> Derived:
    """out_uc3__pv_what_if: the year's self-production rate under each declared PV scenario, after secrecy.
    `params`: assets_config/uc3/what_if.yaml, read when the definitions load (a typo fails there, named)."""
    if energy.empty:
        return Derived(data=_empty(spec))
    scenarios = list(params.scenarios)
    out = secrecy_uc3.published_what_if(energy, scenarios, rules_of(catalog), "year")
    out.insert(2, "territory_name", out["territory_id"].map(names_of(catalog)).fillna(out["territory_id"]))
    out = out[[c for c in spec.table_schema.columns if c in out]]
    table = out.pivot_table(index="territory_id", columns="scenario_id", values="self_production_rate_pct")
    return Derived(data=out, figures={
        "scenarios": [s.id for s in scenarios],
        "self_production_rate_pct_by_scenario": table.round(2).to_dict(orient="index"),
    })


# -- forecasts (out_uc3__forecasts is built in assets/uc3.py: it reads the store per issue) --------------

def history_for_forecast(energy: pd.DataFrame) -> pd.DataFrame:
    """Territorial energy (total category) -> the hourly balance per territory the forecasts learn from."""
    bal = bl.half_hour_balance(energy)
    return tf.hourly(bal)


def issue_times(start, end) -> list[pd.Timestamp]:
    """The end of each Paris day of [start, end) (a daily-partition window): when its forecast is issued."""
    days = pd.date_range(pd.Timestamp(start).tz_convert(PARIS), pd.Timestamp(end).tz_convert(PARIS),
                         freq="D", inclusive="right")
    return [d.tz_convert("UTC") for d in days]


def backtest_scores(backtests: list) -> tuple[dict, dict]:
    """Scores of each territory's back-test (territory, history, back-test frame), and their means per variable."""
    per_territory = {territory: tf.evaluate(hist, back) for territory, hist, back in backtests}
    summary = {}
    for variable in tf.VARIABLES:
        rows = [s[variable] for s in per_territory.values() if variable in s and s[variable].get("n")]
        if rows:
            summary[variable] = {
                "skill_rmse_mean": float(np.nanmean([r["skill_rmse"] for r in rows])),
                "mase_mean": float(np.nanmean([r["mase"] for r in rows])),
            }
            # the issued interval is calibrated on these errors: its coverage is measured on the archive only
            covered = [r["interval_coverage"] for r in rows if np.isfinite(r.get("interval_coverage", np.nan))]
            if covered:
                summary[variable]["interval_coverage_mean"] = float(np.mean(covered))
    return per_territory, summary


def rounded(obj):
    """Scores as shown: floats to 4 decimals, NaN as None, through nested dicts."""
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, 4) if np.isfinite(obj) else None
    return obj
