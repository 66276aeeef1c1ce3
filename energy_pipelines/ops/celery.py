"""Scale-out on Celery workers (dagster-celery), switched on by `ENERGY_PIPELINES_EXECUTOR=celery`.

The executor's configuration is `deploy/celery.yaml` (broker from `DAGSTER_CELERY_BROKER_URL`),
with one queue per kind of work: the half-hourly job's steps go to `hot`, every other asset run's
(backfills from the UI, history loads, forecasts) to `backfill`. Workers listening on `hot` alone
keep the half-hour flowing whatever the backfill queue holds.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cache

import dagster as dg
import yaml

from energy_pipelines.automation import HALFHOURLY_JOB
from energy_pipelines.settings import PROJECT_ROOT, Settings

CELERY_YAML = PROJECT_ROOT / "deploy" / "celery.yaml"
HOT_QUEUE, BACKFILL_QUEUE = "hot", "backfill"


@cache
def _deploy_config() -> dict:
    try:
        return yaml.safe_load(CELERY_YAML.read_text())["execution"]["config"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{CELERY_YAML}: no execution.config block for the Celery executor ({exc})") from None


def executor_config(queue: str) -> dict:
    """The Celery executor's config from deploy/celery.yaml, its steps sent to `queue`."""
    config = copy.deepcopy(_deploy_config())
    config["config_source"] = {**(config.get("config_source") or {}), "task_default_queue": queue}
    return config


def celery_executor_for(queue: str) -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    return celery_executor.configured(executor_config(queue), name=f"celery_{queue}")


def scale_out(settings: Settings, jobs: Sequence) -> tuple[dg.ExecutorDefinition | None, list]:
    """(default executor, jobs) of the code location: unchanged unless the executor is celery."""
    if settings.executor != "celery":
        return None, list(jobs)
    hot = celery_executor_for(HOT_QUEUE)
    out = [dg.define_asset_job(j.name, selection=j.selection, description=j.description, tags=j.tags,
                               partitions_def=j.partitions_def, executor_def=hot)
           if j.name == HALFHOURLY_JOB else j for j in jobs]
    return celery_executor_for(BACKFILL_QUEUE), out
