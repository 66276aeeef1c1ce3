"""`energy-pipelines`: the command line of the platform.

    energy-pipelines demo                         offline sample run of the main job, then where to look
    energy-pipelines materialize SELECTION --from 2017-01-01 --to 2018-01-01
                                                  a range of half-hours/days as ONE run
    energy-pipelines datasets                     every dataset with owners, publisher, access, licence
    energy-pipelines expectations sync|check      quality suites in line with the catalogue
    energy-pipelines sql "select ..."             query warehouse.duckdb (read-only)
    energy-pipelines ui                           the Dagster UI on this data root
Dates are Paris calendar days; `--to` is exclusive.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from energy_pipelines.clock import PARIS, UTC, paris_day_bounds
from energy_pipelines.settings import (
    PROJECT_ROOT,
    Settings,
    SettingsError,
    export_dagster_home,
    export_for_child,
    load_settings,
)


def _paris_midnight(day: str) -> datetime:
    try:
        return paris_day_bounds(day)[0]
    except ValueError:
        raise SystemExit(f"error: {day!r} is not a date in YYYY-MM-DD form") from None


LOCAL_INSTANCE_YAML = """\
# Local Dagster instance of this data root (SQLite). Production uses deploy/dagster.yaml (PostgreSQL).
telemetry:
  enabled: false
"""


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME if set, else the data root's own, created with telemetry off."""
    home = export_dagster_home(settings)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(LOCAL_INSTANCE_YAML)
    return home


def _instance(settings):
    import dagster as dg

    from energy_pipelines.runs import fail_orphaned_runs

    dagster_home(settings)
    instance = dg.DagsterInstance.get()
    for run_id in fail_orphaned_runs(instance):
        print(f"note: run {run_id} was left STARTED by a process that is gone: marked failed")
    return instance


def _extend_start(settings: Settings, start: datetime, quiet: bool = False) -> Settings:
    """History loads may predate the configured partition start: extend it for this invocation."""
    if start >= settings.partitions_start:
        return settings
    day = start.astimezone(PARIS).strftime("%Y-%m-%d")
    if day != f"{settings.partitions_start:%Y-%m-%d}" and not quiet:  # same day: only its first Paris hour, not worth a note
        print(f"note: partitions start moved from {settings.partitions_start:%Y-%m-%d} to {day} for this run "
              "(set ENERGY_PIPELINES_PARTITIONS_START to keep it)")
    return settings.with_(partitions_start=day)


def partition_keys_within(pdef, start: datetime, end: datetime) -> list[str]:
    """Keys of the partitions lying wholly inside [start, end) that already exist (today's day does not)."""
    import dagster as dg

    last = pdef.get_last_partition_window()  # not the set of every existing key: 150,000 since 2017
    if last is None:
        return []
    limit = min(end.astimezone(UTC), last.end.astimezone(UTC))
    return [k for k in pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, end))
            if pdef.time_window_for_partition_key(k).end.astimezone(UTC) <= limit]


_DEFS: dict[str, object] = {}


def defs_for(settings: Settings):
    """The Definitions of these settings, built once per process: building them takes seconds, and the
    demo launches dozens of runs with the same few settings (its use-case steps differ only in start)."""
    from energy_pipelines.build import build_defs

    key = hashlib.sha256(settings.model_dump_json().encode()
                         + b"".join(v.get_secret_value().encode() for v in _secrets(settings))).hexdigest()
    if key not in _DEFS:
        _DEFS[key] = build_defs(settings)
    return _DEFS[key]


def _secrets(settings: Settings) -> list:
    # model_dump_json masks secrets: two settings differing only in a key must not share Definitions
    return [v for v in (getattr(settings, f) for f in type(settings).model_fields) if isinstance(v, SecretStr)]


