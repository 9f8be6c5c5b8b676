"""Test helpers for the capture readers: drain a reader into plain Python values."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pathsleuth.capture.dissect import dissect
from pathsleuth.capture.formats import open_reader
from pathsleuth.capture.records import CaptureInfo
from pathsleuth.capture.table import PacketTable, concat
from pathsleuth.errors import BadInput


@dataclass
class Frame:
    data: bytes
    ts_ns: int
    wire_len: int
    iface: int
    linktype: int
    frame: int
    file_offset: int


@dataclass
class Drained:
    info: CaptureInfo
    frames: list[Frame] = field(default_factory=list)
    error: BadInput | None = None
    batches: int = 0


class TrickleStream:
    """A non-seekable stream without readinto that returns short reads (like a pipe)."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = data
        self._pos = 0
        self._step = step
        self._k = 0

    def read(self, n: int = -1, /) -> bytes:
        self._k += 1
        size = 1 + (self._k * 5) % self._step
        if n >= 0:
            size = min(size, n)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out


def drain(data: bytes, *, chunk_bytes: int = 1 << 20, stream: object = None) -> Drained:
    """Read `data` completely; a BadInput raised mid-way is kept, frames before it too.

    Also checks that the reader's `tables()` (for pcap, a single pass that walks and
    dissects together) gives exactly what `batches()` then `dissect` give: every column,
    the error and the reader's `info`, from a second copy of the stream."""
    if isinstance(stream, TrickleStream):
        assert_tables_agree(lambda: TrickleStream(data, stream._step), chunk_bytes)
    elif stream is None:
        assert_tables_agree(lambda: io.BytesIO(data), chunk_bytes)
    src = stream if stream is not None else io.BytesIO(data)
    reader = open_reader(src, "test.cap", chunk_bytes=chunk_bytes)  # type: ignore[arg-type]
    out = Drained(reader.info)
    try:
        for batch in reader.batches():
            out.batches += 1
            buf = batch.buf
            for i in range(len(batch)):
                off = int(batch.data_offset[i])
                out.frames.append(
                    Frame(
                        data=buf[off : off + int(batch.cap_len[i])].tobytes(),
                        ts_ns=int(batch.ts_ns[i]),
                        wire_len=int(batch.wire_len[i]),
                        iface=int(batch.iface[i]),
                        linktype=int(batch.linktype[i]),
                        frame=int(batch.frame[i]),
                        file_offset=int(batch.file_offset[i]),
                    )
                )
    except BadInput as exc:
        out.error = exc
    return out


def _tables(make: Callable[[], object], chunk_bytes: int, fused: bool) -> tuple[Any, ...]:
    reader = open_reader(make(), "test.cap", chunk_bytes=chunk_bytes)  # type: ignore[arg-type]
    tables: list[PacketTable] = []
    error = None
    try:
        if fused:
            tables.extend(reader.tables())
        else:
            tables.extend(dissect(b) for b in reader.batches(recycle=True))
    except BadInput as exc:
        error = (str(exc), exc.offset, exc.frame)
    return concat(tables), error, reader.info


def assert_tables_agree(make: Callable[[], object], chunk_bytes: int) -> None:
    """`reader.tables()` equals `batches()` + `dissect`: columns, error, info."""
    try:
        generic = _tables(make, chunk_bytes, fused=False)
    except BadInput:  # the file header itself is bad: nothing to compare
        return
    fused = _tables(make, chunk_bytes, fused=True)
    assert fused[1] == generic[1]
    assert fused[2] == generic[2]
    a, b = fused[0].columns, generic[0].columns
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name
