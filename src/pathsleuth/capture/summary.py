"""Per-capture summary for `pathsleuth decode`, folded chunk by chunk.

`SummaryBuilder.add(table)` takes each `PacketTable` chunk as the reader streams it and
folds it in one numba pass (`_fold`): counters, per-link-type counts and the set of TCP
flow keys, so memory grows with the number of flows, never with the number of packets.
`finish()` returns a `CaptureSummary` (plain data; the report stage renders it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from pathsleuth.capture import linktypes
from pathsleuth.capture.records import CaptureInfo
from pathsleuth.capture.table import (
    ICMP4_DEST_UNREACH,
    ICMP4_FRAG_NEEDED,
    ICMP6_PACKET_TOO_BIG,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PacketTable,
    Status,
)
from pathsleuth.errors import BadInput

#: how many malformed frame numbers a summary lists (the count is always complete)
MAX_LISTED_MALFORMED = 20


@dataclass(kw_only=True)
class CaptureSummary:
    """What `decode` says about one capture (or one archive member)."""

    name: str
    format: str
    byte_order: str = "little"
    ts_precision: str = "usec"
    linktypes: dict[str, int] = field(default_factory=dict)
    """link-type name -> number of frames"""
    interfaces: int = 0
    packets: int = 0
    bytes: int = 0
    """sum of captured lengths"""
    wire_bytes: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    protocols: dict[str, int] = field(default_factory=dict)
    """protocol or feature -> number of frames (ipv4, ipv6, tcp, udp, icmp, icmpv6, not_ip,
    vlan, mpls, tunnelled, fragments, ptb)"""
    tcp_flows: int = 0
    """distinct TCP 4-tuples (either direction counted once)"""
    malformed: int = 0
    malformed_frames: list[int] = field(default_factory=list)
    truncated_payload: int = 0
    """frames whose payload the snaplen cut (headers complete; not an error)"""
    unsupported_link: int = 0
    """frames on a link type the dissector does not decode (nothing above layer 2)"""
    unsupported_linktypes: dict[str, int] = field(default_factory=dict)
    """name of each such link type -> its frames"""
    comments: list[str] = field(default_factory=list)
    skipped_members: list[str] = field(default_factory=list)
    skipped_blocks: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        if self.first_ts_ns is None or self.last_ts_ns is None:
            return 0.0
        return (self.last_ts_ns - self.first_ts_ns) / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "byte_order": self.byte_order,
            "ts_precision": self.ts_precision,
            "linktypes": dict(self.linktypes),
            "interfaces": self.interfaces,
            "packets": self.packets,
            "bytes": self.bytes,
            "wire_bytes": self.wire_bytes,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "duration_s": round(self.duration_s, 6),
            "protocols": dict(self.protocols),
            "tcp_flows": self.tcp_flows,
            "malformed": self.malformed,
            "malformed_frames": list(self.malformed_frames),
            "truncated_payload": self.truncated_payload,
            "unsupported_link": self.unsupported_link,
            "unsupported_linktypes": dict(self.unsupported_linktypes),
            "comments": list(self.comments),
            "skipped_members": list(self.skipped_members),
            "skipped_blocks": dict(self.skipped_blocks),
        }


def check_decodable(s: CaptureSummary) -> None:
    """Raise `BadInput` when no frame of the capture is on a link type we decode: the
    user must hear that the link type is the problem, not read an empty diagnosis."""
    if s.packets == 0 or s.unsupported_link < s.packets:
        return
    names = ", ".join(s.unsupported_linktypes) or "unknown"
    raise BadInput(
        s.name,
        f"link type {names} is not supported: none of its {s.packets:,} frames can be "
        f"decoded above layer 2 (pathsleuth decodes {linktypes.supported_text()})",
        frame=1,
    )


#: slots of the fold kernel's counter array
(
    _C_BYTES,
    _C_WIRE,
    _C_TSMIN,
    _C_TSMAX,
    _C_BAD,
    _C_CUT,
    _C_UNSUP,
    _C_FLOWS,
) = range(8)
#: protocol counters, after the fixed slots, in this order
_PROTOCOLS = (
    "ipv4",
    "ipv6",
    "not_ip",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "vlan",
    "mpls",
    "tunnelled",
    "fragments",
    "ptb",
)
_C_PROTO = 8
# each protocol's counter slot (module-level ints are compile-time constants in numba)
_P_IPV4, _P_IPV6, _P_NOTIP, _P_TCP, _P_UDP, _P_ICMP, _P_ICMPV6 = (
    _C_PROTO + _PROTOCOLS.index(k)
    for k in ("ipv4", "ipv6", "not_ip", "tcp", "udp", "icmp", "icmpv6")
)
_P_VLAN, _P_MPLS, _P_TUN, _P_FRAG, _P_PTB = (
    _C_PROTO + _PROTOCOLS.index(k) for k in ("vlan", "mpls", "tunnelled", "fragments", "ptb")
)
#: the columns `_fold` reads, in its argument order
_FOLD_COLUMNS = (
    "status",
    "ip_version",
    "proto",
    "linktype",
    "cap_len",
    "wire_len",
    "ts_ns",
    "vlan_depth",
    "mpls_depth",
    "tunnelled",
    "frag_offset",
    "more_fragments",
    "icmp_type",
    "icmp_code",
    "src_hi",
    "src_lo",
    "dst_hi",
    "dst_lo",
    "sport",
    "dport",
)
_NCOUNTERS = _C_PROTO + len(_PROTOCOLS)
_ERR = int(Status.error_mask())
_CUTBIT = int(Status.PAYLOAD_CUT)
_UNSUPBIT = int(Status.UNSUPPORTED_LINK)
_NOTIPBIT = int(Status.NOT_IP)
_LATERBIT = int(Status.LATER_FRAGMENT)
_TS_NONE_MIN = np.iinfo(np.int64).max
_TS_NONE_MAX = np.iinfo(np.int64).min


class SummaryBuilder:
    """Fold `PacketTable` chunks into a `CaptureSummary`.

    Each chunk is folded by one numba pass (`_fold`) over the columns a summary reads:
    counters, per-link-type counts, and the distinct TCP flows, kept as 64-bit keys in an
    open-addressing set that grows with the number of flows (never with packets).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._c = np.zeros(_NCOUNTERS, np.int64)
        self._c[_C_TSMIN] = _TS_NONE_MIN
        self._c[_C_TSMAX] = _TS_NONE_MAX
        self._lt = np.zeros(1 << 16, np.int64)
        self._lt_unsup = np.zeros(1 << 16, np.int64)
        self._keys = np.zeros(16, np.uint64)
        self.packets = 0
        self.malformed_frames: list[int] = []

    def add(self, t: PacketTable) -> None:
        n = len(t)
        if n == 0:
            return
        self.packets += n
        # the set stays at most half full, so probing ends quickly
        need = 2 * (int(self._c[_C_FLOWS]) + n)
        if need > len(self._keys):
            size = len(self._keys)
            while size < need:
                size *= 2
            self._keys = _rehash(self._keys, size)
        bad = int(self._c[_C_BAD])
        _fold(*self._fold_args(t))
        room = MAX_LISTED_MALFORMED - len(self.malformed_frames)
        if int(self._c[_C_BAD]) > bad and room > 0:
            mask = (t.status & np.uint8(Status.error_mask())) != 0
            self.malformed_frames.extend(int(f) for f in t.frame[mask][:room])

    def _fold_args(self, t: PacketTable) -> list[Any]:
        """`_fold`'s arguments for chunk `t`: its columns, then this builder's state."""
        args: list[Any] = [t.columns[name] for name in _FOLD_COLUMNS]
        return [*args, self._c, self._lt, self._lt_unsup, self._keys]

    def finish(
        self, info: CaptureInfo | None, *, skipped_members: list[str] | None = None
    ) -> CaptureSummary:
        c = self._c
        protocols = {k: int(c[_C_PROTO + j]) for j, k in enumerate(_PROTOCOLS)}
        lts = np.flatnonzero(self._lt)
        unsup = np.flatnonzero(self._lt_unsup)
        s = CaptureSummary(
            name=self.name,
            format=info.format if info else "unknown",
            byte_order=info.byte_order if info else "little",
            ts_precision=info.ts_precision if info else "usec",
            linktypes={linktypes.name(int(k)): int(self._lt[k]) for k in lts},
            interfaces=len(info.interfaces) if info else 0,
            packets=self.packets,
            bytes=int(c[_C_BYTES]),
            wire_bytes=int(c[_C_WIRE]),
            first_ts_ns=int(c[_C_TSMIN]) if self.packets else None,
            last_ts_ns=int(c[_C_TSMAX]) if self.packets else None,
            protocols={k: v for k, v in protocols.items() if v},
            tcp_flows=int(c[_C_FLOWS]),
            malformed=int(c[_C_BAD]),
            malformed_frames=self.malformed_frames,
            truncated_payload=int(c[_C_CUT]),
            unsupported_link=int(c[_C_UNSUP]),
            unsupported_linktypes={linktypes.name(int(k)): int(self._lt_unsup[k]) for k in unsup},
            comments=[c for _, c in info.comments] if info else [],
            skipped_members=list(skipped_members or []),
            skipped_blocks={f"0x{k:08x}": v for k, v in info.skipped_blocks.items()}
            if info
            else {},
        )
        return s


