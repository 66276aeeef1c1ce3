"""Hourly forecasts of a territory's consumption, production and self-production rate (UC3).

Model (prophet, one fit per variable, history of `history_days` before the origin, a stiff trend):
- both: weekly profile, a daily profile per day type (working day / weekend) on Paris wall-clock
  time and a clear-sky solar regressor (sin of the sun's elevation at the territory's centroid,
  known in advance);
- consumption: French public holidays, and heating / cooling degrees
  (temperature below 16 °C, above 23 °C) when a temperature series covers history *and*
  horizon (observations alone cannot, so live issues usually run without it and say so);
- production: its own value one week earlier as a regressor (known up to 168 h ahead; it
  carries the dispatchable hydro and thermal part), clipped at 0;
- self-production rate: not fitted; 100 x min(P, C) / C from joint predictive samples of P and C
  (independent), its point value from the point forecasts.
Intervals: `interval_width` (80 % by default) from prophet's predictive samples.

Model choice (`choose_models`, `issue_with_choice`; what `out_uc3__forecasts` issues when it can
back-test): per variable, prophet above and the HistGradientBoosting `TabularModel` of
`energy_pipelines.forecasting` (`forecast_hgb`: lags known at the issue, calendar, public holidays,
on the hourly sums split into half-hours) are both issued a week before the issue; the lower RMSE
over the same hours (`forecasting.scores`) wins, and the issued interval is split conformal on
that back-test's absolute errors per horizon band (`forecasting.models.conformal_quantile`), the
rate's from the rate of the two chosen back-tests.

Scores (DOMAIN.md UC3, domain-anchors §4): skill = 1 - RMSE / RMSE_naive with the seasonal
naive forecast (same hour one week earlier); MASE = MAE / in-sample MAE of that naive forecast
over the training window; for production also MAE / installed PV power (capacity-normalised).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from energy_pipelines.catalog import load_model
from energy_pipelines.clock import PARIS
from energy_pipelines.simulate.weather import solar_elevation_sin
from energy_pipelines.transforms.forecasting import skill_score

SEASON_H = 168
VARIABLES = ("consumption_kwh", "production_kwh", "self_production_rate_pct")



def _quiet() -> None:
    """Prophet sets its loggers when imported: silence them after (a fallback to Newton is routine)."""
    for name in ("cmdstanpy", "prophet", "prophet.models", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)


class ForecastConfig(BaseModel):
    """assets_config/uc3/forecast.yaml: a typo or a wrong type names the file and the field."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    history_days: int = Field(56, ge=14)
    horizon_hours: int = Field(168, ge=1, le=SEASON_H,
                               description="at most a week: the seasonal naive reference is the week before")
    interval_width: float = Field(0.8, gt=0, lt=1)
    uncertainty_samples: int = Field(200, ge=10)
    backtest: bool = True
    daily_fourier_order: int = Field(10, ge=1)
    # a stiff trend: seven days ahead, a flexible one extrapolates last week's drift (skill < 0 on PACA 2017)
    consumption_changepoint_prior_scale: float = Field(0.001, gt=0)
    production_changepoint_prior_scale: float = Field(0.01, gt=0)
    heating_base_c: float = 16.0
    cooling_base_c: float = 23.0
    seed: int = 0

    @classmethod
    def from_yaml(cls, path: Path | str) -> ForecastConfig:
        return load_model(path, cls)


