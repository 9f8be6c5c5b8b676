"""Runs the stages in order for the CLI and for library users; formats nothing.

`decode_paths` streams each capture through the engine and folds a `CaptureSummary`
(bounded memory). `analyze_paths` reads each capture whole, hands its `PacketTable` to
the diagnosis and gathers one `AnalysisResult` for all files. Progress is reported through
an optional callback so that the caller (the CLI) decides how to show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from pathsleuth.capture.reader import Progress, iter_captures
from pathsleuth.capture.summary import CaptureSummary, SummaryBuilder, check_decodable
from pathsleuth.capture.table import PacketTable, TableBuilder, parse_addr
from pathsleuth.diagnose.engine import AnalysisResult, analyze_table, merge_all
from pathsleuth.maillog.analysis import LogAnalysis, analyze_logs
from pathsleuth.maillog.correlate import Match, correlate
from pathsleuth.runtime import analysis_settings
from pathsleuth.tcp.columns import (
    DERIVED_DTYPES,
    ICMP_COLUMNS,
    TCP_ROW_COLUMNS,
    derived,
    icmp_mask,
    tcp_mask,
)
from pathsleuth.tcp.connections import tcp_rows
from pathsleuth.tcp.flows import FLOW_COLUMNS, FlowIndex


def decode_paths(
    paths: Iterable[str], *, progress: Progress | None = None
) -> Iterator[CaptureSummary]:
    """One summary per capture stream (archive members each get their own)."""
    for path in paths:
        for cap in iter_captures(path):
            builder = SummaryBuilder(cap.name)
            for table in cap.tables(progress):
                builder.add(table)
            summary = builder.finish(cap.info, skipped_members=cap.skipped_members)
            check_decodable(summary)
            yield summary


def analyze_paths(
    paths: Iterable[str],
    *,
    progress: Progress | None = None,
    flow_filter: FlowFilter | None = None,
    charts: bool = False,
) -> AnalysisResult:
    """Decode, rebuild connections and diagnose every capture in `paths`.

    Each capture is summarised chunk by chunk; only its TCP and ICMP rows, each with the
    columns the analysis reads of them, are kept until the whole capture is in
    (`tcp.columns`), appended chunk by chunk into growing columns
    (`capture.table.TableBuilder`).
    `charts` adds the time-sequence points the HTML report draws. The process settings
    `runtime.analysis_settings` names are changed for the duration."""
    with analysis_settings():
        merged = merge_all(
            [result for path in paths for result in _analyze_path(path, charts, progress)]
        )
    if flow_filter is not None:
        merged = flow_filter.apply(merged)
    return merged


def keep_tcp_rows(
    tcp: TableBuilder, flows: FlowIndex, table: PacketTable, keep: npt.NDArray[np.bool_] | None
) -> None:
    """Append what the analysis keeps of one chunk's TCP rows (`keep`, from `tcp_mask`):
    their columns, the flow number `flows` gives each, and the derived SACK columns."""
    extra = flows.columns(table, tcp_rows(table)) | derived(table)
    tcp.append(table, keep, extra=extra)


def _analyze_path(path: str, charts: bool, progress: Progress | None) -> Iterator[AnalysisResult]:
    """One result per capture stream in `path` (archive members each get their own)."""
    for cap in iter_captures(path):
        builder = SummaryBuilder(cap.name)
        # the 4-tuples are in `flows`; the derived SACK columns are made chunk by chunk
        tcp = TableBuilder(TCP_ROW_COLUMNS + FLOW_COLUMNS, DERIVED_DTYPES)
        icmp = TableBuilder(ICMP_COLUMNS)
        flows = FlowIndex()  # numbered here, while the reader thread reads ahead
        for table in cap.tables_ahead(progress):
            builder.add(table)
            keep = tcp_mask(table)
            if len(tcp) == 0:
                tcp.reserve(_expected_rows(cap.total_bytes, table, keep))
            keep_tcp_rows(tcp, flows, table, keep)
            icmp.append(table, icmp_mask(table))
        summary = builder.finish(cap.info, skipped_members=cap.skipped_members)
        check_decodable(summary)
        kept = tcp.finish()
        numbered = flows.take(kept)
        result = analyze_table(
            kept, file=cap.name, charts=charts, icmp=icmp.finish(), flows=numbered
        )
        result.files = [summary]
        yield result


#: bytes a capture spends per packet besides the packet (a pcap record header; pcapng's
#: blocks spend more, which only makes `_expected_rows` guess high: address space only)
RECORD_OVERHEAD = 16


def _expected_rows(
    total_bytes: int | None, chunk: PacketTable, keep: npt.NDArray[np.bool_] | None
) -> int:
    """Rows a capture of `total_bytes` (None: unknown, compressed or a pipe) will keep, if
    it goes on like `chunk` (its first kept rows): the kept table's first capacity."""
    kept = len(chunk) if keep is None else int(np.count_nonzero(keep))
    if total_bytes is None or kept == 0:
        return 0
    size = int(chunk.columns["cap_len"].sum()) + RECORD_OVERHEAD * len(chunk)
    return int(kept * total_bytes / max(size, 1) * 1.05)


