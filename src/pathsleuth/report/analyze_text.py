"""`pathsleuth analyze` for people: the rich terminal report.

Summary first (files, connections, problems by severity and one line per finding, so the
first screen says what is broken and where), then the ICMP errors in the capture (type and
code, router, announced MTU, the packet quoted, the connection it matches or "no such
connection", and why it is invalid or implausible), then one block per finding in the
order the JSON numbers them: verdict, severity and confidence; the flow, which way is
broken, who owns the fix and what to do first; where the capture was taken; path-MTU
bounds; the evidence with its frame numbers; the Wireshark display filter; the ranked
advice with its exact commands, how to persist them and what they cost. `show_all` adds a
compact table of every connection, healthy ones included.

The `Console` decides about colour: piped output carries no escape codes. Producer text
(evidence, file names, commands) is always wrapped in `Text`, never parsed as rich markup,
so brackets in it print as they are. Shell commands are printed with soft wrapping so a
terminal may fold them visually but a copy or a pipe gets each command on one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from pathsleuth.diagnose.model import Advice, CapturePoint, Direction, Finding, Severity, Verdict
from pathsleuth.report.fmt import (
    CAPTURE_POINT_TEXT,
    DIRECTION_TEXT,
    SEVERITY_STYLE,
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
    quoted_packet_text,
    severity_counts,
    sorted_icmp,
    time_span_text,
)
from pathsleuth.report.richtext import LabelGrid, Trimmed, command_text
from pathsleuth.report.views import AnalysisView, ConnectionView, FileView, IcmpView

#: Left indent of a finding's body, in columns.
INDENT = 2
#: Console width from which the connections table shows each flow on one line.
WIDE = 120
#: Findings listed one per line in the summary (all of them get their own block below).
MAX_SUMMARY_FINDINGS = 10
#: ICMP errors listed in the text report; JSON lists every one.
MAX_ICMP_LINES = 20
#: Width of the label column in a finding's facts grid ("captured at", "path MTU").
LABEL_WIDTH = 12


def render_analyze_text(result: AnalysisView, console: Console, *, show_all: bool = False) -> None:
    """Print the whole report on `console` (a `rich.console.Console`)."""
    findings = ordered_findings(result.findings)
    _summary(result, findings, console, show_all=show_all)
    _icmp_section(result.icmp, console)
    if show_all:
        _connections_table(result.connections, findings, console)
    for number, finding in enumerate(findings, start=1):
        _finding(number, finding, console)


def _out(console: Console, renderable: RenderableType, *, indent: int = 0, top: int = 0) -> None:
    console.print(Trimmed(renderable, indent=indent, top=top))


def _grid() -> LabelGrid:
    return LabelGrid(min_width=LABEL_WIDTH, label_style="bold")


# --- summary ---------------------------------------------------------------------------


def _summary(
    result: AnalysisView, findings: Sequence[Finding], console: Console, *, show_all: bool
) -> None:
    n_conn = len(result.connections)
    console.print(Rule(Text("pathsleuth analyze", style="bold"), align="left"))
    grid = _grid()
    for i, f in enumerate(result.files):
        grid.add_row("files" if i == 0 else "", _file_text(f))
    if not result.files:
        grid.add_row("files", Text("none"))
    conn_text = Text(plural(n_conn, "TCP connection"))
    if findings and n_conn:
        with_problems = len({(f.file, f.connection_id) for f in findings})
        conn_text.append(f", {max(n_conn - with_problems, 0):,} without problems")
        if not show_all:
            conn_text.append(" (--all lists every one)", style="dim")
    grid.add_row("connections", conn_text)
    grid.add_row("problems", _problems_text(findings, n_conn))
    for number, finding in enumerate(findings[:MAX_SUMMARY_FINDINGS], start=1):
        grid.add_row("", _finding_line(number, finding))
    if len(findings) > MAX_SUMMARY_FINDINGS:
        grid.add_row("", Text(f"... and {len(findings) - MAX_SUMMARY_FINDINGS:,} more below"))
    if result.icmp:
        grid.add_row("ICMP errors", _icmp_count_text(result.icmp))
    tso = _super_segment_text(result.connections)
    if tso is not None:
        grid.add_row("offload", tso)
    _out(console, grid)


def super_segments(c: ConnectionView) -> int:
    """TSO/GSO super-segments of a connection (both directions), 0 when not reported."""
    dirs = getattr(c, "directions", None) or {}
    return sum(int(getattr(d, "super_segments", 0)) for d in dirs.values())


def _super_segment_text(connections: Sequence[ConnectionView]) -> Text | None:
    """Say it when the capture was taken before segmentation offload: sizes above the
    MSS in it never crossed the wire, so they are not what a black hole drops."""
    counts = [n for n in (super_segments(c) for c in connections) if n]
    if not counts:
        return None
    return Text(
        f"{sum(counts):,} TSO/GSO super-segments larger than the MSS in "
        f"{plural(len(counts), 'connection')}: captured on the sending host before the NIC "
        "split them, so those sizes never crossed the wire; they are judged at the MSS"
    )


def _finding_line(number: int, f: Finding) -> Text:
    """'#1 error: path-MTU black hole on a:p → b:q': the answer, one line per finding."""
    sev = Severity(f.severity)
    t = Text(f"#{number} ")
    t.append(sev.value, style=SEVERITY_STYLE[sev])
    t.append(f": {VERDICT_TITLE[Verdict(f.verdict)]}", style="bold")
    t.append(f" on {flow_text(f.flow)}")
    return t


def _file_text(f: FileView) -> Text:
    t = Text()
    t.append(f.name, style="bold")
    t.append(f"\n{f.format} · {plural(int(f.packets), 'packet')} · ")
    if f.malformed:
        t.append(f"{int(f.malformed):,} malformed", style="yellow")
        if f.malformed_frames:
            t.append(f" (frames {frame_list(list(f.malformed_frames), int(f.malformed))})")
    else:
        t.append("0 malformed")
    t.append("\n" + time_span_text(f.first_ts_ns, f.last_ts_ns), style="dim")
    return t


def _problems_text(findings: Sequence[Finding], n_conn: int) -> Text:
    if not findings:
        if n_conn == 0:
            return Text("no TCP connections in the capture, nothing to diagnose")
        return Text(f"no problems found in {plural(n_conn, 'connection')}", style="green")
    t = Text()
    counts = severity_counts(findings)
    for i, (sev, n) in enumerate(counts.items()):
        if i:
            t.append(" · ")
        t.append(plural(n, sev.value), style=SEVERITY_STYLE[sev] if n else "dim")
    return t


def _icmp_count_text(events: Sequence[IcmpView]) -> Text:
    t = Text(icmp_summary(events))
    t.highlight_regex(r"[\d,]+ invalid or implausible", "yellow")
    return t


# --- ICMP errors ---------------------------------------------------------------------------


def _icmp_section(events: Sequence[IcmpView], console: Console) -> None:
    if not events:
        return
    console.print()
    console.print(Rule(Text("ICMP errors", style="bold"), align="left"))
    ordered = sorted_icmp(events)
    for ev in ordered[:MAX_ICMP_LINES]:
        _out(console, _icmp_block(ev), indent=INDENT)
    if len(ordered) > MAX_ICMP_LINES:
        rest = len(ordered) - MAX_ICMP_LINES
        _out(
            console,
            Text(f"... and {plural(rest, 'more ICMP error')} (--format json lists every one)"),
            indent=INDENT,
        )


def _icmp_block(ev: IcmpView) -> LabelGrid:
    grid = LabelGrid(justify="right", label_style="cyan")
    head = Text(icmp_name(int(ev.version), int(ev.icmp_type), int(ev.icmp_code)), style="bold")
    head.append(f" from {ev.router} ({plural(int(ev.router_hops), 'hop')} away)")
    if ev.mtu is not None:
        head.append(" · announced MTU ")
        head.append(
            str(ev.mtu) if ev.mtu else "0 (not given)",
            style="yellow" if ev.problems else "bold",
        )
    file = getattr(ev, "file", None)
    if file:
        head.append(f" · {file}", style="dim")
    lines = Text()
    lines.append(quoted_packet_text(ev))
    lines.append("\n")
    if ev.conn >= 0:
        lines.append(f"matches connection {ev.conn}")
        if ev.segment_frame is not None:
            lines.append(f", the segment in frame {ev.segment_frame}")
        else:
            lines.append(" (the quoted segment was not captured)")
    else:
        lines.append("no such connection in the capture", style="yellow")
    for problem in ev.problems:
        lines.append("\n")
        lines.append("! ", style="bold yellow")
        lines.append(problem, style="yellow")
    grid.add_row(f"#{ev.frame}", head)
    grid.add_row("", lines)
    return grid


# --- --all: every connection -------------------------------------------------------------


def _connections_table(
    connections: Sequence[ConnectionView], findings: Sequence[Finding], console: Console
) -> None:
    console.print()
    if not connections:
        _out(console, Text("connections: none"))
        return
    wide = console.width >= WIDE
    verdicts: dict[tuple[str, int], list[Finding]] = {}
    for f in findings:
        verdicts.setdefault((f.file, f.connection_id), []).append(f)
    table = Table(
        title="connections",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 1),
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    sep = " → " if wide else " →\n"
    flows = [
        f"{endpoint(c.src, int(c.sport))}{sep}{endpoint(c.dst, int(c.dport))}" for c in connections
    ]
    # Never fold an address: the column is as wide as its longest endpoint line.
    flow_width = max(len(line) for text in flows for line in text.splitlines())
    table.add_column("flow", no_wrap=True, min_width=flow_width)
    table.add_column("pkts", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    if wide:
        table.add_column("state", overflow="fold")
    table.add_column("history", overflow="fold")
    table.add_column("finding", overflow="fold")
    for c, flow in zip(connections, flows, strict=True):
        found = verdicts.get((c.file, int(c.id)), [])
        tso = super_segments(c)
        row: list[RenderableType] = [
            str(c.id),
            Text(flow),
            f"{int(c.packets):,}",
            _short_bytes(int(c.bytes)),
            duration_text(float(c.duration_s)),
        ]
        if wide:
            row.append(Text(c.state))
        verdict = _verdict_cell(found)
        if tso:
            verdict.append(f"\n{tso:,} TSO/GSO super-segments", style="dim")
        row += [
            Text(c.history),
            verdict,
        ]
        table.add_row(*row)
    _out(console, table)


def _verdict_cell(found: Sequence[Finding]) -> Text:
    if not found:
        return Text("ok", style="green")
    cell = Text()
    for i, f in enumerate(found):
        if i:
            cell.append("\n")
        cell.append(Verdict(f.verdict).value, style=SEVERITY_STYLE[Severity(f.severity)])
    return cell


def _short_bytes(n: int) -> str:
    text = human_bytes(n)
    return text.replace(" bytes", " B").replace(" byte", " B")


# --- one finding ---------------------------------------------------------------------------


def _finding(number: int, f: Finding, console: Console) -> None:
    """One finding, printed as one group: a report prints thousands, and each print costs."""
    sev = Severity(f.severity)
    verdict = Verdict(f.verdict)
    title = Text()
    title.append(f"{number}. ")
    title.append(sev.value.upper(), style=SEVERITY_STYLE[sev])
    title.append(f" {VERDICT_TITLE[verdict]}", style="bold")
    title.append(f" ({verdict.value}) · confidence {f.confidence:.2f}")
    parts: list[RenderableType] = [Text(), Rule(title, align="left")]
    if f.summary:
        parts.append(Trimmed(Text(f.summary), indent=INDENT))
    parts.append(Trimmed(_facts(f), indent=INDENT, top=1 if f.summary else 0))

    parts.append(Trimmed(Text("evidence", style="bold"), indent=INDENT, top=1))
    parts.append(Trimmed(_evidence(f), indent=2 * INDENT))

    if f.wireshark_filter:
        parts.append(Trimmed(Text("Wireshark filter", style="bold"), indent=INDENT, top=1))
        parts.append(command_text(f.wireshark_filter, indent=2 * INDENT, prompt=""))

    if f.advice:
        head = Text("advice (try in this order)", style="bold")
        parts.append(Trimmed(head, indent=INDENT, top=1))
        for advice in sorted(f.advice, key=lambda a: a.rank):
            parts.extend(_advice(advice))
    # not cropped: command lines run past the width, for the terminal to soft-wrap
    console.print(Group(*parts), crop=False)


def _facts(f: Finding) -> LabelGrid:
    grid = _grid()
    flow = Text(flow_text(f.flow))
    flow.append(f"\nconnection {f.connection_id} in {f.file}", style="dim")
    grid.add_row("flow", flow)
    grid.add_row("direction", Text(DIRECTION_TEXT.get(Direction(f.direction), str(f.direction))))
    if f.fix_owner:
        grid.add_row("fix owner", Text(f.fix_owner))
    if f.advice:
        first = min(f.advice, key=lambda a: a.rank)
        do = Text(first.title, style="bold")
        if first.where:
            do.append(f" · {first.where}", style="dim")
        if len(f.advice) > 1:
            do.append(f" (then {len(f.advice) - 1:,} more options below)", style="dim")
        grid.add_row("do first", do)
    grid.add_row(
        "captured",
        Text(CAPTURE_POINT_TEXT.get(CapturePoint(f.capture_point), str(f.capture_point))),
    )
    if f.path_mtu is not None:
        grid.add_row("path MTU", Text(path_mtu_text(f.path_mtu, Verdict(f.verdict))))
    if f.recovered is not None:
        grid.add_row(
            "recovered",
            Text(
                "yes: the sender fell back to smaller segments without any ICMP"
                if f.recovered
                else "no: the sender never fell back to smaller segments"
            ),
        )
    return grid


def _evidence(f: Finding) -> LabelGrid | Text:
    if not f.evidence:
        return Text("(the detector gave no evidence lines)", style="dim")
    grid = LabelGrid(justify="right", label_style="cyan")
    for ev in f.evidence:
        grid.add_row("·" if ev.frame is None else f"#{ev.frame}", Text(evidence_text(ev)))
    return grid


def _advice(a: Advice) -> list[RenderableType]:
    head = LabelGrid(justify="right")
    title = Text()
    title.append(a.title, style="bold")
    if a.where:
        title.append(f" · {a.where}", style="dim")
    head.add_row(Text(f"{a.rank}.", style="bold"), title)
    parts: list[RenderableType] = [Trimmed(head, indent=INDENT)]
    for cmd in a.commands:
        parts.append(command_text(cmd, indent=2 * INDENT + 1))
    if a.persist:
        parts.append(Trimmed(Text("to persist:", style="bold"), indent=2 * INDENT + 1))
        for p in a.persist:
            parts.append(command_text(p, indent=2 * INDENT + 3, prompt=""))
    if a.tradeoffs:
        trade = Text()
        trade.append("trade-offs: ", style="bold")
        trade.append(a.tradeoffs)
        parts.append(Trimmed(trade, indent=2 * INDENT + 1))
    return parts
