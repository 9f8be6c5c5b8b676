"""Format sniffing, and both readers against tshark on every capture of the shared corpus."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from _recordio import drain

from pathsleuth.capture.formats import open_reader, sniff_format
from pathsleuth.capture.pcap import PcapReader
from pathsleuth.capture.pcapng import PcapngReader
from pathsleuth.capture.writer import PcapngWriter, PcapWriter
from pathsleuth.errors import BadInput

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
CORPUS_FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("**/*.pcap*"))


def test_sniff() -> None:
    assert sniff_format(bytes.fromhex("d4c3b2a1")) == "pcap"
    assert sniff_format(bytes.fromhex("a1b2c3d4")) == "pcap"
    assert sniff_format(bytes.fromhex("4d3cb2a1")) == "pcap"
    assert sniff_format(bytes.fromhex("a1b23c4d")) == "pcap"
    assert sniff_format(bytes.fromhex("34cdb2a1")) == "pcap"
    assert sniff_format(bytes.fromhex("0a0d0d0a")) == "pcapng"
    assert sniff_format(b"\x1f\x8b\x08\x00") is None


def test_open_reader_picks_the_reader() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    PcapWriter(a, 1)
    PcapngWriter(b).section()
    assert isinstance(open_reader(io.BytesIO(a.getvalue()), "a"), PcapReader)
    assert isinstance(open_reader(io.BytesIO(b.getvalue()), "b"), PcapngReader)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file: not a pcap or pcapng file"),
        (b"\xd4\xc3", "file of 2 bytes is too short to be a pcap or pcapng file"),
        (b"\x1f\x8b\x08\x00rest", "not a pcap or pcapng file (magic 0x1f8b0800)"),
        (b"GIF89a", "not a pcap or pcapng file (magic 0x47494638)"),
    ],
)
def test_unknown_magic(data: bytes, message: str) -> None:
    with pytest.raises(BadInput) as exc:
        open_reader(io.BytesIO(data), "f.bin")
    assert exc.value.message == message
    assert exc.value.offset == 0
    assert str(exc.value) == f"f.bin (byte offset 0): {message}"


def tshark_rows(path: Path) -> list[tuple[int, int, int, int]] | None:
    """(frame, ts_ns, wire_len, cap_len) per frame as tshark sees them; None if it refuses."""
    proc = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        return None
    rows = []
    for line in proc.stdout.splitlines():
        num, ts, wire, cap = line.split("\t")
        rows.append((int(num), int(Decimal(ts) * 1_000_000_000), int(wire), int(cap)))
    return rows


@pytest.mark.corpus
def test_corpus_is_there(captures_dir: Path) -> None:
    assert CORPUS_FILES, f"no captures under {captures_dir}"


@pytest.mark.corpus
@pytest.mark.parametrize("rel", CORPUS_FILES)
def test_corpus_against_tshark(captures_dir: Path, rel: str) -> None:
    path = captures_dir / rel
    blob = path.read_bytes()
    got = drain(blob)
    small = drain(blob, chunk_bytes=64)  # chunk boundaries everywhere: same answer
    assert [(f.data, f.ts_ns, f.file_offset) for f in small.frames] == [
        (f.data, f.ts_ns, f.file_offset) for f in got.frames
    ]
    assert (small.error is None) == (got.error is None)
    assert got.info.bytes_read == len(blob)
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    expected = tshark_rows(path)
    if expected is None:
        assert got.error is not None  # tshark refuses it: we must fail cleanly too
        return
    assert got.error is None, str(got.error)
    ours = [(f.frame, f.ts_ns, f.wire_len, len(f.data)) for f in got.frames]
    assert ours == expected


def test_reads_through_a_decompressor() -> None:
    raw = io.BytesIO()
    w = PcapngWriter(raw)
    w.section()
    w.interface(1)
    frames = [bytes([i % 251]) * (i % 1600) for i in range(300)]
    for i, f in enumerate(frames):
        w.epb(0, i * 1_000_000, f)
    stream = gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(raw.getvalue())))
    got = drain(b"", chunk_bytes=4096, stream=stream)
    assert got.error is None
    assert [f.data for f in got.frames] == frames
    assert got.info.bytes_read == len(raw.getvalue())
