"""The secrecy audit as a blocking Dagster asset check on UC3's published products.

One small UC3 run (three Paris days around the October 2025 DST change, the month's daily rates, the
year's rates and PV what-if) with the `secrecy_audit` checks: they pass with masked cells present.
Then the stored balance is replaced by what primary masking alone publishes (secondary suppression
off): the check, run again, fails with ERROR naming exposed cells, and the publication gate refuses.
"""

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from energy_pipelines import cli
from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks import SECRECY_AUDIT, publication_gate
from energy_pipelines.partitions import paris_day_bounds
from energy_pipelines.secrecy import uc3 as s3
from energy_pipelines.settings import load_settings
from energy_pipelines.storage import ParquetStore

TERRITORIAL = ["raw_enedis__commune_consumption", "raw_enedis__commune_production", "core_enedis__commune_energy",
               "core_enedis__territorial_energy", "out_uc3__territorial_balance"]
BALANCE = dg.AssetKey("out_uc3__territorial_balance")
FIRST_DAY, LAST_DAY = "2025-10-25", "2025-10-28"  # 26 October has 50 half-hours


def _materialize(defs, instance, names, checks=(), first_day=None, last_day=None, raise_on_error=True):
    graph = defs.resolve_asset_graph()
    keys = [dg.AssetKey(n) for n in names]
    tags = {}
    pdef = graph.get(keys[0]).partitions_def if keys else graph.get(checks[0].asset_key).partitions_def
    if pdef is not None and first_day:
        start, end = paris_day_bounds(first_day)[0], paris_day_bounds(last_day)[0]
        window = pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, end))
        tags = {"dagster/asset_partition_range_start": window[0], "dagster/asset_partition_range_end": window[-1]}
    selection = dg.AssetSelection.assets(*keys).without_checks() | dg.AssetSelection.checks(*checks)
    return dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, instance=instance,
                          resources=defs.resources, tags=tags, raise_on_error=raise_on_error)


def _audit_keys(defs, names):
    return [dg.AssetCheckKey(dg.AssetKey(n), SECRECY_AUDIT) for n in names
            if dg.AssetCheckKey(dg.AssetKey(n), SECRECY_AUDIT) in defs.resolve_asset_graph().asset_check_keys]


def _evaluations(result):
    return [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]


@pytest.fixture(scope="module")
def uc3(tmp_path_factory):
    home = Path(tmp_path_factory.mktemp("secrecy_check"))
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01"})
    defs = build_defs(settings)
    instance = dg.DagsterInstance.ephemeral()
    _materialize(defs, instance, ["raw_insee__communes", "core_insee__territory_communes"])
    results = {"balance": _materialize(defs, instance, TERRITORIAL, _audit_keys(defs, TERRITORIAL), FIRST_DAY, LAST_DAY)}
    for names, first, last in ((["out_uc3__rates_daily"], "2025-10-01", "2025-11-01"),
                               (["out_uc3__rates_yearly", "out_uc3__pv_what_if"], "2025-01-01", "2026-01-01")):
        results[names[0]] = _materialize(defs, instance, names, _audit_keys(defs, names), first, last)
    return {"defs": defs, "instance": instance, "store": ParquetStore(home / "warehouse"), "results": results,
            "home": home}


def _cli(uc3, monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setenv("ENERGY_PIPELINES_HOME", str(uc3["home"]))
    code = cli.main(["secrecy-audit", *args])
    return code, capsys.readouterr().out


def test_every_audited_product_passes_with_masked_cells_and_per_partition_results(uc3, monkeypatch, capsys):
    balance = _evaluations(uc3["results"]["balance"])
    assert {e.asset_key for e in balance} == {BALANCE}
    # a range run of 3 Paris days: one evaluation per half-hour partition (50 on 26 October)
    start, end = paris_day_bounds(FIRST_DAY)[0], paris_day_bounds(LAST_DAY)[0]
    assert len(balance) == (end - start) / pd.Timedelta(minutes=30) == 146
    assert all(e.passed for e in balance)
    assert balance[0].metadata["masked_cells"].value > 0
    assert balance[0].metadata["exposed_cells"].value == 0
    # the yearly products are audited together with the balance and the daily rates already stored
    yearly = _evaluations(uc3["results"]["out_uc3__rates_yearly"])
    assert {e.asset_key.path[-1] for e in yearly} == {"out_uc3__rates_yearly", "out_uc3__pv_what_if"}
    assert all(e.passed for e in yearly)
    rows = yearly[0].metadata["audited_rows"].value
    assert rows["out_uc3__territorial_balance"] == 146 * 5 and rows["out_uc3__rates_daily"] > 0
    # the command line says the same of what is stored
    code, out = _cli(uc3, monkeypatch, capsys, "--from", "2025-10-26", "--to", "2025-10-27")
    assert code == 0, out
    # the Paris year 2025, reaching back 56 days for the forecasts' history
    assert "uc3: 2024-11-05T23:00Z .. 2025-12-31T23:00Z" in out
    assert "out_uc3__territorial_balance: 730 row(s)" in out and out.rstrip().endswith("below its protection")


def test_a_balance_published_without_secondary_suppression_fails_and_is_held_back(uc3, monkeypatch, capsys):
    store, catalog = uc3["store"], default_catalog()
    spec = catalog["out_uc3__territorial_balance"]
    start, end = paris_day_bounds(FIRST_DAY)[0], paris_day_bounds(LAST_DAY)[0]
    energy = store.read("core_enedis__territorial_energy", time_column="datetime_utc", window=(start, end)).to_pandas()
    kept = store.read(spec.id, time_column=spec.time_column, window=(start, end)).to_pandas()
    leaky = s3.published_balance(energy, replace(s3.default_settings(), secondary=False))
    leaky = leaky.reindex(columns=kept.columns).astype(kept.dtypes.to_dict())
    store.write(spec.id, leaky, time_column=spec.time_column, window=(start, end))

    day = paris_day_bounds("2025-10-26")
    check = dg.AssetCheckKey(BALANCE, SECRECY_AUDIT)
    result = _materialize(uc3["defs"], uc3["instance"], [], [check], "2025-10-26", "2025-10-27", raise_on_error=False)
    evaluations = _evaluations(result)
    assert len(evaluations) == 50 and not any(e.passed for e in evaluations)
    failed = evaluations[0]
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["exposed_cells"].value > 0
    assert "exposed" in failed.description and "metropole_toulon" in failed.metadata["exposed"].value
    keys = uc3["defs"].resolve_asset_graph().get(BALANCE).partitions_def.get_partition_keys_in_time_window(
        dg.TimeWindow(*day))
    gate = publication_gate(uc3["instance"], uc3["defs"], BALANCE, keys[:2], upstream=False)
    assert not gate.ok and f"{SECRECY_AUDIT} failed" in gate.explain()
    code, out = _cli(uc3, monkeypatch, capsys, "out_uc3__rates_daily")
    assert code == 1 and "EXPOSED territory_id=" in out and "FAILED" in out
