"""End to end through the engine: packets -> the project's writer -> file -> `load`.

Hypothesis draws packet specs (the dissector strategies), writes them with `PcapWriter` or
`PcapngWriter` (random byte order, timestamp resolution, interfaces), optionally
compresses the file or wraps it in a tar archive, and the engine must give back every
packet's columns, frame numbers and timestamps.
"""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dissect import Spec, build, specs  # type: ignore[import-not-found]

from pathsleuth.capture.reader import load
from pathsleuth.capture.table import format_addr, parse_addr
from pathsleuth.capture.writer import PcapngWriter, PcapWriter


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pkts=st.lists(specs(), min_size=1, max_size=12),
    fmt=st.sampled_from(["pcap", "pcap-ns", "pcapng", "pcapng-be"]),
    wrap=st.sampled_from(["none", "gzip", "xz", "tar"]),
    t0=st.integers(0, 2**31 - 1),
)
def test_specs_survive_writer_and_engine(
    tmp_path: Path, pkts: list[Spec], fmt: str, wrap: str, t0: int
) -> None:
    out = io.BytesIO()
    ts = [t0 * 10**9 + i * 1_234_567 for i in range(len(pkts))]
    if fmt.startswith("pcap") and not fmt.startswith("pcapng"):
        # classic pcap has one link type per file: keep the packets of the first one's
        link = pkts[0].link
        pkts = [p for p in pkts if p.link == link]
        ts = ts[: len(pkts)]
        w = PcapWriter(out, link, nanosecond=fmt == "pcap-ns")
        for p, t in zip(pkts, ts, strict=True):
            w.write(build(p), t if fmt == "pcap-ns" else t - t % 1000)
        ts = [t if fmt == "pcap-ns" else t - t % 1000 for t in ts]
    else:
        ng = PcapngWriter(out, byte_order="big" if fmt.endswith("be") else "little")
        ng.section()
        ifaces: dict[int, int] = {}
        for p in pkts:
            if p.link not in ifaces:
                ifaces[p.link] = ng.interface(p.link, tsresol=9)
        for p, t in zip(pkts, ts, strict=True):
            ng.epb(ifaces[p.link], t, build(p))
    data = out.getvalue()
    path = tmp_path / "x.cap"
    if wrap == "gzip":
        data = gzip.compress(data)
    elif wrap == "xz":
        data = lzma.compress(data)
    if wrap == "tar":
        with tarfile.open(path, "w") as tar:
            info = tarfile.TarInfo("trace/x.pcap")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    else:
        path.write_bytes(data)
    (cap,) = load(str(path))
    t = cap.table
    assert len(t) == len(pkts)
    assert list(t.frame) == list(range(1, len(pkts) + 1))
    assert list(t.ts_ns) == ts
    assert np.all(t.status == 0)
    for i, p in enumerate(pkts):
        assert int(t.linktype[i]) == p.link
        assert format_addr(t.src_hi[i], t.src_lo[i]) == format_addr(*parse_addr(p.src))
        assert (int(t.sport[i]), int(t.dport[i]), int(t.seq[i])) == (p.sport, p.dport, p.seq)
        assert int(t.payload_len[i]) == p.payload


def _written(tmp_path: Path, n: int) -> Path:
    out = io.BytesIO()
    w = PcapWriter(out, 1)  # Ethernet
    frame = bytes(12) + b"\x08\x00" + bytes.fromhex("450000140000400040060000c0000201c0000202")
    for i in range(n):
        w.write(frame, i * 1000)
    path = tmp_path / "x.pcap"
    path.write_bytes(out.getvalue())
    return path


def test_tables_ahead_gives_the_same_chunks_in_order(tmp_path: Path) -> None:
    from pathsleuth.capture.reader import iter_captures

    path = _written(tmp_path, 500)
    (plain,) = [
        [t.frame.tolist() for t in c.tables()] for c in iter_captures(str(path), chunk_bytes=4096)
    ]
    (ahead,) = [
        [t.frame.tolist() for t in c.tables_ahead(depth=2)]
        for c in iter_captures(str(path), chunk_bytes=4096)
    ]
    assert len(plain) > 3 and ahead == plain


def test_tables_ahead_raises_after_the_good_chunks_and_stops_early(tmp_path: Path) -> None:
    import threading

    from pathsleuth.capture.reader import iter_captures
    from pathsleuth.errors import BadInput

    path = _written(tmp_path, 500)
    path.write_bytes(path.read_bytes()[:-7])  # the last record is cut short
    frames: list[int] = []
    try:
        for cap in iter_captures(str(path), chunk_bytes=4096):
            for t in cap.tables_ahead(depth=2):
                frames.extend(t.frame.tolist())
    except BadInput as exc:
        assert "x.pcap" in str(exc)
    else:
        raise AssertionError("no error for the truncated record")
    assert frames == list(range(1, 500))
    # a consumer that stops after one chunk leaves no decoding thread behind
    for cap in iter_captures(str(_written(tmp_path, 500)), chunk_bytes=4096):
        gen = cap.tables_ahead(depth=1)
        next(gen)
        gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("decode ")]