@dataclass(frozen=True)
class Endpoint:
    """One side of a `--flow` expression: an address, a port, or both."""

    addr: tuple[int, int] | None
    port: int | None

    def matches(self, addr: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        return self.addr is None or parse_addr(addr) == self.addr


@dataclass(frozen=True)
class FlowFilter:
    """`--flow EXPR`: which connections (and their findings) to keep.

    EXPR is one endpoint (``192.0.2.7``, ``192.0.2.7:25``, ``[2001:db8::1]:25``, ``:25``)
    matching either side, or two joined by ``-`` or ``,`` matching both sides in either
    order (``192.0.2.1:51064-203.0.113.9:25``), or a connection id (``#12``).
    """

    sides: tuple[Endpoint, ...] = ()
    connection_id: int | None = None

    @classmethod
    def parse(cls, expr: str) -> FlowFilter:
        expr = expr.strip()
        if expr.startswith("#") and expr[1:].isdigit():
            return cls(connection_id=int(expr[1:]))
        parts = re.split(r"\s*[,\s]\s*|(?<=[\d\]])-(?=[\d\[:])", expr)
        parts = [p for p in parts if p]
        if not 1 <= len(parts) <= 2:
            raise ValueError(f"--flow {expr!r}: expected ENDPOINT or ENDPOINT-ENDPOINT")
        return cls(sides=tuple(_parse_endpoint(p) for p in parts))

    def keeps(self, file: str, cid: int, src: str, sport: int, dst: str, dport: int) -> bool:
        if self.connection_id is not None:
            return cid == self.connection_id
        a, b = (src, sport), (dst, dport)
        if len(self.sides) == 1:
            return self.sides[0].matches(*a) or self.sides[0].matches(*b)
        x, y = self.sides
        return (x.matches(*a) and y.matches(*b)) or (x.matches(*b) and y.matches(*a))

    def apply(self, result: AnalysisResult) -> AnalysisResult:
        keep = {
            (c.file, c.id)
            for c in result.connections
            if self.keeps(c.file, c.id, c.src, c.sport, c.dst, c.dport)
        }
        result.connections = [c for c in result.connections if (c.file, c.id) in keep]
        result.findings = [f for f in result.findings if (f.file, f.connection_id) in keep]
        result.points = {k: v for k, v in result.points.items() if k in keep}
        # ICMP errors about a kept connection, or quoting a flow the filter names
        result.icmp = [
            ev
            for ev in result.icmp
            if (ev.file, ev.conn) in keep
            or self.keeps(
                ev.file or "",
                -1,
                ev.quoted_src,
                ev.quoted_sport,
                ev.quoted_dst,
                ev.quoted_dport,
            )
        ]
        return result


def _parse_endpoint(text: str) -> Endpoint:
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", text)
    if m:
        addr, port = m.group(1), m.group(2)
    elif text.startswith(":") and text[1:].isdigit():
        addr, port = None, text[1:]
    elif text.isdigit():
        addr, port = None, text
    elif text.count(":") == 1:
        addr, port = text.split(":")
    else:
        addr, port = text, None
    try:
        parsed = parse_addr(addr) if addr else None
    except ValueError as exc:
        raise ValueError(f"--flow: {text!r} is not an address[:port]") from exc
    if port is not None and not 0 <= int(port) <= 65535:
        raise ValueError(f"--flow: port {port} out of range")
    return Endpoint(parsed, int(port) if port is not None else None)


@dataclass(frozen=True)
class _ConnectionRef:
    """A capture connection as `maillog.correlate` sees it (its `ConnectionLike`)."""

    dst: str
    dport: int
    start_ts: float
    end_ts: float
    connection_id: int | str
    verdict: str | None


def join_logs(
    result: AnalysisResult, logs: Iterable[str], *, day: date | None = None
) -> tuple[LogAnalysis, list[Match]]:
    """Triage the mail logs and tie each failing delivery attempt to its connection.

    The verdict reported for a connection is its most severe finding's, or None when the
    capture shows it healthy. Connection ids are prefixed with the file name when several
    captures were analysed.
    """
    logs_result = analyze_logs(list(logs), day=day)
    severity_rank = {"error": 0, "warning": 1, "info": 2}
    worst: dict[tuple[str, int], tuple[int, str]] = {}
    for f in result.findings:
        key = (f.file, f.connection_id)
        rank = severity_rank.get(f.severity.value, 3)
        if key not in worst or rank < worst[key][0]:
            worst[key] = (rank, f.verdict.value)
    several = len({c.file for c in result.connections}) > 1
    refs = [
        _ConnectionRef(
            dst=c.dst,
            dport=c.dport,
            start_ts=c.start_ts,
            end_ts=c.end_ts,
            connection_id=f"{c.file}#{c.id}" if several else c.id,
            verdict=worst.get((c.file, c.id), (0, None))[1],
        )
        for c in result.connections
    ]
    matches = correlate(logs_result.triage.failing_attempts, refs)
    return logs_result, matches
