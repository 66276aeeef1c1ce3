"""UC3 territorial energy balance: Enedis commune extracts -> territories -> balance, rates, what-if,
forecasts; and the open regional balance from Enedis's open aggregates.

Pure computations live in `transforms.balance`, `secrecy.uc3` (every product's masks from one
system of tables) and `transforms.territorial_forecast`; territories in `assets_config/territories/`,
secrecy rules and product layouts in `assets_config/secrecy/`, scenarios in `assets_config/uc3/`.
Closed data stays in the core layer; every out_* product passes statistical secrecy (its catalogue
`step:` is what lifts its access).
"""

from datetime import timedelta, timezone

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from energy_pipelines.clock import PARIS
from energy_pipelines.reporting import charts
from energy_pipelines.assets.common import chart_for, window_of
from energy_pipelines.assets.factory import asset_kwargs
from energy_pipelines.catalog import Catalog
from energy_pipelines.resources import Platform
from energy_pipelines.secrecy import uc3 as secrecy_uc3
from energy_pipelines.settings import Settings
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.territories import Territory, load_territories, membership
from energy_pipelines.transforms import balance as bl
from energy_pipelines.transforms import territorial_forecast as tf
from energy_pipelines.transforms.common import REJECT_COLUMNS

import matplotlib.pyplot as plt  # noqa: E402  (after charts: the Agg backend is set there)

RAW_CONSUMPTION = "raw_enedis__commune_consumption"
RAW_PRODUCTION = "raw_enedis__commune_production"
RAW_OPEN = {"conso-inf36-region": "raw_enedis__conso_inf36_region",
            "conso-sup36-region": "raw_enedis__conso_sup36_region",
            "prod-region": "raw_enedis__prod_region"}
RAW_REFERENTIAL = "raw_insee__communes"
TERRITORY_COMMUNES = "core_insee__territory_communes"
COMMUNE_ENERGY = "core_enedis__commune_energy"
TERRITORIAL_ENERGY = "core_enedis__territorial_energy"
REGIONAL_AGGREGATES = "core_enedis__regional_aggregates"
BALANCE = "out_uc3__territorial_balance"
REGIONAL_BALANCE = "out_uc3__regional_balance"
RATES = {"hour": "out_uc3__rates_hourly", "day": "out_uc3__rates_daily", "month": "out_uc3__rates_monthly",
         "year": "out_uc3__rates_yearly"}
