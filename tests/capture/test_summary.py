"""Decode summary: the numba fold against a plain-Python count of the same packets."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture import craft
from pathsleuth.capture import linktypes as LT
from pathsleuth.capture.dissect import dissect
from pathsleuth.capture.records import RecordBatch
from pathsleuth.capture.summary import SummaryBuilder
from pathsleuth.capture.table import PacketTable
from tcp.tables import make_table

HOSTS = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1", "2001:db8::2"]

packet = st.tuples(
    st.sampled_from(["tcp", "udp", "ptb", "echo", "junk"]),
    st.integers(0, len(HOSTS) - 1),
    st.integers(0, len(HOSTS) - 1),
    st.integers(1, 6),
    st.integers(1, 6),
    st.booleans(),
)


def frame(kind: str, a: int, b: int, sp: int, dp: int, flip: bool) -> bytes:
    src, dst = HOSTS[a], HOSTS[b]
    if (":" in src) != (":" in dst):
        dst = HOSTS[3] if ":" in src else HOSTS[0]
    if flip:
        src, dst, sp, dp = dst, src, dp, sp
    six = ":" in src
    if kind == "tcp":
        return craft.tcp(src, dst, sp, dp)
    if kind == "udp":
        return craft.udp(src, dst, sp, dp)
    if kind == "ptb":
        quoted = craft.tcp(dst, src, dp, sp, payload_len=1400)
        if six:
            return craft.packet_too_big(src, dst, 1280, quoted)
        return craft.frag_needed(src, dst, 1400, quoted)
    if kind == "echo":
        return craft.echo(src, dst)
    return b"\x45\x00\x00"  # truncated IPv4 header: counted as malformed


def chunks(frames: list[bytes], size: int) -> list[PacketTable]:
    return [
        dissect(RecordBatch.from_frames(frames[i : i + size], LT.LINKTYPE_RAW, first_frame=i + 1))
        for i in range(0, len(frames), size)
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(packet, max_size=120), st.integers(1, 50))
def test_fold_counts_what_the_columns_say(pkts: list[tuple], size: int) -> None:  # type: ignore[type-arg]
    frames = [frame(*p) for p in pkts]
    b = SummaryBuilder("x")
    for t in chunks(frames, size):
        b.add(t)
    s = b.finish(None)
    flows = set()
    for kind, a, bb, sp, dp, _flip in pkts:
        if kind == "tcp":
            src, dst = HOSTS[a], HOSTS[bb]
            if (":" in src) != (":" in dst):
                dst = HOSTS[3] if ":" in src else HOSTS[0]
            flows.add(frozenset([(src, sp), (dst, dp)]) if (src, sp) != (dst, dp) else (src, sp))
    kinds = [p[0] for p in pkts]
    assert s.packets == len(pkts)
    assert s.tcp_flows == len(flows)
    assert s.protocols.get("tcp", 0) == kinds.count("tcp")
    assert s.protocols.get("udp", 0) == kinds.count("udp")
    assert s.protocols.get("ptb", 0) == kinds.count("ptb")
    assert s.malformed == kinds.count("junk")
    assert s.malformed_frames == [i + 1 for i, k in enumerate(kinds) if k == "junk"][:20]
    assert s.bytes == sum(len(f) for f in frames)
    assert s.linktypes == ({"raw IP": len(pkts)} if pkts else {})


def test_flow_set_grows_past_its_first_size() -> None:
    """Thousands of distinct flows: the open-addressing set rehashes and keeps count."""
    frames = [
        craft.tcp("192.0.2.1", f"10.0.{i >> 8}.{i & 255}", 1000 + (i % 7), 25) for i in range(5000)
    ]
    frames += frames[:100]  # repeats add nothing
    b = SummaryBuilder("x")
    for t in chunks(frames, 700):
        b.add(t)
    s = b.finish(None)
    assert s.tcp_flows == 5000
    assert s.first_ts_ns == 0 and s.last_ts_ns == 699  # from_frames counts per chunk


_V4 = st.one_of(st.integers(0, 3), st.integers(0, (1 << 32) - 1))
_PORT = st.one_of(st.integers(0, 3), st.integers(0, 65535))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_V4, _PORT, _V4, _PORT), min_size=1, max_size=300))
def test_ipv4_flows_are_counted_exactly(tuples: list[tuple[int, int, int, int]]) -> None:
    """The fold's endpoint key is injective on IPv4 (address, port), so the count of
    direction-free flows is exact, also for neighbouring addresses and ports."""
    rows = [
        dict(
            ip_version=4,
            proto=6,
            src=str(ipaddress.IPv4Address(a)),
            sport=p,
            dst=str(ipaddress.IPv4Address(b)),
            dport=q,
        )
        for a, p, b, q in tuples
    ]
    s = SummaryBuilder("x")
    s.add(make_table(rows))
    assert s.finish(None).tcp_flows == len({frozenset([(a, p), (b, q)]) for a, p, b, q in tuples})
