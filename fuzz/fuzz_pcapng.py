"""Fuzz the pcapng reader: arbitrary bytes in, only `BadInput` may come out.

Each input is read as given and behind a valid little- or big-endian Section Header Block
plus one Interface Description Block (picked by the first byte), so that most inputs
reach the block walker with a section and an interface already defined. The first byte
also picks a small chunk size to put chunk boundaries inside blocks.
"""

from __future__ import annotations

import inspect
import io
import struct
import sys

import atheris
import numba  # noqa: F401 - imported before instrumenting, so numba stays as it is

# atheris rewrites the bytecode of everything it instruments, which numba's compiler
# cannot read: leave the modules holding @njit kernels out, then instrument the readers'
# Python methods one by one. numba itself is imported first: instrumented, its own
# overloads (`int()`, ...) fail to compile when a kernel is first compiled mid-run (a
# fresh numba cache, as in CI).
_KERNEL_MODULES = [
    "pathsleuth.capture.pcap",
    "pathsleuth.capture.pcapng",
    "pathsleuth.capture.dissect",  # the readers' `tables` dissect as they walk
    "pathsleuth.capture.jit",
]
with atheris.instrument_imports(exclude=_KERNEL_MODULES):
    from pathsleuth.capture.formats import open_reader
    from pathsleuth.capture.pcapng import BYTE_ORDER_MAGIC, IDB, SHB
    from pathsleuth.errors import BadInput

CHUNKS = [1, 12, 16, 64, 333, 4096, 1 << 20]


def preamble(order: str) -> bytes:
    shb = struct.pack(order + "IIIHHqI", SHB, 28, BYTE_ORDER_MAGIC, 1, 0, -1, 28)
    idb = struct.pack(order + "IIHHII", IDB, 20, 1, 0, 0, 20)
    return shb + idb


PREAMBLES = [preamble("<"), preamble(">")]

from pathsleuth.capture import pcap, pcapng  # noqa: E402 - after the instrumented imports

for _cls in (pcap.PcapReader, pcapng.PcapngReader):
    for _name, _fn in list(vars(_cls).items()):
        if inspect.isfunction(_fn):
            setattr(_cls, _name, atheris.instrument_func(_fn))


def drain(data: bytes, chunk_bytes: int) -> None:
    try:
        reader = open_reader(io.BytesIO(data), "fuzz.pcapng", chunk_bytes=chunk_bytes)
        for batch in reader.batches():
            ends = batch.data_offset + batch.cap_len
            assert len(batch) == 0 or int(ends.max()) <= len(batch.buf)
            assert len(batch) == 0 or int(batch.data_offset.min()) >= 0
    except BadInput:
        pass


def TestOneInput(data: bytes) -> None:
    if not data:
        drain(data, 64)
        return
    sel = data[0]
    chunk = CHUNKS[sel % len(CHUNKS)]
    drain(data, chunk)
    drain(PREAMBLES[(sel >> 3) & 1] + data[1:], chunk)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
