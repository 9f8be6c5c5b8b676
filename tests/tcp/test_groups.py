"""Grouped NumPy primitives against straightforward Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tcp.grouped import (
    first_index,
    group_max,
    group_min,
    grouped_searchsorted,
    in_group,
    last_index,
    seg_cummax,
    seg_cumsum,
    signed32,
)

groups_and_values = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-(1 << 33), 1 << 33)), min_size=0, max_size=60
).map(lambda xs: sorted(xs, key=lambda x: x[0]))


def _split(xs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    g = np.array([x[0] for x in xs], dtype=np.int64)
    v = np.array([x[1] for x in xs], dtype=np.int64)
    return g, v


@given(groups_and_values)
def test_seg_cummax_and_cumsum_match_reference(xs: list[tuple[int, int]]) -> None:
    g, v = _split(xs)
    inc = seg_cummax(v, g)
    exc = seg_cummax(v, g, exclusive=True, fill=-7)
    cs = seg_cumsum(v, g)
    for i in range(len(xs)):
        same = [j for j in range(i + 1) if g[j] == g[i]]
        assert inc[i] == max(v[j] for j in same)
        assert cs[i] == sum(int(v[j]) for j in same)
        before = same[:-1]
        assert exc[i] == (max(v[j] for j in before) if before else -7)


@given(
    groups_and_values,
    st.lists(st.tuples(st.integers(0, 5), st.integers(-(1 << 33), 1 << 33)), max_size=20),
    st.sampled_from(["left", "right"]),
)
def test_grouped_searchsorted(
    xs: list[tuple[int, int]], qs: list[tuple[int, int]], side: str
) -> None:
    xs = sorted(xs)
    tg, tv = _split(xs)
    qg, qv = _split(qs)
    idx = grouped_searchsorted(tg, tv, qg, qv, side=side)
    ok = in_group(idx, tg, qg)
    for k, (g, v) in enumerate(qs):
        cands = [
            j for j, (a, b) in enumerate(xs) if a == g and (b >= v if side == "left" else b > v)
        ]
        if cands:
            assert ok[k] and idx[k] == cands[0]
        else:
            assert not ok[k]


def test_signed32_wraps() -> None:
    d = signed32(np.array([5, (1 << 32) - 3, 1 << 31], dtype=np.int64))
    assert d.tolist() == [5, -3, -(1 << 31)]


def test_first_last_min_max_per_group() -> None:
    g = np.array([0, 0, 2, 2, 2], dtype=np.int64)
    m = np.array([False, True, True, False, True])
    v = np.array([9, 3, 7, 1, 5], dtype=np.int64)
    assert first_index(m, g, 3).tolist() == [1, -1, 2]
    assert last_index(m, g, 3).tolist() == [1, -1, 4]
    assert group_max(v, m, g, 3, -1).tolist() == [3, -1, 7]
    assert group_min(v, np.ones(5, bool), g, 3, 99).tolist() == [3, 99, 1]


def test_grouped_searchsorted_general_path_for_huge_values() -> None:
    big = 1 << 61
    tg = np.array([0, 0, 1, 1], dtype=np.int64)
    tv = np.array([-big, big, -big, 5], dtype=np.int64)
    qg = np.array([0, 1, 1], dtype=np.int64)
    qv = np.array([0, 5, 6], dtype=np.int64)
    left = grouped_searchsorted(tg, tv, qg, qv, side="left")
    right = grouped_searchsorted(tg, tv, qg, qv, side="right")
    assert left.tolist() == [1, 3, 4]
    assert right.tolist() == [1, 4, 4]
    assert in_group(left, tg, qg).tolist() == [True, True, False]


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, (1 << 32) - 1)), min_size=0, max_size=60
    ).map(lambda xs: sorted(xs, key=lambda x: x[0])),
    st.lists(st.integers(0, (1 << 32) - 1), min_size=5, max_size=5),
)
def test_unwrap32_is_the_cumulative_signed_step(
    xs: list[tuple[int, int]], bases: list[int]
) -> None:
    from tcp.grouped import first_of_group, unwrap32

    g, v = _split(xs)
    starts = np.flatnonzero(first_of_group(g))
    start_base = np.array([bases[int(g[i])] for i in starts], dtype=np.int64)
    got = unwrap32(v, g, start_base)
    for i in range(len(xs)):
        prev = [j for j in range(i) if g[j] == g[i]]
        step = int(signed32(np.array([v[i] - (v[prev[-1]] if prev else bases[int(g[i])])]))[0])
        want = (int(got[prev[-1]]) if prev else 0) + step
        assert got[i] == want
        assert (int(v[i]) - want - (bases[int(g[i])])) % (1 << 32) == 0  # same residue
