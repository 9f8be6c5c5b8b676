"""Per-direction analysis: retransmission kinds, gaps, dup ACKs, acknowledged sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

from pathsleuth.capture.table import PacketTable
from pathsleuth.tcp.connections import ConnectionTable, build_connections
from pathsleuth.tcp.directions import analyse_directions, initial_ttl
from tcp.tables import Conv


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
    assert int(ct.h["max_seg_sent"][0]) == 1460
    assert int(ct.h["max_payload_captured"][0]) == 2896


def test_ttl_hops() -> None:
    assert initial_ttl(np.array([1, 54, 64, 65, 116, 128, 200, 255])).tolist() == [
        64, 64, 64, 128, 128, 128, 255, 255,
    ]  # fmt: skip
    c = Conv(s_ttl=116)
    c.handshake(0.0)
    ct = _ct(c.table())
    assert ct.h["hops"].tolist() == [0, 12]
