"""Dagster asset checks built from the catalogue: one set per catalogued asset, no code per dataset.

Checks per dataset (check names are the constants below):

| check          | what                                         | severity when failing    | blocking |
|----------------|----------------------------------------------|--------------------------|----------|
| expectations   | the GX suite `expectations/<id>.json`        | ERROR (critical rule), WARN (warning rule) | yes |
| rejects        | rows quarantined in `<id>_rejects`           | WARN                     | no       |
| completeness   | half-hours missing per series (half-hourly)  | WARN                     | no       |
| freshness      | latest half-hour older than 1 h (half-hourly)| WARN                     | no       |

Products with a secrecy layout also get the blocking `secrecy_audit` check (`secrecy_audit.py`).

Partitioned checks and single-run backfills: a partitioned check runs ONCE for the whole range
of a `BackfillPolicy.single_run()` run (its context has the range and `partition_time_window`).
Dagster 1.13 then records one result with no partition and leaves every partition of the range
"planned". So on a range these checks validate the whole window in one pass (one GX run),
attribute failing rows to their partitions, and emit one `AssetCheckEvaluation` per partition
key (what Dagster's own result conversion does for a single key) before the check's output:
each partition gets its own pass/fail in the UI and in the event log, which the publication gate
reads. Every check reads the stored partition through the `platform` resource's ParquetStore and
writes reports under its `reports_dir`.

No `from __future__ import annotations` here: Dagster reads the context/resource annotations.
"""

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from energy_pipelines.catalog import DatasetSpec
from energy_pipelines.checks import rules
from energy_pipelines.checks.suites import GENERATED, Suite
from energy_pipelines.resources import Platform
from energy_pipelines.storage.schema import REJECTS_SCHEMA

UTC = timezone.utc
Clock = Callable[[], datetime]

EXPECTATIONS = "expectations"
REJECTS = "rejects"
COMPLETENESS = "completeness"
FRESHNESS = "freshness"
CHECK_NAMES = (EXPECTATIONS, REJECTS, COMPLETENESS, FRESHNESS)
BLOCKING_CHECKS = (EXPECTATIONS,)

SEVERITY = {"critical": dg.AssetCheckSeverity.ERROR, "warning": dg.AssetCheckSeverity.WARN}
SAMPLE_ROWS = 10
MAX_LISTED = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- scope of one check execution ---------------------------------------------------------


@dataclass
class Scope:
    """What one check execution covers: the UTC window and the partition keys in it."""

    window: tuple[datetime, datetime] | None  # None: the whole dataset
    keys: list[str] = field(default_factory=list)
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    per_partition: bool = False  # emit one evaluation per key (range runs)

    def assign(self, times: pd.Series) -> np.ndarray:
        """Index into `keys` of the partition holding each time (-1 if none)."""
        if not self.keys:
            return np.zeros(len(times), dtype=int)
        starts = pd.DatetimeIndex([w[0] for w in self.windows]).as_unit("us")
        ends = pd.DatetimeIndex([w[1] for w in self.windows]).as_unit("us")
        t = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("us")
        pos = starts.searchsorted(t, side="right") - 1
        ok = (pos >= 0) & (t < ends[np.clip(pos, 0, None)])
        return np.where(ok, pos, -1)

    @property
    def label(self) -> str:
        if not self.keys:
            return "whole dataset"
        return self.keys[0] if len(self.keys) == 1 else f"{self.keys[0]} … {self.keys[-1]} ({len(self.keys)} partitions)"


def scope_of(context: dg.AssetCheckExecutionContext, partitions_def: dg.PartitionsDefinition | None) -> Scope:
    """The window and keys of this execution; never parses a key (Paris keys carry DST suffixes)."""
    if partitions_def is None or not (context.has_partition_key or context.has_partition_key_range):
        return Scope(window=None)
    tw = context.partition_time_window
    pairs = []
    for key in context.partition_keys:
        w = partitions_def.time_window_for_partition_key(key)
        pairs.append((w.start.astimezone(UTC), w.end.astimezone(UTC), key))
    pairs.sort()
    return Scope(window=(tw.start.astimezone(UTC), tw.end.astimezone(UTC)), keys=[k for _, _, k in pairs],
                 windows=[(s, e) for s, e, _ in pairs], per_partition=not context.has_partition_key)


