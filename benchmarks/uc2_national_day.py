"""UC2 benchmark (b): the green charging signal of 100,000 charge points for one day.

    python benchmarks/uc2_national_day.py [--charge-points 100000] [--day 2025-06-03] [--json PATH]

The simulator's national-scale network (same shapes as the Hautes-Alpes one) gives one day of
OCPP transaction log, event log and Enedis signal (one row per station and half-hour), stored as
Parquet in the raw datasets' schemas, like the warehouse holds them. Then, each in its own process
(so peak memory is its own):
  pipeline  what the Dagster asset does: read the inputs as the IO manager does (Parquet ->
            pandas), the pure transforms (usage per half-hour, status, the signal with its
            colour), conform to the catalogue schema and write through ParquetStore;
  duckdb    plain DuckDB SQL computing the same signal from the same Parquet files into one
            Parquet file (COPY ... TO).
Prints input sizes, times, peak RSS and the ratio to plain DuckDB. Aim: under 5 s and 2 GB.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_common import failure_reason  # noqa: E402

UTC = timezone.utc

DUCKDB_SQL = """
SET TimeZone = 'UTC';
COPY (
  WITH slots AS (
    SELECT unnest(range(TIMESTAMPTZ '{start}', TIMESTAMPTZ '{end}', INTERVAL 30 MINUTE)) AS datetime_utc),
  reg AS (SELECT * FROM read_parquet('{d}/register.parquet')),
  tx AS (SELECT * FROM read_parquet('{d}/tx.parquet')),
  inc AS (
    SELECT id_pdc_itinerance, transaction_id, datetime_utc,
           meter_wh - lag(meter_wh) OVER (PARTITION BY transaction_id ORDER BY timestamp_utc, meter_wh) AS d
    FROM tx),
  use AS (
    SELECT id_pdc_itinerance, datetime_utc, sum(greatest(coalesce(d, 0), 0)) AS wh
    FROM inc WHERE datetime_utc >= TIMESTAMPTZ '{start}' GROUP BY ALL),
  st AS (
    SELECT id_pdc_itinerance, datetime_utc, arg_max(status, timestamp_utc) AS ocpp_status,
           bool_or(status IN ('Faulted', 'Unavailable')) AS out_of_order
    FROM read_parquet('{d}/events.parquet') GROUP BY ALL),
  en AS (
    SELECT datetime_utc, id_station_itinerance, any_value(code_poste_source) AS code_poste_source,
           avg(ratio_vert) AS ratio FROM read_parquet('{d}/enedis.parquet') GROUP BY ALL),
  rte AS (SELECT datetime_utc, green_share_pct AS share FROM read_parquet('{d}/rte.parquet')),
  j AS (
    SELECT s.datetime_utc, r.id_pdc_itinerance, r.id_station_itinerance, r.code_insee_commune,
           e.code_poste_source, u.wh IS NOT NULL AS in_use, coalesce(u.wh, 0) AS wh, r.puissance_nominale_kw,
           st.ocpp_status, coalesce(st.out_of_order, false) AS out_of_order, e.ratio, x.share
    FROM slots s CROSS JOIN reg r
    LEFT JOIN use u ON u.id_pdc_itinerance = r.id_pdc_itinerance AND u.datetime_utc = s.datetime_utc
    LEFT JOIN st ON st.id_pdc_itinerance = r.id_pdc_itinerance AND st.datetime_utc = s.datetime_utc
    LEFT JOIN en e ON e.id_station_itinerance = r.id_station_itinerance AND e.datetime_utc = s.datetime_utc
    LEFT JOIN rte x ON x.datetime_utc = s.datetime_utc)
  SELECT datetime_utc, id_pdc_itinerance, id_station_itinerance, code_insee_commune, code_poste_source, in_use,
         CASE WHEN wh > puissance_nominale_kw * 550 THEN NULL ELSE wh END AS energy_wh,
         CASE WHEN wh > puissance_nominale_kw * 550 THEN 'above_nominal_power' ELSE 'ok' END AS energy_quality,
         ocpp_status,
         CASE WHEN out_of_order THEN 'hors_service' WHEN ocpp_status IS NULL AND NOT in_use THEN 'inconnu'
              ELSE 'en_service' END AS etat_pdc,
         CASE WHEN in_use THEN 'occupe' WHEN out_of_order THEN 'inconnu' ELSE 'libre' END AS occupation_pdc,
         round(ratio, 4) AS local_green_ratio, round(share, 3) AS regional_green_share_pct,
         CASE WHEN ratio IS NULL THEN NULL WHEN ratio >= 1.0 THEN 'green'
              WHEN ratio >= 0.6 OR share >= 50 THEN 'orange' ELSE 'red' END AS colour,
         '2025.1' AS thresholds_version, ratio IS NOT NULL AND share IS NOT NULL AS signal_complete
  FROM j ORDER BY id_pdc_itinerance, datetime_utc
) TO '{out}' (FORMAT parquet, COMPRESSION zstd);
"""


def day_bounds(day: str) -> tuple[datetime, datetime]:
    from energy_pipelines.partitions import paris_day_bounds

    return paris_day_bounds(day)


def prepare(directory: Path, n_pdc: int, day: str) -> dict:
    """Simulate one day at national scale and store the raw inputs as Parquet."""
    import pandas as pd

    from energy_pipelines.simulate import charging, green_signal, paca_mix

    start, end = day_bounds(day)
    t0 = time.perf_counter()
    net = charging.network(n_pdc=n_pdc)
    d = date.fromisoformat(day)
    sessions, faults = charging.simulate_days(net, [d - timedelta(days=1), d])
    msgs = charging.ocpp_messages(sessions)
    msgs = msgs[(msgs["slot"] >= pd.Timestamp(start) - pd.Timedelta(minutes=30)) & (msgs["slot"] < pd.Timestamp(end))]
    tx = pd.DataFrame({"datetime_utc": msgs["slot"], "timestamp_utc": msgs["ts"],
                       "id_pdc_itinerance": msgs["charge_point_id"], "transaction_id": msgs["transaction_id"],
                       "meter_wh": msgs["meter_wh"], "message": msgs["message"], "id_tag": msgs["id_tag"]})
    events = charging.ocpp_events(sessions, faults)
    events = events[(events["slot"] >= pd.Timestamp(start)) & (events["slot"] < pd.Timestamp(end))]
    ev = pd.DataFrame({"datetime_utc": events["slot"], "timestamp_utc": events["ts"],
                       "id_pdc_itinerance": events["charge_point_id"], "status": events["status"]})
    slots = pd.date_range(start, end, freq="30min", inclusive="left")
    enedis = green_signal.station_signal(slots, net)
    rte = paca_mix.mix(slots)
    rte["green_share_pct"] = 100 * rte[["eolien", "solaire", "hydraulique", "bioenergies"]].sum(axis=1) / rte["consommation"]
    register = net.pdc.rename(columns={"commune_code": "code_insee_commune", "power_kw": "puissance_nominale_kw"})[
        ["id_pdc_itinerance", "id_station_itinerance", "code_insee_commune", "puissance_nominale_kw"]]
    for name, frame in (("tx", tx), ("events", ev), ("enedis", enedis), ("rte", rte[["datetime_utc", "green_share_pct"]]),
                        ("register", register)):
        frame.reset_index(drop=True).to_parquet(directory / f"{name}.parquet", index=False)
    return {"charge_points": len(register), "stations": int(register["id_station_itinerance"].nunique()),
            "sessions": len(sessions), "tx_rows": len(tx), "event_rows": len(ev), "enedis_rows": len(enedis),
            "half_hours": len(slots), "simulate_s": round(time.perf_counter() - t0, 1)}


def run_pipeline(directory: Path, day: str) -> dict:
    import pandas as pd
    import pyarrow.parquet as pq

    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.assets.uc2 import thresholds_of
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.schema import conform
    from energy_pipelines.transforms import green_signal, usage

    start, end = day_bounds(day)
    catalog = default_catalog()
    spec = catalog["hybrid__green_charging_signal"]
    thresholds = thresholds_of(catalog)
    t0 = time.perf_counter()
    frames = {n: pq.read_table(directory / f"{n}.parquet").to_pandas() for n in ("tx", "events", "enedis", "rte", "register")}
    t_read = time.perf_counter()
    signal = green_signal.green_charging_signal(
        start=start, end=end, register=frames["register"], usage=usage.slot_usage(frames["tx"], start, end),
        status=usage.slot_status(frames["events"], start, end), enedis=frames["enedis"], rte=frames["rte"],
        thresholds=thresholds, arrow=True)
    t_compute = time.perf_counter()
    # what the IO manager does with the asset's output: conform (types, PK uniqueness, PK sort), write
    table = conform(signal, spec.table_schema.to_arrow(), spec.id, spec.table_schema.primary_key)
    t_conform = time.perf_counter()
    ParquetStore(directory / "warehouse").write(spec.id, table, time_column="datetime_utc", window=(start, end))
    t_write = time.perf_counter()
    _ = pd
    return {"rows": table.num_rows, "read_s": round(t_read - t0, 2), "compute_s": round(t_compute - t_read, 2),
            "conform_s": round(t_conform - t_compute, 2), "write_s": round(t_write - t_conform, 2),
            "conform_write_s": round(t_write - t_compute, 2), "total_s": round(t_write - t0, 2)}


def run_duckdb(directory: Path, day: str) -> dict:
    import duckdb

    start, end = day_bounds(day)
    out = directory / "duckdb_signal.parquet"
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(DUCKDB_SQL.format(d=directory, start=start.isoformat(), end=end.isoformat(), out=out))
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return {"rows": rows, "total_s": round(time.perf_counter() - t0, 2)}


def child(variant: str, directory: Path, day: str) -> None:
    result = run_pipeline(directory, day) if variant == "pipeline" else run_duckdb(directory, day)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charge-points", type=int, default=100_000)
    parser.add_argument("--day", default="2025-06-03")
    parser.add_argument("--child", choices=["pipeline", "duckdb"])
    parser.add_argument("--dir")
    parser.add_argument("--json", type=Path, help="write the figures to this file (for benchmarks/run_all.py)")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.dir), args.day)
        return 0
    with tempfile.TemporaryDirectory(prefix="uc2_bench_b_") as tmp:
        directory = Path(tmp)
        sizes = prepare(directory, args.charge_points, args.day)
        print("inputs:", json.dumps(sizes))
        results = {}
        for variant in ("duckdb", "pipeline"):
            proc = subprocess.run([sys.executable, __file__, "--child", variant, "--dir", tmp, "--day", args.day],
                                  capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:])
                print(f"{variant} failed (status {proc.returncode}): {failure_reason(proc.stderr)}",
                      file=sys.stderr)
                return 1
            results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{variant:9s}", json.dumps(results[variant]))
        p, d = results["pipeline"], results["duckdb"]
        assert p["rows"] == d["rows"], (p["rows"], d["rows"])
        print(f"\n{sizes['charge_points']:,} charge points x {sizes['half_hours']} half-hours = {p['rows']:,} signal rows")
        print(f"pipeline {p['total_s']:.2f} s (read {p['read_s']}, compute {p['compute_s']}, conform {p['conform_s']}, "
              f"write {p['write_s']}), peak {p['peak_rss_mb']} MB   [aim < 5 s, < 2048 MB]")
        print(f"         the UC2 transform alone (read + compute): {p['read_s'] + p['compute_s']:.2f} s")
        print(f"duckdb   {d['total_s']:.2f} s, peak {d['peak_rss_mb']} MB")
        print(f"ratio pipeline / plain DuckDB: time {p['total_s'] / d['total_s']:.2f}x, "
              f"memory {p['peak_rss_mb'] / d['peak_rss_mb']:.2f}x")
        if args.json:
            args.json.write_text(json.dumps({
                "benchmark": f"UC2 signal, {sizes['charge_points']:,} charge points x 1 day",
                "duckdb_s": d["total_s"], "ours_s": p["total_s"], "dagster_s": {},
                "ours_ratio": p["total_s"] / d["total_s"], "dagster_ratio": {},
                "peak_rss_mb": {"duckdb": d["peak_rss_mb"], "compute": p["peak_rss_mb"]},
                "note": "no Dagster variant (the asset's own work, from stored Parquet)",
            }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