def materialize(selection, start: datetime, end: datetime, *, instance=None, quiet: bool = False,
                settings: Settings | None = None, command: str = "materialize", report=None):
    """Materialise the selected assets over [start, end) as one run; returns the run result.

    `selection`: comma-separated asset names / Dagster selection clauses, or a list of AssetKeys.
    The run is tagged with what it does (`runs.run_tags`) and belongs to the code location, so the
    UI names it and shows it on its timeline. `report` (console.RunReport) follows its progress.
    """
    import dagster as dg

    from energy_pipelines.runs import execute, run_tags

    settings = _extend_start(settings or load_settings(), start)
    defs = defs_for(settings)
    graph = defs.resolve_asset_graph()
    names = [] if isinstance(selection, list) else [s.strip() for s in selection.split(",") if s.strip()]
    asset_sel = dg.AssetSelection.assets(*selection) if isinstance(selection, list) else dg.AssetSelection.all()
    if names:
        try:
            clauses = [dg.AssetSelection.from_string(n) for n in names]
        except dg.DagsterInvalidDefinitionError as exc:
            raise SystemExit(f"error: {exc}") from None
        asset_sel = clauses[0]
        for clause in clauses[1:]:
            asset_sel = asset_sel | clause
    try:
        keys = asset_sel.resolve(graph)
    except (dg.DagsterInvalidSubsetError, dg.DagsterInvalidDefinitionError) as exc:
        raise SystemExit(f"error: selection {selection!r} matches no asset ({exc})") from None
    if not keys:
        raise SystemExit(f"error: selection {selection!r} matches no asset")
    partitions = {graph.get(k).partitions_def for k in keys}
    if len(partitions) != 1:
        raise SystemExit("error: the selection mixes partitionings; select assets of one partitioning per run")
    (pdef,) = partitions
    from energy_pipelines.runs import owner_tags

    tags, window_keys = owner_tags(), []
    if pdef is not None:
        window_keys = partition_keys_within(pdef, start, end)
        if not window_keys:
            raise SystemExit(f"error: no partition of {sorted(k.to_user_string() for k in keys)} in "
                             f"[{start.isoformat()}, {end.isoformat()})")
        tags.update({"dagster/asset_partition_range_start": window_keys[0],
                     "dagster/asset_partition_range_end": window_keys[-1]})
        if not quiet:
            print(f"materialising {len(keys)} asset(s) over {len(window_keys)} partition(s) "
                  f"{window_keys[0]} .. {window_keys[-1]} as one run")
    tags.update(run_tags(command, keys, start, end, settings.mode, window_keys))
    instance = instance or _instance(settings)
    warning = history_load_warning(instance, len(keys) * len(window_keys))
    if warning:
        print(warning, file=sys.stderr)
    if report is not None:
        report.run_starts(len(keys) * max(len(window_keys), 1))
    result = execute(
        [*(defs.assets or []), *(defs.asset_checks or [])], defs.resources, keys,
        instance=instance, tags=tags,
        # the console logger prints every event at DEBUG: a year is ~10^5 lines; with a progress bar
        # shown, only warnings (skips, failed checks, errors) are worth a line of their own
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING" if report else "INFO"}}}},
        on_event=report.on_event if report is not None else None,
    )
    if report is not None:
        report.run_ends(result)
    return result


# Dagster's cost per asset-partition on a local SQLite instance, measured on this machine (README,
# "Tests and benchmarks"; issue 12): it is the bookkeeping, not the data, that a long history load waits for
SQLITE_S_PER_ASSET_PARTITION = 0.055
POSTGRES_S_PER_ASSET_PARTITION = 0.0015
LONG_LOAD_S = 120


def history_load_warning(instance, asset_partitions: int) -> str | None:
    """A warning with an estimate before a history load that the SQLite instance would make long."""
    if "sqlite" not in type(instance.event_log_storage).__name__.lower():
        return None
    estimate = asset_partitions * SQLITE_S_PER_ASSET_PARTITION
    if estimate < LONG_LOAD_S:
        return None
    on_postgres = asset_partitions * POSTGRES_S_PER_ASSET_PARTITION
    return (f"warning: {asset_partitions:,} asset-partitions on the local SQLite instance: Dagster's bookkeeping "
            f"alone takes about {estimate / 60:.0f} min here (about {max(on_postgres / 60, 1):.0f} min on the "
            "PostgreSQL instance of deploy/dagster.yaml, see `energy-pipelines serve`)")


def _cmd_materialize(args) -> int:
    from energy_pipelines.console import RunReport

    start, end = _paris_midnight(args.start), _paris_midnight(args.end)
    with RunReport() as report:
        result = materialize(args.selection, start, end, report=report)
    report.print_summary()
    return 0 if result.success else 1


