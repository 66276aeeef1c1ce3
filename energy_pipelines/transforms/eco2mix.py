"""Raw éCO2mix rows (text, as received) -> the typed regional mix per UTC half-hour, with its green share.

Half-hours from quarter-hours. RTE's real-time feed (`Données temps réel`) is quarter-hourly and
its MW are mean powers, so a half-hour is the mean of its two quarter-hours (DOMAIN.md UC2). Both
must be there with a value: when a quarter-hour row is missing, or one of the two has no value for
a column, that column is null for the half-hour and `incomplete_reason` says which quarter-hour
lacked what; a single quarter-hour is never passed off as the half-hour. A column empty in both
(a figure the feed does not give, e.g. nuclear in PACA) is null. A row with no value in any column
is the export's placeholder for a quarter-hour not yet published: it makes no half-hour (counted in
the figures as `placeholder_rows`, so the half-hour shows as missing until RTE fills it).

Precedence, one row per region and half-hour (declared rule): the most final figure wins,
Données définitives > Données consolidées > Données temps réel; at equal status RTE's own archive
beats an ODRÉ export, then the latest delivery (when the file arrived in the landing folder, never
its name), then the later line. A superseded row with other values is quarantined with both values,
so a correction is visible as such. So a consolidated 30-minute
figure replaces the real-time mean of the same half-hour, and the quarter-hour rows it replaces are
quarantined as "superseded: ..." naming the kept row. Every raw row ends up in exactly one place:
in a kept half-hour, in the quarantine with its reason, or counted as a placeholder.

Green share (our documented definition, DOMAIN.md UC2):
    green_share_pct = 100 * (eolien + solaire + hydraulique + bioenergies) / consommation
Pumping and batteries are excluded (a load and storage, not production). A missing input gives a
missing share, and `incomplete_reason` then always says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.clock import PARIS_NAME, Window
from energy_pipelines.sources.rte_eco2mix import MEASURES, QUARTER_HOUR
from energy_pipelines.transforms.common import REJECT_COLUMNS, missing_half_hours, rejects_from_rows
from energy_pipelines.transforms.result import Derived

# ND = not available, '-' = not applicable (no nuclear plant in PACA): both are a missing value
MISSING_MARKS = ("ND", "-", "")
# when several files give the same half-hour, the most final figure wins
NATURE_RANK = {"données définitives": 3, "données consolidées": 2, "données temps réel": 1}
GREEN = ["eolien", "solaire", "hydraulique", "bioenergies"]
GREEN_MW = [f"{c}_mw" for c in GREEN]
MW = [f"{c}_mw" for c in MEASURES]
META = ["datetime_utc", "interval_start_utc", "interval_minutes", "region_code", "nature", "source_file",
        "source_line", "source_format", "delivered_utc"]
QUARTER = pd.Timedelta(minutes=15)


def local_iso(utc: pd.Series) -> pd.Series:
    """Paris wall-clock time with its offset, ISO 8601 (`2017-10-29T02:00:00+02:00`), vectorised."""
    utc = pd.to_datetime(utc, utc=True)
    wall = utc.dt.tz_convert(PARIS_NAME).dt.tz_localize(None)
    minutes = ((wall - utc.dt.tz_localize(None)) // pd.Timedelta(minutes=1)).to_numpy()
    labels = {m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in np.unique(minutes)}
    offset = pd.Series(minutes, index=utc.index).map(labels)
    text = pd.Series(np.datetime_as_string(wall.to_numpy(dtype="datetime64[s]"), unit="s"), index=utc.index)
    return (text.astype(object) + offset).astype(object)


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    """Row-wise join of text columns, skipping empty pieces (Python only for the rows with text)."""
    index = parts[0].index
    arrays = [np.asarray(pd.Series(p, index=index).fillna("").astype(str), dtype=object) for p in parts]
    out = np.full(len(index), "", dtype=object)
    some = np.zeros(len(index), dtype=bool)
    for a in arrays:
        some |= a != ""
    for i in np.flatnonzero(some):
        out[i] = sep.join(a[i] for a in arrays if a[i])
    return pd.Series(out, index=index, dtype=object)


def _columns_where(masks: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """Per row, the names of the columns whose mask is true, comma-separated ('' if none)."""
    names = list(masks)
    out = np.full(len(index), "", dtype=object)
    if names:
        matrix = np.column_stack([np.asarray(masks[n], dtype=bool) for n in names])
        for i in np.flatnonzero(matrix.any(axis=1)):
            out[i] = ", ".join(names[j] for j in np.flatnonzero(matrix[i]))
    return pd.Series(out, index=index, dtype=object)


def quarter_hour_means(quarters: pd.DataFrame, columns: list[str], keys: list[str],
                       start: str = "interval_start_utc", slot: str = "datetime_utc") -> pd.DataFrame:
    """Half-hour means of quarter-hour values, refusing to pass one quarter-hour off as the half-hour.

    `quarters` holds one row per (keys, quarter-hour): `slot` is the UTC start of the half-hour,
    `start` that of the quarter-hour (equal to `slot` for the first one, 15 minutes later for the
    second). Returns one row per (keys, slot) with each column's mean (null unless both quarter-hours
    have a value), `quarter_hours` (how many rows were found, 1 or 2), `incomplete_reason` ('' when
    nothing was refused) and `row_first` / `row_second`, the index labels of the two input rows
    (-1 when absent).
    """
    second = (pd.to_datetime(quarters[start], utc=True) != pd.to_datetime(quarters[slot], utc=True)).to_numpy()
    part = quarters[[*keys, slot, *columns]].copy()
    part["_row"] = quarters.index.to_numpy()
    merged = part[~second].merge(part[second], on=[*keys, slot], how="outer", suffixes=("_a", "_b"),
                                 indicator=True, sort=False)
    has_a = (merged["_merge"] != "right_only").to_numpy()
    has_b = (merged["_merge"] != "left_only").to_numpy()
    t = pd.to_datetime(merged[slot], utc=True)
    first_label = t.dt.strftime("%H:%MZ")
    second_label = (t + QUARTER).dt.strftime("%H:%MZ")
    out = merged[[*keys, slot]].copy()
    lack_a, lack_b = {}, {}
    for c in columns:
        a, b = merged[f"{c}_a"].astype("float64"), merged[f"{c}_b"].astype("float64")
        out[c] = (a + b) / 2  # null unless both are there
        lack_a[c] = has_a & has_b & a.isna() & b.notna()
        lack_b[c] = has_a & has_b & b.isna() & a.notna()
    missing_a = pd.Series(np.where(has_a, "", "no value for quarter-hour " + first_label), index=merged.index)
    missing_b = pd.Series(np.where(has_b, "", "no value for quarter-hour " + second_label), index=merged.index)
    cols_a, cols_b = _columns_where(lack_a, merged.index), _columns_where(lack_b, merged.index)
    one_a = pd.Series(np.where(cols_a != "", "no value at " + first_label + " for " + cols_a, ""), index=merged.index)
    one_b = pd.Series(np.where(cols_b != "", "no value at " + second_label + " for " + cols_b, ""), index=merged.index)
    out["quarter_hours"] = has_a.astype("int64") + has_b.astype("int64")
    out["incomplete_reason"] = _join([missing_a, missing_b, one_a, one_b], "; ")
    out["row_first"] = merged["_row_a"].fillna(-1).astype("int64").to_numpy()
    out["row_second"] = merged["_row_b"].fillna(-1).astype("int64").to_numpy()
    return out


@dataclass
class Cleaned:
    data: pd.DataFrame
    rejects: pd.DataFrame
    figures: dict


def _with_intervals(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw partitions stored before the quarter-hour feed have no interval columns: 30-min rows."""
    if "interval_minutes" not in raw:
        raw = raw.assign(interval_start_utc=raw["datetime_utc"], interval_minutes=30)
    for col in MEASURES:
        if col not in raw:
            raw[col] = None
    if "delivered_utc" not in raw:  # rows read before arrival times were kept
        raw["delivered_utc"] = pd.NaT
    for col in ("datetime_utc", "interval_start_utc", "delivered_utc"):
        if not isinstance(raw[col].dtype, pd.DatetimeTZDtype):  # converting tz-aware values again is slow
            raw[col] = pd.to_datetime(raw[col], utc=True)
    return raw