WHAT_IF = "out_uc3__pv_what_if"
FORECASTS = "out_uc3__forecasts"
WEATHER = "raw_meteofrance__weather"
LOCAL_FORMAT = {"hour": "%Y-%m-%d %H:%M%z", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def _figures(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, bool | np.bool_):
            out[key] = dg.MetadataValue.bool(bool(value))
        elif isinstance(value, int | np.integer):
            out[key] = dg.MetadataValue.int(int(value))
        elif isinstance(value, float | np.floating):
            out[key] = dg.MetadataValue.float(float(value)) if np.isfinite(value) else dg.MetadataValue.text("n/a")
        elif isinstance(value, str):
            out[key] = dg.MetadataValue.text(value)
        else:
            out[key] = dg.MetadataValue.json(value)
    return out


def _rejects(frame: pd.DataFrame | None) -> pd.DataFrame:
    return frame if frame is not None and len(frame) else pd.DataFrame(columns=REJECT_COLUMNS)


def _local(times: pd.Series, resolution: str = "halfhour") -> pd.Series:
    local = pd.to_datetime(times, utc=True).dt.tz_convert(PARIS)
    if resolution == "halfhour":
        return local.map(lambda t: t.isoformat())
    return local.dt.strftime(LOCAL_FORMAT[resolution])


# -- charts ---------------------------------------------------------------------------------------

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
    return charts.to_png(fig)


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
    return charts.to_png(fig)


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
    return charts.to_png(fig)


# -- pure helpers the assets share ------------------------------------------------------------------

def territory_communes(referential: pd.DataFrame, territories: dict[str, Territory]) -> tuple[pd.DataFrame, dict]:
    """Declared membership completed from the referential (latest millésime of each file kind)."""
    members = membership(territories)
    ref = referential.copy()
    if len(ref):
        ref["millesime"] = pd.to_numeric(ref["millesime"], errors="coerce").fillna(0)
        ref = ref.sort_values(["millesime", "source_file", "source_line"])
    cog = ref[(ref.get("file_kind") == "cog_communes") & (ref.get("commune_type") == "COM")] if len(ref) else ref
    epci = ref[ref.get("file_kind") == "epci_composition"] if len(ref) else ref
    cog = cog.drop_duplicates("commune_code", keep="last").set_index("commune_code") if len(cog) else None
    epci = epci.drop_duplicates("commune_code", keep="last").set_index("commune_code") if len(epci) else None
    codes = members["commune_code"]

    def pick(frame, column):
        if frame is None:
            return pd.Series([None] * len(codes), index=members.index, dtype=object)
        return pd.Series(frame[column].reindex(codes).to_numpy(), index=members.index)

    out = members[["territory_id", "territory_name", "territory_kind", "commune_code", "partial"]].copy()
    name = pick(cog, "commune_name").fillna(pick(epci, "commune_name"))
    out["commune_name"] = name.fillna(members["commune_name_declared"])
    out["departement_code"] = pick(cog, "departement_code").fillna(pick(epci, "departement_code")).fillna(
        codes.str[:2])
    out["epci_siren"] = pick(epci, "epci_siren")
    out["epci_name"] = pick(epci, "epci_name")
    out["population"] = pd.array(pd.to_numeric(pick(epci, "population"), errors="coerce"), dtype="Int64")
    out["in_referential"] = codes.isin(cog.index).to_numpy() if cog is not None else False
    unknown = sorted(out.loc[~out["in_referential"], "commune_code"].unique())
    figures = {
        "territories": int(out["territory_id"].nunique()), "communes": int(out["commune_code"].nunique()),
        "communes_not_in_referential": len(unknown), "communes_not_in_referential_sample": unknown[:20],
        "referential_loaded": cog is not None,
        "communes_per_territory": out.groupby("territory_id").size().to_dict(),
    }
    return out, figures


def history_for_forecast(energy: pd.DataFrame) -> pd.DataFrame:
    bal = bl.half_hour_balance(energy)
    return tf.hourly(bal)


# Dagster maps time windows only between partition definitions of one time zone: the Paris
# daily / monthly / yearly products cannot map onto the UTC half-hourly layer. They declare their
# dependency with AllPartitionMapping (lineage and staleness; Dagster skips per-partition data
# versions above 100 upstream partitions) and read exactly their own UTC window from the store.
PARIS_PERIOD_DEP = dg.AssetDep(TERRITORIAL_ENERGY, partition_mapping=dg.AllPartitionMapping())


def output_window(context: dg.AssetExecutionContext):
    """The UTC window the IO manager will write: the run's range clipped to existing partitions
    (a range may name today's daily partition, which does not exist before the day ends)."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return window_of(context)
    start, end = window_of(context)
    last = context.assets_def.partitions_def.get_last_partition_window()
    if last is not None:
        end = min(end, last.end.astimezone(timezone.utc))
    return start, max(start, end)


def empty(catalog: Catalog, dataset: str) -> pa.Table:
    """Nothing to write: an empty table of the dataset's schema (the IO manager still replaces the window)."""
    return catalog[dataset].table_schema.to_arrow().empty_table()


def read_energy(platform: Platform, catalog: Catalog, start, end) -> pd.DataFrame:
    """Territorial energy of [start, end) (UTC), straight from the store."""
    return platform.store.read(TERRITORIAL_ENERGY, time_column="datetime_utc", window=(start, end),
                               schema=catalog[TERRITORIAL_ENERGY].table_schema.to_arrow()).to_pandas()


# -- assets ------------------------------------------------------------------------------------------

def build_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    territories = load_territories(catalog.directory / "territories")
    names = {t.id: t.name for t in territories.values()}
    sites = {t.id: tf.Site(t.centroid.lat, t.centroid.lon) for t in territories.values()}
    rules = secrecy_uc3.Uc3Secrecy.load(catalog.directory / "secrecy")
    scenarios = bl.load_scenarios(catalog.directory / "uc3" / "what_if.yaml")
    forecast_cfg = tf.ForecastConfig.from_yaml(catalog.directory / "uc3" / "forecast.yaml")
    assets: list[dg.AssetsDefinition] = []

    @dg.asset(**asset_kwargs(catalog[TERRITORY_COMMUNES], settings, catalog),
              ins={"referential": dg.AssetIn(RAW_REFERENTIAL)})
    def core_insee__territory_communes(context: dg.AssetExecutionContext,
                                       referential: pd.DataFrame) -> TableWithRejects:
        out, figures = territory_communes(referential, territories)
        if figures["communes_not_in_referential"] and figures["referential_loaded"]:
            context.log.warning("%d declared commune code(s) are not communes of the referential: %s",
                                figures["communes_not_in_referential"], figures["communes_not_in_referential_sample"])
        return TableWithRejects(data=out, rejects=None, metadata=_figures(figures))

    assets.append(core_insee__territory_communes)

    @dg.asset(**asset_kwargs(catalog[COMMUNE_ENERGY], settings, catalog),
              ins={"consumption": dg.AssetIn(RAW_CONSUMPTION), "production": dg.AssetIn(RAW_PRODUCTION)})
    def core_enedis__commune_energy(context: dg.AssetExecutionContext, consumption: pa.Table,
                                    production: pa.Table) -> TableWithRejects:
        typed = bl.commune_energy(consumption, production)
        if typed.figures["unknown_labels"]:
            context.log.warning("unknown sector/filière labels rejected: %s", typed.figures["unknown_labels"])
        return TableWithRejects(data=typed.data, rejects=_rejects(typed.rejects), metadata=_figures(typed.figures))

    assets.append(core_enedis__commune_energy)

    @dg.asset(**asset_kwargs(catalog[TERRITORIAL_ENERGY], settings, catalog),
              ins={"energy": dg.AssetIn(COMMUNE_ENERGY), "members": dg.AssetIn(TERRITORY_COMMUNES)})
    def core_enedis__territorial_energy(context: dg.AssetExecutionContext, energy: pa.Table,
                                        members: pd.DataFrame) -> TableWithRejects:
        start, end = window_of(context)
        if members.empty:
            # the composition is configuration: the referential only checks and names it
            context.log.warning("%s is empty (not materialised?): using the declared territory composition",
                                TERRITORY_COMMUNES)
            members = membership(territories)
        out = bl.territorial_energy(energy, members)
        frame = out.select(["territory_id", "datetime_utc", "flow", "category", "communes_reporting",
                            "communes_expected"]).to_pandas()
        totals = frame[(frame["flow"] == bl.CONSUMPTION) & (frame["category"] == bl.TOTAL)]
        incomplete = totals[totals["communes_reporting"] < totals["communes_expected"]]
        expected = len(pd.date_range(start, end, freq="30min", inclusive="left")) if end.year < 2200 else None
        figures = {
            "territories": int(frame["territory_id"].nunique()),
            "half_hours_with_consumption": int(totals["datetime_utc"].nunique()),
            "incomplete_half_hours": int(len(incomplete)),
            "incomplete_by_territory": incomplete.groupby("territory_id").size().to_dict(),
        }
        if expected is not None:
            figures["half_hours_in_window"] = expected
        return TableWithRejects(data=out, rejects=None, metadata=_figures(figures))

    assets.append(core_enedis__territorial_energy)

    @dg.asset(**asset_kwargs(catalog[REGIONAL_AGGREGATES], settings, catalog),
              ins={key.replace("-", "_"): dg.AssetIn(asset) for key, asset in RAW_OPEN.items()})
    def core_enedis__regional_aggregates(context: dg.AssetExecutionContext, conso_inf36_region: pd.DataFrame,
                                         conso_sup36_region: pd.DataFrame,
                                         prod_region: pd.DataFrame) -> TableWithRejects:
        typed = bl.regional_aggregates({"conso-inf36-region": conso_inf36_region,
                                        "conso-sup36-region": conso_sup36_region, "prod-region": prod_region})
        return TableWithRejects(data=typed.data, rejects=_rejects(typed.rejects), metadata=_figures(typed.figures))

    assets.append(core_enedis__regional_aggregates)

    @dg.asset(**asset_kwargs(catalog[REGIONAL_BALANCE], settings, catalog),
              ins={"aggregates": dg.AssetIn(REGIONAL_AGGREGATES)})
    def out_uc3__regional_balance(context: dg.AssetExecutionContext, platform: Platform,
                                  aggregates: pd.DataFrame) -> TableWithRejects:
        out = bl.regional_balance(aggregates)
        if out.empty:
            return TableWithRejects(data=empty(catalog, REGIONAL_BALANCE), rejects=None, metadata={})
        figures = {"half_hours": len(out),
                   "approximate_half_hours": int(out["approximate"].sum()) if len(out) else 0}
        if len(out):
            sums = out[["consumption_kwh", "production_kwh", "self_consumed_kwh"]].sum()
            figures["self_consumption_rate_pct"] = float(100 * sums["self_consumed_kwh"] / sums["production_kwh"])
            figures["self_production_rate_pct"] = float(100 * sums["self_consumed_kwh"] / sums["consumption_kwh"])
        if len(out) >= 48:
            png = balance_chart(out.assign(territory_id=out["region_code"]), {"93": "PACA (Enedis open data)"},
                                "PACA distribution network: consumption, production, self-consumed")
            figures["chart"] = chart_for(context, platform, png, REGIONAL_BALANCE)
        return TableWithRejects(data=out, rejects=None,
                                metadata={k: v if isinstance(v, dg.MetadataValue) else _figures({k: v})[k]
                                          for k, v in figures.items()})

    assets.append(out_uc3__regional_balance)

    @dg.asset(**asset_kwargs(catalog[BALANCE], settings, catalog),
              ins={"energy": dg.AssetIn(TERRITORIAL_ENERGY)})
    def out_uc3__territorial_balance(context: dg.AssetExecutionContext, platform: Platform,
                                     energy: pd.DataFrame) -> TableWithRejects:
        start, end = window_of(context)
        if energy.empty:
            return TableWithRejects(data=empty(catalog, BALANCE), rejects=None, metadata={})
        out = secrecy_uc3.published_balance(energy, rules)
        meta: dict = {"secrecy_rules": dg.MetadataValue.json(rules.as_metadata())}
        if len(out):
            out.insert(1, "territory_name", out["territory_id"].map(names).fillna(out["territory_id"]))
            out.insert(3, "datetime_local", _local(out["datetime_utc"]))
            notes = out["secrecy_notes"].dropna().str.split("; ").explode()
            meta.update(_figures({
                "masked_figures": int(out["masked_cells"].sum()),
                "masked_figures_by_column": notes.str.split(":").str[0].value_counts().to_dict(),
                "incomplete_half_hours": int((~out["complete"]).sum()),
            }))
            if len(out) >= 48 * out["territory_id"].nunique():
                png = balance_chart(out, names, f"Territorial balance, {start:%Y-%m-%d} to {end:%Y-%m-%d} (Paris time)")
                meta["chart"] = chart_for(context, platform, png, BALANCE)
        return TableWithRejects(data=out, rejects=None, metadata=meta)

    assets.append(out_uc3__territorial_balance)

    for resolution, dataset in RATES.items():
        assets.append(_rates_asset(resolution, dataset, catalog, settings, rules, names))

    @dg.asset(**asset_kwargs(catalog[WHAT_IF], settings, catalog), deps=[PARIS_PERIOD_DEP])
    def out_uc3__pv_what_if(context: dg.AssetExecutionContext, platform: Platform) -> TableWithRejects:
        energy = read_energy(platform, catalog, *output_window(context))
        if energy.empty:
            return TableWithRejects(data=empty(catalog, WHAT_IF), rejects=None, metadata={})
        out = secrecy_uc3.published_what_if(energy, scenarios, rules, "year")
        out.insert(2, "territory_name", out["territory_id"].map(names).fillna(out["territory_id"]))
        out = out[[c for c in catalog[WHAT_IF].table_schema.columns if c in out]]
        table = out.pivot_table(index="territory_id", columns="scenario_id", values="self_production_rate_pct")
        return TableWithRejects(data=out, rejects=None, metadata=_figures({
            "scenarios": [s.id for s in scenarios],
            "self_production_rate_pct_by_scenario": table.round(2).to_dict(orient="index"),
        }))

    assets.append(out_uc3__pv_what_if)
    communes = {t.id: set(t.codes) for t in territories.values()}
    assets.append(_forecast_asset(catalog, settings, rules, forecast_cfg, names, sites, communes))
    return assets


def _rates_asset(resolution: str, dataset: str, catalog: Catalog, settings: Settings,
                 rules: secrecy_uc3.Uc3Secrecy, names: dict[str, str]) -> dg.AssetsDefinition:
    @dg.asset(**asset_kwargs(catalog[dataset], settings, catalog), deps=[PARIS_PERIOD_DEP])
    def _rates(context: dg.AssetExecutionContext, platform: Platform) -> TableWithRejects:
        start, end = output_window(context)
        energy = read_energy(platform, catalog, start, end)
        if energy.empty:
            context.log.warning("%s: no territorial energy in [%s, %s)", dataset, start, end)
            return TableWithRejects(data=empty(catalog, dataset), rejects=None, metadata={})
        rates = secrecy_uc3.published_rates(energy, resolution, rules)
        # a partial period at the window's edge would be mislabelled: keep periods inside the window
        out = rates[(rates["period_start_utc"] >= start) & (rates["period_end_utc"] <= end)].copy()
        out.insert(1, "territory_name", out["territory_id"].map(names).fillna(out["territory_id"]))
        out.insert(4, "period_local", _local(out["period_start_utc"], resolution))
        keep = [c for c in catalog[dataset].table_schema.columns if c in out]
        out = out[keep]
        sums = out.groupby("territory_id")[["consumption_kwh", "production_kwh", "self_consumed_kwh"]].sum(min_count=1)
        meta = _figures({
            "periods": int(out["period_start_utc"].nunique()),
            "masked_periods": int(out["masked"].sum()),
            "incomplete_periods": int((out["half_hours_complete"] < out["half_hours_expected"]).sum()),
            "self_production_rate_pct_over_window": (100 * sums["self_consumed_kwh"] / sums["consumption_kwh"])
            .round(2).to_dict(),
            "self_consumption_rate_pct_over_window": (100 * sums["self_consumed_kwh"] / sums["production_kwh"])
            .round(2).to_dict(),
        })
        if out["period_start_utc"].nunique() >= 3:
            png = rates_chart(out, names, f"Self-production rate per {resolution}, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
            meta["chart"] = chart_for(context, platform, png, dataset)
        return TableWithRejects(data=out, rejects=None, metadata=meta)

    _rates.__name__ = dataset
    return _rates


def _forecast_asset(catalog: Catalog, settings: Settings, rules: secrecy_uc3.Uc3Secrecy,
                    cfg: tf.ForecastConfig, names: dict[str, str], sites: dict[str, tf.Site],
                    communes: dict[str, set[str]]) -> dg.AssetsDefinition:
    energy_schema = catalog[TERRITORIAL_ENERGY].table_schema.to_arrow()
    forecast_schema = catalog[FORECASTS].table_schema.to_arrow()
    # temperature: observations only, so it cannot drive an issue (its future is unknown); it
    # scores what a weather forecast would add (back-test with the observed temperature)
    weather = WEATHER if WEATHER in catalog else None
    deps = [PARIS_PERIOD_DEP] + ([dg.AssetDep(WEATHER, partition_mapping=dg.AllPartitionMapping())] if weather else [])

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
        issued_frames, backtests, oracle, meta = [], [], [], {}
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
                frame = tf.forecast(hist, issue, cfg, site)
                frame["territory_id"] = territory
                frame = tf.mask_forecast(frame, masks, territory)
                frame["issue_id"] = tf.issue_id(issue, context.run_id)
                issued_frames.append(frame)
                if cfg.backtest and span >= pd.Timedelta(days=21):
                    origin = issue - pd.Timedelta(hours=cfg.horizon_hours)
                    back = tf.forecast(hist, origin, cfg, site)
                    back["territory_id"] = territory
                    backtests.append((territory, hist, back))
                    temp = temperature.get(territory)
                    if temp is not None:
                        with_t = hist.assign(temperature_c=temp.reindex(pd.DatetimeIndex(hist["datetime_utc"])).to_numpy())
                        back_t = tf.forecast(with_t, origin, cfg, site, future_temperature=temp)
                        if "heating" in back_t["model"].iat[0]:
                            oracle.append((territory, hist, back_t[back_t["variable"] == "consumption_kwh"]))
        if not issued_frames:
            context.log.warning("no forecast issued for %s: not enough history", [t.isoformat() for t in issues])
            return TableWithRejects(data=empty(catalog, FORECASTS), rejects=None, metadata={})
        out = pd.concat(issued_frames, ignore_index=True)
        out["territory_name"] = out["territory_id"].map(names).fillna(out["territory_id"])
        if backtests:
            meta.update(_backtest_metadata(backtests))
        if oracle:
            scores = {t: tf.evaluate(h, b)["consumption_kwh"] for t, h, b in oracle}
            meta["backtest_consumption_with_observed_temperature"] = dg.MetadataValue.json(_rounded(scores))
            meta["skill_vs_seasonal_naive_consumption_kwh_with_observed_temperature"] = dg.MetadataValue.float(
                round(float(np.nanmean([s["skill_rmse"] for s in scores.values()])), 4))
        archived = _archived_scores(store, forecast_schema, energy_schema, issues[-1], cfg)
        if archived:
            meta["archived_forecast_scores"] = dg.MetadataValue.json(archived)
        meta["issues"] = dg.MetadataValue.json([t.isoformat() for t in issues])
        meta["temperature_regressor"] = dg.MetadataValue.text(
            "off for issues: no weather forecast over the horizon (raw_meteofrance__weather holds observations; "
            "using them would make past issues use the future). The back-test with the observed temperature "
            "shows what a forecast feed would add." if weather else "off: no weather dataset in the catalogue")
        last = out[out["issued_at_utc"] == out["issued_at_utc"].max()]
        png = forecast_chart(history, last, names, f"Forecast issued {issues[-1]:%Y-%m-%d %H:%M} UTC, next 7 days")
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


def issue_times(start, end) -> list[pd.Timestamp]:
    """The end of each Paris day of [start, end) (a daily-partition window): when its forecast is issued."""
    days = pd.date_range(pd.Timestamp(start).tz_convert(PARIS), pd.Timestamp(end).tz_convert(PARIS),
                         freq="D", inclusive="right")
    return [d.tz_convert("UTC") for d in days]


def _backtest_metadata(backtests: list) -> dict:
    per_territory, pooled_frames, pooled_hist = {}, [], []
    for territory, hist, back in backtests:
        per_territory[territory] = tf.evaluate(hist, back)
        pooled_frames.append(back)
        pooled_hist.append(hist)
    summary = {}
    for variable in tf.VARIABLES:
        rows = [s[variable] for s in per_territory.values() if variable in s and s[variable].get("n")]
        if rows:
            summary[variable] = {
                "skill_rmse_mean": float(np.nanmean([r["skill_rmse"] for r in rows])),
                "mase_mean": float(np.nanmean([r["mase"] for r in rows])),
                "interval_coverage_mean": float(np.nanmean([r["interval_coverage"] for r in rows])),
            }
    meta = {"backtest_scores": dg.MetadataValue.json(_rounded(per_territory)),
            "backtest_summary": dg.MetadataValue.json(_rounded(summary))}
    for variable, values in summary.items():
        meta[f"skill_vs_seasonal_naive_{variable}"] = dg.MetadataValue.float(round(values["skill_rmse_mean"], 4))
        meta[f"mase_{variable}"] = dg.MetadataValue.float(round(values["mase_mean"], 4))
    return meta


def _rounded(obj):
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, 4) if np.isfinite(obj) else None
    return obj


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
        out[territory] = _rounded(tf.evaluate(history[history["territory_id"] == territory], frames,
                                              history_days=cfg.history_days))
    return out
