"""UC3 charts: PNG bytes from the published tables, shown on the assets' materialisations.

Pure: tables and territory names in, PNG out; no Dagster, no store. Called by the transforms of
`transforms/uc3.py` (through their `Derived.charts`) and by the forecast asset.
"""

from __future__ import annotations

import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.reporting.charts import plt, to_png


def _small_multiples(territories: list[str], names: dict[str, str]):
    n = max(len(territories), 1)
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.9 * n), sharex=True, squeeze=False)
    return fig, [ax for row in axes for ax in row], names


def _panel(ax, title: str, unit: str) -> None:
    ax.set_title(title, fontsize=8)
    ax.set_ylabel(unit, fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def balance_chart(frame: pd.DataFrame, names: dict[str, str], title: str) -> bytes:
    """Per territory: consumption, production and self-consumed energy (daily means past 10 days)."""
    territories = sorted(frame["territory_id"].unique())
    fig, axes, _ = _small_multiples(territories, names)
    for ax, territory in zip(axes, territories, strict=False):
        data = frame[frame["territory_id"] == territory].set_index("datetime_utc").sort_index()
        data.index = data.index.tz_convert(PARIS)
        data = data[["consumption_kwh", "production_kwh", "self_consumed_kwh"]].astype(float)
        if (data.index.max() - data.index.min()) > pd.Timedelta(days=10):
            data = data.resample("1D").sum()
            unit = "kWh/day"
        else:
            data = data * 2
            unit = "kW"
        ax.plot(data.index, data["consumption_kwh"], lw=1, label="consumption")
        ax.plot(data.index, data["production_kwh"], lw=1, label="production")
        ax.fill_between(data.index, 0, data["self_consumed_kwh"], alpha=0.3, color="tab:green", label="self-consumed")
        _panel(ax, names.get(territory, territory), unit)
    axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.autofmt_xdate()
    return to_png(fig)


def rates_chart(frame: pd.DataFrame, names: dict[str, str], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for territory, data in frame.groupby("territory_id"):
        data = data.sort_values("period_start_utc")
        x = data["period_start_utc"].dt.tz_convert(PARIS)
        ax.plot(x, data["self_production_rate_pct"], lw=1, marker="." if len(data) < 60 else None,
                label=names.get(territory, territory))
    ax.set_ylabel("self-production rate (%)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return to_png(fig)


def forecast_chart(history: pd.DataFrame, issued: pd.DataFrame, names: dict[str, str], title: str) -> bytes:
    territories = sorted(issued["territory_id"].unique())
    fig, axes, _ = _small_multiples(territories, names)
    for ax, territory in zip(axes, territories, strict=False):
        past = history[history["territory_id"] == territory].sort_values("datetime_utc").tail(24 * 7)
        ahead = issued[issued["territory_id"] == territory]
        for variable, color in (("consumption_kwh", "tab:blue"), ("production_kwh", "tab:orange")):
            ax.plot(past["datetime_utc"].dt.tz_convert(PARIS), past[variable], lw=0.8, color=color)
            f = ahead[ahead["variable"] == variable].sort_values("target_utc")
            x = f["target_utc"].dt.tz_convert(PARIS)
            ax.plot(x, f["yhat"], lw=0.8, ls="--", color=color, label=f"{variable.split('_')[0]} forecast")
            ax.fill_between(x, f["yhat_lower"], f["yhat_upper"], alpha=0.2, color=color)
        _panel(ax, names.get(territory, territory), "kWh/h")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.autofmt_xdate()
    return to_png(fig)
