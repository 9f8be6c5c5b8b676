"""`pathsleuth analyze` for people: the rich terminal report.

Summary first (files, connections, problems by severity), then one block per finding in
the order the JSON numbers them: verdict, severity and confidence; the flow, which way is
broken and who owns the fix; where the capture was taken; path-MTU bounds; the evidence
with its frame numbers; the Wireshark display filter; the ranked advice with its exact
commands, how to persist them and what they cost. `show_all` adds a compact table of every
connection, healthy ones included.

The `Console` decides about colour: piped output carries no escape codes. Producer text
(evidence, file names, commands) is always wrapped in `Text`, never parsed as rich markup,
so brackets in it print as they are. Shell commands are printed with soft wrapping so a
terminal may fold them visually but a copy or a pipe gets each command on one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
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
    flow_text,
    frame_list,
    human_bytes,
    ordered_findings,
    path_mtu_text,
    plural,
    severity_counts,
    time_span_text,
)
from pathsleuth.report.richtext import Trimmed, command_line
from pathsleuth.report.views import AnalysisView, ConnectionView, FileView

#: Left indent of a finding's body, in columns.
INDENT = 2
#: Console width from which the connections table shows each flow on one line.
WIDE = 120
#: Width of the label column in a finding's facts grid ("captured at", "path MTU").
LABEL_WIDTH = 12


def render_analyze_text(result: AnalysisView, console: Console, *, show_all: bool = False) -> None:
    """Print the whole report on `console` (a `rich.console.Console`)."""
    findings = ordered_findings(result.findings)
    _summary(result, findings, console, show_all=show_all)
    if show_all:
        _connections_table(result.connections, findings, console)
    for number, finding in enumerate(findings, start=1):
        _finding(number, finding, console)


def _out(console: Console, renderable: RenderableType, *, indent: int = 0, top: int = 0) -> None:
    if indent or top:
        renderable = Padding(renderable, (top, 0, 0, indent), expand=False)
    console.print(Trimmed(renderable))


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold", min_width=LABEL_WIDTH)
    grid.add_column(overflow="fold")
    return grid


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
    _out(console, grid)


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
        row: list[RenderableType] = [
            str(c.id),
            Text(flow),
            f"{int(c.packets):,}",
            _short_bytes(int(c.bytes)),
            duration_text(float(c.duration_s)),
        ]
        if wide:
            row.append(Text(c.state))
        row += [
            Text(c.history),
            _verdict_cell(found),
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
    sev = Severity(f.severity)
    verdict = Verdict(f.verdict)
    console.print()
    title = Text()
    title.append(f"{number}. ")
    title.append(sev.value.upper(), style=SEVERITY_STYLE[sev])
    title.append(f" {VERDICT_TITLE[verdict]}", style="bold")
    title.append(f" · confidence {f.confidence:.2f}")
    console.print(Rule(title, align="left"))
    if f.summary:
        _out(console, Text(f.summary), indent=INDENT)
    _out(console, _facts(f), indent=INDENT, top=1 if f.summary else 0)

    _out(console, Text("evidence", style="bold"), indent=INDENT, top=1)
    _out(console, _evidence(f), indent=2 * INDENT)

    if f.wireshark_filter:
        _out(console, Text("Wireshark filter", style="bold"), indent=INDENT, top=1)
        command_line(console, f.wireshark_filter, indent=2 * INDENT, prompt="")

    if f.advice:
        _out(console, Text("advice (try in this order)", style="bold"), indent=INDENT, top=1)
        for advice in sorted(f.advice, key=lambda a: a.rank):
            _advice(advice, console)


def _facts(f: Finding) -> Table:
    grid = _grid()
    grid.add_row("verdict", Text(f"{Verdict(f.verdict).value} ({Severity(f.severity).value})"))
    flow = Text(flow_text(f.flow))
    flow.append(f"\nconnection {f.connection_id} in {f.file}", style="dim")
    grid.add_row("flow", flow)
    grid.add_row("direction", Text(DIRECTION_TEXT.get(Direction(f.direction), str(f.direction))))
    if f.fix_owner:
        grid.add_row("fix owner", Text(f.fix_owner))
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


def _evidence(f: Finding) -> Table | Text:
    if not f.evidence:
        return Text("(the detector gave no evidence lines)", style="dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True, style="cyan")
    grid.add_column(overflow="fold")
    for ev in f.evidence:
        grid.add_row("·" if ev.frame is None else f"#{ev.frame}", Text(ev.text))
    return grid


def _advice(a: Advice, console: Console) -> None:
    head = Table.grid(padding=(0, 1))
    head.add_column(no_wrap=True, justify="right")
    head.add_column(overflow="fold")
    title = Text()
    title.append(a.title, style="bold")
    if a.where:
        title.append(f" · {a.where}", style="dim")
    head.add_row(Text(f"{a.rank}.", style="bold"), title)
    _out(console, head, indent=INDENT, top=0)
    for cmd in a.commands:
        command_line(console, cmd, indent=2 * INDENT + 1)
    if a.persist:
        _out(console, Text("to persist:", style="bold"), indent=2 * INDENT + 1)
        for p in a.persist:
            command_line(console, p, indent=2 * INDENT + 3, prompt="")
    if a.tradeoffs:
        trade = Text()
        trade.append("trade-offs: ", style="bold")
        trade.append(a.tradeoffs)
        _out(console, trade, indent=2 * INDENT + 1)
