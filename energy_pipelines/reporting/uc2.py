"""UC2 charts: PNG bytes from tables, shown on the assets' materialisations. No Dagster, no store."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.reporting.charts import plt, time_series, to_png


def signal_chart(per_slot: pd.DataFrame, start: datetime, end: datetime) -> bytes:
    """The hybrid signal over a window: charge points in green and in use, and the regional share."""
    return time_series(per_slot, "datetime_utc",
                       {"green_share": "charge points in green (%)", "in_use": "charge points in use (%)"},
                       title=f"Green charging signal, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
                       secondary={"regional": "PACA green share (%)"})


def usage_chart(signal: pd.DataFrame, start: datetime, end: datetime) -> bytes:
    """Occupancy and green signal by Paris hour of day."""
    hour = pd.DatetimeIndex(signal["datetime_utc"]).tz_convert(PARIS).hour
    prof = signal.assign(hour=hour).groupby("hour").agg(
        occupancy=("in_use", lambda u: 100 * u.mean()),
        green=("colour", lambda c: 100 * (c == "green").mean()),
        regional=("regional_green_share_pct", "mean"))
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(prof.index, prof["occupancy"], color="tab:blue", alpha=0.7, label="charge points in use (%)")
    ax.set_xlabel("hour (Paris)")
    ax.set_ylabel("in use (%)")
    ax2 = ax.twinx()
    ax2.plot(prof.index, prof["green"], color="tab:green", label="charge points in green (%)")
    ax2.plot(prof.index, prof["regional"], color="tab:olive", ls="--", label="PACA green share (%)")
    ax2.set_ylabel("%")
    ax.set_title(f"Usage and green signal by hour, {start:%Y-%m-%d} to {end:%Y-%m-%d}", fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    ax2.legend(loc="upper right", fontsize=7)
    return to_png(fig)


def busiest_stations_chart(shown: pd.DataFrame, month_start: datetime, k_min: int) -> bytes:
    """Occupancy of the busiest published stations of a month."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(shown["id_station_itinerance"], shown["occupancy_rate_pct"], color="tab:blue")
    ax.set_ylabel("occupancy (%)")
    ax.set_title(f"Busiest stations, {month_start:%Y-%m}: occupancy (k >= {k_min} users)", fontsize=10)
    ax.tick_params(axis="x", labelrotation=70, labelsize=6)
    return to_png(fig)


def seasonal_chart(data: pd.DataFrame) -> bytes:
    """The cold signal: how often stations' nodes are green, by season and local half-hour."""
    prof = data.groupby(["season", "slot_local"])["green_frequency_pct"].mean().unstack("season")
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for season in prof.columns:
        ax.plot(range(len(prof)), prof[season], label=season)
    ax.set_xticks(range(0, len(prof), 4), prof.index[::4], fontsize=7)
    ax.set_ylabel("half-hours in green (%)")
    ax.set_title("Cold signal: how often stations' nodes are green, by local half-hour", fontsize=10)
    ax.legend(fontsize=7)
    return to_png(fig)


def forecast_chart(data: pd.DataFrame) -> bytes:
    """P(green) of a few stations over the last issue's horizon."""
    last = data[data["issued_at_utc"] == data["issued_at_utc"].max()]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    stations = sorted(last["id_station_itinerance"].unique())
    for station in stations[:: max(1, last["id_station_itinerance"].nunique() // 5)][:5]:
        rows = last[last["id_station_itinerance"] == station]
        ax.plot(pd.DatetimeIndex(rows["target_utc"]).tz_convert(PARIS), rows["p_green"], label=station, lw=1)
    ax.set_ylabel("P(green)")
    ax.set_ylim(0, 1)
    ax.set_title(f"48 h forecast of P(green), issued {last['issued_at_utc'].iat[0]:%Y-%m-%d %H:%M} UTC", fontsize=10)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return to_png(fig)


def reliability_chart(reliability: list[dict], title: str) -> bytes:
    """Reliability diagram of P(green): observed frequency of green against the mean forecast per
    probability bin (on the diagonal when calibrated), and how many forecasts fell in each bin."""
    table = pd.DataFrame(reliability)
    shown = table[table["n"] > 0]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    ax.plot(shown["mean_forecast"], shown["observed"], marker="o", color="tab:green", label="P(green), back-test")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability (bin mean)")
    ax.set_ylabel("observed frequency of green")
    counts = ax.twinx()
    centres = (table["bin_low"] + table["bin_high"]) / 2
    counts.bar(centres, table["n"], width=(table["bin_high"] - table["bin_low"]) * 0.9, color="tab:blue", alpha=0.2)
    counts.set_ylabel("forecasts in the bin")
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    return to_png(fig)
