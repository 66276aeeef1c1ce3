"""Backup and restore: a data root and its PostgreSQL-backed instance, restored into a fresh root and a
new database, answer the same SQL and show the same asset status."""

from __future__ import annotations

import shutil
import tarfile

import dagster as dg
import pytest

from energy_pipelines.cli import main
from energy_pipelines.settings import PROJECT_ROOT, load_settings
from energy_pipelines.storage import warehouse_of
from tests.integration.pg_helpers import pg_env, throwaway_database
from tests.integration.rte_helpers import run_range

pytestmark = pytest.mark.services
CORE = dg.AssetKey("core_rte__eco2mix_regional")
SQL = "select datetime_utc, consommation_mw, green_share_pct from core_rte__eco2mix_regional order by datetime_utc"


def _use(monkeypatch, root, db):
    env = {"ENERGY_PIPELINES_HOME": str(root), "ENERGY_PIPELINES_MODE": "sample",
           "ENERGY_PIPELINES_PARTITIONS_START": "2025-03-01", "DAGSTER_HOME": str(root / "instance"), **pg_env(db)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings()


def _state(settings):
    with warehouse_of(settings.home).connect() as con:
        rows = con.sql(SQL).fetchall()
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    try:
        status = (sorted(instance.get_materialized_partitions(CORE)),
                  instance.get_latest_materialization_event(CORE).asset_materialization.partition,
                  len(instance.get_run_records()))
    finally:
        instance.dispose()
    return rows, status


def test_a_backup_restored_into_a_fresh_root_has_the_same_views_and_asset_status(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "backups" / "ep.tar"
    with throwaway_database("ep_backup") as source_db, throwaway_database("ep_restored", create=False) as new_db:
        source = _use(monkeypatch, tmp_path / "source", source_db)
        (tmp_path / "source" / "instance").mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", tmp_path / "source" / "instance" / "dagster.yaml")
        instance = dg.DagsterInstance.from_config(str(source.dagster_home))
        # the spring change: Paris 01:00 .. 03:30, four half-hours (02:00 and 02:30 do not exist)
        assert run_range(source, "2025-03-30-01:00", "2025-03-30-03:30", instance=instance).success
        instance.dispose()
        before = _state(source)
        assert len(before[0]) >= 4 and len(before[1][0]) == 4

        assert main(["backup", str(archive)]) == 0
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        assert "instance.pgdump" in names and "instance/dagster.yaml" in names
        assert not [n for n in names if n.endswith(".lock") or n.endswith(".tmp")]

        restored = _use(monkeypatch, tmp_path / "restored", new_db)
        assert main(["restore", str(archive)]) == 0
        assert _state(restored) == before
        # a restore never writes over existing data
        assert main(["restore", str(archive)]) == 2
        assert "is not empty" in capsys.readouterr().err
