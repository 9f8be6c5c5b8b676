"""Connection grouping, orientation, port reuse and sequence unwrapping."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture.table import PacketTable, Status, TcpFlag
from pathsleuth.tcp.connections import ConnectionTable, build_connections, tcp_rows
from tcp.grouped import first_index, first_of_group, unwrap32
from tcp.tables import Conv, make_table, tcp_streams


def test_two_directions_one_connection_oriented_by_syn() -> None:
    c = Conv()
    c.handshake(0.0)
    c.send("c", 0.1, 100)
    c.ack("s", 0.2)
    ct = build_connections(c.table())
    assert ct.n_conn == 1
    assert ct.c["cli_port"].tolist() == [51064]
    assert ct.c["srv_port"].tolist() == [25]
    # half 0 = initiator -> responder: the SYN, the ACK and the data
    assert ct.p["dir"].tolist() == [0, 0, 0, 1, 1]
    assert ct.h["base"].tolist() == [c.cisn, c.sisn]
    assert ct.h["mss"].tolist() == [1460, 1460]


def test_port_reuse_with_new_isn_splits() -> None:
    a = Conv(cisn=1000)
    a.handshake(0.0)
    a.fin("c", 0.1)
    b = Conv(cisn=900000)
    b.handshake(5.0)
    b.send("c", 5.1, 10)
    ct = build_connections(a.table(b))
    assert ct.n_conn == 2
    assert ct.h["base"][0::2].tolist() == [1000, 900000]


def test_syn_retransmission_does_not_split() -> None:
    c = Conv()
    c.handshake(1.0)
    row = dict(c.rows[0], t=0.0)
    c.rows.insert(0, row)  # the same SYN sent a second earlier
    ct = build_connections(c.table())
    assert ct.n_conn == 1


def test_unwrap_across_2_32() -> None:
    c = Conv(cisn=(1 << 32) - 10)
    c.handshake(0.0)
    c.send("c", 0.1, 100)
    c.send("c", 0.2, 100)
    ct = build_connections(c.table())
    sl = ct.half_slice(0)
    assert ct.p["rel_seq"][sl].tolist() == [0, 1, 1, 101]
    assert ct.p["end"][sl].tolist()[-1] == 201
    # the server's ACKs of that data unwrap in the client's space
    c.ack("s", 0.3)
    ct = build_connections(c.table())
    assert ct.p["rel_ack"][ct.half_slice(1)].tolist()[-1] == 201


def test_mid_connection_without_handshake_guesses_server_by_port() -> None:
    c = Conv()
    c.nxt = {"c": 5000, "s": 9000}
    c.send("s", 0.0, 100)
    c.ack("c", 0.1)
    ct = build_connections(c.table())
    assert not bool(ct.c["oriented"][0])
    assert int(ct.c["srv_port"][0]) == 25
    assert ct.h["base"].tolist() == [5000, 9000]
    assert not ct.h["isn_seen"].any()


def test_unusable_packets_are_left_out() -> None:
    c = Conv()
    c.handshake(0.0)
    t = c.table()
    t.columns["status"][1] = Status.TRUNCATED
    assert tcp_rows(t).tolist() == [0, 2]
    ct = build_connections(t)
    assert len(ct.p["row"]) == 2


def test_empty_table() -> None:
    ct = build_connections(make_table([]))
    assert ct.n_conn == 0
    assert len(ct.p["row"]) == 0


def test_many_connections_sorted_by_half_and_row() -> None:
    convs = []
    for i in range(50):
        c = Conv(cport=40000 + i, cisn=1000 * i)
        c.handshake(i * 0.01)
        c.send("c", i * 0.01 + 0.5, 10)
        convs.append(c)
    ct = build_connections(convs[0].table(*convs[1:]))
    assert ct.n_conn == 50
    key = ct.p["half"] * 10**9 + ct.p["row"]
    assert np.all(np.diff(key) > 0)


@given(
    st.lists(
        st.tuples(st.integers(0, (1 << 32) - 1), st.integers(1, 3000), st.floats(0, 5)),
        min_size=1,
        max_size=6,
    )
)
def test_property_grouping_and_unwrap(convs: list[tuple[int, int, float]]) -> None:
    """Whatever the ISNs (wrap included) and the interleaving, each conversation is one
    connection and every segment's relative seq is its byte offset from the ISN."""
    cs = []
    for i, (isn, size, t0) in enumerate(convs):
        c = Conv(cport=20000 + i, cisn=isn)
        c.handshake(t0, 0.01)
        for k in range(4):
            c.send("c", t0 + 0.1 + k * 0.01, size)
        c.ack("s", t0 + 0.2)
        cs.append(c)
    ct = build_connections(cs[0].table(*cs[1:]))
    assert ct.n_conn == len(convs)
    for conn in range(ct.n_conn):
        sl = ct.half_slice(2 * conn)
        port = int(ct.c["cli_port"][conn])
        size = convs[port - 20000][1]
        data = ct.p["payload_len"][sl] > 0
        assert ct.p["rel_seq"][sl][data].tolist() == [1 + k * size for k in range(4)]
        back = ct.half_slice(2 * conn + 1)
        assert ct.p["rel_ack"][back].tolist()[-1] == 1 + 4 * size


