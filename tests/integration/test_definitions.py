"""The one Definitions object loads, from Python, from workspace.yaml and through `dg check defs`."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def test_definitions_are_loadable_and_cover_the_catalogue(settings):
    defs = build_defs(settings)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    catalogue = default_catalog()
    datasets = {k for k in keys if not k.startswith(("datasud/", "portal/"))}
    # every data asset is catalogued (it gets its schema, owners, checks and publication from there)
    assert datasets <= set(catalogue.datasets), datasets - set(catalogue.datasets)
    # and every product the catalogue publishes has its publication asset
    assert {k.removeprefix("datasud/") for k in keys - datasets if k.startswith("datasud/")} == {
        d for d in datasets if catalogue[d].publish}
    # the catalogue site reads every publication
    assert "portal/catalogue_site" in keys
    assert {"raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"} <= keys


def test_raw_assets_are_built_from_the_catalogue_with_their_metadata(settings):
    defs = build_defs(settings)
    catalog = default_catalog()
    for spec in catalog.raw_datasets:
        asset = defs.resolve_assets_def(spec.id)
        aspec = next(iter(asset.specs))
        assert aspec.owners == [f"team:{spec.owner}"]
        assert aspec.tags["access"] == spec.access
        assert aspec.metadata["source_id"] == spec.source.id
        columns = [c.name for c in aspec.metadata["dagster/column_schema"].columns]
        assert columns == list(spec.table_schema.columns)
        if spec.partitioning != "none":
            assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_the_main_job_holds_every_half_hourly_asset(settings):
    defs = build_defs(settings)
    job = defs.resolve_job_def("halfhourly_job")
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"} <= selected
    for key in job.asset_layer.selected_asset_keys:
        assert defs.resolve_assets_def(key).partitions_def.cron_schedule == "*/30 * * * *"


@pytest.mark.parametrize("command", [
    [str(BIN / "dg"), "check", "defs"],
    [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
])
def test_the_code_location_loads_from_the_command_line(command, tmp_path):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path),
           "ENERGY_PIPELINES_HOME": str(tmp_path / "home")}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_cli_lists_datasets_with_their_effective_owners(settings, capsys):
    from energy_pipelines import cli

    assert cli.main(["datasets"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["raw_rte__eco2mix_regional"][1:4] == ["rte", "odre", "open"]
    # the core dataset inherits RTE's ownership and adds the region as publisher of the product
    assert lines["core_rte__eco2mix_regional"][1:4] == ["rte", "odre,region_sud", "open"]


def test_cli_refuses_a_selection_that_matches_nothing(settings):
    from energy_pipelines import cli

    with pytest.raises(SystemExit, match="matches no asset"):
        cli.main(["materialize", "no_such_asset", "--from", "2025-01-01", "--to", "2025-01-02"])
