"""Forecast models with one interface (`fit` on a history, `predict` at origins) and split
conformal intervals per horizon band, the path both the backtest and the forecast assets take.

- `TabularModel`: scikit-learn's HistGradientBoostingRegressor, one direct model for all lead times
  (the lead is a feature), on the regressors of `features` (lags known at the origin, calendar,
  public and school holidays, temperature). Trained on one origin per day of the history.
- `ProphetModel`: prophet with daily, weekly and yearly seasonality and the same calendar and
  temperature regressors (no lags: prophet has none), fitted on the half-hourly history.

Intervals (`Forecaster`): split conformal prediction. The model is fitted on the history minus its
last `calibration_days`, forecasts every `calibration_every` day of that window, and the absolute
errors of those out-of-sample forecasts give, per horizon band, the quantile
ceil((n + 1) * level) / n: yhat ± that quantile covers `level` of new observations when errors are
exchangeable. The model is then refitted on the whole history. The half-widths are computed for each
temperature input (observed as a perfect forecast, climatology): a forecast made without a weather
forecast errs more and gets wider intervals.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from energy_pipelines.forecasting.features import FEATURES, STEPS_PER_DAY, TEMPERATURE_MODES, DailyContext, feature_frame
from energy_pipelines.forecasting.scores import BANDS, horizon_band

for _name in ("prophet", "cmdstanpy"):
    logging.getLogger(_name).setLevel(logging.ERROR)

MODELS = ("hgb", "prophet")


def daily_origins(start: pd.Timestamp, end: pd.Timestamp, hour_utc: int, every_days: int = 1) -> pd.DatetimeIndex:
    """Origins at `hour_utc`:00 UTC every `every_days` days in [start, end)."""
    first = pd.Timestamp(start).tz_convert("UTC").normalize() + pd.Timedelta(hours=hour_utc)
    if first < start:
        first += pd.Timedelta(days=1)
    return pd.date_range(first, end, freq=f"{every_days}D", inclusive="left")


class TabularModel:
    name = "hgb"

    def __init__(self, *, max_iter: int = 250, learning_rate: float = 0.1, max_leaf_nodes: int = 63,
                 random_state: int = 0, lead_stride: int = 2, threads: int | None = 1):
        self.lead_stride = lead_stride
        # OpenMP threads of the boosting: on 2 cores shared with other jobs, 2 spinning threads made a
        # fit 9x slower than 1 (benchmarks/forecast_daily_issue.py: 246 s vs 28 s); None = all cores
        self.threads = threads
        self.params = dict(max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
                           l2_regularization=1.0, random_state=random_state)
        self.model = None

    def fit(self, series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex, horizon_steps: int):
        from sklearn.ensemble import HistGradientBoostingRegressor

        frame = feature_frame(series, context, origins, horizon_steps)
        # neighbouring lead times carry nearly the same information: every other one halves the cost
        frame = frame[frame["y"].notna() & (frame["lead_steps"] % self.lead_stride == 0)]
        if frame.empty:
            raise ValueError("no training row: the history has no observed value after its first week")
        # a regressor with no value in the history (the school calendar before 2017) cannot be learnt
        self.features = [f for f in FEATURES if frame[f].notna().any()]
        # the level moves over the years: learn the departure from the last day's mean, not the level
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            self.model = HistGradientBoostingRegressor(**self.params).fit(
                frame[self.features], frame["y"] - frame["last_day_mean"])
        return self

    def predict(self, series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex, horizon_steps: int,
                temperature: str = "observed", climatology_until: pd.Timestamp | None = None) -> pd.DataFrame:
        frame = feature_frame(series, context, origins, horizon_steps, temperature=temperature,
                              climatology_until=climatology_until)
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            frame["yhat"] = self.model.predict(frame[self.features]) + frame["last_day_mean"].to_numpy()
        return frame


class ProphetModel:
    name = "prophet"
    REGRESSORS = ["tmean_c", "heating_degrees", "cooling_degrees", "public_holiday", "school_holiday_share"]

    def __init__(self, *, history_days: int = 730):
        self.history_days = history_days
        self.model = None

    @staticmethod
    def _regressors(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({"ds": pd.DatetimeIndex(frame["target"]).tz_convert("UTC").tz_localize(None)})
        t = frame["tmean_c"].to_numpy(dtype=float)
        out["tmean_c"] = t
        out["heating_degrees"] = np.clip(15.0 - t, 0, None)
        out["cooling_degrees"] = np.clip(t - 20.0, 0, None)
        out["public_holiday"] = frame["public_holiday"].to_numpy()
        # unknown school calendar (before 2017-2018): no holiday effect rather than a guess
        out["school_holiday_share"] = frame["school_holiday_share"].fillna(0.0).to_numpy()
        return out

    def fit(self, series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex, horizon_steps: int):
        from prophet import Prophet

        end = origins.max() + pd.Timedelta(minutes=30) * horizon_steps
        history = series[(series.index < end) & (series.index >= end - pd.Timedelta(days=self.history_days))]
        frame = feature_frame(history, context, history.index[:1], len(history))
        data = self._regressors(frame).assign(y=frame["y"].to_numpy())
        data = data.dropna()
        self.model = Prophet(growth="flat", daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=True,
                             uncertainty_samples=0)
        for r in self.REGRESSORS:
            self.model.add_regressor(r)
        self.model.fit(data)
        return self

    def predict(self, series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex, horizon_steps: int,
                temperature: str = "observed", climatology_until: pd.Timestamp | None = None) -> pd.DataFrame:
        frame = feature_frame(series, context, origins, horizon_steps, temperature=temperature,
                              climatology_until=climatology_until)
        regressors = self._regressors(frame)
        ok = regressors[self.REGRESSORS].notna().all(axis=1).to_numpy()
        yhat = np.full(len(frame), np.nan)
        # prophet returns its rows sorted by ds: predict one origin (ascending targets) at a time
        for rows in frame.groupby("origin", sort=False).indices.values():
            rows = rows[ok[rows]]
            if len(rows):
                yhat[rows] = self.model.predict(regressors.iloc[rows])["yhat"].to_numpy()
        frame["yhat"] = yhat
        return frame


def make_model(name: str):
    if name == "hgb":
        return TabularModel()
    if name == "prophet":
        return ProphetModel()
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def conformal_quantile(abs_errors: np.ndarray, level: float) -> float:
    """The split-conformal quantile of absolute errors: the ceil((n+1) level)-th smallest."""
    e = np.sort(np.asarray(abs_errors, dtype=float)[np.isfinite(abs_errors)])
    if not len(e):
        return float("nan")
    k = math.ceil((len(e) + 1) * level)
    return float(e[min(k, len(e)) - 1])


@dataclass
class Forecaster:
    """A model with conformal intervals per horizon band, refitted on each history it is given."""

    model_name: str = "hgb"
    horizon_steps: int = 7 * STEPS_PER_DAY
    origin_hour_utc: int = 10
    level: float = 0.8
    calibration_days: int = 364
    calibration_every: int = 2
    train_every: int = 2  # days between training origins: every weekday still comes up, at half the cost
    history_days: int = 3 * 365
    quantiles: dict = field(default_factory=dict)
    model: object = None

    @property
    def minimum_history_days(self) -> int:
        """The calibration window plus four weeks of training before it."""
        return self.calibration_days + 28

    def fit(self, series: pd.Series, context: DailyContext, until: pd.Timestamp) -> "Forecaster":
        """Calibrate then fit on the `history_days` before `until` (values from `until` on are never read)."""
        if self.history_days < self.minimum_history_days:
            raise ValueError(f"history of {self.history_days} days: the intervals are calibrated on its last "
                             f"{self.calibration_days} days and the model trains on the 28 or more before them; "
                             f"give at least {self.minimum_history_days} days")
        start = until - pd.Timedelta(days=self.history_days)
        history = series[(series.index >= start) & (series.index < until)]
        if history.notna().sum() < 4 * 7 * STEPS_PER_DAY:
            raise ValueError(f"history before {until} has {int(history.notna().sum())} values: too short to fit")
        split = until - pd.Timedelta(days=self.calibration_days)
        first_origin = history.index[0] + pd.Timedelta(days=8)
        horizon = pd.Timedelta(minutes=30) * self.horizon_steps
        calib_model = make_model(self.model_name).fit(
            history[history.index < split], context,
            daily_origins(first_origin, split - horizon, self.origin_hour_utc, self.train_every), self.horizon_steps)
        calib_origins = daily_origins(split, until - horizon, self.origin_hour_utc, self.calibration_every)
        # one set of half-widths per temperature input: errors made without a weather forecast are larger
        self.quantiles = {}
        for mode in TEMPERATURE_MODES:
            calib = calib_model.predict(history, context, calib_origins, self.horizon_steps, temperature=mode,
                                        climatology_until=split)
            bands = horizon_band(calib["lead_steps"].to_numpy() / 2)
            errors = np.abs(calib["y"] - calib["yhat"]).to_numpy()
            self.quantiles[mode] = {name: conformal_quantile(errors[bands == name], self.level) for name, _, _ in BANDS}
        self.model = make_model(self.model_name).fit(
            history, context, daily_origins(first_origin, until - horizon, self.origin_hour_utc, self.train_every),
            self.horizon_steps)
        return self

    def predict(self, series: pd.Series, context: DailyContext, origins: pd.DatetimeIndex,
                temperature: str = "observed", climatology_until: pd.Timestamp | None = None) -> pd.DataFrame:
        """Forecast frame with yhat, lower and upper; only values before each origin are used."""
        frame = self.model.predict(series, context, origins, self.horizon_steps, temperature=temperature,
                                   climatology_until=climatology_until)
        half_width = pd.Series(horizon_band(frame["lead_steps"].to_numpy() / 2)).map(
            self.quantiles[temperature]).to_numpy(float)
        frame["lower"], frame["upper"] = frame["yhat"] - half_width, frame["yhat"] + half_width
        return frame
