"""One licence per published product: decided by the catalogue, checked against every upstream owner's terms,
and the same in the data package, the Parquet key-value metadata and CKAN's license_id."""

import json
import shutil

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from energy_pipelines.catalog import Catalog, CatalogError, DatasetSpec, default_catalog, load_catalog
from energy_pipelines.governance.licensing import decide_licence, load_terms
from energy_pipelines.governance.lineage import compute_lineage
from energy_pipelines.governance.policy import PUBLIC, REFUSED, decide
from energy_pipelines.publish.products import publication_request
from energy_pipelines.settings import CATALOG_DIR
from tests.integration.test_publication import PRODUCT, load_days, mirror_dir, publish

BASE = load_catalog(CATALOG_DIR)
SCHEMA = {"primary_key": ["k"], "columns": {"k": {"dtype": "string", "nullable": False, "description": "clé"}}}


def ds(id_, **kw) -> DatasetSpec:
    layer = id_.split("_", 1)[0]
    fields = {"id": id_, "layer": layer, "title": id_, "description": id_, "publisher": "region_sud",
              "licence": "etalab-2.0", "partitioning": "none", "schema": SCHEMA, **kw}
    if layer == "raw":
        fields.setdefault("source", {"id": id_, "adapter": "x"})
        fields.setdefault("access", "open")
        fields.setdefault("personal_data", False)
        fields.setdefault("commercially_sensitive", False)
    return DatasetSpec.model_validate(fields)


def lineage_of(*specs, product="out_x__p"):
    cat = Catalog(datasets={s.id: s for s in specs}, organisations=BASE.organisations, licences=BASE.licences,
                  directory=CATALOG_DIR)
    deps = {s.id: [] for s in specs if s.layer == "raw"}
    deps[product] = [s.id for s in specs if s.layer == "raw"]
    return compute_lineage(cat, deps)[product], cat


def test_an_open_upstream_allows_any_licence_and_credits_its_owner():
    eff, cat = lineage_of(ds("raw_rte__mix", owner="rte"), ds("out_x__p", publish=True, licence="cc-by-4.0"))
    decision = decide_licence(eff, cat)
    assert decision.allowed and decision.licence == "cc-by-4.0"
    assert decision.attribution == ("rte",)
    assert decide(eff, cat).outcome == PUBLIC


def test_share_alike_refuses_another_licence_and_names_the_upstream():
    odbl = ds("raw_osm__roads", owner="region_sud", licence="odbl-1.0")
    eff, cat = lineage_of(odbl, ds("raw_rte__mix", owner="rte"), ds("out_x__p", publish=True))
    decision = decide_licence(eff, cat)
    assert not decision.allowed
    assert [t.dataset for t in decision.refusals] == ["raw_osm__roads"]  # RTE's Etalab data does not object
    assert "raw_osm__roads" in decision.reason and "odbl-1.0" in decision.reason and "etalab-2.0" in decision.reason
    verdict = decide(eff, cat)
    assert verdict.outcome == REFUSED and verdict.reason == decision.reason
    # the same product under ODbL is allowed: the upstream's own licence carried on, Etalab allows anything
    eff2, cat2 = lineage_of(odbl, ds("raw_rte__mix", owner="rte"), ds("out_x__p", publish=True, licence="odbl-1.0"))
    assert decide_licence(eff2, cat2).allowed and decide(eff2, cat2).outcome == PUBLIC


def test_proprietary_data_follows_its_owners_convention():
    cigale = ds("raw_atmosud__inv", owner="atmosud", licence="proprietary", access="restricted")
    # AtmoSud's convention permits no open licence: an Etalab product of CIGALE data is refused ...
    eff, cat = lineage_of(cigale, ds("out_x__p", publish=True))
    decision = decide_licence(eff, cat)
    assert not decision.allowed and "raw_atmosud__inv (atmosud, proprietary)" in decision.reason
    assert "does not allow etalab-2.0" in decision.reason
    assert decide(eff, cat).outcome == REFUSED
    # ... while the same product kept under the owner's terms goes private (restricted access)
    eff, cat = lineage_of(cigale, ds("out_x__p", publish=True, licence="proprietary"))
    assert decide_licence(eff, cat).allowed and decide(eff, cat).outcome == "private"
    # an owner without any declared convention: refused, saying so
    eff, cat = lineage_of(ds("raw_insee__secret", owner="insee", licence="proprietary", access="restricted"),
                          ds("out_x__p", publish=True))
    assert "no convention with INSEE" in decide_licence(eff, cat).reason