# Direction-free flow key: each endpoint (address, port) to 64 bits by a multiply-xor
# (``hi * M1 ^ lo ^ port * M2``: for IPv4, whose address is all in ``lo``, no two
# endpoints meet, since ``port * M2`` differs above bit 32 for different ports), the two
# put in order so that A->B and B->A collapse, and the pair mixed into one key
# (``mix64(mix64(lo) ^ hi)``). Counting distinct 64-bit keys instead of 36-byte rows keeps
# the set small; two flows collide with probability about n^2 / 2^65 (below 1e-7 for a
# million flows), which a summary count can carry. Two mixes a packet instead of seven:
# the fold's flow count went from 27 to 12 ms on the 2 M-packet bench file.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@numba.njit(cache=True, inline="always")
def mix64(x: Any) -> Any:
    """splitmix64's step and finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits,
    for hashing keys inside numba kernels (this fold, `tcp.connections`' flow table)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _insert(keys: Any, key: Any) -> int:
    """Add key to the open-addressing set (0 marks a free slot); 1 if it was new."""
    if key == 0:
        key = np.uint64(1)
    mask = np.uint64(len(keys) - 1)
    h = key & mask
    while True:
        k = keys[h]
        if k == key:
            return 0
        if k == 0:
            keys[h] = key
            return 1
        h = (h + np.uint64(1)) & mask


@numba.njit(cache=True, nogil=True)
def _rehash(keys: Any, size: int) -> Any:
    """The set's keys in a new table of `size` slots (a power of two)."""
    out = np.zeros(size, np.uint64)
    for k in keys:
        if k != 0:
            _insert(out, k)
    return out


