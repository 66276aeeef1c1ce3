"""The command line: every argument explains itself, hints name a command that works, `ui` does not publish."""

import argparse
from datetime import timedelta

from energy_pipelines import cli


def _walk(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:  # argparse keeps no public list of actions
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", helps.get(name)
                yield from _walk(sub, f"{path} {name}")
        else:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help


def test_every_command_and_argument_has_help_text():
    found = list(_walk(cli.build_parser(), "energy-pipelines"))
    assert len(found) > 15  # the walk reached the subcommands' arguments
    missing = [name for name, text in found if not (text and text.strip())]
    assert missing == []


def test_the_closing_hint_calls_the_cli_by_a_path_that_works(tmp_path, monkeypatch):
    venv_bin = tmp_path / "project" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv is not activated
    assert cli.venv_command(str(venv_bin / "python"), cwd=tmp_path / "project") == ".venv/bin/energy-pipelines"
    assert cli.venv_command(str(venv_bin / "python"), cwd=tmp_path / "elsewhere") == str(venv_bin / "energy-pipelines")
    (venv_bin / "energy-pipelines").write_text("#!/bin/sh\n")
    (venv_bin / "energy-pipelines").chmod(0o755)
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # activated: the bare name works
    assert cli.venv_command(str(venv_bin / "python"), cwd=tmp_path / "project") == "energy-pipelines"


def test_ui_starts_on_the_given_port_with_the_publication_sensor_off_unless_asked(settings, monkeypatch):
    import dagster as dg

    from energy_pipelines.build import build_defs
    from energy_pipelines.settings import load_settings

    launched = []

    class Launched:  # `dagster dev`, recorded instead of started
        def __init__(self, argv, env, **options):
            launched.append((argv, env))

        def wait(self):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", Launched)
    # --reports-port 0: any free port (a fixed one may be taken on a shared machine)
    assert cli.main(["ui", "--port", "3111", "--reports-port", "0"]) == 0
    assert cli.main(["ui", "--automation", "--reports-port", "0"]) == 0
    (plain_argv, plain_env), (_, asked_env) = launched
    assert plain_argv[plain_argv.index("-p") + 1] == "3111"
    assert plain_env["ENERGY_PIPELINES_REPORTS_URL"].startswith("http://127.0.0.1:")
    statuses = []
    for env in (plain_env, asked_env):
        monkeypatch.setenv("ENERGY_PIPELINES_AUTOMATION", env["ENERGY_PIPELINES_AUTOMATION"])
        sensor = build_defs(load_settings()).resolve_sensor_def("publication_on_product_change")
        statuses.append(sensor.default_status)
    assert statuses == [dg.DefaultSensorStatus.STOPPED, dg.DefaultSensorStatus.RUNNING]


def test_run_tags_name_the_assets_the_paris_range_and_the_mode():
    import dagster as dg

    from energy_pipelines.clock import paris_day_bounds
    from energy_pipelines.runs import run_tags

    start, end = paris_day_bounds("2025-10-26")[0], paris_day_bounds("2025-10-27")[0]
    keys = [dg.AssetKey("raw_rte__eco2mix_regional"), dg.AssetKey("core_rte__eco2mix_regional")]
    tags = run_tags("materialize", keys, start, end, "sample", ["k"] * 50)
    assert tags["energy_pipelines/run"] == ("materialize core_rte__eco2mix_regional,raw_rte__eco2mix_regional "
                                            "2025-10-26→2025-10-27 50 partition(s) (sample)")
    assert tags["energy_pipelines/range"] == "2025-10-26→2025-10-27" and tags["energy_pipelines/mode"] == "sample"
    # a demo stops at the last half-hour, not at midnight; many assets are counted, all listed in their own tag
    many = [dg.AssetKey(f"a{i}") for i in range(5)]
    tags = run_tags("demo", many, start, end + timedelta(hours=9), "live")
    assert tags["energy_pipelines/run"] == "demo 5 assets (a0,a1,a2,…) 2025-10-26→2025-10-27 09:00 (live)"
    assert tags["energy_pipelines/assets"] == "a0,a1,a2,a3,a4"


def test_library_chatter_stays_off_the_console(capfd, caplog):
    import logging
    import warnings

    import dagster as dg
    from cmdstanpy.utils import get_logger

    from energy_pipelines.console import quiet_libraries

    caplog.set_level(logging.DEBUG)  # as verbose as a console can be: only quiet_libraries() stands in the way
    quiet_libraries()
    get_logger().info("Chain [1] start processing")  # what prophet's fits print, 22 lines per demo
    logging.getLogger("prophet").info("Disabling yearly seasonality")
    warnings.warn("backfill_policy is currently in beta", dg.BetaWarning, stacklevel=1)
    get_logger().error("a real cmdstan failure")  # errors still show
    shown = capfd.readouterr().err + "\n".join(r.getMessage() for r in caplog.records)
    assert "Chain [1]" not in shown and "seasonality" not in shown and "beta" not in shown
    assert "a real cmdstan failure" in shown


def test_the_demo_summary_has_one_row_per_layer_in_the_order_data_flows():
    import io

    import dagster as dg
    from rich.console import Console

    from energy_pipelines.console import RunReport

    report = RunReport(console=Console(file=io.StringIO(), width=120))
    for asset, key, rows in (("out_x__p", "k1", 5), ("raw_x__a", "k1", 10), ("raw_x__a", "k2", 12),
                             ("raw_y__b", None, 3), ("core_x__a", "k1", 9)):
        report.assets[asset].add(key, {"dagster/row_count": dg.MetadataValue.int(rows)})
    for n in range(10):
        report.checks_failed[(f"core_x__{n}", "freshness", "WARN")] += 1
        report.check_reasons[(f"core_x__{n}", "freshness", "WARN")] = "stale: 2 h"
    report.checks_failed[("raw_x__a", "expectations", "ERROR")] += 2
    report.print_summary(by_layer=True)
    lines = [line.split() for line in report.console.file.getvalue().splitlines()]
    assert [line[0] for line in lines[1:4]] == ["raw", "core", "out"]
    assert lines[1][:6] == ["raw", "(2", "assets)", "3", "25", "n/a"]
    # the blocking failure first, then 7 of the 10 warnings, the rest counted
    first = next(i for i, line in enumerate(lines) if line[:2] == ["checks", "failed"]) + 1
    assert " ".join(lines[first][:3]) == "raw_x__a expectations (ERROR)"
    assert " ".join(lines[first + 1]) == "core_x__0 freshness (WARN) on 1: stale: 2 h"
    assert " ".join(lines[first + 8][:4]) == "… and 3 more:"


def test_the_demo_ends_by_saying_where_the_catalogue_and_the_pages_are(settings, capsys):
    cli._print_outputs(settings)
    site = settings.published_dir / "index.html"
    assert f"{site}   (not built: nothing was published)" in capsys.readouterr().out
    site.parent.mkdir(parents=True)
    site.write_text("<html lang='fr'></html>", encoding="utf-8")
    cli._print_outputs(settings)
    out = capsys.readouterr().out
    assert f"{site}\n" in out and "not built" not in out
    assert str(settings.reports_dir / "pages" / "out_uc1__dashboards" / "index.html") in out


def test_the_demo_runs_what_follows_publication_apart_so_an_empty_product_cannot_skip_it(settings):
    """An empty product's publication yields nothing; Dagster would skip the catalogue site in that run."""
    from datetime import datetime, timezone

    import dagster as dg

    from energy_pipelines.build import build_defs

    defs = build_defs(settings)
    batches = cli.demo_batches(defs, datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 3, 3, tzinfo=timezone.utc))
    site = next(keys for keys, _ in batches if dg.AssetKey(["portal", "catalogue_site"]) in keys)
    assert not [k for k in site if k.path[0] == "datasud"]
    assert any(k.path[0] == "datasud" for keys, _ in batches for k in keys)  # publications still run


