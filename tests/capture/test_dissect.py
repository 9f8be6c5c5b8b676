"""Dissector: round-trip properties against the frame builder, and the broken cases.

Hypothesis draws a packet description (link type, VLAN/PPPoE/MPLS stack, IPv4 or IPv6 with
extension headers or a tunnel, TCP with options / UDP / an ICMP error quoting a TCP
segment), `craft` builds the bytes, and every decoded column must equal the description.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture import craft
from pathsleuth.capture import linktypes as LT
from pathsleuth.capture.dissect import dissect
from pathsleuth.capture.records import RecordBatch
from pathsleuth.capture.table import PacketTable, Status, format_addr

LINKS = [
    LT.LINKTYPE_ETHERNET,
    LT.LINKTYPE_RAW,
    LT.DLT_RAW_12,
    LT.DLT_RAW_14,
    LT.LINKTYPE_LINUX_SLL,
    LT.LINKTYPE_LINUX_SLL2,
    LT.LINKTYPE_NULL,
    LT.LINKTYPE_LOOP,
    LT.LINKTYPE_PPP,
]


def one(frame: bytes, linktype: int, wire_len: int | None = None) -> PacketTable:
    b = RecordBatch.from_frames([frame], linktype, wire_len=[wire_len] if wire_len else None)
    return dissect(b)


v4 = st.integers(1, 2**32 - 2).map(lambda i: str(ipaddress.IPv4Address(i)))
# IPv4-mapped addresses (::ffff:0:0/96) never appear on the wire (RFC 4291 2.5.5.2) and are
# the table's encoding of IPv4, so the IPv6 strategy leaves them out
v6 = (
    st.integers(1, 2**128 - 2)
    .map(lambda i: ipaddress.IPv6Address(i))
    .filter(lambda a: a.ipv4_mapped is None)
    .map(str)
)
port = st.integers(1, 65535)
u32 = st.integers(0, 2**32 - 1)


@dataclass
class Spec:
    link: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: int
    ttl: int
    df: bool
    mss: int | None
    wscale: int | None
    ts: tuple[int, int] | None
    sack: list[tuple[int, int]]
    vlans: list[int]
    mpls: list[int]
    pppoe: bool
    ext: list[int]
    tunnel: bool


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    six = draw(st.booleans())
    addr = v6 if six else v4
    link = draw(st.sampled_from(LINKS))
    eth = link == LT.LINKTYPE_ETHERNET
    return Spec(
        link=link,
        src=draw(addr),
        dst=draw(addr),
        sport=draw(port),
        dport=draw(port),
        seq=draw(u32),
        ack=draw(u32),
        flags=draw(st.integers(0, 0x1FF)),
        payload=draw(st.integers(0, 1500)),
        ttl=draw(st.integers(1, 255)),
        df=draw(st.booleans()) if not six else False,
        mss=draw(st.none() | st.integers(1, 65535)),
        wscale=draw(st.none() | st.integers(0, 14)),
        ts=draw(st.none() | st.tuples(u32, u32)),
        sack=draw(st.lists(st.tuples(u32, u32), max_size=3)),
        vlans=draw(st.lists(st.integers(1, 4094), max_size=3)) if eth else [],
        mpls=draw(st.lists(st.integers(16, 2**20 - 1), max_size=3)) if eth else [],
        pppoe=draw(st.booleans()) if eth else False,
        ext=draw(st.lists(st.sampled_from([0, 43, 60]), max_size=3)) if six else [],
        tunnel=draw(st.booleans()) and link in (LT.LINKTYPE_RAW, LT.LINKTYPE_ETHERNET),
    )


def build(s: Spec) -> bytes:
    opts: list[craft.TcpOption] = []
    if s.mss is not None:
        opts.append(("mss", s.mss))
    if s.wscale is not None:
        opts.append(("wscale", s.wscale))
    if s.ts is not None:
        opts.append(("ts", s.ts))
    if s.sack and s.ts is None:  # 40 option bytes: TS + 3 SACK blocks would not fit
        opts.append(("sack", s.sack))
    ip_kw: dict[str, object] = {"ttl": s.ttl}
    if ":" not in s.src:
        ip_kw["df"] = s.df
    else:
        ip_kw["ext"] = [(t, b"") for t in s.ext]
    pkt = craft.tcp(
        s.src,
        s.dst,
        s.sport,
        s.dport,
        seq=s.seq,
        ack=s.ack,
        flags=s.flags,
        options=opts,
        payload_len=s.payload,
        **ip_kw,
    )
    if s.tunnel:
        pkt = craft.tunnel("192.0.2.250", "192.0.2.251", pkt)
    if s.link == LT.LINKTYPE_ETHERNET:
        return craft.ethernet(pkt, vlans=s.vlans, mpls=s.mpls, pppoe=0x1234 if s.pppoe else None)
    return craft.frame(s.link, pkt)


@settings(max_examples=300, deadline=None)
@given(specs())
def test_round_trip_tcp(s: Spec) -> None:
    t = one(build(s), s.link)
    assert t.status[0] == 0
    assert t.ip_version[0] == (6 if ":" in s.src else 4)
    assert format_addr(t.src_hi[0], t.src_lo[0]) == str(ipaddress.ip_address(s.src))
    assert format_addr(t.dst_hi[0], t.dst_lo[0]) == str(ipaddress.ip_address(s.dst))
    assert (t.sport[0], t.dport[0], t.seq[0], t.ack[0]) == (s.sport, s.dport, s.seq, s.ack)
    assert t.tcp_flags[0] == s.flags
    assert t.payload_len[0] == s.payload
    assert t.ttl[0] == s.ttl
    assert bool(t.df[0]) == s.df
    assert t.proto[0] == 6
    assert t.opt_mss[0] == (s.mss or 0)
    assert t.opt_wscale[0] == (255 if s.wscale is None else s.wscale)
    assert bool(t.opt_has_ts[0]) == (s.ts is not None)
    if s.ts:
        assert (t.opt_ts_val[0], t.opt_ts_ecr[0]) == s.ts
    if s.sack and s.ts is None:
        n = len(s.sack)
        assert t.sack_count[0] == n
        assert list(zip(t.sack_left[0][:n], t.sack_right[0][:n], strict=True)) == s.sack
    assert t.vlan_depth[0] == len(s.vlans)
    assert t.mpls_depth[0] == len(s.mpls)
    assert bool(t.tunnelled[0]) == s.tunnel


@settings(max_examples=150, deadline=None)
@given(six=st.booleans(), mtu=st.integers(68, 9000), seq=u32, quote=st.integers(8, 600))
def test_icmp_error_quotes_the_flow(six: bool, mtu: int, seq: int, quote: int) -> None:
    a, b, r = (
        ("2001:db8::1", "2001:db8::2", "2001:db8:ff::1")
        if six
        else ("192.0.2.1", "198.51.100.2", "203.0.113.1")
    )
    seg = craft.tcp(a, b, 40000, 25, seq=seq, flags="PA", payload_len=1448)
    hdr = 40 if six else 20
    if six:
        err = craft.packet_too_big(r, a, mtu, seg, quote_len=hdr + quote)
    else:
        err = craft.frag_needed(r, a, mtu, seg, quote_len=hdr + quote)
    t = one(craft.ethernet(err), LT.LINKTYPE_ETHERNET)
    assert t.status[0] == 0
    assert t.icmp_type[0] == (2 if six else 3)
    assert t.icmp_mtu[0] == mtu
    assert format_addr(t.src_hi[0], t.src_lo[0]) == r
    assert t.q_version[0] == (6 if six else 4)
    assert format_addr(t.q_src_hi[0], t.q_src_lo[0]) == a
    assert format_addr(t.q_dst_hi[0], t.q_dst_lo[0]) == b
    assert t.q_ip_len[0] == len(seg)
    assert (t.q_sport[0], t.q_dport[0]) == (40000, 25)
    assert bool(t.q_has_seq[0])
    assert t.q_seq[0] == seq
    assert bool(t.q_df[0]) == (not six)


def test_quote_of_four_transport_bytes_has_ports_but_no_seq() -> None:
    seg = craft.tcp("192.0.2.1", "198.51.100.2", 1, 2, seq=7)
    t = one(
        craft.frame(101, craft.frag_needed("203.0.113.1", "192.0.2.1", 1400, seg, quote_len=24)),
        101,
    )
    assert (t.q_sport[0], t.q_dport[0]) == (1, 2)
    assert not t.q_has_seq[0]


def test_time_exceeded_is_not_a_ptb() -> None:
    seg = craft.tcp("192.0.2.1", "198.51.100.2", 1, 2)
    t = one(craft.frame(1, craft.time_exceeded("203.0.113.1", "192.0.2.1", seg)), 1)
    assert (t.icmp_type[0], t.icmp_mtu[0]) == (11, 0)
    assert t.q_version[0] == 4


def test_udp_and_echo() -> None:
    t = one(craft.frame(1, craft.udp("192.0.2.1", "192.0.2.2", 53, 5353, b"x" * 30)), 1)
    assert (t.proto[0], t.sport[0], t.dport[0], t.payload_len[0]) == (17, 53, 5353, 30)
    t = one(craft.frame(1, craft.echo("2001:db8::1", "2001:db8::2")), 1)
    assert (t.proto[0], t.icmp_type[0], t.q_version[0]) == (58, 128, 0)


def test_ipv4_options_and_fragments() -> None:
    seg = craft.tcp_segment("192.0.2.1", "192.0.2.2", 1, 2, payload=b"a" * 100)
    first = craft.ipv4("192.0.2.1", "192.0.2.2", 6, seg[:64], mf=True, options=b"\x94\x04\0\0")
    later = craft.ipv4("192.0.2.1", "192.0.2.2", 6, seg[64:], frag_offset=8)
    t = dissect(RecordBatch.from_frames([craft.ethernet(first), craft.ethernet(later)], 1))
    assert t.ip_hdr_len[0] == 24 and bool(t.more_fragments[0]) and t.sport[0] == 1
    assert t.status[1] & Status.LATER_FRAGMENT and t.frag_offset[1] == 8 and t.sport[1] == 0


def test_ipv6_fragment_header_fields() -> None:
    seg = craft.tcp_segment("2001:db8::1", "2001:db8::2", 1, 2)
    pkt = craft.ipv6(
        "2001:db8::1",
        "2001:db8::2",
        6,
        seg,
        ext=[(44, craft.ipv6_fragment_body(0, False, 0xABCDEF01))],
    )
    t = one(craft.frame(101, pkt), 101)
    assert t.ip_id[0] == 0xABCDEF01 and t.sport[0] == 1 and t.ip_hdr_len[0] == 48


def test_truncated_and_malformed_are_flagged_not_fatal() -> None:
    good = craft.ethernet(craft.tcp("192.0.2.1", "192.0.2.2", 1, 2, payload_len=100))
    frames = [
        good[:20],  # IPv4 header cut
        good[:40],  # TCP header cut
        good[:60],  # payload cut by the snaplen: fine
        craft.ethernet(craft.ipv4("192.0.2.1", "192.0.2.2", 6, b"\0" * 20, total_length=12336)),
        craft.ethernet(
            craft.ipv4("192.0.2.1", "192.0.2.2", 6, b"\0" * 20)[:0] + bytes([0x43]) + bytes(39)
        ),
        good,
    ]
    wire = [len(good), len(good), len(good), None, None, len(good)]
    b = RecordBatch.from_frames(
        frames, 1, wire_len=[w or len(f) for w, f in zip(wire, frames, strict=True)]
    )
    t = dissect(b)
    assert t.status[0] & Status.TRUNCATED
    assert t.status[1] & Status.TRUNCATED
    assert t.status[2] == Status.PAYLOAD_CUT and t.payload_len[2] == 100
    assert t.status[3] & Status.MALFORMED and t.payload_len[3] == 0  # not an oversize segment
    assert t.status[4] & Status.MALFORMED
    assert t.status[5] == 0


def test_unsupported_link_and_not_ip() -> None:
    t = dissect(RecordBatch.from_frames([b"\0" * 40, craft.ethernet(b"\0" * 28, 0x0806)], [105, 1]))
    assert t.status[0] == Status.UNSUPPORTED_LINK
    assert t.status[1] == Status.NOT_IP


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.sampled_from([*LINKS, 105])), max_size=20))
def test_arbitrary_bytes_never_raise(frames: list[tuple[bytes, int]]) -> None:
    b = RecordBatch.from_frames([f for f, _ in frames], [k for _, k in frames])
    t = dissect(b)
    assert len(t) == len(frames)
    assert np.all(t.payload_len <= np.maximum(t.wire_len, t.cap_len))


@settings(max_examples=100, deadline=None)
@given(u32, u32, st.booleans(), st.sampled_from(["alone", "aligned", "aligned+sack"]))
def test_timestamp_fast_path_agrees_with_the_option_loop(
    val: int, ecr: int, six: bool, layout: str
) -> None:
    """NOP NOP TS (RFC 7323 appendix A) takes a shortcut; every layout must decode alike."""
    opts: list[craft.TcpOption] = [("ts", (val, ecr))]
    if layout != "alone":
        opts = [("nop", None), ("nop", None), *opts]
    if layout == "aligned+sack":
        opts += [("nop", None), ("nop", None), ("sack", [(5, 9)])]
    src, dst = ("2001:db8::1", "2001:db8::2") if six else ("192.0.2.1", "192.0.2.2")
    t = one(craft.tcp(src, dst, 1, 2, seq=3, options=opts, payload_len=7), LT.LINKTYPE_RAW)
    assert t.status[0] == 0 and t.payload_len[0] == 7
    assert bool(t.opt_has_ts[0]) and (t.opt_ts_val[0], t.opt_ts_ecr[0]) == (val, ecr)
    assert t.sack_count[0] == (1 if layout == "aligned+sack" else 0)


def test_columns_follow_the_schema() -> None:
    """Every column has its schema dtype and shape, and is contiguous (block rows)."""
    from pathsleuth.capture.table import COLUMNS

    frames = [craft.frame(LT.LINKTYPE_RAW, craft.tcp("192.0.2.1", "192.0.2.2", 1, 2))] * 3
    t = dissect(RecordBatch.from_frames(frames, LT.LINKTYPE_RAW))
    assert set(t.columns) == {c.name for c in COLUMNS}
    for c in COLUMNS:
        col = t.columns[c.name]
        assert col.dtype == np.dtype(c.dtype), c.name
        assert col.shape == (3, *c.shape), c.name
        assert col.flags.c_contiguous, c.name


def test_kernels_infer_no_float_variables() -> None:
    """numba unifies int64 with uint64 as float64: one such variable made the walk slower
    without changing a result, so the kernels' inferred types are checked (on uncached
    copies: numba cannot inspect code loaded from its cache)."""
    import io

    import numba

    from pathsleuth.capture import dissect as D
    from pathsleuth.capture import pcap, summary

    pkt = craft.frame(LT.LINKTYPE_RAW, craft.tcp("192.0.2.1", "192.0.2.2", 1, 2))
    batch = RecordBatch.from_frames([pkt], LT.LINKTYPE_RAW)
    table = dissect(batch)
    b = np.frombuffer(pkt, np.uint8)
    o = np.zeros(11, np.int64)
    i64, u32 = np.int64, np.uint32
    s = summary.SummaryBuilder("x")
    calls = [
        (D._ip, (b, 0, len(pkt), len(pkt), 4, False, o, False)),
        (D._quote, (b, 0, len(pkt), o, *D.new_blocks(1)[:4], 0)),
        (D._walk, tuple(D._walk_args(batch, D.new_blocks(1)))),
        (
            pcap._walk_records,
            (b, 0, 0, False, 16, 1000, 1, *(np.zeros(1, t) for t in (i64, i64, u32, u32, i64)), 0),
        ),
        (summary._fold, tuple(s._fold_args(table))),
        (
            pcap._dissect_records,
            (b, 0, 0, False, 16, 1000, 1, 1, 1, D.AF6, *D.new_blocks(1), *D.scratch()),
        ),
    ]
    for kernel, args in calls:
        fresh = numba.njit(kernel.py_func)
        fresh(*args)
        out = io.StringIO()
        fresh.inspect_types(file=out)
        floats = [ln.strip() for ln in out.getvalue().splitlines() if ":: float" in ln]
        assert not floats, f"{kernel.__name__}: {floats[:3]}"
