"""A materialisation on a Postgres-backed Dagster instance configured by deploy/dagster.yaml."""

import shutil

import dagster as dg
import pytest

from energy_pipelines.settings import PROJECT_ROOT
from tests.integration.pg_helpers import connect, pg_env, throwaway_database
from tests.integration.rte_helpers import run_range

pytestmark = pytest.mark.services


@pytest.fixture
def postgres_instance(tmp_path, monkeypatch):
    with throwaway_database("ep_dagster") as db:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        for var, value in pg_env(db).items():
            monkeypatch.setenv(var, value)
        instance = dg.DagsterInstance.from_config(str(home))
        yield instance, db
        instance.dispose()


def test_materialising_on_a_postgres_backed_instance(settings, postgres_instance):
    instance, db = postgres_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    # Paris 02:00 .. 03:00 through the repeated hour: 00:00 .. 02:00 UTC, five half-hours
    result = run_range(settings, "2025-10-26-02:00", "2025-10-26-03:00", instance=instance)
    assert result.success
    key = dg.AssetKey("core_rte__eco2mix_regional")
    latest = instance.get_latest_materialization_event(key)
    assert latest.asset_materialization.partition == "2025-10-26-03:00"
    with connect(db) as con, con.cursor() as cur:
        cur.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                    "and asset_key = %s", [key.to_string()])
        assert cur.fetchone()[0] == 5  # 02:00, 02:30, 02:00+0100, 02:30+0100, 03:00
        cur.execute("select status from runs where run_id = %s", [result.run_id])
        assert cur.fetchone()[0] == "SUCCESS"
