"""Data Docs pages: written beside the outputs, self-contained, well-formed, links that resolve, real content.

A headless Chromium renders the page when one is installed; otherwise the HTML is parsed and checked.
"""

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import require_service

from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks.datadocs import PageContext, write_validation
from energy_pipelines.checks.samples import good_frame
from energy_pipelines.checks.suites import EXPECTATIONS_DIR, load_suite
from energy_pipelines.checks.validation import validate

UTC = timezone.utc
VOID = {"meta", "br", "link", "img", "input", "hr"}


class Page(HTMLParser):
    """Collects text, links and external resources; fails on unbalanced tags."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.links, self.external, self.errors = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for key in ("src", "href"):
            if tag in ("script", "link", "img") and str(attrs.get(key, "")).startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
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
    assert not page.errors and not page.stack, (page.errors, page.stack)
    assert not page.external, f"page loads from the network: {page.external}"
    return page


@pytest.fixture
def bad_outcome():
    spec = default_catalog()["core_rte__eco2mix_regional"]
    suite = load_suite(spec, EXPECTATIONS_DIR)
    start = datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    frame = good_frame(spec, suite, times=[start + timedelta(minutes=30 * i) for i in range(4)])
    frame.loc[2, "consommation_mw"] = 25000.0  # above the catalogue maximum <script>
    frame.loc[3, "region_code"] = "<b>9x</b>"
    return spec, suite, validate(frame, suite), (start, start + timedelta(hours=2))


def test_page_is_written_beside_the_outputs_and_holds_the_failures(tmp_path, bad_outcome):
    spec, suite, outcome, window = bad_outcome
    page_path = write_validation(tmp_path / "reports", outcome, PageContext(
        dataset=spec.id, window=window, partitions=["2025-10-26-00:00", "2025-10-26-01:30"], run_id="run-1",
        suite_path=str(suite.path)))
    assert page_path.is_relative_to(tmp_path / "reports" / "data_docs" / spec.id)
    page = parse(page_path)
    text = " ".join(page.text)
    assert "ERROR" in text and spec.id in text
    assert "`consommation_mw` within [0, 20000] MW" in text and "25000" in text
    assert "<b>9x</b>" in text  # shown as text, escaped, not as markup
    assert "range:consommation_mw" in text and "pattern:region_code" in text  # the failing-rows table
    assert page_path.with_suffix(".json").exists()
    for link in page.links:  # every relative link leads to a page that exists
        assert (page_path.parent / link).resolve().exists(), link
    latest = page_path.parents[2] / "latest.html"
    latest_page = parse(latest)
    assert all((latest.parent / link).resolve().exists() for link in latest_page.links)
    site = parse(tmp_path / "reports" / "data_docs" / "index.html")
    assert spec.id in " ".join(site.text)


def test_index_lists_the_latest_validation_first(tmp_path, bad_outcome):
    spec, suite, outcome, window = bad_outcome
    ctx = PageContext(dataset=spec.id, window=window, partitions=[], run_id=None, suite_path=None)
    write_validation(tmp_path, outcome, ctx)
    later = (window[0] + timedelta(hours=2), window[1] + timedelta(hours=2))
    write_validation(tmp_path, outcome, PageContext(spec.id, later, [], None, None))
    index = parse(tmp_path / "data_docs" / spec.id / "index.html")
    pages = [link for link in index.links if link.startswith("validations/")]
    assert pages[0].endswith("20251026T0200Z_20251026T0400Z.html") and len(pages) == 2


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.services
def test_page_renders_in_headless_chromium(tmp_path, bad_outcome):
    require_service(chromium() is not None, "no headless Chromium (Debian package `chromium`; .ci/run installs it)")
    spec, suite, outcome, window = bad_outcome
    page_path = write_validation(tmp_path, outcome, PageContext(spec.id, window, [], None, None))
    # this machine has no internet: keep Chromium from trying to reach Google's services
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom",
                          page_path.as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert "range:consommation_mw" in dom and "quality report" in dom
