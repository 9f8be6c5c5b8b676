"""The columnar packet table: the one thing `capture/` hands to every later stage.

A `PacketTable` is a set of equal-length NumPy arrays, one row per captured frame, with
the schema declared once in `COLUMNS` (name, dtype, meaning). Readers produce it chunk by
chunk; `concat` joins chunks. Nothing here decodes bytes and nothing here prints.

Conventions every consumer relies on:
- Addresses are 128-bit, split into two big-endian-ordered uint64 halves (`*_hi`, `*_lo`).
  IPv4 addresses are stored IPv4-mapped (``::ffff:a.b.c.d``, RFC 4291 section 2.5.5.2), so
  one sort/group key serves both families; `ip_version` tells which family the packet is.
- The IP/transport columns describe the *innermost* IP header after IP-in-IP / 6in4 /
  4in6 decapsulation (`tunnelled` is set when that happened).
- Lengths come from the IP headers, never from the captured length: `payload_len` is the
  transport payload the sender put on the wire even when the snaplen cut it.
- Absent values: 0 for numbers unless said otherwise; `opt_wscale` uses 255 for absent;
  `icmp_type`/`icmp_code` use 255 for "not ICMP".
- `q_*` columns are the IP + transport header quoted inside an ICMP/ICMPv6 error
  (RFC 792, RFC 4443 section 3), decoded the same way, so a later stage can match the
  error to the exact flow and segment it quotes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

import numpy as np
import numpy.typing as npt

#: Maximum SACK blocks in one TCP header (RFC 2018 section 3: 40 option bytes allow 4).
MAX_SACK_BLOCKS = 4


class Status(IntFlag):
    """Per-packet decode status bits (`PacketTable.status`). 0 means fully decoded."""

    OK = 0
    #: the captured bytes end before a header the packet claims (snaplen or damage)
    TRUNCATED = 1 << 0
    #: a header is self-inconsistent (IHL < 5, IP length > frame length, TCP offset < 5 ...)
    MALFORMED = 1 << 1
    #: link type not supported: nothing above layer 2 decoded
    UNSUPPORTED_LINK = 1 << 2
    #: a valid frame that carries no IP (ARP, LLDP, PPPoE discovery, ...): not an error
    NOT_IP = 1 << 3
    #: a non-first IP fragment: IP columns valid, no transport header in this packet
    LATER_FRAGMENT = 1 << 4
    #: only the snaplen cut the transport payload: headers are complete (not an error)
    PAYLOAD_CUT = 1 << 5

    @classmethod
    def error_mask(cls) -> int:
        """Bits that make a packet count as malformed in summaries."""
        return int(cls.TRUNCATED | cls.MALFORMED)


class TcpFlag(IntFlag):
    """TCP header flag bits as stored in `PacketTable.tcp_flags` (RFC 9293, RFC 3168)."""

    FIN = 0x001
    SYN = 0x002
    RST = 0x004
    PSH = 0x008
    ACK = 0x010
    URG = 0x020
    ECE = 0x040
    CWR = 0x080
    AE = 0x100  # formerly NS (RFC 3540, now RFC 9768 AccECN)


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str
    shape: tuple[int, ...] = ()


COLUMNS: tuple[Column, ...] = (
    # --- record ---------------------------------------------------------------------
    Column("frame", "u8", "1-based frame number within its capture (as tshark's frame.number)"),
    Column("ts_ns", "i8", "capture timestamp, nanoseconds since the Unix epoch"),
    Column("iface", "u2", "pcapng interface id within its section (0 for classic pcap)"),
    Column("linktype", "u2", "LINKTYPE_* of the frame's interface"),
    Column("wire_len", "u4", "original length on the wire"),
    Column("cap_len", "u4", "captured length (after snaplen)"),
    Column("status", "u1", "Status bits; 0 = fully decoded"),
    # --- network layer ----------------------------------------------------------------
    Column("l3_offset", "u2", "byte offset of the innermost IP header in the frame (0 if none)"),
    Column("ip_version", "u1", "4 or 6; 0 when the frame carries no IP"),
    Column("tunnelled", "?", "an outer IP header was stripped (IP-in-IP, 6in4, 4in6)"),
    Column("vlan_depth", "u1", "number of 802.1Q/802.1ad tags stripped"),
    Column("mpls_depth", "u1", "number of MPLS labels stripped"),
    Column("src_hi", "u8", "source address, high 64 bits (IPv4 stored as ::ffff:a.b.c.d)"),
    Column("src_lo", "u8", "source address, low 64 bits"),
    Column("dst_hi", "u8", "destination address, high 64 bits"),
    Column("dst_lo", "u8", "destination address, low 64 bits"),
    Column("ip_len", "u4", "IPv4 total length, or 40 + IPv6 payload length"),
    Column("ip_hdr_len", "u2", "IP header length incl. IPv4 options / IPv6 extension headers"),
    Column("ttl", "u1", "IPv4 TTL or IPv6 hop limit"),
    Column("df", "?", "IPv4 Don't Fragment bit (IPv6: always False; routers never fragment)"),
    Column("ip_id", "u4", "IPv4 identification, or IPv6 fragment header identification"),
    Column("frag_offset", "u2", "fragment offset in 8-byte units (0 if not a fragment)"),
    Column("more_fragments", "?", "MF bit (IPv4 or IPv6 fragment header)"),
    Column("proto", "u1", "transport protocol after extension headers (6 TCP, 17 UDP, 1, 58 ...)"),
    # --- transport layer --------------------------------------------------------------
    Column("sport", "u2", "TCP/UDP source port"),
    Column("dport", "u2", "TCP/UDP destination port"),
    Column("seq", "u4", "TCP sequence number (absolute)"),
    Column("ack", "u4", "TCP acknowledgment number (absolute)"),
    Column("tcp_flags", "u2", "TcpFlag bits"),
    Column("window", "u2", "TCP window field, unscaled"),
    Column("tcp_hdr_len", "u1", "TCP header length in bytes (data offset * 4)"),
    Column("payload_len", "u4", "transport payload length, from the IP lengths (not caplen)"),
    Column("opt_mss", "u2", "TCP MSS option value (0 = absent)"),
    Column("opt_wscale", "u1", "TCP window scale shift (255 = absent)"),
    Column("opt_sack_perm", "?", "SACK-permitted option present"),
    Column("opt_has_ts", "?", "timestamp option present"),
    Column("opt_ts_val", "u4", "TSval"),
    Column("opt_ts_ecr", "u4", "TSecr"),
    Column("sack_count", "u1", "number of SACK blocks"),
    Column("sack_left", "u4", "SACK block left edges", (MAX_SACK_BLOCKS,)),
    Column("sack_right", "u4", "SACK block right edges", (MAX_SACK_BLOCKS,)),
    # --- ICMP / ICMPv6 ----------------------------------------------------------------
    Column("icmp_type", "u1", "ICMP or ICMPv6 type (255 = not ICMP); proto says which"),
    Column("icmp_code", "u1", "ICMP or ICMPv6 code (255 = not ICMP)"),
    Column("icmp_mtu", "u4", "next-hop MTU of ICMP 3/4 (RFC 1191) or MTU of ICMPv6 type 2"),
    Column("q_version", "u1", "IP version of the quoted packet in an ICMP error (0 = none)"),
    Column("q_src_hi", "u8", "quoted packet's source address, high 64 bits"),
    Column("q_src_lo", "u8", "quoted packet's source address, low 64 bits"),
    Column("q_dst_hi", "u8", "quoted packet's destination address, high 64 bits"),
    Column("q_dst_lo", "u8", "quoted packet's destination address, low 64 bits"),
    Column("q_ip_len", "u4", "quoted packet's IP length (what the router says it dropped)"),
    Column("q_df", "?", "quoted packet's DF bit"),
    Column("q_ttl", "u1", "quoted packet's TTL/hop limit as the router saw it"),
    Column("q_proto", "u1", "quoted packet's transport protocol"),
    Column("q_sport", "u2", "quoted transport source port (0 if not quoted)"),
    Column("q_dport", "u2", "quoted transport destination port"),
    Column("q_has_seq", "?", "the quote reaches the TCP sequence number (>= 8 transport bytes)"),
    Column("q_seq", "u4", "quoted TCP sequence number"),
)

COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: ICMP / ICMPv6 type and code values the later stages look for.
ICMP4_DEST_UNREACH = 3
ICMP4_FRAG_NEEDED = 4  # code, RFC 1191
ICMP4_TIME_EXCEEDED = 11
ICMP6_DEST_UNREACH = 1
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

#: high 64 bits of an IPv4-mapped IPv6 address: ::ffff:0:0/96 (RFC 4291 2.5.5.2)
V4MAPPED_HI = np.uint64(0)
V4MAPPED_LO_PREFIX = np.uint64(0x0000_FFFF_0000_0000)


@dataclass
class PacketTable:
    """Equal-length NumPy columns, one row per frame; see `COLUMNS` for the schema."""

    columns: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.columns:
            self.columns = empty_columns(0)
        n = {len(v) for v in self.columns.values()}
        if len(n) > 1:
            raise ValueError(f"columns of unequal length: {sorted(n)}")

    def __len__(self) -> int:
        return len(self.columns["frame"])

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        cols = self.__dict__.get("columns")
        if cols is not None and name in cols:
            col: npt.NDArray[Any] = cols[name]
            return col
        raise AttributeError(name)

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        return self.columns[name]

    def take(self, index: npt.NDArray[Any]) -> PacketTable:
        """Rows selected by a boolean mask or an integer index array."""
        return PacketTable({k: v[index] for k, v in self.columns.items()})

    def nbytes(self) -> int:
        return sum(int(v.nbytes) for v in self.columns.values())

    @classmethod
    def empty(cls, n: int = 0) -> PacketTable:
        return cls(empty_columns(n))


def empty_columns(n: int) -> dict[str, npt.NDArray[Any]]:
    """Zero-filled columns for `n` rows, with the schema's "absent" sentinels set."""
    cols: dict[str, npt.NDArray[Any]] = {
        c.name: np.zeros((n, *c.shape), dtype=np.dtype(c.dtype)) for c in COLUMNS
    }
    cols["opt_wscale"][:] = 255
    cols["icmp_type"][:] = 255
    cols["icmp_code"][:] = 255
    return cols


