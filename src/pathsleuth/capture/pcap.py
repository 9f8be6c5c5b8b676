"""Classic pcap (libpcap savefile) reader: file header in Python, records in numba.

Owns the layout of draft-ietf-opsawg-pcap: the 24-byte file header (magic in either byte
order, microsecond or nanosecond flavour, version, snaplen, link type with its FCS bits)
and the 16-byte record headers. `PcapReader.batches()` streams `RecordBatch`es (see
`chunks.ChunkedReader`); the dissector takes them from there. `PcapReader.tables()` does
both in one pass (`_dissect_records`: each record dissected as the walk reaches it, with
the dissector's `dissect_frame` inlined), which is what `Capture.tables` uses for pcap:
the walk's wait for each record header then overlaps the previous frame's dissection.
Also reads the "modified" pcap of Kuznetzov's patched libpcap (magic 0xa1b2cd34, 24-byte
record headers) that tshark accepts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from pathsleuth.capture.chunks import (
    MAX_BATCH_FRAMES,
    MAX_RECORD_BYTES,
    ByteStream,
    ChunkedReader,
    read_prefix,
)
from pathsleuth.capture.dissect import (
    AF6,
    D_CAP,
    D_WIRE,
    Q_FRAME,
    Q_TS,
    W_LT,
    clear_blocks,
    dissect_frame,
    new_blocks,
    scratch,
    table_from_blocks,
)
from pathsleuth.capture.jit import njit_unrefcounted, prefetch
from pathsleuth.capture.records import CaptureInfo, Interface
from pathsleuth.capture.table import PacketTable
from pathsleuth.errors import BadInput

#: magics as read in the writer's byte order (draft-ietf-opsawg-pcap section 4)
MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
#: Kuznetzov's patched libpcap ("modified" pcap, Wireshark's PCAP_MODIFIED_MAGIC)
MAGIC_MODIFIED = 0xA1B2CD34
FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
MODIFIED_RECORD_HEADER_LEN = 24
#: only major version 2 exists (minor 4 since 1998; older 2.x files are still read by libpcap)
VERSION_MAJOR = 2
#: libpcap pcap-int.h MAXIMUM_SNAPLEN: records above max(snaplen, this) are corrupt
MAXIMUM_SNAPLEN = 262144
#: link-type field: low 16 bits link type, bit 26 "F" = FCS length present,
#: bits 28-31 FCS length in 16-bit words (draft-ietf-opsawg-pcap 4, libpcap LT_FCS_*)
LINKTYPE_MASK = 0x0000FFFF
FCS_PRESENT_BIT = 0x04000000
FCS_LEN_SHIFT = 28
FCS_WORD_BYTES = 2

NS_PER_S = 1_000_000_000

#: rows of `PcapReader.tables`' first table, before it knows the mean record size
FIRST_TABLE_ROWS = 1024

# kernel status codes
_NEED = 0
_FULL = 1
_TOO_LONG = 2
_WHOLE = 3  # `_record`: the record is all there


@njit(cache=True, inline="always")
def _u32(buf: npt.NDArray[np.uint8], p: int, big: bool) -> Any:
    if big:
        return (
            (np.int64(buf[p]) << 24)
            | (np.int64(buf[p + 1]) << 16)
            | (np.int64(buf[p + 2]) << 8)
            | np.int64(buf[p + 3])
        )
    return (
        (np.int64(buf[p + 3]) << 24)
        | (np.int64(buf[p + 2]) << 16)
        | (np.int64(buf[p + 1]) << 8)
        | np.int64(buf[p])
    )


@njit(cache=True, nogil=True)
def _walk_records(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    big: bool,
    hdr_len: int,
    frac_ns: int,
    max_caplen: int,
    out_rec: npt.NDArray[np.int64],
    out_off: npt.NDArray[np.int64],
    out_cap: npt.NDArray[np.uint32],
    out_wire: npt.NDArray[np.uint32],
    out_ts: npt.NDArray[np.int64],
    n: int,
) -> tuple[Any, Any, Any, Any]:
    """Record headers from `pos` on: (frames found, stop position, status, bytes needed)."""
    cap = out_off.shape[0]
    while n < cap:
        status, incl, need = _record(buf, pos, end, big, hdr_len, max_caplen)
        if status != _WHOLE:
            return n, pos, status, need
        out_rec[n] = pos
        out_off[n] = pos + hdr_len
        out_cap[n] = incl
        out_wire[n] = _u32(buf, pos + 12, big)
        out_ts[n] = _u32(buf, pos, big) * NS_PER_S + _u32(buf, pos + 4, big) * frac_ns
        n += 1
        pos += hdr_len + incl
    return n, pos, _FULL, 0


@njit(cache=True, inline="always")
def _record(
    buf: npt.NDArray[np.uint8], pos: int, end: int, big: bool, hdr_len: int, max_caplen: int
) -> tuple[int, Any, Any]:
    """The record at `pos`: (status, captured length, bytes it needs). `_WHOLE` when its
    header and data are all in `buf[:end]`; else `_NEED` or `_TOO_LONG`."""
    if end - pos < hdr_len:
        return _NEED, 0, hdr_len
    incl = _u32(buf, pos + 8, big)
    if incl > max_caplen:
        return _TOO_LONG, incl, hdr_len + incl
    if end - pos < hdr_len + incl:
        return _NEED, incl, hdr_len + incl
    return _WHOLE, incl, hdr_len + incl


@njit_unrefcounted(cache=True, nogil=True)
def _dissect_records(
    buf: Any,
    pos: int,
    end: int,
    big: bool,
    hdr_len: int,
    frac_ns: int,
    max_caplen: int,
    linktype: int,
    frame0: int,
    af6: Any,
    u1: Any,
    u2: Any,
    u4: Any,
    u8: Any,
    sack: Any,
    o: Any,
    qo: Any,
) -> tuple[Any, Any, Any, Any]:
    """`_walk_records` and the dissector's walk (`dissect._walk`) in one pass: each record
    is dissected into row n of the blocks as soon as it is found, up to the blocks' width.
    Same return as `_walk_records`. One pass instead of two: the walk from record to
    record waits on each header's cache line, and here that wait overlaps the previous
    frame's dissection (2 M-packet bench file: ~0.05 s less of ~0.4 s)."""
    rows = u1.shape[1]
    clear_blocks(u1, u2, u4, u8, sack)
    last = len(buf) - 1
    n = 0
    while n < rows:
        status, incl, size = _record(buf, pos, end, big, hdr_len, max_caplen)
        if status != _WHOLE:
            return n, pos, status, size
        nxt = pos + size
        prefetch(buf, min(nxt, last))  # the next record: its header and the frame's
        prefetch(buf, min(nxt + 64, last))
        wire = _u32(buf, pos + 12, big)
        u8[Q_FRAME, n] = frame0 + n
        u8[Q_TS, n] = _u32(buf, pos, big) * NS_PER_S + _u32(buf, pos + 4, big) * frac_ns
        u2[W_LT, n] = linktype
        u4[D_WIRE, n] = wire
        u4[D_CAP, n] = incl
        dissect_frame(buf, pos + hdr_len, incl, wire, linktype, n, af6, u1, u2, u4, u8, sack, o, qo)
        n += 1
        pos = nxt
    return n, pos, _FULL, 0