def test_lazy_columns_follow_connection_order() -> None:
    c = Conv()
    c.handshake(0.0)
    c.send("c", 0.1, 10)
    c.ack("s", 0.2)
    t = c.table()
    ct = build_connections(t)
    assert "ip_id" not in ct.p
    assert ct.p["ip_id"].tolist() == t.ip_id[ct.p["row"]].tolist()
    assert ct.p["frame"].tolist() == [1, 3, 4, 2, 5]
    try:
        ct.p["no_such_column"]
    except KeyError:
        pass
    else:
        raise AssertionError("unknown column must raise KeyError")


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 3), st.integers(1, 3)),
        min_size=1,
        max_size=80,
    )
)
def test_property_flows_are_unordered_endpoint_pairs(pkts: list[tuple[int, int, int, int]]) -> None:
    """Without SYNs nothing splits: one connection per unordered pair of (address, port)
    endpoints, whichever direction each packet goes, and every connection's packets carry
    its two endpoints."""
    from pathsleuth.capture.table import PacketTable, empty_columns

    addrs = [(0, 0xFFFF_0000_0000 | 0x0A000001), (0, 0xFFFF_0000_0000 | 0x0A000002)]
    addrs += [(0x20010DB8 << 32, 1), (0x20010DB8 << 32, 2)]  # high halves differ from v4
    n = len(pkts)
    cols = empty_columns(n)
    cols["frame"][:] = np.arange(1, n + 1)
    cols["ip_version"][:] = 4
    cols["proto"][:] = 6
    cols["tcp_flags"][:] = 0x10
    for i, (a, b, sp, dp) in enumerate(pkts):
        cols["src_hi"][i], cols["src_lo"][i] = addrs[a]
        cols["dst_hi"][i], cols["dst_lo"][i] = addrs[b]
        cols["sport"][i], cols["dport"][i] = sp, dp
    ct = build_connections(PacketTable(cols))
    pairs = {frozenset([(a, sp), (b, dp)]) for a, b, sp, dp in pkts}
    assert ct.n_conn == len(pairs)
    for conn in range(ct.n_conn):
        ends = {
            (int(ct.c["cli_hi"][conn]), int(ct.c["cli_lo"][conn]), int(ct.c["cli_port"][conn])),
            (int(ct.c["srv_hi"][conn]), int(ct.c["srv_lo"][conn]), int(ct.c["srv_port"][conn])),
        }
        rows = ct.p["row"][ct.p["conn"] == conn]
        for r in rows.tolist():
            a, b, sp, dp = pkts[r]
            assert {(*addrs[a], sp), (*addrs[b], dp)} == ends


def _unwrap_with_grouped_arrays(ct: ConnectionTable) -> dict[str, np.ndarray]:
    """The whole-array formulation `connections._unwrap_halves` replaced."""
    p, h, nh = ct.p, ct.h, ct.n_half
    half, flags = p["half"], p["flags"]
    start, present = h["start"], h["present"]
    seq = p["seq"].astype(np.int64)
    syn = (flags & int(TcpFlag.SYN)) != 0
    fi_syn = first_index(syn, half, nh)
    base_idx = np.where(fi_syn >= 0, fi_syn, np.where(present, start, -1))
    base = np.where(base_idx >= 0, seq[np.clip(base_idx, 0, None)], 0)
    rel = unwrap32(seq, half, base[half[first_of_group(half)]])
    seg_len = p["payload_len"].astype(np.int64) + syn + ((flags & int(TcpFlag.FIN)) != 0)
    ackf = (flags & int(TcpFlag.ACK)) != 0
    ai = np.flatnonzero(ackf)
    rel_ack = np.zeros(len(seq), dtype=np.int64)
    if len(ai):
        ack, ah = p["ack"][ai], half[ai]
        afirst = np.flatnonzero(first_of_group(ah))
        other = ah[afirst] ^ 1
        other_base = np.where(present[other], base[other], ack[afirst])
        rel_ack[ai] = unwrap32(ack, ah, other_base)
    return {
        "syn_idx": fi_syn,
        "base": base,
        "rel_seq": rel,
        "seg_len": seg_len,
        "end": rel + seg_len,
        "ackf": ackf,
        "rel_ack": rel_ack,
    }


