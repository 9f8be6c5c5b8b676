"""Flow numbering: whole table (`number_flows`) and chunk by chunk (`FlowIndex`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture.table import PacketTable, Status, TableBuilder
from pathsleuth.pipeline import keep_tcp_rows
from pathsleuth.tcp.columns import DERIVED_DTYPES, TCP_COLUMNS, tcp_mask
from pathsleuth.tcp.connections import build_connections, tcp_rows
from pathsleuth.tcp.flows import FLOW_COLUMNS, FlowIndex, Flows, number_flows
from tcp.tables import tcp_streams


def _flows_table(nflows: int, seed: int) -> tuple[PacketTable, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Packets of `nflows` 4-tuples over few addresses (so ports decide), each packet in
    either direction; returns the table and the (address, port) ends of each packet."""
    rng = np.random.default_rng(seed)
    n = 2 * nflows + 50
    ends = rng.integers(0, 6, size=(nflows, 2))
    ports = rng.integers(1, 65536, size=(nflows, 2))
    pick = rng.integers(0, nflows, size=n)
    flip = rng.integers(0, 2, size=n).astype(bool)
    a = np.where(flip, ends[pick, 1], ends[pick, 0]).astype(np.uint64)
    b = np.where(flip, ends[pick, 0], ends[pick, 1]).astype(np.uint64)
    pa = np.where(flip, ports[pick, 1], ports[pick, 0]).astype(np.uint16)
    pb = np.where(flip, ports[pick, 0], ports[pick, 1]).astype(np.uint16)
    t = PacketTable.empty(n)
    c = t.columns
    c["ip_version"][:] = 4
    c["proto"][:] = 6
    c["src_lo"][:], c["dst_lo"][:], c["sport"][:], c["dport"][:] = a, b, pa, pb
    return t, np.stack([a, pa], 1), np.stack([b, pb], 1)


@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_flow_numbering_by_first_appearance_past_table_growth(nflows: int, seed: int) -> None:
    """Canonical 4-tuples are numbered by first appearance, also once the table has
    doubled several times (more than 512 flows), and two flows never merge."""
    table, src, dst = _flows_table(nflows, seed)
    fid, src_is_lo, keys = number_flows(table, np.arange(len(table)))
    seen: dict[tuple[int, ...], int] = {}
    for i in range(len(table)):
        s, d = (0, int(src[i, 0]), int(src[i, 1])), (0, int(dst[i, 0]), int(dst[i, 1]))
        assert bool(src_is_lo[i]) == (s <= d)
        key = (s + d) if s <= d else (d + s)
        assert fid[i] == seen.setdefault(key, len(seen)), i
    assert len(keys) == len(seen)
    for key, f in seen.items():  # each flow's key: the smaller endpoint first
        assert tuple(int(v) for v in keys[f]) == (key[0], key[1], key[2], key[3], key[4], key[5])


def _chunked(table: PacketTable, cuts: list[int]) -> list[PacketTable]:
    bounds = [0, *sorted({min(c, len(table)) for c in cuts}), len(table)]
    return [table.take(np.arange(lo, hi)) for lo, hi in itertools.pairwise(bounds)]


def _streamed(table: PacketTable, cuts: list[int]) -> tuple[PacketTable, Flows]:
    """What `analyze_paths` keeps of `table` read in chunks cut at `cuts`, by the same
    `keep_tcp_rows`: the TCP rows (the derived columns made chunk by chunk), with the flow
    numbers `FlowIndex` gave them alongside, moved out into `Flows`."""
    index = FlowIndex()
    builder = TableBuilder(TCP_COLUMNS + FLOW_COLUMNS, DERIVED_DTYPES)
    for chunk in _chunked(table, cuts):
        keep_tcp_rows(builder, index, chunk, tcp_mask(chunk))
    kept = builder.finish()
    flows = index.take(kept)
    assert set(kept.columns) == set(TCP_COLUMNS) or len(kept) == 0
    return kept, flows


@st.composite
def mixed_streams(draw: st.DrawFn) -> PacketTable:
    """TCP streams with some rows made UDP (not kept) or malformed (kept, not usable)."""
    table = draw(tcp_streams())
    n = len(table)
    kinds = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=n, max_size=n))
    k = np.array(kinds, np.int64)
    c = table.columns
    c["proto"][k == 1] = 17
    c["status"][k == 2] |= np.uint8(Status.MALFORMED)
    return table


@given(mixed_streams(), st.lists(st.integers(0, 200), max_size=6))
@settings(max_examples=200, deadline=None)
def test_chunk_by_chunk_numbering_is_the_whole_table_numbering(
    table: PacketTable, cuts: list[int]
) -> None:
    kept, flows = _streamed(table, cuts)
    rows = tcp_rows(kept)
    fid, src_is_lo, keys = number_flows(kept, rows)
    assert len(flows.fid) == len(kept)
    np.testing.assert_array_equal(flows.keys, keys)
    np.testing.assert_array_equal(flows.fid[rows], fid)
    np.testing.assert_array_equal(flows.src_is_lo[rows], src_is_lo)
    unusable = np.setdiff1d(np.arange(len(kept)), rows)
    assert (flows.fid[unusable] == -1).all()


@given(st.integers(600, 2000), st.integers(0, 2**32 - 1), st.lists(st.integers(0, 5000)))
@settings(max_examples=15, deadline=None)
def test_chunk_by_chunk_numbering_past_table_growth(
    nflows: int, seed: int, cuts: list[int]
) -> None:
    """The table grows (more than 512 flows) between chunks as well as inside one."""
    table, _, _ = _flows_table(nflows, seed)
    kept, flows = _streamed(table, cuts)
    fid, src_is_lo, keys = number_flows(kept, np.arange(len(kept)))
    np.testing.assert_array_equal(flows.keys, keys)
    np.testing.assert_array_equal(flows.fid, fid)
    np.testing.assert_array_equal(flows.src_is_lo, src_is_lo)


@given(mixed_streams(), st.lists(st.integers(0, 200), max_size=6))
@settings(max_examples=100, deadline=None)
def test_connections_from_streamed_flows_are_the_same(table: PacketTable, cuts: list[int]) -> None:
    kept, flows = _streamed(table, cuts)
    with_flows = build_connections(kept, flows=flows)
    alone = build_connections(kept)
    assert with_flows.n_conn == alone.n_conn
    for part in ("p", "c", "h"):
        a, b = getattr(with_flows, part), getattr(alone, part)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{part}[{k}]")


def test_nothing_kept_gives_no_flows() -> None:
    table, _, _ = _flows_table(10, 1)
    table.columns["proto"][:] = 17
    kept, flows = _streamed(table, [3, 7])
    assert len(kept) == 0 and set(kept.columns) == set(TCP_COLUMNS)
    assert (len(flows.fid), len(flows.src_is_lo), flows.n) == (0, 0, 0)
    assert flows.fid.dtype == np.int64 and flows.src_is_lo.dtype == np.bool_
    assert build_connections(kept, flows=flows).n_conn == 0


def test_flow_numbers_for_another_table_are_refused() -> None:
    table, _, _ = _flows_table(5, 2)
    _, flows = _streamed(table.take(np.arange(3)), [])
    with pytest.raises(ValueError, match="flow numbers for 3 rows"):
        build_connections(table, flows=flows)
