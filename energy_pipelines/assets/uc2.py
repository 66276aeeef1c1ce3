"""UC2 smart charging: the assets that are more than a declared transform.

Half-hourly, run as one job per half-hour by the landing sensor (automation/landing_sensor.py):
    anon_spie__charging_sessions, hybrid__green_charging_signal,
    hybrid__green_surplus_stations_in_use, out_uc2__green_signal, out_uc2__green_surplus_charging
Downstream, on their own clock (AutomationCondition.on_cron, evaluated by the `uc2_automation`
sensor): hybrid__charging_usage_daily and out_uc2__signal_forecast (daily, after midnight Paris),
out_uc2__charging_usage (monthly), hybrid__green_signal_seasonal_history (weekly).
Every partitioned asset accepts a range (single-run backfill) and works day by day inside it.

Declared in their YAML (`derive:`, functions in `transforms/uc2.py`, built by `assets/derived.py`):
hybrid__green_charging_signal, hybrid__green_surplus_stations_in_use, out_uc2__green_signal,
out_uc2__green_surplus_charging, hybrid__charging_usage_daily, out_uc2__charging_usage. Built here,
because they need what a pure function does not have: the sessions (the pseudonymisation key and
each source's live/sample mode, from the platform resource), the seasonal history (a window ending
at the latest stored half-hour) and the forecast (a history read per issue from the store, and the
issue time).
"""

from datetime import datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME, UTC, Window
from energy_pipelines.reporting import uc2 as uc2_charts
from energy_pipelines.reporting.charts import chart_metadata
from energy_pipelines.assets.common import chart_for, window_of
from energy_pipelines.assets.factory import asset_kwargs
from energy_pipelines.catalog import Catalog
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.transforms import anonymise as anon
from energy_pipelines.transforms import green_signal
from energy_pipelines.transforms import uc2 as uc2_transforms
from energy_pipelines.transforms.common import REJECT_COLUMNS
from energy_pipelines.transforms.uc2 import thresholds_of
from energy_pipelines.transforms.uc2_params import load_uc2_params

RAW_STATIONS = "raw_symenergie05__charging_stations"
RAW_TX = "raw_spie__transaction_log"
RAW_HISTORY = "raw_spie__transaction_history"
RAW_ENEDIS_HISTORY = "raw_enedis__green_signal_history"
CORE_RTE = "core_rte__eco2mix_regional"
SESSIONS = "anon_spie__charging_sessions"
SIGNAL = "hybrid__green_charging_signal"
SEASONAL = "hybrid__green_signal_seasonal_history"
FORECAST = "out_uc2__signal_forecast"

# the clock of the downstream assets (Paris time): after the day's last half-hour has arrived (the
# declared ones carry theirs in their YAML: `derive.cron`)
DAILY_CRON = "20 0 * * *"
WEEKLY_CRON = "0 3 * * 1"


def _figure(value) -> dg.MetadataValue:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return dg.MetadataValue.text("n/a")
    if isinstance(value, (bool, np.bool_)):
        return dg.MetadataValue.bool(bool(value))
    if isinstance(value, (int, np.integer)):
        return dg.MetadataValue.int(int(value))
    if isinstance(value, (float, np.floating)):
        return dg.MetadataValue.float(round(float(value), 4))
    return dg.MetadataValue.json(value) if isinstance(value, (dict, list)) else dg.MetadataValue.text(str(value))


def _empty_table(catalog: Catalog, dataset: str):
    """Nothing to write this time: an empty table of the dataset's schema (not a frame with no columns)."""
    return catalog[dataset].table_schema.to_arrow().empty_table()


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECT_COLUMNS)


