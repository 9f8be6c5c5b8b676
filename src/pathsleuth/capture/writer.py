"""The project's own pcap and pcapng writers (tests, the lab, the demo, benchmarks).

`PcapWriter` writes classic pcap (either byte order, micro- or nanosecond magic, the FCS
bits of the link-type field); `PcapngWriter` writes pcapng with any number of sections
(each in its own byte order), interfaces (link type, snaplen, `if_tsresol` in either
form, `if_tsoffset`, `if_fcslen`, names), Enhanced / Simple / obsolete Packet Blocks,
custom blocks and arbitrary raw blocks. Correctness (padding, option terminators, lengths
in both byte orders) matters here, speed does not: the readers are what is fast.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal

from pathsleuth.capture import pcap, pcapng

ByteOrder = Literal["little", "big"]
Option = tuple[int, bytes]

#: pcap file header fields with no meaning today (draft-ietf-opsawg-pcap 4: SHOULD be 0)
_THISZONE = 0
_SIGFIGS = 0
#: section length -1: "not specified" (draft-ietf-opsawg-pcapng 4.1)
_SECTION_LEN_UNSPECIFIED = -1
#: Private Enterprise Number used for the project's custom blocks when none is given
#: (IANA PEN 32473 is reserved for documentation, RFC 5612)
DOC_PEN = 32473
MAX_U32 = 0xFFFFFFFF
NS_PER_S = 1_000_000_000
BITS_PER_BYTE = 8


def _order_char(byte_order: str) -> str:
    if byte_order == "little":
        return "<"
    if byte_order == "big":
        return ">"
    raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


class PcapWriter:
    """Classic pcap writer; the file header is written on construction."""

    def __init__(
        self,
        fh: BinaryIO,
        linktype: int,
        *,
        nanosecond: bool = False,
        byte_order: ByteOrder = "little",
        snaplen: int = pcap.MAXIMUM_SNAPLEN,
        fcs_len: int | None = None,
    ) -> None:
        if not 0 <= linktype <= pcap.LINKTYPE_MASK:
            raise ValueError(f"link type {linktype} does not fit 16 bits")
        self._fh = fh
        self._o = _order_char(byte_order)
        self._nsec = nanosecond
        self.snaplen = snaplen
        field = linktype
        if fcs_len is not None:
            words, odd = divmod(fcs_len, pcap.FCS_WORD_BYTES)
            if odd or not 0 <= words <= 0xF:
                raise ValueError("pcap FCS length must be an even number of bytes, at most 30")
            field |= pcap.FCS_PRESENT_BIT | (words << pcap.FCS_LEN_SHIFT)
        magic = pcap.MAGIC_NSEC if nanosecond else pcap.MAGIC_USEC
        fh.write(struct.pack(self._o + "IHHiIII", magic, 2, 4, _THISZONE, _SIGFIGS, snaplen, field))

    def write(self, frame: bytes, ts_ns: int, wire_len: int | None = None) -> None:
        """One record; frames longer than the snaplen are cut to it, as a capture would."""
        if ts_ns < 0:
            raise ValueError("pcap cannot store timestamps before 1970")
        wire = len(frame) if wire_len is None else wire_len
        data = frame[: self.snaplen] if self.snaplen else frame
        sec, ns = divmod(ts_ns, NS_PER_S)
        frac = ns if self._nsec else ns // 1000
        if sec > MAX_U32 or wire > MAX_U32:
            raise ValueError("timestamp or wire length does not fit the pcap record header")
        self._fh.write(struct.pack(self._o + "IIII", sec, frac, len(data), wire) + data)


@dataclass
class _WriterInterface:
    snaplen: int
    units: int
    offset_s: int


def tsresol_units(tsresol: int) -> int:
    """Timestamp units per second for an `if_tsresol` byte (high bit: power of two)."""
    if tsresol & pcapng.TSRESOL_POW2_BIT:
        return 1 << (tsresol & ~pcapng.TSRESOL_POW2_BIT)
    return int(10**tsresol)


class PcapngWriter:
    """pcapng writer. Call `section()` first, then `interface()`, then packet blocks."""

    def __init__(self, fh: BinaryIO, *, byte_order: ByteOrder = "little") -> None:
        self._fh = fh
        self._default_order = _order_char(byte_order)
        self._o = self._default_order
        self._ifaces: list[_WriterInterface] = []
        self._in_section = False

    # --- framing --------------------------------------------------------------------

    def _options(self, opts: Sequence[Option]) -> bytes:
        if not opts:
            return b""
        out = b"".join(
            struct.pack(self._o + "HH", code, len(value)) + _pad(value) for code, value in opts
        )
        return out + struct.pack(self._o + "HH", pcapng.OPT_ENDOFOPT, 0)

    def _block(self, block_type: int, body: bytes) -> None:
        body = _pad(body)
        total = len(body) + 12
        self._fh.write(
            struct.pack(self._o + "II", block_type, total)
            + body
            + struct.pack(self._o + "I", total)
        )

    def _need_section(self) -> None:
        if not self._in_section:
            raise ValueError("write a section header (section()) first")

    # --- blocks ---------------------------------------------------------------------

    def section(
        self,
        comment: str | None = None,
        *,
        byte_order: ByteOrder | None = None,
        hardware: str | None = None,
        os: str | None = None,
        userappl: str | None = None,
        options: Sequence[Option] = (),
    ) -> None:
        """Start a section (Section Header Block); interfaces start again from 0."""
        self._o = self._default_order if byte_order is None else _order_char(byte_order)
        opts: list[Option] = []
        if comment is not None:
            opts.append((pcapng.OPT_COMMENT, comment.encode()))
        for code, text in (
            (pcapng.SHB_HARDWARE, hardware),
            (pcapng.SHB_OS, os),
            (pcapng.SHB_USERAPPL, userappl),
        ):
            if text is not None:
                opts.append((code, text.encode()))
        opts.extend(options)
        body = struct.pack(
            self._o + "IHHq", pcapng.BYTE_ORDER_MAGIC, 1, 0, _SECTION_LEN_UNSPECIFIED
        )
        self._block(pcapng.SHB, body + self._options(opts))
        self._ifaces = []
        self._in_section = True

    def interface(
        self,
        linktype: int,
        *,
        snaplen: int = pcap.MAXIMUM_SNAPLEN,
        tsresol: int = pcapng.DEFAULT_TSRESOL,
        tsoffset: int = 0,
        name: str | None = None,
        description: str | None = None,
        fcs_len: int | None = None,
        comment: str | None = None,
        options: Sequence[Option] = (),
    ) -> int:
        """Add an Interface Description Block; returns its id within the section.

        `tsresol` is the raw `if_tsresol` byte: 6 = microseconds, 9 = nanoseconds,
        0x80 | n = 2^-n seconds. `fcs_len` is in bytes (written in bits, as the option is).
        """
        self._need_section()
        opts: list[Option] = []
        if comment is not None:
            opts.append((pcapng.OPT_COMMENT, comment.encode()))
        if name is not None:
            opts.append((pcapng.IF_NAME, name.encode()))
        if description is not None:
            opts.append((pcapng.IF_DESCRIPTION, description.encode()))
        if tsresol != pcapng.DEFAULT_TSRESOL:
            opts.append((pcapng.IF_TSRESOL, bytes([tsresol])))
        if fcs_len is not None:
            opts.append((pcapng.IF_FCSLEN, bytes([fcs_len * BITS_PER_BYTE])))
        if tsoffset:
            opts.append((pcapng.IF_TSOFFSET, struct.pack(self._o + "q", tsoffset)))
        opts.extend(options)
        body = struct.pack(self._o + "HHI", linktype, 0, snaplen) + self._options(opts)
        self._block(pcapng.IDB, body)
        self._ifaces.append(_WriterInterface(snaplen, tsresol_units(tsresol), tsoffset))
        return len(self._ifaces) - 1

    def _ticks(self, iface: int, ts_ns: int) -> int:
        info = self._ifaces[iface]
        ticks = (ts_ns - info.offset_s * NS_PER_S) * info.units // NS_PER_S
        if not 0 <= ticks < 1 << 64:
            raise ValueError(f"timestamp {ts_ns} ns is not representable on interface {iface}")
        return ticks

    def epb(
        self,
        iface: int,
        ts_ns: int,
        frame: bytes,
        *,
        wire_len: int | None = None,
        comment: str | None = None,
        options: Sequence[Option] = (),
    ) -> None:
        """Enhanced Packet Block. Timestamps are floored to the interface's resolution."""
        self._need_section()
        if not 0 <= iface < len(self._ifaces):
            raise ValueError(f"no interface {iface} in this section")
        ticks = self._ticks(iface, ts_ns)
        opts: list[Option] = []
        if comment is not None:
            opts.append((pcapng.OPT_COMMENT, comment.encode()))
        opts.extend(options)
        wire = len(frame) if wire_len is None else wire_len
        head = struct.pack(self._o + "IIIII", iface, ticks >> 32, ticks & MAX_U32, len(frame), wire)
        self._block(pcapng.EPB, head + _pad(frame) + self._options(opts))

    def spb(self, frame: bytes, wire_len: int | None = None) -> None:
        """Simple Packet Block (interface 0, no timestamp).

        The format has no captured-length field: readers take min(wire length, snaplen),
        so `frame` must be exactly that long.
        """
        self._need_section()
        if not self._ifaces:
            raise ValueError("a simple packet block needs interface 0")
        wire = len(frame) if wire_len is None else wire_len
        snap = self._ifaces[0].snaplen
        expect = min(wire, snap) if snap else wire
        if len(frame) != expect:
            raise ValueError(
                f"SPB frame must be min(wire_len, snaplen) = {expect} bytes, not {len(frame)}"
            )
        self._block(pcapng.SPB, struct.pack(self._o + "I", wire) + frame)

    def pb(
        self,
        iface: int,
        ts_ns: int,
        frame: bytes,
        *,
        wire_len: int | None = None,
        drops: int = 0,
        comment: str | None = None,
    ) -> None:
        """Obsolete Packet Block (block type 2, 16-bit interface id and drop count)."""
        self._need_section()
        if not 0 <= iface < len(self._ifaces):
            raise ValueError(f"no interface {iface} in this section")
        ticks = self._ticks(iface, ts_ns)
        opts: list[Option] = []
        if comment is not None:
            opts.append((pcapng.OPT_COMMENT, comment.encode()))
        wire = len(frame) if wire_len is None else wire_len
        head = struct.pack(
            self._o + "HHIIII", iface, drops, ticks >> 32, ticks & MAX_U32, len(frame), wire
        )
        self._block(pcapng.PB, head + _pad(frame) + self._options(opts))

    def custom_block(self, data: bytes, *, pen: int = DOC_PEN, copyable: bool = True) -> None:
        """Custom Block (0x00000BAD may be copied by editors, 0x40000BAD may not)."""
        self._need_section()
        btype = pcapng.CUSTOM_COPY if copyable else pcapng.CUSTOM_NOCOPY
        self._block(btype, struct.pack(self._o + "I", pen) + data)

    def raw_block(self, block_type: int, body: bytes) -> None:
        """Any block, body padded to 4 bytes and framed with correct lengths."""
        self._need_section()
        self._block(block_type, body)
