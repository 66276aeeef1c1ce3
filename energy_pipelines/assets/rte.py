"""RTE éCO2mix: the typed regional mix and its green share, from the raw landing rows."""


import dagster as dg
import pandas as pd

from energy_pipelines import charts
from energy_pipelines.assets.factory import asset_kwargs
from energy_pipelines.assets.common import chart_for, window_of
from energy_pipelines.catalog import Catalog
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.transforms.common import missing_half_hours
from energy_pipelines.transforms.eco2mix import clean_eco2mix

RAW = "raw_rte__eco2mix_regional"
CORE = "core_rte__eco2mix_regional"
OUT = "out_rte__eco2mix_regional"


def build_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    spec = catalog[CORE]
    regions = (str(catalog[RAW].source.live.get("region_code", "93")),)

    @dg.asset(**asset_kwargs(spec, settings, catalog), ins={"raw": dg.AssetIn(RAW)})
    def core_rte__eco2mix_regional(context: dg.AssetExecutionContext, platform: Platform,
                                   raw: pd.DataFrame) -> TableWithRejects:
        start, end = window_of(context)
        cleaned = clean_eco2mix(raw, regions=regions)
        data = cleaned.data
        missing = missing_half_hours(data["datetime_utc"], start, end) if len(data) or raw.empty else []
        if missing:
            context.log.warning("%s: %d half-hour(s) missing in [%s, %s), e.g. %s", CORE, len(missing),
                                start, end, [t.isoformat() for t in missing[:4]])
        figures = {
            "missing_half_hours": dg.MetadataValue.int(len(missing)),
            "missing_half_hours_sample": dg.MetadataValue.json([t.isoformat() for t in missing[:50]]),
            **{k: dg.MetadataValue.float(v) if isinstance(v, float) else dg.MetadataValue.int(v)
               for k, v in cleaned.figures.items() if v is not None},
        }
        if len(data) >= 48:
            png = charts.time_series(
                data, "datetime_utc", {"consommation_mw": "consumption (MW)", "solaire_mw": "solar (MW)",
                                       "hydraulique_mw": "hydro (MW)"},
                title=f"PACA mix, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (axis in Paris time)",
                secondary={"green_share_pct": "green share (%)"},
            )
            figures["chart"] = chart_for(context, platform, png, CORE)
        return TableWithRejects(data=data, rejects=cleaned.rejects, metadata=figures)

    out_spec = catalog[OUT]
    published_columns = list(out_spec.table_schema.columns)

    @dg.asset(**asset_kwargs(out_spec, settings, catalog), ins={"core": dg.AssetIn(CORE)})
    def out_rte__eco2mix_regional(core: pd.DataFrame) -> pd.DataFrame:
        """The public product: the core series without its provenance columns (kept in core)."""
        return core[published_columns]

    return [core_rte__eco2mix_regional, out_rte__eco2mix_regional]
