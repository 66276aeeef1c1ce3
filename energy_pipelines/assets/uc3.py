"""UC3 territorial energy balance: the one asset that is more than a declared transform.

Every other UC3 dataset is declared in its YAML (`derive:`), made by a pure function of
`transforms/uc3.py` and built by `assets/derived.py`: territory communes, commune and territorial
energy, regional aggregates and balance, territorial balance, rates per resolution, PV what-if.
Charts are in `reporting/uc3.py`.

`out_uc3__forecasts` stays here: each issue reads weeks of history before it and the archive of
its own past issues (to score them) from the store, and names the issue after the run. Per
territory and variable it back-tests prophet and the forecasting package's HGB on the week before
the issue, issues the better one with conformal intervals (`tf.choose_models`) and records the
choice and both scores as `model_by_target`.
"""

from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd

from energy_pipelines.clock import UTC
from energy_pipelines.reporting import uc3 as uc3_charts
from energy_pipelines.assets.common import chart_for, window_of
from energy_pipelines.assets.factory import asset_kwargs
from energy_pipelines.catalog import Catalog
from energy_pipelines.resources import Platform
from energy_pipelines.secrecy import uc3 as secrecy_uc3
from energy_pipelines.settings import Settings
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.transforms import balance as bl
from energy_pipelines.transforms import territorial_forecast as tf
from energy_pipelines.transforms.uc3 import (
    backtest_scores, history_for_forecast, issue_times, names_of, rounded, rules_of, territories_of,
)

TERRITORIAL_ENERGY = "core_enedis__territorial_energy"
FORECASTS = "out_uc3__forecasts"
WEATHER = "raw_meteofrance__weather"


# The forecast reads its history (weeks before its day) from the store, not through the IO manager:
# it declares the dependency with AllPartitionMapping (lineage and staleness; Dagster skips
# per-partition data versions above 100 upstream partitions) and reads exactly what each issue needs.
HISTORY_DEP = dg.AssetDep(TERRITORIAL_ENERGY, partition_mapping=dg.AllPartitionMapping())


def output_window(context: dg.AssetExecutionContext):
    """The UTC window the IO manager will write: the run's range clipped to existing partitions
    (a range may name today's daily partition, which does not exist before the day ends)."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return window_of(context)
    start, end = window_of(context)
    last = context.assets_def.partitions_def.get_last_partition_window()
    if last is not None:
        end = min(end, last.end.astimezone(UTC))
    return start, max(start, end)


def empty(catalog: Catalog, dataset: str):
    """Nothing to write: an empty table of the dataset's schema (the IO manager still replaces the window)."""
    return catalog[dataset].table_schema.to_arrow().empty_table()


def build_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    territories = territories_of(catalog)
    names = names_of(catalog)
    sites = {t.id: tf.Site(t.centroid.lat, t.centroid.lon) for t in territories.values()}
    rules = rules_of(catalog)
    forecast_cfg = tf.ForecastConfig.from_yaml(catalog.directory / "uc3" / "forecast.yaml")
    communes = {t.id: set(t.codes) for t in territories.values()}
    return [_forecast_asset(catalog, settings, rules, forecast_cfg, names, sites, communes)]


