"""Input layer: a path (or ``-`` for stdin) in, named and decompressed byte streams out.

This module owns everything between the operating system and a format parser: opening
files and stdin, *transparent* decompression recognised by magic bytes (gzip including
multi-member files, bzip2, xz and legacy lzma, zstd; nested chains such as gzip inside xz),
and walking tar and zip archives member by member without ever extracting to disk. It hands
on `NamedStream` objects: readable, peekable (so callers can sniff magic on pipes), named
for error messages (``trace.tar.gz!dir/eth0.pcap``) and guarded by `Limits` against
decompression bombs while they stream.

Everything is streamed with bounded memory: stdin is never buffered whole, tar archives are
read in stream mode, and every decompressor is driven with a cap on its output per call.
Only a zip archive that arrives on a pipe or inside a compression layer is spooled to an
anonymous temporary file (zip keeps its directory at the end), up to `Limits.max_spool_bytes`.

Every failure is a `pathsleuth.errors.BadInput` naming the stream (and archive member) and,
where known, the byte offset; no zlib/lzma/zstd/tar/zip exception type escapes. Used by
`capture/` (captures) and `maillog/` (rotated, compressed logs). Nothing here prints.
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Protocol, Self, TypeVar

import zstandard

from pathsleuth.errors import BadInput

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Members",
    "NamedStream",
    "Skipped",
    "is_text",
    "iter_members",
    "open_stream",
    "sanitise_member_name",
    "sniff_archive",
    "sniff_compression",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: compressed bytes pulled from a source per call: large enough that per-call Python
#: overhead vanishes next to the decompressor's own work
READ_CHUNK = 1 * MiB
#: bytes the archive and compression sniffers look at (a tar header block is 512 bytes)
SNIFF_BYTES = 512
#: bytes handed to an ``accept`` filter: enough for a capture magic or a few log lines
ACCEPT_SNIFF_BYTES = 4 * KiB
#: the largest `NamedStream.peek` honoured; peeking is for magic, not for buffering
MAX_PEEK = 1 * MiB
#: xz/lzma decoder memory cap. xz presets need at most 65 MiB (``xz -9``, liblzma docs);
#: 1 GiB leaves room for custom dictionaries and stops a header asking for 4 GiB
XZ_MEMLIMIT = 1 * GiB
#: zstd: largest window accepted. 2**27 is zstd's own default decoder limit
#: (ZSTD_WINDOWLOG_LIMIT_DEFAULT); frames made with ``--long=31`` need more and are refused
ZSTD_MAX_WINDOW = 1 << 27
#: zstd: blocks fed to the decoder per call. A block decodes to at most 128 KiB
#: (RFC 8878 section 3.1.1.2.4, Block_Maximum_Size), so one call yields at most 4 MiB
#: whatever the compression ratio (an RLE block turns 4 input bytes into 128 KiB)
ZSTD_BLOCKS_PER_CALL = 32
#: tar: largest PAX / GNU long-name header tarfile may read into memory. Real ones hold a
#: path (PATH_MAX 4096) and a few attributes; a multi-GiB one is an attack on memory
MAX_TAR_META_BYTES = 8 * MiB
#: zip: fixed part of a central directory entry (APPNOTE.TXT 4.3.12)
ZIP_CD_ENTRY_MIN = 46

#: smallest LZMA dictionary liblzma writes (LZMA_DICT_SIZE_MIN, lzma/lzma12.h)
LZMA_DICT_MIN = 4096

TAR_BLOCK = 512  # POSIX.1-1988 ustar block size


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Caps against decompression bombs and archive abuse, enforced while streaming.

    The defaults are far above any capture or log a support engineer handles, so they only
    stop hostile or broken input; raise them for a legitimate monster. Nothing is ever
    written to disk (except a zip spool, see `max_spool_bytes`) and memory stays bounded
    whatever the caps, so a bomb can only cost time: the caps bound that time.
    """

    max_member_bytes: int = 64 * GiB
    """Decompressed bytes one stream (a file or one archive member) may yield. 64 GiB is
    days of full-rate capture on a busy mail relay; rotated tcpdump files are far smaller."""

    max_total_bytes: int = 256 * GiB
    """Decompressed bytes for the whole input: the archive stream itself and the sum of
    all member streams handed out."""

    max_ratio: float = 1000.0
    """Largest decompressed/compressed ratio, checked only once `ratio_min_bytes` have come
    out (small, very compressible files are fine). Real captures and logs compress 3-100x;
    gzip cannot exceed ~1032x (deflate's limit), while bzip2, xz and zstd bombs reach
    millions. The compressed size is what the stream has consumed so far (file, pipe or tar
    member) or the stored size for a zip member."""

    ratio_min_bytes: int = 1 * GiB
    """Output below which the ratio is not checked: a bomb stopped at 1 GiB has cost
    about a second."""

    max_members: int = 10_000
    """Archive entries (all kinds, nested archives included) before giving up: a capture
    bundle has a handful; millions of empty entries are a denial of service."""

    max_compression_depth: int = 4
    """Compression layers stacked on one stream (gzip in xz is 2)."""

    max_archive_depth: int = 2
    """Archive nesting: 1 opens only the outer archive, 2 also opens archives inside it."""

    max_spool_bytes: int = 16 * GiB
    """Bytes a zip read from a pipe (or from inside a compression layer or another
    archive) may occupy in the anonymous temporary file it is spooled to (``$TMPDIR``)."""

    def __post_init__(self) -> None:
        for name in (
            "max_member_bytes",
            "max_total_bytes",
            "ratio_min_bytes",
            "max_members",
            "max_compression_depth",
            "max_archive_depth",
            "max_spool_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"Limits.{name} must not be negative")
        if self.max_ratio <= 0:
            raise ValueError("Limits.max_ratio must be positive")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Skipped:
    """An archive entry that was not handed out, and why."""

    name: str
    reason: str


# --------------------------------------------------------------------------- sniffing

GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952 section 2.3.1: ID1 ID2 and CM=8 (deflate)
BZIP2_MAGIC = b"BZh"
#: bzip2 block magic (BCD pi) and end-of-stream magic (BCD sqrt(pi))
BZIP2_BLOCK_MAGICS = (bytes.fromhex("314159265359"), bytes.fromhex("177245385090"))
XZ_MAGIC = b"\xfd7zXZ\x00"  # xz file format 1.0.4, section 2.1.1.1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 section 3.1.1, 0xFD2FB528 little endian
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")  # local header, empty, spanned
USTAR_MAGIC = b"ustar"


def _is_gzip(head: bytes) -> bool:
    # FLG's top three bits are reserved and must be zero (RFC 1952 section 2.3.1)
    return head.startswith(GZIP_MAGIC) and (len(head) < 4 or head[3] & 0xE0 == 0)


def _is_bzip2(head: bytes) -> bool:
    return (
        len(head) >= 10
        and head.startswith(BZIP2_MAGIC)
        and head[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9")
        and head[4:10] in BZIP2_BLOCK_MAGICS
    )


def _is_xz(head: bytes) -> bool:
    return head.startswith(XZ_MAGIC)


def _is_zstd_skippable(head: bytes) -> bool:
    # skippable frames: magic 0x184D2A50..0x184D2A5F (RFC 8878 section 3.1.2); pzstd
    # starts its output with one
    return len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18"


def _is_zstd(head: bytes) -> bool:
    return head.startswith(ZSTD_MAGIC) or _is_zstd_skippable(head)


def _is_lzma_alone(head: bytes) -> bool:
    """Legacy ``.lzma`` (LZMA_Alone) has no magic; apply liblzma's own plausibility test."""
    if len(head) < 13 or head[0] >= 9 * 5 * 5:  # lc/lp/pb properties byte
        return False
    dict_size = int.from_bytes(head[1:5], "little")
    size = int.from_bytes(head[5:13], "little")
    # liblzma accepts 2^n or 2^n + 2^(n-1) dictionaries; unknown size is all ones
    d = dict_size - 1
    d |= d >> 2
    d |= d >> 3
    d |= d >> 4
    d |= d >> 8
    d |= d >> 16
    d += 1
    return (
        dict_size >= LZMA_DICT_MIN
        and dict_size == d
        and (size == (1 << 64) - 1 or size < (1 << 38))
        # a tar header's name field can pass the above; its checksum settles it
        and sniff_archive(head) != "tar"
    )


def _tar_checksum_ok(head: bytes) -> bool:
    field_ = head[148:156].replace(b"\x00", b" ").strip()
    if not field_:
        return False
    try:
        stored = int(field_, 8)
    except ValueError:
        return False
    block = head[:148] + b" " * 8 + head[156:TAR_BLOCK]
    unsigned = sum(block)
    signed = sum(b - 256 if b > 127 else b for b in block)
    return stored in (unsigned, signed)


def sniff_compression(head: bytes) -> str | None:
    """Name of the compression format `head` starts with, or None."""
    for name, test in _SNIFFERS:
        if test(head):
            return name
    return None


def sniff_archive(head: bytes) -> str | None:
    """``"tar"`` or ``"zip"`` when `head` (at least 512 bytes for tar) starts an archive."""
    if head[:4] in ZIP_MAGICS:
        return "zip"
    if (
        len(head) >= TAR_BLOCK
        and (head[0] != 0 or head[257:262] == USTAR_MAGIC)
        and _tar_checksum_ok(head)
    ):
        return "tar"
    return None


#: control characters that plain-text logs legitimately contain
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")
_T = TypeVar("_T")
_R = TypeVar("_R")


def is_text(head: bytes) -> bool:
    """True when `head` looks like text (UTF-8 or Latin-1 log lines), e.g. for ``accept``.

    Empty input is not text, nor is anything with a NUL byte or more than 2% other
    control characters. Bytes 0x80-0xFF count as text (UTF-8 or Latin-1), so a multi-byte
    character cut by the end of `head` does not matter.
    """
    if not head or b"\x00" in head:
        return False
    controls = sum(1 for b in head if (b < 0x20 and b not in _TEXT_CONTROLS) or b == 0x7F)
    # 2%: a few stray escape bytes survive in real syslog; binary formats have far more
    return controls * 50 <= len(head)


# --------------------------------------------------------------------------- decoders


class _Decoder(Protocol):
    """The subset of `bz2.BZ2Decompressor` / `lzma.LZMADecompressor` the engine drives."""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


class _ZlibDecoder:
    """gzip member decoder with the `lzma`/`bz2` decompressor interface."""

    def __init__(self) -> None:
        # wbits 16 + 15: gzip wrapper, 32 KiB window; checks CRC-32 and ISIZE at the end
        self._d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._tail = b""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        buf = self._tail + data if self._tail else data
        # zlib reads max_length 0 as "unlimited": never ask for that
        out = self._d.decompress(buf, max_length if max_length > 0 else READ_CHUNK)
        self._tail = self._d.unconsumed_tail
        return out

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data


class _ZstdScanner:
    """Walks zstd frame and block headers (RFC 8878) to cut input at block boundaries.

    python-zstandard's decompressobj has no output limit, and one 4-byte RLE block decodes
    to 128 KiB; feeding it a bounded number of *blocks* per call bounds its output.
    """

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4
        self._hdr = bytearray()
        self._skip = 0
        self._checksum = False

    def cut(self, buf: memoryview, max_blocks: int) -> int:
        """Bytes of `buf` to feed now so that at most `max_blocks` blocks complete."""
        i, n, blocks = 0, len(buf), 0
        while i < n:
            if self._state == "opaque":
                return n  # not a structure we know: let the decoder report it
            if self._skip:
                step = min(self._skip, n - i)
                i += step
                self._skip -= step
                continue
            if blocks >= max_blocks:
                break
            step = min(self._need - len(self._hdr), n - i)
            self._hdr += buf[i : i + step]
            i += step
            if len(self._hdr) < self._need:
                break
            hdr = bytes(self._hdr)
            self._hdr.clear()
            blocks += self._advance(hdr)
        return i

    def _advance(self, hdr: bytes) -> int:
        state = self._state
        if state == "magic":
            if hdr == ZSTD_MAGIC:
                self._state, self._need = "fhd", 1
            elif _is_zstd_skippable(hdr):
                self._state, self._need = "skipsize", 4
            else:
                self._state = "opaque"
        elif state == "skipsize":
            self._skip = int.from_bytes(hdr, "little")
            self._state, self._need = "magic", 4
        elif state == "fhd":
            fhd = hdr[0]
            single = bool(fhd & 0x20)
            self._checksum = bool(fhd & 0x04)
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 3]
            rest += ((1 if single else 0), 2, 4, 8)[fhd >> 6]
            if rest:
                self._state, self._need = "fhdrest", rest
            else:
                self._state, self._need = "block", 3
        elif state == "fhdrest":
            self._state, self._need = "block", 3
        elif state == "block":
            word = int.from_bytes(hdr, "little")
            last, kind, size = word & 1, (word >> 1) & 3, word >> 3
            if kind == 3:  # reserved block type: corrupt, the decoder will say so
                self._state = "opaque"
                return 1
            self._skip = 1 if kind == 1 else size
            if not last:
                self._need = 3
            elif self._checksum:
                self._state, self._need = "checksum", 4
            else:
                self._state, self._need = "magic", 4
            return 1
        elif state == "checksum":
            self._state, self._need = "magic", 4
        return 0


class _ZstdDecoder:
    """One zstd frame, decoded with bounded output per call."""

    def __init__(self) -> None:
        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._d = dctx.decompressobj()
        self._in = bytearray()
        self._out = b""
        self._out_off = 0
        self._scan = _ZstdScanner()

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data:
            self._in += data
        want = max_length if max_length > 0 else READ_CHUNK
        while len(self._out) - self._out_off < want and self._in and not self._d.eof:
            k = self._scan.cut(memoryview(self._in), ZSTD_BLOCKS_PER_CALL)
            if k == 0:
                break
            chunk = bytes(self._in[:k])
            del self._in[:k]
            produced = self._d.decompress(chunk)
            if produced:
                if self._out_off >= len(self._out):
                    self._out = produced
                else:
                    self._out = self._out[self._out_off :] + produced
                self._out_off = 0
        end = self._out_off + want
        out = self._out[self._out_off : end]
        self._out_off = min(end, len(self._out))
        return out

    @property
    def eof(self) -> bool:
        return bool(self._d.eof) and self._out_off >= len(self._out)

    @property
    def needs_input(self) -> bool:
        return not self._in and self._out_off >= len(self._out)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._d.unused_data) + bytes(self._in)


