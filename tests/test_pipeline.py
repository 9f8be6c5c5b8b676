"""pipeline: the kept table's first capacity, guessed from the first chunk."""

from __future__ import annotations

import numpy as np

from pathsleuth.capture.table import PacketTable, TableBuilder
from pathsleuth.pipeline import RECORD_OVERHEAD, _expected_rows


def _chunk(n: int, cap_len: int) -> PacketTable:
    t = PacketTable.empty(n)
    t.columns["cap_len"][:] = cap_len
    return t


def test_expected_rows_scale_the_first_chunk_to_the_file() -> None:
    chunk = _chunk(10, 100)
    keep = np.arange(10) % 2 == 0  # 5 of 10 rows kept
    size = 10 * (100 + RECORD_OVERHEAD)
    # the file is 10 such chunks: 50 rows kept, guessed 5% high
    assert _expected_rows(10 * size, chunk, keep) == int(50 * 1.05)
    assert _expected_rows(10 * size, chunk, None) == int(100 * 1.05)


def test_no_guess_without_a_size_or_kept_rows() -> None:
    chunk = _chunk(10, 100)
    assert _expected_rows(None, chunk, None) == 0  # compressed input or a pipe
    assert _expected_rows(10_000, chunk, np.zeros(10, bool)) == 0
    assert _expected_rows(10_000, _chunk(0, 0), None) == 0


def test_reserve_sets_the_first_capacity_within_its_cap() -> None:
    b = TableBuilder(("frame",))
    b.reserve(5000)
    b.append(_chunk(3, 60))
    assert b._cap >= 5000 and len(b) == 3
    huge = TableBuilder(("frame",))
    huge.reserve(1 << 40)  # a wild guess costs at most MAX_RESERVED_ROWS of address space
    huge.append(_chunk(1, 60))
    assert huge._cap == TableBuilder.MAX_RESERVED_ROWS
    late = TableBuilder(("frame",))
    late.append(_chunk(1, 60))
    late.reserve(1 << 24)  # after the first rows: no effect
    assert late._cap == TableBuilder.INITIAL_ROWS
