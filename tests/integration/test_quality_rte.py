"""Checks on the real RTE chain: a failing blocking check stops core in the same run and stops publication.

The raw and core assets run for real (sample simulator + landing reader + clean step); a crafted
landing file makes one half-hour bad.
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from energy_pipelines.assets.derived import build_derived_asset
from energy_pipelines.assets.raw import build_raw_asset
from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks import EXPECTATIONS, REJECTS, build_checks, publication_gate
from energy_pipelines.resources import Platform
from energy_pipelines.storage.io_manager import ParquetIOManager

UTC = timezone.utc
RAW, CORE = "raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"
T0 = datetime(2025, 3, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def chain(settings):
    catalog = default_catalog()
    assets = [build_raw_asset(catalog[RAW], settings, catalog),
              *(build_derived_asset(catalog[d], settings, catalog) for d in (CORE, "out_rte__eco2mix_regional"))]
    checks = build_checks(assets, catalog, settings, clock=lambda: T0 + timedelta(hours=1))
    resources = {"platform": Platform.from_settings(settings),
                 "parquet_io": ParquetIOManager(home=str(settings.home))}
    defs = dg.Definitions(assets=assets, asset_checks=checks, resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    pdef = assets[0].partitions_def

    def key(t):
        (k,) = pdef.get_partition_keys_in_time_window(dg.TimeWindow(t, t + timedelta(minutes=30)))
        return k

    def run(first, last=None):
        tags = ({"dagster/asset_partition_range_start": key(first), "dagster/asset_partition_range_end": key(last)}
                if last is not None else {"dagster/partition": key(first)})
        return dg.materialize([*assets, *checks], tags=tags, resources=resources, instance=instance,
                              raise_on_error=False)

    return {"defs": defs, "instance": instance, "run": run, "key": key, "settings": settings}


def drop_odre_record(settings, stamp: str, **values) -> Path:
    """An ODRÉ JSON export in the landing zone holding one record (other fields plausible)."""
    record = {"code_insee_region": "93", "nature": "Données temps réel", "date_heure": stamp,
              "consommation": 5000, "thermique": 1000, "nucleaire": None, "eolien": 10, "solaire": 500,
              "hydraulique": 1000, "pompage": 0, "bioenergies": 100, "ech_physiques": 2390, **values}
    t = datetime.fromisoformat(stamp).astimezone(UTC).replace(minute=0)
    landing = settings.landing_dir / "rte_eco2mix_regional"
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / f"odre_test_93_{t:%Y%m%dT%H%MZ}_{t + timedelta(hours=1):%Y%m%dT%H%MZ}.json"
    path.write_text(json.dumps([record]))
    return path


def evaluations(result, asset, check):
    return {e.partition: e for e in result.get_asset_check_evaluations()
            if e.asset_key.to_user_string() == asset and e.check_name == check}


def value(evaluation, key):
    return evaluation.metadata[key].value


def test_a_failing_blocking_check_on_raw_stops_core_in_the_run_and_its_publication(chain):
    # a record ten minutes into the half-hour: off the half-hour grid every half-hourly dataset keeps
    drop_odre_record(chain["settings"], "2025-03-30T10:10:00+00:00")
    result = chain["run"](T0)
    assert not result.success
    (raw_check,) = evaluations(result, RAW, EXPECTATIONS).values()
    assert not raw_check.passed and raw_check.severity == dg.AssetCheckSeverity.ERROR
    assert [f["rule"] for f in value(raw_check, "failed_expectations")] == ["half_hour_grid"]
    assert "2025-03-30 10:10:00+00:00" in value(raw_check, "failing_rows_sample")
    assert result.asset_materializations_for_node(RAW)  # raw itself is stored (and quarantines nothing)
    assert not result.asset_materializations_for_node(CORE)  # core did not run
    assert not evaluations(result, CORE, EXPECTATIONS)

    page = Path(value(raw_check, "data_docs"))
    assert page.is_relative_to(chain["settings"].reports_dir / "data_docs" / RAW) and page.exists()
    assert "half_hour_grid" in page.read_text(encoding="utf-8")

    gate = publication_gate(chain["instance"], chain["defs"], CORE, [chain["key"](T0)])
    assert not gate.ok
    statuses = {(v.check_key.asset_key.to_user_string(), v.status) for v in gate.problems}
    assert statuses == {(RAW, "failed"), (CORE, "not_evaluated")}


def test_a_range_run_records_each_partition_and_blocks_the_whole_range(chain):
    bad = T0 + timedelta(hours=1)
    drop_odre_record(chain["settings"], f"{bad + timedelta(minutes=10):%Y-%m-%dT%H:%M:%S+00:00}")
    result = chain["run"](T0, T0 + timedelta(hours=1, minutes=30))
    raw_checks = evaluations(result, RAW, EXPECTATIONS)
    assert len(raw_checks) == 4  # one evaluation per partition of the single-run range
    failed = sorted(k for k, e in raw_checks.items() if not e.passed)
    assert failed == [chain["key"](bad)]
    assert not result.asset_materializations_for_node(CORE)  # one run: the whole range is held back
    key_ok = chain["key"](T0)
    assert publication_gate(chain["instance"], chain["defs"], RAW, [key_ok]).ok
    assert not publication_gate(chain["instance"], chain["defs"], RAW, [key_ok, failed[0]]).ok


def test_a_clean_dst_day_passes_every_check_and_may_be_published(chain):
    from energy_pipelines.partitions import paris_day_bounds

    start, end = paris_day_bounds("2025-10-26")
    result = chain["run"](start, end - timedelta(minutes=30))
    assert result.success
    for asset in (RAW, CORE):
        for check in (EXPECTATIONS, REJECTS, "completeness"):
            got = evaluations(result, asset, check)
            assert len(got) == 50 and all(e.passed for e in got.values()), (asset, check)
    keys = list(evaluations(result, CORE, EXPECTATIONS))
    gate = publication_gate(chain["instance"], chain["defs"], CORE, keys)
    assert gate.ok, gate.explain()
    assert len(gate.verdicts) == 100  # core's and raw's blocking check, for each of the 50 half-hours


def test_quarantined_rows_show_in_the_rejects_check_and_warnings_do_not_block(chain):
    drop_odre_record(chain["settings"], "2025-03-30T10:00:00+00:00", consommation="12abc")
    result = chain["run"](T0)
    assert result.success  # a warning-level failure does not stop the run
    (raw_check,) = evaluations(result, RAW, EXPECTATIONS).values()
    assert not raw_check.passed and raw_check.severity == dg.AssetCheckSeverity.WARN
    (rejects,) = evaluations(result, CORE, REJECTS).values()
    assert not rejects.passed and rejects.severity == dg.AssetCheckSeverity.WARN
    assert value(rejects, "rejected_rows") == 1
    assert value(rejects, "rejects_by_reason") == {"non-numeric value in column consommation": 1}
    (core_check,) = evaluations(result, CORE, EXPECTATIONS).values()
    assert core_check.passed
    assert publication_gate(chain["instance"], chain["defs"], CORE, [chain["key"](T0)]).ok  # WARN allows


def test_rematerialising_after_a_check_makes_the_gate_wait_for_a_new_evaluation(chain):
    assert chain["run"](T0).success
    key = chain["key"](T0)
    assert publication_gate(chain["instance"], chain["defs"], CORE, [key]).ok
    # core materialised again without its checks
    dg.materialize(list(chain["defs"].assets), selection=dg.AssetSelection.assets(CORE).without_checks(),
                   tags={"dagster/partition": key}, resources=chain["defs"].resources, instance=chain["instance"])
    gate = publication_gate(chain["instance"], chain["defs"], CORE, [key])
    assert [v.status for v in gate.problems] == ["stale"]