def _new_gzip() -> _Decoder:
    return _ZlibDecoder()


def _new_bzip2() -> _Decoder:
    return bz2.BZ2Decompressor()


def _new_xz() -> _Decoder:
    return lzma.LZMADecompressor(format=lzma.FORMAT_AUTO, memlimit=XZ_MEMLIMIT)


def _new_zstd() -> _Decoder:
    return _ZstdDecoder()


_SNIFFERS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("gzip", _is_gzip),
    ("bzip2", _is_bzip2),
    ("xz", _is_xz),
    ("zstd", _is_zstd),
    ("lzma", _is_lzma_alone),
)
_FACTORIES: dict[str, Callable[[], _Decoder]] = {
    "gzip": _new_gzip,
    "bzip2": _new_bzip2,
    "xz": _new_xz,
    "zstd": _new_zstd,
    "lzma": _new_xz,
}
_SNIFF_BY_NAME = dict(_SNIFFERS)

#: exception types a decoder, file object, tarfile or zipfile raises on bad data
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    tarfile.TarError,
    zipfile.BadZipFile,
)


#: zipfile also raises these on damaged directories and entries
_ZIP_OPEN_ERRORS: tuple[type[BaseException], ...] = (
    *_DATA_ERRORS,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# --------------------------------------------------------------------------- layers


class _Source:
    """A peekable, counting reader over a ``read(n)`` callable (file, decoder, member)."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        name: str,
        readinto: Callable[[memoryview], int | None] | None = None,
    ) -> None:
        self._read = read
        #: the underlying file's own ``readinto`` (plain files and pipes only): lets a
        #: capture reader fill its chunk buffer straight from the kernel, with no copy
        self.direct = readinto
        self.name = name
        self._buf = bytearray()
        self._eof = False
        #: bytes handed out by `read`
        self.pos = 0

    def _guarded(self, call: Callable[[_T], _R], arg: _T) -> _R:
        """`call(arg)` with a decoder's or the OS's error turned into `BadInput` here."""
        try:
            return call(arg)
        except BadInput:
            raise
        except _DATA_ERRORS as exc:
            raise BadInput(self.name, f"read error: {_describe(exc)}", offset=self.pos) from exc

    def _fill(self, n: int) -> bytes:
        if self._eof:
            return b""
        data = self._guarded(self._read, n)
        if not data:
            self._eof = True
        return data

    def consumed(self) -> int:
        """Bytes handed out so far."""
        return self.pos

    def readinto(self, mv: memoryview) -> int:
        """Fill `mv` from what a peek left behind, else straight from the file."""
        if self._buf or self.direct is None or self._eof:
            data = self.read(len(mv))
            mv[: len(data)] = data
            return len(data)
        got = self._guarded(self.direct, mv) or 0
        if not got:
            self._eof = True
        self.pos += got
        return got

    def peek(self, n: int) -> bytes:
        """Up to `n` bytes at the current position without consuming them."""
        while len(self._buf) < n:
            data = self._fill(max(n - len(self._buf), SNIFF_BYTES))
            if not data:
                break
            self._buf += data
        return bytes(self._buf[:n])

    def read(self, n: int) -> bytes:
        if n <= 0:
            return b""
        if self._buf:
            out = bytes(self._buf[:n])
            del self._buf[:n]
            if len(out) < n:  # what a peek left behind is short: top it up once
                out += self._fill(n - len(out))
        else:
            out = self._fill(n)
        self.pos += len(out)
        return out

    def readline(self, limit: int) -> bytes:
        """Up to and including the next newline, at most `limit` bytes."""
        searched = 0
        while True:
            nl = self._buf.find(b"\n", searched, limit)
            if nl >= 0 or len(self._buf) >= limit:
                break
            searched = len(self._buf)
            data = self._fill(READ_CHUNK)
            if not data:
                break
            self._buf += data
        end = min(nl + 1 if nl >= 0 else len(self._buf), limit)
        out = bytes(self._buf[:end])
        del self._buf[:end]
        self.pos += end
        return out


class _Decompress:
    """One compression layer: reads compressed bytes from a `_Source`, returns plain ones.

    Handles concatenated members/streams/frames (``cat a.gz b.gz``), zero padding after
    the last one, and reports truncation and trailing garbage.
    """

    def __init__(self, src: _Source, codec: str, name: str) -> None:
        self._src = src
        self.codec = codec
        self._name = name
        self._dec = _FACTORIES[codec]()
        self._pending = b""
        self._out = 0
        self._done = False

    def read(self, n: int) -> bytes:
        while not self._done:
            if self._dec.eof:
                self._next_stream()
                continue
            data = b""
            if self._pending:
                data, self._pending = self._pending, b""
            elif self._dec.needs_input:
                data = self._src.read(READ_CHUNK)
                if not data:
                    out = self._decode(b"", n)  # flush what the decoder still holds
                    if out or self._dec.eof:
                        return out if out else self.read(n)
                    raise BadInput(
                        self._name,
                        f"{self.codec} data truncated: input ended after {self._src.pos} "
                        f"compressed bytes, before the end-of-stream marker",
                        offset=self._out,
                    )
            out = self._decode(data, n)
            if out:
                return out
        return b""

    def _decode(self, data: bytes, n: int) -> bytes:
        try:
            out = self._dec.decompress(data, n)
        except _DATA_ERRORS as exc:
            raise BadInput(
                self._name,
                f"corrupt {self.codec} data (compressed input read up to byte "
                f"{self._src.pos}): {_describe(exc)}",
                offset=self._out,
            ) from exc
        self._out += len(out)
        return out

    def _next_stream(self) -> None:
        rest = self._dec.unused_data
        while True:
            rest = rest.lstrip(b"\x00")  # zero padding (tape blocks, xz stream padding)
            if len(rest) >= SNIFF_BYTES:
                break
            more = self._src.read(READ_CHUNK)
            if not more:
                break
            rest += more
        if not rest:
            self._done = True
            return
        if not _SNIFF_BY_NAME[self.codec](rest):
            raise BadInput(
                self._name,
                f"unexpected data after the end of the {self.codec} stream "
                f"(compressed byte offset {self._src.pos - len(rest)})",
                offset=self._out,
            )
        self._dec = _FACTORIES[self.codec]()
        self._pending = rest


class NamedStream(io.RawIOBase):
    """A readable, peekable stream with a name for error messages and caps against bombs.

    Reading past a `Limits` cap raises `BadInput` at the offset where the cap was hit;
    corrupt or truncated compressed data raises `BadInput` with the decompressed offset
    reached. Like any raw stream, ``read(n)`` may return fewer than `n` bytes before the
    end; ``b""`` means the end. Not seekable. A stream handed out by `iter_members` is
    valid until the iterator advances.
    """

    def __init__(
        self,
        src: _Source,
        *,
        name: str,
        path: str,
        member: str | None,
        compression: tuple[str, ...],
        archive: tuple[str, ...],
        cap: int,
        cap_name: str,
        limits: Limits,
        compressed: Callable[[], int],
        budget: _Budget | None = None,
    ) -> None:
        super().__init__()
        self._src = src
        self.name = name
        """Display name: the path, ``<stdin>``, or ``archive!member`` (sanitised)."""
        self.path = path
        """The path as given (``-`` for stdin)."""
        self.member = member
        """Sanitised member path inside the archive(s), or None for a plain file."""
        self.compression = compression
        """Compression layers removed, outermost first (``("gzip",)``; empty if none)."""
        self.archive = archive
        """Archive kinds this stream came out of, outermost first (``("tar",)``)."""
        self._cap = cap
        self._cap_name = cap_name
        self._limits = limits
        self._compressed = compressed
        self._budget = budget

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Decompressed bytes read so far."""
        return self._src.pos

    def peek(self, n: int = SNIFF_BYTES) -> bytes:
        """Up to `n` (at most 1 MiB) upcoming bytes, without consuming them."""
        self._checkClosed()
        return self._src.peek(min(n, MAX_PEEK))

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._checkClosed()
        mv = memoryview(buffer).cast("B")
        if self._src.direct is None:
            data = self.read(len(mv))
            mv[: len(data)] = data
            return len(data)
        pos = self._src.pos
        room = self._cap - pos + 1
        got = self._src.readinto(mv[: min(len(mv), room)])
        if got >= room:
            raise self._over_cap()
        if got:
            self._account(pos, got)
        return got

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()
        if size is None or size < 0:
            return self.readall()
        pos = self._src.pos
        # ask for one byte beyond the cap so that reaching it exactly is not an error
        room = self._cap - pos + 1
        return self._checked(pos, room, self._src.read(min(size, room)))

    def readline(self, size: int | None = -1) -> bytes:
        """One line (up to and including ``\\n``), without reading byte by byte."""
        self._checkClosed()
        pos = self._src.pos
        room = self._cap - pos + 1
        limit = room if size is None or size < 0 else min(size, room)
        return self._checked(pos, room, self._src.readline(limit))

    def _over_cap(self) -> BadInput:
        return BadInput(
            self.name,
            f"decompressed size exceeds Limits.{self._cap_name} "
            f"({_fmt_size(self._cap)}): possible decompression bomb",
            offset=self._cap,
        )

    def _checked(self, pos: int, room: int, data: bytes) -> bytes:
        if len(data) >= room:
            raise self._over_cap()
        if data:
            self._account(pos, len(data))
        return data

    def readall(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            data = self.read(READ_CHUNK)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def _account(self, pos: int, n: int) -> None:
        end = pos + n
        limits = self._limits
        if end >= limits.ratio_min_bytes:
            compressed = max(self._compressed(), 1)
            if end > compressed * limits.max_ratio:
                raise BadInput(
                    self.name,
                    f"decompressed/compressed ratio exceeds Limits.max_ratio "
                    f"({limits.max_ratio:g}): {end} bytes out of {compressed}; "
                    f"possible decompression bomb",
                    offset=end,
                )
        if self._budget is not None:
            self._budget.add(n, self.name, end)


def _fmt_size(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


@dataclass
class _Budget:
    """Totals shared by all streams of one input."""

    limits: Limits
    total: int = 0
    members: int = 0

    def add(self, n: int, name: str, offset: int) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes:
            raise BadInput(
                name,
                f"total decompressed size exceeds Limits.max_total_bytes "
                f"({_fmt_size(self.limits.max_total_bytes)}): possible decompression bomb",
                # where in this stream the running total crossed the cap
                offset=offset - (self.total - self.limits.max_total_bytes),
            )

    def count_member(self, archive: str, offset: int | None) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise BadInput(
                archive,
                f"more than Limits.max_members ({self.limits.max_members}) archive entries",
                offset=offset,
            )


def _decompress_chain(src: _Source, name: str, limits: Limits) -> tuple[_Source, tuple[str, ...]]:
    """Stack decompression layers on `src` while its bytes start with a known magic."""
    chain: list[str] = []
    top = src
    while (codec := sniff_compression(top.peek(SNIFF_BYTES))) is not None:
        if len(chain) >= limits.max_compression_depth:
            raise BadInput(
                name,
                f"compression nested deeper than Limits.max_compression_depth "
                f"({limits.max_compression_depth}): {' in '.join(reversed([*chain, codec]))}",
                offset=0,
            )
        chain.append(codec)
        top = _Source(_Decompress(top, codec, name).read, name)
    return top, tuple(chain)


# --------------------------------------------------------------------------- opening


def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path


@contextmanager
def _open_raw(path: str) -> Iterator[IO[bytes]]:
    """The OS-level file for `path` (stdin for ``-``), with open errors as BadInput."""
    if path == "-":
        yield sys.stdin.buffer  # not ours to close
        return
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise BadInput(path, "no such file") from None
    except PermissionError:
        raise BadInput(path, "permission denied") from None
    except IsADirectoryError:
        raise BadInput(path, "is a directory, expected a file") from None
    except OSError as exc:
        raise BadInput(path, f"cannot open: {_describe(exc)}") from None
    try:
        yield f
    finally:
        f.close()


def _raw_reader(f: IO[bytes]) -> Callable[[int], bytes]:
    # read1 returns what a pipe has now instead of waiting for a full chunk
    read1 = getattr(f, "read1", None)
    if callable(read1):
        return read1  # type: ignore[no-any-return]
    return f.read


def _raw_readinto(f: IO[bytes]) -> Callable[[memoryview], int | None] | None:
    # readinto1: like read1, what a pipe has now; on a file, one read(2) into the buffer
    readinto = getattr(f, "readinto1", None) or getattr(f, "readinto", None)
    return readinto if callable(readinto) else None


@contextmanager
def open_stream(path: str, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[NamedStream]:
    """Open one file (or ``-`` for stdin) with transparent decompression.

    Compression is recognised by magic bytes, never by file name, and may be nested up to
    `Limits.max_compression_depth` layers. Archives are *not* unpacked here (see
    `iter_members`). The stream is read lazily: nothing is buffered beyond one chunk.
    """
    display = _display(path)
    with _open_raw(path) as f:
        raw = _Source(_raw_reader(f), display, _raw_readinto(f))
        top, chain = _decompress_chain(raw, display, limits)
        stream = NamedStream(
            top,
            name=display,
            path=path,
            member=None,
            compression=chain,
            archive=(),
            cap=limits.max_member_bytes,
            cap_name="max_member_bytes",
            limits=limits,
            compressed=raw.consumed,
            budget=_Budget(limits),
        )
        try:
            yield stream
        finally:
            stream.close()


# --------------------------------------------------------------------------- archives


def sanitise_member_name(name: str) -> str:
    """A member path safe to show: relative, no ``.``/``..``, no control characters."""
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        parts.append("__" if part == ".." else part)
    clean = "/".join(parts) or "_"
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in clean)


def _tar_type(info: tarfile.TarInfo) -> str:
    if info.isdir():
        return "directory"
    if info.issym():
        return f"symbolic link to {sanitise_member_name(info.linkname)}"
    if info.islnk():
        return f"hard link to {sanitise_member_name(info.linkname)}"
    if info.ischr() or info.isblk():
        return "device node"
    if info.isfifo():
        return "FIFO"
    return f"tar entry type {info.type!r}"


_EOF_HEADER: type[BaseException] = getattr(tarfile, "EOFHeaderError", tarfile.HeaderError)
_EMPTY_HEADER: type[BaseException] = getattr(tarfile, "EmptyHeaderError", tarfile.HeaderError)
#: tar typeflags whose "file data" tarfile reads into memory (PAX and GNU long names)
_TAR_META_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, b"L", b"K"})


@dataclass
class _TarEnd:
    """Why tarfile stopped: it silently ends an archive at a bad or truncated header."""

    name: str
    reason: str | None = None
    offset: int = 0


def _checked_tarinfo(state: _TarEnd) -> type[tarfile.TarInfo]:
    class _CheckedTarInfo(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tf: tarfile.TarFile) -> Self:
            state.offset = tf.offset
            try:
                return super().fromtarfile(tf)
            except tarfile.HeaderError as exc:
                if isinstance(exc, (_EOF_HEADER, _EMPTY_HEADER)):
                    state.reason = None  # end-of-archive blocks, or EOF between members
                else:
                    state.reason = _describe(exc)
                raise

        @classmethod
        def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
            info = super().frombuf(buf, encoding, errors)
            if info.type in _TAR_META_TYPES and info.size > MAX_TAR_META_BYTES:
                raise BadInput(
                    state.name,
                    f"tar extended header of {info.size} bytes (more than "
                    f"{_fmt_size(MAX_TAR_META_BYTES)}): refusing to load it",
                    offset=state.offset,
                )
            return info

    return _CheckedTarInfo


class Members(Iterator[NamedStream]):
    """Iterator over the streams of an input; `skipped` lists entries not handed out.

    Use it as a context manager (or exhaust it) so that files are closed. Each stream is
    valid until the next one is requested (tar is read in stream mode).
    """

    def __init__(
        self,
        path: str,
        limits: Limits,
        accept: Callable[[bytes], bool] | None,
    ) -> None:
        self.path = path
        self.name = _display(path)
        self.limits = limits
        self.accept = accept
        self.skipped: list[Skipped] = []
        """Entries not handed out, in archive order, with the reason."""
        self.archive: str | None = None
        """``"tar"`` or ``"zip"`` when the input is an archive, else None."""
        self.yielded = 0
        """Streams handed out so far."""
        self._budget = _Budget(limits)
        self._gen = self._walk()

    def __iter__(self) -> Members:
        return self

    def __next__(self) -> NamedStream:
        stream = next(self._gen)
        self.yielded += 1
        return stream

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> Members:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- walking

    def _walk(self) -> Generator[NamedStream, None, None]:
        with _open_raw(self.path) as f:
            seekable_start = _seekable_start(f)
            raw = _Source(_raw_reader(f), self.name, _raw_readinto(f))
            top, chain = _decompress_chain(raw, self.name, self.limits)
            kind = sniff_archive(top.peek(SNIFF_BYTES))
            stream = NamedStream(
                top,
                name=self.name,
                path=self.path,
                member=None,
                compression=chain,
                archive=(),
                cap=self.limits.max_member_bytes if kind is None else self.limits.max_total_bytes,
                cap_name="max_member_bytes" if kind is None else "max_total_bytes",
                limits=self.limits,
                compressed=raw.consumed,
                budget=self._budget if kind is None else None,
            )
            if kind is None:
                try:
                    yield stream
                finally:
                    stream.close()
                return
            self.archive = kind
            if kind == "tar":
                yield from self._tar(stream, depth=1)
            elif not chain and seekable_start is not None:
                f.seek(seekable_start)
                yield from self._zip(f, stream, depth=1)
            else:
                with self._spool(stream) as spooled:
                    yield from self._zip(spooled, stream, depth=1)

    def _spool(self, stream: NamedStream) -> IO[bytes]:
        tmp = tempfile.TemporaryFile(prefix="pathsleuth-zip-")  # noqa: SIM115 - returned
        try:
            while data := stream.read(READ_CHUNK):
                if stream.tell() > self.limits.max_spool_bytes:
                    raise BadInput(
                        stream.name,
                        f"zip archive read from a pipe or inside compression is spooled to "
                        f"a temporary file; it exceeds Limits.max_spool_bytes "
                        f"({_fmt_size(self.limits.max_spool_bytes)})",
                        offset=self.limits.max_spool_bytes,
                    )
                tmp.write(data)
            tmp.seek(0)
        except BaseException:
            tmp.close()
            raise
        return tmp

    def _skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(name, reason))

    def _member(
        self,
        src: _Source,
        *,
        name: str,
        member: str,
        outer: NamedStream,
        archive: tuple[str, ...],
        compressed: Callable[[], int],
        depth: int,
    ) -> Iterator[NamedStream]:
        """Decompress one archive member; recurse into a nested archive or hand it out."""
        top, chain = _decompress_chain(src, name, self.limits)
        head = top.peek(ACCEPT_SNIFF_BYTES)
        kind = sniff_archive(head[:SNIFF_BYTES])
        stream = NamedStream(
            top,
            name=name,
            path=self.path,
            member=member,
            compression=outer.compression + chain,
            archive=archive,
            cap=self.limits.max_member_bytes,
            cap_name="max_member_bytes",
            limits=self.limits,
            compressed=compressed,
            budget=self._budget if kind is None else None,
        )
        try:
            if kind is not None:
                if depth >= self.limits.max_archive_depth:
                    self._skip(
                        name,
                        f"{kind} archive nested deeper than Limits.max_archive_depth "
                        f"({self.limits.max_archive_depth})",
                    )
                elif kind == "tar":
                    yield from self._tar(stream, depth=depth + 1)
                else:
                    with self._spool(stream) as spooled:
                        yield from self._zip(spooled, stream, depth=depth + 1)
                return
            if self.accept is not None and not self.accept(head):
                what = f"starts with {head[:8].hex()}" if head else "is empty"
                self._skip(name, f"not a wanted file (content {what})")
                return
            yield stream
        finally:
            stream.close()

    def _tar(self, container: NamedStream, *, depth: int) -> Iterator[NamedStream]:
        state = _TarEnd(container.name)
        archive = (*container.archive, "tar")
        try:
            tf = tarfile.open(  # noqa: SIM115 - closed in the finally below
                fileobj=container,
                mode="r|",
                tarinfo=_checked_tarinfo(state),
            )
        except tarfile.TarError as exc:
            raise BadInput(
                container.name, f"not a readable tar archive: {_describe(exc)}", offset=0
            ) from exc
        try:
            while True:
                try:
                    info = tf.next()
                except tarfile.TarError as exc:
                    raise BadInput(
                        container.name,
                        f"corrupt tar archive: {_describe(exc)}",
                        offset=state.offset,
                    ) from exc
                if info is None:
                    break
                self._budget.count_member(container.name, info.offset)
                member = _join_member(container.member, info.name)
                name = f"{container.name}!{sanitise_member_name(info.name)}"
                if not info.isreg():
                    self._skip(name, _tar_type(info))
                    continue
                fobj = tf.extractfile(info)
                if fobj is None:  # pragma: no cover - isreg() members always have data
                    self._skip(name, "no data")
                    continue
                src = _Source(fobj.read, name)
                yield from self._member(
                    src,
                    name=name,
                    member=member,
                    outer=container,
                    archive=archive,
                    compressed=src.consumed,
                    depth=depth,
                )
            if state.reason is not None:
                raise BadInput(
                    container.name,
                    f"corrupt or truncated tar header: {state.reason}",
                    offset=state.offset,
                )
        finally:
            tf.close()

    def _zip(self, f: IO[bytes], container: NamedStream, *, depth: int) -> Iterator[NamedStream]:
        archive = (*container.archive, "zip")
        _check_zip_directory(f, container.name, self.limits)
        try:
            zf = zipfile.ZipFile(f)
        except _ZIP_OPEN_ERRORS as exc:
            raise BadInput(container.name, f"not a readable zip archive: {_describe(exc)}") from exc
        with zf:
            for info in zf.infolist():
                self._budget.count_member(container.name, info.header_offset)
                member = _join_member(container.member, info.filename)
                name = f"{container.name}!{sanitise_member_name(info.filename)}"
                reason = _zip_skip_reason(info)
                if reason is not None:
                    self._skip(name, reason)
                    continue
                try:
                    fobj = zf.open(info)
                except NotImplementedError as exc:
                    self._skip(name, f"unsupported zip feature: {_describe(exc)}")
                    continue
                except _ZIP_OPEN_ERRORS as exc:
                    raise BadInput(
                        name, f"corrupt zip entry: {_describe(exc)}", offset=info.header_offset
                    ) from exc
                with fobj:
                    size = max(info.compress_size, 1)
                    yield from self._member(
                        _Source(fobj.read, name),
                        name=name,
                        member=member,
                        outer=container,
                        archive=archive,
                        compressed=_fixed(size),
                        depth=depth,
                    )


