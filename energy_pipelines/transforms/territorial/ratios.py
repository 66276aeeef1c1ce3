"""UC1 ratio indicators: per capita, renewable coverage, trends and the gap to the targets.

`territorial_indicators` -> `hybrid_uc1__territorial_indicators`: one row per year and territory, computed
from the additive cells (`hybrid_uc1__energy_balance`, `hybrid_uc1__ghg_emissions`) and INSEE populations.

It takes the cells **before or after secrecy** alike: a cell is usable only when its value is known,
exact (`value_status`), and not masked (a `masked` column, when the secrecy engine has added one). A
ratio whose numerator or denominator is not usable is null, and `notes` says why (fail closed: never
0, never a guess). Measured operator figures that omit secret cells (ORE, Enedis: `lower_bound`) are
given with their status instead of being used in ratios.

Definitions:
- consumption = CIGALE final energy consumption, every energy and sector; renewable production =
  CIGALE renewable production, every filière; emissions = CIGALE CO2 + CH4 + N2O, t CO2e;
- renewable coverage = renewable production / consumption (%), a ratio of sums at every level;
- per capita = value / population municipale of the latest INSEE millésime not after the year (INSEE
  publishes with a three-year lag; `population_year` says which), summed over the territory's communes;
- trends: change on the previous year and since the reference year of the targets (%);
- targets (assets_config/uc1/targets.yaml): linear trajectories from the reference-year value to each
  target year; `*_gap_to_trajectory_pct` = (actual - trajectory) / trajectory (> 0: above the path,
  i.e. behind for consumption and emissions); coverage gap in percentage points (< 0: behind).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energy_pipelines.clock import Window
from energy_pipelines.sources.ore_consumption import year_start_utc
from energy_pipelines.territories import Territory, default_territories
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.territorial import cells as cl
from energy_pipelines.transforms.territorial.referential import build_referential

KEYS = ["year", "level", "territory_code"]
TARGET_LEVELS = ("epci", "territoire", "departement", "region")


class TargetSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consumption_change_pct: dict[int, float] = Field(default_factory=dict)
    emissions_change_pct: dict[int, float] = Field(default_factory=dict)
    renewable_coverage_pct: dict[int, float] = Field(default_factory=dict)
    source: str | None = None


class Uc1Targets(BaseModel):
    """assets_config/uc1/targets.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    reference_year: int = Field(ge=1990, le=2100)
    default: TargetSet
    epci: dict[str, TargetSet] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _after_reference(self) -> Uc1Targets:
        for name, ts in [("default", self.default), *self.epci.items()]:
            for field in ("consumption_change_pct", "emissions_change_pct", "renewable_coverage_pct"):
                early = [y for y in getattr(ts, field) if y <= self.reference_year]
                if early:
                    raise ValueError(f"{name}.{field}: target year(s) {early} not after the reference year "
                                     f"{self.reference_year}")
            for name2, ts2 in self.epci.items():
                if ts2.source is None:
                    raise ValueError(f"epci {name2}: an EPCI's own targets cite their source")
        return self

    def for_territory(self, level: str, code: str) -> TargetSet:
        own = self.epci.get(code) if level == "epci" else None
        if own is None:
            return self.default
        return TargetSet(**{f: getattr(own, f) or getattr(self.default, f)
                            for f in ("consumption_change_pct", "emissions_change_pct", "renewable_coverage_pct")},
                         source=own.source)


def path_value(points: dict[int, float], start: float, reference_year: int, year: int) -> float:
    """The linear trajectory through (reference_year, start) and the target points, at `year`.

    Before the reference year: NaN; after the last target: the last target (it is to be held)."""
    if not points or year < reference_year or not np.isfinite(start):
        return float("nan")
    xs = [reference_year, *sorted(points)]
    ys = [start, *(points[y] for y in sorted(points))]
    return float(np.interp(year, xs, ys))


def usable(frame: pd.DataFrame, value: str) -> pd.Series:
    """Known, exact and not masked: the only values a ratio may use."""
    ok = frame[value].notna() & (frame["value_status"] == "exact")
    if "masked" in frame:
        ok &= ~frame["masked"].astype("boolean").fillna(False).astype(bool)
    return ok


