"""Expectation suites: in sync with the catalogue, and for every dataset good rows pass and each rule bites.

Parametrised over the catalogue: a dataset added tomorrow is covered by these tests with no edit.
"""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from energy_pipelines.catalog import default_catalog, load_catalog
from energy_pipelines.checks.samples import example_string, good_frame, violations
from energy_pipelines.checks.suites import (
    EXPECTATIONS_DIR,
    GENERATED,
    SuiteError,
    load_suite,
    merge,
    read_suite,
    sync,
)
from energy_pipelines.checks.validation import gx_suite, validate

UTC = timezone.utc
CATALOG = default_catalog()
DATASETS = sorted(CATALOG.datasets)


def suite_of(dataset):
    return load_suite(CATALOG[dataset], EXPECTATIONS_DIR)


def times(n):
    start = datetime(2025, 3, 30, 0, 0, tzinfo=UTC)
    return [start + timedelta(minutes=30 * i) for i in range(n)]


def test_committed_suites_are_in_sync_with_the_catalogue():
    report = sync(CATALOG, EXPECTATIONS_DIR, write=False)
    stale = [p.name for p in report.out_of_date]
    assert not stale, f"run `python -m energy_pipelines.checks sync` and commit: out of date or missing {stale}"
    assert not report.orphans, f"suites of datasets no longer catalogued (sync --prune): {report.orphans}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_suite_builds_as_a_gx_suite_with_generated_and_marked_entries(dataset):
    suite = suite_of(dataset)
    built = gx_suite(dataset, suite.expectations)
    assert len(built.expectations) == len(suite.expectations)
    rules = [(e.get("meta") or {}).get("rule") for e in suite.expectations if e["meta"].get("origin") == GENERATED]
    assert "columns" in rules and "primary_key" in rules
    assert all(e.get("meta", {}).get("origin") for e in suite.expectations), "every entry says where it comes from"


@pytest.mark.parametrize("dataset", DATASETS)
def test_good_rows_pass_and_every_row_rule_fails_on_the_row_that_breaks_it(dataset):
    """One frame: odd rows as generated (good), rule j broken on row 2j only."""
    spec, suite = CATALOG[dataset], suite_of(dataset)
    row_rules = [v for v in violations(spec, suite) if v.row_level]
    assert row_rules, "a suite with nothing to break checks nothing"
    frame = good_frame(spec, suite, times=times(2 * len(row_rules) + 1))
    for j, v in enumerate(row_rules, start=1):
        frame = v.apply(frame, 2 * j)  # the key duplicate copies the key of row 2j-1
    outcome = validate(frame, suite)
    by_rule = {o.rule: o for o in outcome.outcomes}
    for j, v in enumerate(row_rules, start=1):
        o = by_rule[v.rule]
        assert not o.success, f"{v.rule} did not fail"
        assert o.rows is None or 2 * j in o.rows, f"{v.rule} failed on rows {o.rows}, expected {2 * j}"
    # the good rows break nothing (but for being the other half of the duplicated key)
    partner = {2 * j - 1 for j, v in enumerate(row_rules, start=1) if v.rule == "primary_key"}
    good_rows_failing = {int(r) for r in outcome.failing_rows() if r % 2 == 1} - partner
    assert not good_rows_failing, outcome.sample_rows().to_dict("records")
    broken = {v.rule for v in row_rules}
    unexpected = [o.summary() for o in outcome.failures if o.rule not in broken]
    assert not unexpected, "rules nobody broke failed (good rows or table rules)"
    assert outcome.severity == "critical"


@pytest.mark.parametrize("dataset", DATASETS)
def test_column_order_and_type_rules_fail_on_a_wrong_table(dataset):
    spec, suite = CATALOG[dataset], suite_of(dataset)
    table_rules = [v for v in violations(spec, suite) if not v.row_level]
    frame = good_frame(spec, suite, times=times(3))
    for v in table_rules:
        frame = v.apply(frame, 1)
    failed = {o.rule for o in validate(frame, suite).failures}
    missing = [v.rule for v in table_rules if v.rule not in failed]
    assert not missing, f"not caught: {missing}"


def test_a_warning_rule_alone_fails_with_warning_severity():
    spec = CATALOG["raw_rte__eco2mix_regional"]
    suite = suite_of(spec.id)
    frame = good_frame(spec, suite, times=times(3))
    frame.loc[1, "consommation"] = "6 399"  # a thousands separator: the core step would quarantine it
    outcome = validate(frame, suite)
    assert [o.rule for o in outcome.failures] == ["number_format:consommation"]
    assert outcome.severity == "warning"
    assert list(outcome.failing_rows()) == [1]
    assert outcome.sample_rows().iloc[0]["failed_rules"] == "number_format:consommation"


