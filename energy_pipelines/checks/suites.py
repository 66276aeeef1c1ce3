"""Expectation suites: one JSON per dataset in `expectations/`, generated from the catalogue plus domain rules.

A suite file is a Great Expectations 1.x `ExpectationSuite` in its JSON form. Every expectation
carries `meta.origin`:

- `generated`: derived from the dataset's catalogue schema (column set and order, types,
  nullability, min/max with units, allowed values, patterns, unique primary key, the half-hour
  grid). `sync` rewrites these from the catalogue; editing them by hand is pointless (change the
  YAML instead) and the sync test fails until the file is regenerated.
- `domain` (or anything not marked `generated`): written by people, kept as they are by `sync`.

Suite-level settings live in `meta.energy_pipelines`:

- `derived_columns`: `{name: {"sql": <DuckDB expression over the row>, "description", "origin"}}`,
  computed before validation so domain rules can be plain GX expectations on pandas
  (GX's SQL `UnexpectedRowsExpectation` does not run on dataframes).
- `good_row`: a row that satisfies the domain rules; the generic tests build good partitions
  from it (key and time columns are generated).
- `completeness` / `freshness`: per-dataset overrides (`{"enabled": false}`, `{"keys": [...]}`,
  `{"max_age_minutes": 60}`).

Domain expectations may carry `meta.violation`: a patch of `good_row` that must make that
expectation fail; the generic tests apply it, so a new rule comes with its own test.

Nothing here imports Great Expectations: suites are plain dicts until validation time, so
definitions load stays fast. Command line:

    python -m energy_pipelines.checks sync [--prune]   # write skeletons, refresh generated parts
    python -m energy_pipelines.checks check            # exit 1 when a file is out of date
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energy_pipelines.catalog import Catalog, DatasetSpec, default_catalog
from energy_pipelines.settings import CATALOG_DIR, EXPECTATIONS_DIR, PROJECT_ROOT
from energy_pipelines.storage.atomic import write_text_atomic

GENERATED = "generated"
DOMAIN = "domain"
META_KEY = "energy_pipelines"
# derived columns are prefixed so they never collide with a catalogue column
DERIVED_PREFIX = "dq__"
HALF_HOUR_S = 1800

# How each catalogue dtype looks to GX once the Parquet rows are in pandas (see validation.to_frame):
# GX compares numeric/bool dtypes with numpy dtypes or pandas dtype classes, and the Python type of
# each value for object columns. GX 1.24 has no type name matching a tz-aware datetime64 column, so
# timestamps are checked through DuckDB's typeof() in a derived column (which also refuses naive times).
GX_TYPE_NAMES: dict[str, list[str]] = {
    "string": ["str"],
    "int64": ["Int64Dtype", "int64"],
    "float64": ["float64"],
    "bool": ["BooleanDtype", "bool"],
    "date": ["date"],
}
TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"

SEVERITIES = ("critical", "warning", "info")


class SuiteError(ValueError):
    """A suite file is malformed or refers to columns the dataset does not have."""


@dataclass
class Suite:
    """One dataset's suite as plain data: generated + domain expectations and settings."""

    dataset: str
    expectations: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def derived_columns(self) -> dict[str, dict[str, Any]]:
        return self.settings.get("derived_columns", {})

    def option(self, section: str) -> dict[str, Any]:
        value = self.settings.get(section, {})
        return value if isinstance(value, dict) else {}

    def enabled(self, section: str) -> bool:
        return bool(self.option(section).get("enabled", True))

    @property
    def domain(self) -> list[dict[str, Any]]:
        return [e for e in self.expectations if origin(e) != GENERATED]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.dataset,
            "meta": {META_KEY: self.settings},
            "expectations": self.expectations,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def origin(expectation: dict[str, Any]) -> str:
    return (expectation.get("meta") or {}).get("origin", DOMAIN)


def rule_id(expectation: dict[str, Any]) -> str:
    meta = expectation.get("meta") or {}
    if "rule" in meta:
        return str(meta["rule"])
    kwargs = expectation.get("kwargs", {})
    target = kwargs.get("column") or ",".join(kwargs.get("column_list", []) or [])
    return f"{expectation['type']}:{target}" if target else expectation["type"]


def columns_of(expectation: dict[str, Any]) -> set[str]:
    """Every column an expectation reads (for validation and for the load-time sanity check)."""
    kwargs = expectation.get("kwargs", {})
    cols = {kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)}
    if expectation["type"] != "expect_table_columns_to_match_ordered_list":
        cols |= set(kwargs.get("column_list") or [])
    return cols


# -- generation from the catalogue ----------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:g}"


def _gen(type_: str, rule: str, description: str, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {"origin": GENERATED, "rule": rule},
            "severity": severity, "description": description}


