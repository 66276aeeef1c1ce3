"""The catalogue site, built from a small demo-like run and checked as a user would, in headless Chromium.

The run: the real RTE chain over the autumn DST day (readers, checks with their Data Docs ledger,
publication to the mirror), plus UC2/UC3 products written to the warehouse and published through the
same functions as the publication assets (`export_product`, `datapackage`, `MirrorPublisher`), over
the same day. In this run's catalogue the anonymisation step of `out_uc2__charging_usage` yields restricted
access only, so it is a restricted product: published privately, its page must say how to ask for it and never link
its data.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from energy_pipelines.build import build_data_assets, build_defs
from energy_pipelines.catalog import default_catalog, load_catalog
from energy_pipelines.checks.samples import good_frame
from energy_pipelines.checks.suites import EXPECTATIONS_DIR, load_suite
from energy_pipelines.clock import PARIS, UTC, half_hours, paris_day_bounds
from energy_pipelines.governance.dagster_specs import graph_deps, parquet_metadata
from energy_pipelines.governance.policy import PRIVATE, decide
from energy_pipelines.portal.config import load_access_config, load_portal_config
from energy_pipelines.portal.published import MirrorSource
from energy_pipelines.portal.site import SiteInputs, build_site
from energy_pipelines.publish import MirrorPublisher
from energy_pipelines.publish.products import datapackage, export_product, publication_request, write_datapackage
from energy_pipelines.settings import CATALOG_DIR, load_settings
from energy_pipelines.storage import ParquetStore
from tests.conftest import require_service
from tests.integration.test_publication import load_days, publish

DAY = "2025-10-26"  # the autumn DST day: 50 half-hours, 25 hours
STATIONS = ["FRS05E0001", "FRS05E0002", "FRS05E0003", "FRS05E0004"]
TERRITORIES = {"provence_verte": "Provence Verte", "metropole_toulon": "Métropole Toulon Provence Méditerranée"}
RESTRICTED = "out_uc2__charging_usage"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _fit(spec, frame: pd.DataFrame) -> pa.Table:
    """The frame with every catalogue column (defaults for those a test does not care about), typed."""
    n = len(frame)
    for name, col in spec.table_schema.columns.items():
        if name in frame:
            continue
        frame[name] = {"string": ["x"] * n, "int64": [1] * n, "float64": [1.0] * n, "bool": [False] * n}.get(
            col.dtype, [None] * n) if not col.nullable else [None] * n
        if col.dtype == "string" and not col.nullable:
            frame[name] = [str(v) for v in range(n)] if name in spec.table_schema.primary_key else "x"
    return pa.Table.from_pandas(frame[list(spec.table_schema.columns)], preserve_index=False).cast(
        spec.table_schema.to_arrow())


def signal_frame(spec) -> pa.Table:
    lo, hi = paris_day_bounds(DAY)
    rows = []
    for i, st in enumerate(STATIONS):
        for k, t in enumerate(half_hours(lo, hi)):
            hour = t.astimezone(PARIS).hour
            colour = "green" if 10 <= hour < 16 else "orange" if 7 <= hour < 20 else "red"
            if i == 3 and k < 6:
                colour = None  # a station without data at night: drawn grey, not guessed
            rows.append({"datetime_utc": t, "datetime_local": t.astimezone(PARIS).isoformat(),
                         "id_station_itinerance": st, "code_insee_commune": f"0506{i}", "colour": colour,
                         "thresholds_version": "v1", "regional_green_share_pct": 30.0 + hour,
                         "n_charge_points": 2, "occupancy_area": "05060", "area_type": "commune",
                         "area_n_stations": len(STATIONS), "area_n_charge_points": 2 * len(STATIONS),
                         "area_n_free": (k + i) % 3, "signal_complete": colour is not None,
                         "colour_reason": None if colour else "no Enedis ratio"})
    return _fit(spec, pd.DataFrame(rows))


def forecast_frame(spec) -> pa.Table:
    issued = paris_day_bounds(DAY)[1]
    rows = []
    for st in STATIONS:
        for k in range(96):
            t = issued + timedelta(minutes=30 * k)
            p = 0.5 + 0.45 * math.sin(2 * math.pi * (t.astimezone(PARIS).hour - 7) / 24)
            colour = "green" if p >= 0.6 else "orange" if p >= 0.3 else "red"
            rows.append({"issued_at_utc": issued, "data_cutoff_utc": issued, "target_utc": t,
                         "target_local": t.astimezone(PARIS).isoformat(), "horizon_h": (k + 1) / 2,
                         "id_station_itinerance": st, "code_insee_commune": "05061", "p_green": round(p, 3),
                         "expected_colour": colour, "ratio_band": "1-1.5", "thresholds_version": "v1",
                         "model": "prophet+residual"})
    return _fit(spec, pd.DataFrame(rows))


def rates_frame(spec, periods: list[tuple[datetime, datetime]], masked_first: bool = False) -> pa.Table:
    rows = []
    for j, (tid, name) in enumerate(TERRITORIES.items()):
        for k, (lo, hi) in enumerate(periods):
            hour = lo.astimezone(PARIS).hour
            production = max(0.0, 900 * math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0
            consumption = 1500.0 + 300 * j + 10 * k
            if hi - lo > timedelta(days=1):  # a month: whole-month sums, sunny August to dimmer October
                consumption, production = 1.1e6 + 1e5 * k, 5.2e5 - 9e4 * k
            auto = min(production, consumption)
            masked = masked_first and j == 1 and k == 0
            rows.append({"territory_id": tid, "territory_name": name, "period_start_utc": lo, "period_end_utc": hi,
                         "period_local": lo.astimezone(PARIS).isoformat(), "consumption_kwh": consumption,
                         "production_kwh": production, "self_consumed_kwh": auto, "surplus_kwh": production - auto,
                         "import_kwh": consumption - auto,
                         "self_consumption_rate_pct": None if masked or production == 0 else 100 * auto / production,
                         "self_production_rate_pct": None if masked else 100 * auto / consumption,
                         "coverage_rate_pct": 100 * production / consumption,
                         "half_hours_expected": int((hi - lo) / timedelta(minutes=30)),
                         "half_hours_present": int((hi - lo) / timedelta(minutes=30)),
                         "half_hours_complete": int((hi - lo) / timedelta(minutes=30)), "masked": masked,
                         "mask_reason": "fewer than 10 residential delivery points" if masked else None})
    return _fit(spec, pd.DataFrame(rows))


def uc3_forecast_frame(spec) -> pa.Table:
    issued = paris_day_bounds(DAY)[1]
    rows = []
    for tid, name in TERRITORIES.items():
        for k in range(168):
            t = issued + timedelta(hours=k)
            hour = t.astimezone(PARIS).hour
            p = max(0.0, 900 * math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0
            c = 1500.0 + 100 * math.cos(2 * math.pi * hour / 24)
            for var, y in (("consumption_kwh", c), ("production_kwh", p), ("self_production_rate_pct", 100 * min(p, c) / c)):
                rows.append({"issued_at_utc": issued, "territory_id": tid, "territory_name": name, "variable": var,
                             "target_utc": t, "horizon_h": k, "yhat": y, "yhat_lower": y * 0.8, "yhat_upper": y * 1.1,
                             "interval_width": 0.8, "model": "prophet", "masked": False, "mask_reason": None})
    return _fit(spec, pd.DataFrame(rows))


def restricted_frame(spec) -> pa.Table:
    suite = load_suite(spec, EXPECTATIONS_DIR)
    frame = good_frame(spec, suite, times=[datetime(2025, 9, 30, 22, tzinfo=UTC), datetime(2025, 8, 31, 22, tzinfo=UTC)])
    return pa.Table.from_pandas(frame, preserve_index=False).cast(spec.table_schema.to_arrow())


def publish_direct(settings, catalog, lineage, dataset: str, table: pa.Table) -> None:
    """What the publication asset does for one product (without its Dagster gate): export, package, publish."""
    spec, eff = catalog[dataset], lineage[dataset]
    store = ParquetStore(settings.warehouse_dir)
    store.write(dataset, table, time_column=spec.time_column)
    staging = settings.home / "publication" / dataset
    files = export_product(spec, store, staging, parquet_metadata(eff, catalog))
    package = write_datapackage(datapackage(spec, eff, catalog, files), staging)
    verdict = decide(eff, catalog).require()
    MirrorPublisher(settings.published_dir).publish(publication_request(
        spec, eff, catalog, organisation=verdict.organisation, private=verdict.outcome == PRIVATE,
        resources=[f.resource for f in [*files, package]]))


def site_inputs(catalog, lineage, deps, settings, generated) -> SiteInputs:
    return SiteInputs(catalog=catalog, lineage=lineage, deps=deps, config=load_portal_config(catalog),
                      access=load_access_config(catalog), reports_dir=settings.reports_dir, data_root=settings.home,
                      generated=generated)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    copy = root / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    path = copy / "datasets" / f"{RESTRICTED}.yaml"
    data = yaml.safe_load(path.read_text())
    data["step"]["yields_access"] = "restricted"  # the owners allow this aggregate to convention partners only
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(root / "home"), "ENERGY_PIPELINES_MODE": "sample",
                              "ENERGY_PIPELINES_PARTITIONS_START": "2024-01-01"})
    default_catalog.cache_clear()
    instance = dg.DagsterInstance.ephemeral()
    load_days(settings, instance, DAY)
    assert publish(settings, instance, catalog_dir=copy).success
    default_catalog.cache_clear()
    catalog = load_catalog(copy)
    assets, lineage = build_data_assets(catalog, settings)
    deps = graph_deps(assets)
    lo, hi = paris_day_bounds(DAY)
    hours = [(t, t + timedelta(hours=1)) for t in half_hours(lo, hi)[::2]]
    months = [(datetime(2025, m, 1, tzinfo=PARIS).astimezone(UTC), datetime(2025, m + 1, 1, tzinfo=PARIS).astimezone(UTC))
              for m in (8, 9, 10)]
    for dataset, table in (("out_uc2__green_signal", signal_frame(catalog["out_uc2__green_signal"])),
                           ("out_uc2__signal_forecast", forecast_frame(catalog["out_uc2__signal_forecast"])),
                           ("out_uc3__rates_hourly", rates_frame(catalog["out_uc3__rates_hourly"], hours, masked_first=True)),
                           ("out_uc3__rates_monthly", rates_frame(catalog["out_uc3__rates_monthly"], months)),
                           ("out_uc3__forecasts", uc3_forecast_frame(catalog["out_uc3__forecasts"])),
                           (RESTRICTED, restricted_frame(catalog[RESTRICTED]))):
        publish_direct(settings, catalog, lineage, dataset, table)
    # a UC1 dashboard as reporting/uc1.py writes them
    (settings.home / "reports" / "uc1").mkdir(parents=True)
    (settings.home / "reports" / "uc1" / "index.html").write_text(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Tableau de bord UC1</title></head>"
        "<body><h1>Bilan énergétique de la région</h1></body></html>")
    generated = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    inputs = site_inputs(catalog, lineage, deps, settings, generated)
    report = build_site(MirrorSource(settings.published_dir), settings.published_dir, inputs)
    return {"settings": settings, "catalog": catalog, "lineage": lineage, "deps": deps, "report": report,
            "root": settings.published_dir, "inputs": inputs}


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.lang, self.links, self.imgs, self.svgs, self.text, self.stack, self.errors = None, [], [], [], [], [], []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.links.append(a["src"])
        if tag == "img":
            self.imgs.append(a)
        if tag == "svg":
            self.svgs.append(a)
        if tag not in ("meta", "link", "img", "input", "br", "rect", "line", "circle", "path", "polyline", "polygon"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("meta", "link", "img", "input", "br", "rect", "line", "circle", "path", "polyline", "polygon"):
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


# ---------------------------------------------------------------------------------------------- content


def test_every_published_product_has_its_page_and_the_index_lists_it(demo):
    root, report = demo["root"], demo["report"]
    published = {p.name for p in MirrorSource(root).products()}
    assert {"out_rte__eco2mix_regional", "out_uc2__green_signal", RESTRICTED} <= published
    assert set(report.products) == published
    index = parse(root / "index.html")
    for name in published:
        assert (root / "catalogue" / f"{name}.html").is_file()
        assert f"catalogue/{name}.html" in index.links
        assert (root / "lineage" / f"{name}.svg").is_file()
    # facets: a page per use case, owner and theme, each listing only its products
    uc2 = parse(root / "filtres" / "usage-uc2.html")
    assert "../catalogue/out_uc2__green_signal.html" in uc2.links
    assert "../catalogue/out_uc3__rates_hourly.html" not in uc2.links
    enedis = parse(root / "filtres" / "proprietaire-enedis.html")
    assert "../catalogue/out_rte__eco2mix_regional.html" not in enedis.links  # RTE's product has no Enedis data


def test_a_product_page_says_everything_a_reuser_needs(demo):
    root, catalog = demo["root"], demo["catalog"]
    page = parse(root / "catalogue" / "out_rte__eco2mix_regional.html")
    text = " ".join(page.text)
    for label in ("Propriétaires des données", "Diffuseurs", "Licence", "Accès", "Mise à jour", "Dernière mise à jour",
                  "Couverture temporelle", "Qualité", "Schéma", "Télécharger", "Lignage", "DuckDB", "pandas"):
        assert label in text, label
    assert "RTE" in text and catalog.licences["etalab-2.0"].title in text
    assert "toutes les 30 minutes" in text
    # coverage from the file itself, in Paris time, with the offset on the repeated autumn hour
    assert "du 26 octobre 2025 à 0 h 00 au 26 octobre 2025 à 23 h 30" in text
    # quality: the real blocking check of the run passed, for the product and its sources
    assert "Conforme" in text and "core_rte__eco2mix_regional" in text
    # schema with units and descriptions
    assert "consommation_mw" in text and "MW" in text
    # downloads: the Parquet file (relative, resolvable) and its CSV copy
    parquet = [h for h in page.links if h.endswith(".parquet")]
    csv = [h for h in page.links if h.endswith(".csv")]
    assert parquet == ["../region-sud/out_rte__eco2mix_regional/out_rte__eco2mix_regional_2025-10.parquet"]
    assert csv == ["../telechargements/out_rte__eco2mix_regional/out_rte__eco2mix_regional_2025-10.csv"]
    # the snippet runs as written, from the published folder
    import html

    snippet = html.unescape((root / "catalogue" / "out_rte__eco2mix_regional.html").read_text())
    duck = re.search(r"SELECT \*\nFROM read_parquet\('([^']+)'\)", snippet)
    import duckdb

    rows = duckdb.sql(f"select count(*) from read_parquet('{root / duck.group(1)}')").fetchall()[0][0]
    assert rows == 50  # every half-hour of the DST day


def test_the_csv_copy_opens_in_a_french_spreadsheet_and_holds_the_same_rows(demo):
    root = demo["root"]
    csv = root / "telechargements" / "out_rte__eco2mix_regional" / "out_rte__eco2mix_regional_2025-10.csv"
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the accents right
    frame = pd.read_csv(csv, sep=";", decimal=",", encoding="utf-8-sig")
    parquet = pq.read_table(root / "region-sud" / "out_rte__eco2mix_regional" / "out_rte__eco2mix_regional_2025-10.parquet").to_pandas()
    assert len(frame) == len(parquet) == 50
    assert list(frame.columns) == list(parquet.columns)
    assert np.allclose(frame["consommation_mw"], parquet["consommation_mw"])
    assert frame["datetime_utc"].iloc[0] == parquet["datetime_utc"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_csv_copies_are_rewritten_only_when_their_parquet_changes(demo):
    settings, root = demo["settings"], demo["root"]
    inputs = demo["inputs"]
    again = build_site(MirrorSource(root), root, inputs)
    assert again.csv_written == [] and again.csv_unchanged == demo["report"].csv_unchanged + len(demo["report"].csv_written)


def test_a_restricted_product_shows_how_to_ask_and_never_its_data(demo):
    root = demo["root"]
    page = parse(root / "catalogue" / f"{RESTRICTED}.html")
    text = " ".join(page.text)
    assert "Demander l'accès" in text and "Restreint" in text
    assert "energy-pipelines access request --product out_uc2__charging_usage" in text
    assert "Comité de pilotage" in text and "INSEE" in text  # every owner of the lineage and the committee
    assert not [h for h in page.links if h.endswith((".parquet", ".csv"))]
    assert not (root / "telechargements" / RESTRICTED).exists()
    assert "Télécharger" not in text


def test_lineage_diagram_draws_the_real_graph(demo):
    root, lineage, deps = demo["root"], demo["lineage"], demo["deps"]
    svg = (root / "lineage" / "out_rte__eco2mix_regional.svg").read_text()
    assert svg.startswith("<svg") and "<title" in svg and 'role="img"' in svg
    for upstream in lineage["out_rte__eco2mix_regional"].upstream:
        assert upstream in svg
    arrows = svg.count("marker-end=")
    expected = sum(1 for d in {"out_rte__eco2mix_regional", *lineage["out_rte__eco2mix_regional"].upstream}
                   for p in deps.get(d, ()) if p in {"out_rte__eco2mix_regional", *lineage["out_rte__eco2mix_regional"].upstream})
    assert arrows == expected > 0


def test_use_case_pages_hold_the_published_figures(demo):
    root = demo["root"]
    uc2 = (root / "usages" / "uc2.html").read_text()
    assert "Pas encore de signal publié pour aujourd" in uc2 and "dimanche 26 octobre 2025" in uc2
    assert uc2.count('id="signal-jour"') == 1 and 'data-points="194"' in uc2  # 4 × 50 half-hours, 6 without data
    assert "Meilleurs créneaux" in uc2 and "probabilité" in uc2
    uc3 = parse(root / "usages" / "uc3.html")
    for tid, name in TERRITORIES.items():
        assert f"uc3/{tid}.html" in uc3.links
        page = (root / "usages" / "uc3" / f"{tid}.html").read_text()
        assert name in page and "La semaine à venir" in page
        assert 'id="uc3-heure"' in page and 'id="uc3-mois"' in page and 'id="uc3-prevision"' in page
    toulon = (root / "usages" / "uc3" / "metropole_toulon.html").read_text()
    assert "1 valeur(s) masquée(s) par le secret statistique" in toulon
    hourly = re.search(r'id="uc3-heure"[^>]*data-points="(\d+)"', toulon)
    assert hourly and int(hourly.group(1)) == 2 * 25 - 2 - 10  # 25 hours of the DST day; masked and P=0 drawn as gaps
    uc1 = parse(root / "usages" / "uc1.html")
    assert "../tableaux-de-bord/uc1/index.html" in uc1.links
    assert (root / "tableaux-de-bord" / "uc1" / "index.html").is_file()
    uc5 = " ".join(parse(root / "usages" / "uc5.html").text)
    assert "réservé aux membres" in uc5


# ---------------------------------------------------------------------------------------------- as a user


def site_pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if not p.is_relative_to(root / "tableaux-de-bord"))


def test_every_page_is_french_well_formed_with_links_that_resolve_and_images_with_alt(demo):
    root = demo["root"]
    pages = site_pages(root)
    assert len(pages) >= 20
    for path in pages:
        page = parse(path)
        assert page.lang == "fr", path
        assert not page.errors and not page.stack, (path, page.errors[:3])
        for img in page.imgs:
            assert (img.get("alt") or "").strip(), (path, img)
        for svg in page.svgs:
            assert svg.get("role") == "img" and svg.get("aria-labelledby"), (path, svg)
            assert int(svg["data-points"]) > 0, (path, svg)  # no empty chart
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            assert not parts.scheme, (path, href)
            if not parts.path:
                continue  # an anchor in the page
            target = (path.parent / unquote(parts.path)).resolve()
            assert target.exists(), (path, href)
        text = " ".join(page.text)
        assert "Traceback" not in text and "Error:" not in text, path


def test_the_site_in_headless_chromium(demo, tmp_path):
    require_service(CHROMIUM is not None, "no chromium on this machine")
    root = demo["root"]
    shots = {}
    for name, rel in (("index", "index.html"), ("produit", "catalogue/out_rte__eco2mix_regional.html"),
                      ("usage", "usages/uc2.html"), ("territoire", "usages/uc3/provence_verte.html"),
                      ("restreint", f"catalogue/{RESTRICTED}.html")):
        shot = tmp_path / f"{name}.png"
        run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                              "--window-size=1280,2400", f"--screenshot={shot}", (root / rel).as_uri()],
                             capture_output=True, timeout=120)
        assert run.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000, run.stderr[-500:]
        shots[name] = shot
        dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", (root / rel).as_uri()],
                             capture_output=True, timeout=120, text=True).stdout
        assert 'lang="fr"' in dom and "Traceback" not in dom
        if name == "index":  # the search box appears only with JavaScript, and it runs
            assert re.search(r'<input id="recherche"(?![^>]*hidden)', dom), "filtre.js did not run"
    keep = Path(__file__).resolve().parents[2] / ".cache" / "portal_screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    for name, shot in shots.items():
        shutil.copy(shot, keep / shot.name)


def test_the_site_asset_builds_after_publication(demo, tmp_path):
    """The Dagster asset: depends on every publication asset and writes the same site."""
    from energy_pipelines.portal.dagster import SITE_KEY

    settings = demo["settings"]
    defs = build_defs(settings)  # the code location holds the site asset
    graph = defs.resolve_asset_graph()
    assert {k for k in graph.get(SITE_KEY).parent_keys} == {
        dg.AssetKey(["datasud", d]) for d in demo["lineage"] if demo["catalog"][d].publish}
    (demo["root"] / "index.html").unlink()
    site = next(a for a in defs.assets if SITE_KEY in a.keys)
    result = dg.materialize([site], resources=defs.resources, instance=dg.DagsterInstance.ephemeral())
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["products"].value == len(demo["report"].products)
    assert (demo["root"] / "index.html").is_file()
    with open(demo["root"] / "index.html", encoding="utf-8") as fh:
        assert json.dumps("out_rte__eco2mix_regional")[1:-1] in fh.read()
