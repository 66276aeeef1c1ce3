"""Run one suite on one DataFrame with an ephemeral Great Expectations 1.x context.

`dagster-ge` targets GX 0.x, so we drive GX ourselves: a fresh in-memory context per call
(no `gx/` folder, no stores, no analytics, no progress bars), a pandas batch, and the suite
built from its JSON. Derived columns (DuckDB SQL expressions over the row) are computed first;
expectations on them run in a second pass on the frame plus those columns, so the generated
column-list rule still sees exactly the catalogue's columns.

The outcome keeps, per expectation, which rows failed (positions in the frame), so callers can
attribute failures to partitions and show samples.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from energy_pipelines.checks.suites import GENERATED, Suite, columns_of, origin, rule_id

UTC = timezone.utc
# failures of these severities fail the check; "info" ones are only reported
FAILING_SEVERITIES = ("critical", "warning")


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Parquet rows as the suites expect them: nullable ints/bools, strings as objects, RangeIndex."""
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=mapping.get).reset_index(drop=True)


@dataclass
class ExpectationOutcome:
    rule: str
    type: str
    column: str | None
    severity: str
    origin: str
    description: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    observed: Any = None
    sample_values: list = field(default_factory=list)
    rows: np.ndarray | None = None  # positions of failing rows; None = a table-level rule
    exception: str | None = None
    kwargs: dict = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return not self.success and self.severity in FAILING_SEVERITIES

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "origin": self.origin,
                               "expectation": self.type, "description": self.description}
        if self.column:
            out["column"] = self.column
        if self.unexpected_count is not None:
            out["unexpected_count"] = self.unexpected_count
        if self.observed is not None:
            out["observed"] = jsonable(self.observed)
        if self.sample_values:
            out["sample_values"] = [jsonable(v) for v in self.sample_values[:5]]
        if self.exception:
            out["exception"] = self.exception[:300]
        return out


@dataclass
class SuiteOutcome:
    dataset: str
    outcomes: list[ExpectationOutcome]
    frame: pd.DataFrame
    validated_at: datetime
    derived_errors: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def severity(self) -> str | None:
        """'critical' when a critical rule failed, 'warning' when only warnings did, else None."""
        failing = {o.severity for o in self.outcomes if o.failing}
        return "critical" if "critical" in failing else ("warning" if failing else None)

    @property
    def success(self) -> bool:
        return self.severity is None

    @property
    def statistics(self) -> dict[str, int]:
        return {
            "rows": len(self.frame),
            "evaluated_expectations": len(self.outcomes),
            "successful_expectations": sum(o.success for o in self.outcomes),
            "failed_critical": sum(not o.success and o.severity == "critical" for o in self.outcomes),
            "failed_warning": sum(not o.success and o.severity == "warning" for o in self.outcomes),
            "failed_info": sum(not o.success and o.severity == "info" for o in self.outcomes),
        }

    def failing_rows(self, limit: int | None = None) -> np.ndarray:
        rows = [o.rows for o in self.outcomes if not o.success and o.rows is not None and len(o.rows)]
        union = np.unique(np.concatenate(rows)) if rows else np.array([], dtype=int)
        return union[:limit] if limit else union

    def sample_rows(self, limit: int = 10) -> pd.DataFrame:
        """The first failing rows, with a `failed_rules` column naming what each broke."""
        positions = self.failing_rows(limit)
        sample = self.frame.iloc[positions].copy()
        broken = {int(p): [] for p in positions}
        for o in self.outcomes:
            if not o.success and o.rows is not None:
                for p in np.intersect1d(o.rows, positions):
                    broken[int(p)].append(o.rule)
        sample.insert(0, "failed_rules", [", ".join(broken[int(p)]) for p in positions])
        return sample


def jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


# -- derived columns ------------------------------------------------------------------------


