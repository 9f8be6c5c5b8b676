"""Capture format detection: sniff the magic, hand back the matching streaming reader.

`open_reader(stream, name)` reads the first four bytes (the stream need not be seekable:
the bytes are kept and replayed to the reader), recognises classic pcap in either byte
order and flavour or pcapng, and returns a `CaptureReader` (`.info`, `.batches()`).
Decompression and archives are not handled here: the source layer hands over the
decompressed member stream.
"""

from __future__ import annotations

from pathsleuth.capture.chunks import DEFAULT_CHUNK_BYTES, ByteStream, CaptureReader, read_prefix
from pathsleuth.capture.pcap import MAGIC_MODIFIED, MAGIC_NSEC, MAGIC_USEC, PcapReader
from pathsleuth.capture.pcapng import SHB, PcapngReader
from pathsleuth.errors import BadInput

__all__ = ["ByteStream", "CaptureReader", "open_reader", "sniff_format"]

MAGIC_LEN = 4
_PCAP_MAGICS = {
    m.to_bytes(4, order)
    for m in (MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED)
    for order in ("big", "little")
}
_PCAPNG_MAGIC = SHB.to_bytes(4, "big")  # a palindrome: the same in both byte orders


def sniff_format(head: bytes) -> str | None:
    """ "pcap", "pcapng" or None for the first four bytes of a file."""
    if head[:MAGIC_LEN] in _PCAP_MAGICS:
        return "pcap"
    if head[:MAGIC_LEN] == _PCAPNG_MAGIC:
        return "pcapng"
    return None


def open_reader(
    stream: ByteStream, name: str, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> CaptureReader:
    """A streaming reader for the capture in `stream`; `name` is quoted in errors."""
    head = read_prefix(stream, MAGIC_LEN)
    fmt = sniff_format(head)
    if fmt == "pcap":
        return PcapReader(stream, name, prefix=head, chunk_bytes=chunk_bytes)
    if fmt == "pcapng":
        return PcapngReader(stream, name, prefix=head, chunk_bytes=chunk_bytes)
    if not head:
        raise BadInput(name, "empty file: not a pcap or pcapng file", offset=0)
    if len(head) < MAGIC_LEN:
        raise BadInput(
            name,
            f"file of {len(head)} bytes is too short to be a pcap or pcapng file",
            offset=0,
        )
    raise BadInput(name, f"not a pcap or pcapng file (magic 0x{head.hex()})", offset=0)