def _pick(candidates: pd.DataFrame, keys: list[str]) -> tuple[pd.Series, pd.Series]:
    """(kept mask, reason for each dropped candidate) by the declared precedence rule."""
    order = candidates.assign(
        _rank=candidates["nature"].astype(str).str.lower().map(NATURE_RANK).fillna(0),
        _archive=(candidates["source_format"] == "rte_archive").astype(int),
        _delivered=pd.to_datetime(candidates["delivered_utc"], utc=True) if "delivered_utc" in candidates
        else pd.NaT,
    ).sort_values([*keys, "_rank", "_archive", "_delivered", "source_file", "source_line"],
                  ascending=[True] * len(keys) + [False] * 5, kind="stable", na_position="last")
    dup = order.duplicated(keys, keep="first")
    kept = pd.Series(True, index=candidates.index)
    reasons = pd.Series("", index=candidates.index, dtype=object)
    if dup.any():
        winners = order[~dup].set_index(keys)
        losers = order[dup]
        w = winners.loc[pd.MultiIndex.from_frame(losers[keys])]
        same = (losers[MW].fillna(np.inf).to_numpy() == w[MW].fillna(np.inf).to_numpy()).all(axis=1)
        where = w["source_file"].astype(str).to_numpy() + ":" + w["source_line"].astype(str).to_numpy()
        delivered = pd.to_datetime(w["_delivered"], utc=True)
        where = where + np.where(delivered.notna(), " (delivered " + delivered.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                                 .fillna("") + ")", "")
        kept_values = w["consommation_mw"].to_numpy() if "consommation_mw" in w else None
        if kept_values is not None:
            here = losers["consommation_mw"].to_numpy()
            where = where + np.where(same, "", [f"; consommation {a} MW kept, {b} MW here" for a, b in
                                               zip(kept_values, here, strict=True)])
        text = np.where(same, "duplicate row: same values as ", "superseded: other values kept from ") + where
        kept[losers.index] = False
        reasons[losers.index] = text
    return kept, reasons