def test_definitions_are_built_once_per_settings_and_never_shared_across_keys(settings):
    """The demo launches dozens of runs: each used to rebuild the Definitions (seconds each)."""
    assert cli.defs_for(settings) is cli.defs_for(settings.with_())
    assert cli.defs_for(settings) is not cli.defs_for(settings.with_(partitions_start="2023-01-01"))
    keyed = settings.with_(pseudonymisation_key="k" * 40)
    assert cli.defs_for(keyed) is not cli.defs_for(keyed.with_(pseudonymisation_key="z" * 40))


def test_a_range_keeps_only_whole_partitions_that_already_exist(settings):
    """Both DST days whole, and a window running past now stops at the last complete half-hour."""
    from datetime import datetime, timezone

    from energy_pipelines.clock import paris_day_bounds
    from energy_pipelines.partitions import half_hourly

    pdef = half_hourly(settings.with_(partitions_start="2017-01-01"))
    for day, count in (("2025-03-30", 46), ("2025-10-26", 50)):
        keys = cli.partition_keys_within(pdef, *paris_day_bounds(day))
        assert len(keys) == count and keys[0].startswith(day)
    now = datetime.now(timezone.utc)
    keys = cli.partition_keys_within(pdef, now - timedelta(hours=3), now + timedelta(days=1))
    last_end = pdef.time_window_for_partition_key(keys[-1]).end
    assert 5 <= len(keys) <= 6 and now - timedelta(minutes=30) <= last_end <= now
