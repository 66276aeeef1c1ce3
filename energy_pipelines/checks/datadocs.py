"""Data Docs: the latest validations as self-contained HTML pages beside the outputs.

    <reports>/data_docs/index.html                          every dataset, its latest verdict
    <reports>/data_docs/<dataset>/index.html                its recent validations
    <reports>/data_docs/<dataset>/latest.html               the latest page
    <reports>/data_docs/<dataset>/validations/<UTC day>/<start>_<end>.html (+ .json summary)

Pages carry their CSS inline and load nothing from the network, so they open from disk (or
from a file server) in any browser, offline. A browser does not follow a file:// link from the
Dagster UI, so `energy-pipelines ui` and `serve` also serve the reports folder over http on
127.0.0.1 (`ReportsServer`) and the checks link their page through that URL (`page_url`). GX's own Data Docs need a file-backed context with
stores and pull Bootstrap/jQuery from CDNs; this renders the same content (every expectation,
its severity, observed values, failing rows) from our validation outcome.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from energy_pipelines.checks.validation import SuiteOutcome, jsonable
from energy_pipelines.partitions import PARIS
from energy_pipelines.storage import ParquetStore
from energy_pipelines.storage.atomic import write_text_atomic

UTC = timezone.utc
LEDGER = "ledger.json"
KEEP_IN_LEDGER = 200
# half-hourly runs write one page each: keep the most recent pages per dataset
KEEP_PAGES = 2000

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#1d3557;color:#fff;padding:16px 24px}header a{color:#cfe3ff}
main{padding:16px 24px;max-width:1400px}
h1{font-size:1.35rem;margin:0 0 4px}h2{font-size:1.1rem;margin:24px 0 8px}
.meta{font-size:.9rem;opacity:.9}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:.85rem}
.passed{background:#d8f3dc;color:#1b4332}.warning{background:#fff3bf;color:#7a5900}
.critical{background:#ffd6d6;color:#8a1c1c}.info{background:#e7f0ff;color:#1d3557}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.85rem;margin-bottom:12px}
th,td{border:1px solid #d9dee5;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}tr.fail td{background:#fff7f7}tr.warn td{background:#fffdf0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:1.2rem}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, header: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n"
            f"<body><header>{header}</header><main>{body}</main></body></html>\n")


def verdict_of(severity: str | None) -> str:
    return {"critical": "ERROR", "warning": "WARN", None: "PASSED"}[severity]


def _badge(severity: str | None) -> str:
    css = severity or "passed"
    return f'<span class="badge {css}">{verdict_of(severity)}</span>'


def _stamp(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({t.astimezone(PARIS):%Y-%m-%d %H:%M %Z})"


def _table(frame: pd.DataFrame, limit: int = 50) -> str:
    if frame.empty:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.head(limit).itertuples(index=False, name=None):
        rows.append("<tr>" + "".join(f"<td>{_e(jsonable(v))}</td>" for v in record) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


@dataclass
class PageContext:
    dataset: str
    window: tuple[datetime, datetime] | None
    partitions: list[str]
    run_id: str | None
    suite_path: str | None


def render_validation(outcome: SuiteOutcome, ctx: PageContext) -> str:
    """One validation as a self-contained HTML page."""
    stats = outcome.statistics
    where = (f"{_stamp(ctx.window[0])} to {_stamp(ctx.window[1])}" if ctx.window else "whole dataset")
    parts = (f"{len(ctx.partitions)} partition(s): {_e(ctx.partitions[0])} … {_e(ctx.partitions[-1])}"
             if len(ctx.partitions) > 1 else (_e(ctx.partitions[0]) if ctx.partitions else "unpartitioned"))
    header = (f"<h1>{_e(ctx.dataset)} — quality report {_badge(outcome.severity)}</h1>"
              f"<div class=\"meta\">window: {_e(where)} · {parts} · validated {_e(_stamp(outcome.validated_at))}"
              f"{' · run ' + _e(ctx.run_id) if ctx.run_id else ''}</div>"
              f"<div class=\"meta\"><a href=\"../../index.html\">all validations of this dataset</a> · "
              f"<a href=\"../../../index.html\">all datasets</a></div>")
    cards = "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k.replace("_", " "))}</div>' for k, v in stats.items())
    rows = []
    rank = {"critical": 0, "warning": 1, "info": 2}
    # failures first (critical, warning, info), then what passed, each in suite order
    ordered = sorted(outcome.outcomes, key=lambda o: (o.success, rank.get(o.severity, 3)))
    for o in ordered:
        status = "passed" if o.success else ("failed" if o.failing else "noted")
        css = "" if o.success else ("fail" if o.severity == "critical" else "warn")
        observed = o.exception or (f"{o.unexpected_count} of {o.element_count} rows unexpected"
                                   if o.unexpected_count else jsonable(o.observed) if o.observed is not None else "")
        sample = ", ".join(map(str, (jsonable(v) for v in o.sample_values[:5]))) if not o.success else ""
        rows.append(
            f"<tr class=\"{css}\"><td>{'✔' if o.success else '✘'} {status}</td>"
            f"<td><span class=\"badge {o.severity}\">{_e(o.severity)}</span></td><td>{_e(o.origin)}</td>"
            f"<td>{_e(o.description)}<br><code>{_e(o.type)} {_e(json.dumps(jsonable(o.kwargs), ensure_ascii=False))}"
            f"</code></td><td>{_e(observed)}</td><td><code>{_e(sample)}</code></td></tr>")
    expectations = ("<table><thead><tr><th>status</th><th>severity</th><th>origin</th><th>expectation</th>"
                    "<th>observed</th><th>sample unexpected values</th></tr></thead><tbody>"
                    + "".join(rows) + "</tbody></table>")
    failing = outcome.sample_rows(25)
    body = (f"<div class=\"cards\">{cards}</div>"
            f"<h2>Expectations</h2>{expectations}"
            f"<h2>Failing rows (first {len(failing)} of {len(outcome.failing_rows())})</h2>{_table(failing)}"
            f"<p class=\"meta\">Suite: <code>{_e(ctx.suite_path or 'generated in memory from the catalogue')}</code>. "
            "Severity critical fails the check with ERROR and blocks downstream assets and publication; "
            "warning fails it with WARN; info is only reported.</p>")
    return _page(f"{ctx.dataset} quality report", header, body)


# -- writing --------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _locked(directory: Path):
    """The store's per-folder flock: concurrent runs never interleave index updates."""
    return ParquetStore(directory.parent).lock(directory.name)