def derive(frame: pd.DataFrame, derived: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame plus each derived column (DuckDB SQL expression); errors reported, not raised."""
    import duckdb

    out = frame.copy()
    errors: dict[str, str] = {}
    if not derived:
        return out, errors
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB may return rows of a window function (OVER ...) in another order: sort back by position
        con.register("data", frame.assign(dq__row__=range(len(frame))))
        for name, spec in derived.items():
            try:
                query = f"SELECT ({spec['sql']}) AS v FROM data ORDER BY dq__row__"
                values = con.sql(query).to_arrow_table().column("v")
                out[name] = values.to_pandas()
            except Exception as exc:  # a bad expression is a failed rule, not a crashed run
                errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                out[name] = pd.Series([None] * len(frame), dtype="float64")
    finally:
        con.close()
    return out, errors


# -- GX -------------------------------------------------------------------------------------


def _quiet_gx() -> None:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    _quiet_gx()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def gx_suite(name: str, expectations: list[dict[str, Any]]):
    """A GX ExpectationSuite from our JSON entries (raises on an unknown expectation type)."""
    import great_expectations as gx

    _quiet_gx()
    return gx.ExpectationSuite(name=name, expectations=[dict(e) for e in expectations])


def _run_gx(frame: pd.DataFrame, name: str, expectations: list[dict[str, Any]]) -> list:
    """GX results in the order of `expectations` (GX itself groups them by metric)."""
    if not expectations:
        return []
    ctx = _context()
    batch_def = (ctx.data_sources.add_pandas("pandas").add_dataframe_asset(name)
                 .add_batch_definition_whole_dataframe("partition"))
    tagged = [{**e, "meta": {**(e.get("meta") or {}), "_position": i}} for i, e in enumerate(expectations)]
    suite = gx_suite(name, tagged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, result_format={"result_format": "COMPLETE"})
    by_position = {r.expectation_config.meta["_position"]: r for r in result.results}
    return [by_position[i] for i in range(len(expectations))]


def _exception_text(info: Any) -> str | None:
    if not info:
        return None
    candidates = info.values() if isinstance(info, dict) and "raised_exception" not in info else [info]
    for item in candidates:
        item = item if isinstance(item, dict) else getattr(item, "__dict__", {})
        if item.get("raised_exception"):
            return str(item.get("exception_message") or "exception during validation")
    return None


def _outcome(expectation: dict[str, Any], gx_result: Any) -> ExpectationOutcome:
    result = dict(gx_result.result or {})
    kwargs = expectation.get("kwargs", {})
    rows = None
    if "unexpected_index_list" in result:
        idx = result.get("unexpected_index_list") or []
        rows = np.asarray([i if not isinstance(i, dict) else i.get("index") for i in idx], dtype=int)
    exception = _exception_text(gx_result.exception_info)
    return ExpectationOutcome(
        rule=rule_id(expectation), type=expectation["type"], column=kwargs.get("column"),
        severity=expectation.get("severity", "critical"), origin=origin(expectation),
        description=expectation.get("description") or rule_id(expectation),
        success=bool(gx_result.success) and exception is None,
        element_count=result.get("element_count"), unexpected_count=result.get("unexpected_count"),
        observed=result.get("observed_value"),
        sample_values=list(result.get("partial_unexpected_list") or [])[:10],
        rows=rows, exception=exception,
        kwargs={k: v for k, v in kwargs.items() if k not in ("batch_id",)},
    )


def validate(frame: pd.DataFrame, suite: Suite) -> SuiteOutcome:
    """Validate `frame` (catalogue columns, RangeIndex) against `suite`."""
    frame = frame.reset_index(drop=True)
    derived_names = set(suite.derived_columns)
    plain = [e for e in suite.expectations if not columns_of(e) & derived_names]
    on_derived = [e for e in suite.expectations if columns_of(e) & derived_names]
    results = list(zip(plain, _run_gx(frame, suite.dataset, plain), strict=True))
    errors: dict[str, str] = {}
    if on_derived:
        needed = {n: suite.derived_columns[n] for n in sorted(derived_names & set().union(*map(columns_of, on_derived)))}
        extended, errors = derive(frame, needed)
        results += list(zip(on_derived, _run_gx(extended, f"{suite.dataset}__derived", on_derived), strict=True))
    outcomes = []
    for exp, res in results:
        o = _outcome(exp, res)
        broken = [errors[c] for c in columns_of(exp) if c in errors]
        if broken:
            o.success, o.exception = False, f"derived column could not be computed: {broken[0]}"
        outcomes.append(o)
    # back in suite order: generated rules first, then domain ones
    order = {id(e): i for i, e in enumerate(suite.expectations)}
    ranked = sorted(zip(outcomes, [exp for exp, _ in results], strict=True), key=lambda p: order[id(p[1])])
    return SuiteOutcome(dataset=suite.dataset, outcomes=[o for o, _ in ranked], frame=frame,
                        validated_at=datetime.now(UTC), derived_errors=errors)


def generated_only(outcome: SuiteOutcome) -> list[ExpectationOutcome]:
    return [o for o in outcome.outcomes if o.origin == GENERATED]
