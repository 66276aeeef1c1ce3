"""Bill quantities spread over Paris calendar months.

Each allocation group (a bill line, or estimated lines with the read line that corrects them) is
spread over the days of its span in proportion to the meter's own daily profile, fitted on its
bills by non-negative least squares: use(day) = a + b x HDD(day) + c x school_day(day) (HDD base
18 °C). A heating fluid is thus pro-rated by degree days, water and electricity by occupancy, and
a meter with too few bills (or no profile) by days. Amounts follow the same weights.
A month is covered when every day has a bill; days billed twice by overlapping invoices are
counted (`overlap_days`) and make the month unusable for baselines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from energy_pipelines.clock import PARIS_NAME

MONTH_COLUMNS = ["month_start_utc", "month", "building_id", "meter_id", "fluid", "unit", "quantity", "cost_excl_vat_eur",
                 "cost_incl_vat_eur", "days_in_month", "days_covered", "coverage", "estimated_days", "overlap_days",
                 "allocation_method"]


def _month_start_utc(month_days: pd.Series) -> pd.Series:
    return pd.to_datetime(month_days).dt.tz_localize(PARIS_NAME).dt.tz_convert("UTC")


def meter_profiles(groups: pd.DataFrame, context: pd.DataFrame) -> dict[str, tuple[float, float, float, str]]:
    """(a, b, c, method) per meter: daily use = a + b x HDD18 + c x school_day, fitted on its bill groups."""
    ctx = context.set_index(pd.to_datetime(context["day"]))
    hdd = np.clip(18.0 - ctx["tmean_c"], 0, None)
    cum_hdd = hdd.fillna(hdd.mean()).cumsum()
    cum_school = ctx["school_day"].astype(float).cumsum()

    def span_sum(cum: pd.Series, s: pd.Series, e: pd.Series) -> np.ndarray:
        s_idx = cum.index.get_indexer(pd.to_datetime(s)) - 1
        e_idx = cum.index.get_indexer(pd.to_datetime(e))
        ok = (e_idx >= 0) & (s_idx >= -1)
        v = np.where(ok, cum.to_numpy()[np.clip(e_idx, 0, None)] - np.where(s_idx >= 0, cum.to_numpy()[np.clip(s_idx, 0, None)], 0),
                     np.nan)
        return v

    out = {}
    for meter, g in groups.groupby("meter_id"):
        x_hdd = span_sum(cum_hdd, g["start"], g["end"])
        x_school = span_sum(cum_school, g["start"], g["end"])
        ok = np.isfinite(x_hdd) & np.isfinite(x_school) & (g["quantity"].to_numpy() > 0)
        if ok.sum() < 4:
            out[meter] = (1.0, 0.0, 0.0, "days")
            continue
        design = np.column_stack([g["days"].to_numpy()[ok], x_hdd[ok], x_school[ok]]).astype(float)
        coef, _ = nnls(design, g["quantity"].to_numpy()[ok].astype(float))
        if coef.sum() <= 0:
            out[meter] = (1.0, 0.0, 0.0, "days")
        else:
            method = "degree_days" if coef[1] > 0 else "occupancy" if coef[2] > 0 else "days"
            if coef[1] > 0 and coef[2] > 0:
                method = "degree_days_occupancy"
            out[meter] = (float(coef[0]), float(coef[1]), float(coef[2]), method)
    return out


def allocation_groups(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per allocation group of the lines counted in consumption."""
    used = lines[lines["in_consumption"] & lines["quantity_used"].notna()]
    g = used.groupby("allocation_group").agg(
        building_id=("building_id", "first"), meter_id=("meter_id", "first"), fluid=("fluid", "first"),
        unit=("used_unit", "first"), start=("period_start", "min"), end=("period_end", "max"),
        quantity=("quantity_used", "sum"), cost_excl=("amount_excl_vat_eur", "sum"),
        cost_incl=("amount_incl_vat_eur", "sum"), estimated=("status", lambda s: bool((s == "estimated").any())),
        invoices=("document_type", lambda s: int((s == "FACTURE").sum())))
    g = g.reset_index()
    g["days"] = (pd.to_datetime(g["end"]) - pd.to_datetime(g["start"])).dt.days + 1
    return g


