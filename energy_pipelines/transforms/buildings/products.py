"""The functions the catalogue's `derive:` blocks name: pure, keyword inputs, one dataset each.

Every product reads the whole bill history (`window: all`: an estimate is corrected months later,
a duplicate arrives after its original) and returns the rows of its own window.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from energy_pipelines.clock import PARIS, Window
from energy_pipelines.transforms.buildings import curves as curves_mod
from energy_pipelines.transforms.buildings.params import Uc4Params
from energy_pipelines.transforms.buildings.pipeline import run_estate
from energy_pipelines.transforms.buildings.savings import monthly_savings, yearly_indicators
from energy_pipelines.transforms.result import Derived


def _as_of(window: Window | None, bills: pd.DataFrame) -> date:
    latest = pd.to_datetime(bills["invoice_date"]).max().date() if len(bills) else date.today()
    if window is None or window.is_all_time:
        return latest
    return min(latest, (pd.Timestamp(window.end).tz_convert(PARIS) - pd.Timedelta(days=1)).date())


def _in(window: Window | None, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if window is None or window.is_all_time or frame.empty:
        return frame.reset_index(drop=True)
    return frame[window.contains(frame[column])].reset_index(drop=True)


def _run(bills, meters, buildings, school_calendar, temperature, window, params, **kw):
    return run_estate(bills, meters, buildings, school_calendar, temperature, _as_of(window, bills), params, **kw)


def bill_lines(bills: pd.DataFrame, meters: pd.DataFrame, window: Window, params: Uc4Params) -> Derived:
    from energy_pipelines.transforms.buildings.bills import clean_bills

    lines, rejects = clean_bills(bills, meters, params.bills)
    figures = {"lines": len(lines), **{f"status_{k}": int(v) for k, v in lines["status"].value_counts().items()},
               "rejected": len(rejects)}
    return Derived(_in(window, lines, "datetime_utc"), rejects=rejects, figures=figures)


def monthly_consumption(bills, meters, buildings, school_calendar, temperature, window: Window,
                        params: Uc4Params) -> Derived:
    res = _run(bills, meters, buildings, school_calendar, temperature, window, params)
    out = monthly_savings(res.monthly, res.models, res.context, params)
    return Derived(_in(window, out, "month_start_utc"), rejects=res.rejects,
                   figures={"building_fluid_months": len(out), "incomplete_months": int((out["coverage"] < 0.9).sum())})


def baselines(bills, meters, buildings, school_calendar, temperature, params: Uc4Params) -> Derived:
    res = _run(bills, meters, buildings, school_calendar, temperature, None, params)
    b = res.baselines
    return Derived(b, figures={"models": len(b), "passing_g14": int(b["passes_g14"].sum()),
                               "failing_or_missing": int((~b["passes_g14"]).sum())})


def building_anomalies(bills, meters, buildings, school_calendar, temperature, load_curves, gas_days,
                       window: Window, params: Uc4Params) -> Derived:
    res = _run(bills, meters, buildings, school_calendar, temperature, window, params, load_curves=load_curves,
               gas_days=gas_days)
    a = res.anomalies
    return Derived(_in(window, a, "month_start_utc"),
                   figures={f"kind_{k}": int(v) for k, v in a["kind"].value_counts().items()}
                   | {"eur_at_stake": float(a["eur_at_stake"].sum())})


def daily_load(load_curves: pd.DataFrame, window: Window, params: Uc4Params) -> pd.DataFrame:
    d = curves_mod.daily_load(load_curves, tuple(params.detection.night_hours), tuple(params.detection.day_hours))
    return _in(window, d, "day_start_utc")


def indicators(bills, meters, buildings, school_calendar, temperature, window: Window, params: Uc4Params) -> Derived:
    res = _run(bills, meters, buildings, school_calendar, temperature, window, params)
    ind = yearly_indicators(res.monthly, res.models, buildings, res.context, params)
    ind["year_start_utc"] = pd.to_datetime(ind["year"].astype(str) + "-01-01").dt.tz_localize(PARIS).dt.tz_convert("UTC")
    return Derived(_in(window, ind, "year_start_utc"),
                   figures={"buildings": int(ind["building_id"].nunique()),
                            "off_track": int((ind["on_track"] == False).sum())})  # noqa: E712


def energy_by_commune(bills, meters, buildings, school_calendar, temperature, window: Window,
                      params: Uc4Params) -> Derived:
    """Per commune, département and region and year: the Region's buildings' final energy, water and floor
    area, with the number of buildings behind each cell, after the platform's secrecy engine
    (`transforms/buildings/publish.py`): cells of fewer than 3 buildings or dominated by one are masked
    with their secondary partners; a year the audit still finds exposed is refused (SecrecyExposure)."""
    from energy_pipelines.transforms.buildings.publish import PUBLISHED_COLUMNS, area_cells, publish_cells

    res = _run(bills, meters, buildings, school_calendar, temperature, window, params)
    ind = yearly_indicators(res.monthly, res.models, buildings, res.context, params)
    if ind.empty:
        return Derived(pd.DataFrame(columns=PUBLISHED_COLUMNS), figures={"cells": 0})
    reg = buildings.drop_duplicates("building_id", keep="last")[["building_id", "commune_code", "commune_name"]]
    cells = _in(window, area_cells(ind.merge(reg, on="building_id"), params.calendar.region_code), "year_start_utc")
    result = publish_cells(cells)
    return Derived(result.published.sort_values(["year", "area_level", "area_code"]).reset_index(drop=True),
                   figures={"cells": len(cells), **result.figures()})


def building_reports(bills, meters, buildings, school_calendar, temperature, window: Window,
                     params: Uc4Params) -> Derived:
    from energy_pipelines.reporting.uc4 import building_page

    res = _run(bills, meters, buildings, school_calendar, temperature, window, params)
    sav = monthly_savings(res.monthly, res.models, res.context, params)
    ind = yearly_indicators(res.monthly, res.models, buildings, res.context, params)
    reg = buildings.drop_duplicates("building_id", keep="last")
    rows = []
    for b in reg.itertuples(index=False):
        html = building_page(b._asdict(), sav[sav["building_id"] == b.building_id],
                             res.anomalies[res.anomalies["building_id"] == b.building_id],
                             ind[ind["building_id"] == b.building_id],
                             res.baselines[res.baselines["building_id"] == b.building_id])
        rows.append({"building_id": b.building_id, "uai": b.uai, "name": b.name, "html": html})
    out = pd.DataFrame(rows)
    out["as_of_utc"] = pd.Timestamp(_as_of(window, bills)).tz_localize(PARIS).tz_convert("UTC")
    return Derived(out, figures={"pages": len(out)})
