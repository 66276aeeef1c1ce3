"""Every catalogued dataset's asset checks, run by Dagster on crafted partitions in a temp data root.

For each dataset (parametrised over the catalogue, so new datasets are covered with no edit):
a good partition passes its expectations check and a partition with one rule broken fails it with
ERROR; rejects of the partition are reported with their reasons (WARN); half-hourly datasets are
complete on both DST days but for the half-hour removed on purpose; freshness follows the clock.

The assets are stubs with the real partitions: the checks read what is stored, as they do after
a real materialisation, so these tests do not depend on each use case's asset code.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks import (
    COMPLETENESS,
    EXPECTATIONS,
    FRESHNESS,
    REJECTS,
    SECRECY_AUDIT,
    build_checks,
    publication_gate,
)
from energy_pipelines.checks.samples import good_frame, violations
from energy_pipelines.checks.factory import age_text
from energy_pipelines.checks.suites import GENERATED, load_suite
from energy_pipelines.checks.suites import expectations_dir_for
from energy_pipelines.secrecy import load_products
from energy_pipelines.partitions import for_partitioning, paris_day_bounds
from energy_pipelines.resources import Platform
from energy_pipelines.settings import Settings
from energy_pipelines.storage import ParquetStore
from energy_pipelines.storage.schema import REJECTS_SCHEMA, conform, to_arrow

UTC = timezone.utc
CATALOG = default_catalog()
SECRET_PRODUCTS = set(load_products().products)
DATASETS = sorted(CATALOG.datasets)
SPRING, AUTUMN = "2025-03-30", "2025-10-26"
# in the spring day: 08:00 UTC holds a broken rule and two rejects, 09:00 UTC has no row
BAD_AT = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)
HOLE_SPRING = datetime(2025, 3, 30, 9, 0, tzinfo=UTC)
HOLE_AUTUMN = datetime(2025, 10, 26, 1, 0, tzinfo=UTC)  # the second 02:00 in Paris (CET)
REASONS = ["non-numeric value in column x: 'abc'", "non-numeric value in column y: '?'",
           "truncated row: 3 fields, header has 9"]
PREFERRED = ("range:", "allowed:", "pattern:", "not_null:", "half_hour_grid")


def keys_in(pdef, start, end):
    """Partition keys covering [start, end): never built by hand (half-hour keys may be Paris time)."""
    return list(pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, end)))


def key_at(pdef, t):
    (key,) = keys_in(pdef, t, t + timedelta(minutes=30))
    return key


def stub(spec, settings):
    @dg.asset(name=spec.id, partitions_def=for_partitioning(spec.partitioning, settings))
    def _stub() -> None:
        return None

    return _stub


def pick_violation(spec, suite):
    """A storable, row-level, critical rule that does not touch the time column or the key."""
    keys = set(spec.table_schema.primary_key) | {spec.time_column}
    candidates = [v for v in violations(spec, suite) if v.storable and v.row_level and v.rule != "primary_key"
                  and not (v.rule.startswith("not_null:") and v.rule.split(":", 1)[1] in keys)]
    for prefix in PREFERRED:
        for v in candidates:
            if v.origin == GENERATED and v.rule.startswith(prefix):
                return v
    return candidates[0]


@dataclass
class Case:
    spec: object
    suite: object
    pdef: object
    good: list  # partition keys (or [None]) holding good rows
    bad: str | None
    rule: str


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    home = tmp_path_factory.mktemp("quality_home")
    settings = Settings(home=home, mode="sample", partitions_start=datetime(2025, 1, 1, tzinfo=UTC),
                        partitions_end=datetime(2026, 1, 1, tzinfo=UTC))
    store = ParquetStore(settings.warehouse_dir)
    resources = {"platform": Platform.from_settings(settings)}
    instance = dg.DagsterInstance.ephemeral()
    stubs = {d: stub(CATALOG[d], settings) for d in DATASETS}
    directory = expectations_dir_for(CATALOG)
    results: dict = defaultdict(dict)  # (dataset, check) -> {partition: evaluation}
    cases: dict[str, Case] = {}

    def write(spec, frame, window, rejects_at=None):
        store.write(spec.id, to_arrow(frame), time_column=spec.time_column, window=window)
        if rejects_at is not None:
            rejects = pd.DataFrame({"partition_start_utc": [rejects_at] * 3, "source_file": ["drop.csv"] * 3,
                                    "source_line": [2, 3, 4], "reason": REASONS, "record": ["a;b"] * 3})
            store.write(spec.rejects_id, conform(rejects, REJECTS_SCHEMA, spec.rejects_id),
                        time_column="partition_start_utc", window=window)

    def run(datasets, names, tags, clock=None):
        assets = [stubs[d] for d in datasets]
        checks = [c for c in build_checks(assets, CATALOG, settings, clock=clock)
                  if next(iter(c.check_keys)).name in names]
        if not checks:
            return
        result = dg.materialize([*assets, *checks], selection=dg.AssetSelection.checks(*checks), tags=tags,
                                resources=resources, instance=instance, raise_on_error=False)
        for e in result.get_asset_check_evaluations():
            results[(e.asset_key.path[-1], e.check_name)][e.partition] = e

    def frame_for(spec, suite, window, violation=None, bad_at=None, hole=None, first_row=0):
        frame = good_frame(spec, suite, window, first_row=first_row)
        if spec.time_column is None:
            return violation.apply(frame, 0) if violation else frame
        times = frame[spec.time_column]
        if violation is not None:
            row = int(((times >= bad_at) & (times < bad_at + timedelta(minutes=30))).to_numpy().argmax())
            frame = violation.apply(frame, row)
        if hole is not None:
            frame = frame[frame[spec.time_column] != hole].reset_index(drop=True)
        return frame

    groups: dict[str, list[str]] = defaultdict(list)
    for d in DATASETS:
        groups[CATALOG[d].partitioning].append(d)

    # half-hourly: two DST days as single-run ranges (one evaluation per half-hour partition)
    spring, autumn = paris_day_bounds(SPRING), paris_day_bounds(AUTUMN)
    for d in groups["half_hourly"]:
        spec = CATALOG[d]
        suite = load_suite(spec, directory)
        v = pick_violation(spec, suite)
        pdef = stubs[d].partitions_def
        cases[d] = Case(spec, suite, pdef, [key_at(pdef, BAD_AT - timedelta(minutes=30))], key_at(pdef, BAD_AT),
                        v.rule)
        write(spec, frame_for(spec, suite, spring, v, BAD_AT, HOLE_SPRING), spring, rejects_at=BAD_AT)
        write(spec, frame_for(spec, suite, autumn, hole=HOLE_AUTUMN), autumn)

    def day_range(bounds):
        keys = keys_in(stubs[groups["half_hourly"][0]].partitions_def, *bounds)
        return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}

    # completeness judges whole days; the expectations and rejects checks only need the good and the
    # bad half-hour, side by side in one range run (each must get its own verdict): a range of two
    # keys instead of the day's 46 saves some 2,400 evaluation events and their targets' look-ups
    run(groups["half_hourly"], {COMPLETENESS}, day_range(spring))
    run(groups["half_hourly"], {EXPECTATIONS, REJECTS}, day_range((BAD_AT - timedelta(minutes=30),
                                                                    BAD_AT + timedelta(minutes=30))))
    run(groups["half_hourly"], {COMPLETENESS}, day_range(autumn))

    # other partitionings: a good and a bad partition, as one range when there are two keys
    for kind in ("daily", "monthly", "yearly", "none"):
        later_runs = []
        for d in groups[kind]:
            spec = CATALOG[d]
            suite = load_suite(spec, directory)
            v = pick_violation(spec, suite)
            pdef = stubs[d].partitions_def
            keys = pdef.get_partition_keys()[-2:] if pdef is not None else [None]
            windows = [(w.start, w.end) for w in pdef.time_windows_for_partition_keys(frozenset(keys))] \
                if pdef is not None else [None]
            good_key, bad_key = keys[0], keys[-1]
            cases[d] = Case(spec, suite, pdef, [good_key], bad_key, v.rule)
            bad_start = windows[-1][0] if windows[-1] else None
            if len(keys) == 2:
                write(spec, frame_for(spec, suite, windows[0]), windows[0])
                write(spec, frame_for(spec, suite, windows[1], v, bad_start, first_row=1000), windows[1],
                      rejects_at=bad_start)
            else:
                write(spec, frame_for(spec, suite, windows[0]), windows[0])
                later_runs.append((spec, suite, v, windows[0], bad_start))
        if not groups[kind]:
            continue
        pdef = stubs[groups[kind][0]].partitions_def
        keys = pdef.get_partition_keys()[-2:] if pdef is not None else []
        tags = ({"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[1]}
                if len(keys) == 2 else {"dagster/partition": keys[0]} if keys else {})
        run(groups[kind], {EXPECTATIONS, REJECTS}, tags)
        if later_runs:  # one partition only: first the good data was checked, now the bad
            for d in groups[kind]:
                results[(d, EXPECTATIONS)] = {"good": results[(d, EXPECTATIONS)].get(keys[0] if keys else None)}
                results[(d, REJECTS)] = {"good": results[(d, REJECTS)].get(keys[0] if keys else None)}
            for spec, suite, v, window, bad_start in later_runs:
                write(spec, frame_for(spec, suite, window, v, bad_start), window,
                      rejects_at=bad_start or datetime(2025, 1, 1, tzinfo=UTC))
            run(groups[kind], {EXPECTATIONS, REJECTS}, tags)
            for d in groups[kind]:
                for name in (EXPECTATIONS, REJECTS):
                    evaluations = results[(d, name)]
                    evaluations["bad"] = evaluations.pop(keys[0] if keys else None)
                cases[d].good, cases[d].bad = ["good"], "bad"

    # freshness: the latest stored half-hour ended 23:00 UTC on the autumn day
    latest_end = autumn[1] - timedelta(minutes=30) + timedelta(minutes=30)
    run(groups["half_hourly"], {FRESHNESS}, {}, clock=lambda: latest_end + timedelta(minutes=45))
    fresh = {d: results[(d, FRESHNESS)].pop(None, None) for d in groups["half_hourly"]}
    run(groups["half_hourly"], {FRESHNESS}, {}, clock=lambda: latest_end + timedelta(minutes=75))
    stale = {d: results[(d, FRESHNESS)].pop(None, None) for d in groups["half_hourly"]}

    # the gate over the checks run here (the secrecy audit's own gate: tests/integration/test_secrecy_audit_check.py)
    defs = dg.Definitions(assets=list(stubs.values()),
                          asset_checks=[c for c in build_checks(list(stubs.values()), CATALOG, settings)
                                        if next(iter(c.check_keys)).name != SECRECY_AUDIT], resources=resources)
    return {"results": results, "cases": cases, "fresh": fresh, "stale": stale, "instance": instance,
            "defs": defs, "home": home}


def meta(evaluation, key):
    value = evaluation.metadata.get(key)
    return value.value if value is not None else None


@pytest.mark.parametrize("dataset", DATASETS)
def test_good_partition_passes_and_a_broken_rule_fails_with_error(quality, dataset):
    case = quality["cases"][dataset]
    evaluations = quality["results"][(dataset, EXPECTATIONS)]
    for key in case.good:
        assert evaluations[key].passed, (key, meta(evaluations[key], "failed_rules") or evaluations[key].description)
    bad = evaluations[case.bad]
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.ERROR and bad.blocking
    rules = meta(bad, "failed_rules") or [f["rule"] for f in meta(bad, "failed_expectations")]
    assert case.rule in rules
    # the reason is readable where the UI shows the result, not only in the JSON metadata
    assert f"critical {case.rule}" in bad.description, bad.description
    page = meta(bad, "data_docs")
    assert page and page.startswith(str(quality["home"] / "reports" / "data_docs" / dataset))


@pytest.mark.parametrize("dataset", DATASETS)
def test_rejects_of_the_partition_are_reported_with_their_reasons(quality, dataset):
    case = quality["cases"][dataset]
    evaluations = quality["results"][(dataset, REJECTS)]
    assert all(evaluations[key].passed for key in case.good)
    bad = evaluations[case.bad]
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.WARN
    assert meta(bad, "rejected_rows") == 3
    assert meta(bad, "rejects_by_reason") == {"non-numeric value in column x": 1,
                                              "non-numeric value in column y": 1, "truncated row": 1}
    assert bad.description == ("3 row(s) quarantined: non-numeric value in column x (1 row(s)), "
                               "non-numeric value in column y (1 row(s)), truncated row (1 row(s))")


HALF_HOURLY = [d for d in DATASETS if CATALOG[d].partitioning == "half_hourly"]


@pytest.mark.parametrize("dataset", HALF_HOURLY)
def test_completeness_on_both_dst_days_flags_exactly_the_missing_half_hour(quality, dataset):
    evaluations = quality["results"].get((dataset, COMPLETENESS))
    if not quality["cases"][dataset].suite.enabled("completeness"):
        assert not evaluations
        pytest.skip("completeness disabled in its suite (sparse data)")
    pdef = quality["cases"][dataset].pdef
    spring = {k: evaluations[k] for k in keys_in(pdef, *paris_day_bounds(SPRING))}
    autumn = {k: evaluations[k] for k in keys_in(pdef, *paris_day_bounds(AUTUMN))}
    assert len(spring) == 46 and len(autumn) == 50 and len(evaluations) == 96
    assert [k for k, e in spring.items() if not e.passed] == [key_at(pdef, HOLE_SPRING)]
    assert [k for k, e in autumn.items() if not e.passed] == [key_at(pdef, HOLE_AUTUMN)]
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in evaluations.values())


@pytest.mark.parametrize("dataset", HALF_HOURLY)
def test_freshness_fails_once_the_latest_half_hour_is_older_than_its_limit(quality, dataset):
    """One hour by default; a source published late (RTE) declares a longer limit in its suite."""
    limit = load_suite(CATALOG[dataset], expectations_dir_for(CATALOG)).option("freshness").get("max_age_minutes", 60)
    fresh, stale = quality["fresh"][dataset], quality["stale"][dataset]
    assert fresh.passed and meta(fresh, "age_minutes") == 45
    assert meta(stale, "age_minutes") == 75
    if limit < 75:
        assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
        assert f"ended 1 h 15 min ago (allowed: {age_text(timedelta(minutes=limit))})" in stale.description
    else:
        assert stale.passed


@pytest.mark.parametrize("dataset", HALF_HOURLY)
def test_publication_gate_follows_the_blocking_check_of_each_partition(quality, dataset):
    case = quality["cases"][dataset]
    gate = publication_gate(quality["instance"], quality["defs"], dataset, [case.good[0]])
    assert gate.ok, gate.explain()
    gate = publication_gate(quality["instance"], quality["defs"], dataset, [case.good[0], case.bad])
    assert not gate.ok
    assert [(v.partition, v.status) for v in gate.problems] == [(case.bad, "failed")]
    never = publication_gate(quality["instance"], quality["defs"], dataset,
                             [key_at(case.pdef, datetime(2025, 6, 1, 10, tzinfo=UTC))])
    assert [v.status for v in never.problems] == ["not_evaluated"]


def test_definitions_give_every_catalogued_asset_its_checks(settings):
    """What build.py wires: no dataset without its suite check, blocking; half-hourly ones with the rest."""
    from energy_pipelines.build import build_defs

    defs = build_defs(settings)
    graph = defs.resolve_asset_graph()
    # data assets (publication assets, `datasud/<product>`, carry no data of their own to check)
    catalogued = [k for k in graph.get_all_asset_keys() if len(k.path) == 1 and k.path[0] in CATALOG.datasets]
    assert catalogued
    for key in catalogued:
        names = {c.name for c in graph.get(key).check_keys}
        expected = {EXPECTATIONS, REJECTS}
        spec = CATALOG[key.path[-1]]
        if spec.partitioning == "half_hourly":
            expected.add(FRESHNESS)
            if spec.write_mode == "replace" and load_suite(spec, expectations_dir_for(CATALOG)).enabled("completeness"):
                expected.add(COMPLETENESS)
        if spec.id in SECRET_PRODUCTS:  # published from confidential cells: audited before publication
            expected.add(SECRECY_AUDIT)
            assert graph.get_check_spec(dg.AssetCheckKey(key, SECRECY_AUDIT)).blocking
        assert names == expected, (key, names)
        assert graph.get_check_spec(dg.AssetCheckKey(key, EXPECTATIONS)).blocking
        assert not graph.get_check_spec(dg.AssetCheckKey(key, REJECTS)).blocking
