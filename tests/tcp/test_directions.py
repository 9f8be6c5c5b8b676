"""Per-direction analysis: retransmission kinds, gaps, dup ACKs, acknowledged sizes."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture.table import PacketTable
from pathsleuth.tcp import connections
from pathsleuth.tcp.connections import ConnectionTable, build_connections
from pathsleuth.tcp.directions import analyse_directions, initial_ttl, nearest_initial_ttl
from tcp import directions_reference as reference
from tcp.directions_reference import _karn_clean
from tcp.tables import Conv, tcp_streams


def _ct(t: PacketTable) -> ConnectionTable:
    ct = build_connections(t)
    analyse_directions(ct)
    return ct


def _flag_frames(ct: ConnectionTable, name: str) -> list[int]:
    return sorted(int(f) for f in ct.p["frame"][ct.p[name]])


def _frame_of(t: PacketTable, row: dict[str, Any]) -> int:
    m = (
        (t.ts_ns == round(row["t"] * 1e9))
        & (t.seq == row["seq"])
        & (t.payload_len == row["payload_len"])
    )
    return int(t.frame[m][0])


def test_timeout_retransmission_and_stuck_ack() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    c.send("c", 0.2, 100)
    c.ack("s", 0.3)
    big = c.send("c", 0.4, 1448)
    c.ack("s", 0.5, big["seq"])
    r = c.send("c", 1.0, 1448, seq=big["seq"])
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "retrans") == [_frame_of(t, r)]
    assert _flag_frames(ct, "timeout") == [_frame_of(t, r)]
    assert int(ct.h["stuck_acks"][0]) == 1
    assert int(ct.h["max_seg_acked"][0]) == 100
    assert int(ct.h["max_seg_sent"][0]) == 1448


def test_fast_retransmission_after_dup_acks_and_spurious() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    segs = [c.send("c", 0.2 + i * 0.001, 1000) for i in range(5)]
    for i in range(3):
        c.ack("s", 0.3 + i * 0.001, segs[1]["seq"])
    fr = c.send("c", 0.31, 1000, seq=segs[1]["seq"])
    c.ack("s", 0.4)
    sp = c.send("c", 0.41, 1000, seq=segs[1]["seq"])  # already acknowledged
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "fast") == [_frame_of(t, fr)]
    assert _flag_frames(ct, "spurious") == [_frame_of(t, sp)]
    assert int(ct.h["dupacks"][1]) == 2  # the 2nd and 3rd ACK at the same number
    # the original of the fast-retransmitted segment is not "acknowledged"
    acked = set(_flag_frames(ct, "acked"))
    assert _frame_of(t, segs[1]) not in acked
    assert _frame_of(t, fr) in acked


def _sack_recovery(c: Conv) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The lab's `loss` trace (Linux, SACK, RACK): ten segments in flight, the 3rd lost;
    one ACK stays at it while its SACK blocks cover the 4th..10th, and the sender resends
    it 0.1 ms later, after a single duplicate ACK."""
    c.handshake(0.0, 0.001)
    segs = [c.send("c", 0.01 + i * 1e-6, 1448, flags="A") for i in range(10)]
    hole = segs[2]["seq"]
    c.ack("s", 0.0110, segs[2]["seq"])
    # a window update (the window differs: not a duplicate), then one duplicate ACK
    c.ack("s", 0.0111, hole, sack=[(segs[3]["seq"], segs[5]["seq"])], window=60000)
    c.ack("s", 0.0112, hole, sack=[(segs[3]["seq"], segs[9]["seq"] + 1448)], window=60000)
    return segs, c.send("c", 0.0113, 1448, seq=hole, flags="A")


def test_retransmission_after_sack_blocks_beyond_it_is_fast() -> None:
    c = Conv()
    _segs, resend = _sack_recovery(c)
    c.ack("s", 0.0120)
    t = c.table()
    ct = _ct(t)
    assert int(ct.h["dupacks"][1]) == 1  # one duplicate ACK only: fewer than two
    assert _flag_frames(ct, "fast") == [_frame_of(t, resend)]
    assert _flag_frames(ct, "early") == []


