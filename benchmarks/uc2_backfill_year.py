"""UC2 benchmark (a): single-run backfill of one year for the ~280 charge points of the sample network.

    python benchmarks/uc2_backfill_year.py [--start 2025-01-01] [--days 365] [--keep DIR] [--json PATH]

The simulators drop a year of half-hourly files into a fresh landing zone, as SPIE, Enedis and RTE
would have (3 x 17,520 files plus RTE's daily exports). Then, each in its own process:
  dagster   the UC2 chain (raw SPIE logs, Enedis signal, RTE raw+core, anonymised sessions, hybrid
            signal, surplus list, open signal) as ONE Dagster run over the whole range, as a
            single-run backfill launches it, without the quality checks (the checks belong to the
            quality work and are timed apart by the --with-checks flag);
  compute   the same reads, transforms, conform and Parquet writes for the comparable part (drops,
            RTE, signal, open signal) without Dagster: what our code costs by itself;
  duckdb    plain DuckDB SQL on the same landing files: parse the three CSV drops and RTE's
            exports, compute the same signal (usage, status, local ratio, regional share, colour)
            and the open signal, and write them as Parquet.
The Dagster run also persists every raw dataset, the rejects and the pseudonymised sessions,
which the SQL baseline does not: the per-step times of the run are printed so the comparable
part (reading the drops + the signal) can be set against the baseline too.
Prints times, peak RSS and ratios (`--json PATH` also writes them for benchmarks/run_all.py);
figures, not assertions.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_common import failure_reason  # noqa: E402
UTC = timezone.utc
CHAIN = ["raw_spie__transaction_log", "raw_spie__event_log", "raw_spie__transaction_history",
         "raw_enedis__green_signal", "raw_rte__eco2mix_regional", "core_rte__eco2mix_regional",
         "anon_spie__charging_sessions", "hybrid__green_charging_signal", "hybrid__green_surplus_stations_in_use",
         "out_uc2__green_signal"]
COMPARABLE = ["raw_spie__transaction_log", "raw_spie__event_log", "raw_enedis__green_signal",
              "raw_rte__eco2mix_regional", "core_rte__eco2mix_regional", "hybrid__green_charging_signal",
              "out_uc2__green_signal"]

DUCKDB_SQL = """
SET TimeZone = 'UTC';
CREATE TABLE tx AS
  SELECT CAST("timestamp" AS TIMESTAMPTZ) AS ts, charge_point_id AS id_pdc_itinerance, transaction_id,
         meter_value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END AS meter_wh,
         CASE WHEN context = 'Sample.Clock' AND epoch(CAST("timestamp" AS TIMESTAMPTZ))::BIGINT % 1800 = 0
              THEN time_bucket(INTERVAL 30 MINUTE, CAST("timestamp" AS TIMESTAMPTZ)) - INTERVAL 30 MINUTE
              ELSE time_bucket(INTERVAL 30 MINUTE, CAST("timestamp" AS TIMESTAMPTZ)) END AS slot
  FROM read_csv('{landing}/spie_transaction_log/*.csv', delim=';', header=true,
                columns={{'timestamp': 'VARCHAR', 'charge_point_id': 'VARCHAR', 'connector_id': 'BIGINT',
                          'message': 'VARCHAR', 'transaction_id': 'BIGINT', 'id_tag': 'VARCHAR',
                          'id_tag_status': 'VARCHAR', 'meter_value': 'DOUBLE', 'unit': 'VARCHAR',
                          'measurand': 'VARCHAR', 'context': 'VARCHAR', 'reason': 'VARCHAR'}})
  -- the energy register (meterStart / meterStop, and MeterValues of the register measurand)
  WHERE message <> 'MeterValues' OR coalesce(measurand, '') IN ('', 'Energy.Active.Import.Register');
CREATE TABLE ev AS
  SELECT CAST("timestamp" AS TIMESTAMPTZ) AS ts, charge_point_id AS id_pdc_itinerance, status,
         time_bucket(INTERVAL 30 MINUTE, CAST("timestamp" AS TIMESTAMPTZ)) AS slot
  FROM read_csv('{landing}/spie_event_log/*.csv', delim=';', header=true,
                columns={{'timestamp': 'VARCHAR', 'charge_point_id': 'VARCHAR', 'connector_id': 'BIGINT',
                          'status': 'VARCHAR', 'error_code': 'VARCHAR', 'info': 'VARCHAR',
                          'vendor_error_code': 'VARCHAR'}});
CREATE TABLE en AS
  SELECT CAST(horodate AS TIMESTAMPTZ) AS slot, id_station_itinerance, code_poste_source, ratio_vert
  FROM read_csv('{landing}/enedis_green_signal/*.csv', delim=';', header=true, all_varchar=false);