def demo_batches(defs, start: datetime, end: datetime, report=None,
                 only: set[str] | None = None) -> list[tuple[list, object]]:
    """Every asset (or those named in `only`) in dependency order, cut into runs of one partitioning each.

    Consecutive assets (in topological order) that share a partitions definition run together,
    so upstream reference data (stations, communes) exists before the half-hours that read it.
    """

    from energy_pipelines.assets.publication import GROUP as PUBLICATION

    graph = defs.resolve_asset_graph()
    order = [k for level in graph.toposorted_asset_keys_by_level for k in sorted(level, key=str)
             if only is None or k.to_user_string() in only]
    # a publication with nothing to publish yields no output, and Dagster skips whatever depends on it in
    # the same run (the catalogue site): what follows publications runs on its own, after them all
    may_not_materialise = {k for k in order if graph.get(k).group_name == PUBLICATION}
    batches: list[tuple[list, object]] = []
    for key in order:
        pdef = graph.get(key).partitions_def
        after_optional = graph.get(key).parent_keys & may_not_materialise & set(batches[-1][0] if batches else [])
        if batches and batches[-1][1] == pdef and not after_optional:
            batches[-1][0].append(key)
        else:
            batches.append(([key], pdef))
    runnable, skipped = [], {}
    for keys, pdef in batches:
        if pdef is not None and not partition_keys_within(pdef, start, end):
            skipped.setdefault(_partitioning(pdef), []).extend(k.to_user_string() for k in keys)
            continue
        runnable.append((keys, pdef))
    for partitioning, names in skipped.items():
        what = f"{len(names)} {partitioning} asset(s), no whole partition ends inside the window: {', '.join(names)}"
        if report is not None:
            report.skip(what)
        else:
            print(f"  skipped: {what}")
    return runnable


def _partitioning(pdef) -> str:
    cron = getattr(pdef, "cron_schedule", None)
    return {"0 0 1 1 *": "yearly", "0 0 1 * *": "monthly", "0 0 * * 1": "weekly",
            "0 0 * * *": "daily"}.get(cron, cron or type(pdef).__name__)