def test_sack_blocks_older_than_the_previous_transmission_do_not_make_it_fast() -> None:
    """The fast resend is lost too; the sender's timer resends it again 0.3 s later with
    nothing new from the peer: a timeout, although the last ACK's SACK still covers more."""
    c = Conv()
    segs, resend = _sack_recovery(c)
    again = c.send("c", 0.3113, 1448, seq=segs[2]["seq"], flags="A")
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "fast") == [_frame_of(t, resend)]
    assert _flag_frames(ct, "timeout") == [_frame_of(t, again)]


def test_a_resend_a_later_d_sack_reports_as_a_duplicate_is_spurious() -> None:
    """suricata-verify bug-5881-01's shape: the 2nd segment is lost, the sender resends
    it at once (early), then again when an ACK SACKs the 3rd (fast); the early copy had
    arrived, and the peer's D-SACK (below its ACK) says so: the fast resend was spurious.
    A D-SACK block that covers only part of a resend, or came before it, marks nothing."""
    c = Conv()
    c.handshake(0.0, 0.04)
    a, b, d = (c.send("c", 0.1 + i * 1e-4, n, flags="A") for i, n in enumerate((80, 1448, 506)))
    early = c.send("c", 0.105, 1448, seq=b["seq"], flags="A")
    c.ack("s", 0.14, b["seq"], sack=[(d["seq"], d["seq"] + 506)])
    fast = c.send("c", 0.141, 1448, seq=b["seq"], flags="A")
    c.ack("s", 0.145)  # everything, the early copy having filled the hole
    c.ack("s", 0.181, sack=[(b["seq"], b["seq"] + 1448)])  # D-SACK: the fast copy, twice
    c.ack("s", 0.182, sack=[(a["seq"], b["seq"] + 1000)])  # covers no resend whole
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "fast") == [_frame_of(t, fast)]
    assert _flag_frames(ct, "early") == [_frame_of(t, early)]
    assert _flag_frames(ct, "dsacked") == [_frame_of(t, fast)]
    assert _flag_frames(ct, "spurious") == [_frame_of(t, fast)]
    # and redundant: the early resend had carried the same bytes before it
    assert _flag_frames(ct, "redundant") == [_frame_of(t, fast)]
    assert int(ct.h["spurious_retrans"][0]) == 1


def test_sack_blocks_that_do_not_reach_past_the_segment_leave_it_early() -> None:
    """Blocks below the segment's end (and a D-SACK below the ACK) are no evidence that
    it was lost: the resend 1 ms later stays early (a tail-loss probe, say)."""
    c = Conv()
    c.handshake(0.0, 0.001)
    segs = [c.send("c", 0.01 + i * 1e-6, 1448, flags="A") for i in range(3)]
    first = segs[0]["seq"]
    c.ack("s", 0.0110, segs[1]["seq"], sack=[(first, segs[1]["seq"])])  # D-SACK
    c.ack("s", 0.0111, segs[1]["seq"], sack=[(segs[1]["seq"] + 100, segs[1]["seq"] + 1000)])
    r = c.send("c", 0.0120, 1448, seq=segs[2]["seq"], flags="A")
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "early") == [_frame_of(t, r)]
    assert _flag_frames(ct, "fast") == []


def test_gap_and_gap_fill_are_not_retransmissions() -> None:
    c = Conv()
    c.handshake(0.0, 0.1, at="s")
    a = c.send("c", 0.2, 500)
    hole = c.nxt["c"]
    c.nxt["c"] += 500  # not captured
    b = c.send("c", 0.21, 500)
    f = c.send("c", 0.5, 500, seq=hole)  # arrives late
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "hole") == [_frame_of(t, b)]
    assert _flag_frames(ct, "gapfill") == [_frame_of(t, f)]
    assert _flag_frames(ct, "retrans") == []
    assert _frame_of(t, a)


def test_resegmented_retransmission_counts() -> None:
    c = Conv()
    c.handshake(0.0, 0.05)
    first = c.send("c", 0.1, 1448)
    c.send("c", 0.1001, 500)
    r = c.send("c", 0.5, 1000, seq=first["seq"] + 200)  # overlaps, different start
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "retrans") == [_frame_of(t, r)]


