"""`pathsleuth logs` output: the mail-log triage as rich terminal text and as JSON.

Input: a `pathsleuth.maillog.analysis.LogAnalysis`. Text: the path-MTU suspects first
(one sentence each, the evidence, the red herrings ruled out, the differentials, the next
step), then the summary tables by destination and by error class, inbound notes and the
per-file line counts. JSON: the versioned contract in ``schema/logs.schema.json``
(`render_logs_json`), built by `logs_document`. Both phrase a suspect with the same
`suspect_sentence`. This is the only place that formats mail-log results; nothing here
measures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pathsleuth.maillog.analysis import LOGS_SCHEMA_VERSION, LogAnalysis
from pathsleuth.maillog.correlate import Match
from pathsleuth.maillog.model import Attempt
from pathsleuth.maillog.triage import Confidence, PmtuSuspect
from pathsleuth.report.fmt import plural

KIB = 1024

#: attempts listed per suspect in the text report (the JSON has them all, bounded upstream)
TEXT_ATTEMPTS = 10


def size_text(n: int | None) -> str:
    """``86.5 KB`` (1 KB = 1024 bytes, as GWIA and most MTAs count), ``512 bytes``."""
    if n is None:
        return "unknown"
    if n < KIB:
        return plural(n, "byte")
    if n < KIB * KIB:
        return f"{n / KIB:.1f} KB"
    return f"{n / KIB / KIB:.1f} MB"


def time_text(ts: float | None) -> str | None:
    """ISO 8601 UTC with seconds (log times have one-second resolution)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def target_text(dest: str, host: str | None, ip: str | None) -> str:
    """``mailserver.escatec.com [203.106.231.124]`` (+ `` (escatec.com)`` when different)."""
    if host == ip:
        host = None
    name = host or (None if ip else dest)
    parts = [p for p in (name, f"[{ip}]" if ip else None) if p]
    text = " ".join(parts) or dest
    if dest not in (host, ip) and name != dest:
        text += f" ({dest})"
    return text


def suspect_sentence(s: PmtuSuspect) -> str:
    """The one-line verdict shared by the text and JSON outputs."""
    prefix = "suspect" if s.confidence is Confidence.STRONG else "weak suspect:"
    responses = "; ".join(t for t, _ in s.responses[:3]) or "transport failure"
    parts = [
        f"{prefix} path-MTU problem to {target_text(s.destination, s.host, s.ip)}: "
        f"{s.failed_after_data} of {plural(s.attempts, 'attempt')} failed after DATA ({responses})"
    ]
    if s.smallest_failing is not None:
        parts.append(f"smallest failing {size_text(s.smallest_failing)}")
    if s.largest_delivered is not None:
        parts.append(f"largest delivered {size_text(s.largest_delivered)}")
    elif s.delivered == 0:
        parts.append("nothing delivered")
    return "; ".join(parts)


# ---------------------------------------------------------------------------- JSON


def attempt_dict(a: Attempt) -> dict[str, Any]:
    return {
        "file": a.file,
        "line": a.line,
        "msg_id": a.msg_id,
        "time": time_text(a.ts),
        "start_time": time_text(a.start_ts),
        "destination": a.destination,
        "domain": a.domain,
        "host": a.host,
        "ip": a.ip,
        "recipients": list(a.recipients),
        "size_bytes": a.size,
        "sender": a.sender,
        "stage": a.stage.label,
        "outcome": a.outcome.value,
        "error_class": a.error_class.value,
        "code": a.code,
        "response": a.response,
        "banner": a.banner,
    }


def _suspect_dict(s: PmtuSuspect) -> dict[str, Any]:
    return {
        "destination": s.destination,
        "confidence": s.confidence.value,
        "summary": suspect_sentence(s),
        "hosts": [{"host": h, "ip": ip} for h, ip in s.hosts],
        "failed_after_data": s.failed_after_data,
        "in_body": s.in_body,
        "attempts": s.attempts,
        "delivered": s.delivered,
        "smallest_failing_bytes": s.smallest_failing,
        "largest_delivered_bytes": s.largest_delivered,
        "too_small_ignored": s.too_small_ignored,
        "responses": [{"text": t, "count": n} for t, n in s.responses],
        "first_time": time_text(s.first_ts),
        "last_time": time_text(s.last_ts),
        "reasons": list(s.reasons),
        "red_herrings": list(s.red_herrings),
        "differentials": [{"kind": d.kind, "evidence": d.evidence} for d in s.differentials],
        "next_steps": {
            "capture": s.capture_filter,
            "probe": s.probe_command,
            "analyze": s.analyze_command,
        },
        "failed_attempts": [attempt_dict(a) for a in s.examples],
    }


