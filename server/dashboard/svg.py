"""Small server-rendered SVG charts: bar (vertical or horizontal), stacked bar and line. Plain Python.

Charts are self-contained ``<svg>`` elements with a ``viewBox`` (they scale to the page and to paper),
a ``<title>`` for screen readers, values written beside the marks (readable on a black-and-white print),
and series told apart by dash pattern as well as colour. Every text is XML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563"]
DASHES = ["", "6 3", "2 3", "8 3 2 3"]
FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = ""


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if step < 1 and top >= 1:
        step = 1.0
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _t(x: float, y: float, s: str, anchor: str = "middle", cls: str = "", size: int = FONT, extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{c}{extra}>'
            f"{escape(str(s))}</text>")


def _open(width: int, height: int, title: str, cls: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
        f'font-family="system-ui, \'Noto Sans CJK SC\', sans-serif">',
        f"<title>{escape(title)}</title>",
    ]


def _empty(parts: list[str], width: int, height: int, message: str) -> str:
    parts.append(_t(width / 2, height / 2, message, cls="chart-empty"))
    parts.append("</svg>")
    return "".join(parts)


def _legend(parts: list[str], series: Sequence[Series], x: float, y: float, line: bool = False) -> None:
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        if line:
            dash = DASHES[i % len(DASHES)]
            da = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 18:.1f}" y2="{y - 4:.1f}" stroke="{color}" '
                         f'stroke-width="2.5"{da}/>')
        else:
            parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{color}" '
                         f'stroke="#111" stroke-width="0.5"/>')
        parts.append(_t(x + 22, y, s.name, anchor="start"))
        x += 30 + 13 * len(s.name) + 8


def _y_axis(parts: list[str], ticks: list[float], left: float, right: float, top: float, bottom: float) -> None:
    span = ticks[-1] or 1
    for v in ticks:
        y = bottom - (bottom - top) * v / span
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#d1d5db" '
                     f'stroke-width="{1 if v == 0 else 0.5}"/>')
        parts.append(_t(left - 6, y + 4, _fmt(v), anchor="end", cls="chart-tick"))


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, colors: Sequence[str] | None = None,
              width: int = 480, height: int = 260, horizontal: bool = False, empty: str = "—") -> str:
    """One bar per label, its value written at its end."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    if horizontal:
        # As tall as its bars need: a wide container must not blow one bar up to poster size.
        height = 24 + 28 * max(1, len(labels))
    parts = _open(width, height, title, "chart-bar")
    if not values or max(values) <= 0:
        return _empty(parts, width, height, empty)
    ticks = nice_ticks(max(values))
    span = ticks[-1]

    def color(i: int) -> str:
        return (colors[i] if colors and i < len(colors) and colors[i] else PALETTE[0])

    if horizontal:
        left = 12 + min(14, max(len(s) for s in labels)) * 13
        right, top, bottom = width - 40, 12, height - 12
        band = (bottom - top) / len(labels)
        for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
            y = top + i * band + band * 0.15
            w = (right - left) * v / span
            parts.append(_t(left - 6, y + band * 0.35 + 4, lab, anchor="end"))
            parts.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{w:.1f}" height="{band * 0.7:.1f}" '
                         f'fill="{color(i)}" stroke="#111" stroke-width="0.5"><title>{escape(lab)}: {_fmt(v)}</title></rect>')
            parts.append(_t(left + w + 4, y + band * 0.35 + 4, _fmt(v), anchor="start", cls="chart-value"))
        parts.append(f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}" stroke="#111"/>')
    else:
        left, right, top, bottom = 44, width - 10, 16, height - 40
        _y_axis(parts, ticks, left, right, top, bottom)
        band = (right - left) / len(labels)
        for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
            x = left + i * band + band * 0.18
            h = (bottom - top) * v / span
            parts.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{band * 0.64:.1f}" height="{h:.1f}" '
                         f'fill="{color(i)}" stroke="#111" stroke-width="0.5"><title>{escape(lab)}: {_fmt(v)}</title></rect>')
            parts.append(_t(x + band * 0.32, bottom - h - 4, _fmt(v), cls="chart-value"))
            parts.append(_t(x + band * 0.32, bottom + 16, lab))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, width: int = 560,
                      height: int = 280, empty: str = "—") -> str:
    """One bar per label, made of one segment per series; the bar's total is written on top."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")
    parts = _open(width, height, title, "chart-stacked")
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not totals or max(totals) <= 0:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 44, width - 10, 34, height - 40
    _legend(parts, series, left, 16)
    ticks = nice_ticks(max(totals))
    span = ticks[-1]
    _y_axis(parts, ticks, left, right, top, bottom)
    band = (right - left) / len(labels)
    for i, lab in enumerate(labels):
        x = left + i * band + band * 0.18
        y: float = bottom
        for j, s in enumerate(series):
            v = s.values[i]
            if v <= 0:
                continue
            h = (bottom - top) * v / span
            y -= h
            color = s.color or PALETTE[j % len(PALETTE)]
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{band * 0.64:.1f}" height="{h:.1f}" fill="{color}" '
                         f'stroke="#111" stroke-width="0.5"><title>{escape(lab)} · {escape(s.name)}: {_fmt(v)}'
                         f"</title></rect>")
            if h >= FONT + 2:
                parts.append(_t(x + band * 0.32, y + h / 2 + 4, _fmt(v), cls="chart-inner", size=FONT - 2,
                                extra=' fill="#fff" stroke="#111" stroke-width="0.3"'))
        parts.append(_t(x + band * 0.32, y - 4, _fmt(totals[i]), cls="chart-value"))
        parts.append(_t(x + band * 0.32, bottom + 16, lab))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, width: int = 640,
               height: int = 280, empty: str = "—") -> str:
    """One line per series over the labels (e.g. weeks), with a marker and the value at each point."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")
    parts = _open(width, height, title, "chart-line")
    top_value = max((v for s in series for v in s.values), default=0)
    if not labels or top_value <= 0:
        return _empty(parts, width, height, empty)
    left, right, top, bottom = 44, width - 16, 34, height - 40
    _legend(parts, series, left, 16, line=True)
    ticks = nice_ticks(top_value)
    span = ticks[-1]
    _y_axis(parts, ticks, left, right, top, bottom)
    step = (right - left) / max(1, len(labels) - 1)
    every = max(1, math.ceil(len(labels) / 8))
    for i, lab in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(_t(left + i * step, bottom + 16, lab, cls="chart-tick"))
    for j, s in enumerate(series):
        color = s.color or PALETTE[j % len(PALETTE)]
        pts = [(left + i * step, bottom - (bottom - top) * v / span) for i, v in enumerate(s.values)]
        dash = DASHES[j % len(DASHES)]
        da = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"{da}>'
                     f"<title>{escape(s.name)}</title></polyline>")
        for (x, y), v, lab in zip(pts, s.values, labels, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}" stroke="#111" stroke-width="0.5">'
                         f"<title>{escape(lab)} · {escape(s.name)}: {_fmt(v)}</title></circle>")
            # Zeros stay unlabelled (the marker on the axis says it); the second series writes its values
            # below the line so two close series stay readable.
            if v:
                below = j % 2 == 1 and y + 15 < bottom - 2
                parts.append(_t(x, y + 15 if below else y - 7, _fmt(v), cls="chart-value", size=FONT - 2))
    parts.append("</svg>")
    return "".join(parts)
