"""Territorial energy balance (UC3): communes -> territories -> half-hourly balance -> period rates.

Definitions (DOMAIN.md UC3, reference/domain-anchors.md §2.4), per territory and half-hour t:
    C_t consumption, P_t production (all filières), self-consumed energy A_t = min(P_t, C_t)
    surplus_t = P_t - A_t (exported from the territory), import_t = C_t - A_t
Over any period (hour, Paris day / month / year), always as a ratio of sums, never a mean of ratios:
    taux d'autoconsommation (self-consumption rate) = sum A / sum P
    taux d'autoproduction   (self-production rate)  = sum A / sum C
    coverage rate                                   = sum P / sum C   (not simultaneity-based)
A Paris day holds 46, 48 or 50 half-hours; periods are cut in Paris time and kept as UTC bounds.

Fail closed: a half-hour whose production (or consumption) was not delivered has that total null,
and A, surplus, import and the rates null with it, `complete` false and `incomplete_reason` saying
what is missing; a period sum is null as soon as one of its half-hours lacks the figure. Timestamps
off the half-hour grid, or category rows that do not add up to their total row, raise.

Statistical secrecy of what is published from here is in `energy_pipelines.secrecy.uc3`.
The heavy steps run in DuckDB over Arrow; nothing here knows about Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energy_pipelines.catalog import load_model
from energy_pipelines.clock import PARIS_NAME

CONSUMPTION = "consumption"
PRODUCTION = "production"
TOTAL = "total"
CONSUMPTION_CATEGORIES = ("residential", "professional", "business")
PRODUCTION_CATEGORIES = ("solar", "wind", "hydro", "bioenergy", "thermal", "other")
CATEGORIES = {CONSUMPTION: CONSUMPTION_CATEGORIES, PRODUCTION: PRODUCTION_CATEGORIES}
RESOLUTIONS = ("hour", "day", "month", "year")
PARIS = PARIS_NAME

# what downstream steps read from the balance; derived figures are masked with the totals they reveal
DERIVED = ("self_consumed_kwh", "surplus_kwh", "import_kwh", "self_consumption_rate_pct",
           "self_production_rate_pct", "coverage_rate_pct")


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _arrow(obj: pa.Table | pd.DataFrame) -> pa.Table:
    return obj if isinstance(obj, pa.Table) else pa.Table.from_pandas(obj, preserve_index=False)


# -- communes -> territories ------------------------------------------------------------------

TERRITORIAL_SQL = """
WITH members AS (SELECT DISTINCT territory_id, commune_code FROM members_in),
expected AS (SELECT territory_id, count(*) AS communes_expected FROM members GROUP BY territory_id),
rows AS (
    SELECT m.territory_id, e.datetime_utc, e.flow, e.category, e.commune_code,
           e.energy_wh, e.n_points, e.max_point_wh, e.capacity_kw
    FROM energy_in e JOIN members m USING (commune_code)
),
agg AS (
    SELECT territory_id, datetime_utc, flow, coalesce(category, 'total') AS category,
           sum(energy_wh) / 1000.0 AS energy_kwh,
           sum(n_points)::BIGINT AS n_points,
           -- the largest single point of the cell; unknown as soon as one commune does not say
           CASE WHEN count(max_point_wh) < count(*) THEN NULL ELSE max(max_point_wh) / 1000.0 END
               AS largest_point_kwh,
           sum(capacity_kw) AS capacity_kw,
           count(DISTINCT commune_code)::BIGINT AS communes_reporting
    FROM rows
    GROUP BY GROUPING SETS ((territory_id, datetime_utc, flow, category), (territory_id, datetime_utc, flow))
)
SELECT a.*, x.communes_expected::BIGINT AS communes_expected
FROM agg a JOIN expected x USING (territory_id)
ORDER BY territory_id, datetime_utc, flow, category
"""


def territorial_energy(commune_energy: pa.Table | pd.DataFrame, members: pd.DataFrame) -> pa.Table:
    """Commune rows (datetime_utc, commune_code, flow, category, energy_wh, n_points, max_point_wh,
    capacity_kw) summed per territory, half-hour, flow and category, plus one `total` row per flow.

    A commune of several territories counts in each (territories may overlap).
    """
    con = connect()
    con.register("energy_in", _arrow(commune_energy))
    con.register("members_in", _arrow(members[["territory_id", "commune_code"]]))
    return con.sql(TERRITORIAL_SQL).to_arrow_table()


# -- half-hourly balance ------------------------------------------------------------------------

BALANCE_SQL = """
WITH t AS (SELECT * FROM energy_in WHERE category = 'total'),
c AS (SELECT * FROM t WHERE flow = 'consumption'),
p AS (SELECT * FROM t WHERE flow = 'production'),
s AS (SELECT territory_id, datetime_utc, energy_kwh, capacity_kw FROM energy_in
      WHERE flow = 'production' AND category = 'solar'),
k AS (SELECT DISTINCT territory_id, datetime_utc FROM t)
SELECT k.territory_id, k.datetime_utc,
       c.energy_kwh AS consumption_kwh,
       p.energy_kwh AS production_kwh,
       -- DuckDB's least() skips NULLs: a missing total must give a NULL A, not the other total
       CASE WHEN c.energy_kwh IS NULL OR p.energy_kwh IS NULL THEN NULL
            ELSE least(p.energy_kwh, c.energy_kwh) END AS self_consumed_kwh,
       CASE WHEN p.territory_id IS NULL THEN NULL ELSE coalesce(s.energy_kwh, 0.0) END AS solar_kwh,
       CASE WHEN p.territory_id IS NULL THEN NULL ELSE coalesce(s.capacity_kw, 0.0) END AS solar_capacity_kw,
       c.n_points AS consumption_points, p.n_points AS production_points,
       c.largest_point_kwh AS largest_consumption_point_kwh,
       p.largest_point_kwh AS largest_production_point_kwh,
       coalesce(c.communes_reporting, 0)::BIGINT AS communes_reporting,
       coalesce(c.communes_expected, p.communes_expected)::BIGINT AS communes_expected,
       coalesce(c.territory_id IS NOT NULL AND p.territory_id IS NOT NULL
                AND c.communes_reporting = c.communes_expected, false) AS complete,
       nullif(concat_ws('; ',
           CASE WHEN c.territory_id IS NULL THEN 'consumption not delivered' END,
           CASE WHEN c.communes_reporting < c.communes_expected
                THEN (c.communes_expected - c.communes_reporting)::VARCHAR || ' of ' || c.communes_expected::VARCHAR
                     || ' member communes did not report consumption' END,
           CASE WHEN p.territory_id IS NULL THEN 'production not delivered' END), '') AS incomplete_reason
FROM k
LEFT JOIN c USING (territory_id, datetime_utc)
LEFT JOIN p USING (territory_id, datetime_utc)
LEFT JOIN s USING (territory_id, datetime_utc)
ORDER BY territory_id, datetime_utc
"""


def check_energy(energy: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Territorial energy cells, checked: UTC half-hour grid, known flows and categories, one row per
    cell, and category rows that add up to their line's total row. Raises with examples otherwise
    (a timestamp-resolution mismatch shows up here, instead of as zeros after a failed join)."""
    frame = energy.to_pandas() if isinstance(energy, pa.Table) else energy.copy()
    missing = [c for c in ("territory_id", "datetime_utc", "flow", "category", "energy_kwh") if c not in frame]
    if missing:
        raise ValueError(f"territorial energy lacks column(s) {missing}")
    times = frame["datetime_utc"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"territorial energy: datetime_utc must be tz-aware UTC timestamps, got {times.dtype}")
    times = times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    off = times != times.dt.floor("30min")
    if off.any():
        raise ValueError(f"territorial energy: {int(off.sum())} timestamp(s) off the half-hour grid (a time "
                         f"resolution mismatch?), e.g. {times[off].head(3).tolist()}")
    frame["datetime_utc"] = times
    flows = set(frame["flow"].unique()) - set(CATEGORIES)
    if flows:
        raise ValueError(f"territorial energy: unknown flow(s) {sorted(flows)}")
    for flow, cats in CATEGORIES.items():
        bad = set(frame.loc[frame["flow"] == flow, "category"].unique()) - set(cats) - {TOTAL}
        if bad:
            raise ValueError(f"territorial energy: unknown {flow} categor(ies) {sorted(bad)}")
    key = ["territory_id", "datetime_utc", "flow", "category"]
    dupes = frame.duplicated(key, keep=False)
    if dupes.any():
        raise ValueError(f"territorial energy: {int(dupes.sum())} rows share a key, e.g. "
                         f"{frame.loc[dupes, key].head(3).to_dict('records')}")
    line = ["territory_id", "datetime_utc", "flow"]
    is_total = (frame["category"] == TOTAL).to_numpy()
    totals = frame[is_total].set_index(line)["energy_kwh"]
    parts = frame[~is_total].groupby(line)["energy_kwh"].sum()
    joined = pd.concat({"total": totals, "parts": parts}, axis=1)
    orphan = joined["total"].isna()
    if orphan.any():
        raise ValueError(f"territorial energy: {int(orphan.sum())} line(s) of category rows without their total row "
                         f"(misaligned timestamps?), e.g. {joined[orphan].index[:3].tolist()}")
    # a frame of totals only (what the forecasts read) has no parts to check
    gap = joined["parts"].notna() & ((joined["total"] - joined["parts"]).abs()
                                     > 1e-6 * joined["total"].abs().clip(lower=1.0))
    if gap.any():
        raise ValueError(f"territorial energy: {int(gap.sum())} line(s) whose categories do not add up to the "
                         f"total, e.g. {joined[gap].head(3).reset_index().to_dict('records')}")
    return frame


def half_hour_balance(energy: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """One row per territory and half-hour with a total row: totals, A = min(P, C), solar fleet.

    A half-hour without any row is absent (never invented); one with only one flow delivered has
    the other null, and A, surplus, import null with it (fail closed, `incomplete_reason`).
    `complete` says both flows were delivered and every member commune reported consumption.
    """
    con = connect()
    con.register("energy_in", _arrow(check_energy(energy)))
    frame = con.sql(BALANCE_SQL).to_df()
    frame["datetime_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True).astype("datetime64[ns, UTC]")
    frame["surplus_kwh"] = frame["production_kwh"] - frame["self_consumed_kwh"]
    frame["import_kwh"] = frame["consumption_kwh"] - frame["self_consumed_kwh"]
    return frame


def add_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rates of rows that already hold sums (a half-hour or a period): ratio of the sums."""
    out = frame.copy()
    p = out["production_kwh"].where(out["production_kwh"] > 0)
    c = out["consumption_kwh"].where(out["consumption_kwh"] > 0)
    # A <= P and A <= C by construction: clip the last-bit rounding of 100 * A / P above 100
    out["self_consumption_rate_pct"] = (100 * out["self_consumed_kwh"] / p).clip(upper=100.0)
    out["self_production_rate_pct"] = (100 * out["self_consumed_kwh"] / c).clip(upper=100.0)
    out["coverage_rate_pct"] = 100 * out["production_kwh"] / c
    return out


# -- periods ------------------------------------------------------------------------------------

def _period_expr(resolution: str, column: str = "datetime_utc") -> tuple[str, str]:
    """SQL for the UTC start and end of the Paris period holding `column`."""
    if resolution == "hour":  # whole-hour offsets: a UTC hour is a Paris hour, and the repeated one stays two
        start = f"date_trunc('hour', {column})"
        return start, f"{start} + INTERVAL 1 HOUR"
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution {resolution!r}: expected one of {RESOLUTIONS}")
    local = f"date_trunc('{resolution}', timezone('{PARIS}', {column}))"
    return f"timezone('{PARIS}', {local})", f"timezone('{PARIS}', {local} + INTERVAL 1 {resolution.upper()})"


def period_rates(balance: pd.DataFrame | pa.Table, resolution: str) -> pd.DataFrame:
    """Sums and ratio-of-sums rates per territory and period (hour, Paris day, month or year).

    A sum is null when one of the period's half-hours lacks its figure (fail closed; the
    half-hours present, complete, and `incomplete_reason` say what is missing). Contributor
    figures are carried conservatively: the most delivery points seen in one half-hour (a lower
    bound of the distinct contributors) and the sum of the per-half-hour largest point (an upper
    bound of what any single point delivered over the period).
    """
    start, end = _period_expr(resolution)
    sums = ",\n".join(f"CASE WHEN count({c}) = count(*) THEN sum({c}) END AS {c}"
                      for c in ("consumption_kwh", "production_kwh", "self_consumed_kwh", "surplus_kwh", "import_kwh"))
    sql = f"""
    SELECT territory_id, {start} AS period_start_utc, {end} AS period_end_utc,
           {sums},
           count(*)::BIGINT AS half_hours_present,
           count(*) FILTER (WHERE complete)::BIGINT AS half_hours_complete,
           (count(*) - count(consumption_kwh))::BIGINT AS _consumption_missing,
           (count(*) - count(production_kwh))::BIGINT AS _production_missing,
           count(*) FILTER (WHERE communes_reporting < communes_expected)::BIGINT AS _communes_missing,
           max(consumption_points)::BIGINT AS consumption_points,
           max(production_points)::BIGINT AS production_points,
           CASE WHEN count(largest_consumption_point_kwh) < count(*) THEN NULL
                ELSE sum(largest_consumption_point_kwh) END AS largest_consumption_point_kwh,
           CASE WHEN count(largest_production_point_kwh) < count(*) THEN NULL
                ELSE sum(largest_production_point_kwh) END AS largest_production_point_kwh
    FROM balance_in GROUP BY ALL ORDER BY territory_id, period_start_utc
    """
    con = connect()
    con.register("balance_in", _arrow(balance))
    frame = con.sql(sql).to_df()
    for column in ("period_start_utc", "period_end_utc"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    frame["half_hours_expected"] = ((frame["period_end_utc"] - frame["period_start_utc"])
                                    / pd.Timedelta(minutes=30)).astype("int64")
    frame["incomplete_reason"] = _period_reasons(frame)
    frame = frame.drop(columns=["_consumption_missing", "_production_missing", "_communes_missing"])
    return add_rates(frame)


def _period_reasons(frame: pd.DataFrame) -> list[str | None]:
    out = []
    for cm, pm, km, present, expected in zip(frame["_consumption_missing"], frame["_production_missing"],
                                             frame["_communes_missing"], frame["half_hours_present"],
                                             frame["half_hours_expected"], strict=True):
        parts = []
        if expected > present:
            parts.append(f"{expected - present} of {expected} half-hours absent")
        if cm:
            parts.append(f"consumption not delivered in {cm} half-hour(s)")
        if pm:
            parts.append(f"production not delivered in {pm} half-hour(s)")
        if km:
            parts.append(f"member communes missing in {km} half-hour(s)")
        out.append("; ".join(parts) if parts else None)
    return out


# -- what-if: added PV capacity ----------------------------------------------------------------

class PvScenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    added_mwp: float | None = Field(None, ge=0)  # 0: the baseline
    added_share_of_installed: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _exactly_one_size(self) -> PvScenario:
        if (self.added_mwp is None) == (self.added_share_of_installed is None):
            raise ValueError(f"scenario {self.id!r} sets exactly one of added_mwp / added_share_of_installed")
        return self

    def added_kwp(self, installed_kwp: float) -> float:
        if self.added_mwp is not None:
            return 1000.0 * self.added_mwp
        return float(self.added_share_of_installed or 0.0) * installed_kwp


class WhatIfScenarios(BaseModel):
    """assets_config/uc3/what_if.yaml."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    scenarios: list[PvScenario] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> WhatIfScenarios:
        if len({s.id for s in self.scenarios}) != len(self.scenarios):
            raise ValueError("scenario ids must be unique")
        return self


def load_scenarios(path: Path | str) -> list[PvScenario]:
    return load_model(path, WhatIfScenarios).scenarios


def pv_what_if(balance: pd.DataFrame, scenarios: Sequence[PvScenario], resolution: str = "year") -> pd.DataFrame:
    """Rates over each period if the territory had `added_kwp` more PV behaving like its own fleet.

    The added production of a half-hour is added_kwp x the fleet's specific output then
    (solar_kwh / solar_capacity_kw); A = min(P + added, C) is recomputed half-hour by half-hour
    before summing, so the simultaneity of PV and load is kept.
    """
    rows = []
    base = balance.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_kwp = np.where(base["solar_capacity_kw"] > 0, base["solar_kwh"] / base["solar_capacity_kw"], 0.0)
    base["_per_kwp"] = per_kwp
    installed = base.groupby("territory_id")["solar_capacity_kw"].max()
    for scenario in [PvScenario(id="baseline", added_mwp=0.0), *scenarios]:
        frame = base.copy()
        added_kwp = frame["territory_id"].map(lambda t, s=scenario: s.added_kwp(float(installed.get(t, 0.0))))
        frame["production_kwh"] = frame["production_kwh"] + added_kwp * frame["_per_kwp"]
        frame["self_consumed_kwh"] = np.minimum(frame["production_kwh"], frame["consumption_kwh"])
        frame["surplus_kwh"] = frame["production_kwh"] - frame["self_consumed_kwh"]
        frame["import_kwh"] = frame["consumption_kwh"] - frame["self_consumed_kwh"]
        rates = period_rates(frame.drop(columns="_per_kwp"), resolution)
        rates.insert(1, "scenario_id", scenario.id)
        kwp = rates["territory_id"].map(lambda t, s=scenario: s.added_kwp(float(installed.get(t, 0.0))))
        rates["added_pv_kwp"] = kwp.astype(float)
        rates["installed_pv_kwp"] = rates["territory_id"].map(installed).astype(float)
        rows.append(rates)
    return pd.concat(rows, ignore_index=True)


# -- Enedis per-commune extracts -> typed commune cells ------------------------------------------

def _plain(label: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode().strip().lower()


def category_of(flow: str, label: str) -> str | None:
    """Stable code of a delivered sector or filière label; None when it is not one we know."""
    text = _plain(label)
    if flow == CONSUMPTION:
        for prefix, code in (("res", "residential"), ("pro", "professional"), ("ent", "business")):
            if text.startswith(prefix):
                return code
        return None
    by_code = {"f1": "thermal", "f2": "bioenergy", "f3": "hydro", "f4": "wind", "f5": "solar", "f6": "other"}
    head = text.replace(" ", "")[:2]
    if head in by_code:
        return by_code[head]
    for word, code in (("solaire", "solar"), ("photovolta", "solar"), ("eolien", "wind"), ("hydrau", "hydro"),
                       ("bio", "bioenergy"), ("thermique", "thermal"), ("cogeneration", "thermal"),
                       ("autre", "other")):
        if word in text:
            return code
    return None


COMMUNE_SQL = """
WITH u AS (
    SELECT datetime_utc, code_commune AS commune_code, 'consumption' AS flow, secteur_activite AS label,
           nb_points_soutirage AS n_points, total_energie_soutiree_wh AS energy_wh,
           energie_soutiree_max_point_wh AS max_point_wh, CAST(NULL AS DOUBLE) AS capacity_kw, source_file, source_line
    FROM consumption_in
    UNION ALL
    SELECT datetime_utc, code_commune, 'production', filiere_de_production, nb_points_injection,
           total_energie_injectee_wh, energie_injectee_max_point_wh, puissance_installee_kw, source_file, source_line
    FROM production_in
),
m AS (SELECT u.*, l.category FROM u LEFT JOIN labels_in l USING (flow, label)),
r AS (
    SELECT m.*, row_number() OVER (PARTITION BY datetime_utc, commune_code, flow, category
                                   ORDER BY source_file DESC, source_line DESC) AS rank
    FROM m WHERE category IS NOT NULL
)
SELECT * EXCLUDE (rank), rank FROM r
"""


@dataclass
class Typed:
    data: pa.Table
    rejects: pd.DataFrame
    figures: dict


def _reject_rows(frame: pd.DataFrame, reasons: pd.Series | str) -> pd.DataFrame:
    from energy_pipelines.transforms.common import rejects_from_rows

    if isinstance(reasons, str):
        reasons = pd.Series(reasons, index=frame.index)
    return rejects_from_rows(frame, reasons)


def commune_energy(consumption: pa.Table | pd.DataFrame, production: pa.Table | pd.DataFrame) -> Typed:
    """Both raw extracts -> one typed table of commune cells; unknown labels and superseded rows rejected."""
    con = connect()
    cons, prod = _arrow(consumption), _arrow(production)
    con.register("consumption_in", cons)
    con.register("production_in", prod)
    labels = con.sql("SELECT DISTINCT 'consumption' AS flow, secteur_activite AS label FROM consumption_in "
                     "UNION SELECT DISTINCT 'production', filiere_de_production FROM production_in").to_df()
    labels["category"] = [category_of(f, lab) for f, lab in zip(labels["flow"], labels["label"], strict=True)]
    con.register("labels_in", labels)
    con.execute(f"CREATE TEMP TABLE ranked AS {COMMUNE_SQL}")
    data = con.sql("SELECT datetime_utc, commune_code, flow, category, label, n_points, energy_wh, max_point_wh, "
                   "capacity_kw, source_file, source_line FROM ranked WHERE rank = 1 "
                   "ORDER BY datetime_utc, commune_code, flow, category").to_arrow_table()
    parts = []
    unknown = labels[labels["category"].isna()]
    if len(unknown):
        bad = con.sql("SELECT u.* FROM (SELECT datetime_utc, code_commune, secteur_activite AS label, 'consumption' AS "
                      "flow, source_file, source_line FROM consumption_in UNION ALL SELECT datetime_utc, code_commune, "
                      "filiere_de_production, 'production', source_file, source_line FROM production_in) u "
                      "JOIN labels_in l USING (flow, label) WHERE l.category IS NULL").to_df()
        parts.append(_reject_rows(bad, "unknown " + np.where(bad["flow"] == CONSUMPTION, "sector", "filière")
                                  + " label: " + bad["label"].astype(str)))
    losers = con.sql("SELECT r.*, w.source_file AS kept_file, w.source_line AS kept_line FROM ranked r JOIN ranked w "
                     "USING (datetime_utc, commune_code, flow, category) WHERE r.rank > 1 AND w.rank = 1").to_df()
    if len(losers):
        reasons = ("superseded by a later delivery: " + losers["kept_file"] + ":" + losers["kept_line"].astype(str))
        parts.append(_reject_rows(losers.drop(columns=["kept_file", "kept_line", "rank"]), reasons))
    rejects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    figures = {"rows_in": cons.num_rows + prod.num_rows, "rows_kept": data.num_rows,
               "communes": int(len(pd.unique(data.column("commune_code").to_numpy()))) if data.num_rows else 0,
               "unknown_labels": sorted(unknown["label"].astype(str)) if len(unknown) else [],
               "superseded_rows": len(losers)}
    return Typed(data=data, rejects=rejects, figures=figures)


# -- Enedis open regional aggregates --------------------------------------------------------------

OPEN_ENERGY = {"conso-inf36-region": "total_energie_soutiree_wh", "conso-sup36-region": "total_energie_soutiree_wh",
               "prod-region": "total_energie_injectee_wh"}


def regional_aggregates(frames: dict[str, pd.DataFrame]) -> Typed:
    """The three open datasets (raw text) -> one typed long table honouring Enedis's 'S' marks."""
    parts, reject_parts = [], []
    for dataset, raw in frames.items():
        if raw is None or raw.empty:
            continue
        raw = raw.reset_index(drop=True)
        production = dataset == "prod-region"
        energy_text = raw[OPEN_ENERGY[dataset]].astype("string").str.strip()
        count_text = raw["nb_points_injection" if production else "nb_points_soutirage"].astype("string").str.strip()
        index = raw["indice_representativite_courbe_ndeg1_ndeg2"].astype("string").str.strip()
        energy = pd.to_numeric(energy_text.str.replace(",", ".", regex=False), errors="coerce")
        count = pd.to_numeric(count_text, errors="coerce")
        secret = index.str.upper().eq("S").fillna(False)
        bad = (energy.isna() & energy_text.notna()) | (count.isna() & count_text.notna()) | (energy < 0)
        if bad.any():
            reject_parts.append(_reject_rows(raw[bad], "non-numeric or negative energy / count: "
                                             + energy_text[bad].fillna("") + " / " + count_text[bad].fillna("")))
        ok = ~bad
        segment = raw["filiere_de_production" if production else "profil"].astype("string").str.strip()
        band = raw["plage_de_puissance_injection" if production else "plage_de_puissance_souscrite"].astype("string")
        band = band.str.strip()
        out = pd.DataFrame({
            "datetime_utc": raw["datetime_utc"], "dataset": dataset,
            "flow": PRODUCTION if production else CONSUMPTION,
            "region_code": raw["code_region"].astype("string").str.strip(),
            "segment": segment, "power_range": band,
            "sector": raw["secteur_activite"].astype("string").str.strip() if "secteur_activite" in raw else "",
            "is_total": band.str.upper().str.startswith("P0").fillna(False),
            "n_points": count.astype("Int64"),
            "energy_wh": energy.where(~secret), "daily_mean_energy_wh": energy.where(secret),
            "secret": secret, "step_minutes": np.where(secret, 1440, 30),
            "representativity": index, "source_file": raw["source_file"], "source_line": raw["source_line"],
        })[ok]
        parts.append(out)
    columns = ["datetime_utc", "dataset", "flow", "region_code", "segment", "power_range", "sector", "is_total",
               "n_points", "energy_wh", "daily_mean_energy_wh", "secret", "step_minutes", "representativity",
               "source_file", "source_line"]
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    data["sector"] = data["sector"].fillna("")
    key = ["datetime_utc", "dataset", "segment", "power_range", "sector"]
    data = data.sort_values([*key, "source_file", "source_line"], ascending=[True] * 5 + [False, False], kind="stable")
    dup = data.duplicated(key, keep="first")
    if dup.any():
        reject_parts.append(_reject_rows(data[dup], "superseded by a later delivery of the same segment"))
    data = data[~dup].reset_index(drop=True)
    rejects = pd.concat(reject_parts, ignore_index=True) if reject_parts else pd.DataFrame()
    figures = {"rows_kept": len(data), "secret_rows": int(data["secret"].sum()) if len(data) else 0}
    return Typed(data=pa.Table.from_pandas(data[columns], preserve_index=False), rejects=rejects, figures=figures)


def regional_balance(aggregates: pd.DataFrame) -> pd.DataFrame:
    """PACA on the distribution network from open data: C = all-bands consumption totals, P = F0 all-bands.

    A secret segment enters with its published day mean; the half-hour is then `approximate`.
    """
    frame = aggregates[aggregates["is_total"]].copy()
    consumption = frame["flow"] == CONSUMPTION
    all_filieres = (frame["flow"] == PRODUCTION) & frame["segment"].str.upper().str.startswith("F0")
    frame = frame[consumption | all_filieres]
    frame["kwh"] = frame["energy_wh"].fillna(frame["daily_mean_energy_wh"]) / 1000.0
    grouped = frame.groupby(["region_code", "datetime_utc", "flow"]).agg(kwh=("kwh", "sum"),
                                                                        secret=("secret", "sum")).reset_index()
    wide = grouped.pivot_table(index=["region_code", "datetime_utc"], columns="flow", values=["kwh", "secret"],
                               aggfunc="sum", fill_value=0)
    if wide.empty:
        return pd.DataFrame()
    out = pd.DataFrame(index=wide.index)
    out["consumption_kwh"] = wide[("kwh", CONSUMPTION)] if ("kwh", CONSUMPTION) in wide else np.nan
    out["production_kwh"] = wide[("kwh", PRODUCTION)] if ("kwh", PRODUCTION) in wide else 0.0
    secrets = wide["secret"].sum(axis=1)
    out = out.reset_index()
    out = out[out["consumption_kwh"].notna()]
    out["self_consumed_kwh"] = np.minimum(out["production_kwh"], out["consumption_kwh"])
    out["surplus_kwh"] = out["production_kwh"] - out["self_consumed_kwh"]
    out["import_kwh"] = out["consumption_kwh"] - out["self_consumed_kwh"]
    out["secret_segments"] = secrets.reindex(pd.MultiIndex.from_frame(out[["region_code", "datetime_utc"]])).to_numpy()
    out["approximate"] = out["secret_segments"] > 0
    out["datetime_local"] = out["datetime_utc"].dt.tz_convert(PARIS).map(lambda t: t.isoformat())
    return add_rates(out)
