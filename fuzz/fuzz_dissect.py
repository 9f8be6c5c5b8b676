"""Fuzz the dissector: arbitrary frames under arbitrary link types never raise.

The input is split into frames by a length byte; each frame gets a link type picked from
the supported ones (plus one unsupported). Half the frames are a valid Ethernet/IP prefix
followed by fuzz bytes, so the walk reaches the IP, transport and ICMP-quote code. The
dissector must return one row per frame with statuses set, and never claim more payload
than the frame's wire length.
"""

from __future__ import annotations

import sys

import atheris

# numba cannot compile bytecode atheris has rewritten: keep the kernel module out
with atheris.instrument_imports(exclude=["pathsleuth.capture.dissect"]):
    import numpy as np

    from pathsleuth.capture import linktypes as LT
    from pathsleuth.capture.records import RecordBatch

from pathsleuth.capture.dissect import dissect

LINKS = [*sorted(LT.SUPPORTED), 105]
#: Ethernet + IPv4 header claiming ICMP, and + IPv6 claiming TCP: prefixes for the fuzz bytes
PREFIXES = [
    bytes.fromhex("020000000002020000000001080045000040000040004001"),
    bytes.fromhex("02000000000202000000000186dd6000000000280640"),
    bytes.fromhex("020000000002020000000001810000648864110012340042002145"),
]


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    frames: list[bytes] = []
    kinds: list[int] = []
    while fdp.remaining_bytes() and len(frames) < 64:
        n = fdp.ConsumeIntInRange(0, 400)
        body = fdp.ConsumeBytes(n)
        if fdp.ConsumeBool():
            body = PREFIXES[fdp.ConsumeIntInRange(0, len(PREFIXES) - 1)] + body
            kinds.append(1)
        else:
            kinds.append(LINKS[fdp.ConsumeIntInRange(0, len(LINKS) - 1)])
        frames.append(body)
    batch = RecordBatch.from_frames(frames, kinds)
    t = dissect(batch)
    assert len(t) == len(frames)
    assert np.all(t.payload_len <= np.maximum(t.wire_len, t.cap_len))


if __name__ == "__main__":
    # compile the numba kernel before libFuzzer's clock starts, or a short run spends
    # its whole budget compiling and fuzzes a couple of inputs
    dissect(RecordBatch.from_frames([PREFIXES[0]], 1))
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
