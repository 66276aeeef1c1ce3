"""Runs the CLI launches, named by what they do and attached to the code location.

`dg.materialize()` creates an anonymous `__ephemeral_asset_job__` run with no code-location origin:
the UI cannot say what it did and its overview timeline skips runs without an origin. Here the run
is created for the code location's own asset job (`__ASSET_JOB`, what the UI's "Materialize"
button uses), with the origin of `workspace.yaml`'s location and tags saying which assets, which
days and which mode; it is then executed in this process, event by event, so the CLI can show
progress while it runs.

Runs whose process was killed are marked failed, so the UI and the next backfill see them as such.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import dagster as dg

from energy_pipelines.clock import PARIS
from energy_pipelines.settings import PROJECT_ROOT

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object

RUN_TAG = "energy_pipelines/run"  # one line saying what the run does
ASSETS_TAG = "energy_pipelines/assets"
RANGE_TAG = "energy_pipelines/range"
MODE_TAG = "energy_pipelines/mode"
COMMAND_TAG = "energy_pipelines/command"
MAX_NAMED = 3  # assets named in the one-line description; the assets tag has them all


def _paris(t: datetime) -> str:
    local = t.astimezone(PARIS)
    return f"{local:%Y-%m-%d}" if (local.hour, local.minute) == (0, 0) else f"{local:%Y-%m-%d %H:%M}"


def paris_day_range(start: datetime, end: datetime) -> str:
    """`2024-01-01→2024-01-02` (Paris days, end exclusive as on the command line); a bound that is not
    a Paris midnight (the demo stops at the last half-hour) shows its time."""
    return f"{_paris(start)}→{_paris(end)}"


def run_tags(command: str, keys: Iterable[dg.AssetKey], start: datetime, end: datetime, mode: str,
             partitions: Sequence[str] = ()) -> dict[str, str]:
    """Tags the UI shows on the run: what it does in one line, and each part on its own."""
    names = sorted(k.to_user_string() for k in keys)
    shown = ",".join(names) if len(names) <= MAX_NAMED else \
        f"{len(names)} assets ({','.join(names[:MAX_NAMED])},…)"
    days = paris_day_range(start, end)
    extent = f" {days}" + (f" {len(partitions)} partition(s)" if partitions else "")
    return {
        RUN_TAG: f"{command} {shown}{extent} ({mode})",
        ASSETS_TAG: ",".join(names),
        RANGE_TAG: days,
        MODE_TAG: mode,
        COMMAND_TAG: command,
    }


def code_location_origin(job_name: str):
    """The origin of `workspace.yaml`'s code location, as the UI gives runs it launches itself."""
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    (location,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    return RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, REPOSITORY), job_name=job_name)


def execute(assets: Sequence, resources: Mapping, selection: Iterable[dg.AssetKey], *, instance: dg.DagsterInstance,
            tags: Mapping[str, str], run_config: Mapping | None = None,
            on_event: Callable[[dg.DagsterEvent], None] | None = None) -> dg.ExecuteInProcessResult:
    """Materialise `selection` (with its checks) as one run of the location's asset job, in this process.

    Same result as `dg.materialize(..., raise_on_error=False)`; `on_event` sees each event as it happens.
    """
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import execute_run_iterator

    job = dg.Definitions(assets=list(assets), resources=dict(resources),
                         executor=dg.in_process_executor).resolve_implicit_global_asset_job_def()
    run = instance.create_run_for_job(job_def=job, run_config=dict(run_config or {}), tags=dict(tags),
                                      asset_selection=set(selection),
                                      remote_job_origin=code_location_origin(job.name))
    events = []
    for event in execute_run_iterator(InMemoryJob(job), run, instance):
        events.append(event)
        if on_event is not None:
            on_event(event)
    return dg.ExecuteInProcessResult(job_def=job, event_list=events, dagster_run=instance.get_run_by_id(run.run_id),
                                     output_capture=None)


# -- runs whose process was killed -------------------------------------------------------------
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
