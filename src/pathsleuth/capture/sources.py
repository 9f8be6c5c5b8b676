"""Which byte streams are captures: pcap/pcapng magic, and archives searched for them.

Builds on `pathsleuth.inputs` (files, stdin, gzip/bz2/xz/zstd, tar and zip members) and
hands the capture readers (`pcap.py`, `pcapng.py`) one `NamedStream` per capture, named
for error messages (``PACKETTRACE.TAR.GZ!trace/eth0.pcap``). Inside an archive only members
that start with a capture magic are handed on; the rest are recorded as skipped. A plain
(non-archive) file is always handed on, so that a file with a wrong magic gets the format
reader's precise "bad magic" error instead of a vague "not a capture".
"""

from __future__ import annotations

from collections.abc import Callable

from pathsleuth.errors import BadInput
from pathsleuth.inputs import DEFAULT_LIMITS, Limits, Members, NamedStream

__all__ = ["CAPTURE_MAGICS", "CaptureMembers", "capture_format", "is_capture", "open_captures"]

#: first four bytes of a capture file -> format name. Classic pcap writes its magic in the
#: writer's byte order, so both orders appear; 0xa1b23c4d marks nanosecond timestamps
#: (pcap-savefile(5), draft-ietf-opsawg-pcap section 4). pcapng files open with a Section
#: Header Block whose type 0x0A0D0D0A is a palindrome (draft-ietf-opsawg-pcapng 4.1).
CAPTURE_MAGICS: dict[bytes, str] = {
    bytes.fromhex("a1b2c3d4"): "pcap",
    bytes.fromhex("d4c3b2a1"): "pcap",
    bytes.fromhex("a1b23c4d"): "pcap-ns",
    bytes.fromhex("4d3cb2a1"): "pcap-ns",
    bytes.fromhex("0a0d0d0a"): "pcapng",
}

#: members listed in the "no capture in archive" message before it is cut short
MAX_LISTED_MEMBERS = 20


def capture_format(first_bytes: bytes) -> str | None:
    """``"pcap"``, ``"pcap-ns"`` or ``"pcapng"`` for a capture's first bytes, else None."""
    return CAPTURE_MAGICS.get(bytes(first_bytes[:4]))


def is_capture(first_bytes: bytes) -> bool:
    """True when `first_bytes` start with a pcap or pcapng magic."""
    return capture_format(first_bytes) is not None


class CaptureMembers(Members):
    """`Members` that refuses an archive holding no capture at all."""

    def __init__(self, path: str, limits: Limits, accept: Callable[[bytes], bool]) -> None:
        super().__init__(path, limits, accept)

    def __next__(self) -> NamedStream:
        try:
            return super().__next__()
        except StopIteration:
            if self.archive is not None and self.yielded == 0:
                raise BadInput(self.name, self._no_capture_message()) from None
            raise

    def _no_capture_message(self) -> str:
        listed = [f"{s.name.rsplit('!', 1)[-1]} ({s.reason})" for s in self.skipped]
        more = len(listed) - MAX_LISTED_MEMBERS
        text = ", ".join(listed[:MAX_LISTED_MEMBERS]) or "none"
        if more > 0:
            text += f", and {more} more"
        return f"no pcap/pcapng capture in archive; members: {text}"


def open_captures(path: str, *, limits: Limits = DEFAULT_LIMITS) -> CaptureMembers:
    """The capture streams in `path` (a file, ``-`` for stdin, or a tar/zip archive).

    Each stream is decompressed and named; inside an archive, members without a capture
    magic are skipped (see `CaptureMembers.skipped`) and an archive with no capture at all
    raises `BadInput` listing its members. Use as a context manager or exhaust it; a
    stream is valid until the next one is requested.
    """
    return CaptureMembers(path, limits, is_capture)
