"""UC3 benchmark: one year of all five territories in one Dagster run, against plain DuckDB SQL.

    .venv/bin/python benchmarks/uc3_year.py [--year 2025] [--days 365] [--keep DIR] [--json PATH]

1. sample mode writes a year of Enedis per-commune extracts into landing/ (timed apart: it is the
   simulator, not the pipeline);
2. ONE run over every half-hour of the year: raw extracts -> core_enedis__commune_energy ->
   core_enedis__territorial_energy -> out_uc3__territorial_balance (secrecy applied);
3. ONE run per Paris-calendar product: daily rates (monthly partitions, as one range run),
   monthly and yearly rates and the PV what-if (the yearly partition);
4. the same computation as plain DuckDB SQL over the same landing CSVs (parse, type, commune ->
   territory sums, A = min(P, C), daily / monthly / yearly ratio-of-sums rates), and over the
   raw Parquet the pipeline wrote (without the CSV parse);
then prints the figures and the ratios (`--json PATH` also writes them for benchmarks/run_all.py;
there is no "our code without Dagster" variant here, and the peak memory is the one process's,
pipeline and SQL together). No assertion: figures only (DESIGN §10).
"""

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from energy_pipelines.simulate import simulate
from energy_pipelines.build import build_defs  # noqa: E402
from energy_pipelines.partitions import paris_day_bounds  # noqa: E402
from energy_pipelines.settings import load_settings  # noqa: E402
from energy_pipelines.sources.landing import LandingZone  # noqa: E402
from energy_pipelines.territories import default_territories, membership  # noqa: E402

UTC = timezone.utc
HALF_HOURLY = ["raw_enedis__commune_consumption", "raw_enedis__commune_production", "core_enedis__commune_energy",
               "core_enedis__territorial_energy", "out_uc3__territorial_balance"]


def run(defs, instance, names, start, end):
    graph = defs.resolve_asset_graph()
    keys = [dg.AssetKey(n) for n in names]
    pdef = graph.get(keys[0]).partitions_def
    window = pdef.get_partition_keys_in_time_window(dg.TimeWindow(start, end))
    tags = {"dagster/asset_partition_range_start": window[0], "dagster/asset_partition_range_end": window[-1]}
    t0 = time.perf_counter()
    result = dg.materialize(list(defs.assets), selection=keys, instance=instance, resources=defs.resources,
                            tags=tags, raise_on_error=True)
    elapsed = time.perf_counter() - t0
    steps = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
    return elapsed, steps, len(window)


SQL = """
SET TimeZone = 'UTC';
CREATE TEMP TABLE members AS SELECT * FROM members_df;
CREATE TEMP TABLE cells AS
  SELECT horodate::TIMESTAMPTZ AS t, code_commune, 'consumption' AS flow, total_energie_soutiree_wh AS wh
  FROM read_csv('{landing}/enedis_commune_consumption/*.csv', delim=';', header=true,
                columns={{'horodate': 'VARCHAR', 'code_commune': 'VARCHAR', 'nom_commune': 'VARCHAR',
                         'secteur_activite': 'VARCHAR', 'nb_points_soutirage': 'BIGINT',
                         'total_energie_soutiree_wh': 'DOUBLE', 'energie_soutiree_max_point_wh': 'DOUBLE'}})
  WHERE total_energie_soutiree_wh >= 0
  UNION ALL
  SELECT horodate::TIMESTAMPTZ, code_commune, 'production', total_energie_injectee_wh
  FROM read_csv('{landing}/enedis_commune_production/*.csv', delim=';', header=true,
                columns={{'horodate': 'VARCHAR', 'code_commune': 'VARCHAR', 'nom_commune': 'VARCHAR',
                         'filiere_de_production': 'VARCHAR', 'nb_points_injection': 'BIGINT',
                         'puissance_installee_kw': 'DOUBLE', 'total_energie_injectee_wh': 'DOUBLE',
                         'energie_injectee_max_point_wh': 'DOUBLE'}});
"""
SQL_FROM_PARQUET = """
SET TimeZone = 'UTC';
CREATE TEMP TABLE members AS SELECT * FROM members_df;
CREATE TEMP TABLE cells AS
  SELECT datetime_utc AS t, code_commune, 'consumption' AS flow, total_energie_soutiree_wh AS wh
  FROM read_parquet('{warehouse}/raw_enedis__commune_consumption/date=*/*.parquet')
  UNION ALL
  SELECT datetime_utc, code_commune, 'production', total_energie_injectee_wh
  FROM read_parquet('{warehouse}/raw_enedis__commune_production/date=*/*.parquet');
"""
SQL_BALANCE = """
CREATE TEMP TABLE balance AS
  SELECT territory_id, t,
         sum(wh) FILTER (WHERE flow = 'consumption') / 1000 AS c,
         coalesce(sum(wh) FILTER (WHERE flow = 'production'), 0) / 1000 AS p
  FROM cells JOIN members ON cells.code_commune = members.commune_code
  GROUP BY ALL;
CREATE TEMP TABLE rates AS
  SELECT unit, territory_id, date_trunc(unit, timezone('Europe/Paris', t)) AS period,
         sum(least(p, c)) / sum(p) AS self_consumption, sum(least(p, c)) / sum(c) AS self_production
  FROM (SELECT *, unnest(['day', 'month', 'year']) AS unit FROM balance)
  GROUP BY ALL;
"""


