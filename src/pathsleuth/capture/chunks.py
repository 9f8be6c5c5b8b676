"""Bounded-memory chunk streaming shared by the pcap and pcapng readers.

`ChunkedReader` owns the loop both file formats need: read the (possibly non-seekable,
possibly decompressing) stream into NumPy buffers of about `chunk_bytes`, let a format's
`_walk` locate every complete record in the buffer (a numba kernel writes per-frame
offsets, lengths and timestamps into scratch arrays), hand the result on as `RecordBatch`es
that own their buffer (or, through `tables`, as dissected `PacketTable`s), and carry the
incomplete tail into the next buffer. A record larger than a chunk grows the next buffer
to fit it, up to `MAX_RECORD_BYTES`. Errors found while walking are raised only after the
frames before them have been yielded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from pathsleuth.capture.dissect import dissect
from pathsleuth.capture.records import CaptureInfo, RecordBatch
from pathsleuth.capture.table import PacketTable
from pathsleuth.errors import BadInput

#: default read size; big enough that per-chunk Python overhead is small (~1k chunks per
#: GB), small enough that a chunk is still in the CPU caches when the record walk and the
#: dissector read it right after the copy (measured on the 2 M-packet benchmark: 2 MiB
#: chunks decode ~1.4x faster than 8 MiB ones), and memory stays flat whatever the size
DEFAULT_CHUNK_BYTES = 2 << 20
#: hard cap on one record / block: Wireshark's pcapng reader refuses blocks above 16 MiB
#: (wiretap/pcapng.c MAX_BLOCK_SIZE in 3.x); nothing we decode comes near it, and it bounds
#: what a corrupt length field can make us allocate
MAX_RECORD_BYTES = 16 << 20
#: at most this many frames per batch, so scratch arrays stay small for small records
MAX_BATCH_FRAMES = 1 << 18
#: the smallest packet record either format has (pcap record header, pcapng SPB)
MIN_RECORD_BYTES = 16


class ByteStream(Protocol):
    """What the readers need of a stream: `read` (`readinto` is used when present).

    Satisfied by files, `sys.stdin.buffer`, decompressors and `io.RawIOBase` streams
    (whose `read` may return None when no data is ready; treated as end of data).
    """

    def read(self, size: int = -1, /) -> bytes | None: ...


class CaptureReader(Protocol):
    """What `formats.open_reader` returns: streaming batches or tables, and file facts."""

    info: CaptureInfo

    def batches(self, *, recycle: bool = False) -> Iterator[RecordBatch]: ...

    def tables(self) -> Iterator[PacketTable]: ...


_T = TypeVar("_T")
#: what a chunk-loop step returns: (position, bytes needed, scratch full, item or None)
_Step = tuple[int, int, bool, _T | None]


def read_prefix(stream: ByteStream, n: int) -> bytes:
    """Up to `n` bytes from a stream that may return short reads (pipes, decompressors)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        data = stream.read(n - got) or b""
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


