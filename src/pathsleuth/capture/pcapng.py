"""pcapng reader: packet blocks walked in numba, everything rarer handled in Python.

Owns the block layout of draft-ietf-opsawg-pcapng: sections (each Section Header Block
starts a new interface list and may switch byte order), Interface Description Blocks with
their per-interface link type, snaplen, `if_tsresol` (power of 10 or of 2), `if_tsoffset`,
`if_fcslen`, `if_name`, `if_description`; Enhanced, Simple and obsolete Packet Blocks.
The numba kernel `_walk_blocks` validates every block's framing (length >= 12, multiple
of 4, trailer equal to header) and records EPB/SPB/PB frames; it stops at any other block
(SHB, IDB, NRB, ISB, custom, unknown) and at packets carrying a comment, which Python then
handles. Output is the same `RecordBatch` stream as the classic pcap reader's.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from pathsleuth.capture.chunks import MAX_RECORD_BYTES, ByteStream, ChunkedReader
from pathsleuth.capture.records import CaptureInfo, Interface
from pathsleuth.errors import BadInput

# block types (draft-ietf-opsawg-pcapng section 10.1)
SHB = 0x0A0D0D0A
IDB = 0x00000001
PB = 0x00000002  # obsolete Packet Block (appendix A)
SPB = 0x00000003
NRB = 0x00000004
ISB = 0x00000005
EPB = 0x00000006
DSB = 0x0000000A
CUSTOM_COPY = 0x00000BAD
CUSTOM_NOCOPY = 0x40000BAD
BLOCK_NAMES = {
    SHB: "section header",
    IDB: "interface description",
    PB: "packet",
    SPB: "simple packet",
    NRB: "name resolution",
    ISB: "interface statistics",
    EPB: "enhanced packet",
    DSB: "decryption secrets",
    CUSTOM_COPY: "custom",
    CUSTOM_NOCOPY: "custom",
}
PACKET_BLOCKS = (PB, SPB, EPB)

BYTE_ORDER_MAGIC = 0x1A2B3C4D
VERSION_MAJOR = 1
MIN_BLOCK_LEN = 12
SHB_MIN_LEN = 28  # type, length, BOM, version, section length, trailer
IDB_MIN_LEN = 20
EPB_MIN_LEN = 32
PB_MIN_LEN = 32
SPB_MIN_LEN = 16
EPB_DATA_OFFSET = 28  # also PB's
SPB_DATA_OFFSET = 12

# option codes (draft-ietf-opsawg-pcapng 3.5, 4.1, 4.2)
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_HARDWARE = 2
SHB_OS = 3
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
IF_OS = 12
IF_FCSLEN = 13
IF_TSOFFSET = 14

#: if_tsresol: high bit set = negative power of 2, else negative power of 10 (default 6)
TSRESOL_POW2_BIT = 0x80
DEFAULT_TSRESOL = 6
#: 10**19 is the largest power of ten a uint64 tick count can use as units per second
MAX_TSRESOL_POW10 = 19
MAX_TSRESOL_POW2 = 63
NS_PER_S = 1_000_000_000
#: timestamps are int64 nanoseconds (+-292 years); an if_tsoffset may use half of that range
MAX_TSOFFSET_S = (2**63 - 1) // NS_PER_S // 2

# kernel status codes
_NEED = 0
_FULL = 1
_SLOW = 2
_COMMENT = 3
_BAD_LEN = 4
_TOO_LONG = 5
_BAD_TRAILER = 6
_BAD_IFACE = 7
_SHORT = 8

# timestamp conversion modes per interface: units divide 1e9 (multiply), are a multiple
# of 1e9 (divide), or a power of two (shift)
_TS_MUL = 0
_TS_DIV = 1
_TS_POW2 = 2

_U32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_NS_U = np.uint64(NS_PER_S)


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
def _u16(buf: npt.NDArray[np.uint8], p: int, big: bool) -> Any:
    if big:
        return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])
    return (np.int64(buf[p + 1]) << 8) | np.int64(buf[p])


@njit(cache=True, nogil=True)
def _ticks_to_ns(
    hi: int, lo: int, units: np.uint64, mode: int, k: np.uint64, offset_ns: int
) -> Any:
    """Exact floor(ticks * 1e9 / units) + offset, without 128-bit integers."""
    raw = (np.uint64(hi) << _U32) | np.uint64(lo)
    sec = raw // units
    frac = raw % units
    if mode == _TS_MUL:
        fns = frac * k
    elif mode == _TS_DIV:
        fns = frac // k
    elif k <= _U32:
        fns = (frac * _NS_U) >> k  # frac < 2**32, so frac * 1e9 < 2**62
    else:
        # frac = a * 2**32 + b; floor(frac * 1e9 / 2**k) computed from the halves
        a = frac >> _U32
        b = frac & _LOW32
        fns = (a * _NS_U + ((b * _NS_U) >> _U32)) >> (k - _U32)
    return np.int64(sec) * 1_000_000_000 + np.int64(fns) + offset_ns


@njit(cache=True, nogil=True)
def _walk_blocks(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    big: bool,
    max_block: int,
    if_link: npt.NDArray[np.int64],
    if_snap: npt.NDArray[np.int64],
    if_units: npt.NDArray[np.uint64],
    if_mode: npt.NDArray[np.int64],
    if_k: npt.NDArray[np.uint64],
    if_off: npt.NDArray[np.int64],
    last_ts: npt.NDArray[np.int64],
    out_rec: npt.NDArray[np.int64],
    out_off: npt.NDArray[np.int64],
    out_cap: npt.NDArray[np.uint32],
    out_wire: npt.NDArray[np.uint32],
    out_ts: npt.NDArray[np.int64],
    out_if: npt.NDArray[np.uint16],
    out_lt: npt.NDArray[np.uint16],
    n: int,
) -> tuple[Any, Any, Any, Any]:
    """Blocks from `pos` on: (frames found, stop position, status, detail).

    detail: bytes needed (_NEED, _TOO_LONG), else the offending value where one exists.
    """
    cap = out_off.shape[0]
    n_if = if_link.shape[0]
    while n < cap:
        avail = end - pos
        if avail < 4:
            return n, pos, _NEED, 12
        btype = _u32(buf, pos, big)
        if btype == 0x0A0D0D0A:  # SHB: its own byte order decides its length
            return n, pos, _SLOW, 0
        if avail < 8:
            return n, pos, _NEED, 12
        blen = _u32(buf, pos + 4, big)
        if blen < 12 or blen % 4 != 0:
            return n, pos, _BAD_LEN, blen
        if blen > max_block:
            return n, pos, _TOO_LONG, blen
        if avail < blen:
            return n, pos, _NEED, blen
        trailer = _u32(buf, pos + blen - 4, big)
        if trailer != blen:
            return n, pos, _BAD_TRAILER, trailer
        if btype == 6 or btype == 2:  # EPB, obsolete PB
            if blen < 32:
                return n, pos, _SHORT, 0
            ifid = _u32(buf, pos + 8, big) if btype == 6 else _u16(buf, pos + 8, big)
            if ifid >= n_if:
                return n, pos, _BAD_IFACE, ifid
            caplen = _u32(buf, pos + 20, big)
            if 28 + caplen + 4 > blen:
                return n, pos, _SHORT, caplen
            ts = _ticks_to_ns(
                _u32(buf, pos + 12, big),
                _u32(buf, pos + 16, big),
                if_units[ifid],
                if_mode[ifid],
                if_k[ifid],
                if_off[ifid],
            )
            out_rec[n] = pos
            out_off[n] = pos + 28
            out_cap[n] = caplen
            out_wire[n] = _u32(buf, pos + 24, big)
            out_ts[n] = ts
            out_if[n] = ifid
            out_lt[n] = if_link[ifid]
            last_ts[0] = ts
            n += 1
            # options: look for opt_comment only; other packet options are not needed
            p = pos + 28 + ((caplen + 3) & ~3)
            e = pos + blen - 4
            while p + 4 <= e:
                code = _u16(buf, p, big)
                if code == 0:
                    break
                if code == 1:
                    return n, pos, _COMMENT, 0
                p += 4 + ((_u16(buf, p + 2, big) + 3) & ~3)
            pos += blen
        elif btype == 3:  # SPB: interface 0, no timestamp
            if blen < 16:
                return n, pos, _SHORT, 0
            if n_if == 0:
                return n, pos, _BAD_IFACE, 0
            wire = _u32(buf, pos + 8, big)
            caplen = min(wire, blen - 16)
            if if_snap[0] > 0:
                caplen = min(caplen, if_snap[0])
            out_rec[n] = pos
            out_off[n] = pos + 12
            out_cap[n] = caplen
            out_wire[n] = wire
            out_ts[n] = last_ts[0]
            out_if[n] = 0
            out_lt[n] = if_link[0]
            n += 1
            pos += blen
        else:
            return n, pos, _SLOW, 0
    return n, pos, _FULL, 0


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def _text(value: bytes) -> str:
    return value.rstrip(b"\0").decode("utf-8", errors="replace")


class PcapngReader(ChunkedReader):
    """Streaming reader of one pcapng stream (all its sections)."""

    def __init__(
        self, stream: ByteStream, name: str, *, prefix: bytes = b"", chunk_bytes: int
    ) -> None:
        info = CaptureInfo(format="pcapng", ts_precision="per-interface", version=(1, 0))
        info.sections = 0
        super().__init__(stream, name, info, prefix=prefix, start_offset=0, chunk_bytes=chunk_bytes)
        self._big = False
        self._order = "<"
        self._section = -1
        self._section_ifaces: list[Interface] = []
        self._last_ts = np.zeros(1, np.int64)
        self._set_iface_arrays()

    # --- interface tables the kernel reads -----------------------------------------

    def _set_iface_arrays(self) -> None:
        ifs = self._section_ifaces
        self._if_link = np.array([i.linktype for i in ifs], np.int64)
        self._if_snap = np.array([i.snaplen for i in ifs], np.int64)
        units = [i.ts_units_per_second for i in ifs]
        modes: list[int] = []
        ks: list[int] = []
        for u in units:
            if NS_PER_S % u == 0:
                modes.append(_TS_MUL)
                ks.append(NS_PER_S // u)
            elif u % NS_PER_S == 0:
                modes.append(_TS_DIV)
                ks.append(u // NS_PER_S)
            else:  # a power of two (validated when the IDB was read)
                modes.append(_TS_POW2)
                ks.append(u.bit_length() - 1)
        self._if_units = np.array(units, np.uint64)
        self._if_mode = np.array(modes, np.int64)
        self._if_k = np.array(ks, np.uint64)
        self._if_off = np.array([i.ts_offset_s * NS_PER_S for i in ifs], np.int64)

    # --- the walk -------------------------------------------------------------------

    def _walk(
        self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int
    ) -> tuple[int, int, bool]:
        while True:
            n, pos, status, detail = (
                int(v)
                for v in _walk_blocks(
                    buf,
                    pos,
                    end,
                    self._big,
                    MAX_RECORD_BYTES,
                    self._if_link,
                    self._if_snap,
                    self._if_units,
                    self._if_mode,
                    self._if_k,
                    self._if_off,
                    self._last_ts,
                    self._rec,
                    self._off,
                    self._cap,
                    self._wire,
                    self._ts,
                    self._iface,
                    self._lt,
                    self._n,
                )
            )
            self._n = n
            if status == _FULL:
                return pos, 0, True
            if status == _NEED:
                return pos, detail, False
            if status == _COMMENT:
                pos = self._packet_comment(buf, pos, frame=self._frame + n - 1)
                continue
            if status == _SLOW:
                used = self._slow_block(buf, pos, end, base)
                if used < 0:
                    return pos, -used, False
                if used == 0:  # error set
                    return pos, 0, False
                pos += used
                continue
            self._error = self._kernel_error(buf, pos, base, status, detail)
            return pos, 0, False

    def _kernel_error(
        self, buf: npt.NDArray[np.uint8], pos: int, base: int, status: int, detail: int
    ) -> BadInput:
        btype, blen = struct.unpack(self._order + "II", buf[pos : pos + 8].tobytes())
        frame = self._frame + self._n if btype in PACKET_BLOCKS else None
        kind = self._kind(btype)
        if status == _BAD_LEN:
            msg = f"{kind} block length {blen} is invalid (must be a multiple of 4 and at least 12)"
        elif status == _TOO_LONG:
            msg = f"{kind} block length {blen} exceeds the maximum {MAX_RECORD_BYTES}"
        elif status == _BAD_TRAILER:
            msg = f"{kind} block trailing length {detail} differs from its leading length {blen}"
        elif status == _BAD_IFACE:
            msg = (
                f"{kind} block refers to interface {detail}, but section {self._section} "
                f"has {len(self._section_ifaces)} interface(s)"
            )
        else:
            msg = f"{kind} block of {blen} bytes is too short for its contents"
            if btype != SPB:
                msg += f" (captured length {detail})"
        return BadInput(self.name, msg, offset=base + pos, frame=frame)

    @staticmethod
    def _kind(btype: int) -> str:
        return BLOCK_NAMES.get(btype, f"type 0x{btype:08x}")

    def _truncated(self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> BadInput:
        avail = end - pos
        need = MIN_BLOCK_LEN
        btype = None
        if avail >= 4:
            (btype,) = struct.unpack(self._order + "I", buf[pos : pos + 4].tobytes())
        if btype == SHB:
            if avail >= MIN_BLOCK_LEN:
                order = self._shb_order(buf, pos)
                if order is not None:
                    (need,) = struct.unpack(order + "I", buf[pos + 4 : pos + 8].tobytes())
        elif avail >= 8:
            (need,) = struct.unpack(self._order + "I", buf[pos + 4 : pos + 8].tobytes())
        where = f"block at byte {base + pos} needs {need} bytes, {avail} available"
        if btype is None or btype in PACKET_BLOCKS:
            frame = self._frame + self._n
            return BadInput(
                self.name,
                f"file ends inside frame {frame} ({where})",
                offset=base + pos,
                frame=frame,
            )
        return BadInput(
            self.name,
            f"file ends inside a {self._kind(btype)} block ({where})",
            offset=base + pos,
        )

    # --- blocks handled in Python ---------------------------------------------------

    def _options(
        self,
        buf: npt.NDArray[np.uint8],
        start: int,
        stop: int,
        *,
        strict: bool,
        kind: str,
        base: int,
    ) -> list[tuple[int, bytes]]:
        """Options between `start` and `stop` (buffer offsets) up to opt_endofopt."""
        out: list[tuple[int, bytes]] = []
        p = start
        while p + 4 <= stop:
            code, olen = struct.unpack(self._order + "HH", buf[p : p + 4].tobytes())
            if code == OPT_ENDOFOPT:
                break
            if p + 4 + olen > stop:
                if strict:
                    self._error = BadInput(
                        self.name,
                        f"{kind} block option {code} of {olen} bytes at byte {base + p} "
                        "runs past the end of the block",
                        offset=base + p,
                    )
                break
            out.append((code, buf[p + 4 : p + 4 + olen].tobytes()))
            p += 4 + _pad4(olen)
        return out

    def _packet_comment(self, buf: npt.NDArray[np.uint8], pos: int, frame: int) -> int:
        btype, blen = struct.unpack(self._order + "II", buf[pos : pos + 8].tobytes())
        (caplen,) = struct.unpack(self._order + "I", buf[pos + 20 : pos + 24].tobytes())
        start = pos + EPB_DATA_OFFSET + _pad4(caplen)
        for code, value in self._options(
            buf, start, pos + blen - 4, strict=False, kind=self._kind(btype), base=0
        ):
            if code == OPT_COMMENT:
                self.info.comments.append((frame, _text(value)))
        return int(pos + blen)

    def _shb_order(self, buf: npt.NDArray[np.uint8], pos: int) -> str | None:
        bom = buf[pos + 8 : pos + 12].tobytes()
        if bom == struct.pack(">I", BYTE_ORDER_MAGIC):
            return ">"
        if bom == struct.pack("<I", BYTE_ORDER_MAGIC):
            return "<"
        return None

    def _slow_block(self, buf: npt.NDArray[np.uint8], pos: int, end: int, base: int) -> int:
        """Handle one non-packet block: its length, -bytes needed, or 0 after an error."""
        avail = end - pos
        (btype,) = struct.unpack(self._order + "I", buf[pos : pos + 4].tobytes())
        if btype == SHB:
            if avail < MIN_BLOCK_LEN:
                return -MIN_BLOCK_LEN
            order = self._shb_order(buf, pos)
            if order is None:
                self._error = BadInput(
                    self.name,
                    "section header block has a bad byte-order magic "
                    f"0x{buf[pos + 8 : pos + 12].tobytes().hex()} (expected 0x1a2b3c4d)",
                    offset=base + pos + 8,
                )
                return 0
            (blen,) = struct.unpack(order + "I", buf[pos + 4 : pos + 8].tobytes())
            if blen < SHB_MIN_LEN or blen % 4 or blen > MAX_RECORD_BYTES:
                self._error = BadInput(
                    self.name,
                    f"section header block length {blen} is invalid (must be a multiple "
                    f"of 4, at least {SHB_MIN_LEN} and at most {MAX_RECORD_BYTES})",
                    offset=base + pos,
                )
                return 0
            if avail < blen:
                return -int(blen)
            (trailer,) = struct.unpack(order + "I", buf[pos + blen - 4 : pos + blen].tobytes())
            if trailer != blen:
                self._error = BadInput(
                    self.name,
                    f"section header block trailing length {trailer} differs from its "
                    f"leading length {blen}",
                    offset=base + pos,
                )
                return 0
            self._section_header(buf, pos, blen, order, base)
            return 0 if self._error else int(blen)
        # the kernel has validated length, completeness and trailer of every other block
        (blen,) = struct.unpack(self._order + "I", buf[pos + 4 : pos + 8].tobytes())
        if btype == IDB:
            self._interface(buf, pos, blen, base)
            return 0 if self._error else int(blen)
        self.info.skipped_blocks[btype] = self.info.skipped_blocks.get(btype, 0) + 1
        return int(blen)

    def _section_header(
        self, buf: npt.NDArray[np.uint8], pos: int, blen: int, order: str, base: int
    ) -> None:
        major, minor = struct.unpack(order + "HH", buf[pos + 12 : pos + 16].tobytes())
        if major != VERSION_MAJOR:
            self._error = BadInput(
                self.name,
                f"unsupported pcapng version {major}.{minor} (expected 1.0)",
                offset=base + pos + 12,
            )
            return
        self._order = order
        self._big = order == ">"
        self._section += 1
        info = self.info
        if self._section == 0:
            info.byte_order = "big" if self._big else "little"
            info.version = (major, minor)
        info.sections = self._section + 1
        self._section_ifaces = []
        self._set_iface_arrays()
        meta: dict[str, str] = {"byte_order": "big" if self._big else "little"}
        opts = self._options(
            buf, pos + 24, pos + blen - 4, strict=True, kind="section header", base=base
        )
        names = {SHB_HARDWARE: "hardware", SHB_OS: "os", SHB_USERAPPL: "userappl"}
        for code, value in opts:
            if code == OPT_COMMENT:
                info.comments.append((None, _text(value)))
            elif code in names:
                meta[names[code]] = _text(value)
        info.extra.setdefault("section_headers", []).append(meta)

    def _interface(self, buf: npt.NDArray[np.uint8], pos: int, blen: int, base: int) -> None:
        if blen < IDB_MIN_LEN:
            self._error = BadInput(
                self.name,
                f"interface description block of {blen} bytes is too short "
                f"(at least {IDB_MIN_LEN})",
                offset=base + pos,
            )
            return
        linktype, _reserved, snaplen = struct.unpack(
            self._order + "HHI", buf[pos + 8 : pos + 16].tobytes()
        )
        iface = Interface(linktype=linktype, snaplen=snaplen, section=self._section)
        opts = self._options(
            buf, pos + 16, pos + blen - 4, strict=True, kind="interface description", base=base
        )
        if self._error:
            return
        seen: set[int] = set()
        for code, value in opts:
            first = code not in seen
            seen.add(code)
            if code == OPT_COMMENT:
                self.info.comments.append((None, _text(value)))
            elif code == IF_NAME and first:
                iface.name = _text(value)
            elif code == IF_DESCRIPTION and first:
                iface.description = _text(value)
            elif code == IF_TSRESOL and first and value:
                units = self._tsresol(value[0], base + pos)
                if units is None:
                    return
                iface.ts_units_per_second = units
            elif code == IF_TSOFFSET and first and len(value) >= 8:
                (offset_s,) = struct.unpack(self._order + "q", value[:8])
                if abs(offset_s) > MAX_TSOFFSET_S:
                    self._error = BadInput(
                        self.name,
                        f"if_tsoffset {offset_s} s is out of range (at most {MAX_TSOFFSET_S} s)",
                        offset=base + pos,
                    )
                    return
                iface.ts_offset_s = offset_s
            elif code == IF_FCSLEN and first and value:
                # if_fcslen is in bits (Wireshark reads it so since 4.2; the draft agrees)
                iface.fcs_len = value[0] // 8
        self._section_ifaces.append(iface)
        self.info.interfaces.append(iface)
        self._set_iface_arrays()

    def _tsresol(self, v: int, offset: int) -> int | None:
        if v & TSRESOL_POW2_BIT:
            exp = v & ~TSRESOL_POW2_BIT
            if exp > MAX_TSRESOL_POW2:
                self._error = BadInput(
                    self.name, f"if_tsresol 2^-{exp} is finer than supported", offset=offset
                )
                return None
            return int(1 << exp)
        if v > MAX_TSRESOL_POW10:
            self._error = BadInput(
                self.name, f"if_tsresol 10^-{v} is finer than supported", offset=offset
            )
            return None
        return int(10**v)
