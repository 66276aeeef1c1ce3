"""Forecast scores, one definition for the whole platform. Pure functions on arrays and frames.

Point scores: MAPE (%), RMSE, MAE, MASE (MAE over the in-sample MAE of the seasonal naive
forecast on the training window). Skill = 1 - RMSE(model) / RMSE(reference): 0 is "as good as the
reference", 1 is perfect, negative is worse.

References (all known at the forecast origin, so a reference never peeks at the future):
- seasonal naive: the same half-hour one week before the target (t - 7 d);
- persistence: the same half-hour on the last day observed at the origin (t - k d with the
  smallest k for which t - k d < origin; k = 1 for targets within 24 h of the origin);
- the better naive of the two is chosen per horizon band, on the band's own RMSE;
- the provider's own forecast (RTE J-1) when the data carry one.

Horizon bands, by the start of the target half-hour after the origin: [0, 24 h), [24 h, 48 h),
days 3-7 [48 h, 168 h). A value is known at the origin when its half-hour starts before it.

Probabilities: Brier score, and Brier skill against **climatology**: the base rate of the event
at the same half-hour of the (Paris) day over the training window. A missing input gives a null
score (NaN), never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME

BANDS: tuple[tuple[str, float, float], ...] = (("0-24h", 0.0, 24.0), ("24-48h", 24.0, 48.0), ("d3-7", 48.0, 168.0))
DAY, WEEK = pd.Timedelta(days=1), pd.Timedelta(days=7)


def _valid(*arrays) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(a, dtype=float) for a in arrays)
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return tuple(a[ok] for a in arrays)


def rmse(y, yhat) -> float:
    y, yhat = _valid(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2))) if len(y) else float("nan")


def mae(y, yhat) -> float:
    y, yhat = _valid(y, yhat)
    return float(np.mean(np.abs(y - yhat))) if len(y) else float("nan")


def mape(y, yhat) -> float:
    """Mean absolute percentage error, in %; points where the truth is 0 are left out (undefined)."""
    y, yhat = _valid(y, yhat)
    nz = y != 0
    return float(100 * np.mean(np.abs((y[nz] - yhat[nz]) / y[nz]))) if nz.any() else float("nan")


def mase_scale(train: pd.Series, season: pd.Timedelta = WEEK) -> float:
    """In-sample MAE of the seasonal naive forecast on the training series (UTC-indexed)."""
    return mae(train.to_numpy(dtype=float), lagged(train, season).to_numpy(dtype=float))


def mase(y, yhat, scale: float) -> float:
    return mae(y, yhat) / scale if scale and np.isfinite(scale) and scale > 0 else float("nan")


def skill(score_model: float, score_reference: float) -> float:
    """1 - model / reference (NaN when the reference is missing or 0)."""
    if not (np.isfinite(score_model) and np.isfinite(score_reference)) or score_reference <= 0:
        return float("nan")
    return 1.0 - score_model / score_reference


def coverage(y, lower, upper) -> float:
    """Share of observations inside [lower, upper]."""
    y, lower, upper = _valid(y, lower, upper)
    return float(np.mean((y >= lower) & (y <= upper))) if len(y) else float("nan")


def lagged(series: pd.Series, lag: pd.Timedelta) -> pd.Series:
    """The value `lag` before each instant of the series' own index (NaN where absent)."""
    shifted = pd.Series(series.to_numpy(), index=series.index + lag, name=series.name)
    shifted = shifted[~shifted.index.duplicated(keep="last")]
    return shifted.reindex(series.index)


