"""Raw assets, one per `raw_*` catalogue entry: fill the landing zone (sample or live), read it all.

No raw asset is written by hand: adding a raw dataset is one YAML and, for a new provider,
one adapter module in `energy_pipelines.sources`.
"""

import dagster as dg
import pandas as pd

from energy_pipelines.catalog import Catalog, CatalogError, DatasetSpec, SourceSpec
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.simulate import simulate
from energy_pipelines.sources.base import FetchContext, load_adapter
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.storage.atomic import remove_leftovers
from energy_pipelines.transforms.common import REJECT_COLUMNS

from energy_pipelines.assets.common import scoped_metadata, window_of
from energy_pipelines.assets.factory import asset_kwargs


def _landing_rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    if rejects.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    return pd.DataFrame({
        "partition_start_utc": pd.to_datetime(rejects["datetime_utc"], utc=True).dt.floor("30min"),
        "source_file": rejects["source_file"],
        "source_line": pd.array(rejects["source_line"], dtype="Int64"),
        "reason": rejects["reason"],
        "record": rejects["record"],
    })


def live_settings(source: SourceSpec, platform: Platform) -> dict:
    """The catalogue's live settings; `ENERGY_PIPELINES_SOURCES__<ID>__URL` points a source at a mirror."""
    live = dict(source.live)
    url = platform.source_url(source.id, live.get("base_url"))
    if url:
        live["base_url"] = url
    return live


def build_raw_asset(spec: DatasetSpec, settings: Settings, catalog: Catalog) -> dg.AssetsDefinition:
    assert spec.source is not None
    source = spec.source
    try:
        adapter = load_adapter(source.adapter)
    except ValueError as exc:
        raise CatalogError(f"{catalog.directory / 'datasets' / (spec.id + '.yaml')}: field 'source.adapter': {exc}") from None

    @dg.asset(**asset_kwargs(spec, settings, catalog), pool=f"landing_{source.id}")
    def _raw(context: dg.AssetExecutionContext, platform: Platform) -> TableWithRejects:
        start, end = window_of(context)
        landing = platform.landing(source.id)
        for leftover in remove_leftovers(landing.dir):  # half-written by a killed writer: never a delivery
            context.log.warning("removed %s, a temporary file a killed writer left behind", leftover.name)
        mode = platform.source_mode(source.id, source.mode)
        if mode == "sample":
            written = simulate(source.id, landing, start, end)
            context.log.info("sample: simulator wrote %d file(s) into %s", len(written), landing.dir)
        elif source.delivery == "api" and platform.offline:
            written = []
            context.log.info("live, offline: not fetching %s; ingesting landing/%s", source.id, source.id)
        elif source.delivery == "api":
            written = adapter.fetch(landing, start, end, FetchContext(live=live_settings(source, platform), log=context.log))
            context.log.info("live: fetched %d file(s) into %s", len(written), landing.dir)
        else:
            written = []
            context.log.info("live: %s delivers files into %s", spec.owner, landing.dir)
        read = landing.read_window(adapter, start, end, log=context.log)
        rows = read.rows
        if "delivered_utc" in rows and "delivered_utc" not in spec.table_schema.columns:
            rows = rows.drop(columns="delivered_utc")
        # raw keeps rows as received, twins included (a re-delivered file): counted, never silent
        received = [c for c in rows.columns if c not in ("source_file", "source_line", "delivered_utc")]
        duplicates = int(rows.duplicated(subset=received).sum()) if len(rows) and received else 0
        if duplicates:
            context.log.warning("%s: %d row(s) received twice (same values in another file or line)", spec.id,
                                duplicates)
        if rows.empty:
            context.log.warning("%s: no rows in landing/%s for [%s, %s)", spec.id, source.id, start, end)
            if rows.columns.empty:  # no file read at all: an empty table of the catalogue's schema
                rows = spec.table_schema.to_arrow().empty_table()
        figures = {
            "mode": dg.MetadataValue.text(mode),
            "files_delivered_this_run": dg.MetadataValue.int(len(written)),
            "files_read": dg.MetadataValue.int(len(read.files_read)),
            "duplicate_rows": dg.MetadataValue.int(duplicates),
            "files_skipped_outside_window": dg.MetadataValue.int(read.files_skipped),
            "bad_files": dg.MetadataValue.json(read.bad_files),
            "files_ignored": dg.MetadataValue.json(read.ignored),
            "files_misnamed": dg.MetadataValue.json(read.misnamed),
            **{k: dg.MetadataValue.int(v) for k, v in read.stats.items()},
        }
        rejects = _landing_rejects(read.rejects)
        figures = scoped_metadata(context, spec.time_column, rows, rejects, figures)
        return TableWithRejects(data=rows, rejects=rejects, metadata=figures)

    return _raw


def build_raw_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(spec, settings, catalog) for spec in catalog.raw_datasets]
