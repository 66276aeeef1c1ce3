"""UC1 dashboards: French static pages built from the published tables; rendered in headless Chromium, no empty chart."""

from __future__ import annotations

import html
import shutil
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser

import matplotlib.image as mpimg
import pandas as pd
import pytest

from energy_pipelines.simulate import simulate
from energy_pipelines.reporting import uc1 as rp
from energy_pipelines.sources.cigale_inventory import ADAPTER as CIGALE
from energy_pipelines.sources.enedis_production_annual import ADAPTER as ENEDIS
from energy_pipelines.sources.insee_cog import ADAPTER as COG
from energy_pipelines.sources.insee_population import ADAPTER as POPULATION
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.ore_consumption import ADAPTER as ORE
from energy_pipelines.transforms.territorial.clustering import ClusteringParams, territorial_clusters
from energy_pipelines.transforms.territorial.indicators import Uc1Settings, energy_balance, ghg_emissions
from energy_pipelines.transforms.territorial.ratios import TargetSet, Uc1Targets, territorial_indicators
from tests.conftest import require_service

UTC = timezone.utc
START, END = datetime(2017, 12, 31, 23, tzinfo=UTC), datetime(2020, 12, 31, 23, tzinfo=UTC)  # 2018-2020
TARGETS = Uc1Targets(source="test", reference_year=2018,
                     default=TargetSet(consumption_change_pct={2030: -30, 2050: -50},
                                       emissions_change_pct={2030: -55, 2050: -83},
                                       renewable_coverage_pct={2030: 30, 2050: 100}))
CHARTS = ["consommation-secteur", "consommation-energie", "electricite-gaz", "production-filiere", "emissions-secteur",
          "trajectoire", "groupe"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The sample through readers and transforms, as the dashboards' asset will read it."""
    root = tmp_path_factory.mktemp("uc1_dash")
    rows = {}
    for source, adapter in (("insee_cog", COG), ("ore_local", ORE), ("enedis_production_annual", ENEDIS),
                            ("atmosud_cigale", CIGALE), ("insee_population", POPULATION)):
        zone = LandingZone(root, source)
        simulate(source, zone, START, END)
        window = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)) if source == "insee_cog" else (START, END)
        rows[source] = zone.read_window(adapter, *window).rows
    settings = Uc1Settings()
    balance = energy_balance(rows["ore_local"], rows["enedis_production_annual"], rows["atmosud_cigale"],
                             rows["insee_cog"], params=settings).data
    emissions = ghg_emissions(rows["atmosud_cigale"], rows["insee_cog"], params=settings).data
    indicators = territorial_indicators(balance, emissions, rows["insee_population"], rows["insee_cog"],
                                        params=TARGETS).data
    latest = indicators[indicators["year"] == 2020]
    clustering = territorial_clusters(latest, balance[balance["year"] == 2020], rows["insee_cog"],
                                      params=ClusteringParams(bootstrap=5))
    data = rp.Published(balance, emissions, indicators, clustering.data)
    return data, clustering.figures, rows["insee_cog"], root


class Figures(HTMLParser):
    """Each <figure class="graphique">: its id, data-points, and the data artists (id="donnee-...") inside."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, dict] = {}
        self.current: str | None = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "graphique" in (a.get("class") or ""):
            self.current, self.depth = a["id"], 0
            self.figures[a["id"]] = {"points": int(a["data-points"]), "artists": 0, "empty": False}
        elif self.current:
            if tag == "figure":
                self.depth += 1
            if (a.get("id") or "").startswith("donnee-"):
                self.figures[self.current]["artists"] += 1
            if tag == "p" and a.get("class") == "vide":
                self.figures[self.current]["empty"] = True

    def handle_endtag(self, tag):
        if tag == "figure" and self.current:
            if self.depth == 0:
                self.current = None
            else:
                self.depth -= 1


def figures_of(html_text: str) -> dict[str, dict]:
    parser = Figures()
    parser.feed(html_text)
    return parser.figures


def test_an_epci_page_has_every_chart_with_data_in_french(published):
    data, figures, communes, _ = published
    members = rp.epci_members(communes)
    page = rp.territory_page(data, "epci", "200068104", members=members["200068104"], cluster_figures=figures)
    found = figures_of(page)
    assert list(found) == CHARTS
    assert all(f["points"] > 0 and f["artists"] > 0 and not f["empty"] for f in found.values()), found
    assert '<html lang="fr">' in page and "Énergie et climat : Provence Verte" in page
    text = html.unescape(page)
    assert "Consommation d'énergie finale par secteur" in text and "Voir les données" in text
    assert "Groupe 1" in page and "Stabilité des groupes" in page


def test_secret_values_are_shown_missing_and_counted_never_as_zero(published):
    data, *_ = published
    bal = data.balance.copy()
    hide = ((bal["level"] == "epci") & (bal["territory_code"] == "200068104") & (bal["source"] == "cigale")
            & (bal["measure"] == "consumption") & (bal["carrier"] == "total") & (bal["sector"] == "residentiel"))
    assert hide.sum() == 3  # three years
    page = rp.territory_page(rp.Published(bal.assign(masked=hide), data.emissions, data.indicators, data.clusters),
                             "epci", "200068104")
    assert "3 valeur(s) couverte(s) par le secret statistique ne sont pas représentées" in page
    section = page[page.index('id="consommation-secteur"'):page.index('id="consommation-energie"')]
    assert section.count("<td>secret</td>") == 3


def test_numbers_read_the_french_way():
    assert rp.fr(1234567.891, 1, "MWh") == "1\u202f234\u202f567,9\u00a0MWh"
    assert rp.fr(float("nan")) == "n.d." and rp.signed(-4.53) == "-4,5\u00a0%" and rp.signed(2) == "+2,0\u00a0%"


def test_dashboards_are_written_one_per_epci_and_the_region(published, tmp_path):
    data, figures, communes, _ = published
    files = rp.write_dashboards(data, tmp_path, communes=communes, cluster_figures=figures)
    epcis = set(data.indicators.loc[data.indicators["level"] == "epci", "territory_code"])
    assert {p.stem for p in files[1:]} == epcis and files[0].name == "index.html"
    region = files[0].read_text(encoding="utf-8")
    assert all(f'href="epci/{code}.html"' in region for code in epcis)
    found = figures_of(region)
    assert "comparaison-epci" in found and all(f["points"] > 0 for f in found.values()), found


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.mark.services
def test_a_page_renders_in_headless_chromium_with_no_empty_chart(published, tmp_path):
    require_service(chromium() is not None, "no headless Chromium (Debian package `chromium`; .ci/run installs it)")
    data, figures, communes, _ = published
    files = rp.write_dashboards(data, tmp_path / "site", communes=communes, cluster_figures=figures)
    page = next(p for p in files if p.stem == "200068104")
    profile = f"--user-data-dir={tmp_path / 'chromium'}"
    dom = subprocess.run([chromium(), *FLAGS, profile, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = figures_of(dom)
    assert list(found) == CHARTS, "the browser's DOM lacks charts"
    assert all(f["points"] > 0 and f["artists"] > 0 and not f["empty"] for f in found.values()), found
    shot = tmp_path / "page.png"
    subprocess.run([chromium(), *FLAGS, profile, "--window-size=1200,4000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    image = mpimg.imread(shot)
    assert image.shape[0] == 4000 and image[..., :3].std() > 0.1  # a rendered page, not a blank one
    colours = pd.DataFrame(image[::10, ::10, :3].reshape(-1, 3)).round(2).drop_duplicates()
    assert len(colours) > 50  # charts in colour, not only text
