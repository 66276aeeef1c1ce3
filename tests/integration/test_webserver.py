"""`dagster-webserver -w workspace.yaml` serves the asset graph (what `dagster dev` shows)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from energy_pipelines.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_ui_serves_the_asset_graph_with_owners(tmp_path):
    port = _free_port()
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "ENERGY_PIPELINES_HOME": str(tmp_path / "home")}
    server = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                               "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        query = "{ assetNodes { assetKey { path } owners { ... on TeamAssetOwner { team } } groupName } }"
        nodes = None
        deadline = time.time() + 180
        while time.time() < deadline and nodes is None:
            try:
                body = requests.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
                nodes = body["data"]["assetNodes"] if body.get("data") and body["data"]["assetNodes"] else None
            except (requests.ConnectionError, requests.Timeout, KeyError, ValueError):
                pass
            if nodes is None:
                time.sleep(1)
        assert nodes, "the webserver did not serve the asset graph"
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        core = by_key["core_rte__eco2mix_regional"]
        assert [o["team"] for o in core["owners"]] == ["rte"] and core["groupName"] == "core_rte"
        assert "datasud/out_rte__eco2mix_regional" in by_key
    finally:
        server.terminate()
        server.wait(timeout=30)
