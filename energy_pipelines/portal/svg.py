"""Inline SVG for the portal: line and bar charts, colour strips, and the lineage diagram.

Every chart is an accessible image (`role="img"`, `<title>`, `aria-label`) carrying `data-points`
(how many values it draws) so a browser test can tell an empty chart from a drawn one; an empty
series gives no chart at all (the caller writes why instead). Under each chart the page shows the
same figures in a table, readable without the picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from energy_pipelines.portal.fmt import e, missing, number

PALETTE = ("#1d6fa5", "#e07b39", "#3b8f4a", "#8e5aa8", "#b8860b", "#c0392b")
COLOURS = {"green": "#2e8b57", "orange": "#f0a030", "red": "#c8372d", None: "#d0d4da"}


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    colour: str | None = None
    dashed: bool = False
    lower: Sequence[float | None] | None = None  # an interval drawn as a band
    upper: Sequence[float | None] | None = None


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.5:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _head(chart_id: str, title: str, width: int, height: int, points: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{e(chart_id)}" role="img" '
            f'aria-labelledby="{e(chart_id)}-t" viewBox="0 0 {width} {height}" width="100%" '
            f'data-points="{points}" preserveAspectRatio="xMidYMid meet">'
            f'<title id="{e(chart_id)}-t">{e(title)}</title>')


def line_chart(chart_id: str, title: str, x_labels: Sequence[str], series: Sequence[Series], *,
               unit: str = "", y_min: float | None = None, y_max: float | None = None, digits: int = 0,
               every: int | None = None) -> str | None:
    """Lines over categorical x positions (times as labels); None when no series has a value."""
    values = [v for s in series for v in (*s.values, *(s.lower or ()), *(s.upper or ())) if not missing(v)]
    drawn = sum(1 for s in series for v in s.values if not missing(v))
    if not drawn:
        return None
    w, h, left, right, top, bottom = 760, 310, 64, 16, 28, 58
    lo = min(values) if y_min is None else min(y_min, min(values))
    hi = max(values) if y_max is None else max(y_max, max(values))
    ticks = _nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return left + (w - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / ((hi - lo) or 1))

    parts = [_head(chart_id, title, w, h, drawn)]
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e3e7ec"/>'
                     f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11" fill="#44505c">'
                     f'{e(number(t, digits))}</text>')
    if unit:
        parts.append(f'<text x="{left - 6}" y="12" text-anchor="end" font-size="11" fill="#44505c">{e(unit)}</text>')
    step = every or max(1, math.ceil(n / 12))
    for i, label in enumerate(x_labels):
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{h - bottom + 16}" text-anchor="middle" font-size="10.5" '
                         f'fill="#44505c">{e(label)}</text>')
    for k, s in enumerate(series):
        colour = s.colour or PALETTE[k % len(PALETTE)]
        if s.lower is not None and s.upper is not None:
            for run in _runs([(lo_, up) for lo_, up in zip(s.lower, s.upper, strict=True)]):
                top_pts = " ".join(f"{x(i):.1f},{y(up):.1f}" for i, (_, up) in run)
                bot_pts = " ".join(f"{x(i):.1f},{y(lo_):.1f}" for i, (lo_, _) in reversed(run))
                parts.append(f'<polygon points="{top_pts} {bot_pts}" fill="{colour}" fill-opacity="0.15"/>')
        for run in _runs([(v, v) for v in s.values]):
            pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (v, _) in run)
            if len(run) == 1:
                (i, (v, _)), = run
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
            else:
                dash = ' stroke-dasharray="6 4"' if s.dashed else ""
                parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
    # legend under the axis labels
    lx = left
    for k, s in enumerate(series):
        colour = s.colour or PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{lx}" y="{h - 22}" width="14" height="4" fill="{colour}"/>'
                     f'<text x="{lx + 18}" y="{h - 16}" font-size="11.5" fill="#1d2733">{e(s.label)}</text>')
        lx += 26 + 7 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def _runs(pairs: Sequence[tuple[float | None, float | None]]) -> list[list[tuple[int, tuple[float, float]]]]:
    """Consecutive indices where both values are known (a gap breaks the line: masked is not zero)."""
    runs: list[list[tuple[int, tuple[float, float]]]] = []
    current: list[tuple[int, tuple[float, float]]] = []
    for i, (a, b) in enumerate(pairs):
        if missing(a) or missing(b):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, (float(a), float(b))))
    if current:
        runs.append(current)
    return runs


def bar_chart(chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series], *,
              unit: str = "", y_max: float | None = None, digits: int = 0) -> str | None:
    drawn = sum(1 for s in series for v in s.values if not missing(v))
    if not drawn:
        return None
    values = [v for s in series for v in s.values if not missing(v)]
    w, h, left, right, top, bottom = 760, 310, 64, 16, 28, 58
    ticks = _nice_ticks(min(0.0, min(values)), max(values) if y_max is None else max(y_max, max(values)))
    lo, hi = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / ((hi - lo) or 1))

    parts = [_head(chart_id, title, w, h, drawn)]
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e3e7ec"/>'
                     f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11" fill="#44505c">'
                     f'{e(number(t, digits))}</text>')
    if unit:
        parts.append(f'<text x="{left - 6}" y="12" text-anchor="end" font-size="11" fill="#44505c">{e(unit)}</text>')
    slot = (w - left - right) / max(len(categories), 1)
    bar = slot * 0.8 / max(len(series), 1)
    for i, label in enumerate(categories):
        cx = left + slot * (i + 0.5)
        parts.append(f'<text x="{cx:.1f}" y="{h - bottom + 16}" text-anchor="middle" font-size="10.5" '
                     f'fill="#44505c">{e(label)}</text>')
        for k, s in enumerate(series):
            v = s.values[i]
            colour = s.colour or PALETTE[k % len(PALETTE)]
            bx = left + slot * i + slot * 0.1 + bar * k
            if missing(v):
                parts.append(f'<text x="{bx + bar / 2:.1f}" y="{y(0) - 4:.1f}" text-anchor="middle" font-size="10" '
                             f'fill="#8a939c">n.d.</text>')
                continue
            top_y, base = min(y(v), y(0)), max(y(v), y(0))
            parts.append(f'<rect x="{bx:.1f}" y="{top_y:.1f}" width="{bar:.1f}" height="{max(base - top_y, 0.5):.1f}" '
                         f'fill="{colour}"><title>{e(s.label)} — {e(label)} : {e(number(v, digits, unit))}</title></rect>')
    lx = left
    for k, s in enumerate(series):
        colour = s.colour or PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{lx}" y="{h - 24}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{h - 15}" font-size="11.5" fill="#1d2733">{e(s.label)}</text>')
        lx += 26 + 7 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def colour_strip(chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[tuple[str | None, str]]]],
                 ticks: Sequence[tuple[int, str]]) -> str | None:
    """One row of cells per label: (colour or None, tooltip) per time step; `ticks`: (index, label)."""
    drawn = sum(1 for _, cells in rows for c, _ in cells if c is not None)
    if not drawn:
        return None
    n = max(len(cells) for _, cells in rows)
    left, right, row_h, top = 190, 10, 18, 8
    w = 760
    cell = (w - left - right) / max(n, 1)
    h = top + row_h * len(rows) + 26
    parts = [_head(chart_id, title, w, h, drawn)]
    for r, (label, cells) in enumerate(rows):
        y0 = top + r * row_h
        parts.append(f'<text x="{left - 6}" y="{y0 + row_h - 5}" text-anchor="end" font-size="11" '
                     f'fill="#1d2733">{e(label)}</text>')
        for i, (colour, tip) in enumerate(cells):
            parts.append(f'<rect x="{left + i * cell:.2f}" y="{y0 + 1}" width="{max(cell - 0.6, 0.4):.2f}" '
                         f'height="{row_h - 2}" fill="{COLOURS.get(colour, COLOURS[None])}"><title>{e(tip)}</title></rect>')
    for i, label in ticks:
        x = left + i * cell
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - 22}" stroke="#ffffff" stroke-width="1.5"/>'
                     f'<text x="{x:.1f}" y="{h - 8}" text-anchor="middle" font-size="10.5" fill="#44505c">{e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- lineage -------------------------------------------------------------------------------------------

LAYER_ORDER = ("raw", "anon", "core", "hybrid", "out")
LAYER_LABEL = {"raw": "brut", "anon": "anonymisé", "core": "consolidé", "hybrid": "croisé", "out": "produit publié"}
ACCESS_STROKE = {"open": "#2e8b57", "restricted": "#d98b1a", "closed": "#c8372d"}


@dataclass(frozen=True)
class Node:
    id: str
    layer: str
    caption: str  # second line: owners or the step
    access: str


def lineage_svg(product: str, nodes: Mapping[str, Node], edges: Sequence[tuple[str, str]], title: str) -> str:
    """A standalone SVG: datasets in columns by layer (raw → published), arrows along the lineage."""
    columns: dict[str, list[str]] = {layer: [] for layer in LAYER_ORDER}
    for node in nodes.values():
        columns.setdefault(node.layer, []).append(node.id)
    used = [layer for layer in LAYER_ORDER if columns.get(layer)]
    parents: dict[str, list[str]] = {}
    for a, b in edges:
        parents.setdefault(b, []).append(a)
    # order each column by the mean position of its parents (fewer crossings), then by name
    position: dict[str, float] = {}
    for layer in used:
        ids = sorted(columns[layer], key=lambda n: (
            sum(position.get(p, 0) for p in parents.get(n, [])) / max(len(parents.get(n, [])), 1), n))
        for i, n in enumerate(ids):
            position[n] = i
        columns[layer] = ids
    box_w, box_h, gap_x, gap_y, pad = 250, 44, 60, 14, 20
    rows = max(len(columns[layer]) for layer in used)
    w = pad * 2 + len(used) * box_w + (len(used) - 1) * gap_x
    h = pad * 2 + 24 + rows * box_h + (rows - 1) * gap_y
    at: dict[str, tuple[float, float]] = {}
    for c, layer in enumerate(used):
        x = pad + c * (box_w + gap_x)
        offset = (rows - len(columns[layer])) * (box_h + gap_y) / 2
        for r, n in enumerate(columns[layer]):
            at[n] = (x, pad + 24 + offset + r * (box_h + gap_y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="t" viewBox="0 0 {w} {h}" '
           f'width="{w}" height="{h}" font-family="system-ui, sans-serif">'
           f'<title id="t">{e(title)}</title>'
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7785"/></marker></defs>'
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>']
    for c, layer in enumerate(used):
        x = pad + c * (box_w + gap_x)
        out.append(f'<text x="{x + box_w / 2}" y="{pad + 8}" text-anchor="middle" font-size="12" font-weight="600" '
                   f'fill="#44505c">{e(LAYER_LABEL.get(layer, layer))}</text>')
    for a, b in edges:
        if a not in at or b not in at:
            continue
        (x1, y1), (x2, y2) = at[a], at[b]
        sx, sy, tx, ty = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
        mid = (sx + tx) / 2
        out.append(f'<path d="M{sx:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} {tx - 2:.1f},{ty:.1f}" '
                   'fill="none" stroke="#6b7785" stroke-width="1.3" marker-end="url(#a)"/>')
    for n, (x, y) in at.items():
        node = nodes[n]
        fill = "#eaf2fb" if n == product else "#f7f8fa"
        stroke = ACCESS_STROKE.get(node.access, "#6b7785")
        out.append(f'<g><title>{e(n)} — accès {e(node.access)}</title>'
                   f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="{2.5 if n == product else 1.5}"/>'
                   f'<text x="{x + 8}" y="{y + 18}" font-size="11.5" font-weight="600" fill="#1d2733">{e(_clip(n, 38))}</text>'
                   f'<text x="{x + 8}" y="{y + 34}" font-size="10.5" fill="#44505c">{e(_clip(node.caption, 42))}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
