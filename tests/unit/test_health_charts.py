"""The inline SVG charts of the health report: escaped labels, bounded sizes, empty states."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fmd_runtime._text import format_bytes
from fmd_runtime.health import bar_chart, line_chart
from fmd_runtime.health._charts import MAX_BARS, MAX_POINTS, MAX_SERIES, compact_number

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """The chart as XML: well-formed, one <svg> root."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def test_a_line_chart_draws_one_line_per_series_with_its_legend() -> None:
    svg = line_chart(
        "Rows",
        {
            "bronze.account": [("2025-01-14", 10), ("2025-01-15", 12), ("2025-01-16", 15)],
            "bronze.contact": [("2025-01-15", 3), ("2025-01-16", 4)],
        },
    )
    root = parse(svg)
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}circle")) == 5
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "bronze.account" in texts and "bronze.contact" in texts and "Rows" in texts
    assert "2025-01-14" in texts and "2025-01-16" in texts  # first and last x labels
    assert "20" in texts  # the y axis ends at a round number above 15


def test_every_label_is_escaped() -> None:
    evil = "<script>alert('x')</script>&"
    svg = line_chart(evil, {evil: [(evil, 1.0), ("b", 2.0)]}) + bar_chart(evil, [(evil, 3)])
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg and "&amp;" in svg
    for part in re.findall(r"<svg.*?</svg>", svg, flags=re.S):
        parse(part)  # still well-formed XML


def test_sizes_are_bounded() -> None:
    many = {f"t{i:02d}": [(f"2025-01-{d:02d}", float(d)) for d in range(1, 32)] for i in range(25)}
    root = parse(line_chart("Rows", many))
    assert len(root.findall(f"{SVG}polyline")) == MAX_SERIES
    assert len(root.findall(f"{SVG}circle")) == MAX_SERIES * MAX_POINTS  # the last 30 days
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "t09" in texts and "t10" not in texts  # the first ones (callers pass the largest)
    assert "2025-01-01" not in texts and "2025-01-31" in texts
    bars = parse(bar_chart("Failures", [(f"d{i}", i % 3) for i in range(100)]))
    assert len(bars.findall(f"{SVG}rect")) == MAX_BARS


def test_bars_show_their_values_and_zero_days_stay_visible() -> None:
    root = parse(bar_chart("Failed loads per day", [("01-14", 0), ("01-15", 3), ("01-16", 0)]))
    rects = root.findall(f"{SVG}rect")
    assert [r.get("fill") for r in rects] == ["#d0d7de", "#cf222e", "#d0d7de"]
    assert all(float(r.get("height") or 0) > 0 for r in rects)
    assert [r.find(f"{SVG}title").text for r in rects] == ["01-14: 0", "01-15: 3", "01-16: 0"]


def test_empty_charts_say_why() -> None:
    for svg in (line_chart("Rows", {}, empty_note="no checkpoint"), bar_chart("F", [])):
        root = parse(svg)
        assert root.findall(f"{SVG}polyline") == [] and root.findall(f"{SVG}rect") == []
    assert "no checkpoint" in line_chart("Rows", {"t": []}, empty_note="no checkpoint")


def test_axis_formats() -> None:
    assert (compact_number(0), compact_number(1500), compact_number(2.5e9)) == ("0", "1.5k", "2.5G")
    svg = line_chart("Storage", {"t": [("a", 3 * 1024**2), ("b", 4 * 1024**2)]}, fmt=format_bytes)
    assert f">{format_bytes(5_000_000)}<" in svg  # the axis top (a round 5,000,000), in bytes
