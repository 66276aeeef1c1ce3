"""The catalogue: `assets_config/` YAML files turned into typed, validated specs.

One YAML per dataset (`assets_config/datasets/<id>.yaml`) plus two registries
(`organisations.yaml`, `licences.yaml`). This is the single source of truth that drives
the raw assets, their Dagster metadata, the storage schema, the quality checks and the
publication. A malformed file fails at definitions load with the file and field named.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from energy_pipelines.settings import CATALOG_DIR

M = TypeVar("M", bound=BaseModel)

Layer = Literal["raw", "anon", "core", "hybrid", "out"]
Access = Literal["open", "restricted", "closed"]
Dtype = Literal["string", "int64", "float64", "bool", "timestamp", "date"]
Partitioning = Literal["half_hourly", "daily", "monthly", "yearly", "none"]

# Most restrictive last: the effective access of a derived dataset is the max of its inputs.
ACCESS_ORDER: dict[str, int] = {"open": 0, "restricted": 1, "closed": 2}

_ID_RE = re.compile(r"^(raw|anon|core|hybrid|out)(_[a-z0-9]+)*__[a-z0-9]+(_[a-z0-9]+)*$")
_COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


class CatalogError(ValueError):
    """A catalogue file is malformed; the message names the file and the field."""


class StrictModel(BaseModel):
    """The base of every settings model read by `load_model`: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Strict(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Column(_Strict):
    dtype: Dtype
    description: str
    unit: str | None = None
    nullable: bool = True
    minimum: float | None = None
    maximum: float | None = None
    allowed_values: tuple[Any, ...] | None = None
    pattern: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.dtype]


class Schema(_Strict):
    primary_key: tuple[str, ...]
    columns: dict[str, Column]

    @field_validator("columns")
    @classmethod
    def _snake_case(cls, columns: dict[str, Column]) -> dict[str, Column]:
        for name in columns:
            if not _COLUMN_RE.match(name):
                raise ValueError(f"column name {name!r} is not snake_case")
        return columns

    @model_validator(mode="after")
    def _primary_key_columns(self) -> Schema:
        for name in self.primary_key:
            if name not in self.columns:
                raise ValueError(f"primary key column {name!r} is not among the columns")
            if self.columns[name].nullable:
                raise ValueError(f"primary key column {name!r} must be nullable: false")
        return self

    def to_arrow(self) -> pa.Schema:
        return pa.schema(
            [pa.field(name, col.arrow_type, nullable=col.nullable) for name, col in self.columns.items()]
        )