def _fixed(n: int) -> Callable[[], int]:
    return lambda: n


def _join_member(outer: str | None, name: str) -> str:
    clean = sanitise_member_name(name)
    return clean if outer is None else f"{outer}!{clean}"


def _seekable_start(f: IO[bytes]) -> int | None:
    """Position to seek back to when `f` is a seekable regular file, else None."""
    try:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode) or not f.seekable():
            return None
        return f.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _zip_skip_reason(info: zipfile.ZipInfo) -> str | None:
    # ZipInfo.is_dir() without its IndexError on an empty name (Python 3.11 indexes [-1])
    if info.filename.endswith("/"):
        return "directory"
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # 3 = Unix: high 16 bits hold st_mode
        if stat.S_ISLNK(mode):
            return "symbolic link"
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # no type bits: a plain file
            return "not a regular file"
    if info.flag_bits & 0x1:  # APPNOTE.TXT 4.4.4 bit 0: encrypted
        return "encrypted (password protected)"
    return None


#: end of central directory record and its zip64 locator (APPNOTE.TXT 4.3.16, 4.3.15)
_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOCATOR_SIG = b"PK\x06\x07"
_EOCD_MIN = 22
#: the EOCD ends the file, after a comment of at most 65535 bytes
_EOCD_SEARCH = _EOCD_MIN + 0xFFFF