def _forecast_asset(catalog: Catalog, settings: Settings, rules: secrecy_uc3.Uc3Secrecy,
                    cfg: tf.ForecastConfig, names: dict[str, str], sites: dict[str, tf.Site],
                    communes: dict[str, set[str]]) -> dg.AssetsDefinition:
    energy_schema = catalog[TERRITORIAL_ENERGY].table_schema.to_arrow()
    forecast_schema = catalog[FORECASTS].table_schema.to_arrow()
    # temperature: observations only, so it cannot drive an issue (its future is unknown); it
    # scores what a weather forecast would add (back-test with the observed temperature)
    weather = WEATHER if WEATHER in catalog else None
    deps = [HISTORY_DEP] + ([dg.AssetDep(WEATHER, partition_mapping=dg.AllPartitionMapping())] if weather else [])

    @dg.asset(**asset_kwargs(catalog[FORECASTS], settings, catalog), deps=deps)
    def out_uc3__forecasts(context: dg.AssetExecutionContext, platform: Platform) -> TableWithRejects:
        """One issue per Paris day of the partition window, at the day's end, from the history before it.

        The history (weeks before the partition) is read from the store, not through the IO
        manager: the forecast needs far more than its own day.
        """
        start, end = output_window(context)
        issues = issue_times(start, end)
        store = platform.store
        need = timedelta(days=cfg.history_days + 14)
        issued_frames, backtests, oracle, meta, chosen = [], [], [], {}, {}
        for issue in issues:
            window = (issue - need, issue)
            energy = store.read(TERRITORIAL_ENERGY, time_column="datetime_utc", window=window,
                                schema=energy_schema).to_pandas()
            if energy.empty:
                context.log.warning("no territorial energy before %s: nothing to forecast", issue)
                continue
            # a forecast is a function of its training window: masked when that series has a masked half-hour
            masks = secrecy_uc3.forecast_masks(energy, issue - timedelta(days=cfg.history_days), issue, rules)
            energy = energy[energy["category"] == bl.TOTAL]
            history = history_for_forecast(energy)
            temperature = _temperature(store, catalog, weather, window, communes)
            for territory, hist in history.groupby("territory_id"):
                span = hist["datetime_utc"].max() - hist["datetime_utc"].min()
                if span < pd.Timedelta(days=14):
                    context.log.warning("%s: %s of history before %s, at least 14 days needed", territory, span, issue)
                    continue
                site = sites.get(territory, tf.Site())
                choice = None
                if cfg.backtest and span >= pd.Timedelta(days=21):
                    # the week before the issue decides the model per variable and calibrates its interval
                    origin = issue - pd.Timedelta(hours=cfg.horizon_hours)
                    candidates = {"prophet": tf.forecast(hist, origin, cfg, site)}
                    try:
                        candidates["hgb"] = tf.forecast_hgb(hist, origin, cfg)
                    except ValueError as error:
                        context.log.warning("%s: no hgb challenger at %s: %s", territory, origin, error)
                    choice = tf.choose_models(hist, candidates, cfg.interval_width)
                    chosen[territory] = choice
                    back = tf.chosen_backtest(candidates, choice)
                    back["territory_id"] = territory
                    backtests.append((territory, hist, back))
                    temp = temperature.get(territory)
                    if temp is not None:
                        with_t = hist.assign(temperature_c=temp.reindex(pd.DatetimeIndex(hist["datetime_utc"])).to_numpy())
                        back_t = tf.forecast(with_t, origin, cfg, site, future_temperature=temp)
                        if "heating" in back_t["model"].iat[0]:
                            oracle.append((territory, hist, back_t[back_t["variable"] == "consumption_kwh"],
                                           candidates["prophet"]))
                frame = tf.issue_with_choice(hist, issue, cfg, site, choice) if choice else tf.forecast(hist, issue, cfg, site)
                frame["territory_id"] = territory
                frame = tf.mask_forecast(frame, masks, territory)
                frame["issue_id"] = tf.issue_id(issue, context.run_id)
                issued_frames.append(frame)
        if not issued_frames:
            context.log.warning("no forecast issued for %s: not enough history", [t.isoformat() for t in issues])
            return TableWithRejects(data=empty(catalog, FORECASTS), rejects=None, metadata={})
        out = pd.concat(issued_frames, ignore_index=True)
        out["territory_name"] = out["territory_id"].map(names).fillna(out["territory_id"])
        if backtests:
            meta.update(_backtest_metadata(backtests))
        if chosen:
            meta["model_by_target"] = dg.MetadataValue.json(tf.model_by_target(chosen))
        if oracle:
            scores = {t: tf.evaluate(h, b)["consumption_kwh"] for t, h, b, _ in oracle}
            meta["backtest_consumption_with_observed_temperature"] = dg.MetadataValue.json(rounded(scores))
            meta["skill_vs_seasonal_naive_consumption_kwh_with_observed_temperature"] = dg.MetadataValue.float(
                round(float(np.nanmean([s["skill_rmse"] for s in scores.values()])), 4))
            # the weather's share, like for like: the same prophet without the temperature
            without = {t: tf.evaluate(h, p[p["variable"] == "consumption_kwh"])["consumption_kwh"] for t, h, _, p in oracle}
            meta["skill_vs_seasonal_naive_consumption_kwh_prophet_without_temperature"] = dg.MetadataValue.float(
                round(float(np.nanmean([s["skill_rmse"] for s in without.values()])), 4))
        archived = _archived_scores(store, forecast_schema, energy_schema, issues[-1], cfg)
        if archived:
            meta["archived_forecast_scores"] = dg.MetadataValue.json(archived)
        meta["issues"] = dg.MetadataValue.json([t.isoformat() for t in issues])
        meta["temperature_regressor"] = dg.MetadataValue.text(
            "off for issues: no weather forecast over the horizon (raw_meteofrance__weather holds observations; "
            "using them would make past issues use the future). The back-test with the observed temperature "
            "shows what a forecast feed would add." if weather else "off: no weather dataset in the catalogue")
        last = out[out["issued_at_utc"] == out["issued_at_utc"].max()]
        png = uc3_charts.forecast_chart(history, last, names, f"Forecast issued {issues[-1]:%Y-%m-%d %H:%M} UTC, next 7 days")
        meta["chart"] = chart_for(context, platform, png, FORECASTS)
        return TableWithRejects(data=out, rejects=None, metadata=meta)

    return out_uc3__forecasts