def hourly(balance: pd.DataFrame, value_columns=("consumption_kwh", "production_kwh")) -> pd.DataFrame:
    """Half-hourly sums -> hourly sums per territory; hours missing a half-hour are dropped."""
    frame = balance.copy()
    frame["hour_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True).dt.floor("h")
    agg = {c: "sum" for c in value_columns}
    agg["datetime_utc"] = "count"
    out = frame.groupby(["territory_id", "hour_utc"]).agg(agg).reset_index()
    out = out[out["datetime_utc"] == 2].drop(columns="datetime_utc")
    return out.rename(columns={"hour_utc": "datetime_utc"})


def _ds(utc: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """Prophet's naive time: Paris wall clock (daily habits follow it across DST)."""
    return pd.Series(pd.DatetimeIndex(utc).tz_convert(PARIS).tz_localize(None))


def clear_sky(utc: pd.DatetimeIndex, lat: float, lon: float) -> np.ndarray:
    """Mean of sin(elevation)^1.15 over the hour (two half-hour midpoints), 0 at night."""
    utc = pd.DatetimeIndex(utc)
    halves = [np.clip(solar_elevation_sin(utc + pd.Timedelta(minutes=m), lat, lon), 0, None) ** 1.15 for m in (0, 30)]
    return (halves[0] + halves[1]) / 2


def seasonal_naive(series: pd.Series, targets: pd.DatetimeIndex, season_h: int = SEASON_H) -> np.ndarray:
    """The value `season_h` hours before each target (NaN where unknown)."""
    return series.reindex(pd.DatetimeIndex(targets) - pd.Timedelta(hours=season_h)).to_numpy(dtype=float)


def insample_naive_mae(series: pd.Series, season_h: int = SEASON_H) -> float:
    lagged = series.reindex(series.index - pd.Timedelta(hours=season_h)).to_numpy(dtype=float)
    diff = np.abs(series.to_numpy(dtype=float) - lagged)
    return float(np.nanmean(diff)) if np.isfinite(diff).any() else float("nan")


def scores(actual: np.ndarray, forecast: np.ndarray, naive: np.ndarray, scale: float,
           capacity_kw: float | None = None) -> dict:
    """RMSE, MAE, skill vs seasonal naive, MASE (and MAE / capacity for PV) over points known to all three."""
    actual, forecast, naive = (np.asarray(a, dtype=float) for a in (actual, forecast, naive))
    rmse = skill_score(actual, forecast, naive)  # the skill definition shared with UC2
    if not rmse["n"]:
        return {"n": 0}
    ok = np.isfinite(actual) & np.isfinite(forecast) & np.isfinite(naive)
    mae, mae_ref = float(np.mean(np.abs(forecast[ok] - actual[ok]))), float(np.mean(np.abs(naive[ok] - actual[ok])))
    out = {"n": rmse["n"], "rmse": rmse["rmse_model"], "rmse_naive": rmse["rmse_reference"], "mae": mae,
           "mae_naive": mae_ref, "skill_rmse": rmse["skill"],
           "skill_mae": 1 - mae / mae_ref if mae_ref > 0 else float("nan"),
           "mase": mae / scale if scale and np.isfinite(scale) and scale > 0 else float("nan")}
    if capacity_kw:
        out["mae_per_capacity"] = mae / capacity_kw  # kWh per hour / kW: a fraction of full output
    return out


@dataclass
class Site:
    """Where the solar regressor is computed (a territory's centroid)."""

    lat: float = 43.5
    lon: float = 5.9


def _temperature_features(temp: pd.Series, cfg: ForecastConfig) -> pd.DataFrame:
    return pd.DataFrame({"hdd": np.clip(cfg.heating_base_c - temp.to_numpy(dtype=float), 0, None),
                         "cdd": np.clip(temp.to_numpy(dtype=float) - cfg.cooling_base_c, 0, None)})


def _fit_predict(history: pd.DataFrame, future: pd.DataFrame, variable: str, cfg: ForecastConfig,
                 site: Site, use_temperature: bool, lagged: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """Point forecast and predictive samples (n_targets x n_samples) for one variable.

    Both variables get a weekly profile, a daily profile per day type (working day / weekend, Paris
    wall clock) and the clear-sky solar regressor (PV output; daylight and behind-the-meter PV in
    consumption). Consumption adds French holidays and, when known over the horizon,
    heating / cooling degrees; production adds its own value one week earlier (known for every
    target up to 168 h ahead), which carries the dispatchable part (hydro, thermal).
    """
    from prophet import Prophet

    _quiet()
    consumption = variable == "consumption_kwh"
    hist = pd.DataFrame({"ds": _ds(history["datetime_utc"]), "y": history[variable].to_numpy(dtype=float)})
    fut = pd.DataFrame({"ds": _ds(future["datetime_utc"])})
    model = Prophet(daily_seasonality=False, weekly_seasonality=True, yearly_seasonality=False,
                    changepoint_prior_scale=(cfg.consumption_changepoint_prior_scale if consumption
                                             else cfg.production_changepoint_prior_scale),
                    interval_width=cfg.interval_width, uncertainty_samples=cfg.uncertainty_samples)
    for frame in (hist, fut):
        frame["working_day"] = frame["ds"].dt.dayofweek < 5
        frame["weekend"] = ~frame["working_day"]
    model.add_seasonality("daily_working_day", period=1, fourier_order=cfg.daily_fourier_order,
                          condition_name="working_day")
    model.add_seasonality("daily_weekend", period=1, fourier_order=cfg.daily_fourier_order, condition_name="weekend")
    hist["clear_sky"] = clear_sky(history["datetime_utc"], site.lat, site.lon)
    fut["clear_sky"] = clear_sky(future["datetime_utc"], site.lat, site.lon)
    model.add_regressor("clear_sky", standardize=False)
    parts = ["weekly", "daily profile per day type", "clear-sky solar"]
    if consumption:
        model.add_country_holidays(country_name="FR")
        parts.append("FR holidays")
        if use_temperature:
            for frame, src in ((hist, history), (fut, future)):
                feats = _temperature_features(src["temperature_c"], cfg)
                frame["hdd"], frame["cdd"] = feats["hdd"].to_numpy(), feats["cdd"].to_numpy()
            # a season without heating (or cooling) gives a constant column: nothing to learn from it
            used = [c for c in ("hdd", "cdd") if hist[c].std() > 0]
            for column in used:
                model.add_regressor(column)
            hist, fut = hist.drop(columns=[c for c in ("hdd", "cdd") if c not in used]), fut
            parts.append("heating/cooling degrees" if used else "temperature (no heating or cooling degree)")
    else:
        hist["last_week"] = lagged.reindex(pd.DatetimeIndex(history["datetime_utc"]) - pd.Timedelta(hours=SEASON_H)).to_numpy()
        fut["last_week"] = lagged.reindex(pd.DatetimeIndex(future["datetime_utc"]) - pd.Timedelta(hours=SEASON_H)).to_numpy()
        fut["last_week"] = fut["last_week"].fillna(hist["last_week"].mean())
        model.add_regressor("last_week")
        parts.append("value one week earlier")
    np.random.seed(cfg.seed)
    model.fit(hist.dropna())
    point = model.predict(fut)["yhat"].to_numpy()
    samples = model.predictive_samples(fut)["yhat"]
    if not consumption:
        point, samples = np.clip(point, 0, None), np.clip(samples, 0, None)
    return point, samples, f"prophet({', '.join(parts)})" + ("" if consumption else ", clipped at 0")


def forecast(history: pd.DataFrame, origin: pd.Timestamp, cfg: ForecastConfig, site: Site | None = None,
             future_temperature: pd.Series | None = None) -> pd.DataFrame:
    """Forecast the `horizon_hours` hours from `origin` for one territory.

    `history`: hourly rows (datetime_utc, consumption_kwh, production_kwh[, temperature_c]) before
    the origin. `future_temperature`: temperature indexed by UTC hour over the horizon, if known.
    Returns one row per variable and target hour with yhat, bounds and the model used.
    """
    site = site or Site()
    origin = pd.Timestamp(origin).tz_convert("UTC")
    start = origin - pd.Timedelta(days=cfg.history_days)
    before = history[history["datetime_utc"] < origin].sort_values("datetime_utc")
    hist = before[before["datetime_utc"] >= start]
    targets = pd.date_range(origin, periods=cfg.horizon_hours, freq="h")
    future = pd.DataFrame({"datetime_utc": targets})
    use_temperature = ("temperature_c" in hist and hist["temperature_c"].notna().mean() > 0.9
                       and future_temperature is not None
                       and future_temperature.reindex(targets).notna().all())
    if use_temperature:
        future["temperature_c"] = future_temperature.reindex(targets).to_numpy()
        hist = hist.assign(temperature_c=hist["temperature_c"].interpolate(limit_direction="both"))
    q = ((1 - cfg.interval_width) / 2, (1 + cfg.interval_width) / 2)
    rows = []
    draws = {}
    points = {}
    for variable in ("consumption_kwh", "production_kwh"):
        lagged = before.set_index("datetime_utc")[variable]
        point, samples, model = _fit_predict(hist, future, variable, cfg, site, use_temperature, lagged)
        draws[variable], points[variable] = samples, point
        rows.append(pd.DataFrame({"variable": variable, "target_utc": targets, "yhat": point,
                                  "yhat_lower": np.quantile(samples, q[0], axis=1),
                                  "yhat_upper": np.quantile(samples, q[1], axis=1), "model": model}))
    c, p = np.clip(draws["consumption_kwh"], 1e-9, None), draws["production_kwh"]
    rate_samples = 100 * np.minimum(p, c) / c
    c_point = np.clip(points["consumption_kwh"], 1e-9, None)
    rows.append(pd.DataFrame({
        "variable": "self_production_rate_pct", "target_utc": targets,
        "yhat": 100 * np.minimum(points["production_kwh"], c_point) / c_point,
        "yhat_lower": np.quantile(rate_samples, q[0], axis=1), "yhat_upper": np.quantile(rate_samples, q[1], axis=1),
        "model": "100 x min(P, C) / C from the two forecasts; interval from joint predictive samples"}))
    out = pd.concat(rows, ignore_index=True)
    out["issued_at_utc"] = origin
    out["horizon_h"] = ((out["target_utc"] - origin) / pd.Timedelta(hours=1)).astype("int64")
    out["interval_width"] = cfg.interval_width
    return out


# -- the challenger, and the choice between the two by the back-test ----------------------------------

CANDIDATES = ("prophet", "hgb")
HGB_DESCRIPTION = ("hgb(HistGradientBoosting of energy_pipelines.forecasting: lags known at the issue, "
                   "calendar, FR holidays)")


def _half_hourly(hourly_values: pd.Series, origin: pd.Timestamp, horizon_hours: int) -> pd.Series:
    """Hourly sums -> a regular UTC half-hour grid (each half-hour half its hour's sum) from the first
    hour to the end of the horizon; nothing from `origin` on (the package's features are half-hourly)."""
    half = hourly_values / 2
    halves = pd.concat([half, half.set_axis(half.index + pd.Timedelta(minutes=30))]).sort_index()
    grid = pd.date_range(hourly_values.index.min(), origin + pd.Timedelta(hours=horizon_hours), freq="30min",
                         inclusive="left")
    series = halves[~halves.index.duplicated(keep="last")].reindex(grid)
    series[series.index >= origin] = np.nan
    return series


def _hgb_point(hist: pd.DataFrame, origin: pd.Timestamp, variable: str, cfg: ForecastConfig) -> np.ndarray:
    """Hourly point forecast of one variable by the package's TabularModel, trained on one origin per
    day of the history at the issue's UTC hour (targets past the history are left out of training)."""
    from energy_pipelines.forecasting.features import DailyContext
    from energy_pipelines.forecasting.models import TabularModel, daily_origins

    values = hist.set_index("datetime_utc")[variable].astype(float)
    series = _half_hourly(values, origin, cfg.horizon_hours)
    # no temperature known over the horizon and no school calendar here: calendar and lags only
    days = pd.date_range(series.index.min().tz_convert(PARIS).tz_localize(None).normalize() - pd.Timedelta(days=1),
                         series.index.max().tz_convert(PARIS).tz_localize(None).normalize() + pd.Timedelta(days=1),
                         freq="D")
    context = DailyContext.build(pd.Series(np.nan, index=days), None)
    origins = daily_origins(series.index.min() + pd.Timedelta(days=8), origin, origin.hour)
    origins = origins[origins.isin(series.index)]
    if not len(origins):
        raise ValueError(f"{variable}: history before {origin} is shorter than 8 days: no training origin")
    steps = 2 * cfg.horizon_hours
    model = TabularModel(max_iter=150).fit(series, context, origins, steps)
    frame = model.predict(series, context, pd.DatetimeIndex([origin]), steps)
    point = frame["yhat"].to_numpy(dtype=float).reshape(-1, 2).sum(axis=1)
    return point if variable == "consumption_kwh" else np.clip(point, 0, None)


def forecast_hgb(history: pd.DataFrame, origin: pd.Timestamp, cfg: ForecastConfig) -> pd.DataFrame:
    """`forecast`'s frame from the challenger (no interval of its own: the issue's comes from the back-test)."""
    origin = pd.Timestamp(origin).tz_convert("UTC")
    before = history[history["datetime_utc"] < origin].sort_values("datetime_utc")
    hist = before[before["datetime_utc"] >= origin - pd.Timedelta(days=cfg.history_days)]
    targets = pd.date_range(origin, periods=cfg.horizon_hours, freq="h")
    points = {v: _hgb_point(hist, origin, v, cfg) for v in ("consumption_kwh", "production_kwh")}
    rows = [pd.DataFrame({"variable": v, "target_utc": targets, "yhat": p, "model": HGB_DESCRIPTION})
            for v, p in points.items()]
    out = pd.concat(rows, ignore_index=True)
    out["yhat_lower"], out["yhat_upper"] = np.nan, np.nan
    out = _with_rate_rows(out)
    out["issued_at_utc"] = origin
    out["horizon_h"] = ((out["target_utc"] - origin) / pd.Timedelta(hours=1)).astype("int64")
    out["interval_width"] = cfg.interval_width
    return out


RATE_MODEL = "100 x min(P, C) / C from the two forecasts"


def _with_rate_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace the self-production rate rows by 100 x min(P, C) / C of the point forecasts (no interval)."""
    frame = frame[frame["variable"] != "self_production_rate_pct"]
    c = frame[frame["variable"] == "consumption_kwh"].set_index("target_utc")["yhat"]
    p = frame[frame["variable"] == "production_kwh"].set_index("target_utc")["yhat"].reindex(c.index)
    c_pos = c.clip(lower=1e-9)
    rate = pd.DataFrame({"variable": "self_production_rate_pct", "target_utc": c.index,
                         "yhat": (100 * np.minimum(p, c_pos) / c_pos).to_numpy(), "yhat_lower": np.nan,
                         "yhat_upper": np.nan, "model": RATE_MODEL})
    # the issue's own columns (issue time, horizon, width) follow the consumption rows'
    shared = [k for k in ("issued_at_utc", "horizon_h", "interval_width") if k in frame]
    if shared:
        same = frame[frame["variable"] == "consumption_kwh"].set_index("target_utc")[shared]
        for k in shared:
            rate[k] = same[k].reindex(c.index).to_numpy()
    return pd.concat([frame, rate], ignore_index=True)


def choose_models(history: pd.DataFrame, backtests: dict[str, pd.DataFrame], level: float) -> dict:
    """Per variable, the candidate with the lowest RMSE on the back-test, and the conformal half-widths.

    `backtests`: candidate name -> `forecast`-shaped frame issued before `history`'s last week;
    `history`: hourly actuals covering those targets and the week before. Every candidate is scored
    by `forecasting.scores` on the same hours (where the truth and all candidates exist); a tie keeps
    prophet, the incumbent. The self-production rate follows: its back-test is the rate of the chosen
    consumption and production. Half-widths: split conformal quantile of the chosen model's absolute
    back-test errors per horizon band (`forecasting.models.conformal_quantile`).
    Returns {variable: {"model", "scores": {candidate: {...}}, "half_width": {band: q}}}.
    """
    from energy_pipelines.forecasting import scores as fs
    from energy_pipelines.forecasting.models import conformal_quantile

    actual = with_rate(history).set_index("datetime_utc").sort_index()
    actual = actual[~actual.index.duplicated(keep="last")]
    out, chosen_frames = {}, []
    for variable in ("consumption_kwh", "production_kwh"):
        series = actual[variable]
        per = {name: b[b["variable"] == variable].set_index("target_utc")["yhat"] for name, b in backtests.items()}
        targets = pd.DatetimeIndex(next(iter(per.values())).index)
        y = series.reindex(targets).to_numpy(dtype=float)
        naive = seasonal_naive(series, targets)
        ok = np.isfinite(y) & np.logical_and.reduce([np.isfinite(p.reindex(targets).to_numpy(float)) for p in per.values()])
        table = {}
        for name, p in per.items():
            yhat = p.reindex(targets).to_numpy(dtype=float)
            table[name] = {"n": int(ok.sum()), "rmse": fs.rmse(y[ok], yhat[ok]), "mae": fs.mae(y[ok], yhat[ok]),
                           "mape": fs.mape(y[ok], yhat[ok]),
                           "skill_vs_seasonal_naive": fs.skill(fs.rmse(y[ok], yhat[ok]), fs.rmse(y[ok], naive[ok]))}
        finite = {k: v["rmse"] for k, v in table.items() if np.isfinite(v["rmse"])}
        if not finite:
            raise ValueError(f"{variable}: no back-test hour where the truth and every candidate are known")
        best = min(finite, key=lambda k: (finite[k], k != "prophet"))
        out[variable] = {"model": best, "scores": table}
        chosen_frames.append(backtests[best][backtests[best]["variable"] == variable])
    chosen = _with_rate_rows(pd.concat(chosen_frames, ignore_index=True))
    out["self_production_rate_pct"] = {"model": RATE_MODEL, "scores": {}}
    for variable, info in out.items():
        b = chosen[chosen["variable"] == variable]
        targets = pd.DatetimeIndex(b["target_utc"])
        errors = np.abs(actual[variable].reindex(targets).to_numpy(float) - b["yhat"].to_numpy(float))
        hours = ((targets - targets.min()) / pd.Timedelta(hours=1)).to_numpy()
        bands = fs.horizon_band(hours)
        info["half_width"] = {name: conformal_quantile(errors[bands == name], level) for name, _, _ in fs.BANDS
                              if (bands == name).any()}
    return out


def chosen_backtest(backtests: dict[str, pd.DataFrame], choice: dict) -> pd.DataFrame:
    """The back-test of what is issued: each variable by its chosen model, the rate from those two.
    No interval: the conformal one is calibrated on these very errors, so its coverage here says nothing."""
    rows = [backtests[choice[v]["model"]].pipe(lambda f, v=v: f[f["variable"] == v])
            for v in ("consumption_kwh", "production_kwh")]
    out = _with_rate_rows(pd.concat(rows, ignore_index=True))
    out["yhat_lower"], out["yhat_upper"] = np.nan, np.nan
    return out


def model_by_target(choices: dict[str, dict]) -> dict:
    """Materialisation metadata: territory -> variable -> the chosen model, every candidate's back-test
    scores and the conformal half-widths per horizon band (floats to 4 decimals, NaN as None)."""
    def r(x):
        return round(float(x), 4) if x is not None and np.isfinite(x) else None
    return {territory: {variable: {"model": info["model"],
                                   "scores": {m: {k: (r(v) if isinstance(v, float) else v) for k, v in sc.items()}
                                              for m, sc in info["scores"].items()},
                                   "conformal_half_width": {b: r(q) for b, q in info["half_width"].items()}}
                        for variable, info in choice.items()}
            for territory, choice in choices.items()}


def issue_with_choice(history: pd.DataFrame, origin: pd.Timestamp, cfg: ForecastConfig, site: Site | None,
                      choice: dict) -> pd.DataFrame:
    """The issue at `origin` with the model `choose_models` picked per variable and its conformal interval."""
    from energy_pipelines.forecasting import scores as fs

    models = {choice[v]["model"] for v in ("consumption_kwh", "production_kwh")}
    made = {}
    if "prophet" in models:
        made["prophet"] = forecast(history, origin, cfg, site)
    if "hgb" in models:
        made["hgb"] = forecast_hgb(history, origin, cfg)
    rows = [made[choice[v]["model"]].pipe(lambda f, v=v: f[f["variable"] == v]) for v in ("consumption_kwh", "production_kwh")]
    out = _with_rate_rows(pd.concat(rows, ignore_index=True))
    out["issued_at_utc"] = pd.Timestamp(origin).tz_convert("UTC")
    out["horizon_h"] = ((out["target_utc"] - out["issued_at_utc"]) / pd.Timedelta(hours=1)).astype("int64")
    out["interval_width"] = cfg.interval_width
    bands = fs.horizon_band(out["horizon_h"].to_numpy(dtype=float))
    for variable in VARIABLES:
        rows = (out["variable"] == variable).to_numpy()
        info = choice[variable]
        half = pd.Series(bands[rows]).map(info["half_width"]).to_numpy(dtype=float)
        yhat = out.loc[rows, "yhat"].to_numpy(dtype=float)
        lower, upper = yhat - half, yhat + half
        if variable == "production_kwh":
            lower = np.clip(lower, 0, None)
        if variable == "self_production_rate_pct":
            lower, upper = np.clip(lower, 0, 100), np.clip(upper, 0, 100)
        out.loc[rows, "yhat_lower"], out.loc[rows, "yhat_upper"] = lower, upper
        rivals = ", ".join(f"{k} {v['rmse']:.4g}" for k, v in info["scores"].items())
        chosen_by = f"; chosen by the back-test of the week before (RMSE {rivals})" if rivals else ""
        out.loc[rows, "model"] = (out.loc[rows, "model"].astype(str) + chosen_by
                                  + "; interval: split conformal on the back-test errors per horizon band")
    return out


def with_rate(hourly_frame: pd.DataFrame) -> pd.DataFrame:
    out = hourly_frame.copy()
    c = out["consumption_kwh"].where(out["consumption_kwh"] > 0)
    out["self_production_rate_pct"] = 100 * np.minimum(out["production_kwh"], out["consumption_kwh"]) / c
    return out


def evaluate(history: pd.DataFrame, forecasts: pd.DataFrame, capacity_kw: float | None = None,
             history_days: int = 56) -> dict:
    """Scores of issued forecasts against what happened, per variable (pooled over issues).

    `history`: hourly actuals (datetime_utc, consumption_kwh, production_kwh) covering the targets
    and the week before them; MASE is scaled by the seasonal-naive MAE of each issue's training
    window (the `history_days` before it), averaged over issues.
    """
    actual = with_rate(history).set_index("datetime_utc").sort_index()
    out = {}
    for variable in VARIABLES:
        f = forecasts[forecasts["variable"] == variable]
        if f.empty:
            continue
        series = actual[variable]
        scales = []
        for issued in f["issued_at_utc"].unique():
            window = series[(series.index < issued) & (series.index >= issued - pd.Timedelta(days=history_days))]
            scales.append(insample_naive_mae(window))
        a = series.reindex(pd.DatetimeIndex(f["target_utc"])).to_numpy(dtype=float)
        naive = seasonal_naive(series, pd.DatetimeIndex(f["target_utc"]))
        cap = capacity_kw if variable == "production_kwh" else None
        out[variable] = scores(a, f["yhat"].to_numpy(dtype=float), naive, float(np.nanmean(scales)), cap)
        lower, upper = f["yhat_lower"].to_numpy(dtype=float), f["yhat_upper"].to_numpy(dtype=float)
        inside = (a >= lower) & (a <= upper)
        known = np.isfinite(a) & np.isfinite(lower) & np.isfinite(upper)  # a frame without interval: NaN
        out[variable]["interval_coverage"] = float(inside[known].mean()) if known.any() else float("nan")
        out[variable]["issues"] = int(f["issued_at_utc"].nunique())
    return out


def backtest(history: pd.DataFrame, origins: list[pd.Timestamp], cfg: ForecastConfig, site: Site | None = None,
             capacity_kw: float | None = None) -> tuple[dict, pd.DataFrame]:
    """Issue a forecast at each origin from the history before it, then score them all together."""
    issued = [forecast(history, origin, cfg, site) for origin in origins]
    frames = pd.concat(issued, ignore_index=True)
    return evaluate(history, frames, capacity_kw, cfg.history_days), frames


def territory_temperature(weather: pd.DataFrame, communes: dict[str, set[str]]) -> pd.DataFrame:
    """Hourly temperature of each territory: the mean of the stations in its communes, else of the
    stations of its départements (weather rows: datetime_utc, commune_code, departement_code,
    temperature_c, as raw_meteofrance__weather holds them)."""
    rows = []
    if weather.empty:
        return pd.DataFrame(columns=["territory_id", "datetime_utc", "temperature_c"])
    observed = weather.dropna(subset=["temperature_c"])
    for territory, codes in communes.items():
        inside = observed[observed["commune_code"].isin(codes)]
        if inside.empty:
            inside = observed[observed["departement_code"].isin({c[:2] for c in codes})]
        if inside.empty:
            continue
        mean = inside.groupby("datetime_utc")["temperature_c"].mean().reset_index()
        mean.insert(0, "territory_id", territory)
        rows.append(mean)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["territory_id", "datetime_utc", "temperature_c"])


# -- secrecy of the issued forecasts ------------------------------------------------------------------

FLOW_OF = {"consumption_kwh": ("consumption",), "production_kwh": ("production",),
           "self_production_rate_pct": ("consumption", "production")}


def mask_forecast(frame: pd.DataFrame, masks: pd.DataFrame, territory: str) -> pd.DataFrame:
    """Null the forecasts of a series whose training window holds a masked half-hour.

    `masks`: `secrecy.uc3.forecast_masks` (territory_id, flow, masked, mask_reason). A forecast is a
    function of its history (prophet fits it), so it is masked with any of its inputs; the rate
    needs both series. A territory absent from `masks` has no history: nothing to forecast from,
    so nothing is left unmasked by mistake (its rows are masked too).
    """
    out = frame.copy()
    out["masked"] = False
    out["mask_reason"] = None
    mine = masks[masks["territory_id"] == territory].set_index("flow") if len(masks) else pd.DataFrame()
    for variable, flows in FLOW_OF.items():
        reasons = []
        for flow in flows:
            if flow not in mine.index:
                reasons.append(f"{flow}: no secrecy decision for the training window")
            elif bool(mine.loc[flow, "masked"]):
                reasons.append(str(mine.loc[flow, "mask_reason"]))
        if reasons:
            rows = out["variable"] == variable
            out.loc[rows, ["yhat", "yhat_lower", "yhat_upper"]] = np.nan
            out.loc[rows, "masked"] = True
            out.loc[rows, "mask_reason"] = "; ".join(reasons)
    return out


def issue_id(issued_at: pd.Timestamp, run_id: str) -> str:
    """Identifies one issue: its time and the run that made it (a re-run adds an issue, never a duplicate key)."""
    return f"{pd.Timestamp(issued_at).tz_convert('UTC'):%Y-%m-%dT%H:%MZ}/{run_id[:8]}"