def generated_derived_columns(spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, col in spec.table_schema.columns.items():
        if col.dtype == "timestamp":
            out[f"{DERIVED_PREFIX}{name}_type"] = {
                "origin": GENERATED,
                "sql": f"typeof(\"{name}\")",
                "description": f"DuckDB type of {name} (tz-aware timestamps read as {TIMESTAMPTZ})",
            }
    if spec.partitioning == "half_hourly" and spec.time_column:
        t = spec.time_column
        out[f"{DERIVED_PREFIX}{t}_offset_s"] = {
            "origin": GENERATED,
            "sql": f"CAST(date_part('epoch', \"{t}\") AS BIGINT) % {HALF_HOUR_S}",
            "description": f"seconds between {t} and the start of its UTC half-hour",
        }
    return out


def generated_expectations(spec: DatasetSpec) -> list[dict[str, Any]]:
    """Expectations that follow from the catalogue schema alone, in a stable order."""
    schema = spec.table_schema
    names = list(schema.columns)
    out = [_gen("expect_table_columns_to_match_ordered_list", "columns",
                "Columns are exactly the catalogue's, in its order: " + ", ".join(names), column_list=names)]
    for name, col in schema.columns.items():
        if col.dtype == "timestamp":
            out.append(_gen("expect_column_values_to_be_in_set", f"type:{name}",
                            f"`{name}` holds tz-aware timestamps (UTC)", column=f"{DERIVED_PREFIX}{name}_type",
                            value_set=[TIMESTAMPTZ]))
        else:
            out.append(_gen("expect_column_values_to_be_in_type_list", f"type:{name}",
                            f"`{name}` holds {col.dtype} values", column=name, type_list=GX_TYPE_NAMES[col.dtype]))
        if not col.nullable:
            out.append(_gen("expect_column_values_to_not_be_null", f"not_null:{name}",
                            f"`{name}` is never null", column=name))
        if col.minimum is not None or col.maximum is not None:
            unit = f" {col.unit}" if col.unit else ""
            lo = _fmt(col.minimum) if col.minimum is not None else "-inf"
            hi = _fmt(col.maximum) if col.maximum is not None else "+inf"
            exp = _gen("expect_column_values_to_be_between", f"range:{name}",
                       f"`{name}` within [{lo}, {hi}]{unit}", column=name,
                       min_value=col.minimum, max_value=col.maximum)
            if col.unit:
                exp["meta"]["unit"] = col.unit
            out.append(exp)
        if col.allowed_values is not None:
            values = list(col.allowed_values)
            out.append(_gen("expect_column_values_to_be_in_set", f"allowed:{name}",
                            f"`{name}` is one of " + ", ".join(map(str, values)), column=name, value_set=values))
        if col.pattern is not None:
            out.append(_gen("expect_column_values_to_match_regex", f"pattern:{name}",
                            f"`{name}` matches `{col.pattern}`", column=name, regex=col.pattern))
    pk = list(schema.primary_key)
    if len(pk) == 1:
        out.append(_gen("expect_column_values_to_be_unique", "primary_key",
                        f"Primary key `{pk[0]}` is unique", column=pk[0]))
    elif pk:
        out.append(_gen("expect_compound_columns_to_be_unique", "primary_key",
                        "Primary key (" + ", ".join(pk) + ") is unique", column_list=pk))
    if spec.partitioning == "half_hourly" and spec.time_column:
        out.append(_gen("expect_column_values_to_be_between", "half_hour_grid",
                        f"`{spec.time_column}` falls on the UTC half-hour grid (:00 or :30)",
                        column=f"{DERIVED_PREFIX}{spec.time_column}_offset_s", min_value=0, max_value=0))
    return out


def _settings_skeleton(spec: DatasetSpec) -> dict[str, Any]:
    return {
        "dataset": spec.id,
        "catalogue": f"assets_config/datasets/{spec.id}.yaml",
        "how": "meta.origin 'generated' entries are rewritten from the catalogue by "
               "`python -m energy_pipelines.checks sync`; 'domain' entries are kept. See docs/quality.md.",
        "derived_columns": {},
    }


def merge(spec: DatasetSpec, existing: Suite | None) -> Suite:
    """The suite the catalogue implies now: fresh generated entries + the existing domain ones."""
    settings = copy.deepcopy(existing.settings) if existing else {}
    skeleton = _settings_skeleton(spec)
    for key in ("dataset", "catalogue", "how"):
        settings[key] = skeleton[key]
    derived = {k: v for k, v in settings.get("derived_columns", {}).items() if v.get("origin") != GENERATED}
    settings["derived_columns"] = {**generated_derived_columns(spec), **derived}
    # stable key order: identity first, then whatever the authors added
    ordered = {k: settings[k] for k in ("dataset", "catalogue", "how", "derived_columns")}
    ordered.update({k: v for k, v in settings.items() if k not in ordered})
    domain = copy.deepcopy(existing.domain) if existing else []
    return Suite(dataset=spec.id, expectations=generated_expectations(spec) + domain, settings=ordered,
                 path=existing.path if existing else None)


# -- files --------------------------------------------------------------------------------


def expectations_dir_for(catalog: Catalog) -> Path:
    """`expectations/` beside the catalogue's `assets_config/`, else the project's."""
    sibling = Path(catalog.directory).parent / "expectations"
    return sibling if sibling.is_dir() else EXPECTATIONS_DIR


def suite_path(directory: Path, dataset: str) -> Path:
    return Path(directory) / f"{dataset}.json"


def read_suite(path: Path) -> Suite:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"{path}: expected an ExpectationSuite object with an 'expectations' list")
    settings = (data.get("meta") or {}).get(META_KEY, {})
    for i, exp in enumerate(data["expectations"]):
        if not isinstance(exp, dict) or "type" not in exp:
            raise SuiteError(f"{path}: expectation #{i} has no 'type'")
        if exp.get("severity", "critical") not in SEVERITIES:
            raise SuiteError(f"{path}: expectation #{i} ({exp['type']}): severity must be one of {SEVERITIES}")
    return Suite(dataset=data.get("name") or path.stem, expectations=data["expectations"], settings=settings,
                 path=path)