def parse_file_header(head: bytes, name: str) -> tuple[CaptureInfo, str, int, int]:
    """The 24-byte file header: (info, struct byte-order char, record header length, ns per fraction unit)."""
    if len(head) < FILE_HEADER_LEN:
        raise BadInput(
            name,
            f"file ends inside the pcap file header ({FILE_HEADER_LEN} bytes needed, "
            f"{len(head)} available)",
            offset=0,
        )
    for order in ("<", ">"):
        (magic,) = struct.unpack(order + "I", head[:4])
        if magic in (MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED):
            break
    else:
        raise BadInput(name, f"not a pcap file (magic 0x{head[:4].hex()})", offset=0)
    major, minor, _thiszone, _sigfigs, snaplen, ltfield = struct.unpack(
        order + "HHiIII", head[4:FILE_HEADER_LEN]
    )
    if major != VERSION_MAJOR:
        raise BadInput(name, f"unsupported pcap version {major}.{minor} (expected 2.4)", offset=4)
    nsec = magic == MAGIC_NSEC
    fcs_len = None
    if ltfield & FCS_PRESENT_BIT:
        fcs_len = (ltfield >> FCS_LEN_SHIFT) * FCS_WORD_BYTES
    iface = Interface(
        linktype=ltfield & LINKTYPE_MASK,
        snaplen=snaplen,
        ts_units_per_second=NS_PER_S if nsec else 1_000_000,
        fcs_len=fcs_len,
    )
    info = CaptureInfo(
        format="pcap",
        byte_order="little" if order == "<" else "big",
        ts_precision="nsec" if nsec else "usec",
        version=(major, minor),
        interfaces=[iface],
        sections=1,
        bytes_read=FILE_HEADER_LEN,
    )
    if magic == MAGIC_MODIFIED:
        info.extra["variant"] = "modified"
    hdr_len = MODIFIED_RECORD_HEADER_LEN if magic == MAGIC_MODIFIED else RECORD_HEADER_LEN
    return info, order, hdr_len, 1 if nsec else 1000