def test_the_terms_file_must_cover_every_licence_of_the_catalogue(tmp_path):
    copy = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    terms = yaml.safe_load((copy / "licence_terms.yaml").read_text())
    del terms["licences"]["cc-by-4.0"]
    terms["owners"]["nobody"] = {"convention": "x", "derived": []}
    (copy / "licence_terms.yaml").write_text(yaml.safe_dump(terms, allow_unicode=True))
    eff, cat = lineage_of(ds("raw_rte__mix", owner="rte"), ds("out_x__p", publish=True))
    moved = Catalog(datasets=cat.datasets, organisations=cat.organisations, licences=cat.licences, directory=copy)
    with pytest.raises(CatalogError, match=r"licence_terms.yaml: field 'licences': no terms for licence 'cc-by-4.0'"):
        decide_licence(eff, moved)
    (copy / "licence_terms.yaml").write_text("licences: {etalab-2.0: {derived: sometimes, attribution: true, note: x}}")
    with pytest.raises(CatalogError, match=r"licence_terms.yaml: field 'licences.etalab-2.0.derived"):
        load_terms(copy)


def test_every_published_product_of_the_project_has_one_permitted_licence(settings):
    from energy_pipelines.build import build_data_assets

    _, lineage = build_data_assets(BASE, settings)
    published = [d for d in lineage if BASE[d].publish]
    assert published
    for dataset in published:
        decision = decide_licence(lineage[dataset], BASE)
        assert decision.allowed, decision.reason
        assert decision.licence == BASE[dataset].licence
        request = publication_request(BASE[dataset], lineage[dataset], BASE, organisation="region-sud",
                                      private=False, resources=[])
        assert request.license_id == BASE.licences[decision.licence].ckan_id
        assert request.extras["licence"] == decision.licence and "licences" not in request.extras


def test_datapackage_parquet_metadata_and_portal_licence_agree(settings):
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, "2025-10-26")
    publish(settings, instance)
    folder = mirror_dir(settings)
    package = json.loads((folder / "package.json").read_text())
    dp = json.loads((folder / "datapackage.json").read_text())
    licence = BASE[PRODUCT].licence
    assert [lic["name"] for lic in dp["licenses"]] == [licence]  # one, not the upstream union
    assert package["license_id"] == BASE.licences[licence].ckan_id
    assert dp["attribution"].startswith("Sources : RTE")
    parquets = [r["path"] for r in dp["resources"] if r["path"].endswith(".parquet")]
    assert parquets
    for name in parquets:
        kv = json.loads(pq.read_schema(folder / name).metadata[b"energy_pipelines"])
        assert kv["licence"]["id"] == licence and kv["licence"]["ckan_id"] == package["license_id"]
        assert "licences" not in kv


def test_publication_is_refused_when_an_upstream_licence_does_not_permit_the_product(settings, tmp_path):
    copy = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    raw = copy / "datasets" / "raw_rte__eco2mix_regional.yaml"
    data = yaml.safe_load(raw.read_text())
    data["licence"] = "odbl-1.0"  # the source turns share-alike; the product still declares Etalab 2.0
    raw.write_text(yaml.safe_dump(data, allow_unicode=True))
    default_catalog.cache_clear()
    try:
        instance = dg.DagsterInstance.ephemeral()
        result = publish(settings, instance, catalog_dir=copy, raise_on_error=False)
    finally:
        default_catalog.cache_clear()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert "raw_rte__eco2mix_regional" in message and "odbl-1.0" in message and "etalab-2.0" in message
    assert not settings.published_dir.exists()  # nothing reached the portal
