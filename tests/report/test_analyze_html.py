"""The self-contained HTML report and its time–sequence charts.

The page is parsed with the standard library's html.parser; every chart element carries
its frame number, kind and coordinates, so the tests check that each packet landed where
its time and sequence number say, that evidence frames are ringed and linked, and that the
page needs nothing from the network.
"""

from __future__ import annotations

import dataclasses
import math
from html.parser import HTMLParser

import pytest
from report_samples import (
    SEED_FILE,
    Result,
    healthy_result,
    loss_finding,
    seed_finding,
    seed_points,
)

from pathsleuth.diagnose.model import Evidence
from pathsleuth.report.html import render_analyze_html
from pathsleuth.report.seqchart import MAX_PLAIN_POINTS, build_chart, nice_step
from pathsleuth.report.views import SeqPoint


class Page(HTMLParser):
    """Collects elements (tag, attrs) and text; checks that tags nest properly."""

    VOID = frozenset({"meta", "br", "link", "img", "input", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if (tag is None or t == tag)
            and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def page(result: Result, seed_series: dict[tuple[str, int], list[SeqPoint]]) -> Page:
    html = render_analyze_html(result, seed_series)
    p = Page(html)
    assert p.stack == [], "unclosed tags"
    return p


def test_one_section_per_finding_worst_first(page: Page) -> None:
    sections = page.find("section", **{"class": "finding sev-error"})
    assert len(sections) == 1 and sections[0]["data-verdict"] == "pmtu_blackhole"
    verdicts = [
        a["data-verdict"] for t, a in page.elements if t == "section" and "data-verdict" in a
    ]
    assert verdicts == ["pmtu_blackhole", "packet_loss", "pmtud_working"]
    text = page.all_text
    for needle in (
        "192.168.1.254:55400 → 203.106.231.124:25",
        "#9484 first full-size segment (1448 bytes, DF, seq 4130583027), never acknowledged",
        "no ICMP type 3 code 4 for this flow in the capture",
        "$ sysctl -w net.ipv4.ip_no_pmtu_disc=1",
        "echo 'net.ipv4.ip_no_pmtu_disc = 1' >> /etc/sysctl.conf",
        "below 1500 bytes",
        "our side or the path to the peer",
        "No packets were supplied for this connection",  # the two findings without series
    ):
        assert needle in text, needle


def test_every_point_is_drawn_once_where_its_time_and_seq_say(page: Page) -> None:
    svgs = page.find("svg", **{"class": "seqchart"})
    assert len(svgs) == 1
    svg = svgs[0]
    x0, x1 = float(svg["data-plot-x0"]), float(svg["data-plot-x1"])
    y0, y1 = float(svg["data-plot-y0"]), float(svg["data-plot-y1"])
    t_max, scale = float(svg["data-t-max"]), svg["data-time-scale"]
    s_min, s_max = int(svg["data-seq-min"]), int(svg["data-seq-max"])
    marks = {int(a["data-frame"]): a for t, a in page.elements if t == "g" and "data-frame" in a}
    points = seed_points()
    assert set(marks) == {p.frame for p in points}
    t0 = min(p.t for p in points)
    for p in points:
        m = marks[p.frame]
        assert m["data-kind"] == p.kind and m["data-direction"] == p.direction
        frac = (float(m["data-x"]) - x0) / (x1 - x0)
        t = (frac * frac if scale == "sqrt" else frac) * t_max
        assert math.isclose(t, p.t - t0, abs_tol=0.02 + 0.001 * t_max), p
        seq = s_min + (y0 - float(m["data-y"])) / (y0 - y1) * (s_max - s_min)
        assert math.isclose(seq, p.rel_seq, abs_tol=(s_max - s_min) / 500), p
    # retransmissions of the full-size segment sit at the same height as the original
    assert {marks[f]["data-y"] for f in (9484, 9530, 9561, 9702)} == {marks[9484]["data-y"]}
    # the back-off is visible: each retransmission later than the one before
    xs = [float(marks[f]["data-x"]) for f in (9484, 9530, 9561, 9702, 9811, 9990, 10411)]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_time_axis_switches_to_sqrt_for_rto_backoff(page: Page) -> None:
    svg = page.find("svg", **{"class": "seqchart"})[0]
    assert svg["data-time-scale"] == "sqrt"
    steady = [SeqPoint(i, i * 0.01, i * 1000, 1000, "data", "a->b") for i in range(1, 200)]
    assert build_chart(steady).time_scale == "linear"


def test_evidence_frames_are_ringed_and_linked(page: Page) -> None:
    cited = {e.frame for e in seed_finding().evidence if e.frame is not None}
    ringed = {
        int(a["data-frame"])
        for t, a in page.elements
        if t == "g" and "cited" in a.get("class", "").split()
    }
    assert ringed == cited
    links = [
        a["href"]
        for t, a in page.elements
        if t == "a" and a.get("href", "").startswith("#f1-frame-")
    ]
    ids = {a["id"] for t, a in page.elements if "id" in a}
    assert {h.removeprefix("#f1-frame-") for h in links} == {str(f) for f in cited}
    assert all(h[1:] in ids for h in links)


def test_stuck_ack_plateau_and_ack_line_are_drawn(page: Page) -> None:
    assert page.find("path", **{"class": "ackline"})
    assert "receiver's ACK stuck at 109" in page.all_text
    chart = build_chart(seed_points())
    assert chart.band is not None and chart.band.ack == 109
    # the ACK line never goes down and ends at the plateau
    ys = [m.y for m in sorted(chart.marks, key=lambda m: m.t) if m.direction == "b->a"]
    assert ys == sorted(ys, reverse=True)


def test_no_plateau_without_retransmissions() -> None:
    pts = [
        SeqPoint(1, 0.0, 0, 1000, "data", "a->b"),
        SeqPoint(2, 0.1, 1000, 0, "ack", "b->a"),
        SeqPoint(3, 0.2, 1000, 1000, "data", "a->b"),
    ]
    assert build_chart(pts).band is None


def test_page_is_self_contained(page: Page, result: Result) -> None:
    html = render_analyze_html(result, {(SEED_FILE, 7): seed_points()})
    assert not page.find("script") and not page.find("link") and not page.find("img")
    for _tag, attrs in page.elements:
        for k, v in attrs.items():
            if k in ("src", "href"):
                assert v.startswith("#"), (k, v)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "@import" not in html and "url(" not in html


def test_producer_text_is_escaped() -> None:
    f = dataclasses.replace(
        loss_finding(), evidence=[Evidence(frame=3, text="<script>alert(1)</script> & co")]
    )
    html = render_analyze_html(Result(files=[], connections=[], findings=[f]))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_healthy_page() -> None:
    p = Page(render_analyze_html(healthy_result()))
    assert "No problems found in 1 connection." in p.all_text
    assert not p.find("svg")
    assert "192.0.2.1:50000 → 198.51.100.2:25" in p.all_text


def test_big_flows_are_thinned_but_keep_what_matters() -> None:
    n = 4 * MAX_PLAIN_POINTS
    pts = [SeqPoint(i + 1, i * 0.001, i * 1448, 1448, "data", "a->b") for i in range(n)]
    pts += [SeqPoint(n + 1 + i, i * 0.001 + 0.0005, i * 1448, 0, "ack", "b->a") for i in range(n)]
    pts.append(SeqPoint(10**6, n * 0.001, 7 * 1448, 1448, "retrans", "a->b"))
    chart = build_chart(pts, cited_frames=[12345])
    frames = {m.frame for m in chart.marks}
    assert chart.total_points == len(pts)
    assert chart.shown_points == len(chart.marks) <= MAX_PLAIN_POINTS + 2
    assert 10**6 in frames and 12345 in frames
    html = render_analyze_html(
        Result(files=[], connections=[], findings=[loss_finding()]),
        {(loss_finding().file, loss_finding().connection_id): pts},
    )
    assert f"of {len(pts):,} packets" in html


def test_nice_steps() -> None:
    assert nice_step(60) == 10
    assert nice_step(1573) == 500
    assert nice_step(0.9) == 0.2
    assert nice_step(0) == 1.0


def test_bad_seqpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        SeqPoint(1, 0.0, 0, 0, "dat", "a->b")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "points",
    [
        [SeqPoint(1, 5.0, 0, 0, "syn", "a->b")],
        [SeqPoint(1, 5.0, 0, 1448, "data", "a->b"), SeqPoint(2, 5.0, 0, 1448, "retrans", "a->b")],
        [SeqPoint(7, 0.0, -3000, 1000, "data", "a->b"), SeqPoint(8, 0.1, -2000, 0, "ack", "b->a")],
        [SeqPoint(3, 1.7e9, 10, 0, "icmp", "b->a")],
    ],
    ids=["one-syn", "same-instant", "mid-connection-negative-seq", "icmp-only-epoch-times"],
)
def test_degenerate_series_still_draw(points: list[SeqPoint]) -> None:
    chart = build_chart(points)
    assert {m.frame for m in chart.marks} == {p.frame for p in points}
    for m in chart.marks:
        assert chart.frame_x0 <= m.x <= chart.plot_x1
        assert chart.plot_y1 <= min(m.y, m.y_end) and max(m.y, m.y_end) <= chart.frame_y0
        assert math.isfinite(m.x) and math.isfinite(m.y)


def test_icmp_errors_table(page: Page) -> None:
    rows = page.find("tr", data_kind="ptb")
    assert [r["data-frame"] for r in rows] == ["612", "640", "700"]
    assert [r["class"] for r in rows] == ["", "icmp-bad", "icmp-bad"]
    text = page.all_text
    assert "ICMP errors" in text
    assert "ICMP type 3 code 4 (fragmentation needed)" in text
    assert "connection 3, segment in frame 611" in text
    assert "no such connection in the capture" in text
    assert "below the IPv6 minimum of 1280" in text
    assert "quotes TCP 10.0.0.1:40000 → 10.9.0.2:25 seq 3000001449, 1500 bytes, DF" in text


def test_no_icmp_table_without_icmp() -> None:
    assert "ICMP errors" not in render_analyze_html(healthy_result())
