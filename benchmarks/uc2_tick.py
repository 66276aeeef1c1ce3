"""UC2 benchmark (c): one half-hourly tick under the Dagster daemon, files dropped -> signal in Parquet.

    python benchmarks/uc2_tick.py [--ticks 3] [--interval 5]

Starts a real `dagster-daemon run` on a throw-away DAGSTER_HOME (SQLite storage, the default
queued run coordinator and run launcher: one subprocess per run) with the UC2 landing sensor on
(ENERGY_PIPELINES_UC2_SENSOR=running, polled every --interval seconds). For each tick it drops the
SPIE transaction and event logs and the Enedis signal of one half-hour into the landing zone, as
the owners would, and measures until the hybrid signal of that half-hour is in Parquet:
  detect   drop -> the run is created (sensor tick: at most the interval + the daemon's 5 s loop)
  launch   run created -> run started (queue, subprocess, code loading)
  execute  run started -> run finished (the whole chain of the half-hour in one run, with checks)
Prints the figures per tick and their median. Aim: under 15 s from drop to Parquet.
Figures, not assertions. The daemon is stopped (by its own process id) at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
UTC = timezone.utc
FIRST_SLOT = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


def drop_half_hour(landing: Path, slot: datetime, net) -> None:
    """What the owners drop for one half-hour: SPIE's transaction and event logs, Enedis's signal."""
    from energy_pipelines.simulate import charging, green_signal
    from energy_pipelines.sources.landing import LandingZone

    end = slot + timedelta(minutes=30)
    charging.write_transaction_log(LandingZone(landing, "spie_transaction_log"), slot, end, net=net)
    charging.write_event_log(LandingZone(landing, "spie_event_log"), slot, end, net=net)
    green_signal.write_signal(LandingZone(landing, "enedis_green_signal"), slot, end, net=net)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--interval", type=int, default=5, help="sensor polling interval (s)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="uc2_bench_c_"))
    home, dagster_home = tmp / "home", tmp / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    workspace = tmp / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_module:\n      module_name: energy_pipelines.definitions\n"
                         f"      working_directory: {ROOT}\n")
    env = {**os.environ, "ENERGY_PIPELINES_HOME": str(home), "ENERGY_PIPELINES_MODE": "sample",
           "DAGSTER_HOME": str(dagster_home), "ENERGY_PIPELINES_UC2_SENSOR": "running",
           "ENERGY_PIPELINES_UC2_SENSOR_INTERVAL_S": str(args.interval)}
    os.environ.update(env)

    import dagster as dg

    from energy_pipelines.build import build_defs
    from energy_pipelines.settings import load_settings
    from energy_pipelines.simulate import charging

    defs = build_defs(load_settings())
    # the register and the half-hour before the first tick (the signal reads its transaction log)
    dg.materialize(list(defs.assets), selection=["raw_symenergie05__charging_stations"], resources=defs.resources,
                   instance=dg.DagsterInstance.ephemeral())
    net = charging.network()

    def drop(slot: datetime) -> None:
        drop_half_hour(home / "landing", slot, net)

    daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
                              env=env, cwd=ROOT, stdout=open(tmp / "daemon.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    results = []
    try:
        instance = dg.DagsterInstance.get()
        drop(FIRST_SLOT - timedelta(minutes=30))
        print("waiting for the daemon to load the code location and run the warm-up half-hour ...", flush=True)
        deadline = time.time() + 240
        while time.time() < deadline and not any(r.is_finished for r in instance.get_runs()):
            time.sleep(1)
        if not any(r.is_success for r in instance.get_runs()):
            print("warm-up run did not succeed; see", tmp / "daemon.log")
            return 1
        for i in range(args.ticks):
            slot = FIRST_SLOT + timedelta(minutes=30 * i)
            known = {r.run_id for r in instance.get_runs()}
            t_drop = time.time()
            drop(slot)
            run = None
            while time.time() - t_drop < 300:
                new = [r for r in instance.get_runs() if r.run_id not in known]
                if new and new[0].is_finished:
                    run = new[0]
                    break
                time.sleep(0.2)
            if run is None:
                print(f"tick {i}: no finished run after 300 s")
                continue
            stats = instance.get_run_stats(run.run_id)
            record = instance.get_run_record_by_id(run.run_id)
            created = record.create_timestamp.timestamp()
            parquet = home / "warehouse" / "hybrid__green_charging_signal" / f"date={slot:%Y-%m-%d}" / "part.parquet"
            figures = {"slot": slot.isoformat(), "status": run.status.value,
                       "detect_s": round(created - t_drop, 1), "launch_s": round(stats.start_time - created, 1),
                       "execute_s": round(stats.end_time - stats.start_time, 1),
                       "drop_to_parquet_s": round(stats.end_time - t_drop, 1), "signal_file": parquet.exists()}
            results.append(figures)
            print(f"tick {i}:", figures, flush=True)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    if results:
        for key in ("detect_s", "launch_s", "execute_s", "drop_to_parquet_s"):
            print(f"median {key:18s} {statistics.median(r[key] for r in results):6.1f}")
        print(f"[aim: drop -> signal in Parquet under 15 s; sensor interval {args.interval} s, daemon loop 5 s]")
    print("data and daemon log in", tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
