"""Classic pcap (libpcap savefile) reader: file header in Python, records in numba.

Owns the layout of draft-ietf-opsawg-pcap: the 24-byte file header (magic in either byte
order, microsecond or nanosecond flavour, version, snaplen, link type with its FCS bits)
and the 16-byte record headers. `PcapReader.batches()` streams `RecordBatch`es (see
`chunks.ChunkedReader`); the dissector takes them from there. Also reads the "modified"
pcap of Kuznetzov's patched libpcap (magic 0xa1b2cd34, 24-byte record headers) that tshark
accepts.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from pathsleuth.capture.chunks import MAX_RECORD_BYTES, ByteStream, ChunkedReader, read_prefix
from pathsleuth.capture.records import CaptureInfo, Interface
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

# kernel status codes
_NEED = 0
_FULL = 1
_TOO_LONG = 2


@njit(cache=True, nogil=True)
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
        if end - pos < hdr_len:
            return n, pos, _NEED, hdr_len
        incl = _u32(buf, pos + 8, big)
        if incl > max_caplen:
            return n, pos, _TOO_LONG, hdr_len + incl
        size = hdr_len + incl
        if end - pos < size:
            return n, pos, _NEED, size
        sec = _u32(buf, pos, big)
        frac = _u32(buf, pos + 4, big)
        out_rec[n] = pos
        out_off[n] = pos + hdr_len
        out_cap[n] = incl
        out_wire[n] = _u32(buf, pos + 12, big)
        out_ts[n] = sec * 1_000_000_000 + frac * frac_ns
        n += 1
        pos += size
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
        self._lt[:] = iface.linktype

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
            caplen = need - self._hdr_len
            self._error = BadInput(
                self.name,
                f"record length {caplen} exceeds the maximum {self._max_caplen} "
                f"(snaplen {self._snaplen}, libpcap limit {MAXIMUM_SNAPLEN}, "
                f"hard cap {MAX_RECORD_BYTES})",
                offset=base + pos,
                frame=self._frame + n,
            )
        return pos, need, status == _FULL

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
