"""`pathsleuth analyze` as one self-contained HTML file (jinja2 template, inline SVG).

Same content and order as the text report (ICMP errors as a table after the summary),
plus a Stevens time–sequence chart per finding drawn from the flow's `SeqPoint`s (see
`seqchart`; the stuck-ACK plateau is drawn as a bold line under the shaded never-acked
band). No scripts, no fonts, no external assets: the file opens offline, can be attached
to a ticket and printed. Evidence frame numbers link to their mark in the chart (CSS `:target` highlights it). All producer text
goes through jinja2 autoescaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2

from pathsleuth import __version__
from pathsleuth.diagnose.model import (
    SCHEMA_VERSION,
    CapturePoint,
    Direction,
    Finding,
    Severity,
    Verdict,
)
from pathsleuth.report.fmt import (
    CAPTURE_POINT_TEXT,
    DIRECTION_TEXT,
    VERDICT_TITLE,
    duration_text,
    endpoint,
    evidence_text,
    flow_text,
    frame_list,
    human_bytes,
    icmp_name,
    icmp_summary,
    ordered_findings,
    path_mtu_text,
    plural,
    problems_phrase,
    quoted_packet_text,
    severity_counts,
    sorted_icmp,
    time_span_text,
)
from pathsleuth.report.seqchart import Chart, build_chart
from pathsleuth.report.views import AnalysisView, IcmpView, SeqPoint, SequenceKey

#: Legend entries: kind -> words (order = legend order).
LEGEND: Mapping[str, str] = {
    "data": "data segment (seq … seq+len)",
    "retrans": "retransmission",
    "ack": "receiver's ACK",
    "syn": "SYN",
    "fin": "FIN",
    "rst": "RST",
    "icmp": "ICMP error (quoted seq)",
}


def _icmp_row(ev: IcmpView) -> dict[str, object]:
    if ev.conn >= 0:
        matched = f"connection {ev.conn}"
        if ev.segment_frame is not None:
            matched += f", segment in frame {ev.segment_frame}"
    else:
        matched = "no such connection in the capture"
    file = getattr(ev, "file", None)
    if file:
        matched += f" ({file})"
    return {
        "frame": int(ev.frame),
        "kind": ev.kind,
        "name": icmp_name(int(ev.version), int(ev.icmp_type), int(ev.icmp_code)),
        "router": ev.router,
        "hops": plural(int(ev.router_hops), "hop") + " away",
        "mtu": "" if ev.mtu is None else (str(ev.mtu) if ev.mtu else "0 (not given)"),
        "quoted": quoted_packet_text(ev),
        "matched": matched,
        "problems": list(ev.problems),
    }


@dataclass(frozen=True, slots=True)
class _FindingView:
    number: int
    finding: Finding
    severity: str
    verdict: str
    verdict_title: str
    flow: str
    direction: str
    capture_point: str
    path_mtu: str | None
    chart: Chart
    anchor: str
    drawn_frames: frozenset[int]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pathsleuth.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["evidence_text"] = evidence_text
    return env


def render_analyze_html(
    result: AnalysisView,
    sequences: Mapping[SequenceKey, Sequence[SeqPoint]] | None = None,
    *,
    title: str = "pathsleuth analyze",
) -> str:
    """The report as an HTML document.

    `sequences` maps (`Finding.file`, `Finding.connection_id`) to that connection's points
    in the finding's data direction; a finding without an entry gets no chart (the page
    says so) rather than a wrong one.
    """
    sequences = sequences or {}
    findings = ordered_findings(result.findings)
    views = []
    for number, f in enumerate(findings, start=1):
        cited = [ev.frame for ev in f.evidence if ev.frame is not None]
        chart = build_chart(sequences.get((f.file, f.connection_id), ()), cited)
        verdict = Verdict(f.verdict)
        views.append(
            _FindingView(
                number=number,
                finding=f,
                severity=Severity(f.severity).value,
                verdict=verdict.value,
                verdict_title=VERDICT_TITLE[verdict],
                flow=flow_text(f.flow),
                direction=DIRECTION_TEXT.get(Direction(f.direction), str(f.direction)),
                capture_point=CAPTURE_POINT_TEXT.get(
                    CapturePoint(f.capture_point), str(f.capture_point)
                ),
                path_mtu=None if f.path_mtu is None else path_mtu_text(f.path_mtu, verdict),
                chart=chart,
                anchor=f"finding-{number}",
                drawn_frames=frozenset(m.frame for m in chart.marks),
            )
        )
    verdicts: dict[tuple[str, int], list[str]] = {}
    for v in views:
        verdicts.setdefault((v.finding.file, v.finding.connection_id), []).append(v.anchor)
    connections = [
        {
            "c": c,
            "flow": f"{endpoint(c.src, int(c.sport))} → {endpoint(c.dst, int(c.dport))}",
            "bytes": human_bytes(int(c.bytes)),
            "duration": duration_text(float(c.duration_s)),
            "findings": verdicts.get((c.file, int(c.id)), []),
        }
        for c in result.connections
    ]
    files = [
        {
            "f": f,
            "span": time_span_text(f.first_ts_ns, f.last_ts_ns),
            "malformed_frames": frame_list(list(f.malformed_frames), int(f.malformed))
            if f.malformed
            else "",
        }
        for f in result.files
    ]
    icmp = [_icmp_row(ev) for ev in sorted_icmp(result.icmp)]
    template = _environment().get_template("analyze.html.j2")
    return template.render(
        title=title,
        headline=(
            f"{plural(len(result.files), 'file')} · "
            f"{plural(len(result.connections), 'connection')} · {problems_phrase(findings)}"
        ),
        files=files,
        n_connections=len(result.connections),
        counts={s.value: n for s, n in severity_counts(findings).items()},
        findings=views,
        connections=connections,
        icmp=icmp,
        icmp_count=icmp_summary(result.icmp) if icmp else "",
        legend=LEGEND,
        schema_version=SCHEMA_VERSION,
        version=__version__,
    )
