"""The platform's forecast scores: definitions, references known at the origin, Brier vs climatology."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.forecasting import scores
from energy_pipelines.forecasting.models import conformal_quantile


def test_point_scores_on_known_values():
    y, yhat = np.array([100.0, 200.0, 0.0, np.nan]), np.array([110.0, 180.0, 5.0, 1.0])
    assert scores.mape(y, yhat) == pytest.approx(100 * (0.1 + 0.1) / 2)  # the zero truth is left out
    assert scores.rmse(y, yhat) == pytest.approx(np.sqrt((100 + 400 + 25) / 3))
    assert scores.mae(y, yhat) == pytest.approx(35 / 3)
    assert np.isnan(scores.rmse([np.nan], [1.0]))  # nothing to score: null, not 0
    assert scores.skill(1.0, 2.0) == pytest.approx(0.5)
    assert np.isnan(scores.skill(1.0, 0.0))
    assert scores.coverage([1, 2, 3, 4], [0, 2.5, 0, 0], [2, 3, 3, 3]) == pytest.approx(0.5)


def test_mase_of_the_seasonal_naive_on_its_training_window_is_one():
    idx = pd.date_range("2019-01-01", periods=48 * 28, freq="30min", tz="UTC")
    train = pd.Series(np.random.default_rng(1).normal(50, 5, len(idx)), index=idx)
    naive = scores.lagged(train, scores.WEEK)
    scale = scores.mase_scale(train)
    assert scores.mase(train, naive, scale) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(lead_steps=st.integers(0, 7 * 48 - 1), origin_step=st.integers(8 * 48, 12 * 48))
def test_naive_references_are_known_at_the_origin(lead_steps, origin_step):
    idx = pd.date_range("2019-03-20", periods=48 * 40, freq="30min", tz="UTC")
    series = pd.Series(np.arange(len(idx), dtype=float), index=idx)  # value = position: the lag is readable
    origin = idx[origin_step]
    target = origin + pd.Timedelta(minutes=30) * lead_steps
    refs = scores.naive_references(series, pd.Series([origin]), pd.Series([target]))
    target_pos = origin_step + lead_steps
    persistence_pos, seasonal_pos = refs["persistence"].iat[0], refs["seasonal_naive"].iat[0]
    assert persistence_pos < origin_step and seasonal_pos < origin_step  # a half-hour starting before the origin
    assert (target_pos - persistence_pos) % 48 == 0 and target_pos - persistence_pos <= 7 * 48
    assert target_pos - seasonal_pos == 7 * 48  # within 7 days the seasonal naive is t - 7 d
    if lead_steps < 48:
        assert target_pos - persistence_pos == 48  # within 24 h, persistence is t - 1 d


def test_horizon_bands_by_start_of_target():
    bands = scores.horizon_band(np.array([0, 23.5, 24, 47.5, 48, 167.5, 168]))
    assert list(bands) == ["0-24h", "0-24h", "24-48h", "24-48h", "d3-7", "d3-7", None]


def test_score_table_picks_the_better_naive_and_scores_the_provider():
    origin = pd.Timestamp("2019-01-10 10:00", tz="UTC")
    targets = origin + pd.to_timedelta(np.arange(96) * 30, unit="min")
    y = np.full(96, 100.0)
    frame = pd.DataFrame({"origin": origin, "target": targets, "y": y, "yhat": y + 2, "seasonal_naive": y + 8,
                          "persistence": y + 4, "provider": y + 1, "lower": y - 1, "upper": y + 3})
    table = scores.score_table(frame).set_index("band")
    assert table.loc["0-24h", "best_naive"] == "persistence"
    assert table.loc["0-24h", "skill_vs_best_naive"] == pytest.approx(0.5)
    assert table.loc["0-24h", "mape_ratio_to_provider"] == pytest.approx(2.0)
    assert table.loc["0-24h", "coverage"] == pytest.approx(1.0)
    assert table.loc["d3-7", "n"] == 0 and np.isnan(table.loc["d3-7", "rmse"])


# -- Brier and climatology ---------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=5 * 48, max_size=5 * 48))
def test_brier_reference_is_the_base_rate_at_the_same_half_hour(outcomes):
    times = pd.date_range("2019-06-01", periods=len(outcomes), freq="30min", tz="UTC")
    o = np.array(outcomes, dtype=float)
    target = pd.date_range("2019-07-01", periods=48, freq="30min", tz="UTC")
    p_ref = scores.climatology(times, o, target)
    slot = scores.half_hour_of_day(times)
    for k, t in enumerate(target):
        expected = o[slot == scores.half_hour_of_day([t])[0]].mean()
        assert p_ref[k] == pytest.approx(expected)
    # on its own training window, the base rate is the best constant per half-hour for the Brier score
    in_sample = scores.climatology(times, o, times)
    for c in (0.0, 0.25, 0.5, 1.0):
        assert scores.brier_score(in_sample, o) <= scores.brier_score(np.full(len(o), c), o) + 1e-12


def test_brier_skill_is_zero_for_climatology_and_one_for_a_perfect_forecast():
    times = pd.date_range("2019-06-01", periods=10 * 48, freq="30min", tz="UTC")
    o = (np.random.default_rng(3).random(len(times)) < 0.3).astype(float)
    ref = scores.climatology(times, o, times)
    assert scores.brier_skill(ref, o, ref)["brier_skill"] == pytest.approx(0.0)
    assert scores.brier_skill(o, o, ref)["brier_skill"] == pytest.approx(1.0)
    assert np.isnan(scores.climatology(times, np.full(len(times), np.nan), times)).all()


@pytest.mark.parametrize("day, n_half_hours", [("2019-03-31", 46), ("2019-10-27", 50)])
def test_half_hour_of_day_follows_the_paris_wall_clock_on_dst_days(day, n_half_hours):
    start = pd.Timestamp(day, tz="Europe/Paris").tz_convert("UTC")
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize("Europe/Paris").tz_convert("UTC")
    instants = pd.date_range(start, end, freq="30min", tz="UTC", inclusive="left")
    assert len(instants) == n_half_hours
    slots = scores.half_hour_of_day(instants)
    assert slots[0] == 0 and slots[-1] == 47
    if n_half_hours == 46:
        assert 4 not in slots and 5 not in slots  # 02:00 and 02:30 do not exist
    else:
        assert list(slots).count(4) == 2 and list(slots).count(5) == 2  # 02:00 and 02:30 twice


def test_reliability_bins_count_every_forecast():
    p = np.array([0.05, 0.15, 0.15, 0.95])
    o = np.array([0, 1, 0, 1])
    table = scores.reliability(p, o, bins=10)
    assert table["n"].sum() == 4
    assert table.loc[1, "observed"] == pytest.approx(0.5) and table.loc[9, "observed"] == 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 400), st.integers(0, 10_000))
def test_conformal_quantile_covers_the_level_of_its_own_errors(n, seed):
    errors = np.abs(np.random.default_rng(seed).standard_t(3, n))
    q = conformal_quantile(errors, 0.8)
    assert np.mean(errors <= q) >= 0.8
    assert np.mean(errors < q) < 0.8 + 1 / n + 1e-9  # and is no wider than it needs to be