# -- results --------------------------------------------------------------------------------


@dataclass
class Verdict:
    passed: bool
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


def _target_materializations(instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: Sequence[str],
                             chunk: int = 500) -> dict:
    """Latest materialisation record of each partition key (what each evaluation targets)."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    found: dict = {}
    for i in range(0, len(keys), chunk):  # bounded IN lists (SQLite caps bound parameters)
        wanted, cursor = set(keys[i:i + chunk]), None
        while True:  # newest first: the first record seen for a key is its latest
            result = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=sorted(wanted - set(found))),
                limit=chunk, cursor=cursor)
            for record in result.records:
                if record.partition_key in wanted and record.partition_key not in found:
                    found[record.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)
            if not result.has_more or wanted <= set(found):
                break
            cursor = result.cursor
    return found


def emit(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, check_name: str, blocking: bool,
         scope: Scope, overall: Verdict, per_key: Callable[[int], Verdict] | None = None) -> Iterator[Any]:
    """One AssetCheckResult, or (range runs) one AssetCheckEvaluation per partition key."""
    if not scope.per_partition or per_key is None:
        yield dg.AssetCheckResult(passed=overall.passed, severity=overall.severity, metadata=overall.metadata,
                                  description=overall.description)
        return
    targets = _target_materializations(context.instance, asset_key, scope.keys)
    verdicts = [per_key(i) for i in range(len(scope.keys))]
    for key, v in zip(scope.keys, verdicts, strict=True):
        yield dg.AssetCheckEvaluation(
            asset_key=asset_key, check_name=check_name, passed=v.passed, severity=v.severity,
            metadata={**v.metadata, "checked_with": dg.MetadataValue.text(scope.label)},
            description=v.description, blocking=blocking, partition=key,
            target_materialization_data=targets.get(key))
    context.log.info("%s.%s: %d partition evaluation(s), %d failed", asset_key.to_user_string(), check_name,
                     len(verdicts), sum(not v.passed for v in verdicts))
    # the check's output, so downstream steps (blocking checks) see it as done
    yield dg.Output(None, output_name=context.op_execution_context.op_def.output_defs[0].name)


TOP_REASONS = 5


def _ranked(counts: dict[str, int | None]) -> list[tuple[str, int | None]]:
    return sorted(counts.items(), key=lambda kv: (-(kv[1] or 0), kv[0]))


def why(counts: dict[str, int | None], unit: str = "row(s)", limit: int = TOP_REASONS) -> str:
    """The top reasons with their counts, most frequent first: `a (12 row(s)), b (3 row(s)) and 2 more`.
    A count of None (a rule on the whole table) names the reason alone."""
    ranked = _ranked(counts)
    text = ", ".join(reason + (f" ({n} {unit})" if n is not None else "") for reason, n in ranked[:limit])
    return text + (f" and {len(ranked) - limit} more" if len(ranked) > limit else "")


def why_markdown(counts: dict[str, int], header: str, unit: str = "rows") -> dg.MetadataValue:
    """The same reasons as a table the check's page shows as it is (no JSON pop-up)."""
    lines = [f"| {header} | {unit} |", "|---|---:|"]
    lines += [f"| {str(r).replace('|', chr(92) + '|')} | {'whole table' if n is None else n} |"
              for r, n in _ranked(counts)[:MAX_LISTED]]
    return dg.MetadataValue.md("\n".join(lines) + "\n")


def _rule_counts(failures, rows_of=None) -> dict[str, int | None]:
    """Failing rows per rule (None for a rule on the whole table)."""
    counts = {}
    for o in failures:
        label = f"{o.severity} {o.rule}" + (f": {o.description}" if o.description else "")
        if rows_of is not None and o.rows is not None:
            counts[label] = int(rows_of(o))
        elif o.unexpected_count is not None:
            counts[label] = int(o.unexpected_count)
        else:
            counts[label] = None
    return counts


