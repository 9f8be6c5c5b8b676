"""Build frames byte by byte: the packets of tests, fuzz seeds, benchmarks' warm-up.

Every supported link type (`frame`, `ethernet` with any stack of VLAN tags, PPPoE session,
MPLS labels), IPv4 with options and fragment fields, IPv6 with extension headers, IP-in-IP,
TCP with options, UDP, and ICMP / ICMPv6 errors that quote a packet. Checksums are
correct. Functions take keyword arguments with defaults, return `bytes`, and never touch
the network. Not a hot path: clarity over speed.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

from pathsleuth.capture import linktypes as LT

#: TCP flag letters, in the order tcpdump prints them
_FLAG_BITS = {
    "F": 0x01,
    "S": 0x02,
    "R": 0x04,
    "P": 0x08,
    "A": 0x10,
    "U": 0x20,
    "E": 0x40,
    "C": 0x80,
}

TcpOption = tuple[str, object]
"""("mss", 1460), ("wscale", 7), ("sackok", None), ("sack", [(l, r), ...]),
("ts", (val, ecr)), ("nop", None), ("eol", None), ("raw", (kind, bytes))"""


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _addr(a: str) -> bytes:
    return ipaddress.ip_address(a).packed


def tcp_options(options: Sequence[TcpOption]) -> bytes:
    out = b""
    for kind, val in options:
        if kind == "mss":
            out += struct.pack("!BBH", 2, 4, int(val))  # type: ignore[call-overload]
        elif kind == "wscale":
            out += struct.pack("!BBB", 3, 3, int(val))  # type: ignore[call-overload]
        elif kind == "sackok":
            out += b"\x04\x02"
        elif kind == "sack":
            blocks = list(val)  # type: ignore[call-overload]
            out += struct.pack("!BB", 5, 2 + 8 * len(blocks))
            out += b"".join(struct.pack("!II", l_, r_) for l_, r_ in blocks)
        elif kind == "ts":
            assert isinstance(val, tuple)
            out += struct.pack("!BBII", 8, 10, val[0], val[1])
        elif kind == "nop":
            out += b"\x01"
        elif kind == "eol":
            out += b"\x00"
        elif kind == "raw":
            assert isinstance(val, tuple)
            out += struct.pack("!BB", val[0], 2 + len(val[1])) + val[1]
        else:
            raise ValueError(f"unknown TCP option {kind!r}")
    return out + b"\0" * (-len(out) % 4)


def tcp_segment(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    *,
    seq: int = 0,
    ack: int = 0,
    flags: str | int = "A",
    window: int = 65535,
    options: Sequence[TcpOption] = (),
    payload: bytes = b"",
) -> bytes:
    """TCP header + payload with the checksum over the pseudo-header of src/dst."""
    fl = flags if isinstance(flags, int) else sum(_FLAG_BITS[c] for c in flags)
    opts = tcp_options(options)
    off = (20 + len(opts)) // 4
    hdr = (
        struct.pack(
            "!HHIIHHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            (off << 12) | (fl & 0xFFF),
            window,
            0,
            0,
        )
        + opts
    )
    seg = hdr + payload
    return seg[:16] + struct.pack("!H", checksum(_pseudo(src, dst, 6, len(seg)) + seg)) + seg[18:]


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    d = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(_pseudo(src, dst, 17, len(d)) + d) or 0xFFFF
    return d[:6] + struct.pack("!H", c) + d[8:]


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    s, d = _addr(src), _addr(dst)
    if len(s) == 4:
        return s + d + struct.pack("!BBH", 0, proto, length)
    return s + d + struct.pack("!IxxxB", length, proto)


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    ttl: int = 64,
    df: bool = True,
    ip_id: int = 1,
    mf: bool = False,
    frag_offset: int = 0,
    options: bytes = b"",
    total_length: int | None = None,
    tos: int = 0,
) -> bytes:
    """IPv4 header (+ options, padded) and payload; `total_length` may lie on purpose."""
    opts = options + b"\0" * (-len(options) % 4)
    ihl = 5 + len(opts) // 4
    tot = total_length if total_length is not None else ihl * 4 + len(payload)
    fw = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset & 0x1FFF)
    hdr = (
        struct.pack(
            "!BBHHHBBH4s4s", 0x40 | ihl, tos, tot, ip_id, fw, ttl, proto, 0, _addr(src), _addr(dst)
        )
        + opts
    )
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    hop_limit: int = 64,
    ext: Sequence[tuple[int, bytes]] = (),
    flow: int = 0,
) -> bytes:
    """IPv6 header, extension headers (given as (type, body-after-next-header)), payload.

    For hop-by-hop / routing / destination options the body is padded to 8n-2 bytes; a
    fragment header's body is its 6 remaining bytes (see `ipv6_fragment_body`).
    """
    chain = b""
    types = [t for t, _ in ext] + [proto]
    for (t, body), nxt in zip(ext, types[1:], strict=True):
        if t == 44:
            chain += struct.pack("!BB", nxt, 0) + body
        elif t == 51:  # AH: length in 4-byte units minus 2
            chain += struct.pack("!BB", nxt, (len(body) + 2) // 4 - 2) + body
        else:
            body = body + b"\0" * (-(len(body) + 2) % 8)
            chain += struct.pack("!BB", nxt, (len(body) + 2) // 8 - 1) + body
    first = types[0]
    data = chain + payload
    return (
        struct.pack(
            "!IHBB16s16s",
            0x60000000 | (flow & 0xFFFFF),
            len(data),
            first,
            hop_limit,
            _addr(src),
            _addr(dst),
        )
        + data
    )


def ipv6_fragment_body(offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!HI", (offset << 3) | int(more), ident)


def ip(src: str, dst: str, proto: int, payload: bytes, **kw: object) -> bytes:
    """IPv4 or IPv6 by the address family of `src`."""
    if ipaddress.ip_address(src).version == 4:
        return ipv4(src, dst, proto, payload, **kw)  # type: ignore[arg-type]
    kw.pop("df", None)
    ttl = kw.pop("ttl", None)
    if ttl is not None:
        kw["hop_limit"] = ttl
    return ipv6(src, dst, proto, payload, **kw)  # type: ignore[arg-type]


def tcp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    *,
    seq: int = 0,
    ack: int = 0,
    flags: str | int = "A",
    window: int = 65535,
    options: Sequence[TcpOption] = (),
    payload: bytes = b"",
    payload_len: int | None = None,
    **ip_kw: object,
) -> bytes:
    """A whole IP packet carrying a TCP segment (family from `src`)."""
    if payload_len is not None:
        payload = bytes(payload_len)
    seg = tcp_segment(
        src,
        dst,
        sport,
        dport,
        seq=seq,
        ack=ack,
        flags=flags,
        window=window,
        options=options,
        payload=payload,
    )
    return ip(src, dst, 6, seg, **ip_kw)


tcp4 = tcp
tcp6 = tcp


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"", **ip_kw: object) -> bytes:
    return ip(src, dst, 17, udp_datagram(src, dst, sport, dport, payload), **ip_kw)


def icmp4(
    src: str,
    dst: str,
    typ: int,
    code: int,
    rest: bytes = b"\0\0\0\0",
    body: bytes = b"",
    **ip_kw: object,
) -> bytes:
    msg = struct.pack("!BBH", typ, code, 0) + rest + body
    msg = msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]
    ip_kw.setdefault("df", False)
    return ipv4(src, dst, 1, msg, **ip_kw)  # type: ignore[arg-type]


def icmp6(
    src: str,
    dst: str,
    typ: int,
    code: int,
    rest: bytes = b"\0\0\0\0",
    body: bytes = b"",
    **ip_kw: object,
) -> bytes:
    msg = struct.pack("!BBH", typ, code, 0) + rest + body
    c = checksum(_pseudo(src, dst, 58, len(msg)) + msg)
    msg = msg[:2] + struct.pack("!H", c) + msg[4:]
    return ipv6(src, dst, 58, msg, **ip_kw)  # type: ignore[arg-type]


#: RFC 1812 section 4.3.2.3: routers quote as much of the packet as fits in 576 bytes
QUOTE_LEN_V4 = 576 - 28
#: RFC 4443 section 3: as much as fits in the IPv6 minimum MTU
QUOTE_LEN_V6 = 1280 - 48


def frag_needed(
    router: str,
    dst: str,
    mtu: int,
    quoted: bytes,
    *,
    quote_len: int = QUOTE_LEN_V4,
    **ip_kw: object,
) -> bytes:
    """ICMP type 3 code 4 (RFC 1191) quoting the first `quote_len` bytes of `quoted`."""
    return icmp4(router, dst, 3, 4, struct.pack("!HH", 0, mtu), quoted[:quote_len], **ip_kw)


def packet_too_big(
    router: str,
    dst: str,
    mtu: int,
    quoted: bytes,
    *,
    quote_len: int = QUOTE_LEN_V6,
    **ip_kw: object,
) -> bytes:
    """ICMPv6 type 2 (RFC 4443 section 3.2)."""
    return icmp6(router, dst, 2, 0, struct.pack("!I", mtu), quoted[:quote_len], **ip_kw)


def time_exceeded(
    router: str, dst: str, quoted: bytes, *, quote_len: int | None = None, **ip_kw: object
) -> bytes:
    if ipaddress.ip_address(router).version == 4:
        return icmp4(router, dst, 11, 0, b"\0" * 4, quoted[: quote_len or QUOTE_LEN_V4], **ip_kw)
    return icmp6(router, dst, 3, 0, b"\0" * 4, quoted[: quote_len or QUOTE_LEN_V6], **ip_kw)


def unreachable(router: str, dst: str, code: int, quoted: bytes, **ip_kw: object) -> bytes:
    if ipaddress.ip_address(router).version == 4:
        return icmp4(router, dst, 3, code, b"\0" * 4, quoted[:QUOTE_LEN_V4], **ip_kw)
    return icmp6(router, dst, 1, code, b"\0" * 4, quoted[:QUOTE_LEN_V6], **ip_kw)


def echo(
    src: str,
    dst: str,
    *,
    reply: bool = False,
    ident: int = 1,
    seq: int = 1,
    payload: bytes = b"\0" * 56,
) -> bytes:
    rest = struct.pack("!HH", ident, seq)
    if ipaddress.ip_address(src).version == 4:
        return icmp4(src, dst, 0 if reply else 8, 0, rest, payload)
    return icmp6(src, dst, 129 if reply else 128, 0, rest, payload)


def tunnel(outer_src: str, outer_dst: str, inner: bytes, **ip_kw: object) -> bytes:
    """IP-in-IP (proto 4), 6in4 (41), 4in6 (4) or 6in6 (41) around `inner`."""
    proto = 4 if inner[0] >> 4 == 4 else 41
    return ip(outer_src, outer_dst, proto, inner, **ip_kw)


# ---- link layer ----------------------------------------------------------------------

ETH_DST = bytes.fromhex("020000000002")
ETH_SRC = bytes.fromhex("020000000001")


def ethernet(
    payload: bytes,
    ethertype: int | None = None,
    *,
    vlans: Sequence[int | tuple[int, int]] = (),
    pppoe: int | None = None,
    mpls: Sequence[int] = (),
    dst: bytes = ETH_DST,
    src: bytes = ETH_SRC,
    pad_to: int = 60,
) -> bytes:
    """Ethernet II frame. `vlans`: VIDs (802.1Q) or (tpid, vid); `pppoe`: session id;
    `mpls`: labels (bottom of stack last). The EtherType defaults from the IP version."""
    ver = payload[0] >> 4 if payload else 0
    inner_et = ethertype if ethertype is not None else (0x86DD if ver == 6 else 0x0800)
    body = payload
    if mpls:
        stack = b"".join(
            struct.pack("!I", (lab << 12) | (int(i == len(mpls) - 1) << 8) | 64)
            for i, lab in enumerate(mpls)
        )
        body = stack + body
        inner_et = 0x8847
    if pppoe is not None:
        proto = 0x0281 if mpls else (0x0057 if ver == 6 else 0x0021)
        body = struct.pack("!BBHHH", 0x11, 0, pppoe, len(body) + 2, proto) + body
        inner_et = 0x8864
    tags = b""
    tpids = []
    for v in vlans:
        tpid, vid = v if isinstance(v, tuple) else (0x8100, v)
        tpids.append((tpid, vid))
    for i, (_tpid, vid) in enumerate(tpids):
        nxt = tpids[i + 1][0] if i + 1 < len(tpids) else inner_et
        tags += struct.pack("!HH", vid & 0xFFF, nxt)
    first = tpids[0][0] if tpids else inner_et
    frame = dst + src + struct.pack("!H", first) + tags + body
    return frame + b"\0" * max(0, pad_to - len(frame))


def frame(linktype: int, packet: bytes, **kw: object) -> bytes:
    """`packet` (an IP packet) framed for `linktype`."""
    ver = packet[0] >> 4 if packet else 4
    et = 0x86DD if ver == 6 else 0x0800
    if linktype == LT.LINKTYPE_ETHERNET:
        return ethernet(packet, **kw)  # type: ignore[arg-type]
    if linktype in (
        LT.LINKTYPE_RAW,
        LT.DLT_RAW_12,
        LT.DLT_RAW_14,
        LT.LINKTYPE_IPV4,
        LT.LINKTYPE_IPV6,
    ):
        return packet
    if linktype == LT.LINKTYPE_LINUX_SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, ETH_SRC + b"\0\0", et) + packet
    if linktype == LT.LINKTYPE_LINUX_SLL2:
        return struct.pack("!HHIHBB8s", et, 0, 2, 1, 0, 6, ETH_SRC + b"\0\0") + packet
    if linktype == LT.LINKTYPE_NULL:
        af = 2 if ver == 4 else int(kw.get("af6", 24))  # type: ignore[call-overload]
        order = "<" if kw.get("little", True) else ">"
        return struct.pack(f"{order}I", af) + packet
    if linktype == LT.LINKTYPE_LOOP:
        return struct.pack("!I", 2 if ver == 4 else 24) + packet
    if linktype in (LT.LINKTYPE_PPP, LT.LINKTYPE_PPP_HDLC):
        proto = 0x0057 if ver == 6 else 0x0021
        head = b"\xff\x03" if kw.get("address_control", True) else b""
        if kw.get("compress_protocol", False):
            return head + bytes([proto]) + packet
        return head + struct.pack("!H", proto) + packet
    raise ValueError(f"craft.frame: no framing for link type {linktype} ({LT.name(linktype)})")
