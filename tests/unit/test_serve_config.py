"""`serve` refuses what would start a wrong or half stack, with a message naming the file, port or variable."""

from __future__ import annotations

import socket

import pytest
import yaml

from energy_pipelines.ops.serve import ServeError, check_port_free, child_environment, prepare_instance
from energy_pipelines.settings import SettingsError, load_settings


def _settings(tmp_path, **env):
    return load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path / "home"), **env})


def test_a_fresh_instance_gets_the_production_config(tmp_path):
    home = prepare_instance(_settings(tmp_path))
    assert home == tmp_path / "home" / "instance"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert "postgres" in config["storage"] and config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_an_sqlite_instance_is_refused_naming_its_file(tmp_path):
    dagster_home = tmp_path / "dh"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.raises(ServeError, match=f"{dagster_home / 'dagster.yaml'}: storage is not PostgreSQL"):
        prepare_instance(_settings(tmp_path, DAGSTER_HOME=str(dagster_home)))


def test_a_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"code server port 127.0.0.1:{port} is not free"):
            check_port_free("127.0.0.1", port, "code server")


def test_children_get_the_connection_settings_and_a_bad_database_name_is_refused(tmp_path):
    settings = _settings(tmp_path, DAGSTER_PG_DB="ep_prod", DAGSTER_PG_PASSWORD="pw-not-shown")
    env = child_environment(settings, tmp_path / "inst")
    assert (env["DAGSTER_PG_DB"], env["DAGSTER_PG_PASSWORD"], env["DAGSTER_HOME"]) == (
        "ep_prod", "pw-not-shown", str(tmp_path / "inst"))
    assert env["ENERGY_PIPELINES_HOME"] == str(tmp_path / "home")
    with pytest.raises(SettingsError, match=r"DAGSTER_PG_DB='ep; drop'") as refused:
        _settings(tmp_path, DAGSTER_PG_DB="ep; drop", DAGSTER_PG_PASSWORD="pw-not-shown")
    assert "pw-not-shown" not in str(refused.value)
