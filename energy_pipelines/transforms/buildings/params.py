"""UC4 settings (`assets_config/uc4/params.yaml`), parsed and checked."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from energy_pipelines.catalog import StrictModel, load_model
from energy_pipelines.settings import CATALOG_DIR

PARAMS_FILE = CATALOG_DIR / "uc4" / "params.yaml"



class CalendarParams(StrictModel):
    academies: tuple[str, ...] = ("Aix-Marseille", "Nice")
    region_code: str = "93"
    reporting_base_c: float = Field(18.0, description="base of the reported heating degree days (DJU)")
    cooling_base_c: float = 22.0


class BillParams(StrictModel):
    index_tolerance_units: float = 1.0
    index_tolerance_share: float = 0.01
    price_tolerance_share: float = 0.02
    price_check_min_units: float = 50.0
    estimate_correction_share: float = Field(0.3, description="a regularisation beyond this share of the real use is reported")
    curve_gap_share: float = Field(0.05, description="bills and load curve may differ by this share of a month")
    curve_min_coverage: float = 0.98
    missing_grace_days: int = 45


class BaselineParams(StrictModel):
    reference_year: int = 2023
    min_months: int = 10
    min_coverage: float = 0.9
    heating_bases_c: tuple[float, ...] = tuple(x / 2 for x in range(20, 45))  # 10 .. 22 °C
    cooling_bases_c: tuple[float, ...] = tuple(float(x) for x in range(16, 27))
    min_t_stat: float = 2.0
    monthly_cvrmse_pct: float = 15.0
    monthly_nmbe_pct: float = 5.0
    hourly_cvrmse_pct: float = 30.0
    hourly_nmbe_pct: float = 10.0
    confidence: float = 0.90


class DetectionParams(StrictModel):
    cusum_k: float = 0.5
    cusum_h: float = 4.0
    drift_sigma_floor_share: float = 0.03
    drift_min_share: float = 0.08
    night_hours: tuple[int, int] = (0, 5)
    day_hours: tuple[int, int] = (9, 16)
    night_excess_share: float = 0.3
    night_excess_sigma: float = 4.0
    night_min_nights: int = 5
    holiday_occupied_share: float = 0.6
    holiday_min_days: int = 4
    gas_summer_kwh_m2_day: float = 0.004
    gas_summer_min_days: int = 10


class TrajectoryParams(StrictModel):
    milestones: dict[int, float] = {2030: 0.40, 2040: 0.50, 2050: 0.60}
    fluids: tuple[str, ...] = ("electricite", "gaz", "reseau_chaleur", "fioul", "bois")


class Uc4Params(StrictModel):
    calendar: CalendarParams = CalendarParams()
    bills: BillParams = BillParams()
    baseline: BaselineParams = BaselineParams()
    detection: DetectionParams = DetectionParams()
    trajectory: TrajectoryParams = TrajectoryParams()


def load_params(path: Path | str = PARAMS_FILE) -> Uc4Params:
    return load_model(path, Uc4Params)
