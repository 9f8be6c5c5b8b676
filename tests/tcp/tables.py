"""Test helper: PacketTables from row dicts, and a scripted two-host conversation.

`make_table(rows)` fills `empty_columns(n)` from dicts (missing keys keep the schema's
"absent" values). `Conv` scripts one TCP connection the way a capture would show it
(absolute sequence numbers, TTLs, DF, options), so detector tests read like the traces
they model. Frames are numbered in time order when the table is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from pathsleuth.capture.table import (
    ICMP4_DEST_UNREACH,
    ICMP4_FRAG_NEEDED,
    ICMP6_PACKET_TOO_BIG,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    PacketTable,
    empty_columns,
    parse_addr,
)

FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def flags_of(text: str) -> int:
    return sum(FLAG_BITS[c] for c in text)


def make_table(rows: list[dict[str, Any]]) -> PacketTable:
    """Rows (already in capture order) -> PacketTable; addresses as text, ts in seconds."""
    cols = empty_columns(len(rows))
    for i, r in enumerate(rows):
        r = dict(r)
        cols["frame"][i] = r.pop("frame", i + 1)
        cols["ts_ns"][i] = round(r.pop("t", i * 0.001) * 1e9)
        for key in ("src", "dst", "q_src", "q_dst"):
            if key in r:
                hi, lo = parse_addr(r.pop(key))
                cols[f"{key}_hi"][i] = hi
                cols[f"{key}_lo"][i] = lo
        if "flags" in r:
            f = r.pop("flags")
            cols["tcp_flags"][i] = flags_of(f) if isinstance(f, str) else f
        for k, v in r.items():
            cols[k][i] = v
    return PacketTable(cols)


@dataclass
class Conv:
    """One scripted TCP connection between a client and a server (IPv4 unless v6)."""

    client: str = "192.168.1.254"
    server: str = "203.106.231.124"
    cport: int = 51064
    sport: int = 25
    cisn: int = 4130580000
    sisn: int = 3246230000
    c_ttl: int = 64
    s_ttl: int = 54
    mss_c: int = 1460
    mss_s: int = 1460
    v6: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    nxt: dict[str, int] = field(default_factory=dict)
    ip_id: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nxt = {"c": self.cisn, "s": self.sisn}
        self.ip_id = {"c": 0x1000, "s": 0x5000}

    def _base(self, side: str, t: float) -> dict[str, Any]:
        c = side == "c"
        self.ip_id[side] += 1
        return {
            "t": t,
            "ip_version": 6 if self.v6 else 4,
            "proto": IPPROTO_TCP,
            "src": self.client if c else self.server,
            "dst": self.server if c else self.client,
            "sport": self.cport if c else self.sport,
            "dport": self.sport if c else self.cport,
            "ttl": self.c_ttl if c else self.s_ttl,
            "df": not self.v6,
            "ip_id": 0 if self.v6 else self.ip_id[side] & 0xFFFF,
            "window": 64240,
            "ip_hdr_len": 40 if self.v6 else 20,
        }

    def _peer(self, side: str) -> str:
        return "s" if side == "c" else "c"

    def _add(self, row: dict[str, Any], payload: int, hdr: int = 32) -> dict[str, Any]:
        row["tcp_hdr_len"] = hdr
        row["payload_len"] = payload
        row["ip_len"] = row["ip_hdr_len"] + hdr + payload
        self.rows.append(row)
        return row

    def handshake(self, t: float, rtt: float = 0.05, *, at: str = "c") -> None:
        """SYN, SYN/ACK, ACK; `at` = where the capture is ("c", "s" or "m" middle)."""
        d1, d2 = {"c": (rtt, 0.0001), "s": (0.0001, rtt), "m": (rtt / 2, rtt / 2)}[at]
        r = self._base("c", t)
        r.update(seq=self.cisn, flags="S", opt_mss=self.mss_c, opt_sack_perm=True, opt_wscale=7)
        self._add(r, 0, 40)
        r = self._base("s", t + d1)
        r.update(
            seq=self.sisn,
            ack=(self.cisn + 1) % (1 << 32),
            flags="SA",
            opt_mss=self.mss_s,
            opt_wscale=7,
        )
        self._add(r, 0, 40)
        self.nxt = {"c": self.cisn + 1, "s": self.sisn + 1}
        self.ack("c", t + d1 + d2)

    def send(
        self,
        side: str,
        t: float,
        n: int,
        *,
        seq: int | None = None,
        flags: str = "PA",
        df: bool | None = None,
        ttl: int | None = None,
        ackno: int | None = None,
    ) -> dict[str, Any]:
        """A data segment; `seq=None` sends new data, an absolute `seq` resends."""
        r = self._base(side, t)
        s = self.nxt[side] if seq is None else seq
        a = self.nxt[self._peer(side)] if ackno is None else ackno
        r.update(seq=s % (1 << 32), ack=a % (1 << 32), flags=flags)
        if df is not None:
            r["df"] = df
        if ttl is not None:
            r["ttl"] = ttl
        if seq is None:
            self.nxt[side] = s + n
        return self._add(r, n)

    def ack(
        self,
        side: str,
        t: float,
        ackno: int | None = None,
        *,
        window: int = 64240,
        sack: Sequence[tuple[int, int]] = (),
    ) -> dict[str, Any]:
        """A pure ACK; `sack`: SACK blocks as absolute (left, right) edges."""
        r = self._base(side, t)
        a = self.nxt[self._peer(side)] if ackno is None else ackno
        r.update(seq=self.nxt[side] % (1 << 32), ack=a % (1 << 32), flags="A", window=window)
        if sack:
            edges = [(lo % (1 << 32), hi % (1 << 32)) for lo, hi in sack] + [(0, 0)] * 4
            r["sack_count"] = len(sack)
            r["sack_left"] = [lo for lo, _ in edges[:4]]
            r["sack_right"] = [hi for _, hi in edges[:4]]
        return self._add(r, 0, 32 + 8 * len(sack) + (4 if sack else 0))

    def fin(self, side: str, t: float) -> dict[str, Any]:
        r = self._base(side, t)
        r.update(seq=self.nxt[side] % (1 << 32), ack=self.nxt[self._peer(side)] % (1 << 32))
        r["flags"] = "FA"
        self.nxt[side] += 1
        return self._add(r, 0)

    def rst(
        self, side: str, t: float, *, ttl: int | None = None, ip_id: int | None = None
    ) -> dict[str, Any]:
        r = self._base(side, t)
        r.update(seq=self.nxt[side] % (1 << 32), ack=self.nxt[self._peer(side)] % (1 << 32))
        r["flags"] = "RA"
        r["window"] = 0
        if ttl is not None:
            r["ttl"] = ttl
        if ip_id is not None:
            r["ip_id"] = ip_id
        return self._add(r, 0, 20)

    def ptb(self, t: float, quoted: dict[str, Any], mtu: int, router: str = "10.9.9.1") -> None:
        """An ICMP 3/4 (or ICMPv6 Packet Too Big) quoting `quoted` (a row of this Conv)."""
        r: dict[str, Any] = {
            "t": t,
            "ip_version": 6 if self.v6 else 4,
            "proto": IPPROTO_ICMPV6 if self.v6 else IPPROTO_ICMP,
            "src": router,
            "dst": quoted["src"],
            "ttl": 250,
            "icmp_type": ICMP6_PACKET_TOO_BIG if self.v6 else ICMP4_DEST_UNREACH,
            "icmp_code": 0 if self.v6 else ICMP4_FRAG_NEEDED,
            "icmp_mtu": mtu,
            "q_version": 6 if self.v6 else 4,
            "q_src": quoted["src"],
            "q_dst": quoted["dst"],
            "q_ip_len": quoted["ip_len"],
            "q_df": quoted["df"],
            "q_ttl": 1,
            "q_proto": IPPROTO_TCP,
            "q_sport": quoted["sport"],
            "q_dport": quoted["dport"],
            "q_has_seq": True,
            "q_seq": quoted["seq"],
            "ip_len": 56 if not self.v6 else 1280,
        }
        self.rows.append(r)

    def table(self, *extra: Conv) -> PacketTable:
        rows = list(self.rows)
        for e in extra:
            rows.extend(e.rows)
        rows.sort(key=lambda r: r["t"])
        return make_table(rows)


def frames_of(table: PacketTable, mask: np.ndarray) -> list[int]:  # type: ignore[type-arg]
    return [int(x) for x in table.frame[mask]]


_FLAG_SETS = ("S", "SA", "A", "A", "A", "PA", "PA", "PA", "FA", "RA", "R", "")


@st.composite
def tcp_streams(draw: st.DrawFn) -> PacketTable:
    """Random TCP packets of a few 4-tuples (both directions, port reuse, SYN options,
    resends, overlaps, holes, dup ACKs, zero windows, super-segments, 2^32 wraps)."""
    n = draw(st.integers(1, 70))
    bases = draw(st.lists(st.integers(0, (1 << 32) - 1), min_size=4, max_size=4))
    if draw(st.booleans()):
        bases[0] = (1 << 32) - 7  # sequence numbers wrap inside the stream
    rows = []
    t = 0.0
    for _ in range(n):
        flow = draw(st.integers(0, 2))
        d = draw(st.integers(0, 1))
        a, b = ("10.0.0.1", "10.0.0.2") if flow < 2 else ("10.0.0.1", "10.0.0.3")
        pa, pb = (40000 + flow, 25)
        if d:
            a, b, pa, pb = b, a, pb, pa
        t += draw(st.sampled_from((0.0001, 0.001, 0.05, 0.25)))
        flags = draw(st.sampled_from(_FLAG_SETS))
        payload = draw(st.sampled_from((0, 0, 1, 3, 5, 8, 1448, 1600)))
        hdr = draw(st.sampled_from((20, 32)))
        row = {
            "t": t,
            "ip_version": 4,
            "proto": 6,
            "src": a,
            "dst": b,
            "sport": pa,
            "dport": pb,
            "seq": (bases[d] + draw(st.integers(0, 40))) % (1 << 32),
            "ack": (bases[1 - d] + draw(st.integers(0, 40))) % (1 << 32),
            "flags": flags,
            "window": draw(st.sampled_from((0, 100, 100, 200))),
            "ttl": draw(st.sampled_from((1, 54, 64, 116, 128, 255))),
            "df": draw(st.booleans()),
            "tcp_hdr_len": hdr,
            "payload_len": payload,
            "ip_len": 20 + hdr + payload,
        }
        if "S" in flags:
            row["opt_mss"] = draw(st.sampled_from((0, 3, 5, 1460)))
        nsack = draw(st.sampled_from((0, 0, 0, 1, 2, 4)))
        if nsack:  # blocks near the ACK: above it, at it, and below it (D-SACK)
            edges = [
                (bases[1 - d] + draw(st.integers(-10, 50))) % (1 << 32) for _ in range(2 * nsack)
            ]
            row["sack_count"] = draw(st.integers(1, nsack))
            row["sack_left"] = edges[:nsack] + [0] * (4 - nsack)
            row["sack_right"] = edges[nsack:] + [0] * (4 - nsack)
        rows.append(row)
    return make_table(rows)
