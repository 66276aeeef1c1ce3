"""Load curves of the buildings' electricity meters: daily figures, and reconciliation with the bills.

A Paris day has 23, 24 or 25 hours: its expected number of points is its length over the step
(138 / 144 / 150 ten-minute points, 46 / 48 / 50 half-hours). Estimated points (nature E) count as
present but are reported. Night and day mean powers are taken over the local hours of the
settings (night 00:00-06:00, day 09:00-16:00 by default) and are null when a window lacks points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME

DAILY_COLUMNS = ["day_start_utc", "day", "prm", "energy_kwh", "points", "expected_points", "estimated_points",
                 "completeness", "night_kw", "day_kw", "min_kw", "max_kw"]


def daily_load(curves: pd.DataFrame, night_hours: tuple[int, int] = (0, 6),
               day_hours: tuple[int, int] = (9, 16)) -> pd.DataFrame:
    if curves.empty:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    c = curves.drop_duplicates(["prm", "datetime_utc"], keep="last")
    local = pd.to_datetime(c["datetime_utc"], utc=True).dt.tz_convert(PARIS_NAME)
    day = local.dt.tz_localize(None).dt.normalize()
    hour = local.dt.hour
    kw = c["power_w"].to_numpy() / 1000.0
    frame = pd.DataFrame({"prm": c["prm"].to_numpy(), "day": day.to_numpy(), "kwh": c["energy_wh"].to_numpy() / 1000.0,
                          "kw": kw, "step": c["step_minutes"].to_numpy(),
                          "est": (c["nature"].fillna("R").str.upper() != "R").to_numpy(),
                          "night": ((hour >= night_hours[0]) & (hour < night_hours[1])).to_numpy(),
                          "dayw": ((hour >= day_hours[0]) & (hour < day_hours[1])).to_numpy()})
    frame["kw_night"] = np.where(frame["night"], frame["kw"], np.nan)
    frame["kw_day"] = np.where(frame["dayw"], frame["kw"], np.nan)
    g = frame.groupby(["prm", "day"]).agg(energy_kwh=("kwh", "sum"), points=("kwh", "size"), step=("step", "min"),
                                          estimated_points=("est", "sum"), night_kw=("kw_night", "mean"),
                                          day_kw=("kw_day", "mean"), min_kw=("kw", "min"), max_kw=("kw", "max")).reset_index()
    start = g["day"].dt.tz_localize(PARIS_NAME)
    hours = ((g["day"] + pd.Timedelta(days=1)).dt.tz_localize(PARIS_NAME) - start) / pd.Timedelta(hours=1)
    g["expected_points"] = (hours * 60 / g["step"]).round().astype("int64")
    g["completeness"] = g["points"] / g["expected_points"]
    g["day_start_utc"] = start.dt.tz_convert("UTC")
    g["day"] = g["day"].dt.date
    g["estimated_points"] = g["estimated_points"].astype("int64")
    return g[DAILY_COLUMNS].sort_values(["prm", "day"]).reset_index(drop=True)


def reconcile_bills(lines: pd.DataFrame, daily: pd.DataFrame, tolerance: float = 0.05,
                    min_completeness: float = 0.98) -> pd.DataFrame:
    """Per electricity invoice line counted in consumption: billed kWh vs the curve over the same days.

    `status`: ok, gap (beyond tolerance), or not_compared (the curve misses points on the period:
    a gap in the data is never read as a gap in the bill).
    """
    elec = lines[(lines["fluid"] == "electricite") & lines["in_consumption"] & (lines["document_type"] == "FACTURE")
                 & lines["status"].isin(["active", "impossible"])]
    if elec.empty or daily.empty:
        return pd.DataFrame(columns=["invoice_number", "meter_id", "period_start", "period_end", "billed_kwh",
                                     "curve_kwh", "curve_completeness", "gap_share", "status"])
    d = daily.assign(day=pd.to_datetime(daily["day"]))
    out = []
    by_prm = {k: v.set_index("day") for k, v in d.groupby("prm")}
    for r in elec.itertuples(index=False):
        cur = by_prm.get(r.meter_id)
        if cur is None:
            continue
        span = pd.date_range(r.period_start, r.period_end, freq="D")
        sub = cur.reindex(span)
        expected = sub["expected_points"].fillna(sub["expected_points"].median() if sub["expected_points"].notna().any() else 144)
        completeness = float(sub["points"].fillna(0).sum() / expected.sum()) if expected.sum() else 0.0
        curve = float(sub["energy_kwh"].sum())
        billed = float(r.quantity_kwh)
        gap = (billed - curve) / curve if curve > 0 else np.nan
        status = "not_compared" if completeness < min_completeness else ("gap" if abs(gap) > tolerance else "ok")
        out.append({"invoice_number": r.invoice_number, "meter_id": r.meter_id, "period_start": r.period_start,
                    "period_end": r.period_end, "billed_kwh": billed, "curve_kwh": curve,
                    "curve_completeness": completeness, "gap_share": gap, "status": status})
    return pd.DataFrame(out)
