"""What the CLI's long commands print: progress while runs execute, one summary at the end, no library noise.

`RunReport` follows the events of one or more runs (`on_event`), shows a progress bar (asset-partitions
materialised out of those planned, the asset being computed, the time left) and then prints a summary
table per asset (partitions, rows written, rejects, checks failed), the failed checks with their
reason, and what the publication did for each product (published, unchanged, empty, failed).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

PUBLICATION_PREFIX = "datasud/"
LAYERS = ("raw", "core", "anon", "hybrid", "out")  # the catalogue's layers, in the order data flows


def quiet_libraries() -> None:
    """Keep the console for what people read: no INFO chatter or known harmless warnings from libraries."""
    # cmdstanpy installs its own INFO handler on first use unless its logger already has one
    for name in ("cmdstanpy", "prophet", "prophet.models", "prophet.plot"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.ERROR)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # Dagster parameters we use knowingly (backfill policies, partitioned checks, superseded helpers)
    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
    # prophet imports plotly lazily and warns when it is absent: we never plot with it
    warnings.filterwarnings("ignore", message=".*[Pp]lotly.*")
    logging.getLogger("prophet.plot").disabled = True


@dataclass
class AssetLine:
    partitions: set = field(default_factory=set)
    materialisations: int = 0
    rows: int | None = None
    rejects: int | None = None

    @property
    def count(self) -> int:
        """Partitions materialised (materialisations for an unpartitioned asset)."""
        return len(self.partitions) or self.materialisations

    def add(self, key: str | None, metadata: dict) -> None:
        self.materialisations += 1
        if key is not None:
            self.partitions.add(key)
        for name, attr in (("dagster/row_count", "rows"), ("rejected_rows", "rejects")):
            value = metadata.get(name)
            if value is not None and isinstance(value.value, int):
                setattr(self, attr, (getattr(self, attr) or 0) + value.value)


@dataclass
class RunReport:
    """Progress and summary of the runs of one CLI command."""

    # soft wrap: a long reason stays one line (terminals wrap it; logs and pipes keep it whole)
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    started: float = field(default_factory=time.monotonic)
    assets: dict[str, AssetLine] = field(default_factory=lambda: defaultdict(AssetLine))
    checks_failed: Counter = field(default_factory=Counter)
    check_reasons: dict = field(default_factory=dict)
    publications: dict[str, tuple[str, str]] = field(default_factory=dict)  # product -> (status, detail)
    skipped: list[str] = field(default_factory=list)
    failed_steps: dict[str, str] = field(default_factory=dict)  # step -> first line of its error
    runs: list[tuple[str, bool]] = field(default_factory=list)
    _progress: Progress | None = None
    _task: int | None = None
    _run_base: int = 0
    _run_planned: int = 0

    # -- progress --------------------------------------------------------------------------------

    def __enter__(self) -> RunReport:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("asset-partitions"),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("starting", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def plan(self, total: int) -> None:
        """How many asset-partitions all the runs of this command will materialise."""
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def run_starts(self, planned: int) -> None:
        self._run_planned = planned
        self._run_base = self._completed()
        if self._progress is not None and self._progress.tasks[0].total is None:  # one run, not planned ahead
            self._progress.update(self._task, total=self._run_base + planned)

    def run_ends(self, result) -> None:
        self.runs.append((result.run_id, result.success))
        if self._progress is not None:  # failed or skipped steps still count as processed
            self._progress.update(self._task, completed=self._run_base + self._run_planned)

    def _completed(self) -> int:
        return int(self._progress.tasks[0].completed) if self._progress is not None else 0

    def skip(self, what: str) -> None:
        """Something planned that will not run, named."""
        self.skipped.append(what)
        self.console.print(f"  skipped: {what}")

    def on_event(self, event: dg.DagsterEvent) -> None:
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START and self._progress is not None:
            self._progress.update(self._task, description=event.step_key or "")
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            name = mat.asset_key.to_user_string()
            self.assets[name].add(mat.partition, mat.metadata)
            if name.startswith(PUBLICATION_PREFIX):
                status = mat.metadata.get("publication_status")
                uploaded = mat.metadata.get("uploaded")
                self.publications[name] = (status.value if status else "published",
                                           f"{len(uploaded.value)} file(s) uploaded" if uploaded else "")
            if self._progress is not None:
                self._progress.advance(self._task)
        elif kind == dg.DagsterEventType.ASSET_OBSERVATION:
            obs = event.event_specific_data.asset_observation
            name = obs.asset_key.to_user_string()
            status = obs.metadata.get("publication_status")
            if status is not None:
                reason = obs.metadata.get("reason")
                self.publications[name] = (status.value, reason.value if reason else "")
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            if not ev.passed:
                key = (ev.asset_key.to_user_string(), ev.check_name, ev.severity.value)
                self.checks_failed[key] += 1
                if ev.description:
                    self.check_reasons.setdefault(key, ev.description)
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            failure = event.event_specific_data
            why = failure.user_failure_data.description if failure.user_failure_data else failure.error.message
            first_line = (why or "").strip().splitlines()[0] if (why or "").strip() else ""
            if (event.step_key or "").startswith("datasud__"):
                self.publications[f"{PUBLICATION_PREFIX}{event.step_key.split('__', 1)[-1]}"] = ("failed", first_line)
            else:
                self.failed_steps[event.step_key or "?"] = first_line

    # -- summary ---------------------------------------------------------------------------------

    def print_summary(self, by_layer: bool = False, max_checks: int = 8) -> None:
        """The table per asset, or per layer (raw, core, ..., out) when there are many (the demo);
        failed checks with their reason, the first `max_checks` of them."""
        out = self.console
        table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
        for title, justify in (("layer" if by_layer else "asset", "left"), ("partitions", "right"),
                               ("rows written", "right"), ("rejects", "right"), ("checks failed", "right")):
            table.add_column(title, justify=justify)
        failed_by_asset = Counter()
        for (asset, _check, _sev), n in self.checks_failed.items():
            failed_by_asset[asset] += n
        data_assets = {a: line for a, line in self.assets.items() if not a.startswith(PUBLICATION_PREFIX)}
        rows = defaultdict(list)  # row label -> asset names
        for asset in set(data_assets) | set(failed_by_asset):
            rows[asset.split("_", 1)[0] if by_layer else asset].append(asset)
        for label in sorted(rows, key=lambda r: (LAYERS.index(r) if r in LAYERS else len(LAYERS), r)):
            lines = [data_assets.get(a, AssetLine()) for a in rows[label]]
            shown = f"{label} ({len(rows[label])} assets)" if by_layer else label
            table.add_row(shown, str(sum(x.count for x in lines)), _n(_total(x.rows for x in lines)),
                          _n(_total(x.rejects for x in lines)), str(sum(failed_by_asset[a] for a in rows[label]) or ""))
        table.add_section()
        table.add_row(f"{len(data_assets)} asset(s)", str(sum(x.count for x in data_assets.values())),
                      _n(_total(x.rows for x in data_assets.values())),
                      _n(_total(x.rejects for x in data_assets.values())), str(sum(failed_by_asset.values())))
        out.print(table)
        if self.checks_failed:
            out.print("checks failed (asset check, severity, partitions: why):")
            ranked = sorted(self.checks_failed.items(), key=lambda kv: (kv[0][2] != "ERROR", kv[0]))
            for (asset, check, severity), n in ranked[:max_checks]:
                reason = self.check_reasons.get((asset, check, severity), "")
                out.print(f"  {asset} {check} ({severity}) on {n}" + (f": {_short(reason)}" if reason else ""))
            if len(ranked) > max_checks:
                out.print(f"  … and {len(ranked) - max_checks} more: the UI's asset pages (Checks) have each reason")
        if self.publications:
            by_status = defaultdict(list)
            for product, (status, detail) in sorted(self.publications.items()):
                by_status[status].append((product.removeprefix(PUBLICATION_PREFIX), detail))
            out.print("publication:")
            for status in ("published", "unchanged", "empty", "failed"):
                if by_status.get(status):
                    names = ", ".join(p + (f" ({d})" if status == "failed" and d else "") for p, d in by_status[status])
                    out.print(f"  {status} ({len(by_status[status])}): {names}")
        for step, why in sorted(self.failed_steps.items()):
            out.print(f"step failed: {step}: {_short(why)}")
        failed_runs = [run for run, ok in self.runs if not ok]
        elapsed = time.monotonic() - self.started
        out.print(f"{len(self.runs)} run(s), {len(failed_runs)} failed, {elapsed / 60:.1f} min"
                  + (f"; failed run(s): {', '.join(failed_runs)}" if failed_runs else ""))


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _total(values) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
