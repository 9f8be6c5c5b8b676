"""LINKTYPE_* values (tcpdump.org/linktypes.html) the capture engine knows, and which it decodes.

Readers store the link type of each frame's interface in `RecordBatch.linktype`; the
dissector's walk kernel dispatches on these numbers. `SUPPORTED` is the set the dissector
decodes; any other link type gets `Status.UNSUPPORTED_LINK` and `name()` for the message.
"""

from __future__ import annotations

#: BSD loopback: 4-byte address family in the *capturing host's* byte order
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
#: PPP (RFC 1661): optional 0xFF 0x03 address/control, 1- or 2-byte protocol
LINKTYPE_PPP = 9
#: DLT_RAW as numbered on most BSDs / Linux libpcap before LINKTYPE_RAW existed
DLT_RAW_12 = 12
#: DLT_RAW as numbered on OpenBSD
DLT_RAW_14 = 14
#: PPP in HDLC-like framing (RFC 1662): same header as LINKTYPE_PPP in captures
LINKTYPE_PPP_HDLC = 50
#: raw IPv4 or IPv6, version taken from the first nibble
LINKTYPE_RAW = 101
#: OpenBSD loopback: 4-byte address family in network byte order
LINKTYPE_LOOP = 108
#: Linux "cooked" capture v1 (16-byte header, protocol at offset 14)
LINKTYPE_LINUX_SLL = 113
#: raw IPv4 only / raw IPv6 only
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
#: Linux "cooked" capture v2 (20-byte header, protocol at offset 0)
LINKTYPE_LINUX_SLL2 = 276

NAMES: dict[int, str] = {
    LINKTYPE_NULL: "NULL (BSD loopback)",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_PPP: "PPP",
    DLT_RAW_12: "raw IP (DLT_RAW 12)",
    DLT_RAW_14: "raw IP (DLT_RAW 14)",
    LINKTYPE_PPP_HDLC: "PPP in HDLC framing",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_LOOP: "LOOP (OpenBSD loopback)",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
    # well-known but not decoded: named so an error message can say what it is
    6: "IEEE 802.5 Token Ring",
    105: "IEEE 802.11",
    127: "IEEE 802.11 + radiotap",
    143: "DOCSIS",
    147: "user-defined (147)",
    187: "Bluetooth HCI H4",
    192: "PPI",
    195: "IEEE 802.15.4",
    220: "USB Linux mmapped",
    249: "Netlink",
    252: "Wireshark upper PDU",
}

SUPPORTED: frozenset[int] = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_PPP,
        DLT_RAW_12,
        DLT_RAW_14,
        LINKTYPE_PPP_HDLC,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
    }
)

#: BSD address families that mean IPv6 in a NULL/LOOP header: NetBSD/OpenBSD 24,
#: FreeBSD 28, Darwin 30 (the capturing OS decides, so all three are accepted)
AF_INET = 2
AF_INET6_VALUES: tuple[int, ...] = (24, 28, 30)


def name(linktype: int) -> str:
    """Human name of a link type, e.g. for "unsupported link type 105 (IEEE 802.11)"."""
    return NAMES.get(int(linktype), f"LINKTYPE {int(linktype)}")


def is_supported(linktype: int) -> bool:
    return int(linktype) in SUPPORTED


def supported_text() -> str:
    """The decoded link types in one line, for error messages."""
    return ", ".join(NAMES[k] for k in sorted(SUPPORTED))
