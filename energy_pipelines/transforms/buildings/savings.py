"""Avoided consumption against the baselines, climate-normalised intensity, décret tertiaire trajectory.

- Avoided use of a reporting month = baseline model's prediction - measured use (IPMVP option C,
  "avoided energy use": the baseline adjusted to the reporting period's weather and school days),
  only with a model meeting Guideline 14; its uncertainty over a period follows Guideline 14
  Annex B (`baseline.savings_uncertainty`). EUR saved = avoided use x the month's average price.
- Climate-normalised use of a year = measured use + the model's heating (cooling) slope x (normal
  minus actual degree days at its balance point); "normal" is the mean year of the temperatures
  available. Null (with the reason) when the fluid has no model meeting Guideline 14.
- Décret tertiaire (décret 2019-771, arrêté of 10 April 2020): final energy (all fluids but water)
  per m²; relative target -40 % in 2030, -50 % 2040, -60 % 2050 against the reference year declared
  on OPERAT (>= 2010), else the first complete year of bills (flagged); the yearly target between the
  reference and 2030 is linear. The absolute target (Cabs) is used when the register gives it.
  A building meets its trajectory when it is under either target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.transforms.buildings.baseline import Baseline, month_design, predict, savings_uncertainty
from energy_pipelines.transforms.buildings.params import Uc4Params

ENERGY_FLUIDS = ("electricite", "gaz", "reseau_chaleur", "fioul", "bois")


def monthly_savings(monthly: pd.DataFrame, models: dict, context: pd.DataFrame, params: Uc4Params) -> pd.DataFrame:
    """Monthly rows with the baseline prediction and avoided use (nulls and a reason without a valid model)."""
    out = []
    for (b, f), g in monthly.groupby(["building_id", "fluid"]):
        model: Baseline = models.get((b, f), Baseline(model=None, reason="no baseline"))
        g = g.sort_values("month").copy()
        pred = predict(model, g["month"], context) if model.model else np.full(len(g), np.nan)
        usable = model.passes_g14 & (g["coverage"] >= params.baseline.min_coverage).to_numpy()
        g["baseline_quantity"] = np.where(usable, pred, np.nan)
        g["avoided_quantity"] = g["baseline_quantity"] - g["quantity"]
        price = g["cost_incl_vat_eur"] / g["quantity"].where(g["quantity"] > 0)
        g["avoided_eur"] = g["avoided_quantity"] * price
        g["baseline_status"] = np.where(
            model.model is None, f"pas de modèle : {model.reason}",
            np.where(~np.asarray(model.passes_g14), f"modèle rejeté (ASHRAE 14) : {model.reason}",
                     np.where(g["coverage"] < params.baseline.min_coverage, "mois incomplet", "ok")))
        out.append(g)
    return pd.concat(out, ignore_index=True) if out else monthly.assign(baseline_quantity=np.nan)


def period_savings(savings: pd.DataFrame, models: dict, first_month: str, last_month: str,
                   confidence: float = 0.90) -> pd.DataFrame:
    """Avoided use and its Guideline 14 uncertainty per building and fluid over [first, last] months."""
    rows = []
    s = savings[(savings["month"] >= first_month) & (savings["month"] <= last_month)]
    for (b, f), g in s.groupby(["building_id", "fluid"]):
        ok = g[g["baseline_status"] == "ok"]
        model = models.get((b, f))
        base_total = float(ok["baseline_quantity"].sum())
        avoided = float(ok["avoided_quantity"].sum()) if len(ok) else None
        unc = savings_uncertainty(model, base_total, len(ok), confidence) if model is not None and len(ok) else None
        rows.append({"building_id": b, "fluid": f, "unit": g["unit"].iloc[0], "months": len(ok),
                     "baseline_quantity": base_total if len(ok) else None, "measured_quantity": float(ok["quantity"].sum()) if len(ok) else None,
                     "avoided_quantity": avoided, "avoided_uncertainty": unc,
                     "avoided_eur": float(ok["avoided_eur"].sum()) if len(ok) else None,
                     "status": "ok" if len(ok) else str(g["baseline_status"].iloc[0])})
    return pd.DataFrame(rows)


def normal_degree_days(context: pd.DataFrame, base: float, kind: str) -> float | None:
    """Mean yearly degree days over the complete years of temperature available."""
    d = context.dropna(subset=["tmean_c"]).assign(year=lambda x: pd.to_datetime(x["day"]).dt.year)
    full = d.groupby("year").size()
    years = full[full >= 365].index
    if len(years) == 0:
        return None
    t = d[d["year"].isin(years)]
    dd = np.clip(base - t["tmean_c"], 0, None) if kind == "heating" else np.clip(t["tmean_c"] - base, 0, None)
    return float(dd.groupby(t["year"]).sum().mean())


def yearly_indicators(monthly: pd.DataFrame, models: dict, buildings: pd.DataFrame, context: pd.DataFrame,
                      params: Uc4Params) -> pd.DataFrame:
    """Per building and year: final energy, kWh/m², climate-normalised kWh/m², décret tertiaire position."""
    reg = buildings.drop_duplicates("building_id", keep="last").set_index("building_id")
    m = monthly.assign(year=pd.to_datetime(monthly["month"]).dt.year)
    rows = []
    for (b, year), g in m.groupby(["building_id", "year"]):
        if b not in reg.index:
            continue
        area = float(reg.at[b, "floor_area_m2"])
        energy = g[g["fluid"].isin(params.trajectory.fluids)]
        complete = energy.groupby("fluid").apply(lambda x: len(x) == 12 and (x["coverage"] >= params.baseline.min_coverage).all(),
                                                 include_groups=False)
        all_complete = bool(len(complete)) and bool(complete.all())
        kwh = float(energy["quantity"].sum()) if all_complete else None
        norm, norm_reason = (0.0 if all_complete else None), None if all_complete else "année incomplète"
        if all_complete:
            months = pd.Series(sorted(g["month"].unique()))
            for f, fg in energy.groupby("fluid"):
                model: Baseline | None = models.get((b, f))
                if model is None or not model.passes_g14:
                    norm, norm_reason = None, f"pas de modèle valide pour {f}"
                    break
                adj = 0.0
                design = month_design(months, context, (model.heating_base_c or 18.0,), (model.cooling_base_c or 22.0,))
                if model.heating_base_c is not None:
                    normal = normal_degree_days(context, model.heating_base_c, "heating")
                    adj += model.heating_slope * (normal - np.nansum(design["hdd"][:, 0])) if normal is not None else np.nan
                if model.cooling_base_c is not None:
                    normal = normal_degree_days(context, model.cooling_base_c, "cooling")
                    adj += model.cooling_slope * (normal - np.nansum(design["cdd"][:, 0])) if normal is not None else np.nan
                norm += float(fg["quantity"].sum()) + adj
        water = g[g["fluid"] == "eau"]["quantity"].sum(min_count=1)
        rows.append({"building_id": b, "year": int(year), "floor_area_m2": area, "final_energy_kwh": kwh,
                     "kwh_per_m2": kwh / area if kwh is not None else None,
                     "normalised_kwh_per_m2": norm / area if norm is not None and np.isfinite(norm) else None,
                     "normalisation_note": norm_reason, "water_m3": float(water) if pd.notna(water) else None,
                     "cost_incl_vat_eur": float(g["cost_incl_vat_eur"].sum())})
    out = pd.DataFrame(rows)
    return trajectory(out, reg, params) if len(out) else out


def trajectory(ind: pd.DataFrame, reg: pd.DataFrame, params: Uc4Params) -> pd.DataFrame:
    ind = ind.copy()
    ref_year, ref_value, ref_source = [], [], []
    first_complete = ind.dropna(subset=["normalised_kwh_per_m2"]).groupby("building_id")["year"].min()
    for b in ind["building_id"]:
        declared_year = reg.at[b, "reference_year"] if "reference_year" in reg else None
        declared_kwh = reg.at[b, "reference_kwh"] if "reference_kwh" in reg else None
        if pd.notna(declared_year) and pd.notna(declared_kwh):
            ref_year.append(int(declared_year))
            ref_value.append(float(declared_kwh) / float(reg.at[b, "floor_area_m2"]))
            ref_source.append("OPERAT (déclarée)")
        elif b in first_complete.index:
            y = int(first_complete[b])
            ref_year.append(y)
            ref_value.append(float(ind[(ind["building_id"] == b) & (ind["year"] == y)]["normalised_kwh_per_m2"].iloc[0]))
            ref_source.append("première année complète des factures")
        else:
            ref_year.append(None), ref_value.append(None), ref_source.append(None)
    ind["reference_year"] = pd.array(ref_year, dtype="Int64")
    ind["reference_kwh_per_m2"] = ref_value
    ind["reference_source"] = ref_source
    m = params.trajectory.milestones
    first_goal = min(m)

    def target(row):
        if pd.isna(row["reference_year"]) or row["reference_kwh_per_m2"] is None or pd.isna(row["reference_kwh_per_m2"]):
            return np.nan
        y, ry, rv = row["year"], int(row["reference_year"]), row["reference_kwh_per_m2"]
        if y <= ry:
            return rv
        if y <= first_goal:
            return rv * (1 - m[first_goal] * (y - ry) / (first_goal - ry))
        later = [k for k in sorted(m) if k >= y]
        return rv * (1 - m[later[0] if later else max(m)])

    ind["target_kwh_per_m2"] = ind.apply(target, axis=1)
    ind["target_2030_kwh_per_m2"] = ind["reference_kwh_per_m2"] * (1 - m[first_goal])
    cabs = reg["absolute_target_kwh_m2"] if "absolute_target_kwh_m2" in reg else pd.Series(dtype=float)
    ind["absolute_target_kwh_per_m2"] = ind["building_id"].map(cabs)
    ind["gap_to_target_pct"] = 100 * (ind["normalised_kwh_per_m2"] - ind["target_kwh_per_m2"]) / ind["target_kwh_per_m2"]
    ind["on_track"] = (ind["gap_to_target_pct"] <= 0) | (ind["normalised_kwh_per_m2"] <= ind["absolute_target_kwh_per_m2"])
    ind["on_track"] = ind["on_track"].astype(object)
    ind.loc[ind["normalised_kwh_per_m2"].isna(), "on_track"] = None
    ranked = ind.dropna(subset=["gap_to_target_pct"]).copy()
    ranked["off_track_rank"] = ranked.groupby("year")["gap_to_target_pct"].rank(ascending=False, method="min")
    ind["off_track_rank"] = ranked["off_track_rank"].reindex(ind.index).astype("Int64")
    return ind
