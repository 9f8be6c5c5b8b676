"""Fuzz target for pathsleuth.inputs: arbitrary bytes as a file, every member read whole.

The input's first bytes choose how the rest is presented: as is, or wrapped in a valid
gzip / bzip2 / xz / zstd stream or tar / zip archive that is then truncated or has a byte
flipped at a fuzzer-chosen place (random bytes alone almost never reach the decoders'
deeper states). The result goes through a temporary file into `iter_members`, and every
stream handed out is read to the end under small `Limits`, so bombs stop quickly.
Only `BadInput` may escape.
"""

from __future__ import annotations

import atexit
import bz2
import gzip
import io
import lzma
import os
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    import zstandard

    from pathsleuth.errors import BadInput
    from pathsleuth.inputs import Limits, is_text, iter_members

#: small caps: a fuzzer-made bomb must stop in milliseconds, not after gigabytes
LIMITS = Limits(
    max_member_bytes=16 << 20,
    max_total_bytes=32 << 20,
    max_ratio=1000.0,
    ratio_min_bytes=1 << 20,
    max_members=200,
    max_spool_bytes=16 << 20,
)
HEADER = 4  # bytes of the input that steer the wrapping

# in the working directory: run_all.py runs each target in a temporary one, and libFuzzer
# exits without running atexit handlers
_FD, _PATH = tempfile.mkstemp(prefix="fuzz-inputs-", dir=os.getcwd())
os.close(_FD)
atexit.register(os.unlink, _PATH)


def _tar(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("dir/member.pcap")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("member.pcap", payload)
    return buf.getvalue()


_WRAPPERS: tuple[Callable[[bytes], bytes], ...] = (
    lambda b: b,
    gzip.compress,
    bz2.compress,
    lzma.compress,
    lambda b: zstandard.ZstdCompressor().compress(b),
    _tar,
    _zip,
    lambda b: gzip.compress(_tar(b)),
)


def _present(data: bytes) -> bytes:
    if len(data) < HEADER:
        return data
    mode, damage, where, xor = data[:HEADER]
    blob = _WRAPPERS[mode % len(_WRAPPERS)](data[HEADER:])
    if not blob:
        return blob
    at = where * len(blob) // 256
    if damage % 3 == 1:
        blob = blob[:at]
    elif damage % 3 == 2:
        blob = blob[:at] + bytes([blob[at] ^ (xor or 1)]) + blob[at + 1 :]
    return blob


def TestOneInput(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(_present(data))
    accept = is_text if data[:1] == b"t" else None
    try:
        with iter_members(_PATH, limits=LIMITS, accept=accept) as members:
            for stream in members:
                stream.peek(64)
                while stream.read(1 << 16):
                    pass
            _ = members.skipped
    except BadInput:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
