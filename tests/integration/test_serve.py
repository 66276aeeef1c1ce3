"""`energy-pipelines serve`: the production stack starts, runs a partition launched through GraphQL
on PostgreSQL-backed storage, and stops on SIGINT leaving no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from energy_pipelines.settings import PROJECT_ROOT
from tests.integration.pg_helpers import connect, pg_env, throwaway_database

pytestmark = [pytest.mark.services, pytest.mark.slow]
BIN = Path(sys.executable).parent
RTE = ["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"]
# the second 02:00 of the autumn change: the key carries its offset through GraphQL and the run queue
PARTITION = "2025-10-26-02:00+0100"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh_database():
    """A database name nobody uses; `serve` must create it. Dropped afterwards."""
    with throwaway_database("ep_serve", create=False) as db:
        yield db


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    table = _proc_table()
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, (ppid, _) in table.items() if ppid == parent]
        found.update(kids)
        frontier.extend(kids)
    return found


def _living(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def _processes_mentioning(marker: bytes) -> set[int]:
    """Living processes whose environment names this data root (whoever their parent is now)."""
    hits = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes():
                hits.add(int(environ.parent.name))
        except OSError:
            continue
    return _living(hits - {os.getpid()})


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    reply = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}},
                          timeout=30)
    reply.raise_for_status()
    return reply.json()


def _wait_for_location(port: int, server: subprocess.Popen, log: Path, timeout_s: float = 600) -> None:
    query = "{ assetNodes { assetKey { path } } }"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited early:\n{log.read_text()}"
        try:
            nodes = (_graphql(port, query).get("data") or {}).get("assetNodes") or []
            if any(n["assetKey"]["path"] == [RTE[1]] for n in nodes):
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(2)
    pytest.fail(f"the webserver's GraphQL never listed the assets:\n{log.read_text()}")


def _wait_for_run(client, run_id: str, timeout_s: float = 900) -> str:
    from dagster import DagsterRunStatus

    terminal = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id)
        if status in terminal:
            return status.value
        time.sleep(2)
    pytest.fail(f"run {run_id} still {status} after {timeout_s} s")


def test_serve_runs_a_partition_on_postgres_and_stops_cleanly(tmp_path, fresh_database):
    from dagster import DagsterEventType
    from dagster._serdes import deserialize_value
    from dagster_graphql import DagsterGraphQLClient

    home = tmp_path / "home"
    port, grpc_port, reports_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGY_PIPELINES_", "DAGSTER_"))}
    env.update({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "sample",
                "ENERGY_PIPELINES_OFFLINE": "true", "ENERGY_PIPELINES_PARTITIONS_START": "2025-10-01",
                **pg_env(fresh_database)})
    log = tmp_path / "serve.out"
    with log.open("wb") as out:
        server = subprocess.Popen([str(BIN / "energy-pipelines"), "serve", "--port", str(port),
                                   "--grpc-port", str(grpc_port), "--reports-port", str(reports_port)],
                                  cwd=PROJECT_ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_location(port, server, log)
        assert f"created PostgreSQL database {fresh_database}" in log.read_text()

        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_id = client.submit_job_execution("__ASSET_JOB", repository_location_name="energy_pipelines",
                                             repository_name="__repository__", asset_selection=RTE,
                                             tags={"dagster/partition": PARTITION},
                                             # one process: step processes each re-import the code location
                                             run_config={"execution": {"config": {"in_process": {}}}})
        assert _wait_for_run(client, run_id) == "SUCCESS"

        with connect(fresh_database) as con, con.cursor() as cur:
            cur.execute("select status from runs where run_id = %s", [run_id])
            assert cur.fetchone()[0] == "SUCCESS"
            # queued by the instance's QueuedRunCoordinator, dequeued by the daemon
            cur.execute("select count(*) from event_logs where run_id = %s and dagster_event_type = %s",
                        [run_id, DagsterEventType.RUN_ENQUEUED.value])
            assert cur.fetchone()[0] == 1
            cur.execute("select asset_key, partition from event_logs where run_id = %s "
                        "and dagster_event_type = 'ASSET_MATERIALIZATION' order by asset_key", [run_id])
            assert cur.fetchall() == [(f'["{a}"]', PARTITION) for a in sorted(RTE)]
            # the check's Data Docs link works over http, served by the stack (a browser ignores file:// there)
            cur.execute("select event from event_logs where run_id = %s "
                        "and dagster_event_type = 'ASSET_CHECK_EVALUATION'", [run_id])
            evaluations = [deserialize_value(row[0]).dagster_event.event_specific_data for row in cur.fetchall()]
        links = [e.metadata["data_docs_url"].value for e in evaluations if "data_docs_url" in e.metadata]
        assert links and all(u.startswith(f"http://127.0.0.1:{reports_port}/data_docs/") for u in links), links
        for link in links:  # each opens the page of its own dataset
            page = requests.get(link, timeout=10)
            dataset = link.split("/data_docs/")[1].split("/")[0]
            assert page.status_code == 200 and dataset in page.text and "<!DOCTYPE html>" in page.text
        assert {link.split("/data_docs/")[1].split("/")[0] for link in links} == set(RTE)
        # the Parquet landed under the data root given to the stack: 00:00 UTC on 2025-10-26
        assert list((home / "warehouse" / RTE[1]).rglob("*.parquet"))
        assert {p.name for p in (home / "logs" / "serve").iterdir()} == {"code_server.log", "daemon.log",
                                                                         "webserver.log"}
        children = _descendants(server.pid)
        assert len(children) >= 3  # code server, daemon, webserver (and their helpers)
    finally:
        children = _descendants(server.pid) if server.poll() is None else set()
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, log.read_text()
    assert not _living(children), f"left behind: {_living(children)}"
    assert not _processes_mentioning(f"ENERGY_PIPELINES_HOME={home}\0".encode())
    with pytest.raises(requests.ConnectionError):  # the reports server stopped with the stack
        requests.get(f"http://127.0.0.1:{reports_port}/", timeout=5)
