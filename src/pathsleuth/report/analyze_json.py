"""`pathsleuth analyze --format json`: the versioned machine contract.

Turns an `AnalysisView` into the document that `src/pathsleuth/schema/analyze.schema.json`
describes and `docs/json-contract.md` documents field by field:
``{"schema_version", "files", "connections", "findings", "icmp"}``. Key order is fixed (the
contract's keys first, in the issue's order, then the model's extra fields in declaration
order), findings are ordered worst severity first exactly as the text and HTML reports
number them. Nothing here measures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pathsleuth.diagnose.model import SCHEMA_VERSION, Finding
from pathsleuth.report.fmt import jsonable, ordered_findings, sorted_icmp, span_seconds
from pathsleuth.report.views import AnalysisView, ConnectionView, FileView, IcmpView

#: Keys of a finding in the order the issue's contract lists them; the model's other
#: fields follow in their declaration order.
FINDING_KEY_ORDER: tuple[str, ...] = (
    "verdict",
    "severity",
    "confidence",
    "flow",
    "path_mtu",
    "recovered",
    "evidence",
    "wireshark_filter",
    "advice",
)

#: Fixed leading keys of a connection entry, read from `ConnectionView` attributes.
CONNECTION_KEYS: tuple[str, ...] = (
    "id",
    "file",
    "src",
    "sport",
    "dst",
    "dport",
    "packets",
    "bytes",
    "duration_s",
    "state",
    "history",
)

#: Confidence is a detector's estimate; more digits than this are noise in a diff.
CONFIDENCE_DIGITS = 3


def file_entry(f: FileView) -> dict[str, Any]:
    """One `files[]` entry."""
    return {
        "name": f.name,
        "format": f.format,
        "packets": int(f.packets),
        "bytes": int(f.bytes),
        "malformed": int(f.malformed),
        "malformed_frames": [int(x) for x in f.malformed_frames],
        "first_ts_ns": None if f.first_ts_ns is None else int(f.first_ts_ns),
        "last_ts_ns": None if f.last_ts_ns is None else int(f.last_ts_ns),
        "duration_s": round(span_seconds(f.first_ts_ns, f.last_ts_ns), 6),
    }


def connection_entry(c: ConnectionView) -> dict[str, Any]:
    """One `connections[]` entry: the fixed keys, then the tcp stage's details, sorted."""
    fixed: dict[str, Any] = {
        "id": int(c.id),
        "file": c.file,
        "src": c.src,
        "sport": int(c.sport),
        "dst": c.dst,
        "dport": int(c.dport),
        "packets": int(c.packets),
        "bytes": int(c.bytes),
        "duration_s": round(float(c.duration_s), 6),
        "state": c.state,
        "history": c.history,
    }
    extra: Mapping[str, Any] = c.to_dict()
    for key in sorted(extra):
        if key not in fixed:
            fixed[key] = jsonable(extra[key])
    return fixed


def finding_entry(f: Finding) -> dict[str, Any]:
    """One `findings[]` entry: `Finding.to_dict()` with the contract's key order."""
    raw: dict[str, Any] = jsonable(f.to_dict())
    raw["confidence"] = round(float(raw["confidence"]), CONFIDENCE_DIGITS)
    out = {k: raw.pop(k) for k in FINDING_KEY_ORDER if k in raw}
    out.update(raw)
    return out


def icmp_entry(ev: IcmpView) -> dict[str, Any]:
    """One `icmp[]` entry: the error, the packet it quotes, what it matched, its problems."""
    file = getattr(ev, "file", None)
    return {
        "frame": int(ev.frame),
        "file": None if file is None else str(file),
        "kind": ev.kind,
        "version": int(ev.version),
        "type": int(ev.icmp_type),
        "code": int(ev.icmp_code),
        "router": ev.router,
        "router_hops": int(ev.router_hops),
        "mtu": None if ev.mtu is None else int(ev.mtu),
        "quoted": {
            "src": ev.quoted_src,
            "sport": int(ev.quoted_sport),
            "dst": ev.quoted_dst,
            "dport": int(ev.quoted_dport),
            "proto": int(ev.quoted_proto),
            "ip_len": int(ev.quoted_ip_len),
            "df": bool(ev.quoted_df),
            "seq": None if ev.quoted_seq is None else int(ev.quoted_seq),
        },
        "connection": int(ev.conn) if ev.conn >= 0 else None,
        "segment_frame": None if ev.segment_frame is None else int(ev.segment_frame),
        "valid": not ev.problems,
        "problems": [str(p) for p in ev.problems],
    }


def analyze_document(result: AnalysisView) -> dict[str, Any]:
    """The whole contract as plain Python data (what `render_analyze_json` serialises)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "files": [file_entry(f) for f in result.files],
        "connections": [connection_entry(c) for c in result.connections],
        "findings": [finding_entry(f) for f in ordered_findings(result.findings)],
        "icmp": [icmp_entry(ev) for ev in sorted_icmp(result.icmp)],
    }


def render_analyze_json(result: AnalysisView) -> str:
    """The JSON document, indented, UTF-8 (not ASCII-escaped), without a final newline
    (``click.echo`` adds one)."""
    return json.dumps(analyze_document(result), indent=2, ensure_ascii=False, allow_nan=False)