def _md_table(frame: pd.DataFrame, limit: int = SAMPLE_ROWS) -> str:
    if frame.empty:
        return "_none_"
    from energy_pipelines.checks.validation import jsonable

    def cell(v: Any) -> str:
        text = "" if jsonable(v) is None else str(jsonable(v))
        return text.replace("|", "\\|").replace("\n", " ")[:120]

    head = "| " + " | ".join(map(str, frame.columns)) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join("| " + " | ".join(cell(v) for v in row) + " |\n"
                   for row in frame.head(limit).itertuples(index=False, name=None))
    return head + body


def _read(platform: Platform, spec: DatasetSpec, window: tuple[datetime, datetime] | None,
          columns: list[str] | None = None) -> pa.Table:
    return platform.store.read(spec.id, time_column=spec.time_column, window=window,
                               schema=spec.table_schema.to_arrow(), columns=columns)


# -- expectations -----------------------------------------------------------------------------


def _expectations_verdicts(outcome, scope: Scope, spec: DatasetSpec, page: Path | None, url: str | None = None):
    from energy_pipelines.checks.datadocs import verdict_of

    severity = outcome.severity
    links = {}
    if page is not None:
        links = {"data_docs": dg.MetadataValue.path(str(page)), "data_docs_url": dg.MetadataValue.url(url or page.as_uri())}
    failed = outcome.failures
    counts = _rule_counts(failed)
    overall = Verdict(
        passed=outcome.success,
        severity=SEVERITY.get(severity, dg.AssetCheckSeverity.WARN),
        description=f"{verdict_of(severity)}: {why(counts)}" if failed else None,
        metadata={
            **({"why": why_markdown(counts, "failed expectation")} if failed else {}),
            "verdict": dg.MetadataValue.text(verdict_of(severity)),
            "rows": dg.MetadataValue.int(len(outcome.frame)),
            "window": dg.MetadataValue.text(scope.label),
            "statistics": dg.MetadataValue.json(outcome.statistics),
            "failed_expectations": dg.MetadataValue.json([o.summary() for o in failed[:MAX_LISTED]]),
            "failing_rows_sample": dg.MetadataValue.md(_md_table(outcome.sample_rows(SAMPLE_ROWS))),
            **links,
        },
    )
    if not scope.per_partition:
        return overall, None
    part_of_row = scope.assign(outcome.frame[spec.time_column]) if spec.time_column and len(outcome.frame) else \
        np.zeros(len(outcome.frame), dtype=int)
    rows_per_part = np.bincount(part_of_row[part_of_row >= 0], minlength=len(scope.keys))
    table_level = [o for o in failed if o.rows is None or o.exception]
    row_level = [(o, set(part_of_row[o.rows].tolist())) for o in failed if o.rows is not None and not o.exception]

    def per_key(i: int) -> Verdict:
        hits = table_level + [o for o, parts in row_level if i in parts]
        failing = {o.severity for o in hits if o.failing}
        sev = "critical" if "critical" in failing else ("warning" if failing else None)
        counts = _rule_counts(hits, rows_of=lambda o: np.sum(part_of_row[o.rows] == i))
        return Verdict(
            passed=sev is None, severity=SEVERITY.get(sev, dg.AssetCheckSeverity.WARN),
            description=f"{verdict_of(sev)}: {why(counts)}" if hits else None,
            metadata={"verdict": dg.MetadataValue.text(verdict_of(sev)),
                      "rows": dg.MetadataValue.int(int(rows_per_part[i])),
                      "failed_rules": dg.MetadataValue.json([o.rule for o in hits]), **links})
    return overall, per_key


def build_expectations_check(asset_key: dg.AssetKey, spec: DatasetSpec, suite: Suite,
                             partitions_def: dg.PartitionsDefinition | None) -> dg.AssetChecksDefinition:
    generated = sum(1 for e in suite.expectations if (e.get("meta") or {}).get("origin") == GENERATED)
    critical = sum(1 for e in suite.expectations if e.get("severity", "critical") == "critical")

    @dg.asset_check(
        asset=asset_key, name=EXPECTATIONS, blocking=True, partitions_def=partitions_def,
        description=(f"Great Expectations suite {'expectations/' + spec.id + '.json' if suite.path else '(skeleton generated from the catalogue: run `python -m energy_pipelines.checks sync`)'}"
                     f": {len(suite.expectations)} expectations ({generated} from the catalogue, "
                     f"{len(suite.expectations) - generated} domain). A failing critical expectation (ERROR) blocks "
                     "downstream assets in the run and publication; warning ones report WARN."),
        metadata={"suite": str(suite.path) if suite.path else "in memory (no file yet)",
                  "expectations": len(suite.expectations), "critical_expectations": critical},
    )
    def _expectations(context: dg.AssetCheckExecutionContext, platform: Platform):
        from energy_pipelines.checks.datadocs import PageContext, page_url, write_validation
        from energy_pipelines.checks.validation import to_frame, validate

        scope = scope_of(context, partitions_def)
        outcome = validate(to_frame(_read(platform, spec, scope.window)), suite)
        page = None
        try:
            page = write_validation(platform.reports_dir, outcome, PageContext(
                dataset=spec.id, window=scope.window, partitions=scope.keys, run_id=context.run.run_id,
                suite_path=str(suite.path) if suite.path else None))
        except OSError as exc:  # the report is a convenience: never fail the check on it
            context.log.warning("%s: Data Docs page not written: %s", spec.id, exc)
        if not outcome.success:
            context.log.warning("%s [%s]: %s", spec.id, scope.label,
                                "; ".join(f"{o.severity} {o.rule}" for o in outcome.failures[:MAX_LISTED]))
        url = page_url(page, platform.reports_dir, platform.reports_url) if page is not None else None
        overall, per_key = _expectations_verdicts(outcome, scope, spec, page, url)
        yield from emit(context, asset_key, EXPECTATIONS, True, scope, overall, per_key)

    return _expectations


# -- rejects ----------------------------------------------------------------------------------


def build_rejects_check(asset_key: dg.AssetKey, spec: DatasetSpec,
                        partitions_def: dg.PartitionsDefinition | None) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key, name=REJECTS, blocking=False, partitions_def=partitions_def,
        description=f"Rows quarantined in {spec.rejects_id} (reason, source file and line, the record as received) "
                    "for the partition: WARN when there is any, with counts by reason. Nothing is dropped silently.",
        metadata={"rejects_table": spec.rejects_id},
    )
    def _rejects(context: dg.AssetCheckExecutionContext, platform: Platform):
        scope = scope_of(context, partitions_def)
        table = platform.store.read(spec.rejects_id, time_column="partition_start_utc", window=scope.window,
                                    schema=REJECTS_SCHEMA)
        frame = table.to_pandas()
        q = rules.quarantine(frame, SAMPLE_ROWS)
        where = ""
        if scope.window:
            where = (f" WHERE partition_start_utc >= TIMESTAMPTZ '{scope.window[0].isoformat()}'"
                     f" AND partition_start_utc < TIMESTAMPTZ '{scope.window[1].isoformat()}'")
        meta = {
            "rejected_rows": dg.MetadataValue.int(q.rows),
            "rejects_by_reason": dg.MetadataValue.json(q.by_reason),
            "rejects_by_file": dg.MetadataValue.json(q.by_file),
            "sample": dg.MetadataValue.md(_md_table(q.sample)),
            "query": dg.MetadataValue.md(f"```sql\nSELECT * FROM \"{spec.rejects_id}\"{where}\n```\n"
                                         "in `warehouse.duckdb`"),
            "path": dg.MetadataValue.path(str(platform.store.dataset_dir(spec.rejects_id))),
        }
        if not q.passed:
            meta["why"] = why_markdown(q.by_reason, "reason")
        overall = Verdict(passed=q.passed, metadata=meta,
                          description=None if q.passed else f"{q.rows} row(s) quarantined: {why(q.by_reason)}")
        per_key = None
        if scope.per_partition:
            part = scope.assign(frame["partition_start_utc"]) if len(frame) else np.array([], dtype=int)
            kinds = frame["reason"].map(rules.reason_kind) if len(frame) else pd.Series(dtype=str)

            def per_key(i: int) -> Verdict:
                mine = kinds[part == i]
                counts = {str(k): int(v) for k, v in mine.value_counts().items()}
                return Verdict(passed=not counts, metadata={"rejected_rows": dg.MetadataValue.int(len(mine)),
                                                            "rejects_by_reason": dg.MetadataValue.json(counts)},
                               description=f"{len(mine)} row(s) quarantined: {why(counts)}" if counts else None)
        yield from emit(context, asset_key, REJECTS, False, scope, overall, per_key)

    return _rejects


# -- completeness -------------------------------------------------------------------------------


def build_completeness_check(asset_key: dg.AssetKey, spec: DatasetSpec, suite: Suite,
                             partitions_def: dg.PartitionsDefinition | None) -> dg.AssetChecksDefinition:
    keys = rules.series_keys(spec, suite.option("completeness").get("keys"))
    series = ", ".join(keys) if keys else "the whole dataset as one series"

    @dg.asset_check(
        asset=asset_key, name=COMPLETENESS, blocking=False, partitions_def=partitions_def,
        description=f"Every half-hour present for every series ({series}); a Paris day has 46, 48 or 50 "
                    "half-hours. WARN for each half-hour missing; per-day counts in the metadata.",
        metadata={"series_keys": ", ".join(keys) or "(none)"},
    )
    def _completeness(context: dg.AssetCheckExecutionContext, platform: Platform):
        scope = scope_of(context, partitions_def)
        window = scope.window
        if window is None:  # half-hourly datasets are partitioned; a run without a partition judges nothing
            yield dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                      description="no partition in this run: nothing to judge")
            return
        frame = _read(platform, spec, rules.days_window(*window), [spec.time_column, *keys]).to_pandas()
        c = rules.completeness(frame, spec.time_column, keys, window)
        missing = c.missing_half_hours()
        sample = [{"half_hour_utc": t.isoformat(), "paris": t.astimezone(rules.PARIS).isoformat(),
                   "series": c.missing_in_window[t][:5]} for t in missing[:MAX_LISTED]]
        days = pd.DataFrame([d.summary() for d in c.days])
        overall = Verdict(
            passed=c.passed,
            description=None if c.passed else f"{len(missing)} half-hour(s) incomplete in {scope.label}",
            metadata={
                "missing_half_hours": dg.MetadataValue.int(len(missing)),
                "missing_sample": dg.MetadataValue.json(sample),
                "paris_days": dg.MetadataValue.md(_md_table(days, limit=62)),
                "series_keys": dg.MetadataValue.text(", ".join(keys) or "(none)"),
            })
        per_key = None
        if scope.per_partition:
            def per_key(i: int) -> Verdict:
                lacking = c.missing_in_window.get(scope.windows[i][0], [])
                return Verdict(passed=not lacking, description=None if not lacking else (
                    f"{len(lacking)} series without this half-hour: " + ", ".join(map(str, lacking[:TOP_REASONS]))
                    + (f" and {len(lacking) - TOP_REASONS} more" if len(lacking) > TOP_REASONS else "")), metadata={
                    "series_missing": dg.MetadataValue.json(lacking[:MAX_LISTED]),
                    "paris_day": dg.MetadataValue.text(scope.windows[i][0].astimezone(rules.PARIS).date().isoformat())})
        yield from emit(context, asset_key, COMPLETENESS, False, scope, overall, per_key)

    return _completeness


# -- freshness ----------------------------------------------------------------------------------


def latest_time(platform: Platform, spec: DatasetSpec) -> pd.Timestamp | None:
    """Latest value of the time column, reading only the last stored date."""
    files = platform.store.files(spec.id)
    if not files:
        return None
    last_dir = files[-1].parent
    candidates = [f for f in files if f.parent == last_dir] if last_dir.name.startswith("date=") else files[-1:]
    values = [pc.max(pq.read_table(f, columns=[spec.time_column]).column(spec.time_column)).as_py()
              for f in candidates]
    values = [v for v in values if v is not None]
    return pd.Timestamp(max(values)) if values else None


def freshness_max_age(suite: Suite) -> timedelta:
    """The dataset's freshness limit (its suite's `freshness.max_age_minutes`, default 60)."""
    return timedelta(minutes=float(suite.option("freshness").get("max_age_minutes", 60)))


def has_freshness(spec: DatasetSpec, suite: Suite) -> bool:
    """Half-hourly datasets with a time column are watched for freshness unless their suite disables it."""
    return spec.partitioning == "half_hourly" and spec.time_column is not None and suite.enabled("freshness")


def age_text(age: timedelta) -> str:
    """`2 h 30 min`, `3 days 4 h`: what a person reads, not a raw timedelta or minute count."""
    minutes = int(age.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    return (f"{hours} h" + (f" {mins} min" if mins else "")) if hours else f"{mins} min"


def build_freshness_check(asset_key: dg.AssetKey, spec: DatasetSpec, suite: Suite, clock: Clock) -> dg.AssetChecksDefinition:
    max_age = freshness_max_age(suite)

    @dg.asset_check(
        asset=asset_key, name=FRESHNESS, blocking=False,
        description=f"The latest half-hour stored ended at most {max_age} ago (WARN otherwise). Runs with every "
                    "materialisation; launch it alone to re-evaluate.",
        metadata={"max_age_minutes": max_age.total_seconds() / 60},
    )
    def _freshness(context: dg.AssetCheckExecutionContext, platform: Platform):
        f = rules.freshness(latest_time(platform, spec), clock(), max_age)
        meta = {
            "now_utc": dg.MetadataValue.text(f.now.isoformat()),
            "max_age_minutes": dg.MetadataValue.float(max_age.total_seconds() / 60),
        }
        if f.latest is not None:
            meta.update({
                "latest_half_hour_utc": dg.MetadataValue.text(f.latest.isoformat()),
                "latest_half_hour_paris": dg.MetadataValue.text(f.latest.astimezone(rules.PARIS).isoformat()),
                "age_minutes": dg.MetadataValue.float(round(f.age.total_seconds() / 60, 1)),
            })
        description = None if f.passed else (
            "no rows stored" if f.latest is None else
            f"stale: the latest half-hour stored ended {age_text(f.age)} ago (allowed: {age_text(max_age)}); "
            f"latest {f.latest.astimezone(rules.PARIS):%Y-%m-%d %H:%M} Paris")
        yield dg.AssetCheckResult(passed=f.passed, severity=dg.AssetCheckSeverity.WARN, metadata=meta,
                                  description=description)

    return _freshness


# -- all checks of one asset -----------------------------------------------------------------------


def checks_for(asset_key: dg.AssetKey, spec: DatasetSpec, suite: Suite,
               partitions_def: dg.PartitionsDefinition | None, clock: Clock) -> list[dg.AssetChecksDefinition]:
    # partitioned asset checks are "preview" in 1.13: we rely on them knowingly (see the module doc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        out = [build_expectations_check(asset_key, spec, suite, partitions_def),
               build_rejects_check(asset_key, spec, partitions_def)]
        half_hourly = spec.partitioning == "half_hourly" and spec.time_column is not None
        if half_hourly and spec.write_mode == "replace" and suite.enabled("completeness"):
            out.append(build_completeness_check(asset_key, spec, suite, partitions_def))
        if has_freshness(spec, suite):
            out.append(build_freshness_check(asset_key, spec, suite, clock))
    return out

