"""UC2 derived datasets as pure functions: each is named by the `derive:` block of its dataset YAML.

The asset factory (`assets/derived.py`) loads the inputs and calls these; they compute the table,
its figures and charts, with no Dagster, no store and no clock of their own. The computations
themselves live in `green_signal` and `usage`; here is what a product adds around them (its
figures, its empty table, its Paris days or months).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_pipelines.catalog import Catalog, DatasetSpec
from energy_pipelines.clock import HALF_HOUR, PARIS, UTC, Window
from energy_pipelines.forecasting import scores
from energy_pipelines.reporting import uc2 as charts
from energy_pipelines.transforms import forecasting, green_signal, usage
from energy_pipelines.transforms.common import missing_half_hours
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.uc2_params import Uc2Params

MODEL_ID = "prophet-flat-daily-weekly+residual-ar1/v1"


def thresholds_of(catalog: Catalog) -> pd.DataFrame:
    """The versioned colour thresholds (assets_config/uc2/signal_thresholds.yaml)."""
    return green_signal.load_thresholds(Path(catalog.directory) / "uc2" / "signal_thresholds.yaml")


def _rounded(value):
    """Figures as UC2 has always shown them: floats to 4 decimals, missing as None (n/a)."""
    if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    return value


def _empty(spec: DatasetSpec) -> pa.Table:
    """Nothing to write this time: an empty table of the dataset's schema (not a frame with no columns)."""
    return spec.table_schema.to_arrow().empty_table()


def green_charging_signal(tx: pd.DataFrame, events: pd.DataFrame, enedis: pd.DataFrame, rte: pd.DataFrame,
                          stations: pd.DataFrame, *, window: Window, catalog: Catalog) -> Derived:
    """hybrid__green_charging_signal: per charge point and half-hour, the colour, the use, the energy.

    `tx` reaches back to the start of the sessions open in the window and forward to the readings
    delivered after it; `events` reaches back to the last status of a quiet charge point.
    """
    start, end = window.start, window.end
    register = green_signal.latest_register(stations)
    if register.empty:
        raise ValueError("raw_symenergie05__charging_stations holds no charge point: materialise it first")
    signal = green_signal.green_charging_signal(
        start=start, end=end, register=register, usage=usage.slot_usage(tx, start, end),
        status=usage.slot_status(events, start, end), enedis=enedis, rte=rte, thresholds=thresholds_of(catalog),
        arrow=True)
    summary = green_signal.summarise(signal)
    figures = {
        "charge_points": int(register["id_pdc_itinerance"].nunique()),
        "half_hours_without_enedis": len(missing_half_hours(enedis["datetime_utc"], start, end)),
        "half_hours_without_rte": len(missing_half_hours(rte["datetime_utc"], start, end)),
        **{k: _rounded(v) for k, v in summary.items() if k != "per_slot"},
    }
    per_slot = summary["per_slot"]
    pngs = {"chart": charts.signal_chart(per_slot, start, end)} if len(per_slot) >= 48 else {}
    return Derived(data=signal, figures=figures, charts=pngs)


def surplus_stations_in_use(signal: pa.Table, *, catalog: Catalog) -> Derived:
    """hybrid__green_surplus_stations_in_use: charge points in use while their node over-produces."""
    out = green_signal.surplus_in_use(signal, thresholds_of(catalog))
    return Derived(data=out, figures={
        "charge_points_in_use_in_surplus": int(out["id_pdc_itinerance"].nunique()),
        "stations": int(out["id_station_itinerance"].nunique()),
        "preview": out.head(10).astype(str).to_dict("records"),
    })