class ChunkedReader:
    """Base of the format readers: the chunk loop, scratch arrays and batch hand-off.

    Subclasses implement `_walk` (locate complete records in `buf[pos:end]`, append them
    to the scratch arrays, set `self._error` on bad input) and `_truncated` (the error
    for a stream that ends inside a record).
    """

    def __init__(
        self,
        stream: ByteStream,
        name: str,
        info: CaptureInfo,
        *,
        prefix: bytes,
        start_offset: int,
        chunk_bytes: int,
    ) -> None:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        self.name = name
        self.info = info
        self._stream = stream
        self._prefix = prefix
        self._start_offset = start_offset
        self._chunk_bytes = chunk_bytes
        readinto = getattr(stream, "readinto", None)
        self._readinto: Callable[[memoryview], int | None] | None = readinto
        cap = max(1, min(chunk_bytes // MIN_RECORD_BYTES + 1, MAX_BATCH_FRAMES))
        #: scratch, one entry per frame found in the current buffer (offsets in buf)
        self._off = np.zeros(cap, np.int64)
        self._rec = np.zeros(cap, np.int64)
        self._cap = np.zeros(cap, np.uint32)
        self._wire = np.zeros(cap, np.uint32)
        self._ts = np.zeros(cap, np.int64)
        self._iface = np.zeros(cap, np.uint16)
        self._lt = np.zeros(cap, np.uint16)
        #: the second scratch set `batches(recycle=True)` alternates with (`_swap_scratch`)
        self._other: tuple[npt.NDArray[Any], ...] | None = None
        self._n = 0
        #: 1-based number of the first frame in the scratch arrays
        self._frame = 1
        self._error: BadInput | None = None
        self._started = False

    # --- to implement ---------------------------------------------------------------

    def _walk(
        self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int
    ) -> tuple[int, int, bool]:
        """Append complete records from `buf[pos:end]`; return (pos, need, full).

        `need` is how many bytes from the returned `pos` the next record needs (when
        stopped for want of data); `full` means the scratch arrays filled up.
        """
        raise NotImplementedError

    def _truncated(self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> BadInput:
        raise NotImplementedError

    # --- the loop -------------------------------------------------------------------

    def _fill(self, buf: npt.NDArray[np.uint8], start: int) -> int:
        """Read into `buf[start:]` until it is full or the stream ends; return the end."""
        pos = start
        size = len(buf)
        view = memoryview(buf)  # type: ignore[arg-type]
        while pos < size:
            if self._readinto is not None:
                got = self._readinto(view[pos:]) or 0
            else:
                data = self._stream.read(size - pos) or b""
                got = len(data)
                buf[pos : pos + got] = np.frombuffer(data, np.uint8)
            if got <= 0:
                break
            pos += got
        return pos

    def _flush(self, buf: npt.NDArray[np.uint8], base: int, recycle: bool) -> RecordBatch:
        """The scratch arrays' frames as a batch. Copies them, unless `recycle`: then the
        batch takes views of this scratch set and the walk goes on in the other one (so a
        batch's arrays live as long as its buffer does; see `batches`)."""
        n = self._n
        if recycle:
            off, cap, wire = self._off[:n], self._cap[:n], self._wire[:n]
            ts, iface, lt = self._ts[:n], self._iface[:n], self._lt[:n]
            self._swap_scratch()
        else:
            off, cap, wire = self._off[:n].copy(), self._cap[:n].copy(), self._wire[:n].copy()
            ts, iface, lt = self._ts[:n].copy(), self._iface[:n].copy(), self._lt[:n].copy()
        batch = RecordBatch(
            buf=buf,
            data_offset=off,
            cap_len=cap,
            wire_len=wire,
            ts_ns=ts,
            iface=iface,
            linktype=lt,
            frame=np.arange(self._frame, self._frame + n, dtype=np.uint64),
            file_offset=self._rec[:n] + np.int64(base),
        )
        self._frame += n
        self._n = 0
        return batch

    def _swap_scratch(self) -> None:
        """Walk on in the other scratch set, made on first use. The walks write offsets,
        lengths and timestamps for every frame, so those start as zeros (untouched pages);
        interface and link type are copied: pcap fills its one link type once, for all
        frames, and leaves the interface at 0."""
        mine = (self._off, self._rec, self._cap, self._wire, self._ts, self._iface, self._lt)
        if self._other is None:
            fresh = tuple(np.zeros_like(a) for a in mine[:5])
            self._other = (*fresh, self._iface.copy(), self._lt.copy())
        (
            self._off,
            self._rec,
            self._cap,
            self._wire,
            self._ts,
            self._iface,
            self._lt,
        ) = self._other
        self._other = mine

    def batches(self, *, recycle: bool = False) -> Iterator[RecordBatch]:
        """Stream the capture as batches; raises `BadInput` after the last good frame.

        With `recycle`, two chunk buffers and two sets of per-frame arrays take turns
        instead of fresh ones per chunk (no page faults on new memory, no copies, the
        buffer stays in cache): a batch's `buf` and arrays are then valid only until the
        next batch after it is taken. For consumers that finish with each batch before
        asking for the next one, as `Capture.tables` does.
        """

        def step(buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> _Step[RecordBatch]:
            pos, need, full = self._walk(buf, pos, end, base)
            return pos, need, full, self._flush(buf, base, recycle) if self._n else None

        return self._run(step, recycle)

    def tables(self) -> Iterator[PacketTable]:
        """The capture as dissected `PacketTable`s, one per batch (`batches(recycle=True)`
        then `dissect`); the tables own their columns. A format may override this with a
        single pass that walks its records and dissects them together (`PcapReader`)."""
        for batch in self.batches(recycle=True):
            yield dissect(batch)

    def _run(self, step: Callable[..., _Step[_T]], recycle: bool) -> Iterator[_T]:
        """The chunk loop: `step(buf, pos, end, base)` takes what it can from
        `buf[pos:end]` and returns (pos, need, full, item); items that are not None are
        yielded, and the incomplete tail goes on into the next buffer (see `batches`)."""
        if self._started:
            raise RuntimeError("a capture stream can be read only once")
        self._started = True
        base = self._start_offset
        size = max(self._chunk_bytes, len(self._prefix))
        buf = np.empty(size, np.uint8)
        buf[: len(self._prefix)] = np.frombuffer(self._prefix, np.uint8)
        end = self._fill(buf, len(self._prefix))
        self.info.bytes_read = base + end
        eof = end < size
        pos = 0
        spare: npt.NDArray[np.uint8] | None = None
        while True:
            while True:
                pos, need, full, item = step(buf, pos, end, base)
                if item is not None:
                    yield item
                if self._error is not None:
                    raise self._error
                if not full:
                    break
            if eof:
                if pos < end:
                    raise self._truncated(buf, pos, end, base)
                return
            tail = end - pos
            size = max(self._chunk_bytes, need, tail)
            if spare is not None and len(spare) >= size:
                fresh, size = spare, len(spare)
            else:
                fresh = np.empty(size, np.uint8)
            fresh[:tail] = buf[pos:end]
            spare = buf if recycle else None
            base += pos
            buf = fresh
            pos = 0
            end = self._fill(buf, tail)
            self.info.bytes_read = base + end
            eof = end < size
