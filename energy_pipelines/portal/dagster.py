"""Dagster wiring of the portal: the catalogue-site asset and the daily access schedule.

`portal_definitions(catalog, lineage, deps)` returns a `dg.Definitions` to merge into the code
location (`build.py`): it needs the lineage and the graph's direct dependencies that
`build_data_assets` computes, and uses the `platform` and `portal` resources.

- `portal/catalogue_site` depends on every `datasud/<product>` publication asset and runs after
  any of them materialises (declarative automation), rebuilding the static site from what was
  published (`portal/site.py`).
- `access_grants` (a job of one op) grants the fully approved access requests still pending and
  revokes the expired ones; `access_grants_daily` runs it every day at 00:15, Paris time, and is
  on by default (an expired grant must not outlive the daemon's next tick).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from energy_pipelines.catalog import Catalog
from energy_pipelines.clock import PARIS_NAME
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.resources import Platform, Portal

SITE_KEY = dg.AssetKey(["portal", "catalogue_site"])
GROUP = "portal"
ACCESS_JOB = "access_grants"
ACCESS_SCHEDULE = "access_grants_daily"
ACCESS_CRON = "15 0 * * *"

WHEN_SOMETHING_WAS_PUBLISHED = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after each publication")


def source_of(portal: Portal, products: Iterable[str]):
    from energy_pipelines.portal.published import CkanSource, MirrorSource

    if portal.target == "mirror":
        return MirrorSource(Path(portal.mirror_root))
    return CkanSource(portal.publisher(), products)


def grantor_of(portal: Portal):
    from energy_pipelines.portal.access import MirrorGrantor

    if portal.target == "mirror":
        return MirrorGrantor(Path(portal.mirror_root))
    return portal.publisher()


def build_site_asset(catalog: Catalog, lineage: Mapping[str, Effective],
                     deps: Mapping[str, Iterable[str]]) -> dg.AssetsDefinition:
    products = sorted(d for d in lineage if catalog[d].publish)
    frozen_deps = {k: tuple(sorted(v)) for k, v in deps.items()}

    @dg.asset(
        key=SITE_KEY, group_name=GROUP, kinds={"html"},
        deps=[dg.AssetKey(["datasud", p]) for p in products],
        automation_condition=WHEN_SOMETHING_WAS_PUBLISHED,
        description="The public catalogue site (French, static HTML) rebuilt from what was published: one page per "
                    "product, use-case pages, CSV copies, lineage diagrams, how to ask for restricted products.",
    )
    def catalogue_site(context: dg.AssetExecutionContext, platform: Platform, portal: Portal) -> dg.MaterializeResult:
        from energy_pipelines.portal.config import load_access_config, load_portal_config
        from energy_pipelines.portal.site import SiteInputs, build_site

        inputs = SiteInputs(catalog=catalog, lineage=lineage, deps=frozen_deps, config=load_portal_config(catalog),
                            access=load_access_config(catalog), reports_dir=platform.reports_dir,
                            data_root=Path(platform.home), generated=datetime.now(timezone.utc))
        root = Path(portal.mirror_root)
        report = build_site(source_of(portal, products), root, inputs)
        context.log.info("catalogue site: %d product page(s), %d page(s) in all, %d CSV written, %d unchanged; open %s",
                         len(report.products), len(report.pages), len(report.csv_written), report.csv_unchanged,
                         report.index)
        return dg.MaterializeResult(metadata={
            "index": dg.MetadataValue.path(str(report.index)), "products": len(report.products),
            "pages": len(report.pages), "csv_written": dg.MetadataValue.json(report.csv_written),
            "csv_unchanged": report.csv_unchanged})

    return catalogue_site


def build_access_job(catalog: Catalog, lineage: Mapping[str, Effective]) -> tuple[dg.JobDefinition,
                                                                                    dg.ScheduleDefinition]:
    @dg.op(description="Grant fully approved access requests still pending; revoke grants past their expiry date.")
    def reconcile_access_grants(context: dg.OpExecutionContext, platform: Platform, portal: Portal) -> dict:
        from energy_pipelines.portal.access import AccessRegister
        from energy_pipelines.portal.config import load_access_config

        register = AccessRegister(Path(platform.home) / "access", catalog, lineage, load_access_config(catalog))
        done = register.reconcile(grantor_of(portal))
        context.log.info("access grants: %d granted, %d revoked, %d failed", len(done["granted"]),
                         len(done["revoked"]), len(done["failed"]))
        if done["failed"]:
            raise dg.Failure(description=f"{len(done['failed'])} grant/revocation(s) failed and stay due: "
                                         + ", ".join(done["failed"][:10]) + " (see the audit log)",
                             metadata={k: dg.MetadataValue.json(v) for k, v in done.items()})
        return done

    @dg.job(name=ACCESS_JOB, description="Access requests: grant what is approved, revoke what has expired.",
            tags={"use_case": "portal"})
    def access_grants_job() -> None:
        reconcile_access_grants()

    schedule = dg.ScheduleDefinition(
        name=ACCESS_SCHEDULE, job=access_grants_job, cron_schedule=ACCESS_CRON, execution_timezone=PARIS_NAME,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day at 00:15 (Paris): revoke expired access grants, retry pending ones.")
    return access_grants_job, schedule


def portal_definitions(catalog: Catalog, lineage: Mapping[str, Effective],
                       deps: Mapping[str, Iterable[str]]) -> dg.Definitions:
    """The site asset, the access job and its schedule; resources come from the code location."""
    job, schedule = build_access_job(catalog, lineage)
    return dg.Definitions(assets=[build_site_asset(catalog, lineage, deps)], jobs=[job], schedules=[schedule])
