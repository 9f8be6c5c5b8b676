"""Small, pure text helpers shared by the text, JSON and HTML renderers.

Numbers, sizes, times, flows and ordering rules live here once so the three outputs of
one analysis say the same thing in the same order. Nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pathsleuth.diagnose.model import (
    CapturePoint,
    Direction,
    Finding,
    Flow,
    PathMtu,
    Severity,
    Verdict,
)

#: Report order of severities: the worst first.
SEVERITY_ORDER: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.INFO)

#: rich style per severity (the HTML stylesheet uses the same names as CSS classes).
SEVERITY_STYLE: Mapping[Severity, str] = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "bold cyan",
}

#: Short human titles for the verdict vocabulary (the JSON keeps the identifiers).
VERDICT_TITLE: Mapping[Verdict, str] = {
    Verdict.PMTU_BLACKHOLE: "path-MTU black hole",
    Verdict.PMTUD_WORKING: "path-MTU discovery working",
    Verdict.PTB_IGNORED: "Packet Too Big ignored by the sender",
    Verdict.MIDDLEBOX_RESET: "reset forged by a middlebox",
    Verdict.MIDDLEBOX_DROP: "data dropped by a middlebox",
    Verdict.PACKET_LOSS: "packet loss",
    Verdict.PEER_UNRESPONSIVE: "peer stopped answering",
}

#: Direction of the failing data, in words.
DIRECTION_TEXT: Mapping[Direction, str] = {
    Direction.OUTBOUND: "outbound: our segments to the peer",
    Direction.INBOUND: "inbound: the peer's segments to us",
    Direction.UNKNOWN: "unknown",
}

#: Where the capture was taken, in words.
CAPTURE_POINT_TEXT: Mapping[CapturePoint, str] = {
    CapturePoint.SENDER: "at the sender of the failing data",
    CapturePoint.RECEIVER: "at the receiver of the failing data",
    CapturePoint.MIDDLE: "on the path between the two ends",
    CapturePoint.UNKNOWN: "unknown",
}

#: Verdicts whose `path_mtu.high` is an MTU a router announced rather than a size that was lost.
ANNOUNCED_MTU_VERDICTS = frozenset({Verdict.PMTUD_WORKING, Verdict.PTB_IGNORED})


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst severity first; the producer's order within one severity (stable sort)."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(findings, key=lambda f: rank.get(Severity(f.severity), len(rank)))


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for f in findings:
        counts[Severity(f.severity)] += 1
    return counts


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 file', '3 files', '1,204 packets'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def problems_phrase(findings: Sequence[Finding]) -> str:
    """'2 problems (1 error, 1 warning)' or 'no problems'."""
    if not findings:
        return "no problems"
    counts = severity_counts(findings)
    parts = [plural(n, s.value) for s, n in counts.items() if n]
    return f"{plural(len(findings), 'problem')} ({', '.join(parts)})"


def endpoint(addr: str, port: int) -> str:
    """'192.0.2.1:25', '[2001:db8::1]:25' (RFC 5952 section 6 brackets for IPv6)."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def flow_text(flow: Flow, arrow: str = "→") -> str:
    return f"{endpoint(flow.src, flow.sport)} {arrow} {endpoint(flow.dst, flow.dport)}"


def path_mtu_text(pm: PathMtu, verdict: Verdict) -> str:
    """Path-MTU bounds in words: what got through and what did not (IP packet bytes)."""
    announced = verdict in ANNOUNCED_MTU_VERDICTS
    if pm.low is not None and pm.high is not None:
        if announced:
            return f"{pm.high} bytes announced by a router; {pm.low}-byte packets got through"
        return f"between {pm.low} and {pm.high} bytes ({pm.low} got through, {pm.high} did not)"
    if pm.high is not None:
        if announced:
            return f"{pm.high} bytes, announced by a router"
        return f"below {pm.high} bytes ({pm.high}-byte packets did not get through)"
    if pm.low is not None:
        return f"at least {pm.low} bytes ({pm.low}-byte packets got through)"
    return "unknown"


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB' (binary units, as ls -h and tshark's capinfos use)."""
    if n < 1024:
        return plural(n, "byte")
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024.0
        if value < 1024.0 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def duration_text(seconds: float) -> str:
    """0.0123 -> '12.3 ms', 365.2 -> '6 min 5.2 s', 7322 -> '2 h 2 min'."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 1.0:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60.0:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, sec = divmod(seconds, 60.0)
    if minutes < 60:
        return f"{int(minutes)} min {sec:.1f} s"
    hours, minutes = divmod(minutes, 60.0)
    return f"{int(hours)} h {int(minutes)} min"


def timestamp_text(ts_ns: int) -> str:
    """Nanoseconds since the epoch -> '2009-05-18 16:41:20.123456 UTC' (microseconds)."""
    secs, ns = divmod(int(ts_ns), 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=UTC)
    return f"{dt:%Y-%m-%d %H:%M:%S}.{ns // 1000:06d} UTC"


def time_span_text(first_ns: int | None, last_ns: int | None) -> str:
    """'2009-05-18 16:41:20.000000 UTC → 16:47:25.000000 (6 min 5.0 s)' or 'no packets'."""
    if first_ns is None or last_ns is None:
        return "no timestamps"
    start = timestamp_text(first_ns)
    end = timestamp_text(last_ns)
    # Same day: repeat only the clock time, as a person would write it.
    if end[:10] == start[:10]:
        end = end[11:]
    return f"{start} → {end} ({duration_text((last_ns - first_ns) / 1e9)})"


def span_seconds(first_ns: int | None, last_ns: int | None) -> float:
    if first_ns is None or last_ns is None:
        return 0.0
    return (last_ns - first_ns) / 1e9


def frame_list(frames: Sequence[int], total: int, limit: int = 10) -> str:
    """'17, 230, 231' or '17, 230, ... (12 in all)' when only some are listed."""
    shown = ", ".join(str(f) for f in frames[:limit])
    if total > min(len(frames), limit):
        return f"{shown}, ... ({total:,} in all)" if shown else f"{total:,} frames"
    return shown


def jsonable(value: Any) -> Any:
    """Plain JSON types from enums, NumPy scalars, tuples and nested containers.

    NumPy scalars are recognised by their `item()` method so the report stage does not
    need to import NumPy; non-finite floats are rejected (JSON has no NaN).
    """
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} cannot go into the JSON report")
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    item = getattr(value, "item", None)
    if callable(item):
        return jsonable(item())
    raise TypeError(f"cannot put {type(value).__name__} into the JSON report")
