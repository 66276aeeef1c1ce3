"""assets_config/uc2/settings.yaml as a model: a typo or a wrong type is an error naming the file and
the field (a raw `.get()` with a default would silently keep the default)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from energy_pipelines.catalog import StrictModel, load_model


class Anonymisation(StrictModel):
    k_min_users: int = Field(5, ge=2, description="an open aggregate covers at least this many distinct users")
    lookback_days: int = Field(7, ge=1, description="how far back the StartTransaction of a session is looked for")


class Disclosure(StrictModel):
    k_min_charge_points: int = Field(5, ge=2, description="an occupancy area has at least this many charge points")
    min_stations: int = Field(2, ge=2, description="... in at least this many stations")


class QualiCharge(StrictModel):
    max_days: float = Field(7.0, gt=0)
    max_energy_kwh: float = Field(1000.0, gt=0)
    power_tolerance: float = Field(0.10, ge=0)
    zero_duration_max_kwh: float = Field(1.0, ge=0)
    max_sessions_per_day: int = Field(60, ge=1)


class Forecast(StrictModel):
    history_days: int = Field(28, ge=7)
    horizon_hours: int = Field(48, ge=1)
    backtest_hours: int = Field(48, ge=1)
    transform: Literal["log1p"] | None = "log1p"
    correction_window_steps: int = Field(6, ge=0)


class SeasonalHistory(StrictModel):
    days: int = Field(365, ge=1)


class Uc2Params(StrictModel):
    anonymisation: Anonymisation = Anonymisation()
    disclosure: Disclosure = Disclosure()
    qualicharge: QualiCharge = QualiCharge()
    forecast: Forecast = Forecast()
    seasonal_history: SeasonalHistory = SeasonalHistory()


def load_uc2_params(catalog_dir: Path) -> Uc2Params:
    path = Path(catalog_dir) / "uc2" / "settings.yaml"
    return load_model(path, Uc2Params) if path.exists() else Uc2Params()
