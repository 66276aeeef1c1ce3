"""Jobs, schedules and sensors: how the half-hourly flow runs by itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta, timezone

import dagster as dg

from energy_pipelines.partitions import half_hour_key
from energy_pipelines.settings import Settings

HALFHOURLY_JOB = "halfhourly_job"
# RTE publishes its real-time regional figures with some delay: ask for the half-hour that
# ended this long ago, so the data is there when the run starts.
RTE_LAG = timedelta(hours=1)
RTE_CHAIN = ("raw_rte__eco2mix_regional", "core_rte__eco2mix_regional", "out_rte__eco2mix_regional")


def publication_sensor(status: str = "running") -> dg.AutomationConditionSensorDefinition:
    """Publication follows the products: each `datasud/*` asset runs when its product changed."""
    return dg.AutomationConditionSensorDefinition(
        "publication_on_product_change",
        target=dg.AssetSelection.groups("publication"),
        default_status=dg.DefaultSensorStatus.RUNNING if status == "running" else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=60,
    )


def _half_hourly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    keys = []
    for a in assets:
        pd = a.partitions_def
        if isinstance(pd, dg.TimeWindowPartitionsDefinition) and pd.cron_schedule == "*/30 * * * *":
            keys.extend(a.keys)
    return keys


def jobs(assets: Sequence[dg.AssetsDefinition]) -> list:
    return [
        dg.define_asset_job(
            HALFHOURLY_JOB,
            selection=dg.AssetSelection.assets(*_half_hourly_keys(assets)),
            description="Every half-hourly dataset for one half-hour (or a range, as one run).",
            executor_def=dg.in_process_executor,  # one process: run start-up dominates small half-hours
        )
    ]


@dg.schedule(job_name=HALFHOURLY_JOB, cron_schedule="5,35 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def rte_eco2mix_halfhourly(context: dg.ScheduleEvaluationContext):
    """The open RTE source every half-hour, for the half-hour that ended an hour ago."""
    t = context.scheduled_execution_time.astimezone(timezone.utc) - RTE_LAG
    start = t.replace(minute=(t.minute // 30) * 30, second=0, microsecond=0) - timedelta(minutes=30)
    key = half_hour_key(start)
    return dg.RunRequest(run_key=key, partition_key=key,
                         asset_selection=[dg.AssetKey(k) for k in RTE_CHAIN])


def schedules(assets: Sequence[dg.AssetsDefinition]) -> list:
    return [rte_eco2mix_halfhourly]


def sensors(assets: Sequence[dg.AssetsDefinition], settings: Settings) -> list:
    from energy_pipelines.automation.landing_sensor import landing_sensors  # UC2: landing zone -> half-hourly runs
    return [*landing_sensors(assets, settings), publication_sensor(settings.automation)]
