"""One timed pathsleuth run for bench/run.py, in its own process (so RSS is its own).

    worker.py decode FILE    read + dissect every chunk, fold the decode summary
    worker.py analyze FILE   full analysis: decode + connections + diagnosis

The numba kernels (capture and tcp stages) are compiled, or loaded from numba's cache, on
a tiny capture first, so the timing is the engine's, not the JIT's. Prints one JSON
object: packets, seconds, note.
"""

from __future__ import annotations

import io
import json
import sys
import time


def warm_up() -> None:
    from pathsleuth.capture import craft
    from pathsleuth.capture.writer import PcapWriter
    from pathsleuth.pipeline import analyze_paths, decode_paths

    buf = io.BytesIO()
    w = PcapWriter(buf, 1)
    for i in range(16):  # enough frames that every kernel runs, the flow set's growth too
        w.write(craft.frame(1, craft.tcp("192.0.2.1", "192.0.2.2", 1000, 25, seq=i)), i)
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
        f.write(buf.getvalue())
        f.flush()
        list(decode_paths([f.name]))
        analyze_paths([f.name])  # the tcp stage's kernels too


def main() -> int:
    what, path = sys.argv[1], sys.argv[2]
    note = ""
    try:
        warm_up()
    except Exception as exc:  # the warm-up is an optimisation; report, don't fail
        note = f"warm-up failed: {exc!r}"
    t0 = time.perf_counter()
    if what == "decode":
        from pathsleuth.pipeline import decode_paths

        packets = sum(s.packets for s in decode_paths([path]))
    elif what == "analyze":
        from pathsleuth.pipeline import analyze_paths

        result = analyze_paths([path])
        packets = sum(f.packets for f in result.files)
        note = (note + f" {len(result.findings)} findings").strip()
    else:
        raise SystemExit(f"unknown benchmark {what!r}")
    dt = time.perf_counter() - t0
    print(json.dumps({"packets": packets, "seconds": dt, "note": note}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
