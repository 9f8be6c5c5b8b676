"""Numbering TCP 4-tuples (either direction) by first appearance: whole table or streamed.

A flow is the canonical 4-tuple, its lexicographically smaller endpoint (address halves,
then port) first, so both directions get one number; flows are numbered 0, 1, ... in the
order of their first usable packet. `number_flows` numbers the rows of a whole table (what
`tcp.connections.build_connections` does when it is given only a table). `FlowIndex`
numbers a capture chunk by chunk while it is read: `analyze_paths` runs it on the thread
that keeps the rows, which otherwise waits for the reader, keeps the numbers with the
rows, and hands them to `build_connections`, so the numbering costs no time after the
last chunk. Both use one numba kernel over one open-addressing table, so they give the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from pathsleuth.capture.summary import mix64
from pathsleuth.capture.table import PacketTable

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
#: one row per flow: the canonical 4-tuple (smaller endpoint first), `KEY_COLUMNS` order
Keys = npt.NDArray[np.uint64]

#: first size of the flow table (slots; it holds at most half as many flows, then doubles)
INITIAL_SLOTS = 1024
#: the columns a flow key is made of, in the kernel's argument order
KEY_COLUMNS = ("src_hi", "src_lo", "sport", "dst_hi", "dst_lo", "dport")
#: the columns `FlowIndex` adds to the kept rows while a capture is read (not PacketTable
#: schema columns: `FlowIndex.take` removes them before the analysis)
FLOW_COLUMNS = ("flow_id", "flow_src_is_lo")


@numba.njit(cache=True, inline="always")
def _key_hash(a0: Any, a1: Any, a2: Any, b0: Any, b1: Any, b2: Any) -> Any:
    return mix64(mix64(mix64(mix64(mix64(a0) ^ a1) ^ ((a2 << np.uint64(16)) | b2)) ^ b0) ^ b1)


@numba.njit(cache=True, nogil=True)
def _number(
    rows: Any,
    src_hi: Any,
    src_lo: Any,
    sport: Any,
    dst_hi: Any,
    dst_lo: Any,
    dport: Any,
    fid: Any,
    src_is_lo: Any,
    slot: Any,
    keys: Any,
    nflows: int,
) -> tuple[int, Any, Any]:
    """Number packets `rows` into `fid` (and whether the source is the smaller endpoint
    into `src_is_lo`), continuing a table (`slot`, `keys`, `nflows`) that earlier calls
    filled; returns the table, grown when it was half full. Keys are compared exactly, so
    two flows never merge whatever their hashes; the table's size follows the flows, not
    the packets, so it stays in cache."""
    cap = len(slot)
    mask = np.uint64(cap - 1)
    for i in range(len(rows)):
        r = rows[i]
        a0, a1, a2 = src_hi[r], src_lo[r], np.uint64(sport[r])
        b0, b1, b2 = dst_hi[r], dst_lo[r], np.uint64(dport[r])
        # src is "lo" unless dst < src (lexicographic over address halves, then port)
        dst_less = b0 < a0 or (b0 == a0 and (b1 < a1 or (b1 == a1 and b2 < a2)))
        src_is_lo[i] = not dst_less
        if dst_less:
            a0, a1, a2, b0, b1, b2 = b0, b1, b2, a0, a1, a2
        h = _key_hash(a0, a1, a2, b0, b1, b2) & mask
        while True:
            f = slot[h]
            if f < 0:
                if 2 * (nflows + 1) > cap:  # full: double, re-place every flow, probe again
                    cap *= 2
                    mask = np.uint64(cap - 1)
                    grown = np.empty((cap // 2, 6), np.uint64)
                    grown[:nflows] = keys[:nflows]
                    keys = grown
                    slot = np.full(cap, -1, np.int64)
                    for g in range(nflows):
                        k = keys[g]
                        x = _key_hash(k[0], k[1], k[2], k[3], k[4], k[5]) & mask
                        while slot[x] >= 0:
                            x = (x + np.uint64(1)) & mask
                        slot[x] = g
                    h = _key_hash(a0, a1, a2, b0, b1, b2) & mask
                    continue
                slot[h] = nflows
                keys[nflows, 0] = a0
                keys[nflows, 1] = a1
                keys[nflows, 2] = a2
                keys[nflows, 3] = b0
                keys[nflows, 4] = b1
                keys[nflows, 5] = b2
                fid[i] = nflows
                nflows += 1
                break
            k = keys[f]
            if (
                k[0] == a0
                and k[1] == a1
                and k[2] == a2
                and k[3] == b0
                and k[4] == b1
                and k[5] == b2
            ):
                fid[i] = f
                break
            h = (h + np.uint64(1)) & mask
    return nflows, slot, keys


def _empty_table() -> tuple[I64, npt.NDArray[np.uint64]]:
    return np.full(INITIAL_SLOTS, -1, np.int64), np.empty((INITIAL_SLOTS // 2, 6), np.uint64)


@dataclass
class Flows:
    """Flow numbers of a table's rows: ``fid[i]`` (-1 for a row the tcp stage does not
    use, see `tcp.connections.tcp_rows`), ``src_is_lo[i]``, and each flow's ``keys``
    row, so that the rows need not carry their addresses and ports."""

    fid: I64
    src_is_lo: Bools
    keys: Keys

    @property
    def n(self) -> int:
        return len(self.keys)


def number_flows(table: PacketTable, rows: I64) -> tuple[I64, Bools, Keys]:
    """Flow number and `src_is_lo` of each packet `rows` of `table`, and the flows' keys
    (their count is the number of flows)."""
    fid = np.empty(len(rows), np.int64)
    src_is_lo = np.empty(len(rows), np.bool_)
    slot, keys = _empty_table()
    args: list[Any] = [rows, *(table.columns[k] for k in KEY_COLUMNS), fid, src_is_lo]
    args += [slot, keys, 0]
    n, _, keys = _number(*args)
    return fid, src_is_lo, keys[:n]


class FlowIndex:
    """`number_flows` chunk by chunk. For each chunk, `columns` numbers its usable rows and
    returns the numbers as two chunk-aligned columns (`FLOW_COLUMNS`), which the caller
    keeps with the same rows as the chunk's other columns (`capture.table.TableBuilder`'s
    ``extra``); `take` then moves them out of the kept table into `Flows`."""

    def __init__(self) -> None:
        self._slot, self._keys = _empty_table()
        self.n = 0
        """Flows numbered so far."""

    def columns(self, chunk: PacketTable, usable: I64) -> dict[str, npt.NDArray[Any]]:
        """Number the chunk's `usable` rows (indices into the chunk, ascending; see
        `tcp.connections.tcp_rows`): a flow number per chunk row, -1 where not usable,
        and whether the row's source is the flow's smaller endpoint."""
        fid = np.full(len(chunk), -1, np.int64)
        lo = np.zeros(len(chunk), np.bool_)
        if len(usable):
            f = np.empty(len(usable), np.int64)
            s = np.empty(len(usable), np.bool_)
            args: list[Any] = [usable, *(chunk.columns[k] for k in KEY_COLUMNS), f, s]
            args += [self._slot, self._keys, self.n]
            n, self._slot, self._keys = _number(*args)
            self.n = int(n)
            fid[usable], lo[usable] = f, s
        return {FLOW_COLUMNS[0]: fid, FLOW_COLUMNS[1]: lo}

    def take(self, kept: PacketTable) -> Flows:
        """The flow numbers of `kept`'s rows, removed from its columns (none when nothing
        was kept)."""
        cols = kept.columns
        fid = cols.pop(FLOW_COLUMNS[0], np.empty(0, np.int64))
        lo = cols.pop(FLOW_COLUMNS[1], np.empty(0, np.bool_))
        return Flows(fid=fid, src_is_lo=lo, keys=self._keys[: self.n])
