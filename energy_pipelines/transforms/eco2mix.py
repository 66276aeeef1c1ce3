"""Raw éCO2mix rows (text, as received) -> typed half-hourly regional mix with its green share.

Green share (our documented definition, DOMAIN.md UC2):
    green_share_pct = 100 * (eolien + solaire + hydraulique + bioenergies) / consommation
Pumping is excluded (it is a load, not production). A missing input gives a missing share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.clock import Window
from energy_pipelines.sources.rte_eco2mix import MEASURES
from energy_pipelines.transforms.common import REJECT_COLUMNS, missing_half_hours, rejects_from_rows
from energy_pipelines.transforms.result import Derived

# ND = not available, '-' = not applicable (no nuclear plant in PACA): both are a missing value
MISSING_MARKS = ("ND", "-", "")
# when several files give the same half-hour, the most final figure wins
NATURE_RANK = {"données définitives": 3, "données consolidées": 2, "données temps réel": 1}
GREEN = ["eolien", "solaire", "hydraulique", "bioenergies"]
GREEN_MW = [f"{c}_mw" for c in GREEN]


def local_iso(utc: pd.Series) -> pd.Series:
    """Paris wall-clock time with its offset, ISO 8601 (`2017-10-29T02:00:00+02:00`), vectorised."""
    text = utc.dt.tz_convert("Europe/Paris").dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text.str[:-2] + ":" + text.str[-2:]


@dataclass
class Cleaned:
    data: pd.DataFrame
    rejects: pd.DataFrame
    figures: dict


def clean_eco2mix(raw: pd.DataFrame, regions: tuple[str, ...] = ("93",)) -> Cleaned:
    reject_parts: list[pd.DataFrame] = []
    raw = raw.reset_index(drop=True)

    outside = ~raw["region_code"].astype(str).isin(regions)
    if outside.any():
        reasons = "region outside the dataset perimeter: " + raw.loc[outside, "region_code"].astype(str) \
                  + f" not in {list(regions)}"
        reject_parts.append(rejects_from_rows(raw[outside], reasons))
    rows = raw[~outside].copy()

    values = {}
    bad = pd.Series("", index=rows.index)
    for col in MEASURES:
        text = rows[col].astype("string").str.strip()
        number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        marked = text.isna() | text.isin(MISSING_MARKS)
        wrong = number.isna() & ~marked
        bad = bad.where(~(wrong & (bad == "")), f"non-numeric value in column {col}: " + text.fillna(""))
        values[col] = number.where(~marked)
    wrong_rows = bad != ""
    if wrong_rows.any():
        reject_parts.append(rejects_from_rows(rows[wrong_rows], bad[wrong_rows]))
    typed = pd.DataFrame({f"{c}_mw": values[c].astype("float64") for c in MEASURES}, index=rows.index)
    typed = pd.concat([rows[["datetime_utc", "region_code", "nature", "source_file", "source_line",
                             "source_format"]], typed], axis=1)[~wrong_rows]

    # one row per (region, half-hour): keep the most final figure, quarantine the others
    typed["_rank"] = typed["nature"].str.lower().map(NATURE_RANK).fillna(0)
    typed["_archive"] = (typed["source_format"] == "rte_archive").astype(int)
    typed = typed.sort_values(["region_code", "datetime_utc", "_rank", "_archive", "source_file", "source_line"],
                              ascending=[True, True, False, False, False, False], kind="stable")
    dup = typed.duplicated(["region_code", "datetime_utc"], keep="first")
    if dup.any():
        winners = typed[~dup].set_index(["region_code", "datetime_utc"])
        losers = typed[dup]
        keys = pd.MultiIndex.from_frame(losers[["region_code", "datetime_utc"]])
        w = winners.loc[keys]
        measure_cols = [f"{c}_mw" for c in MEASURES]
        same = (losers[measure_cols].fillna(np.inf).to_numpy() == w[measure_cols].fillna(np.inf).to_numpy()).all(axis=1)
        where = w["source_file"].astype(str).to_numpy() + ":" + w["source_line"].astype(str).to_numpy()
        reasons = pd.Series(np.where(same, "duplicate row: same values as ", "superseded: other values kept from ")
                            + where, index=losers.index)
        reject_parts.append(rejects_from_rows(raw.loc[losers.index], reasons))
    data = typed[~dup].drop(columns=["_rank", "_archive", "source_format"])

    green = data[[f"{c}_mw" for c in GREEN]].sum(axis=1, min_count=len(GREEN))
    consumption = data["consommation_mw"]
    data["green_share_pct"] = (100 * green / consumption.where(consumption > 0)).round(3)
    data["datetime_local"] = local_iso(data["datetime_utc"])
    data = data.sort_values(["region_code", "datetime_utc"]).reset_index(drop=True)

    rejects = pd.concat(reject_parts, ignore_index=True) if reject_parts else pd.DataFrame(columns=REJECT_COLUMNS)
    figures = {
        "rows_in": len(raw),
        "rows_kept": len(data),
        "rows_not_available": int(data["consommation_mw"].isna().sum()),
        "mean_consumption_mw": float(data["consommation_mw"].mean()) if len(data) else None,
        "mean_green_share_pct": float(data["green_share_pct"].mean()) if len(data) else None,
    }
    return Cleaned(data=data, rejects=rejects, figures=figures)


# -- the declared transforms of the RTE datasets (assets_config/datasets/*rte__eco2mix_regional.yaml) --


def core_mix(raw: pd.DataFrame, *, window: Window, spec: DatasetSpec, catalog: Catalog) -> Derived:
    """raw_rte__eco2mix_regional -> core_rte__eco2mix_regional, with missing half-hours reported."""
    region = str(catalog["raw_rte__eco2mix_regional"].source.live.get("region_code", "93"))
    cleaned = clean_eco2mix(raw, regions=(region,))
    data = cleaned.data
    missing = missing_half_hours(data["datetime_utc"], *window) if (len(data) or raw.empty) and not window.is_all_time else []
    figures = {"missing_half_hours": len(missing),
               "missing_half_hours_sample": [t.isoformat() for t in missing[:50]],
               **{k: v for k, v in cleaned.figures.items() if v is not None}}
    charts = {}
    if len(data) >= 48:
        from energy_pipelines.charts import time_series

        charts["chart"] = time_series(
            data, "datetime_utc", {"consommation_mw": "consumption (MW)", "solaire_mw": "solar (MW)",
                                   "hydraulique_mw": "hydro (MW)"},
            title=f"PACA mix, {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC (axis in Paris time)",
            secondary={"green_share_pct": "green share (%)"})
    return Derived(data=data, rejects=cleaned.rejects, figures=figures, charts=charts)


def published(core: pd.DataFrame, *, spec: DatasetSpec) -> pd.DataFrame:
    """A public product: the core table restricted to the product's declared columns (provenance stays in core)."""
    return core[list(spec.table_schema.columns)]


