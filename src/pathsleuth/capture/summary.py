"""Per-capture summary for `pathsleuth decode`, folded chunk by chunk.

`SummaryBuilder.add(table)` takes each `PacketTable` chunk as the reader streams it and
keeps only counters and the set of flow keys, so memory grows with the number of flows,
never with the number of packets. `finish()` returns a `CaptureSummary` (plain data; the
report stage renders it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

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


def _count(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.count_nonzero(mask))


class SummaryBuilder:
    """Fold `PacketTable` chunks into a `CaptureSummary`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._linktypes: Counter[int] = Counter()
        self._unsupported_linktypes: Counter[int] = Counter()
        self._protocols: Counter[str] = Counter()
        self._flows: list[npt.NDArray[np.uint64]] = []
        self._flow_rows = 0
        self.packets = 0
        self.bytes = 0
        self.wire_bytes = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.malformed = 0
        self.malformed_frames: list[int] = []
        self.payload_cut = 0
        self.unsupported = 0

    def add(self, t: PacketTable) -> None:
        n = len(t)
        if n == 0:
            return
        self.packets += n
        self.bytes += int(t.cap_len.sum(dtype=np.int64))
        self.wire_bytes += int(t.wire_len.sum(dtype=np.int64))
        tmin, tmax = int(t.ts_ns.min()), int(t.ts_ns.max())
        self.first_ts = tmin if self.first_ts is None else min(self.first_ts, tmin)
        self.last_ts = tmax if self.last_ts is None else max(self.last_ts, tmax)
        lt, cnt = np.unique(t.linktype, return_counts=True)
        for k, c in zip(lt.tolist(), cnt.tolist(), strict=True):
            self._linktypes[int(k)] += int(c)

        status = t.status
        bad = (status & np.uint8(Status.error_mask())) != 0
        nbad = _count(bad)
        if nbad:
            self.malformed += nbad
            room = MAX_LISTED_MALFORMED - len(self.malformed_frames)
            if room > 0:
                self.malformed_frames.extend(int(f) for f in t.frame[bad][:room])
        self.payload_cut += _count((status & np.uint8(Status.PAYLOAD_CUT)) != 0)
        unsupported = (status & np.uint8(Status.UNSUPPORTED_LINK)) != 0
        nunsup = _count(unsupported)
        if nunsup:
            self.unsupported += nunsup
            lt, cnt = np.unique(t.linktype[unsupported], return_counts=True)
            for k, c in zip(lt.tolist(), cnt.tolist(), strict=True):
                self._unsupported_linktypes[int(k)] += int(c)

        v = t.ip_version
        proto = t.proto
        ip = v != 0
        p = self._protocols
        p["ipv4"] += _count(v == 4)
        p["ipv6"] += _count(v == 6)
        p["not_ip"] += _count((status & np.uint8(Status.NOT_IP)) != 0)
        p["tcp"] += _count(ip & (proto == IPPROTO_TCP))
        p["udp"] += _count(ip & (proto == IPPROTO_UDP))
        p["icmp"] += _count((v == 4) & (proto == IPPROTO_ICMP))
        p["icmpv6"] += _count((v == 6) & (proto == IPPROTO_ICMPV6))
        p["vlan"] += _count(t.vlan_depth > 0)
        p["mpls"] += _count(t.mpls_depth > 0)
        p["tunnelled"] += _count(t.tunnelled)
        p["fragments"] += _count(ip & ((t.frag_offset > 0) | t.more_fragments))
        ptb4 = (
            (proto == IPPROTO_ICMP)
            & (t.icmp_type == ICMP4_DEST_UNREACH)
            & (t.icmp_code == ICMP4_FRAG_NEEDED)
        )
        ptb6 = (proto == IPPROTO_ICMPV6) & (t.icmp_type == ICMP6_PACKET_TOO_BIG)
        p["ptb"] += _count(ip & (ptb4 | ptb6))

        tcp = ip & (proto == IPPROTO_TCP) & ((status & np.uint8(Status.LATER_FRAGMENT)) == 0)
        if tcp.any():
            self._add_flows(t, tcp)

    def _add_flows(self, t: PacketTable, tcp: npt.NDArray[np.bool_]) -> None:
        # Direction-free key: hash each endpoint (address, port) to 64 bits, then combine
        # the two hashes order-independently so A->B and B->A collapse. Counting distinct
        # 64-bit keys instead of 36-byte rows is ~10x faster; two flows collide with
        # probability n^2 / 2^65 (below 1e-7 for a million flows), which a summary count
        # can carry.
        ea = _endpoint_hash(t.src_hi[tcp], t.src_lo[tcp], t.sport[tcp])
        eb = _endpoint_hash(t.dst_hi[tcp], t.dst_lo[tcp], t.dport[tcp])
        with np.errstate(over="ignore"):
            key = _mix(np.minimum(ea, eb) ^ _mix(np.maximum(ea, eb)))
        rows = np.unique(key)
        self._flows.append(rows)
        self._flow_rows += len(rows)
        # keep the pending list short: merge when it grows
        if len(self._flows) > 16:
            self._flows = [np.unique(np.concatenate(self._flows))]
            self._flow_rows = len(self._flows[0])

    def finish(
        self, info: CaptureInfo | None, *, skipped_members: list[str] | None = None
    ) -> CaptureSummary:
        flows = np.unique(np.concatenate(self._flows)) if self._flows else np.empty(0)
        s = CaptureSummary(
            name=self.name,
            format=info.format if info else "unknown",
            byte_order=info.byte_order if info else "little",
            ts_precision=info.ts_precision if info else "usec",
            linktypes={linktypes.name(k): c for k, c in sorted(self._linktypes.items())},
            interfaces=len(info.interfaces) if info else 0,
            packets=self.packets,
            bytes=self.bytes,
            wire_bytes=self.wire_bytes,
            first_ts_ns=self.first_ts,
            last_ts_ns=self.last_ts,
            protocols={k: v for k, v in self._protocols.items() if v},
            tcp_flows=len(flows),
            malformed=self.malformed,
            malformed_frames=self.malformed_frames,
            truncated_payload=self.payload_cut,
            unsupported_link=self.unsupported,
            unsupported_linktypes={
                linktypes.name(k): c for k, c in sorted(self._unsupported_linktypes.items())
            },
            comments=[c for _, c in info.comments] if info else [],
            skipped_members=list(skipped_members or []),
            skipped_blocks={f"0x{k:08x}": v for k, v in info.skipped_blocks.items()}
            if info
            else {},
        )
        return s


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _endpoint_hash(
    hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], port: npt.NDArray[np.uint16]
) -> npt.NDArray[np.uint64]:
    return _mix(_mix(_mix(hi) ^ lo) ^ port.astype(np.uint64))
