"""Fixed header layouts declared as data, read by the dissector's vectorised extractor.

The idea of dpkt's ``__hdr__`` tables, turned into offset tables: each header is a dict
``field -> Field(offset, dtype, mask, shift)``. `header_dtype` turns one into a NumPy
structured dtype whose ``itemsize`` is the row width the walk kernel copies headers into,
so one ``rows.view(dtype)`` exposes every field of every packet at once; `field_values`
then applies the bit mask/shift for sub-byte fields (IPv4 IHL, TCP data offset, flags).

Nothing here walks packets: variable-length parts (options, extension headers, label
stacks) belong to the walk kernel in `dissect.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Field:
    """One header field: byte offset, big-endian NumPy dtype, then ``(raw >> shift) & mask``."""

    offset: int
    dtype: str
    mask: int = 0
    shift: int = 0


Layout = dict[str, Field]

#: row widths the walk kernel copies headers into (bytes); zero-filled when absent
IP_ROW = 40  # IPv6 fixed header; an IPv4 header's fixed part (20 B) fits
L4_ROW = 20  # TCP fixed header; UDP and ICMP use the first 8 bytes
QL4_ROW = 8  # RFC 792: an ICMP error quotes at least the first 8 transport bytes

#: IPv4 header, RFC 791 section 3.1
IPV4: Layout = {
    "version": Field(0, "u1", 0x0F, 4),
    "ihl": Field(0, "u1", 0x0F, 0),
    "tos": Field(1, "u1"),
    "total_length": Field(2, ">u2"),
    "id": Field(4, ">u2"),
    "df": Field(6, ">u2", 0x1, 14),
    "mf": Field(6, ">u2", 0x1, 13),
    "frag_offset": Field(6, ">u2", 0x1FFF, 0),
    "ttl": Field(8, "u1"),
    "proto": Field(9, "u1"),
    "checksum": Field(10, ">u2"),
    "src": Field(12, ">u4"),
    "dst": Field(16, ">u4"),
}
IPV4_MIN_LEN = 20

#: IPv6 fixed header, RFC 8200 section 3
IPV6: Layout = {
    "version": Field(0, "u1", 0x0F, 4),
    "flow": Field(0, ">u4", 0xFFFFF, 0),
    "payload_length": Field(4, ">u2"),
    "next_header": Field(6, "u1"),
    "hop_limit": Field(7, "u1"),
    "src_hi": Field(8, ">u8"),
    "src_lo": Field(16, ">u8"),
    "dst_hi": Field(24, ">u8"),
    "dst_lo": Field(32, ">u8"),
}
IPV6_LEN = 40

#: IPv6 fragment extension header, RFC 8200 section 4.5
IPV6_FRAG: Layout = {
    "next_header": Field(0, "u1"),
    "frag_offset": Field(2, ">u2", 0x1FFF, 3),
    "mf": Field(2, ">u2", 0x1, 0),
    "id": Field(4, ">u4"),
}
IPV6_FRAG_LEN = 8

#: TCP header, RFC 9293 section 3.1
TCP: Layout = {
    "sport": Field(0, ">u2"),
    "dport": Field(2, ">u2"),
    "seq": Field(4, ">u4"),
    "ack": Field(8, ">u4"),
    "data_offset": Field(12, "u1", 0x0F, 4),
    # 9 flag bits plus the 3 reserved bits (RFC 9293 3.1), kept so that odd packets show
    "flags": Field(12, ">u2", 0xFFF, 0),
    "window": Field(14, ">u2"),
    "checksum": Field(16, ">u2"),
    "urgent": Field(18, ">u2"),
}
TCP_MIN_LEN = 20

#: UDP header, RFC 768
UDP: Layout = {
    "sport": Field(0, ">u2"),
    "dport": Field(2, ">u2"),
    "length": Field(4, ">u2"),
    "checksum": Field(6, ">u2"),
}
UDP_LEN = 8

#: ICMP (RFC 792) and ICMPv6 (RFC 4443) common header plus the 4-byte "rest of header"
ICMP: Layout = {
    "type": Field(0, "u1"),
    "code": Field(1, "u1"),
    "checksum": Field(2, ">u2"),
    # RFC 1191 section 4: next-hop MTU in the low 16 bits of the unused word (type 3 code 4)
    "nexthop_mtu": Field(6, ">u2"),
    # RFC 4443 section 3.2: Packet Too Big carries a 32-bit MTU
    "mtu6": Field(4, ">u4"),
    "id": Field(4, ">u2"),
    "seq": Field(6, ">u2"),
}
ICMP_LEN = 8

#: Ethernet II (IEEE 802.3 with EtherType)
ETHERNET: Layout = {
    "dst": Field(0, "V6"),
    "src": Field(6, "V6"),
    "ethertype": Field(12, ">u2"),
}
ETHERNET_LEN = 14
#: 802.1Q / 802.1ad tag after the TPID: PCP/DEI/VID then the next EtherType
VLAN_TAG_LEN = 4
#: PPPoE session header (RFC 2516 section 4) + 2-byte PPP protocol
PPPOE_LEN = 6
#: one MPLS label stack entry (RFC 3032 section 2.1); bottom-of-stack is bit 8
MPLS_LEN = 4
SLL_LEN = 16
SLL2_LEN = 20
NULL_LEN = 4


def header_dtype(layout: Layout, itemsize: int) -> np.dtype[Any]:
    """Structured dtype exposing every field of `layout` over rows `itemsize` bytes wide.

    Fields sharing an offset (bitfields) would clash in a structured dtype, so each
    distinct (offset, dtype) pair becomes one member named ``"<offset>_<dtype>"``.
    """
    members: dict[str, tuple[int, str]] = {}
    for f in layout.values():
        members[raw_name(f)] = (f.offset, f.dtype)
    return np.dtype(
        {
            "names": list(members),
            "formats": [d for _, d in members.values()],
            "offsets": [o for o, _ in members.values()],
            "itemsize": itemsize,
        }
    )


def raw_name(f: Field) -> str:
    return f"{f.offset}_{f.dtype.replace('>', 'be')}"


def field_values(rows: npt.NDArray[Any], layout: Layout, name: str) -> npt.NDArray[Any]:
    """One field of every row (``rows`` a structured array of `header_dtype(layout)`)."""
    f = layout[name]
    raw: npt.NDArray[Any] = rows[raw_name(f)]
    if f.mask == 0:
        return raw
    kind = raw.dtype.newbyteorder("=")
    shifted: npt.NDArray[Any] = (
        raw.astype(kind) >> kind.type(f.shift) if f.shift else raw.astype(kind)
    )
    masked: npt.NDArray[Any] = shifted & kind.type(f.mask)
    return masked