def published_signal(signal: pa.Table, *, params: Uc2Params) -> Derived:
    """out_uc2__green_signal: the open signal under the disclosure rule of docs/uc2.md."""
    k_points, min_stations = params.disclosure.k_min_charge_points, params.disclosure.min_stations
    out = green_signal.open_signal(signal, k_points, min_stations)
    colours = pa.table({"c": out.column("colour").fill_null("none")}).group_by("c").aggregate([([], "count_all")])
    no_area = out.filter(pc.is_null(out.column("occupancy_area")))
    return Derived(data=out, figures={
        "rows_by_colour": dict(zip(colours.column("c").to_pylist(), colours.column("count_all").to_pylist(),
                                   strict=True)),
        "disclosure_k_min_charge_points": k_points,
        "stations_without_published_occupancy": len(set(no_area.column("id_station_itinerance").to_pylist())),
    })


def surplus_charging(surplus: pd.DataFrame, open_signal: pd.DataFrame, stations: pd.DataFrame) -> Derived:
    """out_uc2__green_surplus_charging: the restricted surplus product, per occupancy area."""
    out, figures = green_signal.surplus_by_area(surplus, open_signal, green_signal.latest_register(stations))
    return Derived(data=out, figures={k: _rounded(v) for k, v in figures.items()})


def charging_usage_daily(signal: pd.DataFrame, sessions: pd.DataFrame, *, window: Window,
                         spec: DatasetSpec) -> Derived:
    """hybrid__charging_usage_daily: per charge point and Paris day, occupancy, sessions, energy, green share."""
    parts = []
    for day in window.paris_days():
        sig = signal[(signal["datetime_utc"] >= day.start) & (signal["datetime_utc"] < day.end)]
        ses = sessions[(sessions["end_utc"] >= day.start) & (sessions["end_utc"] < day.end)]
        if len(sig):
            parts.append(usage.daily_usage(sig, ses, day.start, day.end, day.label))
    data = pd.concat(parts, ignore_index=True) if parts else _empty(spec)
    figures = {k: _rounded(v) for k, v in usage.usage_green_correlation(signal).items()} if len(signal) else {}
    pngs = {}
    if len(data):
        figures.update({
            "mean_occupancy_rate_pct": _rounded(float(data["occupancy_rate_pct"].mean())),
            "sessions_per_charge_point_day": _rounded(float(data["n_sessions"].mean())),
            "energy_kwh": _rounded(float(data["energy_kwh"].sum())),
            "green_energy_share_pct": _rounded(float(
                (data["green_energy_share_pct"].fillna(0) * data["energy_kwh"]).sum()
                / max(data["energy_kwh"].sum(), 1e-9))),
            "half_hours_in_days": data.groupby("day_local")["half_hours_in_day"].first().to_dict(),
        })
        pngs["chart"] = charts.usage_chart(signal, window.start, window.end)
    return Derived(data=data, figures=figures, charts=pngs)


def charging_usage_monthly(daily: pd.DataFrame, sessions: pd.DataFrame, typology: pd.DataFrame, *,
                           window: Window, params: Uc2Params, spec: DatasetSpec) -> Derived:
    """out_uc2__charging_usage: the open monthly usage per station, k-anonymous (docs/uc2.md)."""
    k_min = params.anonymisation.k_min_users
    k_points, min_stations = params.disclosure.k_min_charge_points, params.disclosure.min_stations
    parts, raw_sessions = [], []
    for month in window.paris_months():
        d = daily[(daily["day_start_utc"] >= month.start) & (daily["day_start_utc"] < month.end)]
        s = sessions[(sessions["end_utc"] >= month.start) & (sessions["end_utc"] < month.end)]
        if len(d):
            m = usage.open_monthly_usage(d, s, month.start, k_min=k_min, k_points=k_points,
                                         min_stations=min_stations)
            m.insert(1, "month_local", month.label)
            parts.append(m)
            raw_sessions.append(usage.monthly_station_usage(d, s, month.start)["n_sessions"])
    if not parts:
        return Derived(data=_empty(spec), figures={"rows": 0})
    data = pd.concat(parts, ignore_index=True)
    raw_n_sessions = pd.concat(raw_sessions, ignore_index=True)
    density = (typology.sort_values("datetime_utc").drop_duplicates("commune_code", keep="last")
               .set_index("commune_code")["density_label"] if len(typology) else pd.Series(dtype=object))
    data["commune_density"] = data["code_insee_commune"].map(density)
    figures = {
        "k_min_users": k_min,
        "rows": len(data),
        "rows_suppressed": int(data["suppressed"].sum()),
        "rows_suppressed_secondary": int(data["suppression_reason"].fillna("").str.startswith("secondary").sum()),
        "sessions_in_published_rows": int(data["n_sessions"].fillna(0).sum()),
        "sessions_in_suppressed_rows": int(raw_n_sessions[data["suppressed"]].sum()),
    }
    shown = data[~data["suppressed"]].nlargest(15, "energy_kwh")
    pngs = {"chart": charts.busiest_stations_chart(shown, window.start, k_min)} if len(shown) else {}
    return Derived(data=data, figures=figures, charts=pngs)


def forecast_issue(sig: pd.DataFrame, rte: pd.DataFrame, *, cutoff: datetime, stations: pd.DataFrame,
                   thresholds: pd.DataFrame, fc: dict, issued) -> tuple[pd.DataFrame | None, dict]:
    """One issue of out_uc2__signal_forecast, in its published shape (colour bands included).

    Per grid node, prophet on the local ratio of the signal history `sig` before `cutoff`, `horizon_hours`
    ahead; the expected colour follows the signal's rule with RTE's regional share forecast from `rte`.
    `issued()` gives the issue time (the caller's clock: to the microsecond, two issues never share a key).
    """
    sig = sig.dropna(subset=["code_poste_source", "local_green_ratio"])
    if sig.empty or sig["datetime_utc"].nunique() < 96:
        return None, {"issued": False,
                      "reason": f"less than 2 days of hybrid__green_charging_signal before {cutoff:%Y-%m-%dT%H:%MZ}"}
    version = thresholds[thresholds["valid_from"] <= pd.Timestamp(cutoff)].iloc[-1]
    green_min = float(version["green_local_ratio_min"])
    steps = int(fc["horizon_hours"]) * 2
    backtest = int(fc["backtest_hours"]) * 2
    per_node, node_metrics, probabilities = [], {}, []
    for node, rows in sig.groupby("code_poste_source"):
        series = rows.groupby("datetime_utc")["local_green_ratio"].mean()
        series.index = pd.DatetimeIndex(series.index).tz_convert(UTC)
        # the forecast starts at the cut-off even when the last half-hours are missing
        series = series.reindex(pd.date_range(series.index[0], pd.Timestamp(cutoff) - HALF_HOUR, freq="30min"))
        result = forecasting.forecast(series, steps, transform=fc.get("transform"), backtest_steps=backtest,
                                      threshold=green_min, correction_window=int(fc["correction_window_steps"]))
        out = result.frame.assign(code_poste_source=node)
        per_node.append(out)
        if result.backtest is not None:
            probabilities.append(result.backtest.assign(code_poste_source=node))
        node_metrics[node] = {k: (round(v, 4) if isinstance(v, float) and np.isfinite(v) else v)
                              for k, v in result.metrics.items()
                              if k in ("backtest_skill", "backtest_prophet_only_skill", "backtest_brier_skill",
                                       "backtest_rmse_model", "backtest_rmse_reference", "history_points")}
    nodes = pd.concat(per_node, ignore_index=True)
    link = sig.drop_duplicates("id_station_itinerance")[["id_station_itinerance", "code_poste_source"]]
    frame = link.merge(nodes, on="code_poste_source").merge(stations, on="id_station_itinerance", how="left")
    ratio = frame["yhat"].to_numpy()
    # the expected colour follows the signal's rule: the regional share is forecast too, and where
    # the forecast ratio alone cannot decide and the share is not forecast, no colour
    share_by_target, share_gap = green_signal.forecast_regional_share(rte, cutoff, steps,
                                                                      history_days=int(fc["history_days"]))
    share = share_by_target.reindex(pd.DatetimeIndex(frame["ds"]).tz_convert(UTC)).to_numpy()
    colours = green_signal.decide_colours(ratio, share, thresholds, frame["ds"])
    issued = issued()
    data = pd.DataFrame({
        "issued_at_utc": issued, "data_cutoff_utc": pd.Timestamp(cutoff),
        "target_utc": frame["ds"].to_numpy(),
        "target_local": [t.isoformat() for t in pd.DatetimeIndex(frame["ds"]).tz_convert(PARIS)],
        "horizon_h": ((pd.DatetimeIndex(frame["ds"]) - pd.Timestamp(cutoff)).total_seconds() / 3600 + 0.5),
        "id_station_itinerance": frame["id_station_itinerance"].to_numpy(),
        "code_insee_commune": frame["code_insee_commune"].to_numpy(),
        "p_green": np.clip(frame["p_exceed"].to_numpy(), 0, 1).round(4),
        "expected_regional_green_share_pct": np.round(share, 2),
        "expected_colour": colours["colour"].to_numpy(),
        "expected_colour_reason": colours["colour_reason"].to_numpy(),
        "ratio_band": np.select([ratio < 0.6, ratio < 1.0, ratio < 1.5], ["<0.6", "0.6-1", "1-1.5"], ">=1.5"),
        "thresholds_version": colours["thresholds_version"].to_numpy(), "model": MODEL_ID,
    })
    skills = [m.get("backtest_skill") for m in node_metrics.values() if isinstance(m.get("backtest_skill"), float)]
    metrics = {
        "issued": True, "issued_at_utc": issued.isoformat(), "data_cutoff_utc": pd.Timestamp(cutoff).isoformat(),
        "nodes": len(node_metrics), "stations": int(data["id_station_itinerance"].nunique()),
        "nodes_without_backtest": sum(1 for m in node_metrics.values() if "backtest_skill" not in m),
        "regional_share_forecast": share_gap or "prophet on core_rte__eco2mix_regional green_share_pct",
        "rows_without_expected_colour": int(data["expected_colour"].isna().sum()),
        "mean_backtest_skill": round(float(np.mean(skills)), 4) if skills else None,
        "mean_backtest_prophet_only_skill": _mean(node_metrics, "backtest_prophet_only_skill"),
        "mean_backtest_brier_skill": _mean(node_metrics, "backtest_brier_skill"),
        "reference": "seasonal naive: same half-hour 7 days before; skill = 1 - RMSE/RMSE_ref (log1p scale)",
        "brier_reference": "climatology: base rate of green at the same half-hour over the training window",
        **probability_scores(probabilities),
        "per_node": node_metrics,
    }
    return data, metrics