def duckdb_reference(sql: str, members) -> tuple[float, int]:
    con = duckdb.connect()
    con.register("members_df", members)
    t0 = time.perf_counter()
    con.execute(sql + SQL_BALANCE)
    elapsed = time.perf_counter() - t0
    rows = con.sql("SELECT count(*) FROM rates").fetchall()[0][0]
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, default=None, help="data root to use and keep")
    parser.add_argument("--sqlite", action="store_true",
                        help="a SQLite Dagster instance (the local default) instead of an in-memory one: adds the "
                             "cost of storing one materialisation event per partition and asset")
    parser.add_argument("--json", type=Path, help="write the figures to this file (for benchmarks/run_all.py)")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="uc3_bench_"))
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(home),
                              "ENERGY_PIPELINES_PARTITIONS_START": f"{args.year}-01-01"})
    start = paris_day_bounds(f"{args.year}-01-01")[0]
    end = start + timedelta(days=args.days)
    end = paris_day_bounds((end.astimezone(UTC) + timedelta(hours=12)).strftime("%Y-%m-%d"))[0]
    territories = default_territories()
    members = membership(territories)[["territory_id", "commune_code"]]
    print(f"UC3 benchmark: {len(territories)} territories, {members['commune_code'].nunique()} communes, "
          f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC, data root {home}")

    t0 = time.perf_counter()
    now = datetime(args.year + 2, 1, 1, tzinfo=UTC)
    for source in ("enedis_commune_consumption", "enedis_commune_production"):
        simulate(source, LandingZone(settings.landing_dir, source), start, end, now=now)
    simulate_s = time.perf_counter() - t0
    landing_mb = sum(p.stat().st_size for p in settings.landing_dir.rglob("*.csv")) / 1e6
    print(f"  sample simulator (not the pipeline): {simulate_s:7.1f} s, {landing_mb:.0f} MB of CSV")

    defs = build_defs(settings)
    with tempfile.TemporaryDirectory() as dagster_home:
        instance = dg.DagsterInstance.local_temp(dagster_home) if args.sqlite else dg.DagsterInstance.ephemeral()
        dg.materialize(list(defs.assets), selection=[dg.AssetKey("raw_insee__communes"),
                                                    dg.AssetKey("core_insee__territory_communes")],
                       instance=instance, resources=defs.resources)
        half_s, half_steps, n_half = run(defs, instance, HALF_HOURLY, start, end)
        daily_s, daily_steps, _ = run(defs, instance, ["out_uc3__rates_daily"], start, end)
        yearly_s, yearly_steps, _ = run(defs, instance, ["out_uc3__rates_monthly", "out_uc3__rates_yearly",
                                                         "out_uc3__pv_what_if"], start, end)
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{settings.warehouse_dir}/raw_enedis__commune_*/date=*/*.parquet')").fetchall()[0][0]
    print(f"  Dagster instance: {'SQLite (local default)' if args.sqlite else 'in memory'}")
    print(f"  one run over {n_half} half-hours ({rows:,} raw rows): {half_s:7.1f} s")
    for step, seconds in half_steps.items():
        print(f"      {step:40s} {seconds:7.1f} s")
    print(f"  daily rates (12 monthly partitions, one run): {daily_s:7.1f} s")
    print(f"  monthly + yearly rates + PV what-if (yearly partition, one run): {yearly_s:7.1f} s")
    pipeline_s = half_s + daily_s + yearly_s
    print(f"  PIPELINE TOTAL (landing CSV -> published rates): {pipeline_s:7.1f} s")

    sql_csv_s, n_rates = duckdb_reference(SQL.format(landing=settings.landing_dir), members)
    sql_parquet_s, _ = duckdb_reference(SQL_FROM_PARQUET.format(warehouse=settings.warehouse_dir), members)
    core_to_out = sum(s for k, s in half_steps.items() if not k.startswith("raw_")) + daily_s + yearly_s
    print(f"  plain DuckDB SQL, landing CSV -> daily/monthly/yearly rates ({n_rates} rows): {sql_csv_s:7.1f} s")
    print(f"  plain DuckDB SQL, raw Parquet -> rates: {sql_parquet_s:7.1f} s")
    print(f"  ratio pipeline / DuckDB SQL (from CSV): {pipeline_s / sql_csv_s:6.1f} x")
    print(f"  ratio pipeline core->out steps / DuckDB SQL (from raw Parquet): {core_to_out / sql_parquet_s:6.1f} x")
    print("  (the pipeline also keeps every row's origin and rejects, secrecy, completeness, half-hourly")
    print("   products, charts and one Dagster materialisation per partition; the SQL does only the sums)")
    if args.json:
        kind = "sqlite" if args.sqlite else "memory"
        args.json.write_text(json.dumps({
            "benchmark": f"UC3 chain, {args.days} days, 5 territories",
            "duckdb_s": sql_csv_s, "ours_s": None, "dagster_s": {kind: pipeline_s},
            "ours_ratio": None, "dagster_ratio": {kind: pipeline_s / sql_csv_s},
            "peak_rss_mb": {"process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
            "note": "our code is not timed without Dagster here; peak memory is the whole process "
                    "(Dagster runs + SQL)",
        }, indent=1))
    if args.keep is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