def naive_references(series: pd.Series, origins: pd.Series, targets: pd.Series) -> pd.DataFrame:
    """Seasonal naive and persistence values for (origin, target) pairs, from `series` (UTC index).

    Both are known at the origin: the seasonal naive is t - 7 d (t - 14 d if t - 7 d is after the
    origin), the persistence the same half-hour on the last day observed (module docstring).
    """
    origins, targets = pd.to_datetime(origins, utc=True), pd.to_datetime(targets, utc=True)
    ahead = (targets - origins).to_numpy()
    days_back = (ahead // np.timedelta64(1, "D")).astype(int) + 1
    weeks_back = (ahead // np.timedelta64(7, "D")).astype(int) + 1
    values = series[~series.index.duplicated(keep="last")]
    persistence = values.reindex(pd.DatetimeIndex(targets - pd.to_timedelta(days_back, unit="D")))
    seasonal = values.reindex(pd.DatetimeIndex(targets - pd.to_timedelta(7 * weeks_back, unit="D")))
    return pd.DataFrame({"seasonal_naive": seasonal.to_numpy(), "persistence": persistence.to_numpy()},
                        index=targets.index)


def horizon_band(hours: np.ndarray) -> np.ndarray:
    """The band label of each lead time (hours from the origin to the target's start); None outside 0-168 h."""
    hours = np.asarray(hours, dtype=float)
    out = np.full(len(hours), None, dtype=object)
    for name, lo, hi in BANDS:
        out[(hours >= lo) & (hours < hi)] = name
    return out


def score_table(frame: pd.DataFrame, *, mase_scale_value: float = float("nan"),
                provider: str | None = "provider") -> pd.DataFrame:
    """One row per horizon band (and 'all') from a backtest frame.

    `frame` columns: origin, target (UTC), y, yhat, and optionally lower/upper (the interval),
    seasonal_naive, persistence, and `provider` (the provider's own forecast).
    Columns out: n, mape, rmse, mae, mase, the references' RMSE and MAPE, best_naive (the name of
    the better naive in the band), skill_vs_best_naive, skill_vs_provider, mape_ratio_to_provider,
    coverage and mean interval width.
    """
    hours = (pd.to_datetime(frame["target"], utc=True) - pd.to_datetime(frame["origin"], utc=True)) / pd.Timedelta(hours=1)
    bands = horizon_band(hours.to_numpy())
    rows = []
    for name in [b[0] for b in BANDS] + ["all"]:
        part = frame[bands == name] if name != "all" else frame[pd.notna(bands)]
        rows.append({"band": name, **_band_scores(part, mase_scale_value, provider)})
    return pd.DataFrame(rows)


def _band_scores(part: pd.DataFrame, scale: float, provider: str | None) -> dict:
    y, yhat = part["y"].to_numpy(float), part["yhat"].to_numpy(float)
    out = {"n": int(np.isfinite(y).sum()), "mape": mape(y, yhat), "rmse": rmse(y, yhat), "mae": mae(y, yhat),
           "mase": mase(y, yhat, scale)}
    naive = {}
    for ref in ("seasonal_naive", "persistence"):
        if ref in part:
            # each reference is scored on the points where the model and it both exist
            yy, mm, rr = _valid(y, yhat, part[ref])
            out[f"rmse_{ref}"], out[f"mape_{ref}"] = rmse(yy, rr), mape(yy, rr)
            naive[ref] = (rmse(yy, mm), out[f"rmse_{ref}"])
    finite = {k: v for k, v in naive.items() if np.isfinite(v[1])}
    best = min(finite, key=lambda k: finite[k][1]) if finite else None
    out["best_naive"] = best
    out["skill_vs_best_naive"] = skill(*finite[best]) if best else float("nan")
    if provider and provider in part and part[provider].notna().any():
        yy, mm, pp = _valid(y, yhat, part[provider])
        out["rmse_provider"], out["mape_provider"] = rmse(yy, pp), mape(yy, pp)
        out["skill_vs_provider"] = skill(rmse(yy, mm), rmse(yy, pp))
        out["mape_ratio_to_provider"] = mape(yy, mm) / out["mape_provider"] if out["mape_provider"] else float("nan")
    else:
        out.update({"rmse_provider": float("nan"), "mape_provider": float("nan"),
                    "skill_vs_provider": float("nan"), "mape_ratio_to_provider": float("nan")})
    if {"lower", "upper"} <= set(part.columns):
        out["coverage"] = coverage(y, part["lower"], part["upper"])
        lo, hi = _valid(part["lower"], part["upper"])
        out["interval_width"] = float(np.mean(hi - lo)) if len(lo) else float("nan")
    return out


# -- probabilities --------------------------------------------------------------------------------

def brier_score(p, outcome) -> float:
    """Mean squared difference between the probability and the 0/1 outcome."""
    p, o = _valid(p, outcome)
    return float(np.mean((p - o) ** 2)) if len(p) else float("nan")


def half_hour_of_day(instants) -> np.ndarray:
    """0..47: the half-hour of the Paris day of each UTC instant (DST days keep their wall clock)."""
    local = pd.DatetimeIndex(pd.to_datetime(instants, utc=True)).tz_convert(PARIS_NAME)
    return np.asarray(local.hour * 2 + local.minute // 30)


def climatology(train_instants, train_outcomes, target_instants) -> np.ndarray:
    """The base rate of the event at each target's half-hour of the day, over the training window.

    A half-hour never observed in training gets the overall base rate; no training outcome at
    all gives NaN.
    """
    slot = half_hour_of_day(train_instants)
    o = np.asarray(train_outcomes, dtype=float)
    ok = np.isfinite(o)
    if not ok.any():
        return np.full(len(pd.DatetimeIndex(pd.to_datetime(target_instants, utc=True))), np.nan)
    rates = pd.Series(o[ok]).groupby(slot[ok]).mean()
    per_target = rates.reindex(half_hour_of_day(target_instants)).to_numpy(dtype=float)
    return np.where(np.isfinite(per_target), per_target, o[ok].mean())


def brier_skill(p, outcome, p_reference) -> dict:
    """Brier score of `p`, of the reference, and the skill 1 - BS / BS_ref, on the points all three exist."""
    p, o, r = _valid(p, outcome, p_reference)
    bs, bs_ref = brier_score(p, o), brier_score(r, o)
    return {"n": len(p), "brier": bs, "brier_reference": bs_ref, "brier_skill": skill(bs, bs_ref)}


def reliability(p, outcome, bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: per probability bin, the mean forecast, the observed frequency and n."""
    p, o = _valid(p, outcome)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": idx, "p": p, "o": o})
    out = frame.groupby("bin").agg(mean_forecast=("p", "mean"), observed=("o", "mean"), n=("o", "size"))
    return out.reindex(range(bins)).assign(bin_low=edges[:-1], bin_high=edges[1:]).reset_index(drop=True)