def build_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    params = load_uc2_params(catalog.directory)
    lookback_days = params.anonymisation.lookback_days
    rules = anon.QualiChargeRules(**params.qualicharge.model_dump())
    fc = params.forecast.model_dump()
    seasonal_days = params.seasonal_history.days
    thresholds = thresholds_of(catalog)
    # every input carrying badge ids: one of them live makes the secret key required
    personal_sources = [catalog[RAW_TX].source, catalog[RAW_HISTORY].source]
    lookback = dg.TimeWindowPartitionMapping(start_offset=-lookback_days * 48, allow_nonexistent_upstream_partitions=True)

    # -- sessions ---------------------------------------------------------------------------

    @dg.asset(**asset_kwargs(catalog[SESSIONS], settings, catalog),
              ins={"tx": dg.AssetIn(RAW_TX, partition_mapping=lookback),
                   "history": dg.AssetIn(RAW_HISTORY, partition_mapping=lookback),
                   "stations": dg.AssetIn(RAW_STATIONS)})
    def anon_spie__charging_sessions(context: dg.AssetExecutionContext, platform: Platform, tx: pd.DataFrame,
                                     history: pd.DataFrame, stations: pd.DataFrame) -> TableWithRejects:
        start, end = window_of(context)
        modes = {src.id: platform.source_mode(src.id, src.mode) for src in personal_sources}
        try:
            p = anon.pseudonymiser_for(modes, platform.pseudonymisation_key())
        except anon.PseudonymisationKeyError as exc:
            raise dg.Failure(description=str(exc)) from None
        register = green_signal.latest_register(stations)
        log_sessions, log_refused = anon.sessions_from_log(tx)
        parts = [f for f in (log_sessions, anon.sessions_from_history(history)) if len(f)]
        sessions = pd.concat(parts, ignore_index=True) if parts else log_sessions
        for col in ("start_utc", "end_utc"):
            sessions[col] = pd.to_datetime(sessions[col], utc=True)
        kept, duplicates = anon.deduplicate(sessions)
        reason = anon.qualicharge_check(kept, register.set_index("id_pdc_itinerance")["puissance_nominale_kw"].to_dict(),
                                        rules)
        broken = kept[reason != ""].assign(reason=reason[reason != ""])
        valid = kept[reason == ""]
        in_window = (valid["end_utc"] >= start) & (valid["end_utc"] < end)
        data = anon.pseudonymise_sessions(valid[in_window], p, register)
        refused = [anon.pseudonymised_rejects(f, p, "end_utc") for f in (broken, duplicates) if len(f)]
        if len(log_refused):
            refused.append(anon.pseudonymised_rejects(log_refused, p, "datetime_utc"))
        rejects = pd.concat(refused, ignore_index=True) if refused else _empty_rejects()
        if len(rejects):
            rejects = rejects[(rejects["partition_start_utc"] >= start) & (rejects["partition_start_utc"] < end)]
        by_rule = rejects["reason"].value_counts().to_dict() if len(rejects) else {}
        context.log.info("%s: %d sessions kept, %d quarantined (pseudonymisation key id %s)", SESSIONS, len(data),
                         len(rejects), p.key_id)
        return TableWithRejects(data=data, rejects=rejects, metadata={
            "sessions": dg.MetadataValue.int(len(data)),
            "sessions_quarantined_by_rule": dg.MetadataValue.json(by_rule),
            "distinct_users": dg.MetadataValue.int(int(data["user_pseudonym"].nunique())),
            "pseudonymisation_key_id": dg.MetadataValue.text(p.key_id),
            "pseudonymisation_key_source": dg.MetadataValue.text(p.source),
            "lookback_days": dg.MetadataValue.int(lookback_days),
        })

    # -- history and forecast -----------------------------------------------------------------

    @dg.asset(**asset_kwargs(catalog[SEASONAL], settings, catalog), deps=[SIGNAL],
              automation_condition=dg.AutomationCondition.on_cron(WEEKLY_CRON, PARIS_NAME),
              ins={"enedis_history": dg.AssetIn(RAW_ENEDIS_HISTORY)})
    def hybrid__green_signal_seasonal_history(context: dg.AssetExecutionContext, platform: Platform,
                                              enedis_history: pd.DataFrame) -> TableWithRejects:
        store = platform.store
        span = store.stored_span(SIGNAL)  # the storage layout is the store's business
        if span is None:
            raise dg.Failure(description=f"{SIGNAL} has no data yet")
        last_day = span[1]
        window = (last_day - timedelta(days=seasonal_days), last_day)
        signal = store.read(SIGNAL, time_column="datetime_utc", window=window,
                            columns=["datetime_utc", "id_station_itinerance", "code_poste_source", "local_green_ratio",
                                     "regional_green_share_pct"]).to_pandas()
        signal = signal.drop_duplicates(["id_station_itinerance", "datetime_utc"])
        green_min = float(thresholds["green_local_ratio_min"].iloc[-1])
        data = green_signal.seasonal_history(signal, enedis_history, green_ratio_min=green_min)
        both = data.dropna(subset=["enedis_median_ratio", "median_local_green_ratio"])
        figures = {
            "period": dg.MetadataValue.text(f"{window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d}"),
            "stations": dg.MetadataValue.int(int(data["id_station_itinerance"].nunique())),
            "median_abs_gap_to_enedis_history": _figure(
                float((both["enedis_median_ratio"] - both["median_local_green_ratio"]).abs().median())
                if len(both) else None),
        }
        if len(data):
            figures["chart"] = chart_for(context, platform, uc2_charts.seasonal_chart(data), SEASONAL)
        return TableWithRejects(data=data, metadata=figures)

    @dg.asset(**asset_kwargs(catalog[FORECAST], settings, catalog), deps=[SIGNAL, CORE_RTE],
              automation_condition=dg.AutomationCondition.on_cron(DAILY_CRON, PARIS_NAME),
              ins={"stations": dg.AssetIn(RAW_STATIONS)})
    def out_uc2__signal_forecast(context: dg.AssetExecutionContext, platform: Platform,
                                 stations: pd.DataFrame) -> TableWithRejects:
        start, end = window_of(context)
        register = green_signal.latest_register(stations)
        station_info = register.drop_duplicates("id_station_itinerance")[["id_station_itinerance", "code_insee_commune"]]
        issues, figures = [], {}
        for day in Window(start, end).paris_days():
            cutoff = day.end
            frame, metrics = issue_forecast(platform, cutoff, station_info, thresholds, fc)
            if frame is not None:
                issues.append(frame)
            figures[f"skill_{day.label}"] = dg.MetadataValue.json(metrics)
        data = pd.concat(issues, ignore_index=True) if issues else _empty_table(catalog, FORECAST)
        if len(issues) == 1:  # a single issue: its figures at the top level
            last = next(iter(figures.values())).data
            for key in ("mean_backtest_skill", "mean_backtest_prophet_only_skill", "mean_backtest_brier_skill",
                        "pooled_backtest_brier_skill", "nodes", "nodes_without_backtest"):
                if key in last:
                    figures[key] = _figure(last[key])
        if len(data):
            figures["chart"] = chart_for(context, platform, uc2_charts.forecast_chart(data), FORECAST)
        # the reliability of P(green) on the back-test of the run's last issue that had one
        scored = [(label, m.data) for label, m in figures.items()
                  if label.startswith("skill_") and isinstance(getattr(m, "data", None), dict) and m.data.get("reliability")]
        if scored:
            label, last = scored[-1]
            png = uc2_charts.reliability_chart(last["reliability"], f"Reliability of P(green), back-test of the "
                                               f"issue of {label.removeprefix('skill_')} (Brier skill vs climatology "
                                               f"{last['pooled_backtest_brier_skill']})")
            figures["reliability_chart"] = chart_metadata(platform.reports_dir, FORECAST, "reliability",
                                                          Window(start, end), png)
        return TableWithRejects(data=data, metadata=figures)

    return [anon_spie__charging_sessions, hybrid__green_signal_seasonal_history, out_uc2__signal_forecast]


def issue_forecast(platform: Platform, cutoff: datetime, stations: pd.DataFrame, thresholds: pd.DataFrame,
                   fc: dict) -> tuple[pd.DataFrame | None, dict]:
    """One issue: the history of the last `history_days` before `cutoff` from the store, issued now."""
    history_start = cutoff - timedelta(days=int(fc["history_days"]))
    sig = platform.store.read(SIGNAL, time_column="datetime_utc", window=(history_start, cutoff),
                              columns=["datetime_utc", "id_station_itinerance", "code_poste_source",
                                       "local_green_ratio"]).to_pandas()
    try:
        rte = platform.store.read(CORE_RTE, time_column="datetime_utc", window=(history_start, cutoff),
                                  columns=["datetime_utc", "green_share_pct"]).to_pandas()
    except FileNotFoundError:  # no RTE figure stored for the period: the share is not forecast
        rte = pd.DataFrame({"datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
                            "green_share_pct": pd.Series(dtype=float)})
    return uc2_transforms.forecast_issue(sig, rte, cutoff=cutoff, stations=stations, thresholds=thresholds, fc=fc,
                                         issued=lambda: pd.Timestamp(datetime.now(UTC)))
