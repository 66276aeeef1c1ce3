"""A CLI run says what it did: its tags in the UI, its place on the overview timeline, a summary table."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from energy_pipelines.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent
ASSET = "raw_rte__eco2mix_regional"

RUNS_AND_WORKSPACE = """{
  runsOrError { ... on Runs { results { runId pipelineName tags { key value }
                                       repositoryOrigin { repositoryLocationName repositoryName } } } }
  workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
      ... on RepositoryLocation { repositories { name pipelines { name } } } } } } }
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(home: Path, query: str) -> dict:
    """Ask a real webserver on this Dagster home (what the UI's pages query)."""
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    server = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                               "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                body = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=10).json()
                entries = body["data"]["workspaceOrError"]["locationEntries"]
                if entries and all(e["locationOrLoadError"] for e in entries):
                    return body["data"]
            except (requests.ConnectionError, requests.Timeout, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError("the webserver did not answer with a loaded code location")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_cli_run_is_named_by_what_it_does_and_sits_on_the_ui_timeline(settings, monkeypatch, capsys):
    from energy_pipelines import cli

    home = settings.home / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert cli.main(["materialize", ASSET, "--from", "2025-01-02", "--to", "2025-01-03"]) == 0
    out = capsys.readouterr().out

    # the summary table: the asset, its 48 half-hours, the rows written, and the run's count
    row = next(line.split() for line in out.splitlines() if line.startswith(ASSET))
    assert row[:3] == [ASSET, "48", "48"]
    assert "1 run(s), 0 failed" in out

    (run,) = dg.DagsterInstance.get().get_runs()
    assert run.tags["energy_pipelines/run"] == f"materialize {ASSET} 2025-01-02→2025-01-03 48 partition(s) (sample)"
    assert run.tags["energy_pipelines/assets"] == ASSET
    assert run.tags["energy_pipelines/range"] == "2025-01-02→2025-01-03"
    assert run.tags["energy_pipelines/mode"] == "sample"

    # the UI's timeline keeps only runs with a repository origin, grouped by the job of a loaded location
    data = _graphql(home, RUNS_AND_WORKSPACE)
    (shown,) = data["runsOrError"]["results"]
    assert {t["key"]: t["value"] for t in shown["tags"]}["energy_pipelines/run"] == run.tags["energy_pipelines/run"]
    origin = shown["repositoryOrigin"]
    assert origin is not None, "a run without origin is left off the overview timeline"
    jobs = {(entry["name"], repo["name"]): {p["name"] for p in repo["pipelines"]}
            for entry in data["workspaceOrError"]["locationEntries"]
            for repo in entry["locationOrLoadError"]["repositories"]}
    assert shown["pipelineName"] in jobs[(origin["repositoryLocationName"], origin["repositoryName"])]