def allocate_to_days(lines: pd.DataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """Per meter and Paris day: quantity and costs, the group it came from, estimated / overlap flags."""
    groups = allocation_groups(lines)
    if groups.empty:
        return pd.DataFrame(columns=["day", "building_id", "meter_id", "fluid", "unit", "quantity", "cost_excl",
                                     "cost_incl", "estimated", "invoices", "method"])
    profiles = meter_profiles(groups, context)
    rep = groups.loc[groups.index.repeat(groups["days"])].copy()
    rep["day"] = pd.to_datetime(rep["start"]) + pd.to_timedelta(rep.groupby(level=0).cumcount(), unit="D")
    ctx = context.assign(day=pd.to_datetime(context["day"])).set_index("day")
    rep = rep.reset_index(drop=True)
    hdd = np.clip(18.0 - ctx["tmean_c"].reindex(rep["day"]).to_numpy(), 0, None)
    hdd = np.where(np.isnan(hdd), np.nanmean(hdd) if np.isfinite(hdd).any() else 0.0, hdd)
    school = ctx["school_day"].astype(float).reindex(rep["day"]).fillna(0.0).to_numpy()
    coef = np.array([profiles[m][:3] for m in rep["meter_id"]])
    weight = coef[:, 0] + coef[:, 1] * hdd + coef[:, 2] * school
    weight = np.where(weight > 0, weight, 1e-9)
    rep["weight"] = weight
    total = rep.groupby("allocation_group")["weight"].transform("sum")
    share = rep["weight"] / total
    rep["quantity"] = rep["quantity"] * share
    rep["cost_excl"] = rep["cost_excl"] * share
    rep["cost_incl"] = rep["cost_incl"] * share
    rep["method"] = [profiles[m][3] for m in rep["meter_id"]]
    return rep[["day", "building_id", "meter_id", "fluid", "unit", "quantity", "cost_excl", "cost_incl", "estimated",
                "invoices", "method", "allocation_group"]]


def covered_days(lines: pd.DataFrame) -> pd.DataFrame:
    """Per meter and day: how many invoices counted in consumption cover it (credit notes do not).

    Days between the lines of a group (an estimated bill never received) stay uncovered.
    """
    inv = lines[lines["in_consumption"] & (lines["document_type"] == "FACTURE")]
    if inv.empty:
        return pd.DataFrame(columns=["meter_id", "day", "bills_on_day"])
    days = (pd.to_datetime(inv["period_end"]) - pd.to_datetime(inv["period_start"])).dt.days + 1
    rep = inv.loc[inv.index.repeat(days), ["meter_id", "period_start"]].copy()
    rep["day"] = pd.to_datetime(rep["period_start"]) + pd.to_timedelta(rep.groupby(level=0).cumcount(), unit="D")
    return rep.groupby(["meter_id", "day"]).size().rename("bills_on_day").reset_index()


def monthly_by_meter(lines: pd.DataFrame, context: pd.DataFrame, days: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per meter and Paris month: allocated quantity and cost, coverage, estimated and overlapping days."""
    days = allocate_to_days(lines, context) if days is None else days
    if days.empty:
        return pd.DataFrame(columns=MONTH_COLUMNS)
    per_day = covered_days(lines)
    per_day["month"] = per_day["day"].dt.to_period("M")
    cover = per_day.groupby(["meter_id", "month"]).agg(days_covered=("day", "size"),
                                                      overlap_days=("bills_on_day", lambda s: int((s > 1).sum())))
    days["month"] = days["day"].dt.to_period("M")
    days["est_day"] = days["estimated"].astype(int)
    agg = days.groupby(["meter_id", "month"]).agg(
        building_id=("building_id", "first"), fluid=("fluid", "first"), unit=("unit", "first"),
        quantity=("quantity", "sum"), cost_excl_vat_eur=("cost_excl", "sum"), cost_incl_vat_eur=("cost_incl", "sum"),
        estimated_days=("est_day", lambda s: int(s.sum())), allocation_method=("method", "first"))
    out = agg.join(cover, how="left").reset_index()
    out["days_covered"] = out["days_covered"].fillna(0).astype("int64")
    out["overlap_days"] = out["overlap_days"].fillna(0).astype("int64")
    out["days_in_month"] = out["month"].dt.days_in_month.astype("int64")
    out["coverage"] = out["days_covered"] / out["days_in_month"]
    out["month_start_utc"] = _month_start_utc(out["month"].dt.to_timestamp())
    out["month"] = out["month"].astype(str)
    return out[MONTH_COLUMNS].sort_values(["building_id", "meter_id", "month"]).reset_index(drop=True)


def monthly_by_building(by_meter: pd.DataFrame, meters: pd.DataFrame) -> pd.DataFrame:
    """Per building, fluid and month: the sum of its meters; complete only when every meter is covered.

    A meter belongs to a month when the register says it is in service that month; a month where
    one of them has no bill at all gets coverage 0 for that meter.
    """
    if by_meter.empty:
        return by_meter.drop(columns=["meter_id"])
    reg = meters.drop_duplicates("meter_id", keep="last")[["meter_id", "building_id", "fluid", "valid_from", "valid_to"]]
    months = sorted(by_meter["month"].unique())
    grid = reg.merge(pd.DataFrame({"month": months}), how="cross")
    m_start = pd.to_datetime(grid["month"])
    m_end = m_start + pd.offsets.MonthEnd(0)
    vf = pd.to_datetime(grid["valid_from"])
    vt = pd.to_datetime(grid["valid_to"])
    grid = grid[(vf <= m_end) & (vt.isna() | (vt >= m_start))]
    full = grid.merge(by_meter.drop(columns=["building_id", "fluid"]), on=["meter_id", "month"], how="left")
    full["coverage"] = full["coverage"].fillna(0.0)
    full["unit"] = full["unit"].fillna(pd.Series(np.where(full["fluid"] == "eau", "m3", "kWh"), index=full.index))
    # months before a meter's first bill are not "uncovered": its history starts with its first bill
    first = by_meter.groupby("meter_id")["month"].min()
    full = full[full["month"] >= full["meter_id"].map(first).fillna("9999")]
    agg = full.groupby(["building_id", "fluid", "month"]).agg(
        unit=("unit", "first"), quantity=("quantity", lambda s: s.sum(min_count=len(s))),
        cost_excl_vat_eur=("cost_excl_vat_eur", "sum"), cost_incl_vat_eur=("cost_incl_vat_eur", "sum"),
        meters=("meter_id", "nunique"), coverage=("coverage", "min"), estimated_days=("estimated_days", "sum"),
        overlap_days=("overlap_days", "sum")).reset_index()
    agg["days_in_month"] = pd.to_datetime(agg["month"]).dt.days_in_month
    agg["month_start_utc"] = _month_start_utc(pd.to_datetime(agg["month"]))
    agg["estimated_days"] = agg["estimated_days"].fillna(0).astype("int64")
    agg["overlap_days"] = agg["overlap_days"].fillna(0).astype("int64")
    return agg
