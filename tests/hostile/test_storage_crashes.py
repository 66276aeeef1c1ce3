"""Crash safety and concurrency of the store, with real processes (issue 10: the guarantees the README lists).

- kill -9 between writing the temporary file and renaming it: readers keep the previous rows whole;
  the orphan is removed by the next write once it is old enough to belong to no live writer.
- two processes writing different windows of one dataset at once: the per-dataset lock serialises
  them; every row of both windows is there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from energy_pipelines.storage import ParquetStore

T0 = datetime(2025, 10, 26, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import os, sys, time
from datetime import datetime, timedelta, timezone
import pandas as pd
from energy_pipelines.storage import ParquetStore, atomic
root, value, hours, pause = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
if pause:  # stop between the temporary file and the rename, so the test can kill us there
    real = os.replace
    def slow(src, dst):
        print("renaming", flush=True); time.sleep(pause); real(src, dst)
    atomic.os.replace = slow
t0 = datetime(2025, 10, 26, tzinfo=timezone.utc) + timedelta(hours=hours)
times = [t0 + timedelta(minutes=30 * i) for i in range(2)]
ParquetStore(root).write("core_x__y", pd.DataFrame({"datetime_utc": times, "value": [value, value]}),
                         time_column="datetime_utc", window=(t0, t0 + timedelta(hours=1)))
print("done", flush=True)
"""


def _writer(root: Path, value: float, hours: int, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(value), str(hours), str(pause)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_kill_9_between_write_and_rename_keeps_the_previous_rows(tmp_path):
    store = ParquetStore(tmp_path)
    assert _writer(tmp_path, 1.0, 0).wait(timeout=120) == 0
    victim = _writer(tmp_path, 2.0, 0, pause=60)
    assert victim.stdout.readline().strip() == "renaming"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert store.read("core_x__y", time_column="datetime_utc")["value"].to_pylist() == [1.0, 1.0]
    orphans = list(tmp_path.rglob(".*.tmp"))
    assert len(orphans) == 1
    old = time.time() - 2 * 3600  # an hour later, no live writer can own it
    os.utime(orphans[0], (old, old))
    assert _writer(tmp_path, 3.0, 0).wait(timeout=120) == 0
    assert not orphans[0].exists()
    assert store.read("core_x__y", time_column="datetime_utc")["value"].to_pylist() == [3.0, 3.0]


def test_concurrent_writers_of_one_dataset_lose_nothing(tmp_path):
    writers = [_writer(tmp_path, float(h), h) for h in range(4)]  # four windows, same UTC date file
    assert [w.wait(timeout=180) for w in writers] == [0, 0, 0, 0]
    stored = ParquetStore(tmp_path).read("core_x__y", time_column="datetime_utc").to_pandas()
    assert len(stored) == 8 and stored["datetime_utc"].is_unique
    assert sorted(stored["value"].unique()) == [0.0, 1.0, 2.0, 3.0]
    assert pd.Timestamp(T0) in set(stored["datetime_utc"]) and pd.Timestamp(T0 + timedelta(hours=3, minutes=30)) in set(stored["datetime_utc"])


CLI_RUN = """
import sys
from energy_pipelines import cli
sys.exit(cli.main(["materialize", "raw_rte__eco2mix_regional,core_rte__eco2mix_regional",
                   "--from", "2024-01-01", "--to", "2024-01-11"]))
"""


@pytest.mark.slow
def test_a_cli_run_killed_with_kill_9_is_marked_failed_by_the_next_invocation(tmp_path):
    """Dagster's run monitoring cannot check in-process runs: without the sweep the run stays STARTED."""
    import dagster as dg

    from energy_pipelines import cli
    from energy_pipelines.settings import load_settings

    env = {**os.environ, "ENERGY_PIPELINES_HOME": str(tmp_path / "home"), "ENERGY_PIPELINES_MODE": "sample",
           "ENERGY_PIPELINES_PARTITIONS_START": "2024-01-01"}
    env.pop("DAGSTER_HOME", None)
    victim = subprocess.Popen([sys.executable, "-c", CLI_RUN], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = load_settings(env)
    instance = dg.DagsterInstance.from_config(str(cli.dagster_home(settings)))
    deadline = time.monotonic() + 300
    started = []
    while not started and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.5)
        started = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert started, "the CLI run never showed as STARTED"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    (run,) = started
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # left behind
    assert run.tags["energy_pipelines/pid"] == str(victim.pid)

    os.environ.pop("DAGSTER_HOME", None)
    try:
        swept = cli._instance(settings)
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    assert swept.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    failure = swept.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert f"its process {victim.pid}" in failure[-1].event_log_entry.dagster_event.message
    # a live run of this host is not touched: this process's own tags are alive
    from energy_pipelines.runs import fail_orphaned_runs
    assert fail_orphaned_runs(swept) == []
