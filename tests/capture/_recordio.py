"""Test helpers for the capture readers: drain a reader into plain Python values."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pathsleuth.capture.formats import open_reader
from pathsleuth.capture.records import CaptureInfo
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
    """Read `data` completely; a BadInput raised mid-way is kept, frames before it too."""
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
