"""Derived assets from the catalogue: a dataset whose YAML has a `derive:` block needs no asset code.

The block names the inputs (with which of their rows a run reads) and one pure function
`module:function` in `energy_pipelines.transforms`; this factory builds the asset that loads the
inputs through the IO manager, calls the function, and stores what it returns:

    derive:
      transform: energy_pipelines.transforms.eco2mix:core_mix
      inputs:
        raw: raw_rte__eco2mix_regional                      # the run's own window
        stations: {dataset: raw_symenergie05__charging_stations, window: all}
        tx: {dataset: raw_spie__transaction_log, window: lookback, lookback: 30min}
        readings: {dataset: raw_spie__transaction_log, window: lookback, lookback: 7d, lookahead: 7d}
      params: uc2/settings.yaml                              # parsed by the `params` annotation
      cron: "20 0 * * *"                                     # runs on its own Paris clock

The function gets each input as a keyword argument (pandas, or Arrow with `arrow: true`), plus
`window`, `params`, `catalog` and `spec` (its own DatasetSpec) when it names them, and returns a
table or a `Derived`.
"""

import importlib
import inspect
import typing
from functools import lru_cache
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel

from energy_pipelines.assets.common import figures_metadata, scoped_metadata, window_of
from energy_pipelines.assets.factory import asset_kwargs
from energy_pipelines.catalog import Catalog, CatalogError, DatasetSpec, DerivedInput, load_model
from energy_pipelines.clock import PARIS_NAME, Window
from energy_pipelines.reporting.charts import chart_metadata
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.storage import TableWithRejects
from energy_pipelines.transforms.result import Derived

# Minutes per partition of each partitioning, to express a lookback in the downstream's units
# (Dagster's offsets count downstream partitions); months and years round up.
_GRAIN_MINUTES = {"half_hourly": 30, "daily": 1440, "monthly": 28 * 1440, "yearly": 365 * 1440}
CONTEXT_ARGUMENTS = ("window", "params", "catalog", "spec")


class TransformError(CatalogError):
    """A `derive:` block names a transform that cannot be used; the message names the file."""


def _where(spec: DatasetSpec, catalog: Catalog) -> str:
    return f"{catalog.directory / 'datasets' / (spec.id + '.yaml')}: field 'derive.transform'"


@lru_cache(maxsize=None)
def load_transform(path: str):
    module_name, _, function_name = path.partition(":")
    module = importlib.import_module(module_name)
    fn = getattr(module, function_name, None)
    if not callable(fn):
        raise AttributeError(f"{module_name} has no function {function_name!r}")
    return fn


def _mapping(inp: DerivedInput, spec: DatasetSpec, upstream: DatasetSpec) -> dg.PartitionMapping | None:
    if upstream.partitioning == "none":
        return None
    if inp.window == "all" or spec.partitioning == "none":
        return dg.AllPartitionMapping()
    grain = _GRAIN_MINUTES[spec.partitioning]
    # ceil: never read less than asked
    before, after = -(-inp.lookback_minutes // grain), -(-inp.lookahead_minutes // grain)
    return dg.TimeWindowPartitionMapping(start_offset=-before, end_offset=after,
                                         allow_nonexistent_upstream_partitions=True)


def _signature(spec: DatasetSpec, catalog: Catalog, fn) -> tuple[set[str], type[BaseModel] | None]:
    """The context arguments the function asks for, and the model of its `params`."""
    where = _where(spec, catalog)
    parameters = inspect.signature(fn).parameters
    missing = [name for name in spec.derive.inputs if name not in parameters]
    if missing:
        raise TransformError(f"{where}: {spec.derive.transform} takes no argument named {missing} (declared inputs)")
    required = [name for name, p in parameters.items()
                if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
                and name not in spec.derive.inputs and name not in CONTEXT_ARGUMENTS]
    if required:
        raise TransformError(f"{where}: {spec.derive.transform} needs {required}, which are neither declared "
                             f"inputs nor one of {CONTEXT_ARGUMENTS}")
    wanted = {name for name in CONTEXT_ARGUMENTS if name in parameters}
    model = None
    if "params" in wanted:
        model = typing.get_type_hints(fn).get("params")
        if not (inspect.isclass(model) and issubclass(model, BaseModel)):
            raise TransformError(f"{where}: the `params` argument of {spec.derive.transform} must be annotated "
                                 "with a pydantic model")
        if spec.derive.params is None:
            raise TransformError(f"{where}: {spec.derive.transform} takes `params`: declare `derive.params`")
    return wanted, model


def _as_result(value: Any) -> Derived:
    if isinstance(value, Derived):
        return value
    if isinstance(value, pa.Table | pd.DataFrame):
        return Derived(data=value)
    raise TypeError(f"a transform returns a DataFrame, an Arrow table or a Derived, not {type(value).__name__}")


def build_derived_asset(spec: DatasetSpec, settings: Settings, catalog: Catalog) -> dg.AssetsDefinition:
    derive = spec.derive
    assert derive is not None
    try:
        fn = load_transform(derive.transform)
    except (ImportError, AttributeError) as exc:
        raise TransformError(f"{_where(spec, catalog)}: {exc}") from None
    wanted, model = _signature(spec, catalog, fn)
    params = load_model(catalog.directory / derive.params, model) if model is not None else None
    ins = {}
    for name, inp in derive.inputs.items():
        if inp.dataset not in catalog:
            raise CatalogError(f"{catalog.directory / 'datasets' / (spec.id + '.yaml')}: field "
                               f"'derive.inputs.{name}': {inp.dataset!r} is not in the catalogue")
        ins[name] = dg.AssetIn(inp.dataset, partition_mapping=_mapping(inp, spec, catalog[inp.dataset]),
                               dagster_type=pa.Table if inp.arrow else pd.DataFrame)
    kwargs = asset_kwargs(spec, settings, catalog)
    if derive.cron:
        kwargs["automation_condition"] = dg.AutomationCondition.on_cron(derive.cron, PARIS_NAME)
    kwargs["metadata"] = {**kwargs["metadata"], "transform": derive.transform}

    @dg.asset(**kwargs, ins=ins)
    def _derived(context: dg.AssetExecutionContext, platform: Platform, **inputs) -> TableWithRejects:
        window = Window(*window_of(context))
        extra = {"window": window, "params": params, "catalog": catalog, "spec": spec}
        columns = {name: inp.columns for name, inp in derive.inputs.items() if inp.columns}
        for name, keep in columns.items():
            table = inputs[name]
            inputs[name] = table.select(list(keep)) if isinstance(table, pa.Table) else table[list(keep)]
        result = _as_result(fn(**inputs, **{k: v for k, v in extra.items() if k in wanted}))
        for warning in result.warnings:
            context.log.warning("%s: %s", spec.id, warning)
        metadata = figures_metadata(result.figures)
        for chart_name, png in result.charts.items():
            metadata[chart_name] = chart_metadata(platform.reports_dir, spec.id, chart_name, window, png)
        metadata = scoped_metadata(context, spec.time_column, result.data, result.rejects, metadata)
        return TableWithRejects(data=result.data, rejects=result.rejects, metadata=metadata)

    return _derived


def build_derived_assets(catalog: Catalog, settings: Settings) -> list[dg.AssetsDefinition]:
    return [build_derived_asset(spec, settings, catalog) for spec in catalog.datasets.values()
            if spec.derive is not None]
