"""Fixtures shared by every test: a throw-away data root, real data, the services rule."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from energy_pipelines.settings import Settings, load_settings

def _find_realdata() -> Path:
    """ENERGY_PIPELINES_REALDATA, else the nearest ancestor's shared/realdata (beside the clone)."""
    if os.environ.get("ENERGY_PIPELINES_REALDATA"):
        return Path(os.environ["ENERGY_PIPELINES_REALDATA"])
    for parent in Path(__file__).resolve().parents[1:]:
        if (parent / "shared" / "realdata").is_dir():
            return parent / "shared" / "realdata"
    return Path(__file__).resolve().parents[2] / "shared" / "realdata"


REALDATA = _find_realdata()

# Every test process runs Dagster as production does (settings.export_dagster_tuning): batched event
# writes and one planned event per asset for range runs; a test that needs otherwise says so.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")


def require_service(available: bool, reason: str) -> None:
    """Skip with the reason when a service is absent; fail instead under REQUIRE_SERVICES=1 (CI)."""
    if available:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A data root in tmp_path, sample mode, partitions from 2024-01-01."""
    monkeypatch.setenv("ENERGY_PIPELINES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENERGY_PIPELINES_MODE", "sample")
    monkeypatch.setenv("ENERGY_PIPELINES_PARTITIONS_START", "2024-01-01")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return load_settings().with_(partitions_start=datetime(2024, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.exists():
        pytest.skip(f"real data folder not present at {REALDATA}")
    return REALDATA