def load_suite(spec: DatasetSpec, directory: Path | str) -> Suite:
    """The suite checks run: the committed file's domain rules + generated rules from the catalogue.

    A dataset with no file yet gets its generated skeleton in memory, so a new YAML has checks
    at once. Refuses domain rules naming columns the dataset does not have.
    """
    path = suite_path(Path(directory), spec.id)
    existing = read_suite(path) if path.exists() else None
    suite = merge(spec, existing)
    suite.path = path if path.exists() else None
    known = set(spec.table_schema.columns) | set(suite.derived_columns)
    for exp in suite.domain:
        unknown = columns_of(exp) - known
        if unknown:
            raise SuiteError(f"{path}: {exp['type']} ({rule_id(exp)}) refers to unknown column(s) {sorted(unknown)}; "
                             f"columns are the catalogue's or meta.{META_KEY}.derived_columns")
    for name in suite.derived_columns:
        if not name.startswith(DERIVED_PREFIX):
            raise SuiteError(f"{path}: derived column {name!r} must start with {DERIVED_PREFIX!r}")
    return suite


@dataclass
class SyncReport:
    written: list[Path] = field(default_factory=list)
    created: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)

    @property
    def out_of_date(self) -> list[Path]:
        return self.written + self.created


def sync(catalog: Catalog, directory: Path | str, *, write: bool = True, prune: bool = False,
         datasets: Iterable[str] | None = None) -> SyncReport:
    """Bring every suite file in line with the catalogue (write=False: only report what differs)."""
    directory = Path(directory)
    report = SyncReport()
    wanted = set(datasets) if datasets is not None else set(catalog.datasets)
    for dataset_id in sorted(wanted):
        spec = catalog[dataset_id]
        path = suite_path(directory, dataset_id)
        existing = read_suite(path) if path.exists() else None
        text = merge(spec, existing).dumps()
        if existing is not None and path.read_text(encoding="utf-8") == text:
            report.unchanged.append(path)
            continue
        (report.written if existing is not None else report.created).append(path)
        if write:
            write_text_atomic(path, text)
    if datasets is None:
        for path in sorted(directory.glob("*.json")):
            if path.stem not in catalog.datasets:
                report.orphans.append(path)
                if write and prune:
                    path.unlink()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m energy_pipelines.checks",
                                     description="Keep expectations/*.json in line with the catalogue.")
    parser.add_argument("command", choices=["sync", "check"],
                        help="sync: write skeletons and refresh generated entries; check: exit 1 if out of date")
    parser.add_argument("--catalog", default=str(CATALOG_DIR), help="assets_config directory")
    parser.add_argument("--expectations", default=None, help="suite directory (default: beside the catalogue)")
    parser.add_argument("--prune", action="store_true", help="with sync: delete suites of datasets no longer catalogued")
    args = parser.parse_args(argv)
    catalog = default_catalog(str(Path(args.catalog).resolve()))
    directory = Path(args.expectations) if args.expectations else expectations_dir_for(catalog)
    report = sync(catalog, directory, write=args.command == "sync", prune=args.prune)

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(PROJECT_ROOT))
        except ValueError:
            return str(p)

    verb = "written" if args.command == "sync" else "out of date"
    for p in report.created:
        print(f"{'created' if args.command == 'sync' else 'missing'}: {rel(p)}")
    for p in report.written:
        print(f"{verb}: {rel(p)}")
    for p in report.orphans:
        print(f"{'deleted' if args.prune and args.command == 'sync' else 'orphan (dataset not catalogued)'}: {rel(p)}")
    print(f"{len(report.unchanged)} suite(s) up to date, {len(report.out_of_date)} {verb}")
    return 1 if args.command == "check" and report.out_of_date else 0


if __name__ == "__main__":
    sys.exit(main())
