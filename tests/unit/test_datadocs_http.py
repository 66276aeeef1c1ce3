"""Data Docs reachable from the UI: a browser does not follow the checks' file:// links, so `energy-pipelines ui`
and `serve` serve the reports folder over http on 127.0.0.1 and the checks link their page through it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import dagster as dg
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks import EXPECTATIONS, build_checks
from energy_pipelines.checks.datadocs import ReportsServer, page_url
from energy_pipelines.checks.samples import good_frame, violations
from energy_pipelines.checks.suites import expectations_dir_for, load_suite
from energy_pipelines.partitions import for_partitioning, paris_day_bounds
from energy_pipelines.resources import Platform
from energy_pipelines.settings import SettingsError, load_settings
from energy_pipelines.storage import ParquetStore
from energy_pipelines.storage.schema import to_arrow

CATALOG = default_catalog()
DATASET = "core_rte__eco2mix_regional"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def check_metadata(settings, day: str, broken: bool) -> dict:
    """Store a day of the dataset (one rule broken when asked) and run its expectations check as Dagster does."""
    spec = CATALOG[DATASET]
    suite = load_suite(spec, expectations_dir_for(CATALOG))
    window = paris_day_bounds(day)
    frame = good_frame(spec, suite, window)
    if broken:
        violation = next(v for v in violations(spec, suite) if v.storable and v.row_level and v.rule.startswith("range:"))
        frame = violation.apply(frame, 3)
    ParquetStore(settings.warehouse_dir).write(spec.id, to_arrow(frame), time_column=spec.time_column, window=window)

    @dg.asset(name=spec.id, partitions_def=for_partitioning(spec.partitioning, settings))
    def _stub() -> None:
        return None

    pdef = _stub.partitions_def
    keys = list(pdef.get_partition_keys_in_time_window(dg.TimeWindow(*window)))
    checks = [c for c in build_checks([_stub], CATALOG, settings) if next(iter(c.check_keys)).name == EXPECTATIONS]
    result = dg.materialize([_stub, *checks], selection=dg.AssetSelection.checks(*checks),
                            resources={"platform": Platform.from_settings(settings)},
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                            tags={"dagster/asset_partition_range_start": keys[0],
                                  "dagster/asset_partition_range_end": keys[-1]})
    evaluations = result.get_asset_check_evaluations()
    assert evaluations
    # every evaluation of the run links the same page; the failing one is the one a user opens
    chosen = next((e for e in evaluations if not e.passed), evaluations[0])
    return {k: v.value for k, v in chosen.metadata.items()}


def test_the_link_in_a_checks_metadata_opens_the_page_over_http(tmp_path):
    home = tmp_path / "home"
    # as `energy-pipelines ui` does: serve <home>/reports on a loopback port, hand the URL to the runs' processes
    with ReportsServer(home / "reports", 0) as server:
        settings = load_settings({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_REPORTS_URL": server.url,
                                  "ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01"})
        metadata = check_metadata(settings, "2025-03-30", broken=True)
        url = metadata["data_docs_url"]
        assert url.startswith(server.url + "data_docs/" + DATASET + "/validations/"), url
        status, body = get(url)
        assert status == 200
        assert DATASET in body and "ERROR" in body and "range:" in body
        # the file path stays for whoever reads the disk, and it is the page that was served
        assert open(metadata["data_docs"], encoding="utf-8").read() == body
        # the pages' relative links resolve over http too (dataset index, site index)
        assert get(server.url + f"data_docs/{DATASET}/index.html")[0] == 200
        assert DATASET in get(server.url + "data_docs/index.html")[1]
    with pytest.raises(OSError):  # stopped with the UI: nothing answers any more
        urllib.request.urlopen(url, timeout=2)


def test_without_a_served_folder_the_link_stays_a_file_url(tmp_path):
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path / "home"),
                              "ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01"})
    metadata = check_metadata(settings, "2025-10-26", broken=False)
    assert metadata["data_docs_url"].startswith("file://")
    assert metadata["data_docs_url"].endswith(metadata["data_docs"].replace(" ", "%20"))


def test_page_url_quotes_the_path_below_the_served_root(tmp_path):
    page = tmp_path / "reports" / "data_docs" / "a b" / "latest.html"
    assert page_url(page, tmp_path / "reports", "http://127.0.0.1:3001/") == \
        "http://127.0.0.1:3001/data_docs/a%20b/latest.html"
    with pytest.raises(ValueError):  # a page outside the served folder has no URL there
        page_url(tmp_path / "elsewhere.html", tmp_path / "reports", "http://127.0.0.1:3001/")


def test_the_server_serves_only_the_reports_folder_on_the_loopback(tmp_path):
    (tmp_path / "secret.txt").write_text("not served")
    with ReportsServer(tmp_path / "reports", 0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert get(server.url + "../secret.txt")[0] == 404
        assert get(server.url + "%2e%2e/secret.txt")[0] == 404
        with pytest.raises(OSError):  # a port already taken is refused, not shared
            ReportsServer(tmp_path / "reports", server.port)


def test_the_reports_url_setting_is_an_http_url(tmp_path):
    home = {"ENERGY_PIPELINES_HOME": str(tmp_path)}
    assert load_settings({**home, "ENERGY_PIPELINES_REPORTS_URL": "http://h:3001"}).reports_url == "http://h:3001/"
    assert load_settings(home).reports_url is None
    with pytest.raises(SettingsError, match="ENERGY_PIPELINES_REPORTS_URL='file:///tmp/reports'"):
        load_settings({**home, "ENERGY_PIPELINES_REPORTS_URL": "file:///tmp/reports"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    members.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return members


def test_the_ui_command_serves_the_reports_and_stops_them_with_the_ui(tmp_path):
    home = tmp_path / "home"
    (home / "reports" / "data_docs").mkdir(parents=True)
    (home / "reports" / "data_docs" / "index.html").write_text("<p>out_test__page</p>")
    port, reports_port = free_port(), free_port()
    env = {**os.environ, "ENERGY_PIPELINES_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dh")}
    cli = subprocess.Popen([sys.executable, "-m", "energy_pipelines.cli", "ui", "--port", str(port),
                            "--reports-port", str(reports_port)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and cli.poll() is None:
            try:
                status, body = get(f"http://127.0.0.1:{reports_port}/data_docs/index.html")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200 and "out_test__page" in body
        cli.send_signal(signal.SIGTERM)  # as a service manager stops it: the UI stops, then the reports server
        output = cli.communicate(timeout=60)[0]
        assert f"http://127.0.0.1:{reports_port}/data_docs/index.html" in output
        with pytest.raises(OSError):
            get(f"http://127.0.0.1:{reports_port}/data_docs/index.html")
        deadline = time.monotonic() + 20
        while session_members(cli.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert session_members(cli.pid) == []  # nothing of `dagster dev` left behind
    finally:  # whatever is left in the session this test started (the CLI, `dagster dev` and its children)
        for pid in session_members(cli.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if cli.poll() is None:
            cli.wait()
