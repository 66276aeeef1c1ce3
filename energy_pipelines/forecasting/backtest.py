"""Rolling-origin backtest: the production path (`models.Forecaster`: same history length, same
horizon, conformal intervals calibrated on the history only) run at origins spread over a test range.

Every `refit_days` the forecaster is refitted on the `history_days` before the block (values from
the block on are never seen), then forecasts from each origin of the block (every `origin_every`
days at `origin_hour_utc`). Each forecast is scored against the truth, the two naive references and
the provider's own forecast (`provider` column of the series frame, e.g. RTE's J-1), with the
temperature of the days ahead taken as observed (a perfect forecast) and as climatology.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_pipelines.forecasting import scores
from energy_pipelines.forecasting.features import TEMPERATURE_MODES, DailyContext
from energy_pipelines.forecasting.models import Forecaster, daily_origins


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame  # one row per model, temperature mode, origin and target
    scores: pd.DataFrame  # one row per model, temperature mode and horizon band
    chosen_model: str | None  # the model with the lowest RMSE over all bands, observed temperature


def run_backtest(frame: pd.DataFrame, column: str, context: DailyContext, start: pd.Timestamp, end: pd.Timestamp,
                 *, models: tuple[str, ...] = ("hgb",), provider: str | None = None, origin_every: int = 5,
                 origin_hour_utc: int = 10, refit_days: int = 91, history_days: int = 3 * 365,
                 level: float = 0.8, temperature_modes: tuple[str, ...] = TEMPERATURE_MODES,
                 log=print) -> BacktestResult:
    if column not in frame:
        raise ValueError(f"series has no column {column!r} (has {list(frame.columns)})")
    series = frame[column].astype(float)
    start, end = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    if not (series.index[0] < start < series.index[-1]):
        raise ValueError(f"test start {start} is outside the series ({series.index[0]} .. {series.index[-1]})")
    origins = daily_origins(start, end, origin_hour_utc, origin_every)
    blocks = [(b, min(b + pd.Timedelta(days=refit_days), end)) for b in pd.date_range(start, end, freq=f"{refit_days}D",
                                                                                    inclusive="left")]
    parts = []
    for name in models:
        for block_start, block_end in blocks:
            at = origins[(origins >= block_start) & (origins < block_end)]
            if not len(at):
                continue
            forecaster = Forecaster(model_name=name, origin_hour_utc=origin_hour_utc, level=level,
                                    history_days=history_days).fit(series, context, until=block_start)
            log(f"{name}: fitted on the {history_days} days before {block_start:%Y-%m-%d}, "
                f"{len(at)} origins; conformal half-widths {({k: round(v) for k, v in forecaster.quantiles['observed'].items()})}")
            for mode in temperature_modes:
                out = forecaster.predict(series, context, at, temperature=mode, climatology_until=block_start)
                parts.append(out.assign(model=name, temperature=mode))
    forecasts = pd.concat(parts, ignore_index=True)
    forecasts = forecasts[pd.DatetimeIndex(forecasts["target"]) < end]
    if provider and provider in frame:
        forecasts["provider"] = frame[provider].reindex(pd.DatetimeIndex(forecasts["target"])).to_numpy()
    scale = scores.mase_scale(series[series.index < start])
    tables = []
    for (name, mode), part in forecasts.groupby(["model", "temperature"], sort=False):
        table = scores.score_table(part, mase_scale_value=scale, provider="provider" if provider else None)
        tables.append(table.assign(model=name, temperature=mode))
    table = pd.concat(tables, ignore_index=True)
    first = ["model", "temperature", "band"]
    table = table[first + [c for c in table.columns if c not in first]]
    overall = table[(table["band"] == "all") & (table["temperature"] == temperature_modes[0])]
    chosen = overall.sort_values("rmse")["model"].iloc[0] if len(overall) else None
    return BacktestResult(forecasts=forecasts, scores=table, chosen_model=chosen)


def printed_table(table: pd.DataFrame) -> str:
    """The score table as the command prints it (MW figures rounded, ratios to 2 decimals)."""
    cols = ["model", "temperature", "band", "n", "mape", "rmse", "mase", "best_naive", "skill_vs_best_naive",
            "mape_provider", "mape_ratio_to_provider", "skill_vs_provider", "coverage", "interval_width"]
    shown = table[[c for c in cols if c in table]].copy()
    for c in ("rmse", "interval_width"):
        if c in shown:
            shown[c] = shown[c].round(0)
    for c in ("mape", "mape_provider"):
        if c in shown:
            shown[c] = shown[c].round(2)
    for c in ("mase", "skill_vs_best_naive", "mape_ratio_to_provider", "skill_vs_provider", "coverage"):
        if c in shown:
            shown[c] = shown[c].round(3)
    return shown.to_string(index=False)


def charts(result: BacktestResult, column: str, out_dir, provider: str | None = None) -> list:
    """Skill by band per model and temperature mode, and the first forecast week against the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from energy_pipelines.reporting.charts import to_png
    from energy_pipelines.storage.atomic import write_bytes_atomic

    paths = []
    table = result.scores[result.scores["band"] != "all"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    keys = list(table.groupby(["model", "temperature"], sort=False).groups)
    width = 0.8 / max(len(keys), 1)
    bands = list(dict.fromkeys(table["band"]))
    for i, key in enumerate(keys):
        part = table[(table["model"] == key[0]) & (table["temperature"] == key[1])].set_index("band").reindex(bands)
        ax.bar(np.arange(len(bands)) + i * width, part["skill_vs_best_naive"], width, label=f"{key[0]} ({key[1]} T)")
    ax.axhline(0.3, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(np.arange(len(bands)) + width * (len(keys) - 1) / 2, bands)
    ax.set_ylabel("skill vs better naive (RMSE)")
    ax.set_title(f"{column}: skill by horizon band")
    ax.legend(fontsize=7)
    paths.append(write_bytes_atomic(out_dir / "skill_by_band.png", to_png(fig)))

    f = result.forecasts
    chosen = f[(f["model"] == result.chosen_model) & (f["temperature"] == "observed")]
    if len(chosen):
        first = chosen[chosen["origin"] == chosen["origin"].min()]
        fig, ax = plt.subplots(figsize=(9, 3.5))
        t = pd.DatetimeIndex(first["target"])
        ax.fill_between(t, first["lower"], first["upper"], alpha=0.25, label="80 % interval")
        ax.plot(t, first["y"], color="black", linewidth=1, label="observed")
        ax.plot(t, first["yhat"], label=result.chosen_model)
        ax.plot(t, first["seasonal_naive"], linewidth=0.8, linestyle=":", label="t - 7 d")
        if provider and "provider" in first and first["provider"].notna().any():
            ax.plot(t, first["provider"], linewidth=0.8, label="provider J-1")
        ax.set_title(f"{column}: forecast from {first['origin'].iloc[0]:%Y-%m-%d %H:%M} UTC")
        ax.legend(fontsize=7)
        paths.append(write_bytes_atomic(out_dir / "first_forecast.png", to_png(fig)))
    return paths