def probability_scores(backtests: list[pd.DataFrame]) -> dict:
    """P(green) of the nodes' back-tests pooled: Brier skill vs climatology and the reliability diagram.

    `backtests`: `ForecastResult.backtest` frames (p, outcome, climatology). The reliability table has
    one row per tenth of probability: the mean forecast, the observed frequency of green and n
    (`forecasting.scores.reliability`; a bin without forecast has n 0 and no frequency).
    """
    if not backtests:
        return {}
    pooled = pd.concat(backtests, ignore_index=True)
    brier = scores.brier_skill(pooled["p"], pooled["outcome"], pooled["climatology"])
    table = scores.reliability(pooled["p"], pooled["outcome"], bins=10)
    table["n"] = table["n"].fillna(0).astype(int)
    records = [{"bin_low": round(float(row.bin_low), 2), "bin_high": round(float(row.bin_high), 2),
                "mean_forecast": _round(row.mean_forecast), "observed": _round(row.observed), "n": int(row.n)}
               for row in table.itertuples()]
    return {"pooled_backtest_brier": _round(brier["brier"]),
            "pooled_backtest_brier_climatology": _round(brier["brier_reference"]),
            "pooled_backtest_brier_skill": _round(brier["brier_skill"]),
            "reliability": records}


def _round(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def _mean(metrics: dict, key: str) -> float | None:
    values = [m[key] for m in metrics.values() if isinstance(m.get(key), float) and np.isfinite(m[key])]
    return round(float(np.mean(values)), 4) if values else None