def _cmd_demo(args) -> int:
    from energy_pipelines.assets.publication import GROUP as PUBLICATION_GROUP
    from energy_pipelines.console import RunReport
    from energy_pipelines.portal.dagster import GROUP as PORTAL_GROUP

    settings = load_settings()
    now = datetime.now(UTC)
    end = now.replace(minute=(now.minute // 30) * 30, second=0, microsecond=0)
    start = (end - timedelta(days=args.days)).astimezone(PARIS).replace(hour=0, minute=0).astimezone(UTC)
    print(f"energy_pipelines demo: mode={settings.mode}, data root {settings.home}, "
          f"{start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC")
    instance = _instance(settings)
    with RunReport() as report:
        defs = defs_for(settings)
        graph = defs.resolve_asset_graph()
        stepped = {d for step in USE_CASE_STEPS for d in step.datasets}  # run over their own windows below
        # publication and the catalogue site come last, once every use case has its data
        last = {k.to_user_string() for k in graph.get_all_asset_keys()
                if graph.get(k).group_name in (PUBLICATION_GROUP, PORTAL_GROUP)}
        recent = {k.to_user_string() for k in graph.get_all_asset_keys()} - stepped - last
        batches = [(settings, start, end, keys, pdef)
                   for keys, pdef in demo_batches(defs, start, end, report, only=recent)]
        batches += _use_case_batches(settings, report)
        batches += [(settings, start, end, keys, pdef)
                    for keys, pdef in demo_batches(defs, start, end, report, only=last)]
        report.plan(sum(len(keys) * max(len(partition_keys_within(pdef, lo, hi)) if pdef else 1, 1)
                        for _, lo, hi, keys, pdef in batches))
        for run_settings, lo, hi, keys, _ in batches:
            materialize(keys, lo, hi, instance=instance, settings=run_settings, quiet=True, command="demo",
                        report=report)
    report.print_summary(by_layer=True)  # ~60 assets: one row per layer keeps it on one screen
    _write_pages(settings)
    _print_outputs(settings)
    return 0 if all(ok for _, ok in report.runs) else 1


@dataclass(frozen=True)
class DemoStep:
    """Use-case assets whose partitions (years, months, chosen days) lie outside the demo's last days."""

    label: str
    datasets: tuple[str, ...]
    windows: tuple[tuple[str, str], ...]  # Paris days [from, to)


UC1_RAW = ("raw_ore__local_consumption", "raw_ore__aggregate_consumption", "raw_enedis__annual_production",
           "raw_atmosud__cigale_inventory", "raw_insee__population")
UC1_DERIVED = ("hybrid_uc1__energy_balance", "hybrid_uc1__ghg_emissions", "hybrid_uc1__territorial_indicators",
               "hybrid_uc1__territorial_clusters", "out_uc1__energy_balance", "out_uc1__ghg_emissions",
               "out_uc1__territorial_indicators", "out_uc1__territorial_clusters", "out_uc1__dashboards")
UC4_MONTHLY = ("raw_suppliers__building_bills", "core_patrimoine__bill_lines", "core_patrimoine__monthly_consumption",
               "core_patrimoine__anomalies")
UC4_WHOLE = ("core_patrimoine__baselines", "core_patrimoine__building_indicators", "out_uc4__energy_by_commune",
             "out_patrimoine__building_reports")
UC5_STEPS = ("raw_acc__curves", "raw_acc__enedis_allocation", "core_acc__participant_curves", "core_acc__allocation",
             "core_acc__enedis_reconciliation")
UC5_MONTHS = ("out_acc__monthly_statements", "out_acc__operation_rates")
UC5_YEAR = ("out_acc__key_comparison", "out_acc__dashboard")
# UC1: one sample year (the secrecy engine's LP audit costs over a minute of CPU per year);
# UC4: the estate's reference year (assets_config/uc4/params.yaml) and the year after;
# UC5: both DST days of 2025 (46 and 50 half-hours), then their months and their year
USE_CASE_STEPS = (
    DemoStep("UC1 territorial dashboard: sample year 2024", (*UC1_RAW, *UC1_DERIVED), (("2024-01-01", "2025-01-01"),)),
    DemoStep("UC4 lycées: temperature of two years", ("raw_rte__temperature_daily",), (("2023-01-01", "2025-01-01"),)),
    DemoStep("UC4 lycées: bills of ~150 lycées over two years", UC4_MONTHLY, (("2023-01-01", "2025-01-01"),)),
    DemoStep("UC4 lycées: baselines, indicators, reports", UC4_WHOLE, (("2023-01-01", "2025-01-01"),)),
    DemoStep("UC5 collective self-consumption: both DST days", UC5_STEPS,
             (("2025-03-30", "2025-03-31"), ("2025-10-26", "2025-10-27"))),
    DemoStep("UC5 collective self-consumption: statements of those months", UC5_MONTHS,
             (("2025-03-01", "2025-04-01"), ("2025-10-01", "2025-11-01"))),
    DemoStep("UC5 collective self-consumption: key comparison, dashboard", UC5_YEAR, (("2025-01-01", "2026-01-01"),)),
)


def _use_case_batches(settings: Settings, report=None) -> list[tuple]:
    """(settings, start, end, keys, partitions) of each run of USE_CASE_STEPS, in order."""
    out = []
    for step in USE_CASE_STEPS:
        for first, last in step.windows:
            start, end = _paris_midnight(first), _paris_midnight(last)
            run_settings = _extend_start(settings, start, quiet=True)  # the use cases' own years: expected
            out += [(run_settings, start, end, keys, pdef) for keys, pdef in
                    demo_batches(defs_for(run_settings), start, end, report, only=set(step.datasets))]
    return out


# datasets whose rows are HTML pages: written as files the demo's reader opens with no server
PAGE_DATASETS = {"out_uc1__dashboards": "page", "out_patrimoine__building_reports": "building_id",
                 "out_acc__dashboard": "period_local"}


def _write_pages(settings: Settings) -> None:
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.atomic import write_atomic

    store = ParquetStore(settings.warehouse_dir)
    for dataset, name_column in PAGE_DATASETS.items():
        time_column = "period_start_utc" if dataset == "out_acc__dashboard" else None
        try:
            table = store.read(dataset, time_column=time_column).to_pandas()
        except FileNotFoundError:
            continue
        for name, html in zip(table[name_column].astype(str), table["html"], strict=True):
            relative = name if name.endswith(".html") else f"{name}.html"
            write_atomic(settings.reports_dir / "pages" / dataset / relative,
                         lambda path, text=html: path.write_text(text, encoding="utf-8"))


def _print_outputs(settings) -> None:
    print("\noutputs:")
    print(f"  Parquet   {settings.warehouse_dir}/<dataset>/date=YYYY-MM-DD/part.parquet")
    print(f"  DuckDB    {settings.warehouse_db}   e.g.")
    print(f"            {venv_command()} sql \"select datetime_local, consommation_mw, green_share_pct "
          "from core_rte__eco2mix_regional order by datetime_utc desc limit 5\"")
    print(f"  landing   {settings.landing_dir}")
    print(f"  charts and Data Docs  {settings.reports_dir}")
    print(f"  portal mirror (published products, datapackage.json)  {settings.published_dir}")
    pages = settings.reports_dir / "pages"
    print("  pages (open in a browser, no server needed):")
    site = settings.published_dir / "index.html"
    print(f"    the public catalogue (every product, use-case pages, how to ask for restricted data)  {site}"
          + ("" if site.exists() else "   (not built: nothing was published)"))
    print(f"    UC1 region and EPCI dashboards  {pages / 'out_uc1__dashboards' / 'index.html'}")
    print(f"    UC4 one page per lycée          {pages / 'out_patrimoine__building_reports'}/<building_id>.html")
    print(f"    UC5 operation dashboard         {pages / 'out_acc__dashboard' / '2025.html'}")
    print(f"\nDagster UI:  make ui   (or: {venv_command()} ui --port 3000)")


def venv_command(executable: str | None = None, cwd: Path | None = None) -> str:
    """How to call this CLI from where the user is: bare if on PATH, else the venv's path (relative if below)."""
    import shutil

    command = Path(executable or sys.executable).with_name("energy-pipelines")
    on_path = shutil.which("energy-pipelines")
    if on_path and Path(on_path).resolve() == command.resolve():
        return "energy-pipelines"
    try:
        return str(command.relative_to(cwd or Path.cwd()))
    except ValueError:
        return str(command)


def _cmd_datasets(args) -> int:
    from energy_pipelines.build import build_data_assets
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.governance.policy import decide

    catalog = default_catalog()
    _, lineage = build_data_assets(catalog, load_settings())
    rows = [("dataset", "owners", "publishers", "access", "licences", "personal", "publication")]
    for ds in sorted(lineage):
        eff = lineage[ds]
        outcome = decide(eff, catalog).outcome if catalog[ds].publish else "-"
        rows.append((ds, ",".join(eff.owners), ",".join(eff.publishers), eff.access, ",".join(eff.licences),
                     "yes" if eff.personal_data else "no", outcome))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _cmd_expectations(args) -> int:
    from energy_pipelines.checks.suites import main as suites_main

    return suites_main([args.action, *(["--prune"] if args.prune else [])])


def _cmd_sql(args) -> int:
    import duckdb

    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.query import QueryRefused, run_query

    settings = load_settings()
    if not settings.warehouse_dir.exists():
        print(f"error: no warehouse at {settings.warehouse_dir}; run `energy-pipelines demo` first", file=sys.stderr)
        return 1
    try:
        run_query(ParquetStore(settings.warehouse_dir), args.query).show(max_rows=args.max_rows)
    except QueryRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_ui(args) -> int:
    from energy_pipelines.checks.datadocs import ReportsServer

    settings = load_settings()
    dagster_home(settings)
    dagster = Path(sys.executable).with_name("dagster")
    reports_port = args.reports_port if args.reports_port is not None else args.port + 1
    ui: subprocess.Popen | None = None
    stopping = False

    def stop(*_) -> None:
        # as a Ctrl-C does: SIGINT to the whole group of `dagster dev`, so that its code server stops too
        # (a SIGTERM to `dagster dev` alone leaves the code server behind)
        nonlocal stopping
        stopping = True
        if ui is not None:
            try:
                os.killpg(ui.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    previous = signal.signal(signal.SIGTERM, stop)  # stopped as a service: the UI, then the reports server
    try:
        try:  # a browser does not open the checks' file:// links from the UI: serve the reports over http
            reports = ReportsServer(settings.reports_dir, reports_port)
        except OSError as exc:
            print(f"error: cannot serve {settings.reports_dir} on 127.0.0.1:{reports_port} ({exc.strerror}); "
                  "choose another port with --reports-port", file=sys.stderr)
            return 2
        reports_url = settings.reports_url or reports.url
        # looking at the results should not start publishing: the sensor stays off unless asked; the runs
        # launched from the UI link their Data Docs pages through the reports server
        env = export_for_child(settings, automation="running" if args.automation else "stopped",
                               reports_url=reports_url)
        print(f"Dagster UI on http://{args.host}:{args.port} (publication sensor "
              f"{'on' if args.automation else 'off: --automation to turn it on'}); Data Docs on "
              f"{reports_url}data_docs/index.html; Ctrl-C stops both", flush=True)
        interrupted = False
        with reports:
            if stopping:
                return 0
            # its own process group: the terminal's Ctrl-C reaches this process, which passes it on
            ui = subprocess.Popen([str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
                                   "-h", args.host, "-p", str(args.port)], env=env, process_group=0)
            if stopping:  # a SIGTERM while it was starting
                stop()
            while True:
                try:
                    code = ui.wait()
                    break
                except KeyboardInterrupt:
                    interrupted = True
                    stop()
        return 0 if interrupted or stopping else (code if code >= 0 else 128 - code)
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-pipelines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the main job offline (sample mode) and show the outputs")
    p.add_argument("--days", type=int, default=2, help="how many days up to now to materialise (default 2)")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("materialize", help="materialise a selection over a date range as one run")
    p.add_argument("selection", help="asset names or Dagster selection clauses, comma-separated")
    p.add_argument("--from", dest="start", required=True, help="first Paris day, YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="day after the last, YYYY-MM-DD (exclusive)")
    p.set_defaults(func=_cmd_materialize)
    p = sub.add_parser("datasets", help="list datasets with owners, publishers, access and licences")
    p.set_defaults(func=_cmd_datasets)
    p = sub.add_parser("expectations", help="keep expectations/*.json in line with the catalogue")
    p.add_argument("action", choices=["sync", "check"], help="sync: write skeletons, refresh generated rules; "
                                                              "check: exit 1 when out of date")
    p.add_argument("--prune", action="store_true", help="with sync: delete suites of datasets no longer catalogued")
    p.set_defaults(func=_cmd_expectations)
    p = sub.add_parser("sql", help="run a SQL query on warehouse.duckdb (read-only)")
    p.add_argument("query", help="one or more SELECT statements over the dataset views")
    p.add_argument("--max-rows", type=int, default=40, help="rows shown at most (default 40)")
    p.set_defaults(func=_cmd_sql)
    p = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on this data root")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    p.add_argument("--reports-port", type=int, default=None,
                   help="port on 127.0.0.1 serving the Data Docs and charts the UI links to (default: --port + 1)")
    p.add_argument("--automation", action="store_true",
                   help="start with the publication sensor on (default: off, the UI only shows and launches)")
    p.set_defaults(func=_cmd_ui)
    from energy_pipelines.forecasting.cli import add_parser as add_backtest_parser
    from energy_pipelines.ops import add_parsers as add_ops_parsers  # serve, ... (energy_pipelines/ops)
    from energy_pipelines.portal.cli import add_parser as add_access_parser
    from energy_pipelines.secrecy.cli import add_parser as add_secrecy_parser

    add_access_parser(sub)
    add_secrecy_parser(sub)
    add_backtest_parser(sub)
    add_ops_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from energy_pipelines.console import quiet_libraries

    quiet_libraries()
    args = build_parser().parse_args(argv)
    from energy_pipelines.catalog import CatalogError

    try:
        return args.func(args)
    except (SettingsError, CatalogError) as exc:  # configuration errors name their file/variable
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