def _pick(frame: pd.DataFrame, value: str, **where) -> pd.DataFrame:
    sel = pd.Series(True, index=frame.index)
    for k, v in where.items():
        sel &= frame[k] == v
    sub = frame[sel]
    return pd.DataFrame({**{k: sub[k] for k in [*KEYS, "territory_name"]}, "value": sub[value],
                         "ok": usable(sub, value), "status": sub["value_status"],
                         "masked": sub["masked"] if "masked" in sub else False})


def populations(population: pd.DataFrame, communes: pd.DataFrame, years: list[int],
                territories: dict[str, Territory]) -> pd.DataFrame:
    """Population of every territory and year: the latest millésime <= year (or the first one after)."""
    ref = build_referential(communes, territories)
    geo = cl.geography(ref)
    pop = population.drop_duplicates(["commune_code", "year"], keep="last")
    available = sorted(pop["year"].unique())
    rows = []
    for year in years:
        before = [y for y in available if y <= year]
        millesime = before[-1] if before else (available[0] if available else None)
        if millesime is None:
            continue
        p = pop[pop["year"] == millesime].set_index("commune_code")["population_municipale"]
        g = geo.assign(pop=geo["commune_code"].map(p))
        agg = g.groupby(["level", "territory_code"]).agg(population=("pop", "sum"),
                                                         missing=("pop", lambda s: int(s.isna().sum())))
        agg = agg.reset_index().assign(year=year, population_year=millesime)
        rows.append(agg)
    if not rows:
        return pd.DataFrame(columns=[*KEYS, "population", "population_year", "missing"])
    out = pd.concat(rows, ignore_index=True)
    out.loc[out["missing"] > 0, "population"] = np.nan
    return out


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> pd.Series:
    """num / den as floats; a missing or masked input (None in an object column) gives null, not an error."""
    num = pd.to_numeric(num, errors="coerce").astype("float64")
    den = pd.to_numeric(den, errors="coerce").astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = scale * num / den
    return out.where(np.isfinite(out))


