"""ICMP error correlation: which connection, which segment, what the router said.

`match_icmp(ct)` finds every ICMP/ICMPv6 error in the source table (IPv4 type 3 and 11,
ICMPv6 types 1, 2 and 3) and matches its quoted packet (RFC 792, RFC 4443 section 3) to
the connection direction that sent it (quoted 4-tuple, nearest connection in time when
ports were reused) and to the exact captured segment (quoted sequence number, latest
transmission before the error). It records the announced MTU, the router that sent the
error and its distance, and why a Packet Too Big is implausible when it is: an MTU below
the protocol minimum (576/68 for IPv4, RFC 791/RFC 1191; 1280 for IPv6, RFC 8200 section 5),
or an MTU not smaller than the packet it quotes. The diagnosis stage reads the result.
ICMP errors are rare, so the per-error work is a short Python loop over them only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pathsleuth.capture.table import (
    ICMP4_DEST_UNREACH,
    ICMP4_FRAG_NEEDED,
    ICMP4_TIME_EXCEEDED,
    ICMP6_DEST_UNREACH,
    ICMP6_PACKET_TOO_BIG,
    ICMP6_TIME_EXCEEDED,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    Status,
    format_addr,
)
from pathsleuth.tcp.connections import ConnectionTable
from pathsleuth.tcp.directions import nearest_initial_ttl

#: IPv6 minimum link MTU (RFC 8200 section 5)
IPV6_MIN_MTU = 1280
#: IPv4 minimum MTU every host must accept (RFC 791: 68 octets)
IPV4_MIN_MTU = 68

_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)


@dataclass(kw_only=True)
class IcmpEvent:
    """One ICMP/ICMPv6 error and what it refers to."""

    frame: int
    """Frame of the ICMP error."""
    ts_ns: int
    kind: str
    """"ptb" (IPv4 3/4 or ICMPv6 2), "unreachable" (other type 3 / ICMPv6 1),
    "time_exceeded" (IPv4 11, ICMPv6 3)."""
    icmp_type: int
    icmp_code: int
    version: int
    router: str
    """Source address of the error: the router (or host) that sent it."""
    router_hops: int
    """Estimated distance of that router from the capture point (initial TTL - TTL)."""
    mtu: int | None
    """Announced next-hop MTU (PTB only; 0 = the router did not say, RFC 1191 section 5)."""
    quoted_ip_len: int
    quoted_df: bool
    quoted_proto: int
    quoted_src: str
    quoted_sport: int
    quoted_dst: str
    quoted_dport: int
    quoted_seq: int | None
    conn: int = -1
    """Connection index the quote matches, -1 when none in the capture."""
    half: int = -1
    """Connection direction (2 * conn + dir) that sent the quoted packet, -1 if none."""
    segment: int = -1
    """Index in ``ConnectionTable.p`` of the quoted transmission, -1 if not captured."""
    segment_frame: int | None = None
    problems: list[str] = field(default_factory=list)
    """Why this error cannot be taken at face value (invalid MTU, implausible quote)."""
    file: str | None = None
    """Capture the error came from (set by the diagnosis engine, which knows the file)."""

    @property
    def valid_ptb(self) -> bool:
        return self.kind == "ptb" and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "kind": self.kind,
            "type": self.icmp_type,
            "code": self.icmp_code,
            "router": self.router,
            "router_hops": self.router_hops,
            "mtu": self.mtu,
            "quoted": {
                "src": self.quoted_src,
                "sport": self.quoted_sport,
                "dst": self.quoted_dst,
                "dport": self.quoted_dport,
                "proto": self.quoted_proto,
                "ip_len": self.quoted_ip_len,
                "df": self.quoted_df,
                "seq": self.quoted_seq,
            },
            "connection": self.conn if self.conn >= 0 else None,
            "segment_frame": self.segment_frame,
            "problems": list(self.problems),
        }


def _hash(
    a_hi: np.ndarray,
    a_lo: np.ndarray,
    ap: np.ndarray,
    b_hi: np.ndarray,
    b_lo: np.ndarray,
    bp: np.ndarray,
) -> np.ndarray:
    """A 64-bit mix of a directed 4-tuple (candidates only; exact match is checked)."""
    with np.errstate(over="ignore"):
        m0, m1, m2 = (np.uint64(x) for x in _MIX)
        h = a_hi.astype(np.uint64) * m0 ^ a_lo.astype(np.uint64)
        h = h * m1 ^ b_hi.astype(np.uint64)
        h = h * m2 ^ b_lo.astype(np.uint64)
        h = h * m0 ^ (ap.astype(np.uint64) << np.uint64(16) | bp.astype(np.uint64))
        return h * m1


def match_icmp(ct: ConnectionTable) -> list[IcmpEvent]:
    """All ICMP errors of the capture, matched to connections and segments."""
    t = ct.icmp_table
    if "icmp_type" not in t.columns:  # a table cut to the TCP columns: no ICMP rows kept
        return []
    proto = t.proto
    typ = t.icmp_type
    v4 = (proto == IPPROTO_ICMP) & ((typ == ICMP4_DEST_UNREACH) | (typ == ICMP4_TIME_EXCEEDED))
    v6 = (proto == IPPROTO_ICMPV6) & (
        (typ == ICMP6_DEST_UNREACH) | (typ == ICMP6_PACKET_TOO_BIG) | (typ == ICMP6_TIME_EXCEEDED)
    )
    bad = (t.status & np.uint8(Status.MALFORMED)) != 0
    rows = np.flatnonzero((v4 | v6) & (t.ip_version != 0) & ~bad)
    if len(rows) == 0:
        return []
    h = ct.h
    # candidate halves: hash of each half's directed 4-tuple vs the quotes'
    present = h["first_idx"] >= 0
    ends = ct.half_ends
    hh = _hash(*ends)
    qh = _hash(
        t.q_src_hi[rows],
        t.q_src_lo[rows],
        t.q_sport[rows],
        t.q_dst_hi[rows],
        t.q_dst_lo[rows],
        t.q_dport[rows],
    )
    cand = np.flatnonzero(present & np.isin(hh, qh))
    by_tuple: dict[tuple[int, ...], list[int]] = {}
    for hf in cand.tolist():
        key = tuple(int(e[hf]) for e in ends)
        by_tuple.setdefault(key, []).append(hf)

    events: list[IcmpEvent] = []
    for r in rows.tolist():
        ver = int(t.ip_version[r])
        ty, co = int(typ[r]), int(t.icmp_code[r])
        if ver == 4 or int(proto[r]) == IPPROTO_ICMP:
            kind = (
                "time_exceeded"
                if ty == ICMP4_TIME_EXCEEDED
                else "ptb"
                if co == ICMP4_FRAG_NEEDED
                else "unreachable"
            )
        else:
            kind = {ICMP6_PACKET_TOO_BIG: "ptb", ICMP6_TIME_EXCEEDED: "time_exceeded"}.get(
                ty, "unreachable"
            )
        ttl = int(t.ttl[r])
        has_quote = int(t.q_version[r]) != 0
        q_is_tcp = has_quote and int(t.q_proto[r]) == IPPROTO_TCP
        ev = IcmpEvent(
            frame=int(t.frame[r]),
            ts_ns=int(t.ts_ns[r]),
            kind=kind,
            icmp_type=ty,
            icmp_code=co,
            version=ver,
            router=format_addr(int(t.src_hi[r]), int(t.src_lo[r])),
            router_hops=int(nearest_initial_ttl(ttl)) - ttl,
            mtu=int(t.icmp_mtu[r]) if kind == "ptb" else None,
            quoted_ip_len=int(t.q_ip_len[r]),
            quoted_df=bool(t.q_df[r]),
            quoted_proto=int(t.q_proto[r]),
            quoted_src=format_addr(int(t.q_src_hi[r]), int(t.q_src_lo[r])) if has_quote else "",
            quoted_sport=int(t.q_sport[r]),
            quoted_dst=format_addr(int(t.q_dst_hi[r]), int(t.q_dst_lo[r])) if has_quote else "",
            quoted_dport=int(t.q_dport[r]),
            quoted_seq=int(t.q_seq[r]) if q_is_tcp and bool(t.q_has_seq[r]) else None,
        )
        if kind == "ptb":
            _check_ptb(ev, int(t.q_version[r]) if has_quote else ver, has_quote)
        if q_is_tcp:
            key = (
                int(t.q_src_hi[r]), int(t.q_src_lo[r]), int(t.q_sport[r]),
                int(t.q_dst_hi[r]), int(t.q_dst_lo[r]), int(t.q_dport[r]),
            )  # fmt: skip
            halves = by_tuple.get(key, [])
            if halves:
                ev.half = _nearest_half(ct, halves, ev.ts_ns)
                ev.conn = ev.half // 2
                if ev.quoted_seq is not None:
                    ev.segment = _quoted_segment(ct, ev.half, ev.quoted_seq, ev.frame)
                    if ev.segment >= 0:
                        ev.segment_frame = ct.frame(ev.segment)
        events.append(ev)
    return events


def _check_ptb(ev: IcmpEvent, quoted_version: int, has_quote: bool) -> None:
    mtu = ev.mtu or 0
    if ev.version == 6 or quoted_version == 6:
        if mtu < IPV6_MIN_MTU:
            ev.problems.append(
                f"announced MTU {mtu} is below the IPv6 minimum of {IPV6_MIN_MTU} "
                "(RFC 8200 section 5; RFC 8021 atomic-fragment attack pattern): invalid"
            )
    elif mtu == 0:
        ev.problems.append("no next-hop MTU given (pre-RFC 1191 router)")
    elif mtu < IPV4_MIN_MTU:
        ev.problems.append(f"announced MTU {mtu} is below the IPv4 minimum of {IPV4_MIN_MTU}")
    if has_quote and ev.quoted_ip_len and mtu >= ev.quoted_ip_len:
        ev.problems.append(
            f"quotes a {ev.quoted_ip_len}-byte packet that already fits the announced MTU "
            f"{mtu}: implausible"
        )


def _nearest_half(ct: ConnectionTable, halves: list[int], ts_ns: int) -> int:
    """Among connections reusing the 4-tuple, the one active at (or last before) ts."""
    h = ct.h
    best, best_d = halves[0], None
    for hf in halves:
        a, b = int(h["first_ts"][hf]), int(h["last_ts"][hf])
        d = 0 if a <= ts_ns <= b else (a - ts_ns if ts_ns < a else ts_ns - b)
        if best_d is None or d < best_d:
            best, best_d = hf, d
    return best


def _quoted_segment(ct: ConnectionTable, half: int, seq: int, icmp_frame: int) -> int:
    """Index of the latest transmission in `half` with that raw seq, sent before the error
    (frame numbers are capture order, in whichever table each packet is kept)."""
    sl = ct.half_slice(half)
    s = ct.p["seq"][sl].astype(np.int64)
    frames = ct.table.frame[ct.p["row"][sl]]
    seqspace = ct.p["end"][sl] > ct.p["rel_seq"][sl]  # payload, SYN or FIN
    hit = np.flatnonzero((s == seq) & seqspace)
    if len(hit) == 0:
        return -1
    before = hit[frames[hit] < icmp_frame]
    pick = before[-1] if len(before) else hit[0]
    return int(sl.start + pick)