class PcapReader(ChunkedReader):
    """Streaming reader of one classic pcap; the file header is read on construction."""

    def __init__(
        self, stream: ByteStream, name: str, *, prefix: bytes = b"", chunk_bytes: int
    ) -> None:
        head = prefix + read_prefix(stream, FILE_HEADER_LEN - len(prefix))
        info, order, hdr_len, frac_ns = parse_file_header(head, name)
        super().__init__(
            stream,
            name,
            info,
            prefix=b"",
            start_offset=FILE_HEADER_LEN,
            chunk_bytes=chunk_bytes,
        )
        iface = info.interfaces[0]
        self._big = order == ">"
        self._order = order
        self._hdr_len = hdr_len
        self._frac_ns = frac_ns
        self._snaplen = iface.snaplen
        self._max_caplen = min(max(iface.snaplen, MAXIMUM_SNAPLEN), MAX_RECORD_BYTES)
        self._linktype = iface.linktype
        self._lt[:] = iface.linktype
        #: frames and bytes `tables` has walked, for sizing its next table
        self._walked_frames = 0
        self._walked_bytes = 0

    def _walk(
        self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int
    ) -> tuple[int, int, bool]:
        n, pos, status, need = (
            int(v)
            for v in _walk_records(
                buf,
                pos,
                end,
                self._big,
                self._hdr_len,
                self._frac_ns,
                self._max_caplen,
                self._rec,
                self._off,
                self._cap,
                self._wire,
                self._ts,
                self._n,
            )
        )
        self._n = n
        if status == _TOO_LONG:
            self._error = self._too_long(need, base + pos, self._frame + n)
        return pos, need, status == _FULL

    def _too_long(self, need: int, offset: int, frame: int) -> BadInput:
        caplen = need - self._hdr_len
        return BadInput(
            self.name,
            f"record length {caplen} exceeds the maximum {self._max_caplen} "
            f"(snaplen {self._snaplen}, libpcap limit {MAXIMUM_SNAPLEN}, "
            f"hard cap {MAX_RECORD_BYTES})",
            offset=offset,
            frame=frame,
        )

    def tables(self) -> Iterator[PacketTable]:
        """The capture as dissected tables, each record dissected as the walk finds it
        (`_dissect_records`) instead of `batches` then `dissect`: the same tables, errors
        and `info`, in one pass over the bytes. Tables own their columns."""

        def step(buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> Any:
            blocks = new_blocks(self._rows_for(end - pos))
            u1, u2, u4, u8, sack = blocks
            o, qo = scratch()
            n, stop, status, need = (
                int(v)
                for v in _dissect_records(
                    buf,
                    pos,
                    end,
                    self._big,
                    self._hdr_len,
                    self._frac_ns,
                    self._max_caplen,
                    self._linktype,
                    self._frame,
                    AF6,
                    u1,
                    u2,
                    u4,
                    u8,
                    sack,
                    o,
                    qo,
                )
            )
            if status == _TOO_LONG:
                self._error = self._too_long(need, base + stop, self._frame + n)
            self._frame += n
            self._walked_frames += n
            self._walked_bytes += stop - pos
            return stop, need, status == _FULL, table_from_blocks(blocks, n) if n else None

        return self._run(step, recycle=True)

    def _rows_for(self, nbytes: int) -> int:
        """Table rows to make for the records in `nbytes` of buffer: by the mean record
        size so far, with room to spare (a table that fills up is followed by another
        from the same buffer); at most one per smallest possible record."""
        most = nbytes // self._hdr_len + 1
        if self._walked_frames == 0:
            return min(most, FIRST_TABLE_ROWS)
        mean = self._walked_bytes / self._walked_frames
        return max(1, min(most, int(nbytes / mean * 1.125) + 64, MAX_BATCH_FRAMES))

    def _truncated(self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> BadInput:
        avail = end - pos
        need = self._hdr_len
        if avail >= self._hdr_len:
            (caplen,) = struct.unpack(self._order + "I", buf[pos + 8 : pos + 12].tobytes())
            need += caplen
        frame = self._frame + self._n
        return BadInput(
            self.name,
            f"file ends inside frame {frame} (record at byte {base + pos} needs {need} bytes, "
            f"{avail} available)",
            offset=base + pos,
            frame=frame,
        )
