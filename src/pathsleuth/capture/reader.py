"""Open a path and stream `PacketTable` chunks: the capture engine's one entry point.

`iter_captures(path)` yields one `Capture` per capture stream in the path (a plain or
compressed file, stdin, or each capture member of a tar/zip archive). A `Capture`'s
`tables()` reads the stream chunk by chunk (`formats.open_reader`) and yields the reader's
dissected tables (`ChunkedReader.tables`: each `RecordBatch` through `dissect.dissect`,
or, for pcap, records walked and dissected in one pass), so memory stays bounded by the
chunk size whatever the file size. `tables_ahead()` is the same stream produced by a
second thread a few chunks ahead (the analysis uses it; `decode` stays on one core).
Streams inside an archive are sequential: finish one capture's tables before asking for
the next capture.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pathsleuth.capture.chunks import DEFAULT_CHUNK_BYTES
from pathsleuth.capture.formats import open_reader
from pathsleuth.capture.records import CaptureInfo
from pathsleuth.capture.sources import open_captures
from pathsleuth.capture.table import PacketTable, concat
from pathsleuth.inputs import DEFAULT_LIMITS, Limits, NamedStream, sniff_compression

#: progress callback: (decompressed bytes read so far, total bytes if known)
Progress = Callable[[int, int | None], None]


@dataclass
class Capture:
    """One capture stream, ready to be read as packet-table chunks."""

    name: str
    stream: NamedStream
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    total_bytes: int | None = None
    skipped_members: list[str] = field(default_factory=list)
    info: CaptureInfo | None = None

    def tables(self, progress: Progress | None = None) -> Iterator[PacketTable]:
        """Dissected chunks in frame order; `info` is filled as the reader goes."""
        reader = open_reader(self.stream, self.name, chunk_bytes=self.chunk_bytes)
        self.info = reader.info
        for table in reader.tables():
            if progress is not None:
                progress(reader.info.bytes_read, self.total_bytes)
            yield table
        if progress is not None:  # done: lets a progress display finish and clear
            progress(reader.info.bytes_read, reader.info.bytes_read)

    def tables_ahead(
        self, progress: Progress | None = None, depth: int = 4
    ) -> Iterator[PacketTable]:
        """`tables()`, read and dissected by a second thread up to `depth` chunks ahead
        of the caller, so that decoding overlaps what the caller does with each chunk
        (the kernels and the reads release the GIL). Errors reach the caller in order,
        after the chunks before them; a caller that stops early stops the thread."""
        chunks: queue.Queue[tuple[PacketTable | None, BaseException | None]]
        chunks = queue.Queue(maxsize=depth)
        stop = threading.Event()

        def put(item: tuple[PacketTable | None, BaseException | None]) -> bool:
            while not stop.is_set():
                try:
                    chunks.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for table in self.tables(progress):
                    if not put((table, None)):
                        return
            except BaseException as exc:  # handed to the consumer, raised there
                put((None, exc))
                return
            put((None, None))

        worker = threading.Thread(target=produce, name=f"decode {self.name}", daemon=True)
        worker.start()
        try:
            while True:
                table, exc = chunks.get()
                if exc is not None:
                    raise exc
                if table is None:
                    return
                yield table
        finally:
            stop.set()
            worker.join(timeout=1.0)  # a daemon: never hold up the caller on a stuck read

    def read_all(self, progress: Progress | None = None) -> PacketTable:
        """The whole capture as one table (analysis needs every packet of a flow)."""
        return concat(list(self.tables(progress)))


def iter_captures(
    path: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[Capture]:
    """Every capture stream in `path`; raises `BadInput` for unreadable input."""
    with open_captures(path, limits=limits) as members:
        for stream in members:
            total = _plain_size(path) if members.archive is None else None
            yield Capture(
                name=stream.name,
                stream=stream,
                chunk_bytes=chunk_bytes,
                total_bytes=total,
                skipped_members=[f"{s.name} ({s.reason})" for s in members.skipped],
            )


def _plain_size(path: str) -> int | None:
    """Size of an uncompressed regular file, for progress; None when unknown."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(6)
        if sniff_compression(head) is not None:
            return None
        return os.path.getsize(path)
    except OSError:
        return None


@dataclass
class LoadedCapture:
    """A capture read whole: its name, what the reader learnt, and every packet."""

    name: str
    info: CaptureInfo
    table: PacketTable


def load(path: str, *, limits: Limits = DEFAULT_LIMITS) -> list[LoadedCapture]:
    """Every capture in `path`, each read whole (tests, small files, library users)."""
    out = []
    for cap in iter_captures(path, limits=limits):
        table = cap.read_all()
        assert cap.info is not None
        out.append(LoadedCapture(cap.name, cap.info, table))
    return out
