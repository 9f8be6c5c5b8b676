"""The hand-off between a file-format reader and the dissector.

A reader (`pcap.py`, `pcapng.py`) walks record or block headers and yields `RecordBatch`es:
one contiguous byte buffer plus, per frame, where its bytes start, how many were captured,
its wire length, timestamp, interface and link type. The dissector (`dissect.py`) turns a
batch into a `PacketTable`. `CaptureInfo` collects what a reader learnt about the file as
a whole (format, byte order, interfaces, comments); readers fill it as they stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class RecordBatch:
    """Frames located inside one buffer. All arrays have one entry per frame."""

    #: bytes holding the frames (may hold other bytes too: headers, padding)
    buf: npt.NDArray[np.uint8]
    #: offset in `buf` of each frame's first byte (int64)
    data_offset: npt.NDArray[np.int64]
    cap_len: npt.NDArray[np.uint32]
    wire_len: npt.NDArray[np.uint32]
    ts_ns: npt.NDArray[np.int64]
    iface: npt.NDArray[np.uint16]
    linktype: npt.NDArray[np.uint16]
    #: 1-based frame numbers within the capture
    frame: npt.NDArray[np.uint64]
    #: byte offset, in the (decompressed) capture stream, of each frame's record header;
    #: error messages quote it
    file_offset: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_frames(
        cls,
        frames: list[bytes],
        linktype: int | list[int],
        *,
        ts_ns: list[int] | None = None,
        wire_len: list[int] | None = None,
        first_frame: int = 1,
    ) -> RecordBatch:
        """Build a batch from raw frame bytes (tests, fuzzing, the lab's own packets)."""
        n = len(frames)
        lens = np.array([len(f) for f in frames], dtype=np.uint32)
        offs = np.zeros(n, dtype=np.int64)
        if n:
            offs[1:] = np.cumsum(lens[:-1], dtype=np.int64)
        buf = np.frombuffer(b"".join(frames), dtype=np.uint8).copy()
        lt = [linktype] * n if isinstance(linktype, int) else list(linktype)
        return cls(
            buf=buf,
            data_offset=offs,
            cap_len=lens,
            wire_len=np.array(wire_len if wire_len is not None else lens, dtype=np.uint32),
            ts_ns=np.array(ts_ns if ts_ns is not None else range(n), dtype=np.int64),
            iface=np.zeros(n, dtype=np.uint16),
            linktype=np.array(lt, dtype=np.uint16),
            frame=np.arange(first_frame, first_frame + n, dtype=np.uint64),
            file_offset=offs.copy(),
        )


@dataclass
class Interface:
    """One capture interface (pcapng IDB, or the single implicit one of classic pcap)."""

    linktype: int
    snaplen: int
    #: timestamp units per second (1e6 for usec pcap, 1e9 for nsec, if_tsresol for pcapng)
    ts_units_per_second: int = 1_000_000
    #: if_tsoffset, seconds added to every timestamp
    ts_offset_s: int = 0
    name: str | None = None
    description: str | None = None
    #: pcapng section index (0-based) this interface belongs to
    section: int = 0
    #: bytes of frame check sequence at the end of every frame, when the file says so
    #: (classic pcap: FCS bits of the link-type field; pcapng: if_fcslen); None = unknown
    fcs_len: int | None = None


@dataclass
class CaptureInfo:
    """What a reader learnt about the whole capture; filled while streaming."""

    #: "pcap" or "pcapng"
    format: str
    #: "little" or "big" (pcapng: of the first section)
    byte_order: str = "little"
    #: pcap: "usec" or "nsec"; pcapng: "per-interface"
    ts_precision: str = "usec"
    version: tuple[int, int] = (2, 4)
    interfaces: list[Interface] = field(default_factory=list)
    sections: int = 1
    #: comments from SHB/IDB/packet blocks: (frame or None, text)
    comments: list[tuple[int | None, str]] = field(default_factory=list)
    #: block types skipped as unknown/custom, with counts
    skipped_blocks: dict[int, int] = field(default_factory=dict)
    #: bytes consumed from the (decompressed) stream
    bytes_read: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
