"""`pathsleuth decode` output: the per-capture summary as text (rich) and as JSON.

Input: one `SummaryView` per capture or archive member (the capture stage's
`CaptureSummary` satisfies it). Text: per file its format, link types, packets and bytes,
time span, protocol counts, malformed count with the first malformed frame numbers,
comments and skipped archive members. JSON: ``{"schema_version", "files": [...]}`` with a
fixed key order; fields the producer adds beyond the Protocol (via its `to_dict()`)
follow the fixed ones. Nothing here measures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from pathsleuth.report.fmt import (
    frame_list,
    human_bytes,
    jsonable,
    plural,
    span_seconds,
    time_span_text,
)
from pathsleuth.report.richtext import Trimmed
from pathsleuth.report.views import SummaryView

#: Version of the decode JSON document (same rules as the analyze contract's).
DECODE_SCHEMA_VERSION = "1.0"

#: Fixed leading keys of one `files[]` entry, in order.
DECODE_KEYS: tuple[str, ...] = (
    "name",
    "format",
    "linktypes",
    "packets",
    "bytes",
    "first_ts_ns",
    "last_ts_ns",
    "duration_s",
    "protocols",
    "malformed",
    "malformed_frames",
    "comments",
    "skipped_members",
)

#: Order in which protocol counters are listed; others follow alphabetically.
PROTOCOL_ORDER: tuple[str, ...] = (
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "ptb",
    "fragments",
    "vlan",
    "mpls",
    "tunnelled",
    "not_ip",
)

LABEL_WIDTH = 11


def decode_entry(s: SummaryView) -> dict[str, Any]:
    """One `files[]` entry of the decode JSON."""
    out: dict[str, Any] = {
        "name": s.name,
        "format": s.format,
        "linktypes": {str(k): int(v) for k, v in s.linktypes.items()},
        "packets": int(s.packets),
        "bytes": int(s.bytes),
        "first_ts_ns": None if s.first_ts_ns is None else int(s.first_ts_ns),
        "last_ts_ns": None if s.last_ts_ns is None else int(s.last_ts_ns),
        "duration_s": round(span_seconds(s.first_ts_ns, s.last_ts_ns), 6),
        "protocols": {k: int(v) for k, v in _ordered_protocols(s.protocols)},
        "malformed": int(s.malformed),
        "malformed_frames": [int(f) for f in s.malformed_frames],
        "comments": [str(c) for c in s.comments],
        "skipped_members": [str(m) for m in s.skipped_members],
    }
    to_dict: Callable[[], Mapping[str, Any]] | None = getattr(s, "to_dict", None)
    if callable(to_dict):
        for key, value in to_dict().items():
            if key not in out:
                out[key] = jsonable(value)
    return out


def render_decode_json(summaries: Sequence[SummaryView]) -> str:
    """The decode document, indented, without a final newline (``click.echo`` adds one)."""
    doc = {
        "schema_version": DECODE_SCHEMA_VERSION,
        "files": [decode_entry(s) for s in summaries],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)


def render_decode_text(summaries: Sequence[SummaryView], console: Console) -> None:
    """One block per capture on `console`."""
    for i, s in enumerate(summaries):
        if i:
            console.print()
        console.print(Rule(Text(s.name, style="bold"), align="left"))
        console.print(Trimmed(_block(s)))
    if len(summaries) > 1:
        packets = sum(int(s.packets) for s in summaries)
        malformed = sum(int(s.malformed) for s in summaries)
        console.print()
        console.print(
            Trimmed(
                Text(
                    f"{plural(len(summaries), 'capture')}: {plural(packets, 'packet')}, "
                    f"{malformed:,} malformed",
                    style="bold",
                )
            )
        )


def _ordered_protocols(protocols: Mapping[str, int]) -> list[tuple[str, int]]:
    known = [(k, protocols[k]) for k in PROTOCOL_ORDER if k in protocols]
    rest = sorted((k, v) for k, v in protocols.items() if k not in PROTOCOL_ORDER)
    return known + rest


def _counts(items: Sequence[tuple[str, int]]) -> Text:
    t = Text()
    for i, (name, n) in enumerate(items):
        if i:
            t.append(" · ")
        t.append(name, style="bold")
        t.append(f" {int(n):,}")
    return t


def _block(s: SummaryView) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold", min_width=LABEL_WIDTH)
    grid.add_column(overflow="fold")
    grid.add_row("format", Text(s.format))
    if s.linktypes:
        grid.add_row("link types", _counts(sorted(s.linktypes.items(), key=lambda kv: -kv[1])))
    grid.add_row(
        "packets",
        Text(f"{plural(int(s.packets), 'packet')}, {human_bytes(int(s.bytes))} captured"),
    )
    grid.add_row("time span", Text(time_span_text(s.first_ts_ns, s.last_ts_ns)))
    protocols = _ordered_protocols(s.protocols)
    grid.add_row("protocols", _counts(protocols) if protocols else Text("none", style="dim"))
    tcp_flows = getattr(s, "tcp_flows", None)
    if isinstance(tcp_flows, int):
        grid.add_row("TCP flows", Text(f"{tcp_flows:,}"))
    if s.malformed:
        bad = Text()
        bad.append(f"{int(s.malformed):,}", style="yellow")
        if s.malformed_frames:
            bad.append(f" (frames {frame_list(list(s.malformed_frames), int(s.malformed))})")
        grid.add_row("malformed", bad)
    else:
        grid.add_row("malformed", Text("0"))
    unsupported = getattr(s, "unsupported_linktypes", None)
    if isinstance(unsupported, dict) and unsupported:
        grid.add_row(
            "not decoded",
            Text(
                "; ".join(
                    f"{plural(int(n), 'frame')} on link type {name} (not supported)"
                    for name, n in unsupported.items()
                ),
                style="yellow",
            ),
        )
    cut = getattr(s, "truncated_payload", None)
    if isinstance(cut, int) and cut:
        grid.add_row("snaplen", Text(f"{cut:,} frames had their payload cut (headers complete)"))
    for i, comment in enumerate(s.comments):
        grid.add_row("comments" if i == 0 else "", Text(comment))
    if s.skipped_members:
        grid.add_row("skipped", Text(", ".join(s.skipped_members)))
    return grid
