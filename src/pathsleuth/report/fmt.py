"""Small, pure text helpers shared by the text, JSON and HTML renderers.

Numbers, sizes, times, flows and ordering rules live here once so the three outputs of
one analysis say the same thing in the same order. Nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from pathsleuth.diagnose.model import (
    CapturePoint,
    Direction,
    Evidence,
    Finding,
    Flow,
    PathMtu,
    Severity,
    Verdict,
)


class _HasFrame(Protocol):
    @property
    def frame(self) -> int: ...


_E = TypeVar("_E", bound=_HasFrame)

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

#: A got-through size this far below the lost one says little about the MTU (the largest
#: acknowledged segment was a short command, not a probe): the text says "below N".
WEAK_BOUND = 200

#: ICMPv4 / ICMPv6 error names by (IP version, type) and code (RFC 792, RFC 1191, RFC 1812
#: section 5.2.7.1, RFC 4443 section 3); unknown codes print as numbers.
ICMP_TYPE_TEXT: Mapping[tuple[int, int], str] = {
    (4, 3): "destination unreachable",
    (4, 11): "time exceeded",
    (6, 1): "destination unreachable",
    (6, 2): "packet too big",
    (6, 3): "time exceeded",
}
ICMP_CODE_TEXT: Mapping[tuple[int, int, int], str] = {
    (4, 3, 0): "network unreachable",
    (4, 3, 1): "host unreachable",
    (4, 3, 2): "protocol unreachable",
    (4, 3, 3): "port unreachable",
    (4, 3, 4): "fragmentation needed",
    (4, 3, 9): "network administratively prohibited",
    (4, 3, 10): "host administratively prohibited",
    (4, 3, 13): "communication administratively prohibited",
    (4, 11, 0): "TTL exceeded in transit",
    (4, 11, 1): "fragment reassembly time exceeded",
    (6, 1, 0): "no route",
    (6, 1, 1): "administratively prohibited",
    (6, 1, 3): "address unreachable",
    (6, 1, 4): "port unreachable",
    (6, 1, 5): "source address failed policy",
    (6, 1, 6): "reject route",
    (6, 3, 0): "hop limit exceeded in transit",
    (6, 3, 1): "fragment reassembly time exceeded",
}

#: IP protocol numbers the ICMP section names (IANA).
PROTO_TEXT: Mapping[int, str] = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP"}

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
        lost = f"{pm.high}-byte packets did not get through"
        if pm.high - pm.low > WEAK_BOUND:
            return (
                f"below {pm.high} bytes ({lost}); the largest packet that did is only "
                f"{pm.low} bytes, so the exact MTU is unknown"
            )
        return f"between {pm.low} and {pm.high - 1} bytes ({pm.low} got through, {lost})"
    if pm.high is not None:
        if announced:
            return f"{pm.high} bytes, announced by a router"
        return f"below {pm.high} bytes ({pm.high}-byte packets did not get through)"
    if pm.low is not None:
        return f"at least {pm.low} bytes ({pm.low}-byte packets got through)"
    return "unknown"


def sorted_icmp(events: Iterable[_E]) -> list[_E]:
    """ICMP errors in report order: by capture file (when known), then frame."""
    return sorted(events, key=lambda e: (str(getattr(e, "file", "") or ""), int(e.frame)))


def quoted_packet_text(ev: Any) -> str:
    """'quotes TCP a:p → b:q seq N, 1500 bytes, DF': the packet an ICMP error quotes."""
    proto = PROTO_TEXT.get(int(ev.quoted_proto), f"protocol {ev.quoted_proto}")
    if ev.quoted_sport or ev.quoted_dport:
        flow = (
            f"{endpoint(ev.quoted_src, int(ev.quoted_sport))} → "
            f"{endpoint(ev.quoted_dst, int(ev.quoted_dport))}"
        )
    else:
        flow = f"{ev.quoted_src} → {ev.quoted_dst}"
    text = f"quotes {proto} {flow}"
    if ev.quoted_seq is not None:
        text += f" seq {ev.quoted_seq}"
    text += f", {int(ev.quoted_ip_len)} bytes"
    if ev.quoted_df:
        text += ", DF"
    return text


def icmp_summary(events: Sequence[Any]) -> str:
    """'4 in the capture (4 packet too big / fragmentation needed) · 1 invalid ...'."""
    parts = [f"{len(events):,} in the capture"]
    ptb = sum(1 for e in events if e.kind == "ptb")
    parts[0] += (
        f" ({ptb:,} packet too big / fragmentation needed)" if ptb else " (no packet too big)"
    )
    bad = sum(1 for e in events if e.problems)
    if bad:
        parts.append(f"{bad:,} invalid or implausible")
    unmatched = sum(1 for e in events if e.conn < 0)
    if unmatched:
        parts.append(f"{unmatched:,} for no connection in the capture")
    return " · ".join(parts)


def icmp_name(version: int, icmp_type: int, icmp_code: int) -> str:
    """'ICMP type 3 code 4 (fragmentation needed)', 'ICMPv6 type 2 code 0 (packet too big)'."""
    proto = "ICMPv6" if version == 6 else "ICMP"
    words = ICMP_CODE_TEXT.get((version, icmp_type, icmp_code)) or ICMP_TYPE_TEXT.get(
        (version, icmp_type)
    )
    head = f"{proto} type {icmp_type} code {icmp_code}"
    return f"{head} ({words})" if words else head


def evidence_text(ev: Evidence) -> str:
    """An evidence sentence without a leading "frame N: " that repeats its own anchor
    (the text and HTML reports print the anchor as "#N"; JSON keeps the sentence whole)."""
    if ev.frame is not None:
        prefix = f"frame {ev.frame}: "
        if ev.text.startswith(prefix):
            return ev.text[len(prefix) :]
    return ev.text


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
