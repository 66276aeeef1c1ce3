"""The audit of what is stored for publication: every product of a system, read back over whole Paris years.

An attacker holds every published table at once, so the audit of one product is the audit of its whole
system: every product declared for that system in `products.yaml`, over the Paris years that the
asked window touches (the coarsest published relation is the year), reaching back far enough for the
forecasts' history. The system's `truth` and `maps` (declared `StoredInput`s) are read the same way; a
system with its own `auditor` (UC1) gets its products' rows and its declared inputs instead.
A product never materialised reads as an empty table and contributes nothing.

`audit_stored` is what both the blocking `secrecy_audit` asset check and `energy-pipelines
secrecy-audit` call; it knows nothing of Dagster: it reads through `read(dataset, window)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import Window, paris_periods
from energy_pipelines.secrecy.products import (
    PRODUCTS_PATH,
    VIOLATION_COLUMNS,
    ProductsAudit,
    SecrecyProducts,
    audit_products,
    load_products,
)

Reader = Callable[[str, Window], pd.DataFrame]


class UnknownProduct(ValueError):
    """A product asked for has no secrecy layout."""


def audited_window(window: Window, products: SecrecyProducts, system: str) -> Window:
    """The whole Paris years that `window` touches, extended back by the longest forecast history."""
    if window.is_all_time:
        return window
    years = paris_periods(window.start, window.end, "year", partial=True, clip=False)
    if not years:
        return window
    lookback = max((p.history.lookback_days for p in products.products.values()
                    if p.system == system and p.history is not None), default=0)
    return Window(years[0].start - timedelta(days=lookback), years[-1].end)


def systems_of(product_ids: Iterable[str], products: SecrecyProducts) -> dict[str, list[str]]:
    """{system: every product of it}, for the systems of `product_ids` (an attacker has them all)."""
    unknown = sorted(set(product_ids) - set(products.products))
    if unknown:
        raise UnknownProduct(f"no secrecy layout for {unknown} in products.yaml; declared: "
                             f"{sorted(products.products)}")
    systems = {products.products[p].system for p in product_ids}
    return {s: sorted(p for p, layout in products.products.items() if layout.system == s) for s in sorted(systems)}


def audit_stored(product_ids: Iterable[str], read: Reader, window: Window, *,
                 products: SecrecyProducts | None = None,
                 products_path: Path | str = PRODUCTS_PATH) -> ProductsAudit:
    """Audit, together with every other product of their systems, the stored rows of `product_ids`."""
    products = products or load_products(products_path)
    directory = Path(products_path).parent
    tables, truth, maps, windows, own = {}, {}, {}, {}, {}
    for system, pids in systems_of(product_ids, products).items():
        spec = products.systems[system]
        scope = audited_window(window, products, system)
        windows[system] = scope
        system_tables = {pid: read(pid, scope) for pid in pids}
        if spec.auditor is not None:
            inputs = {name: read(i.dataset, Window.all_time() if i.all_time else scope)
                      for name, i in spec.auditor.inputs.items()}
            own[system] = (spec.auditor.function(system_tables, inputs, directory), system_tables)
            continue
        tables.update(system_tables)
        if spec.truth is not None:
            truth[system] = spec.truth.function(read(spec.truth.dataset, scope), directory)
        for name, source in spec.maps.items():
            maps[name] = source.function(read(source.dataset, Window.all_time()), directory)
    result = audit_products(tables, products=products, truth=truth or None, maps=maps or None) if tables \
        else ProductsAudit(reports={}, violations=pd.DataFrame(columns=VIOLATION_COLUMNS),
                           unverifiable=pd.DataFrame(columns=VIOLATION_COLUMNS), summary={"products": []})
    rows = {pid: len(t) for pid, t in tables.items()}
    for system, (report, system_tables) in own.items():
        result.reports[system] = report
        result.summary["products"] = sorted([*result.summary["products"], *system_tables])
        rows.update({pid: len(t) for pid, t in system_tables.items()})
    result.summary["windows"] = {s: f"{w.start:%Y-%m-%dT%H:%MZ} .. {w.end:%Y-%m-%dT%H:%MZ}" for s, w in windows.items()}
    result.summary["rows"] = rows
    return result