def territorial_indicators(balance: pd.DataFrame, emissions: pd.DataFrame, population: pd.DataFrame,
                           communes: pd.DataFrame, *, params: Uc1Targets, window: Window | None = None,
                           territories: dict[str, Territory] | None = None) -> Derived:
    territories = territories if territories is not None else default_territories()
    ref_year = params.reference_year
    cons = _pick(balance, "energy_mwh", source="cigale", measure="consumption", carrier="total", sector="total")
    prod = _pick(balance, "energy_mwh", source="cigale", measure="production", carrier="total", sector="total")
    ore = _pick(balance, "energy_mwh", source="ore", measure="consumption", carrier="total", sector="total")
    enr = _pick(balance, "energy_mwh", source="enedis", measure="production", carrier="total_enr", sector="total")
    em = _pick(emissions, "emissions_tco2e", sector="total", gas="total")
    frames = {"consumption": cons, "production": prod, "emissions": em}
    base = pd.concat([f[[*KEYS, "territory_name"]] for f in (cons, prod, ore, enr, em)]).drop_duplicates(KEYS)
    out = base.copy()
    out = out.reset_index(drop=True)

    def attach(name: str, frame: pd.DataFrame) -> None:
        m = out[KEYS].merge(frame, on=KEYS, how="left")
        out[f"_{name}"] = m["value"].where(m["ok"].astype("boolean").fillna(False).astype(bool)).to_numpy()
        reason = np.where(m["value"].isna() & m["status"].isna(), f"{name}: no data",
                          np.where(m["masked"].astype("boolean").fillna(False).astype(bool), f"{name}: masked (secret)",
                                   np.where(m["status"].fillna("exact") != "exact",
                                            f"{name}: " + m["status"].fillna("") + " value", "")))
        out[f"_{name}_why"] = reason

    for name, frame in frames.items():
        attach(name, frame)
    for name, frame in (("ore", ore), ("enedis", enr)):
        m = out[KEYS].merge(frame, on=KEYS, how="left")
        hidden = m["masked"].astype("boolean").fillna(False).astype(bool)
        out[f"_{name}"] = m["value"].where(~hidden).to_numpy()
        out[f"_{name}_status"] = np.where(hidden, "masked", m["status"]).astype(object)

    years = sorted(out["year"].unique())
    pops = populations(population, communes, [int(y) for y in years], territories)
    out = out.merge(pops[[*KEYS, "population", "population_year", "missing"]], on=KEYS, how="left")
    out["_population_why"] = np.where(out["population"].isna(),
                                      np.where(out["missing"].fillna(0) > 0,
                                               "population: " + out["missing"].fillna(0).astype(int).astype(str)
                                               + " commune(s) without INSEE population", "population: no data"), "")

    prev = out[KEYS + ["_consumption", "_emissions"]].assign(year=out["year"] + 1)
    refv = out[out["year"] == ref_year][["level", "territory_code", "_consumption", "_emissions", "_production"]]
    out = out.merge(prev, on=KEYS, how="left", suffixes=("", "_prev"))
    out = out.merge(refv, on=["level", "territory_code"], how="left", suffixes=("", "_ref"))
    res = pd.DataFrame({k: out[k] for k in [*KEYS, "territory_name"]})
    res["population"] = out["population"]
    res["population_year"] = out["population_year"]
    res["consumption_mwh"] = out["_consumption"]
    res["consumption_per_capita_mwh"] = _ratio(out["_consumption"], out["population"])
    res["consumption_change_yoy_pct"] = _ratio(out["_consumption"] - out["_consumption_prev"],
                                               out["_consumption_prev"], 100)
    res["consumption_change_since_reference_pct"] = _ratio(out["_consumption"] - out["_consumption_ref"],
                                                           out["_consumption_ref"], 100)
    res["renewable_production_mwh"] = out["_production"]
    res["renewable_production_per_capita_mwh"] = _ratio(out["_production"], out["population"])
    res["renewable_production_change_since_reference_pct"] = _ratio(out["_production"] - out["_production_ref"],
                                                                    out["_production_ref"], 100)
    res["renewable_coverage_pct"] = _ratio(out["_production"], out["_consumption"], 100)
    res["emissions_tco2e"] = out["_emissions"]
    res["emissions_per_capita_tco2e"] = _ratio(out["_emissions"], out["population"])
    res["emissions_change_yoy_pct"] = _ratio(out["_emissions"] - out["_emissions_prev"], out["_emissions_prev"], 100)
    res["emissions_change_since_reference_pct"] = _ratio(out["_emissions"] - out["_emissions_ref"],
                                                         out["_emissions_ref"], 100)
    res["measured_consumption_mwh"] = out["_ore"]
    res["measured_consumption_status"] = out["_ore_status"]
    res["measured_renewable_electricity_mwh"] = out["_enedis"]
    res["measured_renewable_electricity_status"] = out["_enedis_status"]
    res["reference_year"] = ref_year
    _targets(res, out, params)

    why = []
    for i in range(len(out)):
        parts = [out.at[i, c] for c in ("_consumption_why", "_production_why", "_emissions_why", "_population_why")
                 if out.at[i, c]]
        if pd.isna(out.at[i, "_consumption_ref"]) and out.at[i, "year"] >= ref_year:
            parts.append(f"reference year {ref_year}: consumption not usable, no trend or trajectory")
        why.append("; ".join(parts) or None)
    res["notes"] = why
    res["period_start_utc"] = year_start_utc(res["year"])
    if window is not None and not window.is_all_time:
        res = res[window.contains(res["period_start_utc"])]
    res["population"] = pd.to_numeric(res["population"]).round().astype("Int64")
    res["population_year"] = pd.to_numeric(res["population_year"]).astype("Int64")
    figures = {
        "rows": len(res), "reference_year": ref_year, "targets_source": params.source,
        "epci_with_own_targets": sorted(params.epci),
        "rows_without_consumption": int(res["consumption_mwh"].isna().sum()),
        "rows_without_population": int(res["population"].isna().sum()),
    }
    return Derived(res[INDICATOR_COLUMNS].sort_values(KEYS).reset_index(drop=True), figures=figures)