def _check_zip_directory(f: IO[bytes], name: str, limits: Limits) -> None:
    """Refuse a zip whose central directory is too big *before* zipfile loads it whole."""
    try:
        start = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(max(start, end - _EOCD_SEARCH))
        tail = f.read()
        f.seek(start)
    except OSError as exc:
        raise BadInput(name, f"cannot read zip directory: {_describe(exc)}") from exc
    at = tail.rfind(_EOCD_SIG)
    if at < 0 or len(tail) - at < _EOCD_MIN:
        return  # zipfile will report the missing directory precisely
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    cd_size = int.from_bytes(tail[at + 12 : at + 16], "little")
    loc = at - 20
    if loc >= 0 and tail[loc : loc + 4] == _EOCD64_LOCATOR_SIG:
        # zip64: the real counts live in the zip64 EOCD record; bound by the directory size
        entries = max(entries, cd_size // ZIP_CD_ENTRY_MIN)
    if entries > limits.max_members or cd_size > limits.max_members * (
        ZIP_CD_ENTRY_MIN + 3 * 0xFFFF
    ):
        raise BadInput(
            name,
            f"zip directory lists {entries} entries ({cd_size} bytes); more than "
            f"Limits.max_members ({limits.max_members})",
            offset=end - len(tail) + at,
        )


def iter_members(
    path: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    accept: Callable[[bytes], bool] | None = None,
) -> Members:
    """The streams inside `path`: each regular member of a tar or zip, or the file itself.

    Compression is removed from the input and from each member (``.pcap.gz`` inside a
    ``.tar``). Members are named ``archive!dir/member`` with traversal components and
    control characters neutralised; nothing is written to disk. `accept` receives the
    first bytes (up to 4 KiB, decompressed) of each archive member and returns False to
    skip it; it is not applied to a plain file, which is always handed out. Directories,
    links, devices, encrypted zip entries and rejected members end up in
    `Members.skipped` with the reason.
    """
    return Members(path, limits, accept)
