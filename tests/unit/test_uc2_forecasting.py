"""Forecasting helpers (prophet + residual correction), and the real-data day-ahead evaluation."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.transforms import forecasting as F


def test_seasonal_naive_is_the_value_one_season_before():
    idx = pd.date_range("2025-01-01", periods=10, freq="1D", tz="UTC")
    s = pd.Series(np.arange(10.0), index=idx)
    ref = F.seasonal_naive(s, pd.Timedelta(days=7))
    assert ref.iloc[:7].isna().all() and ref.iloc[7:].tolist() == [0.0, 1.0, 2.0]


def test_skill_and_probabilities():
    y = np.array([1.0, 2.0, 3.0, np.nan])
    out = F.skill_score(y, np.array([1.0, 2.0, 4.0, 1.0]), np.array([2.0, 3.0, 5.0, 1.0]))
    assert out["n"] == 3 and out["skill"] == pytest.approx(1 - np.sqrt(1 / 3) / np.sqrt(6 / 3))
    p = F.prob_exceed(np.array([1.0, 1.0, 2.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0]), 1.0)
    assert p[0] == pytest.approx(0.5) and p[1] == 1.0 and p[2] == pytest.approx(0.8413, abs=1e-4) and p[3] == 0.0


def test_forecast_beats_seasonal_naive_on_a_daily_cycle_with_weather_regimes():
    """A ratio with a solar-like daily cycle and multi-day regimes: the AR correction must help."""
    idx = pd.date_range("2025-05-01", periods=48 * 16, freq="30min", tz="UTC")
    rng = np.random.default_rng(1)
    hours = idx.hour + idx.minute / 60
    regime = np.repeat(rng.normal(0, 0.25, 16 * 4), 12)[: len(idx)]  # 6-hour weather regimes
    ratio = np.clip(0.6 + 0.8 * np.exp(-((hours - 12) / 3) ** 2) + regime + rng.normal(0, 0.05, len(idx)), 0.05, None)
    series = pd.Series(ratio, index=idx)
    result = F.forecast(series, 96, transform="log1p", backtest_steps=96, threshold=1.0)
    m = result.metrics
    assert m["backtest_n"] == 96 and m["backtest_skill"] > 0.1, m
    assert 0 < m["phi"] < 1
    frame = result.frame
    assert len(frame) == 96 and frame["ds"].iloc[0] == idx[-1] + pd.Timedelta(minutes=30)
    assert frame["p_exceed"].between(0, 1).all() and (frame["sigma"] > 0).all()
    # P(ratio >= 1) is high at noon and low at night
    noon = frame[frame["ds"].dt.hour == 12]["p_exceed"].mean()
    night = frame[frame["ds"].dt.hour == 0]["p_exceed"].mean()
    assert noon > 0.5 > night
    # P(green) is scored against climatology: the base rate at the same half-hour over the training window
    train, test = series.iloc[:-96], series.iloc[-96:]
    slot = lambda t: (t.tz_convert("Europe/Paris").hour * 2 + t.tz_convert("Europe/Paris").minute // 30)  # noqa: E731
    rate = (train >= 1.0).groupby(np.asarray(slot(train.index))).mean()
    base = rate.reindex(np.asarray(slot(test.index))).to_numpy()
    expected = float(np.mean((base - (test.to_numpy() >= 1.0)) ** 2))
    assert m["backtest_brier_reference"] == pytest.approx(expected)
    assert m["backtest_brier_skill"] == pytest.approx(1 - m["backtest_brier"] / expected)


def test_reliability_diagram_of_p_green_pools_the_nodes_backtests_by_probability_bin():
    idx = pd.date_range("2025-05-01", periods=48 * 16, freq="30min", tz="UTC")
    rng = np.random.default_rng(4)
    hours = idx.hour + idx.minute / 60
    regime = np.repeat(rng.normal(0, 0.3, 16 * 4), 12)[: len(idx)]
    frames = []
    for shift in (0.0, 0.2):  # two grid nodes
        ratio = np.clip(0.5 + shift + 0.8 * np.exp(-((hours - 12) / 3) ** 2) + regime + rng.normal(0, 0.1, len(idx)),
                        0.05, None)
        result = F.forecast(pd.Series(ratio, index=idx), 96, transform="log1p", backtest_steps=96, threshold=1.0)
        back = result.backtest
        assert len(back) == 96 and back["p"].between(0, 1).all()
        # the back-test's outcomes and climatology are the truth and the base rate, not the forecast
        truth = ratio[-96:] >= 1.0
        assert np.array_equal(back["outcome"].to_numpy(), truth.astype(float))
        assert result.metrics["backtest_brier_reference"] == pytest.approx(
            float(np.mean((back["climatology"] - truth) ** 2)))
        frames.append(back)
    from energy_pipelines.transforms.uc2 import probability_scores

    out = probability_scores(frames)
    p = np.concatenate([f["p"] for f in frames])
    o = np.concatenate([f["outcome"] for f in frames])
    clim = np.concatenate([f["climatology"] for f in frames])
    table = out["reliability"]
    assert len(table) == 10 and sum(row["n"] for row in table) == len(p) == 192
    for row in table:  # each bin by hand: [low, high), the last one closed
        inside = (p >= row["bin_low"]) & ((p < row["bin_high"]) | (row["bin_high"] == 1.0))
        assert row["n"] == inside.sum()
        if inside.any():
            assert row["mean_forecast"] == pytest.approx(p[inside].mean(), abs=1e-4)
            assert row["observed"] == pytest.approx(o[inside].mean(), abs=1e-4)
        else:
            assert row["observed"] is None
    # the reported skill is against climatology (the base rate), pooled over the nodes
    bs, bs_clim = np.mean((p - o) ** 2), np.mean((clim - o) ** 2)
    assert out["pooled_backtest_brier_climatology"] == pytest.approx(bs_clim, abs=1e-4)
    assert out["pooled_backtest_brier_skill"] == pytest.approx(1 - bs / bs_clim, abs=1e-4)
    from energy_pipelines.reporting.uc2 import reliability_chart

    assert reliability_chart(table, "test")[:4] == b"\x89PNG"
    assert probability_scores([]) == {}


def test_short_history_forecasts_without_a_backtest():
    idx = pd.date_range("2025-05-01", periods=48 * 3, freq="30min", tz="UTC")
    series = pd.Series(1 + np.sin(np.arange(len(idx)) / 48 * 2 * np.pi), index=idx)
    result = F.forecast(series, 10, backtest_steps=96)
    assert "backtest_skill" not in result.metrics and len(result.frame) == 10


def load_national(realdata, years) -> pd.Series:
    """RTE national renewable share (wind + solar + hydro + bioenergy) / consumption, UTC half-hours."""
    parts = []
    for year in years:
        with zipfile.ZipFile(realdata / "rte_eco2mix_national" / f"eCO2mix_RTE_Annuel-Definitif_{year}.zip") as z:
            raw = z.read(z.namelist()[0])
        df = pd.read_csv(io.BytesIO(raw), sep="\t", encoding="latin-1", index_col=False)
        parts.append(df[df["Consommation"].notna() & df["Date"].astype(str).str.match(r"\d{4}-")])
    df = pd.concat(parts, ignore_index=True)
    label = df["Date"] + " " + df["Heures"]
    local = pd.to_datetime(label, format="%Y-%m-%d %H:%M")
    utc = local.dt.tz_localize("Europe/Paris", ambiguous=(~label.duplicated()).to_numpy(),
                               nonexistent="NaT").dt.tz_convert("UTC")
    share = 100 * (df["Eolien"] + df["Solaire"] + df["Hydraulique"] + df["Bioénergies"]) / df["Consommation"]
    s = pd.Series(share.to_numpy(), index=utc)
    return s[s.index.notna() & ~s.index.duplicated()].dropna()


@pytest.mark.realdata
def test_day_ahead_renewable_share_on_a_held_back_year(realdata):
    """Real RTE national data: fit on 2017-2018, forecast every day of 2019 the day before (issued
    12:00 UTC), against the seasonal naive (same half-hour 7 days before)."""
    series = load_national(realdata, (2017, 2018, 2019))
    assert len(series) > 3 * 17_000 and 5 < series.mean() < 50
    out = F.day_ahead_evaluation(series, pd.Timestamp("2019-01-01", tz="UTC"), pd.Timestamp("2020-01-01", tz="UTC"))
    print(f"\nRTE national renewable share, day-ahead over 2019 ({out['days']} days, {out['n']} half-hours): "
          f"RMSE {out['rmse_model']:.2f} pts vs seasonal naive {out['rmse_reference']:.2f} pts -> skill "
          f"{out['skill']:.3f} (prophet alone {out['prophet_only_skill']:.3f}); MAE {out['mae_model']:.2f} vs "
          f"{out['mae_reference']:.2f}; residual AR(1) phi {out['phi']:.3f}")
    assert out["days"] == 365 and out["n"] > 17_000
    assert np.isfinite(out["skill"]) and -1 < out["skill"] < 1
    assert out["skill"] > 0.1  # the model beats the weekly persistence it is scored against
    assert out["rmse_reference"] > 2  # the reference is not trivially perfect


def test_the_regional_share_is_forecast_for_the_expected_colour_or_said_missing():
    """The forecast's colour follows the signal's rule, so it needs the PACA share ahead: prophet on RTE's."""
    from energy_pipelines.simulate import paca_mix
    from energy_pipelines.transforms import green_signal

    slots = pd.date_range("2025-04-20", "2025-05-10", freq="30min", inclusive="left", tz="UTC")
    mix = paca_mix.mix(slots)
    rte = pd.DataFrame({"datetime_utc": slots, "green_share_pct": 100 * mix[["eolien", "solaire", "hydraulique",
                                                                          "bioenergies"]].sum(axis=1).to_numpy()
                        / mix["consommation"].to_numpy()})
    cutoff = pd.Timestamp("2025-05-10", tz="UTC")
    share, gap = green_signal.forecast_regional_share(rte, cutoff, 96, history_days=14)
    assert gap is None and len(share) == 96 and share.index[0] == cutoff and share.notna().all()
    # the share has a solar cycle: the forecast should be higher at noon than at night
    assert share.between(0, 400).all() and share.between_time("11:00", "13:00").mean() > share.between_time(
        "00:00", "03:00").mean()
    # one day of RTE figures is not enough: no forecast, and the reason
    share, gap = green_signal.forecast_regional_share(rte[rte["datetime_utc"] >= cutoff - pd.Timedelta(days=1)],
                                                      cutoff, 96)
    assert share.isna().all() and "less than 2 days" in gap
