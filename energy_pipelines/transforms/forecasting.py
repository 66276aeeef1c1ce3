"""Generic forecasting helpers: prophet with a residual correction, the seasonal-naive reference,
skill scores and exceedance probabilities. No Dagster, no dataset names: shareable by any use case.

Method (`forecast`):
1. fit prophet on the history (regular UTC steps; optional log1p transform for positive ratios),
   daily and weekly seasonality, no yearly term unless the history covers a year, and a flat
   trend by default: shares and ratios have no trend worth extrapolating over days, and a linear
   trend fitted on the last changepoints drifts far off within months (seen on the RTE national
   series: a 2017-18 fit went below 0 % renewable share by autumn 2019);
2. correct the prophet forecast with the recent residual: the mean residual of the last
   `correction_window` steps before the origin, decayed as phi**h (phi = lag-1 autocorrelation of
   the in-sample residuals, h = steps ahead): weather regimes persist for hours, prophet's
   seasonal shape does not know about them;
3. the uncertainty `sigma` (on the fitted scale) is the RMSE of a backtest on the last
   `backtest_steps` of the history when one is run (out-of-sample, as honest as it gets), else the
   in-sample residual standard deviation, widened with the horizon as sqrt(1 - phi**(2h)) would
   say for an AR(1) residual (floored at the in-sample level).

`skill = 1 - RMSE(model) / RMSE(reference)`; the reference is the seasonal naive forecast
(the value one season earlier: 7 days for half-hourly charging signals, DOMAIN.md UC2).
P(y >= threshold) assumes Gaussian errors on the fitted scale; its Brier skill is measured against
climatology (`forecasting.scores`: the base rate at the same half-hour over the training window).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_pipelines.forecasting import scores

for _name in ("prophet", "cmdstanpy", "prophet.plot"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass
class ForecastResult:
    frame: pd.DataFrame  # ds (UTC), yhat, yhat_prophet, sigma, p_exceed (if threshold given)
    metrics: dict = field(default_factory=dict)
    # the back-test's probabilities (threshold given): ds, p (forecast), outcome (0/1, NaN unknown),
    # climatology (the base rate at the same half-hour over the training window); None without one
    backtest: pd.DataFrame | None = None


def _transform(y: np.ndarray, kind: str | None) -> np.ndarray:
    return np.log1p(np.clip(y, 0, None)) if kind == "log1p" else y


def _inverse(y: np.ndarray, kind: str | None) -> np.ndarray:
    return np.expm1(y) if kind == "log1p" else y


# one definition of the scores for the whole platform (forecasting.scores)
seasonal_naive = scores.lagged
rmse = scores.rmse


def skill_score(y: np.ndarray, yhat: np.ndarray, yref: np.ndarray) -> dict:
    """RMSE of the model and of the reference on the points where all three exist, and the skill."""
    y, yhat, yref = (np.asarray(v, float) for v in (y, yhat, yref))
    ok = ~(np.isnan(y) | np.isnan(yhat) | np.isnan(yref))
    r_model, r_ref = rmse(y[ok], yhat[ok]), rmse(y[ok], yref[ok])
    return {"n": int(ok.sum()), "rmse_model": r_model, "rmse_reference": r_ref, "skill": scores.skill(r_model, r_ref)}


def prob_exceed(yhat: np.ndarray, sigma: np.ndarray, threshold: float) -> np.ndarray:
    """P(Y >= threshold) for Y ~ N(yhat, sigma) (sigma 0 gives 0 or 1)."""
    yhat, sigma = np.asarray(yhat, float), np.asarray(sigma, float)
    z = (threshold - yhat) / np.where(sigma > 0, sigma, np.nan)
    p = 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2))
    return np.where(sigma > 0, p, (yhat >= threshold).astype(float))


def _fit(ds: pd.DatetimeIndex, y: np.ndarray, yearly: bool, changepoint_prior: float, growth: str = "flat"):
    from prophet import Prophet

    model = Prophet(growth=growth, daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=yearly,
                    changepoint_prior_scale=changepoint_prior, uncertainty_samples=0)
    frame = pd.DataFrame({"ds": ds.tz_convert("UTC").tz_localize(None), "y": y})
    model.fit(frame.dropna())
    return model


def _predict(model, ds: pd.DatetimeIndex) -> np.ndarray:
    return model.predict(pd.DataFrame({"ds": ds.tz_convert("UTC").tz_localize(None)}))["yhat"].to_numpy()


def _phi(residuals: np.ndarray) -> float:
    r = residuals[~np.isnan(residuals)]
    if len(r) < 3 or r.std() == 0:
        return 0.0
    return float(np.clip(np.corrcoef(r[:-1], r[1:])[0, 1], 0.0, 0.995))


def _one_origin(history: pd.Series, horizon: pd.DatetimeIndex, *, transform: str | None, correction_window: int,
                yearly: bool, changepoint_prior: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(yhat, yhat_prophet) on the fitted scale for `horizon`, phi, in-sample residual sd."""
    y = _transform(history.to_numpy(dtype=float), transform)
    model = _fit(history.index, y, yearly, changepoint_prior)
    fitted = _predict(model, history.index)
    resid = y - fitted
    phi = _phi(resid)
    recent = resid[-correction_window:]
    level = float(np.nanmean(recent)) if np.isfinite(recent).any() else 0.0
    base = _predict(model, horizon)
    steps = np.arange(1, len(horizon) + 1)
    return base + level * phi**steps, base, phi, float(np.nanstd(resid))


