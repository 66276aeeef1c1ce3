"""Scale-out: the half-hourly job's steps run on two real Celery workers (RabbitMQ broker, the `hot`
queue of deploy/celery.yaml) against a PostgreSQL-backed instance, and write what an in-process run writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from energy_pipelines.ops.celery import HOT_QUEUE, executor_config
from energy_pipelines.settings import PROJECT_ROOT, load_settings
from tests.conftest import require_service
from tests.integration.pg_helpers import pg_env, throwaway_database

pytestmark = [pytest.mark.services, pytest.mark.slow]
BIN = Path(sys.executable).parent
BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
RTE = ["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"]
PARTITION = "2025-10-26-02:30+0100"  # the repeated half-hour of the autumn change


def _broker_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture
def celery_instance(tmp_path):
    """A PostgreSQL-backed instance (fresh database, dropped afterwards) in tmp_path/instance."""
    require_service(_broker_up(), "RabbitMQ not reachable on 127.0.0.1:5672")
    with throwaway_database("ep_celery") as db:
        home = tmp_path / "instance"
        home.mkdir()
        shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        yield home, {"DAGSTER_HOME": str(home), **pg_env(db), "DAGSTER_CELERY_BROKER_URL": BROKER}


def _start_worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
             "-y", str(PROJECT_ROOT / "deploy" / "celery.yaml"), "-q", HOT_QUEUE, "-n", name,
             "--", "--concurrency=1", "--without-gossip", "--without-mingle"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_workers(names: set[str], workers: list[subprocess.Popen], logs: list[Path], timeout_s: float = 300):
    from celery import Celery

    app = Celery(broker=BROKER)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for w, log in zip(workers, logs, strict=True):
                assert w.poll() is None, f"a worker exited:\n{log.read_text()}"
            answered = {node.split("@")[0] for reply in app.control.ping(timeout=2) for node in reply}
            if names <= answered:
                return
            time.sleep(1)
    finally:
        app.close()
    pytest.fail(f"workers {names} never answered:\n" + "\n".join(log.read_text()[-2000:] for log in logs))


def _stop(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)  # the worker and its pool children
        worker.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def _table(home: Path, dataset: str):
    files = sorted((home / "warehouse" / dataset).rglob("*.parquet"))
    assert files, f"{dataset}: nothing written under {home}"
    return pq.ParquetDataset(files).read().sort_by("datetime_utc")


def test_steps_run_on_two_celery_workers_and_match_an_in_process_run(tmp_path, monkeypatch, celery_instance):
    instance_home, pg_env = celery_instance
    data_env = {"ENERGY_PIPELINES_MODE": "sample", "ENERGY_PIPELINES_OFFLINE": "true",
                "ENERGY_PIPELINES_PARTITIONS_START": "2025-10-01"}
    celery_root, local_root = tmp_path / "celery_root", tmp_path / "local_root"
    worker_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ENERGY_PIPELINES_", "DAGSTER_"))},
                  **pg_env, **data_env, "ENERGY_PIPELINES_HOME": str(celery_root),
                  "ENERGY_PIPELINES_EXECUTOR": "celery",
                  "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # `dagster-celery` runs `celery`
    names = {f"ep-a-{uuid.uuid4().hex[:6]}", f"ep-b-{uuid.uuid4().hex[:6]}"}  # nodes are <name>@<host>
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [_start_worker(n, worker_env, log) for n, log in zip(sorted(names), logs, strict=True)]
    try:
        _wait_for_workers(names, workers, logs)
        for k, v in worker_env.items():
            if k.startswith(("ENERGY_PIPELINES_", "DAGSTER_")):
                monkeypatch.setenv(k, v)
        settings = load_settings()
        assert executor_config(HOT_QUEUE)["config_source"]["task_default_queue"] == HOT_QUEUE
        from dagster._core.definitions.reconstruct import ReconstructableRepository  # what `dagster` CLI uses

        recon = ReconstructableRepository.for_module("energy_pipelines.definitions", "defs",
                                                        working_directory=str(PROJECT_ROOT))
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            result = dg.execute_job(recon.get_reconstructable_job("halfhourly_job"), instance,
                                    tags={"dagster/partition": PARTITION},
                                    asset_selection=[dg.AssetKey(a) for a in RTE])
            assert result.success
            events = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            ran_on = {}
            for e in events:
                meta = e.dagster_event.event_specific_data.metadata or {}
                if "Celery worker" in meta:
                    ran_on[e.dagster_event.step_key] = meta["Celery worker"].value
        assert settings.executor == "celery"
        assert set(RTE) <= set(ran_on)  # both assets (and their checks) went through the queue
        assert {node.split("@")[0] for node in ran_on.values()} == names, ran_on  # both workers took steps
    finally:
        for w in workers:
            _stop(w)

    # the same half-hour in process, in another data root: the same rows
    for k in list(os.environ):
        if k.startswith(("ENERGY_PIPELINES_", "DAGSTER_")):
            monkeypatch.delenv(k)
    from tests.integration.rte_helpers import run_range

    local = load_settings({**data_env, "ENERGY_PIPELINES_HOME": str(local_root)})
    assert run_range(local, PARTITION, PARTITION).success
    for dataset in RTE[1:]:
        on_workers = _table(celery_root, dataset)
        assert on_workers.num_rows > 0 and on_workers.equals(_table(local_root, dataset))
