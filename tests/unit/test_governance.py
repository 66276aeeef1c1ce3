"""Ownership lineage computed from the graph, and the publication policy it implies."""

import shutil

import pytest
import yaml

from energy_pipelines.catalog import Catalog, DatasetSpec, load_catalog
from energy_pipelines.governance.lineage import LineageError, compute_lineage
from energy_pipelines.governance.policy import PRIVATE, PUBLIC, REFUSED, PublicationRefused, decide
from energy_pipelines.settings import CATALOG_DIR

BASE = load_catalog(CATALOG_DIR)
SCHEMA = {"primary_key": ["k"], "columns": {"k": {"dtype": "string", "nullable": False, "description": "key"}}}


def ds(id_, **kw) -> DatasetSpec:
    layer = id_.split("_", 1)[0]
    fields = {"id": id_, "layer": layer, "title": id_, "description": id_, "publisher": "region_sud",
              "licence": "etalab-2.0", "partitioning": "none", "schema": SCHEMA, **kw}
    if layer == "raw":
        fields.setdefault("source", {"id": id_, "adapter": "x"})
    return DatasetSpec.model_validate(fields)


def catalog(*specs) -> Catalog:
    return Catalog(datasets={s.id: s for s in specs}, organisations=BASE.organisations, licences=BASE.licences,
                   directory=CATALOG_DIR)


RTE = ds("raw_rte__mix", owner="rte", publisher="odre", access="open", personal_data=False,
         commercially_sensitive=False)
SPIE = ds("raw_spie__log", owner="symenergie05", publisher="spie", licence="proprietary", access="closed",
          personal_data=True, commercially_sensitive=True)
ENEDIS = ds("raw_enedis__sig", owner="enedis", publisher="enedis", licence="proprietary", access="restricted",
            personal_data=False, commercially_sensitive=False)
ANON = ds("anon_spie__sessions", step={"kind": "anonymisation", "description": "k-anonymous aggregate",
                                        "yields_access": "open", "removes_personal_data": True,
                                        "removes_commercial_sensitivity": True})
HYBRID = ds("hybrid__signal")
OUT = ds("out_uc2__signal", publish=True)


def test_owners_are_the_union_and_access_the_most_restrictive_upstream():
    cat = catalog(RTE, SPIE, ENEDIS, HYBRID)
    eff = compute_lineage(cat, {"raw_rte__mix": [], "raw_spie__log": [], "raw_enedis__sig": [],
                                "hybrid__signal": ["raw_rte__mix", "raw_spie__log", "raw_enedis__sig"]})["hybrid__signal"]
    assert eff.owners == ("enedis", "rte", "symenergie05")
    assert eff.publishers == ("enedis", "odre", "region_sud", "spie")
    assert eff.licences == ("etalab-2.0", "proprietary")
    assert (eff.access, eff.personal_data, eff.commercially_sensitive) == ("closed", True, True)
    assert eff.access_from == ("raw_spie__log",)
    assert eff.upstream == ("raw_enedis__sig", "raw_rte__mix", "raw_spie__log")


def test_only_a_declared_step_lifts_access_and_removing_it_makes_publication_fail():
    cat = catalog(RTE, SPIE, ANON, OUT)
    graph = {"raw_rte__mix": [], "raw_spie__log": [], "anon_spie__sessions": ["raw_spie__log"],
             "out_uc2__signal": ["anon_spie__sessions", "raw_rte__mix"]}
    eff = compute_lineage(cat, graph)
    assert eff["anon_spie__sessions"].lifted_by == "anon_spie__sessions"
    out = eff["out_uc2__signal"]
    assert (out.access, out.personal_data) == ("open", False)
    assert out.owners == ("rte", "symenergie05")  # ownership is never lifted, only access
    assert decide(out, cat).outcome == PUBLIC
    # take the anonymisation step out of the graph: the product reads the raw logs directly
    bypass = {**graph, "out_uc2__signal": ["raw_spie__log", "raw_rte__mix"]}
    refused = decide(compute_lineage(cat, bypass)["out_uc2__signal"], cat)
    assert refused.outcome == REFUSED
    assert "raw_spie__log" in refused.reason and "personal data" in refused.reason
    with pytest.raises(PublicationRefused, match="inherited from raw_spie__log"):
        refused.require()


def test_a_step_cannot_be_typed_as_plain_access():
    plain = ds("anon_spie__sessions", access="open")  # declares open, but no step
    cat = catalog(SPIE, plain)
    eff = compute_lineage(cat, {"raw_spie__log": [], "anon_spie__sessions": ["raw_spie__log"]})["anon_spie__sessions"]
    assert eff.access == "closed"
    assert eff.warnings and "declares access 'open' but its lineage gives 'closed'" in eff.warnings[0]


def test_restricted_products_go_private_to_the_owner_organisation():
    cat = catalog(ENEDIS, ds("out_enedis__agg", publish=True))
    eff = compute_lineage(cat, {"raw_enedis__sig": [], "out_enedis__agg": ["raw_enedis__sig"]})["out_enedis__agg"]
    decision = decide(eff, cat)
    assert (decision.outcome, decision.organisation) == (PRIVATE, "enedis")


def test_lineage_refuses_unknown_datasets_and_cycles():
    cat = catalog(RTE, HYBRID)
    with pytest.raises(LineageError, match="not in the catalogue"):
        compute_lineage(cat, {"hybrid__signal": ["raw_unknown__x"]})
    with pytest.raises(LineageError, match="cycle"):
        compute_lineage(cat, {"hybrid__signal": ["raw_rte__mix"], "raw_rte__mix": ["hybrid__signal"]})


def test_the_project_graph_publishes_only_what_its_steps_allow(settings):
    from energy_pipelines.build import build_data_assets

    _, lineage = build_data_assets(BASE, settings)
    for dataset, eff in lineage.items():
        spec = BASE[dataset]
        if spec.layer == "raw":
            assert eff.owners == (spec.owner,) and eff.access == spec.access
        if eff.personal_data:
            assert decide(eff, BASE).outcome == REFUSED, dataset
    assert decide(lineage["out_rte__eco2mix_regional"], BASE).outcome == PUBLIC


def test_removing_a_catalogued_step_makes_the_real_product_refused(tmp_path, settings):
    """The same proof on the project's own catalogue: drop the secrecy step of the UC2 open signal."""
    from energy_pipelines.build import build_data_assets

    copy = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    candidates = [d for d, s in BASE.datasets.items() if s.publish and s.step is not None]
    assert candidates, "the catalogue publishes no product that relies on a step"
    target = candidates[0]
    path = copy / "datasets" / f"{target}.yaml"
    data = yaml.safe_load(path.read_text())
    del data["step"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    cat = load_catalog(copy)
    _, lineage = build_data_assets(cat, settings)
    decision = decide(lineage[target], cat)
    assert decision.outcome == REFUSED
    assert any(src in decision.reason for src in lineage[target].upstream if cat[src].layer == "raw")
