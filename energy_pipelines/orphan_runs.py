"""Runs whose process was killed: marked failed, so the UI and the next backfill see them as such.

A run launched in-process by the CLI (or a test, or a notebook) that is killed with `kill -9` stays
STARTED in Dagster's storage forever: run monitoring only checks the workers of run launchers that
can report their health, and the default launcher cannot. So every run the CLI starts carries its
host and process id, and every CLI invocation first marks STARTED runs of this host whose process is
gone as failed, saying why. Runs of other hosts are left alone (their process cannot be checked
from here); runs launched by the daemon are its run monitoring's job (deploy/dagster.yaml).
"""

from __future__ import annotations

import os
import socket

import dagster as dg

HOST_TAG, PID_TAG = "energy_pipelines/host", "energy_pipelines/pid"


def owner_tags() -> dict[str, str]:
    """The tags that let a later invocation tell whether this run's process is still alive."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs of this host whose process is gone; returns their ids."""
    host = socket.gethostname()
    # NOT_STARTED too: a long range is planned in-process before it starts, and can be killed then
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    runs = instance.get_runs(dg.RunsFilter(statuses=unfinished, tags={HOST_TAG: host}))
    failed = []
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run, f"its process {pid} on {host} is gone (killed?): marked failed so its partitions can be "
                 "run again")
        failed.append(run.run_id)
    return failed