def concat(tables: Sequence[PacketTable]) -> PacketTable:
    """Join chunks in order (the columns of the first chunk; all chunks must have them)."""
    if not tables:
        return PacketTable.empty()
    if len(tables) == 1:
        return tables[0]
    return PacketTable(
        {name: np.concatenate([t.columns[name] for t in tables]) for name in tables[0].columns}
    )


class TableBuilder:
    """Rows appended chunk by chunk into columns that grow in place: one copy per row
    instead of keeping every chunk and concatenating them at the end (which needs both in
    memory at once and copies everything again).

    Capacity starts at `INITIAL_ROWS` (or what `reserve` asked for) and doubles
    (`ndarray.resize`, a realloc: glibc remaps a block that was mmapped, but copies one
    from the heap). Pages past the rows written are never touched, so they cost address
    space, not memory. `finish` trims to the rows.
    """

    #: first capacity: address space only until rows are written, and enough that a
    #: million-packet capture needs no reallocation (realloc of a block that came from
    #: the heap copies it)
    INITIAL_ROWS = 1 << 20

    #: most rows `reserve` asks for up front (its largest column: 256 MiB of address space)
    MAX_RESERVED_ROWS = 1 << 25

    def __init__(self, names: Sequence[str], dtypes: Mapping[str, Any] | None = None) -> None:
        """`dtypes`: of names that are not PacketTable columns, for `finish` to give them
        empty when nothing was appended (otherwise they are left out then)."""
        self._names = tuple(names)
        self._dtypes = dict(dtypes or {})
        self._cols: dict[str, npt.NDArray[Any]] = {}
        self._n = 0
        self._cap = 0
        self._reserved = 0

    def reserve(self, rows: int) -> None:
        """Make the first capacity at least `rows` (at most `MAX_RESERVED_ROWS`), when the
        caller can estimate the total: growing past a capacity copies what is written, so
        a good estimate saves that copy and its page faults. Only address space until rows
        are written. No effect once rows have been appended."""
        self._reserved = min(max(rows, 0), self.MAX_RESERVED_ROWS)

    def __len__(self) -> int:
        return self._n

    def append(
        self,
        table: PacketTable,
        rows: npt.NDArray[np.bool_] | None = None,
        extra: dict[str, npt.NDArray[Any]] | None = None,
    ) -> None:
        """Append `table`'s rows (those where `rows` is True, when given). `extra`: more
        columns aligned with `table`'s rows, kept alongside (names the builder was made
        with that are not `table`'s)."""
        k = len(table) if rows is None else int(np.count_nonzero(rows))
        if k == 0:
            return
        src = table.columns if not extra else {**table.columns, **extra}
        if not self._cols:
            cap = max(k, self.INITIAL_ROWS, self._reserved)
            self._cols = {
                name: np.empty((cap, *src[name].shape[1:]), src[name].dtype) for name in self._names
            }
            self._cap = cap
        if self._n + k > self._cap:
            cap = self._cap
            while cap < self._n + k:
                cap *= 2
            for col in self._cols.values():
                col.resize((cap, *col.shape[1:]), refcheck=False)
            self._cap = cap
        lo, hi = self._n, self._n + k
        # a gather by index, not np.compress(..., out=): that one goes through a temporary
        # that faults in fresh pages on every call (twice the page faults for the table)
        idx = None if rows is None else np.flatnonzero(rows)
        for name, col in self._cols.items():
            col[lo:hi] = src[name] if idx is None else src[name][idx]
        self._n = hi

    def finish(self) -> PacketTable:
        """The rows appended so far as a table; the builder is empty afterwards."""
        if not self._cols:  # nothing appended: the schema's columns, `extra` ones if typed
            empty = empty_columns(0)
            empty |= {n: np.empty(0, dt) for n, dt in self._dtypes.items()}
            return PacketTable({n: empty[n] for n in self._names if n in empty})
        for col in self._cols.values():
            col.resize((self._n, *col.shape[1:]), refcheck=False)
        out = PacketTable(self._cols)
        self._cols, self._n, self._cap = {}, 0, 0
        return out