def forecast(history: pd.Series, horizon_steps: int, *, step: pd.Timedelta = pd.Timedelta(minutes=30),
             season: pd.Timedelta = pd.Timedelta(days=7), transform: str | None = None,
             backtest_steps: int = 0, threshold: float | None = None, correction_window: int = 6,
             changepoint_prior: float = 0.05) -> ForecastResult:
    """Forecast `horizon_steps` after the end of `history` (a UTC-indexed regular series)."""
    history = history.sort_index()
    history = history[~history.index.duplicated(keep="last")]
    full = pd.date_range(history.index[0], history.index[-1], freq=step)
    history = history.reindex(full)
    yearly = (history.index[-1] - history.index[0]) > pd.Timedelta(days=400)
    kwargs = dict(transform=transform, correction_window=correction_window, yearly=yearly,
                  changepoint_prior=changepoint_prior)
    metrics: dict = {"history_points": int(history.notna().sum())}
    backtest_sigma, backtest_probabilities = None, None
    # a backtest needs its seasonal-naive reference (one season before it) and two days to train on
    if backtest_steps and len(history) - backtest_steps >= max(int(season / step), 2 * int(pd.Timedelta(days=1) / step)):
        train, test = history.iloc[:-backtest_steps], history.iloc[-backtest_steps:]
        yhat_t, base_t, _, _ = _one_origin(train, test.index, **kwargs)
        truth = _transform(test.to_numpy(dtype=float), transform)
        ref = _transform(seasonal_naive(history, season).reindex(test.index).to_numpy(dtype=float), transform)
        on_scale = skill_score(truth, yhat_t, ref)
        metrics.update({f"backtest_{k}": v for k, v in on_scale.items()})
        natural = skill_score(test.to_numpy(dtype=float), _inverse(yhat_t, transform), _inverse(ref, transform))
        metrics.update({f"backtest_natural_{k}": v for k, v in natural.items()})
        metrics["backtest_prophet_only_skill"] = skill_score(truth, base_t, ref)["skill"]
        backtest_sigma = on_scale["rmse_model"]
        if threshold is not None:
            th = _transform(np.array([threshold], float), transform)[0]
            p = prob_exceed(yhat_t, np.full(len(yhat_t), backtest_sigma), th)
            hit = np.where(np.isnan(truth), np.nan, (truth >= th).astype(float))
            # the reference is climatology: the base rate at the same half-hour over the training window
            past = _transform(train.to_numpy(dtype=float), transform)
            base_rate = scores.climatology(train.index, np.where(np.isnan(past), np.nan, (past >= th).astype(float)),
                                           test.index)
            brier = scores.brier_skill(p, hit, base_rate)
            metrics.update({"backtest_brier": brier["brier"], "backtest_brier_reference": brier["brier_reference"],
                            "backtest_brier_reference_kind": "climatology (base rate per half-hour, training window)",
                            "backtest_brier_skill": brier["brier_skill"]})
            backtest_probabilities = pd.DataFrame({"ds": test.index, "p": p, "outcome": hit, "climatology": base_rate})
    horizon = pd.date_range(history.index[-1] + step, periods=horizon_steps, freq=step)
    yhat, base, phi, sd = _one_origin(history, horizon, **kwargs)
    h = np.arange(1, horizon_steps + 1)
    growth = np.sqrt(1 - phi ** (2 * h)) if phi > 0 else np.ones(horizon_steps)
    sigma = np.maximum(sd * growth, sd * 0.5)
    if backtest_sigma is not None and np.isfinite(backtest_sigma):
        sigma = np.maximum(sigma, backtest_sigma)
    metrics.update({"phi": phi, "insample_residual_sd": sd})
    frame = pd.DataFrame({"ds": horizon, "yhat": _inverse(yhat, transform),
                          "yhat_prophet": _inverse(base, transform), "sigma": sigma})
    if threshold is not None:
        th = _transform(np.array([threshold], float), transform)[0]
        frame["p_exceed"] = prob_exceed(yhat, sigma, th)
    return ForecastResult(frame=frame, metrics=metrics, backtest=backtest_probabilities)


def day_ahead_evaluation(series: pd.Series, train_end: pd.Timestamp, test_end: pd.Timestamp, *,
                         origin_hour_utc: int = 12, season: pd.Timedelta = pd.Timedelta(days=7),
                         transform: str | None = None, correction_window: int = 6,
                         changepoint_prior: float = 0.05) -> dict:
    """Day-ahead skill over [train_end, test_end): one prophet fit on the data before `train_end`,
    then for every day D the forecast issued at D-1 `origin_hour_utc`:00 UTC for D 00:00-24:00 UTC
    (prophet + the residual correction of the residuals known at the origin), against the seasonal
    naive value (one `season` earlier, known at the origin)."""
    series = series.sort_index()
    step = pd.Series(series.index).diff().median()
    full = pd.date_range(series.index[0], series.index[-1], freq=step)
    series = series[~series.index.duplicated()].reindex(full)
    train = series[series.index < train_end]
    y_all = _transform(series.to_numpy(dtype=float), transform)
    model = _fit(train.index, _transform(train.to_numpy(dtype=float), transform),
                 (train.index[-1] - train.index[0]) > pd.Timedelta(days=400), changepoint_prior)
    base = pd.Series(_predict(model, series.index), index=series.index)
    resid = pd.Series(y_all, index=series.index) - base
    phi = _phi(resid[series.index < train_end].to_numpy())
    ref = pd.Series(_transform(seasonal_naive(series, season).to_numpy(dtype=float), transform), index=series.index)
    days = pd.date_range(train_end.normalize(), test_end, freq="1D", inclusive="left")
    preds, truths, refs, bases = [], [], [], []
    for day in days:
        origin = day - pd.Timedelta(days=1) + pd.Timedelta(hours=origin_hour_utc)
        target = series.index[(series.index >= day) & (series.index < day + pd.Timedelta(days=1))]
        if not len(target):
            continue
        known = resid[(resid.index < origin)].iloc[-correction_window:]
        level = float(known.mean()) if known.notna().any() else 0.0
        h = np.asarray((target - origin) / step, dtype=float)
        preds.append(base[target].to_numpy() + level * phi**h)
        bases.append(base[target].to_numpy())
        truths.append(pd.Series(y_all, index=series.index)[target].to_numpy())
        refs.append(ref[target].to_numpy())
    y, yhat, yref, yb = (np.concatenate(v) for v in (truths, preds, refs, bases))
    out = skill_score(y, yhat, yref)
    out["prophet_only_skill"] = skill_score(y, yb, yref)["skill"]
    out["days"] = len(preds)
    out["phi"] = phi
    out["mae_model"] = float(np.nanmean(np.abs(y - yhat)))
    out["mae_reference"] = float(np.nanmean(np.abs(y - yref)))
    return out
