"""`TableBuilder`: appending chunks equals concatenating their selected rows; address text."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.capture.table import (
    PacketTable,
    TableBuilder,
    concat,
    empty_columns,
    format_addr,
    parse_addr,
)

NAMES = ("frame", "src_hi", "df", "sack_left")


def chunk(start: int, n: int) -> PacketTable:
    cols = empty_columns(n)
    cols["frame"][:] = np.arange(start, start + n)
    cols["src_hi"][:] = np.arange(n, dtype=np.uint64) * np.uint64(7) + np.uint64(start)
    cols["df"][:] = np.arange(n) % 3 == 0
    cols["sack_left"][:] = np.arange(4 * n, dtype=np.uint32).reshape(n, 4)
    return PacketTable(cols)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3000), st.booleans()), max_size=12),
    st.booleans(),
    st.integers(0, 5000),
)
def test_append_equals_concat_of_the_kept_rows(
    parts: list[tuple[int, bool]], with_extra: bool, reserved: int
) -> None:
    """Also with an `extra` column (not a schema column) kept alongside the rows, and
    whatever capacity was reserved (too little, enough or more)."""
    names = NAMES + (("tag",) if with_extra else ())
    b = TableBuilder(names)
    b.INITIAL_ROWS = 16  # so that the columns grow several times
    b.reserve(reserved)
    expect = []
    start = 1
    for n, masked in parts:
        t = chunk(start, n)
        start += n
        rows = (t.frame % 2 == 0) if masked else None
        tag = {"tag": t.frame.astype(np.int64) * 3} if with_extra else None
        b.append(t, rows, extra=tag)
        full = PacketTable({**t.columns, **(tag or {})})
        kept = full if rows is None else full.take(rows)
        expect.append(PacketTable({k: kept.columns[k] for k in names}))
    got = b.finish()
    if not any(len(e) for e in expect):  # nothing appended: the schema's columns only
        assert set(got.columns) == set(NAMES) and len(got) == 0
        return
    want = concat(expect)
    assert set(got.columns) == set(names)
    assert len(got) == len(want) == len(b) + len(got)  # the builder is empty after finish
    for k in names:
        assert got.columns[k].dtype == want.columns[k].dtype
        np.testing.assert_array_equal(got.columns[k], want.columns[k])


def test_a_builder_given_the_extra_dtypes_finishes_empty_with_them() -> None:
    names = (*NAMES, "tag")
    assert set(TableBuilder(names).finish().columns) == set(NAMES)
    got = TableBuilder(names, {"tag": np.int64}).finish()
    assert set(got.columns) == set(names) and len(got) == 0
    assert got.columns["tag"].dtype == np.int64


@settings(max_examples=500)
@given(
    st.one_of(
        st.ip_addresses(),
        # runs of zero groups of every length and place, where RFC 5952 is subtle
        st.lists(st.sampled_from([0, 0, 0, 1, 0xABC, 0xFFFF]), min_size=8, max_size=8).map(
            lambda g: ipaddress.IPv6Address(sum(v << (112 - 16 * i) for i, v in enumerate(g)))
        ),
    )
)
def test_format_addr_is_ipaddress_text(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """The dotted-quad fast path and the IPv6 path both give `ipaddress`'s text (an
    IPv4-mapped IPv6 address is the table's IPv4 convention, so it reads as IPv4)."""
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    assert format_addr(*parse_addr(str(addr))) == str(mapped or addr)
