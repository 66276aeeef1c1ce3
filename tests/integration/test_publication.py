"""Publication of products: policy from the lineage, data package, idempotence, gating, dynamic link."""

import io
import json
import os
import shutil

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import yaml

from energy_pipelines.build import build_defs
from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.publish import file_sha256
from energy_pipelines.settings import CATALOG_DIR
from tests.integration.rte_helpers import RTE_CHAIN, key, run_range

PRODUCT = "out_rte__eco2mix_regional"
PUBLISH = dg.AssetKey(["datasud", PRODUCT])


def publish(settings, instance, catalog_dir=CATALOG_DIR, raise_on_error=True):
    defs = build_defs(settings, catalog_dir=catalog_dir)
    return dg.materialize([*defs.assets, *(defs.asset_checks or [])], selection=[PUBLISH],
                          resources=defs.resources, instance=instance, raise_on_error=raise_on_error)


def summary_of(*results) -> str:
    """What the CLI's summary prints for these runs (the demo follows its runs' events the same way)."""
    from rich.console import Console

    from energy_pipelines.console import RunReport

    report = RunReport(console=Console(file=io.StringIO(), width=200))
    for result in results:
        for event in result.all_events:
            report.on_event(event)
        report.run_ends(result)
    report.print_summary()
    return report.console.file.getvalue()


def load_days(settings, instance, *days):
    for day in days:
        start, end = paris_day_bounds(day)
        result = run_range(settings, key(start), key(end - pd.Timedelta(minutes=30)), instance=instance,
                           selection=RTE_CHAIN)
        assert result.success


def mirror_dir(settings):
    return settings.published_dir / "region-sud" / PRODUCT


def test_open_product_is_published_to_the_mirror_with_its_data_package(settings):
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-09-30", "2025-10-26")
    result = publish(settings, instance)
    meta = result.get_asset_materialization_events()[-1].materialization.metadata
    assert meta["outcome"].value == "public" and meta["target"].value == "mirror"
    assert meta["publication_status"].value == "published"
    folder = mirror_dir(settings)
    package = json.loads((folder / "package.json").read_text())
    assert package["private"] is False and package["license_id"] == "lov2"
    names = sorted(r["name"] for r in package["resources"])
    assert names == ["datapackage.json", f"{PRODUCT}_2025-09.parquet", f"{PRODUCT}_2025-10.parquet"]
    dp = json.loads((folder / "datapackage.json").read_text())
    assert {c["organization"] for c in dp["contributors"] if c["role"] == "owner"} == {"rte"}
    assert dp["licenses"][0]["name"] == "etalab-2.0"
    assert [s["name"] for s in dp["sources"]] == ["raw_rte__eco2mix_regional"]
    for res in dp["resources"]:
        path = folder / res["path"]
        assert res["hash"] == f"sha256:{file_sha256(path)}" and res["bytes"] == path.stat().st_size
        assert [f["name"] for f in res["schema"]["fields"]][:2] == ["datetime_utc", "datetime_local"]
        # every published Parquet carries its owners in its key-value metadata
        kv = json.loads(pq.read_schema(path).metadata[b"energy_pipelines"])
        assert [o["id"] for o in kv["owners"]] == ["rte"] and kv["access"] == "open"
    october = pq.read_table(folder / f"{PRODUCT}_2025-10.parquet").to_pandas()
    assert len(october) == 50  # the autumn DST day, every half-hour
    # a standard tool agrees: the descriptor is a valid data package and the data fits its schema
    # (frictionless cannot measure a binary Parquet source, so bytes/hash are checked above instead)
    import frictionless

    report = frictionless.validate(str(folder / "datapackage.json"), skip_errors=["byte-count", "hash-count"])
    assert report.valid, [e.message for task in report.tasks for e in task.errors][:5]


def test_unchanged_data_uploads_nothing_and_a_corrected_file_republishes_only_its_month(settings):
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-09-30", "2025-10-26")
    first = publish(settings, instance)
    second = publish(settings, instance)
    again = second.get_asset_materialization_events()[-1].materialization.metadata
    assert again["uploaded"].value == [] and again["publication_status"].value == "unchanged"
    assert f"  published (1): {PRODUCT}\n" in summary_of(first)
    assert f"  unchanged (1): {PRODUCT}\n" in summary_of(second)
    # the provider corrects one October half-hour: a later export of the same status lands (the latest
    # delivery wins at equal status: transforms/eco2mix.py)
    t = pd.Timestamp("2025-10-26T09:00Z")
    folder = settings.landing_dir / "rte_eco2mix_regional"
    (folder / "odre_eco2mix-regional-cons-def_93_fix.json").write_text(json.dumps([{
        "code_insee_region": "93", "nature": "Données définitives", "date_heure": t.isoformat(),
        "consommation": 4321, "thermique": 300, "nucleaire": None, "eolien": 10, "solaire": 600,
        "hydraulique": 1000, "pompage": 0, "bioenergies": 100, "ech_physiques": 2311}]))
    result = run_range(settings, key(t), key(t), instance=instance, selection=RTE_CHAIN)
    assert result.success
    meta = publish(settings, instance).get_asset_materialization_events()[-1].materialization.metadata
    assert sorted(meta["uploaded"].value) == ["datapackage.json", f"{PRODUCT}_2025-10.parquet"]
    october = pq.read_table(mirror_dir(settings) / f"{PRODUCT}_2025-10.parquet").to_pandas()
    assert october.set_index("datetime_utc").loc[t, "consommation_mw"] == 4321


def test_a_product_without_data_publishes_nothing_and_is_not_materialised(settings):
    """Nothing published is no materialisation: the asset stays unmaterialised, the reason is observed."""
    instance = dg.DagsterInstance.ephemeral()
    result = publish(settings, instance)
    assert result.success
    assert result.get_asset_materialization_events() == []
    assert instance.get_latest_materialization_event(PUBLISH) is None
    observed = instance.fetch_observations(PUBLISH, limit=1).records[0].asset_observation.metadata
    assert observed["publication_status"].value == "empty"
    assert observed["reason"].value == f"{PRODUCT} holds no data yet: nothing published"
    warnings = [r.user_message for r in instance.all_logs(result.run_id) if r.level >= 30]
    assert any(f"skipped datasud/{PRODUCT}: {PRODUCT} holds no data yet" in m for m in warnings), warnings
    summary = summary_of(result)
    assert f"  empty (1): {PRODUCT}\n" in summary and "published (" not in summary
    assert not mirror_dir(settings).exists()


def test_a_failing_blocking_check_keeps_data_off_the_portal(settings):
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-09-30")
    publish(settings, instance)
    # a later export with an impossible consumption for one October half-hour
    t = pd.Timestamp("2025-10-01T08:00Z")
    folder = settings.landing_dir / "rte_eco2mix_regional"
    bad = folder / "odre_eco2mix-regional-cons-def_93_bad.json"
    bad.write_text(json.dumps([{
        "code_insee_region": "93", "nature": "Données définitives", "date_heure": t.isoformat(),
        "consommation": -4000, "thermique": 300, "nucleaire": None, "eolien": 10, "solaire": 600,
        "hydraulique": 1000, "pompage": 0, "bioenergies": 100, "ech_physiques": -6010}]))
    # it arrives after the day's regular export (which the sample writes during the run)
    later = pd.Timestamp.now(tz="UTC").timestamp() + 3600
    os.utime(bad, (later, later))
    start, end = paris_day_bounds("2025-10-01")
    first, last = key(start), key(end - pd.Timedelta(minutes=30))
    result = run_range(settings, first, last, instance=instance, selection=RTE_CHAIN, raise_on_error=False)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed
              and e.severity == dg.AssetCheckSeverity.ERROR]
    assert failed and {e.asset_key.to_user_string() for e in failed} == {"core_rte__eco2mix_regional"}
    # the blocking check stopped the product in the same run, so the portal cannot see October
    assert PRODUCT not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert publish(settings, instance).success
    published = {r["name"] for r in json.loads((mirror_dir(settings) / "package.json").read_text())["resources"]}
    assert f"{PRODUCT}_2025-10.parquet" not in published

    # someone rebuilds the chain without its checks: the product now holds unvouched October data
    defs = build_defs(settings)
    forced = dg.materialize(list(defs.assets), selection=RTE_CHAIN, resources=defs.resources, instance=instance,
                            tags={"dagster/asset_partition_range_start": first,
                                  "dagster/asset_partition_range_end": last})
    assert forced.success
    outcome = publish(settings, instance, raise_on_error=False)
    assert not outcome.success  # the run says so, in red
    published = {r["name"] for r in json.loads((mirror_dir(settings) / "package.json").read_text())["resources"]}
    assert f"{PRODUCT}_2025-10.parquet" not in published and f"{PRODUCT}_2025-09.parquet" in published


def test_publication_is_refused_when_the_lineage_says_closed(settings, tmp_path):
    copy = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    raw = copy / "datasets" / "raw_rte__eco2mix_regional.yaml"
    data = yaml.safe_load(raw.read_text())
    data.update(access="closed", licence="proprietary")
    raw.write_text(yaml.safe_dump(data, allow_unicode=True))
    from energy_pipelines.catalog import default_catalog

    default_catalog.cache_clear()
    instance = dg.DagsterInstance.ephemeral()
    defs = build_defs(settings, catalog_dir=copy)
    result = dg.materialize([*defs.assets], selection=[PUBLISH], resources=defs.resources, instance=instance,
                            raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message + (failure.step_failure_data.user_failure_data.description
                                                          if failure.step_failure_data.user_failure_data else "")
    assert "cannot be published" in message and "raw_rte__eco2mix_regional" in message
    assert not settings.published_dir.exists()
    default_catalog.cache_clear()


def test_a_new_product_version_requests_its_publication(settings):
    """The dynamic link: once the product is materialised and its checks pass, publication is due."""
    instance = dg.DagsterInstance.ephemeral()
    defs = build_defs(settings)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(PUBLISH))
    assert result.total_requested == 0
    load_days(settings, instance, "2025-09-30")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor,
                                               asset_selection=dg.AssetSelection.assets(PUBLISH))
    assert result.get_num_requested(PUBLISH) == 1
