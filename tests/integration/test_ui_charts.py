"""What an engineer sees in the Dagster UI after a range run (issue 19), checked in a real browser.

A day and a half of the RTE chain in one run, on a SQLite instance the webserver reads: each
half-hour partition shows its own row count (they differ: RTE sent nothing for some hours), and
the run's chart opens from the asset's page as an image.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import requests

from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.settings import PROJECT_ROOT, load_settings
from tests.conftest import require_service
from tests.integration.rte_helpers import key, run_range
from tests.unit.test_rte_reader import ALL_HOURS, archive_rows, write_archive

CHROMIUM = "/usr/bin/chromium"
ASSET = "core_rte__eco2mix_regional"
QUERY = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 500) { partition metadataEntries { label
    ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.services
def test_partitions_show_their_own_row_counts_and_the_chart_opens_in_the_ui(tmp_path):
    require_service(Path(CHROMIUM).exists(), "no headless Chromium (Debian package `chromium`; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path / "home"), "ENERGY_PIPELINES_MODE": "live",
                              "ENERGY_PIPELINES_OFFLINE": "true", "ENERGY_PIPELINES_PARTITIONS_START": "2025-05-01"})
    folder = settings.landing_dir / "rte_eco2mix_regional"
    folder.mkdir(parents=True)
    gap = [h for h in ALL_HOURS if not h.startswith(("03:", "04:"))]  # nothing from RTE for 03:00-04:59
    write_archive(folder / "eCO2mix_RTE_PACA_Annuel-Definitif_2025.csv",
                  archive_rows("31/05/2025", ALL_HOURS) + archive_rows("01/06/2025", gap))
    start, end = paris_day_bounds("2025-05-31")[0], paris_day_bounds("2025-06-01")[1]
    instance = dg.DagsterInstance.local_temp(tempdir=str(dagster_home))
    assert run_range(settings, key(start), key(end - pd.Timedelta(minutes=30)), instance=instance).success

    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "ENERGY_PIPELINES_HOME": str(settings.home),
           "ENERGY_PIPELINES_PARTITIONS_START": "2025-05-01"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p",
                               str(port), "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        body, deadline = None, time.time() + 180
        while time.time() < deadline:
            try:
                body = requests.post(f"{url}/graphql", json={"query": QUERY, "variables": {"path": [ASSET]}},
                                     timeout=20).json()
                if body.get("data", {}).get("assetOrError", {}).get("assetMaterializations"):
                    break
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(1)
        events = body["data"]["assetOrError"]["assetMaterializations"]
        rows = {e["partition"]: next(m["intValue"] for m in e["metadataEntries"] if m["label"] == "dagster/row_count")
                for e in events}
        assert len(rows) == 96 and set(rows.values()) == {0, 1}  # each half-hour its own figure
        last = key(end - pd.Timedelta(minutes=30))
        charted = [e for e in events if any(m["label"] == "chart" for m in e["metadataEntries"])]
        assert [e["partition"] for e in charted] == [last]  # the run's chart: on its last partition only

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # Dagster's "join the community" pop-up is shown once per browser: mark it as seen
            page.add_init_script("window.localStorage.setItem('communityNux', '1')")
            page.goto(f"{url}/assets/{ASSET}?view=events&partition={last}", wait_until="networkidle")
            page.get_by_text("[Show Markdown]").first.click()
            image = page.locator(f"img[alt^='{ASSET}: chart']")
            image.wait_for(timeout=20_000)
            width, height = image.evaluate("e => [e.naturalWidth, e.naturalHeight]")
            page.screenshot(path=str(tmp_path / "chart_in_the_ui.png"))
            browser.close()
        assert width > 300 and height > 100  # a real picture, not a broken image
    finally:
        server.terminate()
        server.wait(timeout=60)
