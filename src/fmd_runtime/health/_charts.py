"""Inline SVG charts for the health report: pure Python, no dependency, every label escaped.

Two shapes cover the report: `line_chart` (one line per table over the last checkpoints: rows,
storage) and `bar_chart` (failures per day). Each returns one ``<svg>`` element that renders the
same in a notebook's output, a browser and a mail client (no script, no external resource).

Sizes are bounded so a report over a thousand tables stays a readable page: a line chart draws at
most `MAX_SERIES` lines (the caller picks the top ones, e.g. the largest tables) of at most
`MAX_POINTS` points each (the last ones), a bar chart at most `MAX_BARS` bars (the last ones).
Every text that comes from data (table names, dates, titles) goes through ``html.escape``.

Example:
    >>> svg = bar_chart("Failures per day", [("2025-01-14", 0), ("2025-01-15", 3)])
    >>> svg.startswith("<svg") and "Failures per day" in svg
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

MAX_SERIES = 10
"""At most this many lines per line chart (the caller passes the top ones)."""
MAX_POINTS = 30
"""At most this many points per line (the last ones are kept)."""
MAX_BARS = 60
"""At most this many bars per bar chart (the last ones are kept)."""

WIDTH, HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 190, 34, 46
_PALETTE = (
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#8250df",
    "#bf8700",
    "#1b7c83",
    "#d1242f",
    "#6e7781",
    "#fb8f44",
    "#953800",
)

Formatter = Callable[[float], str]


def compact_number(value: float) -> str:
    """A number for an axis label: ``950``, ``1.2k``, ``3.4M``, ``5.6G``.

    Example:
        >>> compact_number(950), compact_number(1200), compact_number(3_400_000)
        ('950', '1.2k', '3.4M')
    """
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _frame(title: str, top: float, fmt: Formatter) -> list[str]:
    """The svg head, the title, the y axis with 5 gridlines (0 .. ``top``)."""
    plot_h = HEIGHT - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fmd-chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{_LEFT}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = _TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" '
            'stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
            f"{html.escape(fmt(value))}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """At most 6 x-axis labels, evenly spread, always the first and the last."""
    if not labels:
        return []
    step = max(1, math.ceil(len(labels) / 6))
    keep = sorted({*range(0, len(labels), step), len(labels) - 1})
    y = HEIGHT - _BOTTOM + 16
    return [
        f'<text x="{xs[i]:.1f}" y="{y}" text-anchor="middle" fill="#57606a">'
        f"{html.escape(labels[i])}</text>"
        for i in keep
    ]


def _empty(title: str, note: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fmd-chart" width="{WIDTH}" height="60" '
        f'viewBox="0 0 {WIDTH} 60" role="img" aria-label="{html.escape(title)}" '
        'font-family="sans-serif" font-size="11">'
        f"<title>{html.escape(title)}</title>"
        f'<text x="{_LEFT}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>'
        f'<text x="{_LEFT}" y="40" fill="#57606a">{html.escape(note)}</text></svg>'
    )


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[str, float]]],
    *,
    fmt: Formatter = compact_number,
    empty_note: str = "no data in the window",
) -> str:
    """One line per series over shared x labels (e.g. rows per table over the last checkpoints).

    The x axis is the sorted union of every series' labels (ISO dates sort in time order), so a
    table missing from one checkpoint leaves a gap instead of shifting its line. Only the first
    `MAX_SERIES` series (in the mapping's order: pass the top ones first) and the last
    `MAX_POINTS` labels are drawn. The legend names each line, escaped.

    Args:
        title: the chart title.
        series: name -> ``(x label, value)`` points.
        fmt: how the y axis prints a value (`compact_number`; bytes: ``format_bytes``).
        empty_note: the text shown when there is no point to draw.

    Returns:
        One ``<svg>`` element as text.

    Example:
        >>> svg = line_chart("Rows", {"bronze.a<b>": [("2025-01-14", 10), ("2025-01-15", 12)]})
        >>> "bronze.a&lt;b&gt;" in svg and "<polyline" in svg
        True
    """
    drawn = dict(list(series.items())[:MAX_SERIES])
    labels = sorted({x for points in drawn.values() for x, _ in points})[-MAX_POINTS:]
    if not labels:
        return _empty(title, empty_note)
    shown = set(labels)
    top = _nice_max(max((v for pts in drawn.values() for x, v in pts if x in shown), default=0))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    xs = [
        _LEFT + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)
        for i in range(len(labels))
    ]
    where = dict(zip(labels, xs, strict=True))
    parts = _frame(title, top, fmt)
    for n, (name, points) in enumerate(drawn.items()):
        colour = _PALETTE[n % len(_PALETTE)]
        coords = [
            (where[x], _TOP + plot_h - plot_h * (v / top)) for x, v in sorted(points) if x in shown
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
        ly = _TOP + 14 * n + 6
        parts.append(
            f'<rect x="{WIDTH - _RIGHT + 12}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{WIDTH - _RIGHT + 28}" y="{ly + 1}">{html.escape(name[:26])}</text>'
        )
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    fmt: Formatter = compact_number,
    empty_note: str = "no data in the window",
) -> str:
    """One bar per label (e.g. failures per day), the last `MAX_BARS` bars, value on top.

    Args:
        title: the chart title.
        bars: ``(label, value)`` in display order.
        fmt: how values print (axis and bar tops).
        empty_note: the text shown when there is no bar.

    Returns:
        One ``<svg>`` element as text.

    Example:
        >>> "<rect" in bar_chart("Failures per day", [("2025-01-15", 2)])
        True
    """
    bars = list(bars)[-MAX_BARS:]
    if not bars:
        return _empty(title, empty_note)
    top = _nice_max(max(v for _, v in bars))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / len(bars)
    width = max(1.0, slot * 0.7)
    parts = _frame(title, top, fmt)
    xs = []
    for i, (label, value) in enumerate(bars):
        x = _LEFT + slot * i + (slot - width) / 2
        h = plot_h * (value / top)
        xs.append(x + width / 2)
        fill = "#cf222e" if value > 0 else "#d0d7de"
        parts.append(
            f'<rect x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{width:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{fill}"><title>{html.escape(label)}: '
            f"{html.escape(fmt(value))}</title></rect>"
        )
        if value > 0 and len(bars) <= 31:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{_TOP + plot_h - h - 3:.1f}" '
                f'text-anchor="middle">{html.escape(fmt(value))}</text>'
            )
    parts += _x_labels([b[0] for b in bars], xs)
    parts.append("</svg>")
    return "".join(parts)


__all__ = [
    "HEIGHT",
    "MAX_BARS",
    "MAX_POINTS",
    "MAX_SERIES",
    "WIDTH",
    "bar_chart",
    "compact_number",
    "line_chart",
]