@given(tcp_streams())
@settings(max_examples=300, deadline=None)  # the first example compiles (or loads) numba
def test_unwrap_kernel_matches_the_grouped_formulation(table: PacketTable) -> None:
    ct = build_connections(table)
    for key, want in _unwrap_with_grouped_arrays(ct).items():
        got = ct.h[key] if key in ("syn_idx", "base") else ct.p[key]
        np.testing.assert_array_equal(got, want, err_msg=key)
        assert got.dtype == want.dtype, key


def _split_with_whole_arrays(
    fid: np.ndarray, flags: np.ndarray, seq: np.ndarray, src_is_lo: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The whole-array formulation `connections._split_flows` replaced (inputs in flow
    order)."""
    syn, ack = int(TcpFlag.SYN), int(TcpFlag.ACK)
    n = len(fid)
    flow_start = first_of_group(fid)
    pos = np.arange(n, dtype=np.int64)
    flow_first = np.maximum.accumulate(np.where(flow_start, pos, 0))
    syn_only = ((flags & syn) != 0) & ((flags & ack) == 0)
    last_syn = np.maximum.accumulate(np.where(syn_only, pos, -1))
    prev_syn = np.concatenate(([-1], last_syn[:-1]))
    has_prev_syn = prev_syn >= flow_first
    ps = np.clip(prev_syn, 0, None)
    new_isn = has_prev_syn & ((seq != seq[ps]) | (src_is_lo != src_is_lo[ps]))
    closing = ((flags & int(TcpFlag.FIN | TcpFlag.RST)) != 0).astype(np.int64)
    cum_close = np.cumsum(closing) - closing
    closed_before = (cum_close - cum_close[flow_first]) > 0
    conn_start = flow_start | (syn_only & (new_isn | (~has_prev_syn & closed_before)))
    conn = np.cumsum(conn_start) - 1
    nc = int(conn[-1]) + 1
    synack = ((flags & syn) != 0) & ((flags & ack) != 0)
    return (
        conn,
        np.flatnonzero(conn_start),
        first_index(syn_only, conn, nc),
        first_index(synack, conn, nc),
    )


@given(tcp_streams())
@settings(max_examples=300, deadline=None)
def test_flow_split_kernel_matches_the_whole_array_formulation(table: PacketTable) -> None:
    from pathsleuth.tcp.connections import _split_flows, _stable_order
    from pathsleuth.tcp.flows import number_flows

    tc = table.columns
    rows = tcp_rows(table)
    n = len(rows)
    fid, src_is_lo, keys = number_flows(table, rows)
    order = _stable_order(fid, len(keys))
    conn = np.empty(n, np.int64)
    per_conn = [np.empty(n, np.int64) for _ in range(3)]
    nc = _split_flows(order, rows, tc["tcp_flags"], tc["seq"], fid, src_is_lo, conn, *per_conn)
    r = rows[order]
    want = _split_with_whole_arrays(
        fid[order], tc["tcp_flags"][r].astype(np.int64), tc["seq"][r], src_is_lo[order]
    )
    np.testing.assert_array_equal(conn, want[0])
    for got, expected in zip(per_conn, want[1:], strict=True):
        np.testing.assert_array_equal(got[:nc], expected)


@given(tcp_streams())
@settings(max_examples=100, deadline=None)
def test_connections_built_on_two_threads_are_the_same(table: PacketTable) -> None:
    """The gathers and the unwrapping run on two threads for large captures (two
    connection ranges for the unwrapping): the same table as on one."""
    from pathsleuth.tcp import groups

    one = build_connections(table)
    saved = groups.PARALLEL_MIN_PACKETS
    groups.PARALLEL_MIN_PACKETS = 0
    try:
        two = build_connections(table)
    finally:
        groups.PARALLEL_MIN_PACKETS = saved
    for part in ("p", "c", "h"):
        a, b = getattr(one, part), getattr(two, part)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{part}[{k}]")
            assert a[k].dtype == b[k].dtype
