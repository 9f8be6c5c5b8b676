"""Tie failing delivery attempts from a mail log to TCP connections from a capture.

Pure: no capture code is imported. A connection is anything with the attributes of the
`ConnectionLike` protocol (destination IP text, destination port, start/end epoch seconds,
an id and the capture's verdict), so the lead's ``analyze --log`` can pass its own
connection objects.

The log's clock and the capture's clock need not agree (a log written in local time, an
unsynchronised host). `correlate` estimates the offset first, robustly: for every attempt it
takes every candidate connection to the same IP and SMTP port within `MAX_CLOCK_OFFSET_S`,
and slides a window of ``2 * tolerance`` over all those differences; the window holding the
most distinct attempts wins (ties: the smallest absolute offset) and the offset is the
median of the differences inside it. Outliers (retries minutes apart, other sessions to the
same MX) fall outside the window and cannot pull the estimate. Each attempt is then matched to
the unused connection whose difference is closest to that offset, within the tolerance, or
reported as having no trace in the capture.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Protocol

from pathsleuth.maillog.model import Attempt

#: largest log-vs-capture clock difference considered: time zones reach UTC+14, and a
#: log written in local time against a UTC capture is the usual case
MAX_CLOCK_OFFSET_S = 15 * 3600.0
#: how far one pair may sit from the common offset and still match. Log stamps have a
#: resolution of 1 s (syslog, GWIA), and an MTA logs the result a moment after the close
DEFAULT_TOLERANCE_S = 5.0
#: ports an MTA delivers to (RFC 5321 port 25, RFC 8314 465, RFC 6409 587)
SMTP_PORTS = frozenset({25, 465, 587})


class ConnectionLike(Protocol):
    """What `correlate` needs from a capture's TCP connection."""

    @property
    def dst(self) -> str: ...
    @property
    def dport(self) -> int: ...
    @property
    def start_ts(self) -> float: ...
    @property
    def end_ts(self) -> float: ...
    @property
    def connection_id(self) -> int | str: ...
    @property
    def verdict(self) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class Match:
    """One failing attempt and what the capture shows of it."""

    attempt: Attempt
    connection: ConnectionLike | None
    """The matched connection, or None: no trace in the capture."""
    clock_offset: float | None
    """Estimated capture time minus log time, seconds (the same for every match of one
    correlation); None when no attempt could be paired at all."""
    residual: float | None
    """This pair's difference minus `clock_offset`, seconds (how well it fits)."""
    reason: str
    """Why there is no match, or ``"matched"``."""

    @property
    def verdict(self) -> str | None:
        return self.connection.verdict if self.connection is not None else None


def normalise_ip(text: str) -> str:
    """Canonical text of an IP (``::ffff:192.0.2.1`` -> ``192.0.2.1``); unparsable as is."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text.strip().lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _diffs(a: Attempt, c: ConnectionLike) -> float | None:
    """Capture time minus log time for this pair, comparing like with like."""
    if a.start_ts is not None:
        return c.start_ts - a.start_ts
    if a.ts is not None:
        return c.end_ts - a.ts
    return None


def estimate_offset(
    pairs: Sequence[tuple[int, float]], tolerance: float = DEFAULT_TOLERANCE_S
) -> float | None:
    """Robust clock offset from (attempt index, difference) candidates; see module doc."""
    if not pairs:
        return None
    ordered = sorted(pairs, key=lambda p: p[1])
    best: tuple[int, float, int, int] | None = None  # (-count, |centre|, lo, hi)
    hi = 0
    for lo in range(len(ordered)):
        while hi < len(ordered) and ordered[hi][1] - ordered[lo][1] <= 2 * tolerance:
            hi += 1
        count = len({i for i, _ in ordered[lo:hi]})
        centre = (ordered[lo][1] + ordered[hi - 1][1]) / 2
        key = (-count, abs(centre), lo, hi)
        if best is None or key[:2] < best[:2]:
            best = key
    assert best is not None
    _, _, lo, hi = best
    window = ordered[lo:hi]
    centre = median(d for _, d in window)
    # one difference per attempt (the one nearest the centre), so a busy MX cannot vote twice
    per_attempt: dict[int, float] = {}
    for i, d in window:
        if i not in per_attempt or abs(d - centre) < abs(per_attempt[i] - centre):
            per_attempt[i] = d
    return float(median(per_attempt.values()))


def correlate(
    attempts: Iterable[Attempt],
    connections: Iterable[ConnectionLike],
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    max_offset: float = MAX_CLOCK_OFFSET_S,
    failing_only: bool = True,
) -> list[Match]:
    """Match each (failing) attempt to a connection by destination IP and time."""
    atts = [a for a in attempts if a.failed or not failing_only]
    by_ip: dict[str, list[ConnectionLike]] = {}
    for c in connections:
        if c.dport in SMTP_PORTS:
            by_ip.setdefault(normalise_ip(c.dst), []).append(c)
    cands: list[list[tuple[ConnectionLike, float]]] = []
    pairs: list[tuple[int, float]] = []
    for i, a in enumerate(atts):
        mine: list[tuple[ConnectionLike, float]] = []
        if a.ip is not None:
            for c in by_ip.get(normalise_ip(a.ip), ()):
                d = _diffs(a, c)
                if d is not None and abs(d) <= max_offset:
                    mine.append((c, d))
                    pairs.append((i, d))
        cands.append(mine)
    offset = estimate_offset(pairs, tolerance)
    # greedy, best-fitting pairs first, each connection used once
    ranked = sorted(
        ((abs(d - offset), i, c, d) for i, mine in enumerate(cands) for c, d in mine)
        if offset is not None
        else (),
        key=lambda t: (t[0], t[1]),
    )
    chosen: dict[int, tuple[ConnectionLike, float]] = {}
    used: set[int] = set()
    for resid, i, c, d in ranked:
        if resid > tolerance or i in chosen or id(c) in used:
            continue
        chosen[i] = (c, d)
        used.add(id(c))
    out: list[Match] = []
    for i, a in enumerate(atts):
        if i in chosen:
            c, d = chosen[i]
            assert offset is not None
            out.append(
                Match(
                    attempt=a,
                    connection=c,
                    clock_offset=offset,
                    residual=d - offset,
                    reason="matched",
                )
            )
            continue
        if a.ip is None:
            reason = "the log names no IP address for this attempt"
        elif a.ts is None and a.start_ts is None:
            reason = "the log line has no usable time"
        elif not cands[i]:
            reason = f"no trace in the capture: no SMTP connection to {a.ip} within the time range"
        else:
            reason = (
                f"no trace in the capture: the connections to {a.ip} do not fit the clock "
                f"offset within {tolerance:g} s"
            )
        out.append(
            Match(attempt=a, connection=None, clock_offset=offset, residual=None, reason=reason)
        )
    return out