def test_eco2mix_balance_rules_tolerate_rounding_and_catch_a_lost_term():
    spec = CATALOG["core_rte__eco2mix_regional"]
    suite = suite_of(spec.id)
    frame = good_frame(spec, suite, times=times(4))
    frame.loc[0, "ech_physiques_mw"] += 9  # worst residual seen on RTE's definitive archives
    assert validate(frame, suite).success
    frame.loc[1, "pompage_mw"] = np.nan  # a missing term: not judged (null residual)
    assert validate(frame, suite).success
    frame.loc[2, "ech_physiques_mw"] = 0.0  # imports lost: 39 % of consumption unexplained
    failed = {o.rule: o for o in validate(frame, suite).failures}
    assert set(failed) == {"balance_tolerance", "balance_gross"}
    assert failed["balance_gross"].severity == "critical" and list(failed["balance_gross"].rows) == [2]


@pytest.mark.realdata
def test_eco2mix_domain_rules_hold_on_rte_definitive_archives(realdata):
    """The balance tolerance and green-share formula were set on these files; keep them honest."""
    from energy_pipelines.sources.rte_eco2mix import ADAPTER
    from energy_pipelines.storage.schema import conform
    from energy_pipelines.transforms.eco2mix import clean_eco2mix
    from energy_pipelines.checks.validation import to_frame

    spec = CATALOG["core_rte__eco2mix_regional"]
    suite = suite_of(spec.id)
    domain = [e for e in suite.expectations if e["meta"]["origin"] != GENERATED]
    only_domain = type(suite)(dataset=suite.dataset, expectations=domain, settings=suite.settings)
    path = realdata / "rte_eco2mix_paca" / "eCO2mix_RTE_PACA_Annuel-Definitif_2013.csv"
    rows = ADAPTER.read_file(path).rows.assign(source_file=path.name)
    data = clean_eco2mix(rows).data
    outcome = validate(to_frame(conform(data, spec.table_schema.to_arrow(), spec.id)), only_domain)
    assert len(outcome.frame) == 17518
    assert outcome.success, [o.summary() for o in outcome.failures]


def test_regeneration_keeps_domain_entries_and_refreshes_generated_ones(tmp_path):
    spec = CATALOG["core_rte__eco2mix_regional"]
    committed = read_suite(EXPECTATIONS_DIR / f"{spec.id}.json")
    # someone edits a generated range by hand and drops another generated entry
    edited = [dict(e) for e in committed.expectations if e["meta"].get("rule") != "not_null:source_file"]
    for e in edited:
        if e["meta"].get("rule") == "range:consommation_mw":
            e["kwargs"] = {**e["kwargs"], "max_value": 1}
    committed.expectations = edited
    (tmp_path / f"{spec.id}.json").write_text(committed.dumps())
    report = sync(CATALOG, tmp_path, datasets=[spec.id])
    assert [p.name for p in report.written] == [f"{spec.id}.json"]
    again = read_suite(tmp_path / f"{spec.id}.json")
    assert again.dumps() == merge(spec, read_suite(EXPECTATIONS_DIR / f"{spec.id}.json")).dumps()
    assert [e["meta"]["rule"] for e in again.domain] == [e["meta"]["rule"] for e in committed.domain]


def test_a_new_dataset_gets_a_skeleton_in_memory_and_from_sync(tmp_path):
    import shutil

    shutil.copytree(CATALOG.directory, tmp_path / "assets_config")
    yaml_text = (tmp_path / "assets_config/datasets/core_rte__eco2mix_regional.yaml").read_text()
    (tmp_path / "assets_config/datasets/core_rte__eco2mix_copy.yaml").write_text(
        yaml_text.replace("id: core_rte__eco2mix_regional", "id: core_rte__eco2mix_copy"))
    catalog = load_catalog(tmp_path / "assets_config")
    spec = catalog["core_rte__eco2mix_copy"]
    (tmp_path / "expectations").mkdir()
    in_memory = load_suite(spec, tmp_path / "expectations")
    assert in_memory.path is None and not in_memory.domain
    assert validate(good_frame(spec, in_memory, times=times(2)), in_memory).success
    report = sync(catalog, tmp_path / "expectations", datasets=[spec.id])
    assert [p.name for p in report.created] == ["core_rte__eco2mix_copy.json"]
    assert load_suite(spec, tmp_path / "expectations").path is not None


def test_a_domain_rule_on_an_unknown_column_fails_at_load(tmp_path):
    spec = CATALOG["core_rte__eco2mix_regional"]
    suite = read_suite(EXPECTATIONS_DIR / f"{spec.id}.json")
    suite.expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such"},
                               "meta": {"origin": "domain"}})
    (tmp_path / f"{spec.id}.json").write_text(suite.dumps())
    with pytest.raises(SuiteError, match="no_such"):
        load_suite(spec, tmp_path)


@pytest.mark.parametrize("pattern", [r"^[0-9]{2}$", r"^[A-Z]{2}[A-Z0-9]{4,33}$", r"^FR\*[A-Z0-9]{3}(E[0-9]+)?$",
                                     r"^(93|84)$", r"^\d{5}$"])
def test_example_strings_match_their_pattern_and_vary(pattern):
    import re

    examples = {example_string(pattern, i) for i in range(5)}
    assert all(re.search(pattern, e) for e in examples)
    assert len(examples) > 1