def test_ack_after_a_resegmented_resend_is_not_credited_to_the_original() -> None:
    """tcp_mtu_probing's recovery: two 1448-byte segments vanish, their bytes are resent
    as 1024 + 1024 + 848 (the second original's start is never resent as such), then one
    ACK covers all. Karn: that ACK may be for the copies, so the largest segment
    acknowledged is 1024, not 1448."""
    c = Conv()
    c.handshake(0.0, 0.05)
    c.send("c", 0.1, 100)
    c.ack("s", 0.15)
    first = c.send("c", 0.2, 1448)
    second = c.send("c", 0.2001, 1448)
    for k, size in enumerate((1024, 1024, 848)):
        c.send("c", 1.2 + k * 1e-4, size, seq=first["seq"] + 1024 * k)
    c.ack("s", 1.25)
    t = c.table()
    ct = _ct(t)
    assert _frame_of(t, second) in _flag_frames(ct, "acked")  # an ACK covers it ...
    assert _frame_of(t, second) not in _flag_frames(ct, "acked_clean")  # ... maybe a copy's
    assert int(ct.h["max_seg_acked"][0]) == 1024


def test_resend_of_other_bytes_before_the_ack_leaves_it_clean() -> None:
    """Plain loss recovery: A vanishes, B arrives, A is resent, one ACK covers both. The
    resend does not overlap B, so B demonstrably got through at 1448 bytes; A's original
    did not (the ACK may be for its copy), the copy did."""
    c = Conv()
    c.handshake(0.0, 0.05)
    a = c.send("c", 0.1, 1448)
    b = c.send("c", 0.1001, 1448)
    again = c.send("c", 1.1, 1448, seq=a["seq"])
    c.ack("s", 1.15)
    t = c.table()
    ct = _ct(t)
    clean = sorted(int(f) for f in ct.p["frame"][ct.p["acked_clean"] & (ct.p["payload_len"] > 0)])
    assert clean == [_frame_of(t, b), _frame_of(t, again)]
    assert int(ct.h["max_seg_acked"][0]) == 1448


def test_keepalive_and_zero_window() -> None:
    c = Conv()
    c.handshake(0.0, 0.05)
    c.send("c", 0.1, 100)
    c.ack("s", 0.2, window=0)
    ka = c.send("c", 10.0, 1, seq=c.nxt["c"] - 1)
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "keepalive") == [_frame_of(t, ka)]
    assert _flag_frames(ct, "retrans") == []
    assert int(ct.h["zero_windows"][1]) == 1


def test_tso_super_segment_on_wire_size() -> None:
    c = Conv()
    c.handshake(0.0, 0.05)
    s = c.send("c", 0.1, 2896)
    c.ack("s", 0.2)
    t = c.table()
    ct = _ct(t)
    assert _flag_frames(ct, "super_seg") == [_frame_of(t, s)]
    # the NIC cuts at the MSS less the 12 option bytes each segment carries (timestamps)
    assert int(ct.h["max_seg_sent"][0]) == 1448
    assert int(ct.h["max_payload_captured"][0]) == 2896


def test_ttl_hops() -> None:
    ttls = [1, 54, 64, 65, 116, 128, 200, 255]
    want = [64, 64, 64, 128, 128, 128, 255, 255]
    assert initial_ttl(np.array(ttls)).tolist() == want
    assert [nearest_initial_ttl(t) for t in ttls] == want
    c = Conv(s_ttl=116)
    c.handshake(0.0)
    ct = _ct(c.table())
    assert ct.h["hops"].tolist() == [0, 12]


def _halves_and_rows(draw: st.DrawFn, n: int, max_half: int) -> tuple[np.ndarray, np.ndarray]:
    """n packets' halves (0..max_half, sorted) and capture rows, rows increasing within
    each half, as in ConnectionTable.p."""
    half = np.sort(np.array(draw(st.lists(st.integers(0, max_half), min_size=n, max_size=n))))
    row = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    for h in np.unique(half):
        m = half == h
        row[m] = np.sort(row[m])
    return half, row