@numba.njit(cache=True, nogil=True)
def _fold(
    status: Any,
    ver: Any,
    proto: Any,
    lt: Any,
    cap: Any,
    wire: Any,
    ts: Any,
    vlan: Any,
    mpls: Any,
    tun: Any,
    frag: Any,
    mf: Any,
    itype: Any,
    icode: Any,
    src_hi: Any,
    src_lo: Any,
    dst_hi: Any,
    dst_lo: Any,
    sport: Any,
    dport: Any,
    c: Any,
    ltc: Any,
    ltu: Any,
    keys: Any,
) -> None:
    """One pass over a chunk's columns: counters into c, link types, TCP flow keys."""
    for i in range(len(status)):
        st = np.int64(status[i])
        v = np.int64(ver[i])
        p = np.int64(proto[i])
        c[_C_BYTES] += cap[i]
        c[_C_WIRE] += wire[i]
        t = ts[i]
        if t < c[_C_TSMIN]:
            c[_C_TSMIN] = t
        if t > c[_C_TSMAX]:
            c[_C_TSMAX] = t
        ltc[lt[i]] += 1
        if st & _ERR:
            c[_C_BAD] += 1
        if st & _CUTBIT:
            c[_C_CUT] += 1
        if st & _UNSUPBIT:
            c[_C_UNSUP] += 1
            ltu[lt[i]] += 1
        if st & _NOTIPBIT:
            c[_P_NOTIP] += 1
        if vlan[i] > 0:
            c[_P_VLAN] += 1
        if mpls[i] > 0:
            c[_P_MPLS] += 1
        if tun[i]:
            c[_P_TUN] += 1
        if v == 0:
            continue
        if v == 4:
            c[_P_IPV4] += 1
            if p == IPPROTO_ICMP:
                c[_P_ICMP] += 1
        elif v == 6:
            c[_P_IPV6] += 1
            if p == IPPROTO_ICMPV6:
                c[_P_ICMPV6] += 1
        if frag[i] > 0 or mf[i]:
            c[_P_FRAG] += 1
        if p == IPPROTO_UDP:
            c[_P_UDP] += 1
        elif (
            p == IPPROTO_ICMP and itype[i] == ICMP4_DEST_UNREACH and icode[i] == ICMP4_FRAG_NEEDED
        ) or (p == IPPROTO_ICMPV6 and itype[i] == ICMP6_PACKET_TOO_BIG):
            c[_P_PTB] += 1
        elif p == IPPROTO_TCP:
            c[_P_TCP] += 1
            if (st & _LATERBIT) == 0:
                ea = (src_hi[i] * _M1) ^ src_lo[i] ^ (np.uint64(sport[i]) * _M2)
                eb = (dst_hi[i] * _M1) ^ dst_lo[i] ^ (np.uint64(dport[i]) * _M2)
                lo, hi = (ea, eb) if ea < eb else (eb, ea)
                c[_C_FLOWS] += _insert(keys, mix64(mix64(lo) ^ hi))
