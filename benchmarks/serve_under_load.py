"""Operations benchmark: the half-hourly tick while a one-year backfill runs on the production stack.

    python benchmarks/serve_under_load.py [--ticks 3] [--year 2024] [--interval 5]

Starts `energy-pipelines serve` (PostgreSQL instance in a throw-away database, gRPC code server, daemon
with the queued run coordinator, webserver) on a throw-away data root with the UC2 landing sensor on.
Then, as the owners would, drops the SPIE logs and the Enedis signal of one half-hour per tick and
measures drop -> the half-hour's signal in Parquet (the sensor-launched run finished):
  1. idle: --ticks ticks with nothing else running;
  2. under load: a one-year backfill of the RTE chain (raw + core éCO2mix, 17,5xx half-hour partitions)
     launched through the webserver's GraphQL API (what the UI's "Materialize" over a range does), then
     --ticks more ticks while it runs.
Prints each tick, the medians, the ratio under load / idle (aim: within 2x, no tick missed) and how far
the backfill got. Figures, not assertions. The stack is stopped with SIGINT and the database dropped.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from uc2_tick import drop_half_hour  # noqa: E402  (the same drop as the idle tick benchmark)
UTC = timezone.utc
FIRST_SLOT = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
RTE = ["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"]
BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    reply = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}},
                          timeout=60)
    reply.raise_for_status()
    return reply.json()


def _wait_for_webserver(port: int, server: subprocess.Popen, timeout_s: float = 900) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("serve exited during start-up; see its log")
        try:
            nodes = (_graphql(port, "{ assetNodes { assetKey { path } } }").get("data") or {}).get("assetNodes")
            if nodes:
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(2)
    raise SystemExit("the webserver never answered")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=3, help="ticks measured idle, then as many under load")
    parser.add_argument("--year", type=int, default=2024, help="the year the backfill loads")
    parser.add_argument("--interval", type=int, default=5, help="UC2 sensor polling interval (s)")
    args = parser.parse_args()

    import dagster as dg

    from energy_pipelines.build import build_defs
    from energy_pipelines.clock import paris_start
    from energy_pipelines.ops.serve import instance_home
    from energy_pipelines.settings import load_settings
    from energy_pipelines.simulate import charging
    from tests.integration.pg_helpers import pg_env, throwaway_database

    tmp = Path(tempfile.mkdtemp(prefix="serve_under_load_"))
    home = tmp / "home"
    port, grpc_port = _free_port(), _free_port()
    with throwaway_database("ep_load", create=False) as database:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGY_PIPELINES_", "DAGSTER_"))}
        env.update({"ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "sample",
                    "ENERGY_PIPELINES_OFFLINE": "true", "ENERGY_PIPELINES_PARTITIONS_START": f"{args.year}-01-01",
                    "ENERGY_PIPELINES_UC2_SENSOR": "running",
                    "ENERGY_PIPELINES_UC2_SENSOR_INTERVAL_S": str(args.interval), **pg_env(database)})
        os.environ.update(env)
        settings = load_settings()
        defs = build_defs(settings)
        # the register the signal reads (plain files: no instance needed)
        dg.materialize(list(defs.assets), selection=["raw_symenergie05__charging_stations"],
                       resources=defs.resources, instance=dg.DagsterInstance.ephemeral())
        net = charging.network()

        def drop(slot: datetime) -> None:
            drop_half_hour(home / "landing", slot, net)

        log = (tmp / "serve.out").open("wb")
        server = subprocess.Popen([str(Path(sys.executable).parent / "energy-pipelines"), "serve", "--port", str(port),
                                   "--grpc-port", str(grpc_port)], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        results: dict[str, list[dict]] = {"warm-up": [], "idle": [], "under load": []}
        backfill_id = None
        try:
            print("starting the stack (Postgres instance, code server, daemon, webserver) ...", flush=True)
            _wait_for_webserver(port, server)
            instance = dg.DagsterInstance.from_config(str(instance_home(settings)))

            def tick(phase: str, slot: datetime) -> None:
                known = {r.run_id for r in instance.get_runs(limit=1000)}
                t_drop = time.time()
                drop(slot)
                while time.time() - t_drop < 600:
                    new = [r for r in instance.get_runs(limit=50) if r.run_id not in known
                           and r.tags.get("dagster/sensor_name")]
                    if new and new[0].is_finished:
                        stats = instance.get_run_stats(new[0].run_id)
                        figures = {"slot": f"{slot:%H:%M}", "status": new[0].status.value,
                                   "drop_to_parquet_s": round(stats.end_time - t_drop, 1)}
                        results[phase].append(figures)
                        print(f"  {phase:10s} tick {figures}", flush=True)
                        return
                    time.sleep(0.5)
                results[phase].append({"slot": f"{slot:%H:%M}", "status": "MISSED", "drop_to_parquet_s": None})
                print(f"  {phase:10s} tick {slot:%H:%M}: no finished run after 600 s (missed)", flush=True)

            print("warm-up half-hour (the daemon loads the code location) ...", flush=True)
            tick("warm-up", FIRST_SLOT - timedelta(minutes=30))
            for i in range(args.ticks):
                tick("idle", FIRST_SLOT + timedelta(minutes=30 * i))

            graph = defs.resolve_asset_graph()
            pdef = graph.get(dg.AssetKey(RTE[0])).partitions_def
            keys = pdef.get_partition_keys_in_time_window(dg.TimeWindow(paris_start(date(args.year, 1, 1)),
                                                                        paris_start(date(args.year + 1, 1, 1))))
            reply = _graphql(port, BACKFILL, {"params": {"partitionNames": keys, "fromFailure": False,
                                                          "assetSelection": [{"path": [a]} for a in RTE]}})
            outcome = reply["data"]["launchPartitionBackfill"]
            if outcome["__typename"] != "LaunchBackfillSuccess":
                print("backfill refused:", outcome)
                return 1
            backfill_id = outcome["backfillId"]
            print(f"backfill {backfill_id}: {len(keys)} partitions of {RTE} launched through GraphQL", flush=True)
            time.sleep(30)  # let the daemon submit the backfill's run before the first tick under load
            for i in range(args.ticks):
                tick("under load", FIRST_SLOT + timedelta(minutes=30 * (args.ticks + i)))
            backfill = instance.get_backfill(backfill_id)
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            print(f"backfill status {backfill.status.value}, {len(runs)} run(s): "
                  f"{', '.join(r.status.value for r in runs)}")
            for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])):
                failures = [e.dagster_event.event_specific_data for e in instance.all_logs(run.run_id)
                            if e.dagster_event and e.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE")]
                print(f"failed run {run.run_id[:8]} ({run.tags.get('dagster/sensor_name') or 'backfill'}):",
                      "; ".join(str(getattr(f, "error", None) or getattr(f, "message", f))[:300] for f in failures[:2]))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=180)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()

    def median(phase: str) -> float | None:
        values = [r["drop_to_parquet_s"] for r in results[phase] if r["drop_to_parquet_s"] is not None]
        return statistics.median(values) if values else None

    idle, loaded = median("idle"), median("under load")
    missed = sum(r["status"] == "MISSED" for p in ("idle", "under load") for r in results[p])
    print(f"\n{'phase':12s} {'ticks':>5s} {'median drop->Parquet (s)':>26s}")
    for phase, value in (("idle", idle), ("under load", loaded)):
        print(f"{phase:12s} {len(results[phase]):5d} {value if value is not None else float('nan'):26.1f}")
    if idle and loaded:
        print(f"ratio under load / idle: {loaded / idle:.2f}x (aim <= 2x); ticks missed: {missed} (aim 0)")
    print(f"[machine: {os.cpu_count()} cores; sensor interval {args.interval} s; logs in {tmp}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
