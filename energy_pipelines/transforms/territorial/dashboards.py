"""`out_uc1__dashboards`: the UC1 pages (region and one per EPCI) built from the published tables only.

One row per page: its relative path (index.html, epci/<SIREN>.html), title and the self-contained
HTML (`reporting.uc1`). The demo and the portal write them as files; they open with no server.
"""

from __future__ import annotations

import pandas as pd

from energy_pipelines.clock import Window
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.territorial.indicators import Uc1Settings

PAGE_COLUMNS = ["page", "level", "territory_code", "year", "html"]


def dashboards(balance: pd.DataFrame, emissions: pd.DataFrame, indicators: pd.DataFrame, clusters: pd.DataFrame,
               communes: pd.DataFrame, *, params: Uc1Settings, window: Window | None = None) -> Derived:
    from energy_pipelines.reporting import uc1 as rp

    if indicators.empty:
        return Derived(pd.DataFrame(columns=PAGE_COLUMNS), figures={"pages": 0, "why": "no published indicators"})
    data = rp.Published(balance, emissions, indicators, clusters)
    pages = rp.dashboard_pages(data, region_code=params.region_code, communes=communes)
    rows = [{"page": path, "level": "region" if path == "index.html" else "epci",
             "territory_code": params.region_code if path == "index.html" else path.split("/")[1][:-5],
             "year": data.latest_year(), "html": html} for path, html in pages.items()]
    return Derived(pd.DataFrame(rows, columns=PAGE_COLUMNS),
                   figures={"pages": len(rows), "year": data.latest_year()})