def clean_eco2mix(raw: pd.DataFrame, regions: tuple[str, ...] = ("93",)) -> Cleaned:
    reject_parts: list[pd.DataFrame] = []
    raw = _with_intervals(raw.reset_index(drop=True))

    outside = ~raw["region_code"].astype(str).isin(regions)
    if outside.any():
        reasons = "region outside the dataset perimeter: " + raw.loc[outside, "region_code"].astype(str) \
                  + f" not in {list(regions)}"
        reject_parts.append(rejects_from_rows(raw[outside], reasons))
    rows = raw[~outside]

    values, not_available = {}, {}
    bad = pd.Series("", index=rows.index, dtype=object)
    for col in MEASURES:
        # most values are plain numbers: parse them at once, look closer only at the others
        number = pd.to_numeric(rows[col], errors="coerce").astype("float64")
        not_available[col] = pd.Series(False, index=rows.index)
        odd = number.isna() & rows[col].notna()
        if odd.any():
            text = rows.loc[odd, col].astype("string").str.strip()
            fixed = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            marked = text.isna() | text.isin(MISSING_MARKS)
            wrong = (fixed.isna() & ~marked).to_numpy()
            number[odd] = fixed.where(~marked).astype("float64")
            not_available[col][odd] = text.eq("ND").fillna(False).to_numpy()
            first = text.index[wrong][(bad[text.index[wrong]] == "").to_numpy()]
            bad[first] = f"non-numeric value in column {col}: " + text[first].fillna("")
        values[col] = number
    wrong_rows = bad != ""
    if wrong_rows.any():
        reject_parts.append(rejects_from_rows(rows[wrong_rows], bad[wrong_rows]))
    typed = pd.concat([rows[META], pd.DataFrame({f"{c}_mw": values[c] for c in MEASURES}, index=rows.index)],
                      axis=1)
    nd_text = _columns_where(not_available, rows.index)
    placeholder = typed[MW].isna().all(axis=1) & (nd_text == "") & ~wrong_rows
    usable = ~wrong_rows & ~placeholder
    typed, nd_text = typed[usable], nd_text[usable]
    is_quarter = (typed["interval_minutes"] == QUARTER_HOUR).to_numpy()

    # the same quarter-hour twice (overlapping exports): one kept by the precedence rule
    quarters = typed[is_quarter]
    kept_q, why_q = _pick(quarters, ["region_code", "interval_start_utc", "nature"])
    if (~kept_q).any():
        reject_parts.append(rejects_from_rows(raw.loc[quarters.index[~kept_q]], why_q[~kept_q]))
    quarters = quarters[kept_q]

    # candidates for each half-hour: published half-hour rows, and means of quarter-hour pairs
    halves = typed[~is_quarter].copy()
    halves["source_interval_minutes"] = 30
    halves["_nd"] = nd_text[~is_quarter]
    halves["_reason"] = ""
    halves["_members"] = [[i] for i in halves.index]
    means = quarter_hour_means(quarters, MW, ["region_code", "nature"]) if len(quarters) else pd.DataFrame()
    if len(means):
        first = np.where(means["row_first"] >= 0, means["row_first"], means["row_second"])
        source = quarters.loc[first]
        means["source_file"] = source["source_file"].to_numpy()
        means["source_line"] = source["source_line"].to_numpy()
        means["source_format"] = source["source_format"].to_numpy()
        # a half-hour of quarter-hours was delivered when its later quarter-hour arrived
        later = quarters.reindex(means["row_second"].to_numpy())["delivered_utc"].to_numpy()
        means["delivered_utc"] = np.where(pd.isna(later), source["delivered_utc"].to_numpy(), later)
        means["source_interval_minutes"] = QUARTER_HOUR
        nd_a = nd_text.reindex(means["row_first"].to_numpy()).fillna("").to_numpy()
        nd_b = nd_text.reindex(means["row_second"].to_numpy()).fillna("").to_numpy()
        means["_nd"] = [", ".join(dict.fromkeys(c for part in (a, b) if part for c in part.split(", ")))
                        for a, b in zip(nd_a, nd_b, strict=True)]
        means["_reason"] = means["incomplete_reason"]
        means["_members"] = [[i for i in (a, b) if i >= 0]
                             for a, b in zip(means["row_first"], means["row_second"], strict=True)]
    columns = ["datetime_utc", "region_code", "nature", "source_file", "source_line", "source_format", "delivered_utc",
               *MW, "source_interval_minutes", "_nd", "_reason", "_members"]
    candidates = pd.concat([halves[columns], means[columns] if len(means) else None],
                           ignore_index=True)
    kept, why = _pick(candidates, ["region_code", "datetime_utc"])
    dropped = candidates[~kept]
    if len(dropped):
        members = dropped["_members"].explode().astype("int64")
        reject_parts.append(rejects_from_rows(raw.loc[members.to_numpy()],
                                              pd.Series(why[members.index].to_numpy())))
    data = candidates[kept].copy()

    green = data[[f"{c}_mw" for c in GREEN]].sum(axis=1, min_count=len(GREEN))
    consumption = data["consommation_mw"]
    data["green_share_pct"] = (100 * green / consumption.where(consumption > 0)).round(3)
    inputs = {c: data[f"{c}_mw"].isna() for c in ["consommation", *GREEN]}
    missing_inputs = _columns_where(inputs, data.index)
    share_note = np.where(missing_inputs != "", "green share not computable: " + missing_inputs + " missing",
                          "green share not computable: consommation is " + consumption.astype(str))
    share_note = pd.Series(np.where(data["green_share_pct"].isna(), share_note, ""), index=data.index)
    nd_note = pd.Series(np.where(data["_nd"] != "", "ND (not available) from RTE: " + data["_nd"], ""),
                        index=data.index)
    reason = _join([data["_reason"], nd_note, share_note], "; ")
    data["incomplete_reason"] = reason.where(reason != "", None)
    data["datetime_local"] = local_iso(data["datetime_utc"])
    members_kept = int(data["_members"].map(len).sum())
    data = data.drop(columns=["_nd", "_reason", "_members", "source_format", "delivered_utc"])
    data = data.sort_values(["region_code", "datetime_utc"]).reset_index(drop=True)
    data["source_interval_minutes"] = data["source_interval_minutes"].astype("int64")

    rejects = pd.concat(reject_parts, ignore_index=True) if reject_parts else pd.DataFrame(columns=REJECT_COLUMNS)
    figures = {
        "rows_in": len(raw),
        "rows_kept": len(data),
        "rows_not_available": int(data["consommation_mw"].isna().sum()),
        "half_hours_from_quarter_hours": int((data["source_interval_minutes"] == QUARTER_HOUR).sum()),
        "half_hours_incomplete": int(data["incomplete_reason"].notna().sum()),
        "raw_rows_in_kept_half_hours": members_kept,
        "placeholder_rows": int(placeholder.sum()),
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
        from energy_pipelines.reporting.charts import time_series

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
