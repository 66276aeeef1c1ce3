"""Regressors of a forecast: nothing from the origin on leaks in; climatology replaces the days ahead."""

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.forecasting.features import FEATURES, DailyContext, feature_frame
from energy_pipelines.forecasting.models import Forecaster, conformal_quantile

GRID = pd.date_range("2019-01-01", "2019-03-15", freq="30min", tz="UTC", inclusive="left")


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2018-01-01", "2019-03-31", freq="D")
    temperature = pd.Series(10 + 8 * np.sin(np.arange(len(days)) / 58) + rng.normal(0, 2, len(days)), index=days)
    school = pd.Series((days.month == 2).astype(float), index=days)
    t = temperature.reindex(GRID.tz_convert("Europe/Paris").tz_localize(None).normalize()).to_numpy()
    hh = np.asarray(GRID.hour * 2 + GRID.minute // 30)
    y = 50_000 + 8_000 * np.sin(2 * np.pi * hh / 48) - 1_500 * t + rng.normal(0, 500, len(GRID))
    return pd.Series(y, index=GRID), DailyContext.build(temperature, school)


def test_values_from_the_origin_on_do_not_change_the_regressors():
    series, context = _inputs()
    origins = pd.DatetimeIndex([pd.Timestamp("2019-02-20 10:00", tz="UTC")])
    before = feature_frame(series, context, origins, 336, temperature="climatology")
    tampered = series.copy()
    tampered[tampered.index >= origins[0]] *= 3
    after = feature_frame(tampered, context, origins, 336, temperature="climatology")
    pd.testing.assert_frame_equal(before[FEATURES], after[FEATURES])
    assert not np.allclose(before["y"], after["y"])  # the truth does change: the test could fail


def test_climatology_mode_replaces_the_temperature_of_the_days_ahead_only():
    series, context = _inputs()
    origin = pd.Timestamp("2019-02-20 10:00", tz="UTC")
    observed = feature_frame(series, context, pd.DatetimeIndex([origin]), 336)
    clim = feature_frame(series, context, pd.DatetimeIndex([origin]), 336, temperature="climatology",
                         climatology_until=origin)
    day = pd.DatetimeIndex(clim["target"]).tz_convert("Europe/Paris").tz_localize(None).normalize()
    same_day = day == pd.Timestamp("2019-02-20")
    # the day before the target (19 Feb) is observed in both for targets on 20 Feb
    assert np.allclose(clim.loc[same_day, "tmean_c_prev_day"], observed.loc[same_day, "tmean_c_prev_day"])
    assert not np.allclose(clim["tmean_c"], observed["tmean_c"])
    expected = context.days.loc[context.days.index < "2019-02-20", "tmean_c"]
    window = expected[(expected.index.dayofyear >= 51 - 7) & (expected.index.dayofyear <= 51 + 7)]
    assert clim.loc[same_day, "tmean_c"].iloc[0] == pytest.approx(window.groupby(window.index.dayofyear).mean().mean())


def test_public_holidays_and_school_calendar_reach_the_rows():
    series, context = _inputs()
    origin = pd.Timestamp("2019-02-25 10:00", tz="UTC")
    frame = feature_frame(series, context, pd.DatetimeIndex([origin]), 336)
    day = pd.DatetimeIndex(frame["target"]).tz_convert("Europe/Paris").tz_localize(None).normalize()
    assert frame.loc[day == "2019-02-27", "school_holiday_share"].eq(1).all()
    assert frame.loc[day == "2019-03-01", "school_holiday_share"].eq(0).all()
    easter = feature_frame(series, context, pd.DatetimeIndex([pd.Timestamp("2019-01-01 10:00", tz="UTC")]), 48)
    # from 10:00 UTC, 1 January lasts 26 half-hours until Paris midnight (23:00 UTC)
    assert easter["public_holiday"].iloc[:26].eq(1).all() and easter["public_holiday"].iloc[26] == 0


def test_forecaster_intervals_are_calibrated_on_the_history_only():
    series, context = _inputs()
    until = pd.Timestamp("2019-03-01", tz="UTC")
    forecaster = Forecaster(horizon_steps=96, calibration_days=21, history_days=59).fit(series, context, until)
    observed = forecaster.quantiles["observed"]
    assert set(observed) == {"0-24h", "24-48h", "d3-7"}
    assert np.isfinite(observed["0-24h"]) and np.isnan(observed["d3-7"])  # no 3-7 day lead in a 2-day horizon
    assert forecaster.quantiles["climatology"]["24-48h"] > observed["24-48h"]  # no weather forecast: wider
    out = forecaster.predict(series, context, pd.DatetimeIndex([until + pd.Timedelta(hours=10)]))
    assert (out["upper"] - out["lower"]).gt(0).all()
    hits = ((out["y"] >= out["lower"]) & (out["y"] <= out["upper"])).mean()
    assert hits > 0.5  # a synthetic series the model can learn: most points inside the 80 % band
    assert conformal_quantile(np.array([np.nan]), 0.8) != conformal_quantile(np.array([np.nan]), 0.8)  # NaN


def test_prophet_forecasts_of_overlapping_origins_stay_with_their_own_targets():
    """Prophet sorts its output by ds: forecasts of overlapping issues must not be shuffled."""
    from energy_pipelines.forecasting.models import ProphetModel

    series, context = _inputs()
    history = series[series.index < "2019-02-15"]
    first = pd.Timestamp("2019-02-15 10:00", tz="UTC")
    model = ProphetModel(history_days=40).fit(history, context, pd.DatetimeIndex([first - pd.Timedelta(days=3)]), 96)
    both = model.predict(series, context, pd.DatetimeIndex([first, first + pd.Timedelta(days=1)]), 96)
    alone = model.predict(series, context, pd.DatetimeIndex([first + pd.Timedelta(days=1)]), 96)
    second = both[both["origin"] == first + pd.Timedelta(days=1)]
    assert np.allclose(second["yhat"].to_numpy(), alone["yhat"].to_numpy())
    assert abs(np.corrcoef(second["yhat"], second["y"])[0, 1]) > 0.5  # and the forecast follows the truth