def iter_rows(table: PacketTable, names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Python tuples for a few columns: for reports and tests only, never the hot path."""
    cols = [table.columns[n] for n in names]
    for i in range(len(table)):
        yield tuple(c[i].item() if c.ndim == 1 else c[i].tolist() for c in cols)


# --- address helpers (vectorised) ---------------------------------------------------


def v4_to_halves(
    addr: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """IPv4 uint32 addresses to IPv4-mapped (hi, lo) halves."""
    lo = V4MAPPED_LO_PREFIX | addr.astype(np.uint64)
    return np.zeros(len(addr), np.uint64), lo


def is_v4mapped(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    mapped: npt.NDArray[np.bool_] = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
    return mapped


def format_addr(hi: int, lo: int) -> str:
    """One address as text (for reports): dotted quad for IPv4-mapped, RFC 5952 for IPv6."""
    return _format_addr(int(hi), int(lo))


@functools.lru_cache(maxsize=1 << 16)
def _format_addr(hi: int, lo: int) -> str:
    # cached: a report names the same few endpoints thousands of times
    if hi == 0 and (lo >> 32) == 0xFFFF:  # dotted quad, 20x cheaper than ipaddress's
        return f"{(lo >> 24) & 255}.{(lo >> 16) & 255}.{(lo >> 8) & 255}.{lo & 255}"
    return _v6_text((hi << 64) | lo)


def _v6_text(x: int) -> str:
    """RFC 5952 text, as `ipaddress.IPv6Address` writes it, without building one: lower
    case hex groups, the longest run of two or more zero groups (the first of equals)
    written ``::``."""
    h = f"{x:032x}"
    groups = [h[k : k + 4].lstrip("0") or "0" for k in range(0, 32, 4)]
    best, best_len, run = -1, 1, 0
    for k, g in enumerate(groups):
        run = run + 1 if g == "0" else 0
        if run > best_len:
            best, best_len = k - run + 1, run
    if best < 0:
        return ":".join(groups)
    return ":".join(groups[:best]) + "::" + ":".join(groups[best + best_len :])


def parse_addr(text: str) -> tuple[int, int]:
    """Text address to (hi, lo) halves in the table's convention."""
    import ipaddress

    a = ipaddress.ip_address(text)
    if a.version == 4:
        return 0, 0x0000_FFFF_0000_0000 | int(a)
    v = int(a)
    return v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF
