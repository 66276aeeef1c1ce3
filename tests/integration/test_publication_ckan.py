"""The pipeline publishes to a real CKAN (DataSud's software): public, private, refused, unchanged."""

import hashlib
import json
import shutil

import dagster as dg
import pytest
import requests
import yaml

from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.publish import file_sha256
from energy_pipelines.settings import CATALOG_DIR
from tests.ckan_server import unique_name
from tests.integration.test_publication import PRODUCT, PUBLISH, load_days

pytestmark = pytest.mark.services


def _org(ckan, name, user):
    try:
        ckan.action("organization_show", {"id": name})
    except RuntimeError:
        ckan.create_organization(name)
    ckan.action("organization_member_create", {"id": name, "username": user, "role": "editor"})


def _catalog_with(tmp_path, name, **raw_changes):
    copy = tmp_path / name
    shutil.copytree(CATALOG_DIR, copy)
    path = copy / "datasets" / "raw_rte__eco2mix_regional.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(raw_changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return copy


def _publish(settings, instance, catalog_dir=CATALOG_DIR):
    default_catalog.cache_clear()
    defs = build_defs(settings.with_(publish_target="datasud"), catalog_dir=catalog_dir)
    result = dg.materialize([*defs.assets, *(defs.asset_checks or [])], selection=[PUBLISH],
                            resources=defs.resources, instance=instance, raise_on_error=False)
    default_catalog.cache_clear()
    logged = "\n".join(e.user_message for e in instance.all_logs(result.run_id))
    return result, logged


def test_publishing_to_a_real_ckan(ckan_server, settings, tmp_path, monkeypatch, capfd):
    editor, key = ckan_server.create_user(unique_name("datasud-editor"))
    _org(ckan_server, "region-sud", editor["name"])
    _org(ckan_server, "rte", editor["name"])
    monkeypatch.setenv("ENERGY_PIPELINES_PUBLISH_TARGET", "datasud")
    monkeypatch.setenv("DATASUD_URL", ckan_server.url)
    monkeypatch.setenv("DATASUD_API_KEY", key)
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-10-26")
    logs = []

    # open product -> public dataset of the region, files byte-identical for anyone
    result, logged = _publish(settings, instance)
    logs.append(logged)
    assert result.success, logged
    pkg = requests.get(f"{ckan_server.url}/api/3/action/package_show", params={"id": PRODUCT}, timeout=30).json()
    assert pkg["success"] and pkg["result"]["private"] is False
    assert pkg["result"]["organization"]["name"] == "region-sud" and pkg["result"]["license_id"] == "lov2"
    staging = settings.home / "publication" / PRODUCT
    resources = {r["name"]: r for r in pkg["result"]["resources"]}
    assert set(resources) == {f"{PRODUCT}_2025-10.parquet", "datapackage.json"}
    for name, res in resources.items():
        body = requests.get(res["url"], timeout=30).content  # anonymous download
        assert len(body) == (staging / name).stat().st_size
        assert hashlib.sha256(body).hexdigest() == file_sha256(staging / name)

    # re-publishing unchanged data uploads nothing
    result, logged = _publish(settings, instance)
    logs.append(logged)
    meta = result.get_asset_materialization_events()[-1].materialization.metadata
    assert meta["uploaded"].value == [] and meta["unchanged"].value == 2

    # the owner restricts its source: the product becomes private, in RTE's organisation
    restricted = _catalog_with(tmp_path, "restricted", access="restricted")
    result, logged = _publish(settings, instance, restricted)
    logs.append(logged)
    assert result.success, logged
    anonymous = requests.get(f"{ckan_server.url}/api/3/action/package_show", params={"id": PRODUCT}, timeout=30)
    assert anonymous.status_code == 403
    shown = ckan_server.action("package_show", {"id": PRODUCT})
    assert shown["private"] is True and shown["organization"]["name"] == "rte"
    for res in shown["resources"]:
        assert requests.get(res["url"], timeout=30).status_code in (403, 404)

    # closed at the source: refused before anything is sent, naming the upstream responsible
    closed = _catalog_with(tmp_path, "closed", access="closed", licence="proprietary")
    before = ckan_server.action("package_show", {"id": PRODUCT})["metadata_modified"]
    result, logged = _publish(settings, instance, closed)
    logs.append(logged)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "raw_rte__eco2mix_regional" in failure.step_failure_data.user_failure_data.description
    assert ckan_server.action("package_show", {"id": PRODUCT})["metadata_modified"] == before

    # the key never appears in what the runs logged, nor on the console
    out, err = capfd.readouterr()
    assert key not in "\n".join(logs) + out + err
    for run in instance.get_runs():
        assert key not in json.dumps(run.tags) + str(run.run_config)
        assert all(key not in str(event) for event in instance.all_logs(run.run_id))


def test_a_wrong_key_fails_clearly_without_showing_it(ckan_server, settings, monkeypatch, capfd):
    editor, _ = ckan_server.create_user(unique_name("someone"))
    _org(ckan_server, "region-sud", editor["name"])
    wrong = "not-a-valid-token-" + unique_name("x")
    monkeypatch.setenv("ENERGY_PIPELINES_PUBLISH_TARGET", "datasud")
    monkeypatch.setenv("DATASUD_URL", ckan_server.url)
    monkeypatch.setenv("DATASUD_API_KEY", wrong)
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-10-26")
    result, logged = _publish(settings, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = failure.step_failure_data.error.to_string()
    assert "AuthenticationError" in text
    out, err = capfd.readouterr()
    assert wrong not in text + logged + out + err
