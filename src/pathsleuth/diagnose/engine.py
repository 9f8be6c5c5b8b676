"""The analyze pipeline for one PacketTable: connections -> directions -> ICMP -> findings.

`analyze_table(table, file=...)` runs the tcp stage (`build_connections`,
`analyse_directions`, `match_icmp`, `summarise`) and then every registered detector in
priority order, and returns an `AnalysisResult`: the connection summaries (the JSON
`connections` list), the findings, and the ICMP errors seen (with their problems, e.g. a
PTB below the IPv6 minimum MTU). Results of several files are joined with `merge`.
Nothing here prints; the report stage renders the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pathsleuth.capture.table import PacketTable
from pathsleuth.diagnose.context import Context
from pathsleuth.diagnose.model import Finding, Severity
from pathsleuth.diagnose.registry import detectors
from pathsleuth.tcp.connections import build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.flows import Flows
from pathsleuth.tcp.icmp import IcmpEvent, match_icmp
from pathsleuth.tcp.seqpoints import Point, flow_points
from pathsleuth.tcp.summary import ConnectionSummary, summarise


@dataclass
class AnalysisResult:
    """What `pathsleuth analyze` hands to the report stage (see `report.views.AnalysisView`)."""

    files: list[Any] = field(default_factory=list)
    """Per-file summaries (`capture.summary.CaptureSummary`); the caller adds them."""
    connections: list[ConnectionSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    icmp: list[IcmpEvent] = field(default_factory=list)
    """Every ICMP error in the capture, matched to its connection where possible."""
    points: dict[tuple[str, int], list[Point]] = field(default_factory=dict)
    """Time-sequence chart points per (file, connection_id) of every finding, as tuples in
    `report.views.SeqPoint` field order, seen from the finding's data sender. Filled only
    when asked for (``charts=True``): only the HTML report draws them."""

    @property
    def worst_severity(self) -> Severity | None:
        order = [Severity.ERROR, Severity.WARNING, Severity.INFO]
        for s in order:
            if any(f.severity == s for f in self.findings):
                return s
        return None

    def merge(self, other: AnalysisResult) -> AnalysisResult:
        """Both results together (connection ids stay per file: key is (file, id))."""
        return AnalysisResult(
            files=[*self.files, *other.files],
            connections=[*self.connections, *other.connections],
            findings=[*self.findings, *other.findings],
            icmp=[*self.icmp, *other.icmp],
            points={**self.points, **other.points},
        )


def analyze_table(
    table: PacketTable,
    *,
    file: str,
    charts: bool = False,
    icmp: PacketTable | None = None,
    flows: Flows | None = None,
) -> AnalysisResult:
    """Connections, ICMP correlation and findings for one capture's packets; with
    `charts`, the time-sequence points of every connection that has a finding. `icmp`:
    the capture's ICMP rows when `table` holds only its TCP rows (`tcp.columns`); `flows`:
    the table's rows already numbered into flows (`tcp.flows.FlowIndex`)."""
    ct = build_connections(table, icmp, flows)
    analyse_directions(ct)
    errors = match_icmp(ct)
    for ev in errors:
        ev.file = file
    conns = summarise(ct, file=file)
    ctx = Context(ct=ct, icmp=errors, file=file)
    findings: list[Finding] = []
    for det in detectors():
        findings.extend(det.run(ctx))
    findings.sort(key=lambda f: (f.connection_id, f.verdict.value))
    points: dict[tuple[str, int], list[Point]] = {}
    for f in findings if charts else ():
        if (file, f.connection_id) in points:
            continue
        c = conns[f.connection_id]
        half = 2 * f.connection_id + (0 if (f.flow.src, f.flow.sport) == (c.src, c.sport) else 1)
        points[(file, f.connection_id)] = flow_points(ct, half, errors)
    return AnalysisResult(connections=conns, findings=findings, icmp=errors, points=points)


def merge_all(results: Sequence[AnalysisResult]) -> AnalysisResult:
    out = AnalysisResult()
    for r in results:
        out = out.merge(r)
    return out
