"""One-year single-run backfill of the éCO2mix core asset vs plain DuckDB SQL on the same file.

    python benchmarks/bench_eco2mix_backfill.py [--archive PATH] [--days 365] [--instance memory,sqlite,postgres]
                                                [--no-dagster] [--json PATH]

RTE's real 2017 PACA archive is dropped into a fresh landing zone and materialised three ways,
each in its own process (so peak memory is its own):
  dagster   `energy-pipelines materialize raw+core --from 2017-01-01 --to 2018-01-01`: one run,
            17,520 half-hour partitions per asset (Dagster records one materialisation each);
  compute   the same reader, transform and Parquet writes without Dagster (our code's own cost);
  duckdb    plain DuckDB SQL doing the same parsing and typing (latin-1 CSV, local time -> UTC,
            DST filler rows dropped, ND/'-' as NULL, green share) into date-partitioned Parquet.
`--days N` keeps the first N days of 2017 (all three variants, same window); `--instance` takes a
comma-separated list of Dagster instance kinds (one Dagster run per kind); `--json PATH` writes the
figures for benchmarks/run_all.py. Prints times, peak RSS, row counts and the ratios to plain
DuckDB. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench_common import failure_reason

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE_PATH = Path("shared") / "realdata" / "rte_eco2mix_paca" / "eCO2mix_RTE_PACA_Annuel-Definitif_2017.csv"
# the real data sits beside the clone: take the nearest ancestor that has it
DEFAULT_ARCHIVE = next((p / ARCHIVE_PATH for p in ROOT.parents if (p / ARCHIVE_PATH).exists()),
                       ROOT.parent / ARCHIVE_PATH)
ASSETS = "raw_rte__eco2mix_regional,core_rte__eco2mix_regional"

DUCKDB_SQL = """
COPY (
  WITH src AS (
    SELECT *, strptime("Date" || ' ' || "Heures", '%d/%m/%Y %H:%M') AS naive
    FROM read_csv('{archive}', delim=';', header=true, encoding='latin-1', all_varchar=true, null_padding=true)
    WHERE "Périmètre" = 'PACA' AND coalesce("Consommation", '') <> ''
  ), located AS (
    SELECT *, timezone('Europe/Paris', naive) AS datetime_utc FROM src
  ), typed AS (
    SELECT datetime_utc,
           try_cast(nullif(nullif("Consommation", 'ND'), '-') AS DOUBLE) AS consommation_mw,
           try_cast(nullif(nullif("Thermique", 'ND'), '-') AS DOUBLE) AS thermique_mw,
           try_cast(nullif(nullif("Nucléaire", 'ND'), '-') AS DOUBLE) AS nucleaire_mw,
           try_cast(nullif(nullif("Eolien", 'ND'), '-') AS DOUBLE) AS eolien_mw,
           try_cast(nullif(nullif("Solaire", 'ND'), '-') AS DOUBLE) AS solaire_mw,
           try_cast(nullif(nullif("Hydraulique", 'ND'), '-') AS DOUBLE) AS hydraulique_mw,
           try_cast(nullif(nullif("Pompage", 'ND'), '-') AS DOUBLE) AS pompage_mw,
           try_cast(nullif(nullif("Bioénergies", 'ND'), '-') AS DOUBLE) AS bioenergies_mw,
           try_cast(nullif(nullif("Ech. physiques", 'ND'), '-') AS DOUBLE) AS ech_physiques_mw
    FROM located
    -- a local time that does not exist (spring gap) does not come back unchanged: RTE filler row
    WHERE timezone('Europe/Paris', datetime_utc) = naive
    QUALIFY row_number() OVER (PARTITION BY datetime_utc ORDER BY naive) = 1
  )
  SELECT *, 100 * (eolien_mw + solaire_mw + hydraulique_mw + bioenergies_mw) / nullif(consommation_mw, 0)
           AS green_share_pct,
         strftime(datetime_utc AT TIME ZONE 'UTC', '%Y-%m-%d') AS date
  FROM typed WHERE datetime_utc >= TIMESTAMPTZ '{start}' AND datetime_utc < TIMESTAMPTZ '{end}'
  ORDER BY datetime_utc
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date), OVERWRITE_OR_IGNORE)
"""


def _home(archive: Path) -> Path:
    home = Path(tempfile.mkdtemp(prefix="ep-bench-"))
    landing = home / "landing" / "rte_eco2mix_regional"
    landing.mkdir(parents=True)
    shutil.copy(archive, landing / archive.name)
    return home


def _days(days: int) -> tuple[str, str]:
    """[first Paris day, day after the last) of the benchmark window, as YYYY-MM-DD."""
    first = date(2017, 1, 1)
    return first.isoformat(), (first + timedelta(days=days)).isoformat()


def variant_dagster(archive: Path, instance_kind: str, days: int) -> dict:
    import dagster as dg

    first, end = _days(days)
    home = _home(archive)
    os.environ.update({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "live",
                       "ENERGY_PIPELINES_OFFLINE": "1", "ENERGY_PIPELINES_PARTITIONS_START": first,
                       "ENERGY_PIPELINES_PARTITIONS_END": end})
    from energy_pipelines.cli import _paris_midnight, materialize

    db = None
    if instance_kind == "postgres":
        import psycopg2

        db = f"ep_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {db}")
        dhome = home / "dagster_home"
        dhome.mkdir()
        (dhome / "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: postgresql://postgres@127.0.0.1:5432/{db}\n"
            "telemetry:\n  enabled: false\n")
        instance = dg.DagsterInstance.from_config(str(dhome))
    elif instance_kind == "sqlite":
        instance = dg.DagsterInstance.local_temp(str(home / "dagster_home"))
    else:
        instance = dg.DagsterInstance.ephemeral()
    t0 = time.perf_counter()
    result = materialize(ASSETS, _paris_midnight(first), _paris_midnight(end), instance=instance, quiet=True)
    seconds = time.perf_counter() - t0
    from energy_pipelines.storage import ParquetStore

    core = ParquetStore(home / "warehouse").read("core_rte__eco2mix_regional", time_column="datetime_utc")
    events = len(result.get_asset_materialization_events())
    if db:
        instance.dispose()
        admin.cursor().execute(f"DROP DATABASE {db} WITH (FORCE)")
    shutil.rmtree(home)
    return {"seconds": seconds, "rows": core.num_rows, "success": result.success, "materialisations": events}


def variant_compute(archive: Path, days: int) -> dict:
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.partitions import paris_day_bounds
    from energy_pipelines.sources.landing import LandingZone
    from energy_pipelines.sources.rte_eco2mix import ADAPTER
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.schema import conform
    from energy_pipelines.transforms.eco2mix import clean_eco2mix

    first, end = _days(days)
    home = _home(archive)
    catalog = default_catalog()
    t0 = time.perf_counter()
    window = (paris_day_bounds(first)[0], paris_day_bounds(end)[0])
    read = LandingZone(home / "landing", "rte_eco2mix_regional").read_window(ADAPTER, *window)
    store = ParquetStore(home / "warehouse")
    for dataset, frame in (("raw_rte__eco2mix_regional", read.rows),):
        spec = catalog[dataset]
        store.write(dataset, conform(frame, spec.table_schema.to_arrow(), dataset), time_column="datetime_utc",
                    window=window)
    raw = store.read("raw_rte__eco2mix_regional", time_column="datetime_utc", window=window).to_pandas()
    cleaned = clean_eco2mix(raw)
    spec = catalog["core_rte__eco2mix_regional"]
    table = conform(cleaned.data, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)
    store.write(spec.id, table, time_column="datetime_utc", window=window)
    seconds = time.perf_counter() - t0
    shutil.rmtree(home)
    return {"seconds": seconds, "rows": table.num_rows, "success": True}


def variant_duckdb(archive: Path, days: int) -> dict:
    import duckdb

    from energy_pipelines.partitions import paris_day_bounds

    first, end = _days(days)
    out = Path(tempfile.mkdtemp(prefix="ep-bench-duck-"))
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(DUCKDB_SQL.format(archive=archive, out=out / "core", start=paris_day_bounds(first)[0].isoformat(),
                                  end=paris_day_bounds(end)[0].isoformat()))
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/core/*/*.parquet')").fetchone()[0]
    seconds = time.perf_counter() - t0
    shutil.rmtree(out)
    return {"seconds": seconds, "rows": rows, "success": True}


def run_child(variant: str, archive: Path, instance: str, days: int) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", variant, "--archive", str(archive),
                             "--instance", instance, "--days", str(days)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    status = proc.returncode
    if status != 0:
        raise SystemExit(f"{variant} failed (status {status}): {failure_reason(err)}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["peak_rss_mb"] = figures.pop("own_peak_rss_mb")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--days", type=int, default=365, help="the first N days of 2017 (365: the whole year)")
    parser.add_argument("--instance", default="memory",
                        help="Dagster instance kind(s), comma-separated: memory, sqlite, postgres")
    parser.add_argument("--no-dagster", action="store_true", help="measure plain DuckDB and our code only")
    parser.add_argument("--json", type=Path, help="write the figures to this file (for benchmarks/run_all.py)")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        fn = {"dagster": lambda: variant_dagster(args.archive, args.instance, args.days),
              "compute": lambda: variant_compute(args.archive, args.days),
              "duckdb": lambda: variant_duckdb(args.archive, args.days)}
        figures = fn[args.child]()
        figures["own_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return
    if not args.archive.exists():
        raise SystemExit(f"archive not found: {args.archive} (pass --archive)")
    kinds = [] if args.no_dagster else [k.strip() for k in args.instance.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ("memory", "sqlite", "postgres")]
    if unknown:
        raise SystemExit(f"unknown instance kind(s) {unknown}: expected memory, sqlite or postgres")
    print(f"archive: {args.archive.name}  days: {args.days}  instances: {kinds or 'none'}  cpus: {os.cpu_count()}")
    results = {v: run_child(v, args.archive, "memory", args.days) for v in ("duckdb", "compute")}
    for kind in kinds:
        results[f"dagster/{kind}"] = run_child("dagster", args.archive, kind, args.days)
    base = results["duckdb"]["seconds"]
    print(f"{'variant':<16}{'seconds':>10}{'x duckdb':>10}{'peak MB':>10}{'rows':>8}  notes")
    for name, r in results.items():
        note = f"{r.get('materialisations', '')} materialisations recorded" if name.startswith("dagster") else ""
        print(f"{name:<16}{r['seconds']:>10.2f}{r['seconds'] / base:>10.1f}{r['peak_rss_mb']:>10.0f}{r['rows']:>8}"
              f"  {note}")
    compute = results["compute"]["seconds"]
    for kind in kinds:
        d = results[f"dagster/{kind}"]
        per = (d["seconds"] - compute) / max(d["materialisations"], 1) * 1000
        print(f"Dagster bookkeeping ({kind}): ~{per:.1f} ms per partition materialisation "
              f"({d['materialisations']} for 2 assets x {args.days} days of half-hours)")
    print(f"aim: our code within 3x of plain DuckDB: {'met' if compute <= 3 * base else 'NOT met'} "
          f"({compute / base:.1f}x)")
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": f"RTE PACA archive, {args.days} days (raw + core)",
            "duckdb_s": base, "ours_s": compute,
            "dagster_s": {kind: results[f"dagster/{kind}"]["seconds"] for kind in kinds},
            "ours_ratio": compute / base,
            "dagster_ratio": {kind: results[f"dagster/{kind}"]["seconds"] / base for kind in kinds},
            "peak_rss_mb": {name: r["peak_rss_mb"] for name, r in results.items()},
            "rows": {name: r["rows"] for name, r in results.items()},
        }, indent=1))


if __name__ == "__main__":
    main()
