"""The one settings object: everything a deployment changes, read from the environment once.

`Settings` is a pydantic-settings model (prefix `ENERGY_PIPELINES_`, nested fields with `__`).
It is built once (`load_settings()`) and passed to whatever needs it: the definitions, the
resources, the CLI. No other module reads the environment. Secrets (`DATASUD_API_KEY`, the
pseudonymisation key) are `SecretStr`: they never print, and nothing stores them.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = PROJECT_ROOT / "assets_config"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

Mode = Literal["sample", "live"]
MODES: tuple[str, ...] = ("sample", "live")

# Dagster keeps its UI fast below ~100k partitions per asset; 2025-01-01 keeps the
# half-hourly definition near 35k today. History loads set an earlier start.
DEFAULT_PARTITIONS_START = "2025-01-01"


class SettingsError(ValueError):
    """A setting read from the environment is malformed; the message names the variable."""


class SourceOverride(BaseModel):
    """Per-source settings: `ENERGY_PIPELINES_SOURCES__<SOURCE_ID>__MODE` / `__URL`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Mode | None = None
    url: str | None = None


# an explicit environment for one load (tests, `load_settings(environ)`), else os.environ
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("environ", default=None)


class _EnvSource(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {k.lower(): v for k, v in environ.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENERGY_PIPELINES_", env_nested_delimiter="__",
                                      case_sensitive=False, extra="ignore", frozen=True)

    home: Path = Field(default=PROJECT_ROOT / "data", description="the data root")
    mode: Mode = Field(default="sample", description="sample (offline simulator) or live")
    sources: dict[str, SourceOverride] = Field(default_factory=dict, description="per-source mode/URL overrides")
    offline: bool = Field(default=False, description="live API sources fetch nothing, only ingest landing/")
    partitions_start: datetime = Field(default=DEFAULT_PARTITIONS_START)
    partitions_end: datetime | None = None
    # monthly and yearly products reach further back (annual local energy data since 2011, bills
    # over years) at no cost: a year of months is 12 partitions, not 17,520
    history_start: datetime = Field(default="2011-01-01")
    publish_target: Literal["mirror", "datasud"] = "mirror"
    datasud_url: str | None = Field(default=None, validation_alias=AliasChoices("DATASUD_URL", "ENERGY_PIPELINES_DATASUD_URL"))
    datasud_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "DATASUD_API_KEY", "ENERGY_PIPELINES_DATASUD_API_KEY"))
    pseudonymisation_key: SecretStr | None = None
    alert_webhook: SecretStr | None = Field(default=None, description="URL alerts are POSTed to (may hold a token)")
    # a browser does not open file:// links from the UI: `energy-pipelines ui` and `serve` serve reports/
    # over http and set this for their children, so the checks link their Data Docs pages through it
    reports_url: str | None = Field(default=None, description="base http(s) URL where <home>/reports/ is served")
    max_landing_file_mb: float = Field(default=256.0, gt=0, description="larger landing files are refused")
    uc2_sensor_interval_s: int = Field(default=30, ge=5)
    uc2_sensor: Literal["running", "stopped"] = "stopped"
    # the publication sensor's state when the instance has none stored (`energy-pipelines ui` stops it
    # unless asked, so looking at the demo does not publish)
    automation: Literal["running", "stopped"] = "running"
    dagster_home: Path | None = Field(default=None, validation_alias=AliasChoices("DAGSTER_HOME"))
    # Dagster's own bookkeeping (issue 12): events written in batches, and one "planned" event per
    # asset for a range run instead of one per partition (a year of half-hours is 17,520 partitions)
    dagster_event_batch_size: int = Field(default=1000, ge=0, validation_alias=AliasChoices(
        "DAGSTER_EVENT_BATCH_SIZE", "ENERGY_PIPELINES_DAGSTER_EVENT_BATCH_SIZE"))
    dagster_plan_partition_subsets: bool = Field(default=True, validation_alias=AliasChoices(
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "ENERGY_PIPELINES_DAGSTER_PLAN_PARTITION_SUBSETS"))
    # The production instance (deploy/dagster.yaml) reads DAGSTER_PG_* itself; `serve` fills the
    # defaults in for its children and creates the database when missing.
    executor: Literal["default", "celery"] = Field(
        default="default", description="celery: run steps on Celery workers (deploy/celery.yaml, two queues)")
    dagster_pg_host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("DAGSTER_PG_HOST"))
    dagster_pg_port: int = Field(default=5432, gt=0, lt=65536, validation_alias=AliasChoices("DAGSTER_PG_PORT"))
    dagster_pg_user: str = Field(default="postgres", validation_alias=AliasChoices("DAGSTER_PG_USER"))
    dagster_pg_password: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("DAGSTER_PG_PASSWORD"))
    dagster_pg_db: str = Field(default="energy_pipelines_dagster", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                               validation_alias=AliasChoices("DAGSTER_PG_DB"))

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return (init_settings, _EnvSource(settings_cls))

    @field_validator("home", mode="after")
    @classmethod
    def _absolute(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @field_validator("partitions_start", "partitions_end", "history_start", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        try:
            return datetime.strptime(str(value), "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form") from None

    @field_validator("mode", "publish_target", "uc2_sensor", "automation", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("reports_url", mode="after")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not url.startswith(("http://", "https://")) or not url.split("://", 1)[1].strip("/"):
            raise ValueError(f"{url!r} is not an http(s) URL (e.g. http://127.0.0.1:3001/)")
        return url.rstrip("/") + "/"

    @model_validator(mode="after")
    def _span(self) -> Settings:
        if self.partitions_end is not None and self.partitions_end <= self.partitions_start:
            raise ValueError(f"partitions_end {self.partitions_end:%Y-%m-%d} must be after the start "
                             f"{self.partitions_start:%Y-%m-%d}")
        return self

    # -- where things live under the data root --------------------------------------------------

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse_dir(self) -> Path:
        """Parquet files of every dataset, hive-partitioned by UTC date."""
        return self.home / "warehouse"

    @property
    def warehouse_db(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        """The local portal mirror: the default publication target."""
        return self.home / "published"

    @property
    def reports_dir(self) -> Path:
        """Data Docs pages, charts and pages written beside the outputs."""
        return self.home / "reports"

    @property
    def local_dagster_home(self) -> Path:
        """The Dagster instance of the CLI and `make ui`: $DAGSTER_HOME, else under the data root."""
        return self.dagster_home or self.home / "dagster_home"

    # -- sources ----------------------------------------------------------------------------------

    def source_mode(self, source_id: str, declared: str | None = None) -> str:
        """Mode of one source: its own override, else the catalogue's, else the global one."""
        override = self.sources.get(source_id.lower())
        return (override.mode if override and override.mode else None) or declared or self.mode

    def source_url(self, source_id: str, declared: str | None) -> str | None:
        override = self.sources.get(source_id.lower())
        return (override.url if override and override.url else None) or declared

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return type(self).model_validate({**self.model_dump(), **changes})


def _explain(exc: ValidationError) -> SettingsError:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        if not field:
            lines.append(err["msg"].removeprefix("Value error, "))
            continue
        variable = {"datasud_url": "DATASUD_URL", "datasud_api_key": "DATASUD_API_KEY",
                    "dagster_home": "DAGSTER_HOME", "dagster_event_batch_size": "DAGSTER_EVENT_BATCH_SIZE",
                    "dagster_plan_partition_subsets": "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"}.get(field, "ENERGY_PIPELINES_" + field.upper().replace(".", "__"))
        if field.upper().startswith(("DAGSTER_", "DATASUD_")) or field.startswith("dagster_pg_"):  # the tool's own name
            variable = field.upper()
        value = err.get("input")
        shown = "" if "key" in field or "password" in field or "webhook" in field or isinstance(value, dict) else f"={value!r}"
        lines.append(f"{variable}{shown}: {err['msg'].removeprefix('Value error, ')}")
    return SettingsError("; ".join(lines))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of this process (or of `environ`, for tests); errors name the variable."""
    token = _ENVIRON.set(environ)
    try:
        return Settings()
    except ValidationError as exc:
        raise _explain(exc) from None
    finally:
        _ENVIRON.reset(token)


def export_dagster_home(settings: Settings) -> Path:
    """Point Dagster (which reads DAGSTER_HOME and its tuning variables itself, from the environment)
    at the settings' instance folder and bookkeeping; child processes (webserver, daemon, code
    server, run workers) inherit both."""
    home = settings.local_dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    export_dagster_tuning(settings)
    return home


def export_dagster_tuning(settings: Settings) -> None:
    """Event batching and partition-subset planning for every run this process starts or serves.
    Trade-off (Dagster's): with subset planning, the partitions of a failed range run show as
    missing rather than failed; the run itself is failed and says which step broke."""
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = str(settings.dagster_event_batch_size)
    os.environ["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "true" if settings.dagster_plan_partition_subsets \
        else "false"


def export_for_child(settings: Settings, **changes: str) -> dict[str, str]:
    """The environment of a child process (webserver, daemon) with some settings changed."""
    env = dict(os.environ)
    env.update({f"ENERGY_PIPELINES_{k.upper()}": v for k, v in changes.items()})
    return env