def _temperature(store, catalog: Catalog, weather: str | None, window, communes) -> dict[str, pd.Series]:
    """Hourly temperature per territory over `window` from the weather observations, if any."""
    if weather is None:
        return {}
    frame = store.read(weather, time_column=catalog[weather].time_column, window=window,
                       schema=catalog[weather].table_schema.to_arrow(),
                       columns=["datetime_utc", "commune_code", "departement_code", "temperature_c"]).to_pandas()
    temps = tf.territory_temperature(frame, communes)
    return {t: g.set_index("datetime_utc")["temperature_c"] for t, g in temps.groupby("territory_id")}


def _backtest_metadata(backtests: list) -> dict:
    per_territory, summary = backtest_scores(backtests)
    meta = {"backtest_scores": dg.MetadataValue.json(rounded(per_territory)),
            "backtest_summary": dg.MetadataValue.json(rounded(summary))}
    for variable, values in summary.items():
        meta[f"skill_vs_seasonal_naive_{variable}"] = dg.MetadataValue.float(round(values["skill_rmse_mean"], 4))
        meta[f"mase_{variable}"] = dg.MetadataValue.float(round(values["mase_mean"], 4))
    return meta


def _archived_scores(store, forecast_schema, energy_schema, issue: pd.Timestamp, cfg: tf.ForecastConfig) -> dict:
    """Scores of past issues whose whole horizon has been observed by `issue` (the archive at work)."""
    horizon = pd.Timedelta(hours=cfg.horizon_hours)
    lo, hi = issue - horizon - pd.Timedelta(days=7), issue - horizon + pd.Timedelta(seconds=1)
    try:
        past = store.read(FORECASTS, time_column="issued_at_utc", window=(lo, hi), schema=forecast_schema).to_pandas()
    except FileNotFoundError:
        return {}
    past = past.dropna(subset=["yhat"]).drop_duplicates(["issued_at_utc", "territory_id", "variable", "target_utc"],
                                                       keep="last")
    if past.empty:
        return {}
    energy = store.read(TERRITORIAL_ENERGY, time_column="datetime_utc",
                        window=(lo - pd.Timedelta(days=cfg.history_days), issue), schema=energy_schema).to_pandas()
    history = history_for_forecast(energy[energy["category"] == bl.TOTAL])
    out = {}
    for territory, frames in past.groupby("territory_id"):
        out[territory] = rounded(tf.evaluate(history[history["territory_id"] == territory], frames,
                                              history_days=cfg.history_days))
    return out