@st.composite
def _transmissions(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Random packets of a few halves, sorted by (half, row): sequence ranges, resend
    flags, and for some an ACK row later in the capture."""
    n = draw(st.integers(1, 40))
    half, row = _halves_and_rows(draw, n, 2)
    rel = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=np.int64)
    size = np.array(draw(st.lists(st.integers(1, 6), min_size=n, max_size=n)), dtype=np.int64)
    resend = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    acked = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    # the covering ACK: some packet whose row is later (any half stands in for the peer)
    ack_pos = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(acked):
        later = np.flatnonzero(row > row[i])
        if len(later) == 0:
            acked[i] = False
        else:
            ack_pos[i] = draw(st.sampled_from(later.tolist()))
    return acked, ack_pos, resend, half.astype(np.int64), row, rel, rel + size


@given(_transmissions())
@settings(deadline=None)  # the first example compiles (or loads) the numba kernels
def test_karn_clean_matches_the_definition(args: tuple[np.ndarray, ...]) -> None:
    """Clean = acknowledged, and no resend in the same half overlapping its bytes was sent
    after it and before the row of its covering ACK."""
    acked, ack_pos, resend, half, row, rel, end = args
    got = _karn_clean(acked, ack_pos, resend, half, row, rel, end)
    for i in range(len(half)):
        expected = bool(acked[i]) and not any(
            resend[j]
            and half[j] == half[i]
            and row[i] < row[j] < row[ack_pos[i]]
            and rel[j] < end[i]
            and end[j] > rel[i]
            for j in range(len(half))
        )
        assert bool(got[i]) == expected, i


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(-(1 << 40), 1 << 40)), max_size=50),
    st.booleans(),
)
def test_order_by_half_then_value_is_a_stable_lexsort(
    xs: list[tuple[int, int]], huge: bool
) -> None:
    from tcp.directions_reference import _by_half_then_value

    xs = sorted(xs, key=lambda x: x[0])  # input is in (half, capture order) order
    g = np.array([x[0] for x in xs], dtype=np.int64)
    v = np.array([x[1] for x in xs], dtype=np.int64)
    if huge and len(v):  # keys beyond 62 bits take the lexsort path
        v[0] = -(1 << 62)
        v[-1] = 1 << 62
    want = np.lexsort((np.arange(len(g)), v, g))
    np.testing.assert_array_equal(_by_half_then_value(g, v), want)


@st.composite
def _two_way(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Packets of a few connections sorted by (half, capture order), with the fields the
    covering-ACK search reads."""
    n = draw(st.integers(1, 60))
    half, row = _halves_and_rows(draw, n, 5)
    end = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), dtype=np.int64)
    ackf = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    acks = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), dtype=np.int64)
    seqspace = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    spurious = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    next_same = np.array(
        draw(st.lists(st.integers(-1, n - 1), min_size=n, max_size=n)), dtype=np.int64
    )
    return half.astype(np.int64), row, end, ackf, acks, seqspace, next_same, spurious