def daily_balance(core: pd.DataFrame, *, window: Window) -> Derived:
    """Per Paris day of the window: energies (MWh = MW x 0.5 h summed) and the green share as a ratio
    of sums. A day missing a half-hour, or one of its figures, gets no figures, and says why."""
    rows = []
    core = core.assign(datetime_utc=pd.to_datetime(core["datetime_utc"], utc=True))
    for region in sorted(core["region_code"].dropna().unique()) or []:
        mine = core[core["region_code"] == region]
        for day in window.paris_days():
            inside = mine[day.window.contains(mine["datetime_utc"])]
            present = int(inside["datetime_utc"].nunique())
            green = inside[GREEN_MW].sum(axis=1, min_count=len(GREEN_MW))
            reason = None
            if present < day.half_hour_count:
                reason = f"{day.half_hour_count - present} demi-heure(s) manquante(s) sur {day.half_hour_count}"
            elif inside["consommation_mw"].isna().any() or green.isna().any():
                reason = "une valeur de consommation ou de production renouvelable manque"
            consumption = None if reason else float(inside["consommation_mw"].sum() * 0.5)
            renewable = None if reason else float(green.sum() * 0.5)
            rows.append({"day_start_utc": day.start, "day_local": day.label, "region_code": region,
                         "half_hours_expected": day.half_hour_count, "half_hours_present": present,
                         "consumption_mwh": consumption, "renewable_mwh": renewable,
                         "green_share_pct": 100 * renewable / consumption if consumption else None,
                         "incomplete_reason": reason})
    data = pd.DataFrame(rows, columns=["day_start_utc", "day_local", "region_code", "half_hours_expected",
                                       "half_hours_present", "consumption_mwh", "renewable_mwh",
                                       "green_share_pct", "incomplete_reason"])
    return Derived(data=data, figures={"days": len(data), "incomplete_days": int(data["incomplete_reason"].notna().sum()),
                                       "consumption_mwh": float(data["consumption_mwh"].sum()) if len(data) else None})
