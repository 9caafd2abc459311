"""The SVG charts: well-formed, escaped, proportional, readable without colour."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.dashboard import svg

NS = "{http://www.w3.org/2000/svg}"


def parse(doc: str) -> ET.Element:
    return ET.fromstring(doc)


def test_nice_ticks() -> None:
    assert svg.nice_ticks(0) == [0.0, 1.0]
    assert svg.nice_ticks(7) == [0, 2, 4, 6, 8]
    assert svg.nice_ticks(100) == [0, 20, 40, 60, 80, 100]
    assert svg.nice_ticks(3) == [0, 1, 2, 3]
    assert svg.nice_ticks(0.4)[-1] >= 0.4
    assert svg.nice_ticks(float("inf")) == [0.0, 1.0]


def test_bar_chart_is_proportional_and_escaped() -> None:
    doc = svg.bar_chart(["<script>", "乙"], [10, 5], title='a "title" & more', colors=["#f00", "#0f0"])
    root = parse(doc)
    assert root.tag == NS + "svg" and root.get("role") == "img" and root.get("viewBox")
    assert root.find(NS + "title").text == 'a "title" & more'
    bars = root.findall(NS + "rect")
    assert len(bars) == 2 and [b.get("fill") for b in bars] == ["#f00", "#0f0"]
    assert float(bars[0].get("height")) == pytest.approx(2 * float(bars[1].get("height")))
    texts = [t.text for t in root.iter(NS + "text")]
    assert "<script>" in texts and "10" in texts and "5" in texts  # labels and values written out
    assert "<script>" not in doc.replace("&lt;script&gt;", "")


def test_horizontal_bar_chart_grows_with_labels() -> None:
    labels = [f"状态{i}" for i in range(16)]
    root = parse(svg.bar_chart(labels, list(range(1, 17)), title="t", horizontal=True))
    assert len(root.findall(NS + "rect")) == 16
    assert int(root.get("viewBox").split()[3]) == 24 + 28 * 16
    one = parse(svg.bar_chart(["甲"], [1], title="t", horizontal=True))
    assert int(one.get("viewBox").split()[3]) == 24 + 28


def test_empty_charts_say_so() -> None:
    for doc in (svg.bar_chart([], [], title="t", empty="暂无"), svg.bar_chart(["a"], [0], title="t", empty="暂无"),
                svg.stacked_bar_chart(["a"], [svg.Series("s", [0])], title="t", empty="暂无"),
                svg.line_chart([], [], title="t", empty="暂无")):
        root = parse(doc)
        assert [t.text for t in root.iter(NS + "text")] == ["暂无"]


def test_stacked_bars_sum_their_segments() -> None:
    root = parse(svg.stacked_bar_chart(["甲", "乙"], [svg.Series("open", [1, 0]), svg.Series("done", [3, 2])],
                                       title="t"))
    segs = [r for r in root.findall(NS + "rect") if r.find(NS + "title") is not None]
    assert len(segs) == 3  # zero segments are not drawn
    texts = [t.text for t in root.iter(NS + "text")]
    assert "4" in texts and "2" in texts and "open" in texts and "done" in texts  # totals and legend
    with pytest.raises(ValueError):
        svg.stacked_bar_chart(["a", "b"], [svg.Series("s", [1])], title="t")


def test_line_chart_series_differ_by_dash_as_well_as_colour() -> None:
    root = parse(svg.line_chart(["w1", "w2", "w3"], [svg.Series("opened", [1, 4, 2]), svg.Series("resolved", [0, 1, 3])],
                                title="t"))
    lines = root.findall(NS + "polyline")
    assert len(lines) == 2 and lines[0].get("stroke-dasharray") is None and lines[1].get("stroke-dasharray")
    assert len(root.findall(NS + "circle")) == 6
    ys = [float(p.split(",")[1]) for p in lines[0].get("points").split()]
    assert ys[1] < ys[2] < ys[0]  # higher value, higher on the page
    with pytest.raises(ValueError):
        svg.line_chart(["a"], [svg.Series("s", [1, 2])], title="t")
    with pytest.raises(ValueError):
        svg.bar_chart(["a"], [1, 2], title="t")