@given(_two_way())
@settings(deadline=None)
def test_covering_acks_match_the_grouped_searches(args: tuple[np.ndarray, ...]) -> None:
    """The fused kernel against the whole-array formulation it replaced."""
    from pathsleuth.tcp.groups import group_bounds
    from tcp.directions_reference import _covering_acks
    from tcp.grouped import grouped_searchsorted, in_group, seg_cummax, take_or

    half, row, end, ackf, acks, seqspace, next_same, spurious = args
    n = len(half)
    cumack = seg_cummax(np.where(ackf, acks, -1), half)
    ack_pos = np.full(n, -1, dtype=np.int64)
    acked = np.zeros(n, dtype=bool)
    bounds = group_bounds(half, int(half.max()) + 2 - int(half.max()) % 2)
    _covering_acks(
        half, row, end, ackf, cumack, seqspace, next_same, spurious, *bounds, ack_pos, acked
    )

    ai = np.flatnonzero(ackf)
    a_half, a_cum, a_row = half[ai], cumack[ai], row[ai]
    ti = np.flatnonzero(seqspace)
    tq = half[ti] ^ 1
    by_val = grouped_searchsorted(a_half, a_cum, tq, end[ti], side="left")
    by_row = grouped_searchsorted(a_half, a_row, tq, row[ti], side="right")
    both = in_group(by_val, a_half, tq) & in_group(by_row, a_half, tq)
    aidx = np.maximum(by_val, by_row)
    want_pos = np.full(n, -1, dtype=np.int64)
    want_pos[ti[both]] = ai[aidx[both]]
    nxt = next_same[ti]
    sup = (nxt >= 0) & (row[np.clip(nxt, 0, None)] < take_or(row, want_pos[ti], both, 0))
    want_acked = np.zeros(n, dtype=bool)
    want_acked[ti] = both & ~sup & ~spurious[ti]
    np.testing.assert_array_equal(ack_pos, want_pos)
    np.testing.assert_array_equal(acked, want_acked)


@given(_two_way())
@settings(deadline=None)
def test_peer_before_matches_the_grouped_search(args: tuple[np.ndarray, ...]) -> None:
    """Last packet of the opposite half captured before each packet (-1 when none)."""
    from pathsleuth.tcp.groups import group_bounds
    from tcp.directions_reference import _peer_before
    from tcp.grouped import grouped_searchsorted, in_group

    half, row = args[0], args[1]
    pred = grouped_searchsorted(half, row, half ^ 1, row, side="left") - 1
    want = np.where(in_group(pred, half, half ^ 1), pred, -1)
    bounds = group_bounds(half, int(half.max()) + 2 - int(half.max()) % 2)
    np.testing.assert_array_equal(_peer_before(half, row, *bounds), want)


@given(tcp_streams())
@settings(max_examples=300, deadline=None)
def test_fused_pass_matches_the_whole_array_formulation(table: PacketTable) -> None:
    """Every per-packet flag and per-half counter of the numba pass equals the NumPy
    formulation it replaced (`tests/tcp/directions_reference.py`)."""
    got = build_connections(table)
    want = build_connections(table)
    analyse_directions(got)
    reference.analyse_directions(want)
    # the reference's intermediate columns: the pass keeps them in per-connection scratch
    # (what they feed, rtx_elapsed, peer_cumack_before, ack_pos and the flags, is compared)
    intermediate = {"prev_tx", "cumack"}
    derived = set(connections._DERIVED)  # present once asked for (the reference asks)
    assert set(got.p) - derived == set(want.p) - intermediate - derived
    assert set(got.h) == set(want.h)
    for key in set(want.p) - intermediate:
        np.testing.assert_array_equal(got.p[key], want.p[key], err_msg=f"p[{key!r}]")
        assert got.p[key].dtype == want.p[key].dtype, key
    for key in want.h:
        np.testing.assert_array_equal(got.h[key], want.h[key], err_msg=f"h[{key!r}]")


@given(tcp_streams())
@settings(max_examples=150, deadline=None)
def test_connections_split_across_threads_give_the_same_result(table: PacketTable) -> None:
    """The per-connection pass run as two concurrent ranges (as for large captures)
    writes exactly what one pass over all connections writes."""
    from pathsleuth.tcp import groups

    one, two = build_connections(table), build_connections(table)
    analyse_directions(one)
    saved = groups.PARALLEL_MIN_PACKETS
    groups.PARALLEL_MIN_PACKETS = 0
    try:
        ranges = groups.connection_ranges(two.h["start"], two.n_conn, len(two.p["half"]))
        analyse_directions(two)
    finally:
        groups.PARALLEL_MIN_PACKETS = saved
    if two.n_conn >= 2 and len(os.sched_getaffinity(0)) >= 2:
        assert len(ranges) == 2 and ranges[0][1] == ranges[1][0]
    for key in one.p:
        np.testing.assert_array_equal(one.p[key], two.p[key], err_msg=key)
    for key in one.h:
        np.testing.assert_array_equal(one.h[key], two.h[key], err_msg=key)
