"""`energy-pipelines secrecy-audit [PRODUCT ...]`: audit the stored published products, as an attacker sees them.

    energy-pipelines secrecy-audit                             every product of assets_config/secrecy/products.yaml
    energy-pipelines secrecy-audit out_uc3__rates_daily --from 2025-10-01 --to 2025-11-01
    energy-pipelines secrecy-audit out_uc3__territorial_balance --json

What the blocking `secrecy_audit` asset check runs (`secrecy.stored.audit_stored`): each product with
every other product of its system, over the whole Paris years of the window (default: all stored
data). Exit status 0 when nothing is exposed, 1 when a cell is exposed or products disagree, 2 when
the question cannot be answered (unknown product, nothing stored).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

SAMPLE = 10


def _window(args):
    from energy_pipelines.clock import Window, paris_start

    if args.start is None and args.end is None:
        return Window.all_time()
    if args.start is None or args.end is None:
        raise ValueError("give both --from and --to, or neither")
    return Window(paris_start(date.fromisoformat(args.start)), paris_start(date.fromisoformat(args.end)))


def _cmd_secrecy_audit(args) -> int:
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.secrecy.products import PRODUCTS_PATH, load_products
    from energy_pipelines.secrecy.stored import UnknownProduct, audit_stored, systems_of
    from energy_pipelines.settings import load_settings
    from energy_pipelines.storage import ParquetStore

    settings, catalog = load_settings(), default_catalog()
    store = ParquetStore(settings.warehouse_dir)
    layouts = load_products(PRODUCTS_PATH)
    products = args.products or sorted(layouts.products)
    try:
        systems_of(products, layouts)
        window = _window(args)
    except (UnknownProduct, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stored = [p for p in products if store.files(p)]
    if not stored:
        print(f"error: none of {products} is stored under {settings.warehouse_dir}; materialise them first",
              file=sys.stderr)
        return 2

    def read(dataset, window):
        spec = catalog[dataset]
        bounds = None if window.is_all_time else (window.start, window.end)
        return store.read(dataset, time_column=spec.time_column, window=bounds,
                          schema=spec.table_schema.to_arrow()).to_pandas()

    result = audit_stored(stored, read, window, products=layouts)
    if args.json:
        print(json.dumps(result.as_metadata(SAMPLE), default=str, indent=2))
        return 0 if result.passed else 1
    print(f"secrecy audit of {', '.join(stored)} with every product of their system(s)")
    for system, report in result.reports.items():
        s = report.summary
        print(f"  {system}: {result.summary['windows'][system]}: {s.get('cells', 0)} cells, "
              f"{s.get('masked_cells', 0)} masked, {s.get('exposed_cells', 0)} exposed ({s.get('seconds', 0)} s)")
    for pid, n in result.summary["rows"].items():
        print(f"    {pid}: {n} row(s)")
    for r in result.exposed.head(SAMPLE).itertuples():
        print(f"  EXPOSED {r.label}: {r.exposure} ({r.attacker})")
    for r in result.violations.head(SAMPLE).itertuples():
        print(f"  VIOLATION {r.product} row {r.row} {r.column}: {r.problem}")
    print("passed: nothing published can be narrowed below its protection" if result.passed else
          f"FAILED: {len(result.exposed)} exposed cell(s), {len(result.violations)} violation(s)")
    return 0 if result.passed else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("secrecy-audit", help="audit the stored published products for statistical secrecy (LP)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("products", nargs="*", help="product ids (default: every product of assets_config/secrecy/"
                                               "products.yaml that is stored)")
    p.add_argument("--from", dest="start", help="first Paris day, YYYY-MM-DD (the audit covers its whole year)")
    p.add_argument("--to", dest="end", help="day after the last, YYYY-MM-DD (exclusive)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=_cmd_secrecy_audit)
