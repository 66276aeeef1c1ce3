"""Run the benchmarks that compare against plain DuckDB, each in its own process, and print ONE table.

    python benchmarks/run_all.py [--quick] [--only rte,uc2_year,uc3_year,uc2_day] [--instance memory[,sqlite]]
    make bench            # the full windows (a year: tens of minutes)

For each benchmark: plain DuckDB seconds, our code without Dagster (seconds, ratio to DuckDB), the
full Dagster run (seconds per instance kind measured, ratio) and the peak memory of each process.
Every figure comes from the benchmark's own `--json` output of this run; a benchmark that fails
or times out gets a row saying so, with the reason. `--quick` runs short windows (two weeks, a
week, 10,000 charge points) to check the machinery and see the ratios, not the year's figures.
The machine's load average is printed with the table: the ratios are measured in the same run,
but on a busy machine the absolute seconds are not comparable with another run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench_common import failure_reason

HERE = Path(__file__).resolve().parent

# name -> (script, arguments for the full window, arguments for --quick)
BENCHMARKS = {
    "rte": ("bench_eco2mix_backfill.py", ["--days", "365"], ["--days", "14"]),
    "uc2_year": ("uc2_backfill_year.py", ["--days", "365"], ["--days", "7"]),
    "uc3_year": ("uc3_year.py", ["--days", "365"], ["--days", "7"]),
    "uc2_day": ("uc2_national_day.py", ["--charge-points", "100000"], ["--charge-points", "10000"]),
}
COLUMNS = ["benchmark", "plain DuckDB", "our code", "ratio", "Dagster run", "ratio", "peak memory"]


def run_one(name: str, quick: bool, instance: str, timeout: float) -> dict:
    """The benchmark's figures, or {"benchmark": name, "failed": reason}."""
    script, full, short = BENCHMARKS[name]
    with tempfile.TemporaryDirectory(prefix="ep-bench-json-") as tmp:
        out = Path(tmp) / "figures.json"
        cmd = [sys.executable, str(HERE / script), *(short if quick else full), "--json", str(out)]
        if name == "rte":
            cmd += ["--instance", instance]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"benchmark": name, "failed": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
        if proc.returncode:
            lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines()]
            # the scripts name the failed variant and its error on a line of their own
            reason = next((ln for ln in reversed(lines) if " failed (status " in ln),
                          failure_reason(proc.stderr or proc.stdout))
            return {"benchmark": name, "failed": f"exit status {proc.returncode}: {reason}"}
        if not out.exists():
            return {"benchmark": name, "failed": "finished without writing its --json figures"}
        figures = json.loads(out.read_text())
    figures["wall_s"] = wall
    return figures


def _s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def _x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x"


def row(figures: dict) -> list[str]:
    if "failed" in figures:
        return [figures["benchmark"], f"FAILED: {figures['failed']}", "", "", "", "", ""]
    dagster = figures.get("dagster_s") or {}
    ratios = figures.get("dagster_ratio") or {}
    peak = ", ".join(f"{k} {v:.0f}" for k, v in figures["peak_rss_mb"].items()) + " MB"
    return [figures["benchmark"], _s(figures["duckdb_s"]), _s(figures.get("ours_s")), _x(figures.get("ours_ratio")),
            "; ".join(f"{_s(v)} ({k})" for k, v in dagster.items()) or "not measured",
            "; ".join(f"{_x(v)}" for v in ratios.values()) or "n/a", peak]


def table(rows: list[list[str]]) -> str:
    """A Markdown table (readable in a terminal, pasteable in the README)."""
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short windows (minutes, not the year)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--instance", default="memory",
                        help="Dagster instance kind(s) for the RTE benchmark, comma-separated: memory, sqlite, postgres")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark before it counts as failed")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}: expected {list(BENCHMARKS)}")
    load_before = os.getloadavg()
    started = datetime.now(timezone.utc)
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_one(name, args.quick, args.instance, args.timeout))
    load_after = os.getloadavg()
    print(f"\n{'quick' if args.quick else 'full'} run, {started:%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average (1 min) {load_before[0]:.1f} before / {load_after[0]:.1f} after\n")
    print(table([row(r) for r in results]))
    notes = [f"{r['benchmark']}: {r['note']}" for r in results if r.get("note")]
    if notes:
        print("\n" + "\n".join(f"- {n}" for n in notes))
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