def logs_document(analysis: LogAnalysis) -> dict[str, Any]:
    """The `logs --format json` document as plain data (see schema/logs.schema.json)."""
    t = analysis.triage
    return {
        "schema_version": LOGS_SCHEMA_VERSION,
        "files": [
            {
                "name": f.name,
                "format": f.format,
                "compression": list(f.compression),
                "lines": f.lines,
                "comment_lines": f.comment_lines,
                "unknown_lines": f.unknown_lines,
                "first_unknown_line": f.first_unknown_line,
                "events": f.events,
            }
            for f in analysis.files
        ],
        "destination_filter": analysis.destination_filter,
        "totals": {
            "attempts": t.attempts,
            "delivered": t.delivered,
            "failed": t.failed,
            "pmtu_suspects": len(t.suspects),
        },
        "suspects": [_suspect_dict(s) for s in t.suspects],
        "destinations": [
            {
                "destination": d.destination,
                "hosts": [{"host": h, "ip": ip} for h, ip in d.hosts],
                "attempts": d.attempts,
                "delivered": d.delivered,
                "failed": d.failed,
                "by_class": {c.value: n for c, n in d.by_class},
                "largest_delivered_bytes": d.largest_delivered,
                "smallest_failing_after_data_bytes": d.smallest_failing_after_data,
                "pmtu_suspect": d.pmtu_suspect,
            }
            for d in t.destinations
        ],
        "classes": [
            {
                "error_class": c.error_class.value,
                "attempts": c.attempts,
                "destinations": c.destinations,
                "examples": [attempt_dict(a) for a in c.examples],
            }
            for c in t.classes
        ],
        "inbound": [
            {
                "client": n.client,
                "ip": n.ip,
                "drops": n.drops,
                "file": n.file,
                "line": n.first_line,
                "example": n.example,
            }
            for n in t.inbound
        ],
        "failing_attempts_dropped": t.failing_dropped,
        "evicted_open_messages": analysis.evicted_open,
    }


