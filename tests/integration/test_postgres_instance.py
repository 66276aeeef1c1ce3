"""A materialisation on a Postgres-backed Dagster instance configured by deploy/dagster.yaml."""

import shutil
import uuid

import dagster as dg
import pytest

from energy_pipelines.settings import PROJECT_ROOT
from tests.conftest import require_service
from tests.integration.rte_helpers import run_range

pytestmark = pytest.mark.services
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _connect(dbname="test"):
    import psycopg2

    return psycopg2.connect(dbname=dbname, connect_timeout=3, **PG)


@pytest.fixture
def postgres_instance(tmp_path, monkeypatch):
    try:
        admin = _connect()
    except Exception as exc:  # noqa: BLE001  (any connection failure means: no service)
        require_service(False, f"PostgreSQL not reachable on 127.0.0.1:5432 ({exc})")
    admin.autocommit = True
    db = f"ep_dagster_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for var, value in {"DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]),
                       "DAGSTER_PG_USER": PG["user"], "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": db}.items():
        monkeypatch.setenv(var, value)
    instance = dg.DagsterInstance.from_config(str(home))
    yield instance, db
    instance.dispose()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    admin.close()


def test_materialising_on_a_postgres_backed_instance(settings, postgres_instance):
    instance, db = postgres_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    # Paris 02:00 .. 03:00 through the repeated hour: 00:00 .. 02:00 UTC, five half-hours
    result = run_range(settings, "2025-10-26-02:00", "2025-10-26-03:00", instance=instance)
    assert result.success
    key = dg.AssetKey("core_rte__eco2mix_regional")
    latest = instance.get_latest_materialization_event(key)
    assert latest.asset_materialization.partition == "2025-10-26-03:00"
    with _connect(db) as con, con.cursor() as cur:
        cur.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                    "and asset_key = %s", [key.to_string()])
        assert cur.fetchone()[0] == 5  # 02:00, 02:30, 02:00+0100, 02:30+0100, 03:00
        cur.execute("select status from runs where run_id = %s", [result.run_id])
        assert cur.fetchone()[0] == "SUCCESS"