CREATE TABLE rte AS
  SELECT CAST("Date - Heure" AS TIMESTAMPTZ) AS slot,
         100 * (coalesce("Eolien (MW)", 0) + "Solaire (MW)" + "Hydraulique (MW)" + "Bioénergies (MW)")
             / "Consommation (MW)" AS share
  FROM read_csv('{landing}/rte_eco2mix_regional/*.csv', delim=';', header=true, null_padding=true,
                types={{'Date - Heure': 'VARCHAR', 'Consommation (MW)': 'DOUBLE', 'Eolien (MW)': 'DOUBLE',
                       'Solaire (MW)': 'DOUBLE', 'Hydraulique (MW)': 'DOUBLE', 'Bioénergies (MW)': 'DOUBLE'}});
CREATE TABLE reg AS
  SELECT id_pdc_itinerance, id_station_itinerance, code_insee_commune, CAST(puissance_nominale AS DOUBLE) AS p
  FROM read_csv('{landing}/irve_symenergie05/*.csv', delim=',', header=true, all_varchar=true)
  WHERE regexp_full_match(id_pdc_itinerance, '[A-Z]{{2}}[A-Z0-9]{{4,33}}');
COPY (
  WITH slots AS (SELECT unnest(range(TIMESTAMPTZ '{start}', TIMESTAMPTZ '{end}', INTERVAL 30 MINUTE)) AS slot),
  inc AS (SELECT id_pdc_itinerance, slot,
                 meter_wh - lag(meter_wh) OVER (PARTITION BY transaction_id ORDER BY ts, meter_wh) AS d FROM tx),
  use AS (SELECT id_pdc_itinerance, slot, sum(greatest(coalesce(d, 0), 0)) AS wh FROM inc GROUP BY ALL),
  st AS (SELECT id_pdc_itinerance, slot, arg_max(status, ts) AS ocpp_status,
                bool_or(status IN ('Faulted', 'Unavailable')) AS oo FROM ev GROUP BY ALL),
  j AS (
    SELECT s.slot AS datetime_utc, r.id_pdc_itinerance, r.id_station_itinerance, r.code_insee_commune,
           e.code_poste_source, u.wh IS NOT NULL AS in_use, coalesce(u.wh, 0) AS wh, r.p, st.ocpp_status,
           coalesce(st.oo, false) AS oo, e.ratio_vert AS ratio, x.share
    FROM slots s CROSS JOIN reg r
    LEFT JOIN use u ON u.id_pdc_itinerance = r.id_pdc_itinerance AND u.slot = s.slot
    LEFT JOIN st ON st.id_pdc_itinerance = r.id_pdc_itinerance AND st.slot = s.slot
    LEFT JOIN en e ON e.id_station_itinerance = r.id_station_itinerance AND e.slot = s.slot
    LEFT JOIN rte x ON x.slot = s.slot)
  SELECT datetime_utc, id_pdc_itinerance, id_station_itinerance, code_insee_commune, code_poste_source, in_use,
         CASE WHEN wh > p * 550 THEN NULL ELSE wh END AS energy_wh, ocpp_status,
         CASE WHEN oo THEN 'hors_service' WHEN ocpp_status IS NULL AND NOT in_use THEN 'inconnu' ELSE 'en_service' END
             AS etat_pdc,
         CASE WHEN in_use THEN 'occupe' WHEN oo THEN 'inconnu' ELSE 'libre' END AS occupation_pdc,
         round(ratio, 4) AS local_green_ratio, round(share, 3) AS regional_green_share_pct,
         CASE WHEN ratio IS NULL THEN NULL WHEN ratio >= 1.0 THEN 'green'
              WHEN ratio >= 0.6 OR share >= 50 THEN 'orange' ELSE 'red' END AS colour,
         strftime(datetime_utc, '%Y-%m-%d') AS date
  FROM j ORDER BY id_pdc_itinerance, datetime_utc
) TO '{out}/signal' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date), OVERWRITE_OR_IGNORE);
COPY (
  SELECT datetime_utc, id_station_itinerance, any_value(colour) AS colour,
         any_value(regional_green_share_pct) AS regional_green_share_pct, count(*) AS n_charge_points,
         count(*) FILTER (WHERE occupation_pdc = 'libre') AS n_free
  FROM read_parquet('{out}/signal/*/*.parquet') GROUP BY ALL
) TO '{out}/open_signal.parquet' (FORMAT parquet, COMPRESSION zstd);
"""


def prepare(home: Path, start: datetime, end: datetime) -> dict:
    """Drop the year of files the owners would have delivered (sample simulators, real formats)."""
    from energy_pipelines.simulate import charging, green_signal, paca_mix, registers
    from energy_pipelines.sources.landing import LandingZone

    landing = home / "landing"
    t0 = time.perf_counter()
    net = charging.network()
    charging.write_transaction_log(LandingZone(landing, "spie_transaction_log"), start, end, net=net)
    charging.write_event_log(LandingZone(landing, "spie_event_log"), start, end, net=net)
    green_signal.write_signal(LandingZone(landing, "enedis_green_signal"), start, end, net=net)
    paca_mix.write_eco2mix_days(LandingZone(landing, "rte_eco2mix_regional"), start, end)
    registers.write_irve(LandingZone(landing, "irve_symenergie05"), start, end)
    files = sum(1 for _ in landing.rglob("*.csv"))
    size = sum(p.stat().st_size for p in landing.rglob("*.csv"))
    return {"charge_points": len(net.pdc), "landing_files": files, "landing_mb": round(size / 2**20, 1),
            "simulate_s": round(time.perf_counter() - t0, 1)}


def run_dagster(home: Path, start: datetime, end: datetime, with_checks: bool) -> dict:
    os.environ.update({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "sample",
                       "ENERGY_PIPELINES_PARTITIONS_START": (start - timedelta(days=8)).strftime("%Y-%m-%d")})
    import dagster as dg

    from energy_pipelines.build import build_defs
    from energy_pipelines.partitions import half_hour_key
    from energy_pipelines.settings import load_settings

    defs = build_defs(load_settings())
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(list(defs.assets), selection=["raw_symenergie05__charging_stations"], resources=defs.resources,
                   instance=instance)
    tags = {"dagster/asset_partition_range_start": half_hour_key(start),
            "dagster/asset_partition_range_end": half_hour_key(end - timedelta(minutes=30))}
    t0 = time.perf_counter()
    if with_checks:
        result = defs.resolve_job_def("uc2_halfhourly_job").execute_in_process(instance=instance, tags=tags)
    else:
        result = dg.materialize(list(defs.assets), selection=CHAIN, resources=defs.resources, instance=instance,
                                tags=tags)
    total = time.perf_counter() - t0
    steps, starts = {}, {}
    for rec in instance.all_logs(result.run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None:
            continue
        if ev.event_type_value == "STEP_START":
            starts[ev.step_key] = rec.timestamp
        elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in starts:
            steps[ev.step_key] = round(rec.timestamp - starts[ev.step_key], 2)
    rows = {}
    for e in result.get_asset_materialization_events():
        key = e.asset_key.path[-1]
        rows[key] = rows.get(key, 0) + 1
    return {"success": result.success, "total_s": round(total, 1), "steps_s": steps,
            "partitions_materialised": rows}


def run_compute(home: Path, start: datetime, end: datetime) -> dict:
    """The same code path as the Dagster run, without Dagster: landing reads, transforms, conform, writes."""
    os.environ.update({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "sample"})
    from energy_pipelines.assets.uc2 import thresholds_of
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.sources.base import load_adapter
    from energy_pipelines.sources.landing import LandingZone
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.schema import conform
    from energy_pipelines.transforms import green_signal, usage
    from energy_pipelines.transforms.eco2mix import clean_eco2mix

    catalog = default_catalog()
    store = ParquetStore(home / "compute_warehouse")
    timings: dict[str, float] = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t, 1)
        return out

    def save(dataset, frame, window):
        spec = catalog[dataset]
        if "delivered_utc" in frame and "delivered_utc" not in spec.table_schema.columns:
            frame = frame.drop(columns="delivered_utc")  # as the raw assets do (assets/raw.py)
        table = conform(frame, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)
        store.write(dataset, table, time_column=spec.time_column, window=window)

    raw = {}
    for dataset, source, adapter in (("raw_spie__transaction_log", "spie_transaction_log", "spie_transaction_log"),
                                     ("raw_spie__event_log", "spie_event_log", "spie_event_log"),
                                     ("raw_enedis__green_signal", "enedis_green_signal", "enedis_green_signal"),
                                     ("raw_rte__eco2mix_regional", "rte_eco2mix_regional", "rte_eco2mix")):
        lz = LandingZone(home / "landing", source)
        rows = timed(f"read {source}", lambda: lz.read_window(load_adapter(adapter), start, end).rows)
        timed(f"write {dataset}", lambda: save(dataset, rows, (start, end)))
        raw[dataset] = rows
    core = timed("core rte", lambda: clean_eco2mix(raw["raw_rte__eco2mix_regional"]).data)
    lz = LandingZone(home / "landing", "irve_symenergie05")
    stations = lz.read_window(load_adapter("irve"), datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)).rows
    register = green_signal.latest_register(stations)
    signal = timed("signal compute", lambda: green_signal.green_charging_signal(
        start=start, end=end, register=register, usage=usage.slot_usage(raw["raw_spie__transaction_log"], start, end),
        status=usage.slot_status(raw["raw_spie__event_log"], start, end), enedis=raw["raw_enedis__green_signal"],
        rte=core, thresholds=thresholds_of(catalog), arrow=True))
    timed("signal conform+write", lambda: save("hybrid__green_charging_signal", signal, (start, end)))
    opened = timed("open signal compute", lambda: green_signal.open_signal(signal))
    timed("open signal conform+write", lambda: save("out_uc2__green_signal", opened, (start, end)))
    return {"rows": signal.num_rows, "total_s": round(sum(timings.values()), 1), "steps_s": timings}


def run_duckdb(home: Path, start: datetime, end: datetime) -> dict:
    import duckdb

    out = home / "duckdb_out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(DUCKDB_SQL.format(landing=home / "landing", start=start.isoformat(), end=end.isoformat(), out=out))
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/signal/*/*.parquet')").fetchall()[0][0]
    return {"rows": rows, "total_s": round(time.perf_counter() - t0, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--with-checks", action="store_true", help="run the job with its asset checks")
    parser.add_argument("--keep", help="use (and keep) this data root instead of a temporary one")
    parser.add_argument("--child", choices=["dagster", "duckdb", "compute"])
    parser.add_argument("--home")
    parser.add_argument("--json", type=Path, help="write the figures to this file (for benchmarks/run_all.py)")
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    end = start + timedelta(days=args.days)
    if args.child:
        home = Path(args.home)
        runners = {"dagster": lambda: run_dagster(home, start, end, args.with_checks),
                   "compute": lambda: run_compute(home, start, end), "duckdb": lambda: run_duckdb(home, start, end)}
        out = runners[args.child]()
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(out))
        return 0
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="uc2_bench_a_"))
    try:
        if not (home / "landing").exists():
            print("landing:", json.dumps(prepare(home, start, end)), flush=True)
        results = {}
        for variant in ("duckdb", "compute", "dagster"):
            cmd = [sys.executable, __file__, "--child", variant, "--home", str(home), "--start", args.start,
                   "--days", str(args.days)] + (["--with-checks"] if args.with_checks else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:])
                print(f"{variant} failed (status {proc.returncode}): {failure_reason(proc.stderr)}",
                      file=sys.stderr)
                return 1
            results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        d, g, c = results["duckdb"], results["dagster"], results["compute"]
        comparable = sum(v for k, v in g["steps_s"].items() if k in COMPARABLE)
        print(f"\n{args.days} days x {len(g['partitions_materialised'])} assets, one Dagster run "
              f"({'with' if args.with_checks else 'without'} checks): success={g['success']}")
        print(f"dagster  {g['total_s']:.1f} s, peak {g['peak_rss_mb']} MB")
        for step, seconds in sorted(g["steps_s"].items(), key=lambda kv: -kv[1])[:14]:
            print(f"           {step:55s} {seconds:8.1f} s")
        print(f"compute  {c['total_s']:.1f} s, peak {c['peak_rss_mb']} MB (the same reads, transforms and writes, "
              f"no Dagster)")
        for step, seconds in c["steps_s"].items():
            print(f"           {step:55s} {seconds:8.1f} s")
        print(f"duckdb   {d['total_s']:.1f} s, peak {d['peak_rss_mb']} MB, {d['rows']:,} signal rows")
        print(f"ratio whole run / plain DuckDB: {g['total_s'] / d['total_s']:.2f}x   [aim within 3x]")
        print(f"ratio comparable steps (drops read + signal + open signal, {comparable:.1f} s) / plain DuckDB: "
              f"{comparable / d['total_s']:.2f}x")
        print(f"ratio our code without Dagster / plain DuckDB: {c['total_s'] / d['total_s']:.2f}x")
        if args.json:
            kind = "memory" + (" + checks" if args.with_checks else "")
            args.json.write_text(json.dumps({
                "benchmark": f"UC2 chain, {args.days} days, sample network",
                "duckdb_s": d["total_s"], "ours_s": c["total_s"], "dagster_s": {kind: g["total_s"]},
                "ours_ratio": c["total_s"] / d["total_s"], "dagster_ratio": {kind: g["total_s"] / d["total_s"]},
                "peak_rss_mb": {"duckdb": d["peak_rss_mb"], "compute": c["peak_rss_mb"],
                                f"dagster/{kind}": g["peak_rss_mb"]},
                "success": g["success"],
                "note": "the Dagster run also persists raw datasets, rejects and sessions the SQL does not",
            }, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