def render_logs_json(analysis: LogAnalysis) -> str:
    """`logs_document` as indented JSON text (stable key order)."""
    return json.dumps(logs_document(analysis), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- text


def _attempt_line(a: Attempt, s: PmtuSuspect) -> str:
    when = (time_text(a.ts) or "time unknown").replace("T", " ").rstrip("Z")
    where = (
        ""
        if (a.host, a.ip) == (s.host, s.ip)
        else f" to {target_text(a.destination, a.host, a.ip)}"
    )
    return (
        f"    {when}  msg {a.msg_id}  {size_text(a.size)}{where}  stage {a.stage.label}: "
        f"{a.response}  ({a.file}:{a.line})"
    )


def render_logs_text(analysis: LogAnalysis, console: Console) -> None:
    """Rich terminal report: suspects first, then the tables (see module docstring)."""
    t = analysis.triage
    files = ", ".join(f"{f.name} ({f.format or 'empty'})" for f in analysis.files)
    console.print(Text(f"mail logs: {files}", style="bold"))
    if analysis.destination_filter:
        console.print(f"destination filter: {analysis.destination_filter}")
    console.print(
        f"{plural(t.attempts, 'delivery attempt')}: {t.delivered:,} delivered, {t.failed:,} failed; "
        f"{plural(len(t.suspects), 'path-MTU suspect')}"
    )
    for s in t.suspects:
        style = "bold red" if s.confidence is Confidence.STRONG else "bold yellow"
        console.print()
        console.print(Text(suspect_sentence(s), style=style))
        for r in s.reasons:
            console.print(f"  evidence: {r}")
        console.print(Text("  failed attempts (log time):", style="dim"))
        for a in s.examples[:TEXT_ATTEMPTS]:
            console.print(_attempt_line(a, s), highlight=False)
        if len(s.examples) > TEXT_ATTEMPTS:
            console.print(f"  ... {len(s.examples) - TEXT_ATTEMPTS} more (see --format json)")
        console.print(Text("  ruled out (the transport died after DATA):", style="dim"))
        for h in s.red_herrings:
            console.print(f"    - {h}")
        console.print(Text("  look-alikes to rule out:", style="dim"))
        for diff in s.differentials:
            console.print(f"    - {diff.evidence}")
        console.print(Text("  next step:", style="bold"))
        console.print(
            f"    1. capture while a large message is retried: {s.capture_filter}", soft_wrap=True
        )
        console.print(f"    2. then: {s.analyze_command}", soft_wrap=True)
        console.print(f"    3. measure the path: {s.probe_command}", soft_wrap=True)
    if t.destinations:
        console.print()
        tab = Table(
            title="by destination (tries = delivery attempts, ok = delivered)",
            title_justify="left",
            box=None,
            header_style="dim",
        )
        # numbers and sizes never fold; names and class labels take what room is left
        tab.add_column("destination (failure classes)", overflow="fold", min_width=15)
        for col in ("tries", "ok", "failed"):
            tab.add_column(col, justify="right", no_wrap=True)
        tab.add_column("largest\nok", justify="right", no_wrap=True)
        tab.add_column("smallest\nfailed\nafter DATA", justify="right", no_wrap=True)
        tab.add_column("PMTU", no_wrap=True)
        for d in t.destinations:
            cell = Text(d.destination)
            for cls, count in d.by_class:  # classes under the name: the table fits 80 columns
                cell.append(f"\n  {cls.value} {count}", style="dim")
            tab.add_row(
                cell,
                f"{d.attempts:,}",
                f"{d.delivered:,}",
                f"{d.failed:,}",
                size_text(d.largest_delivered) if d.largest_delivered is not None else "-",
                size_text(d.smallest_failing_after_data)
                if d.smallest_failing_after_data is not None
                else "-",
                "suspect" if d.pmtu_suspect else "",
            )
        console.print(tab)
    if t.classes:
        console.print()
        tab = Table(title="by failure class", title_justify="left", box=None, header_style="dim")
        tab.add_column("class", no_wrap=True)
        tab.add_column("attempts", justify="right", no_wrap=True)
        tab.add_column("destinations", justify="right", no_wrap=True)
        tab.add_column("example", overflow="fold", ratio=1)
        for c in t.classes:
            ex = c.examples[0] if c.examples else None
            tab.add_row(
                c.error_class.value,
                f"{c.attempts:,}",
                f"{c.destinations:,}",
                f"{ex.destination}: {ex.response} ({ex.file}:{ex.line})" if ex else "",
            )
        console.print(tab)
    if t.inbound:
        console.print()
        console.print(
            Text("inbound sessions lost during or after the body (weak on their own):", style="dim")
        )
        for n in t.inbound[:TEXT_ATTEMPTS]:
            console.print(
                f"  {n.client}: {plural(n.drops, 'session')}, e.g. {n.file}:{n.first_line}: {n.example}"
            )
    for f in analysis.files:
        if f.unknown_lines:
            console.print(
                Text(
                    f"{f.name}: {plural(f.unknown_lines, 'line')} not recognised "
                    f"(first: line {f.first_unknown_line}); counted and skipped",
                    style="dim",
                )
            )
    if t.failing_dropped:
        console.print(
            Text(f"{t.failing_dropped:,} failing attempts only counted (memory bound)", style="dim")
        )


def render_matches_text(matches: Sequence[Match], console: Console) -> None:
    """The log-to-capture correlation: clock offset, then one line per failing attempt."""
    if not matches:
        console.print("no failing delivery attempts in the log to look for in the capture")
        return
    offset = matches[0].clock_offset
    paired = sum(1 for m in matches if m.connection is not None)
    if offset is None:
        console.print("clock offset log -> capture: not estimated (no attempt could be paired)")
    else:
        console.print(
            f"clock offset log -> capture: {offset:+.1f} s (capture time minus log time, "
            f"from {plural(paired, 'matched attempt')})"
        )
    for m in matches:
        a = m.attempt
        head = f"{time_text(a.ts)} msg {a.msg_id} to {target_text(a.destination, a.host, a.ip)} ({a.response})"
        if m.connection is None:
            console.print(f"  {head}: {m.reason}")
        else:
            resid = f", fits within {m.residual:+.1f} s" if m.residual is not None else ""
            console.print(
                f"  {head}: connection {m.connection.connection_id}{resid}; "
                f"capture verdict: {m.connection.verdict or 'no problem found'}"
            )


def matches_document(matches: Sequence[Match]) -> dict[str, Any]:
    """The correlation as plain data, for ``analyze --log --format json``."""
    return {
        "clock_offset_s": matches[0].clock_offset if matches else None,
        "attempts": [
            {
                "attempt": attempt_dict(m.attempt),
                "connection_id": m.connection.connection_id if m.connection is not None else None,
                "verdict": m.verdict,
                "residual_s": m.residual,
                "reason": m.reason,
            }
            for m in matches
        ],
    }