class SourceSpec(_Strict):
    """Where a raw dataset comes from: a landing folder filled by a simulator, an API or the owner."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="landing/<id>/ folder name")
    adapter: str = Field(description="module of energy_pipelines.sources that reads (and fetches) it")
    mode: Literal["sample", "live"] | None = None
    delivery: Literal["api", "file_drop"] = "api"
    live: dict[str, Any] = Field(default_factory=dict)


class GovernanceStep(_Strict):
    """A declared anonymisation or secrecy step: the only thing that may lift access."""

    kind: Literal["anonymisation", "secrecy"]
    description: str
    yields_access: Access
    removes_personal_data: bool
    removes_commercial_sensitivity: bool


_DURATION_RE = re.compile(r"^(\d+)(min|h|d)$")


class DerivedInput(_Strict):
    """One input of a derived dataset and which of its rows a run reads.

    window: `same` (the run's own window; a daily partition reads its 46/48/50 half-hours),
    `all` (the whole dataset: registers, referentials), or `lookback` (the run's window
    extended back by `lookback`, e.g. `7d`, `30min`, for sessions open across the boundary).
    `lookahead` also extends it forward (rows delivered after the window that settle it).
    """

    dataset: str
    window: Literal["same", "all", "lookback"] = "same"
    lookback: str | None = Field(default=None, description="e.g. 30min, 48h, 7d; with window: lookback")
    lookahead: str | None = Field(default=None, description="e.g. 7d: also read this far after the run's window")
    columns: tuple[str, ...] | None = Field(default=None, description="read only these columns")
    arrow: bool = Field(default=False, description="hand the transform an Arrow table instead of pandas")

    @model_validator(mode="after")
    def _lookback(self) -> DerivedInput:
        if (self.window == "lookback") != (self.lookback is not None):
            raise ValueError("`lookback:` is required with window: lookback, and only then")
        if self.lookahead is not None and self.window == "all":
            raise ValueError("`lookahead:` extends a window: not with window: all")
        for name, value in (("lookback", self.lookback), ("lookahead", self.lookahead)):
            if value is not None and not _DURATION_RE.match(value):
                raise ValueError(f"{name} {value!r}: expected <n>min, <n>h or <n>d")
        return self

    @staticmethod
    def _minutes(duration: str | None) -> int:
        if duration is None:
            return 0
        n, unit = _DURATION_RE.match(duration).groups()
        return int(n) * {"min": 1, "h": 60, "d": 1440}[unit]

    @property
    def lookback_minutes(self) -> int:
        return self._minutes(self.lookback)

    @property
    def lookahead_minutes(self) -> int:
        return self._minutes(self.lookahead)


class DeriveSpec(_Strict):
    """How a derived dataset is made: its inputs and one pure function (`module:function`)."""

    transform: str = Field(pattern=r"^energy_pipelines\.transforms(\.[a-z0-9_]+)+:[a-z_][a-z0-9_]*$")
    inputs: dict[str, DerivedInput] = Field(default_factory=dict)
    params: str | None = Field(default=None, description="settings file under assets_config/, for `params`")
    # when the asset runs on its own clock (Paris time), e.g. daily products after midnight
    cron: str | None = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"dataset": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value


class DatasetSpec(_Strict):
    id: str
    layer: Layer
    title: str
    description: str
    owner: str | None = None
    publisher: str
    licence: str
    access: Access | None = None
    personal_data: bool | None = None
    commercially_sensitive: bool | None = None
    partitioning: Partitioning
    time_column: str | None = None
    table_schema: Schema = Field(alias="schema")
    source: SourceSpec | None = None
    step: GovernanceStep | None = None
    publish: bool = False
    # "append": every materialisation adds rows and nothing is ever replaced (issued forecasts)
    write_mode: Literal["replace", "append"] = "replace"
    keywords: tuple[str, ...] = ()
    derive: DeriveSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if not _ID_RE.match(self.id):
            raise ValueError(f"id {self.id!r} does not follow {{layer}}_{{source}}__{{name}}")
        if not self.id.startswith(self.layer):
            raise ValueError(f"id {self.id!r} does not start with its layer {self.layer!r}")
        if self.layer == "raw":
            for field in ("owner", "access", "personal_data", "commercially_sensitive", "source"):
                if getattr(self, field) is None:
                    raise ValueError(f"raw dataset must declare {field!r}")
        if self.partitioning != "none":
            if self.time_column is None:
                raise ValueError("partitioned dataset must declare time_column")
            column = self.table_schema.columns.get(self.time_column)
            if column is None or column.dtype != "timestamp" or column.nullable:
                raise ValueError(f"time_column {self.time_column!r} must be a non-nullable timestamp column")
        if self.write_mode == "append" and self.time_column is None:
            raise ValueError("an append-only dataset needs a time_column (its issue time)")
        if self.publish and self.layer != "out":
            raise ValueError("only out_* datasets are published")
        if self.derive is not None and self.layer == "raw":
            raise ValueError("a raw dataset is read from its source, not derived")
        return self

    @property
    def source_name(self) -> str:
        """The `{source}` part of the id: `rte` for `core_rte__eco2mix_regional`."""
        head = self.id.split("__", 1)[0]
        return head[len(self.layer) + 1 :] if head != self.layer else ""

    @property
    def rejects_id(self) -> str:
        return f"{self.id}_rejects"


class Organisation(_Strict):
    name: str
    ckan_org: str = Field(pattern=r"^[a-z0-9_-]{2,100}$")
    url: str | None = None


class Licence(_Strict):
    title: str
    url: str | None = None
    ckan_id: str
    open: bool


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    datasets: dict[str, DatasetSpec]
    organisations: dict[str, Organisation]
    licences: dict[str, Licence]
    directory: Path

    def __getitem__(self, dataset_id: str) -> DatasetSpec:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise KeyError(f"{dataset_id!r} is not in the catalogue ({self.directory})") from None

    def __contains__(self, dataset_id: object) -> bool:
        return dataset_id in self.datasets

    @cached_property
    def raw_datasets(self) -> list[DatasetSpec]:
        return [d for d in self.datasets.values() if d.layer == "raw"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (YAML would keep the last silently:
    a second `access: open` below `access: closed` would open a closed dataset)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: overriding its keys is the point
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (lines {seen[key]} and {key_node.start_mark.line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """A configuration file under assets_config/: safe YAML, UTF-8, no duplicate keys; errors name the file."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text") from None


_read_yaml = read_yaml


def _explain(path: Path, exc: ValidationError, error: type[CatalogError] = CatalogError) -> CatalogError:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(file)"
        lines.append(f"field '{where}': {err['msg']}")
    return error(f"{path}: " + "; ".join(lines))


def load_model(path: Path | str, model: type[M], error: type[CatalogError] = CatalogError) -> M:
    """A settings file under assets_config/ (use-case parameters, secrecy rules...) parsed by its
    pydantic model: duplicate keys refused, unknown fields refused by the model, and every error
    names the file and the field."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except CatalogError as exc:
        raise error(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain(path, exc, error) from None


def _load_registry(path: Path, model: type[BaseModel]) -> dict[str, Any]:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping of id -> entry")
    out = {}
    for key, entry in data.items():
        try:
            out[key] = model.model_validate(entry)
        except ValidationError as exc:
            raise CatalogError(str(_explain(path, exc)).replace("field '", f"field '{key}.", 1)) from None
    return out


def load_catalog(directory: Path | str = CATALOG_DIR) -> Catalog:
    directory = Path(directory)
    organisations = _load_registry(directory / "organisations.yaml", Organisation)
    licences = _load_registry(directory / "licences.yaml", Licence)
    datasets: dict[str, DatasetSpec] = {}
    for path in sorted((directory / "datasets").glob("*.yaml")):
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise CatalogError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
        try:
            spec = DatasetSpec.model_validate(data)
        except ValidationError as exc:
            raise _explain(path, exc) from None
        if path.stem != spec.id:
            raise CatalogError(f"{path}: field 'id': {spec.id!r} differs from the file name {path.stem!r}")
        for field, registry in (("owner", organisations), ("publisher", organisations),
                                ("licence", licences)):
            value = getattr(spec, field)
            if value is not None and value not in registry:
                raise CatalogError(f"{path}: field '{field}': {value!r} is not declared in "
                                   f"{'organisations' if registry is organisations else 'licences'}.yaml")
        datasets[spec.id] = spec
    if not datasets:
        raise CatalogError(f"{directory}/datasets: no dataset YAML found")
    return Catalog(datasets=datasets, organisations=organisations, licences=licences, directory=directory)


@lru_cache(maxsize=4)
def default_catalog(directory: str = str(CATALOG_DIR)) -> Catalog:
    return load_catalog(directory)
