"""Settings of the UC5 transforms, read from assets_config/uc5/*.yaml through these pydantic models."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from energy_pipelines.catalog import StrictModel, load_model


class OperationParams(StrictModel):
    """assets_config/uc5/operation.yaml"""

    step_minutes: int = Field(30, description="the operation's allocation step (Enedis: 30, 15 since the 15-min reform)")
    reconciliation_tolerance_wh: int = Field(
        1, ge=0, description="differences with Enedis up to this many Wh per quantity count as rounding")
    open_min_consumers: int = Field(
        10, ge=1, description="an open monthly aggregate needs at least this many consumers (D.111-53: > 9 points)")
    open_min_completeness: float = Field(
        0.99, ge=0, le=1, description="share of the month's steps that must be allocated for an open figure")
    pseudonym_prefix: str = "Participant"

    @model_validator(mode="after")
    def _step(self) -> OperationParams:
        if self.step_minutes <= 0 or 1440 % self.step_minutes:
            raise ValueError(f"step_minutes {self.step_minutes}: must divide a day (15, 30, 60 ...)")
        return self


class OffPeak(StrictModel):
    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=0, le=24)
    price_eur_per_kwh: float = Field(ge=0)


class Tariff(StrictModel):
    label: str
    supplier_price_eur_per_kwh: float = Field(ge=0, description="price of the complement (TTC), peak or flat")
    off_peak: OffPeak | None = Field(default=None, description="heures creuses: Paris local hours [start, end)")
    local_price_eur_per_kwh: float = Field(ge=0, description="price the consumer pays the PMO for a self-consumed kWh")
    surplus_price_eur_per_kwh: float = Field(0.0, ge=0, description="producers: price of the surplus (obligation d'achat)")
    source: str = ""


class TariffParams(StrictModel):
    """assets_config/uc5/tariffs.yaml: the prices behind the monthly statements."""

    valid_from: date
    currency: Literal["EUR"] = "EUR"
    default_tariff: str
    tariffs: dict[str, Tariff]

    @model_validator(mode="after")
    def _default(self) -> TariffParams:
        if self.default_tariff not in self.tariffs:
            raise ValueError(f"default_tariff {self.default_tariff!r} is not among the tariffs")
        return self


class PerimeterLimit(StrictModel):
    max_distance_km: float = Field(gt=0)
    legal_source: str
    applies_when: str = ""
    verified: bool = False


class EligibilityParams(StrictModel):
    """assets_config/uc5/eligibility.yaml: the extended ACC perimeter and power cap, with their sources."""

    perimeter: str = Field(description="which of `perimeters` applies to this operation")
    perimeters: dict[str, PerimeterLimit]
    max_total_peak_power_kw: float = Field(gt=0)
    power_cap_legal_source: str
    power_cap_verified: bool = False

    @model_validator(mode="after")
    def _known(self) -> EligibilityParams:
        if self.perimeter not in self.perimeters:
            raise ValueError(f"perimeter {self.perimeter!r} is not among {sorted(self.perimeters)}")
        return self


class KeyStudyParams(StrictModel):
    """assets_config/uc5/key_study.yaml: the key comparison, the optimised key and the what-ifs."""

    fairness_floor: float | None = Field(
        0.5, ge=0, le=1, description="optimised key variant where each consumer gets at least this fraction of "
                                     "its consumption-proportional share of the self-consumed energy")
    added_producer_kwc: float | None = Field(9.0, gt=0)
    battery_kwh: float | None = Field(20.0, gt=0)
    battery_power_kw: float = Field(10.0, gt=0)
    battery_round_trip_efficiency: float = Field(0.9, gt=0, le=1)


def load_params(model: type[BaseModel], path: Path | str) -> BaseModel:
    """For tests and notebooks; the asset factory parses `derive.params` itself, the same way."""
    return load_model(path, model)