def _read_ledger(directory: Path) -> list[dict]:
    try:
        return json.loads((directory / LEDGER).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _dataset_index(dataset: str, ledger: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{_badge({'ERROR': 'critical', 'WARN': 'warning'}.get(e['verdict']))}</td>"
        f"<td><a href=\"{_e(e['page'])}\">{_e(e['window'])}</a></td><td>{_e(e['partitions'])}</td>"
        f"<td>{_e(e['rows'])}</td><td>{_e(', '.join(e.get('failed_rules', [])))}</td><td>{_e(e['validated_at'])}</td></tr>"
        for e in reversed(ledger))
    body = ("<table><thead><tr><th>verdict</th><th>window</th><th>partitions</th><th>rows</th>"
            f"<th>failed rules</th><th>validated</th></tr></thead><tbody>{rows}</tbody></table>")
    header = f"<h1>{_e(dataset)} — validations</h1><div class=\"meta\"><a href=\"../index.html\">all datasets</a></div>"
    return _page(f"{dataset} validations", header, body)


def _site_index(root: Path) -> str:
    rows = []
    for ledger_path in sorted(root.glob(f"*/{LEDGER}")):
        ledger = _read_ledger(ledger_path.parent)
        if not ledger:
            continue
        last = ledger[-1]
        name = ledger_path.parent.name
        rows.append(f"<tr><td>{_badge({'ERROR': 'critical', 'WARN': 'warning'}.get(last['verdict']))}</td>"
                    f"<td><a href=\"{_e(name)}/index.html\">{_e(name)}</a></td>"
                    f"<td><a href=\"{_e(name)}/{_e(last['page'])}\">{_e(last['window'])}</a></td>"
                    f"<td>{_e(last['validated_at'])}</td></tr>")
    body = ("<table><thead><tr><th>latest verdict</th><th>dataset</th><th>latest window</th><th>validated</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return _page("energy_pipelines data docs", "<h1>Data quality — latest validations</h1>", body)


def write_validation(reports_dir: Path | str, outcome: SuiteOutcome, ctx: PageContext) -> Path:
    """Write the page (and a JSON summary), refresh the indexes; returns the page path."""
    root = Path(reports_dir) / "data_docs"
    base = root / ctx.dataset
    if ctx.window:
        start, end = (t.astimezone(UTC) for t in ctx.window)
        rel = Path("validations") / f"{start:%Y-%m-%d}" / f"{start:%Y%m%dT%H%MZ}_{end:%Y%m%dT%H%MZ}.html"
        window_label = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    else:
        rel = Path("validations") / "all" / f"{outcome.validated_at:%Y%m%dT%H%M%SZ}.html"
        window_label = "whole dataset"
    page = base / rel
    text = render_validation(outcome, ctx)
    summary = {
        "dataset": ctx.dataset, "verdict": verdict_of(outcome.severity), "window": window_label,
        "partitions": (f"{ctx.partitions[0]} … {ctx.partitions[-1]}" if len(ctx.partitions) > 1
                       else (ctx.partitions[0] if ctx.partitions else "")),
        "rows": len(outcome.frame), "validated_at": f"{outcome.validated_at:%Y-%m-%d %H:%M:%S} UTC",
        "run_id": ctx.run_id, "page": str(rel),
        "failed_rules": [o.rule for o in outcome.failures],
        "statistics": outcome.statistics,
        "failures": [o.summary() for o in outcome.failures],
    }
    with _locked(base):
        _atomic_write(page, text)
        _atomic_write(page.with_suffix(".json"), json.dumps(summary, indent=1, ensure_ascii=False, default=str))
        # latest.html sits two levels above the page: its relative links must still resolve
        _atomic_write(base / "latest.html", text.replace('href="../../', 'href="'))
        ledger = [e for e in _read_ledger(base) if e["page"] != str(rel)]
        ledger = (ledger + [{k: v for k, v in summary.items() if k not in ("failures", "statistics")}])
        ledger = ledger[-KEEP_IN_LEDGER:]
        _atomic_write(base / LEDGER, json.dumps(ledger, indent=0, ensure_ascii=False))
        _atomic_write(base / "index.html", _dataset_index(ctx.dataset, ledger))
        _prune(base / "validations")
    with _locked(root):
        _atomic_write(root / "index.html", _site_index(root))
    return page


def _prune(directory: Path) -> None:
    pages = sorted(directory.glob("*/*.html"), key=lambda p: p.stat().st_mtime)
    for old in pages[:-KEEP_PAGES] if len(pages) > KEEP_PAGES else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
        try:
            old.parent.rmdir()
        except OSError:
            pass


# -- served over http ---------------------------------------------------------------------------


def page_url(page: Path, reports_dir: Path | str, reports_url: str | None) -> str:
    """The link to a page under `reports_dir`: through `reports_url` when the folder is served, else file://."""
    if not reports_url:
        return page.resolve().as_uri()
    relative = page.resolve().relative_to(Path(reports_dir).resolve())
    return reports_url.rstrip("/") + "/" + quote(relative.as_posix())


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per request would flood the UI's console
        pass


class ReportsServer:
    """The reports folder served read-only over http on 127.0.0.1, in a daemon thread, until `stop()`.

    Bound to the loopback only: the pages may hold sample rows of restricted datasets; put an
    authenticating proxy in front (and set ENERGY_PIPELINES_REPORTS_URL) to reach them from elsewhere."""

    def __init__(self, reports_dir: Path | str, port: int = 0) -> None:
        """Start serving (port 0: any free port); a port already taken raises OSError."""
        self.directory = Path(reports_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        handler = partial(_QuietHandler, directory=str(self.directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)  # OSError when the port is taken
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="reports-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReportsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

