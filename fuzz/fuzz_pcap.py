"""Fuzz the classic pcap reader: arbitrary bytes in, only `BadInput` may come out.

Each input is read twice: as given (so format sniffing is fuzzed too) and behind a valid
pcap magic chosen by the first byte (so the record walker sees mostly well-formed file
headers). The first byte also picks a small chunk size to put chunk boundaries inside
records.
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
    from pathsleuth.capture.pcap import MAGIC_MODIFIED, MAGIC_NSEC, MAGIC_USEC
    from pathsleuth.errors import BadInput

MAGICS = [
    struct.pack(order + "I", m)
    for m in (MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED)
    for order in ("<", ">")
]
CHUNKS = [1, 7, 16, 64, 333, 4096, 1 << 20]

from pathsleuth.capture import pcap, pcapng  # noqa: E402 - after the instrumented imports

for _cls in (pcap.PcapReader, pcapng.PcapngReader):
    for _name, _fn in list(vars(_cls).items()):
        if inspect.isfunction(_fn):
            setattr(_cls, _name, atheris.instrument_func(_fn))


def drain(data: bytes, chunk_bytes: int) -> None:
    frames = 0
    try:
        reader = open_reader(io.BytesIO(data), "fuzz.pcap", chunk_bytes=chunk_bytes)
        for batch in reader.batches():
            ends = batch.data_offset + batch.cap_len
            assert len(batch) == 0 or int(ends.max()) <= len(batch.buf)
            assert len(batch) == 0 or int(batch.data_offset.min()) >= 0
            frames += len(batch)
    except BadInput:
        pass
    # the single pass that walks and dissects together (pcap's `tables`): same frames
    dissected = 0
    try:
        reader = open_reader(io.BytesIO(data), "fuzz.pcap", chunk_bytes=chunk_bytes)
        for table in reader.tables():
            assert int(table.frame[0]) == dissected + 1  # numbered on from the last table
            dissected += len(table)
    except BadInput:
        pass
    assert dissected == frames


def TestOneInput(data: bytes) -> None:
    if not data:
        drain(data, 64)
        return
    sel = data[0]
    chunk = CHUNKS[sel % len(CHUNKS)]
    drain(data, chunk)
    drain(MAGICS[(sel >> 3) % len(MAGICS)] + data[1:], chunk)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