def _targets(res: pd.DataFrame, out: pd.DataFrame, params: Uc1Targets) -> None:
    ref_year = params.reference_year
    cov_ref = _ratio(out["_production_ref"], out["_consumption_ref"], 100)
    cols = {c: [] for c in TARGET_COLUMNS}
    for i in range(len(out)):
        level, code, year = out.at[i, "level"], out.at[i, "territory_code"], int(out.at[i, "year"])
        applies = level in TARGET_LEVELS
        ts = params.for_territory(level, code)
        c0, e0, k0 = out.at[i, "_consumption_ref"], out.at[i, "_emissions_ref"], cov_ref.iat[i]
        for prefix, start, points, unit in (("consumption", c0, ts.consumption_change_pct, "mwh"),
                                            ("emissions", e0, ts.emissions_change_pct, "tco2e")):
            t30, t50 = points.get(2030), points.get(2050)
            ok = applies and pd.notna(start)
            cols[f"{prefix}_target_2030_{unit}"].append(start * (1 + t30 / 100) if ok and t30 is not None else np.nan)
            cols[f"{prefix}_target_2050_{unit}"].append(start * (1 + t50 / 100) if ok and t50 is not None else np.nan)
            pct = path_value(points, 0.0, ref_year, year) if ok else np.nan
            cols[f"{prefix}_trajectory_{unit}"].append(start * (1 + pct / 100) if ok else np.nan)
        ok = applies and pd.notna(k0)
        cols["renewable_coverage_target_2030_pct"].append(ts.renewable_coverage_pct.get(2030, np.nan) if applies else np.nan)
        cols["renewable_coverage_target_2050_pct"].append(ts.renewable_coverage_pct.get(2050, np.nan) if applies else np.nan)
        cols["renewable_coverage_trajectory_pct"].append(
            path_value(ts.renewable_coverage_pct, k0, ref_year, year) if ok else np.nan)
    for c, v in cols.items():
        res[c] = np.asarray(v, dtype=float)
    res["consumption_gap_to_trajectory_pct"] = _ratio(res["consumption_mwh"] - res["consumption_trajectory_mwh"],
                                                      res["consumption_trajectory_mwh"], 100)
    res["emissions_gap_to_trajectory_pct"] = _ratio(res["emissions_tco2e"] - res["emissions_trajectory_tco2e"],
                                                    res["emissions_trajectory_tco2e"], 100)
    res["renewable_coverage_gap_pts"] = res["renewable_coverage_pct"] - res["renewable_coverage_trajectory_pct"]


TARGET_COLUMNS = ["consumption_target_2030_mwh", "consumption_target_2050_mwh", "consumption_trajectory_mwh",
                  "emissions_target_2030_tco2e", "emissions_target_2050_tco2e", "emissions_trajectory_tco2e",
                  "renewable_coverage_target_2030_pct", "renewable_coverage_target_2050_pct",
                  "renewable_coverage_trajectory_pct"]
INDICATOR_COLUMNS = [
    "period_start_utc", "year", "level", "territory_code", "territory_name", "population", "population_year",
    "consumption_mwh", "consumption_per_capita_mwh", "consumption_change_yoy_pct",
    "consumption_change_since_reference_pct", "renewable_production_mwh", "renewable_production_per_capita_mwh",
    "renewable_production_change_since_reference_pct", "renewable_coverage_pct", "emissions_tco2e",
    "emissions_per_capita_tco2e", "emissions_change_yoy_pct", "emissions_change_since_reference_pct",
    "measured_consumption_mwh", "measured_consumption_status", "measured_renewable_electricity_mwh",
    "measured_renewable_electricity_status", "reference_year", *TARGET_COLUMNS,
    "consumption_gap_to_trajectory_pct", "emissions_gap_to_trajectory_pct", "renewable_coverage_gap_pts", "notes",
]
