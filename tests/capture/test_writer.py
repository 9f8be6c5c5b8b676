"""The project's pcap/pcapng writers: exact bytes, and tshark / dpkt reading what they write."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import dpkt
import pytest

from pathsleuth.capture import pcapng
from pathsleuth.capture.writer import PcapngWriter, PcapWriter

NS = 1_000_000_000

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def test_pcap_header_and_record_bytes() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1, snaplen=65535)
    w.write(b"abc", 3 * NS + 4_000, wire_len=60)
    assert out.getvalue() == (
        bytes.fromhex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000")
        + bytes.fromhex("03000000 04000000 03000000 3c000000")
        + b"abc"
    )


def test_pcap_big_endian_nsec_fcs() -> None:
    out = io.BytesIO()
    PcapWriter(out, 1, nanosecond=True, byte_order="big", fcs_len=4)
    assert out.getvalue() == bytes.fromhex("a1b23c4d 0002 0004 00000000 00000000 00040000 24000001")


def test_pcap_snaplen_cuts_frames() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1, snaplen=4)
    w.write(b"abcdefgh", 0)
    assert out.getvalue()[24:] == struct.pack("<IIII", 0, 0, 4, 8) + b"abcd"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fcs_len": 3}, "even number of bytes"),
        ({"fcs_len": 32}, "at most 30"),
        ({"byte_order": "middle"}, "byte_order"),
    ],
)
def test_pcap_writer_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PcapWriter(io.BytesIO(), 1, **kwargs)  # type: ignore[arg-type]


def test_pcap_writer_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="16 bits"):
        PcapWriter(io.BytesIO(), 70000)
    w = PcapWriter(io.BytesIO(), 1)
    with pytest.raises(ValueError, match="before 1970"):
        w.write(b"", -1)
    with pytest.raises(ValueError, match="does not fit"):
        w.write(b"", 2**32 * NS)


def test_pcapng_exact_bytes() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.interface(1, snaplen=100, name="e")
    w.epb(0, 0x1_0000_0002 * 1000, b"abcde", comment="hi")
    le = "<"
    shb = struct.pack(le + "IIIHHqI", pcapng.SHB, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb_opts = struct.pack(le + "HH", 2, 1) + b"e\0\0\0" + struct.pack(le + "HH", 0, 0)
    idb = struct.pack(le + "IIHHI", 1, 20 + len(idb_opts), 1, 0, 100) + idb_opts
    idb += struct.pack(le + "I", 20 + len(idb_opts))
    epb_opts = struct.pack(le + "HH", 1, 2) + b"hi\0\0" + struct.pack(le + "HH", 0, 0)
    epb_len = 32 + 8 + len(epb_opts)
    epb = (
        struct.pack(le + "IIIIIII", 6, epb_len, 0, 1, 2, 5, 5)
        + b"abcde\0\0\0"
        + epb_opts
        + struct.pack(le + "I", epb_len)
    )
    assert out.getvalue() == shb + idb + epb


def test_pcapng_writer_rejects() -> None:
    w = PcapngWriter(io.BytesIO())
    with pytest.raises(ValueError, match="section"):
        w.interface(1)
    w.section()
    with pytest.raises(ValueError, match="interface 0"):
        w.spb(b"x")
    with pytest.raises(ValueError, match="no interface 0"):
        w.epb(0, 0, b"x")
    w.interface(1, snaplen=4, tsoffset=10)
    with pytest.raises(ValueError, match="SPB frame must be"):
        w.spb(b"abc", wire_len=10)
    with pytest.raises(ValueError, match="not representable"):
        w.epb(0, 9 * NS, b"x")  # before the interface's tsoffset


@pytest.mark.parametrize("byte_order", ["little", "big"])
@pytest.mark.parametrize("nsec", [False, True])
def test_dpkt_reads_pcap(byte_order: str, nsec: bool) -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1, nanosecond=nsec, byte_order=byte_order)  # type: ignore[arg-type]
    frames = [bytes([i]) * (i * 13) for i in range(20)]
    for i, f in enumerate(frames):
        w.write(f, 1_700_000_000 * NS + i * 1_001_000)
    out.seek(0)
    got = list(dpkt.pcap.Reader(out))
    assert [bytes(buf) for _, buf in got] == frames
    assert [round(float(ts) * 1e6) for ts, _ in got] == [
        round((1_700_000_000 * NS + i * 1_001_000) / 1000) for i in range(20)
    ]


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in proc.stdout.splitlines()]


@needs_tshark
def test_tshark_reads_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "w.pcapng"
    with path.open("wb") as fh:
        w = PcapngWriter(fh)
        w.section("first section")
        a = w.interface(1, name="eth0", tsresol=9)
        b = w.interface(101, tsresol=3, tsoffset=1_000)
        w.epb(a, 1_700_000_000 * NS + 123_456_789, b"\x00" * 60, wire_len=1514, comment="cut")
        w.custom_block(b"opaque")
        w.epb(b, 1_700_000_000 * NS + 5_000_000, b"\x45" * 20)
        w.section(byte_order="big")
        c = w.interface(1, tsresol=6)
        w.pb(c, 1_600_000_000 * NS + 42_000, b"\x11" * 42)
        w.raw_block(pcapng.NRB, struct.pack(">HH", 0, 0))
        w.epb(c, 1_600_000_001 * NS, b"\x22" * 7, wire_len=7)
    rows = tshark_fields(path, "frame.time_epoch", "frame.len", "frame.cap_len", "frame.comment")
    # tshark 4.0 shows a custom block as a record of its own: drop it before comparing
    rows = [r for r in rows if r[0]]
    assert [(int(Decimal(r[0]) * NS), int(r[1]), int(r[2]), r[3]) for r in rows] == [
        (1_700_000_000 * NS + 123_456_789, 1514, 60, "cut"),
        (1_700_000_000 * NS + 5_000_000, 20, 20, ""),
        (1_600_000_000 * NS + 42_000, 42, 42, ""),
        (1_600_000_001 * NS, 7, 7, ""),
    ]


@needs_tshark
@pytest.mark.parametrize("byte_order", ["little", "big"])
def test_tshark_reads_pcap_with_fcs_bits(tmp_path: Path, byte_order: str) -> None:
    path = tmp_path / "w.pcap"
    with path.open("wb") as fh:
        w = PcapWriter(fh, 1, nanosecond=True, byte_order=byte_order, fcs_len=4)  # type: ignore[arg-type]
        w.write(b"\xff" * 64, 1_234_567_890_123_456_789, wire_len=1518)
    rows = tshark_fields(path, "frame.time_epoch", "frame.len", "frame.cap_len")
    assert rows == [["1234567890.123456789", "1518", "64"]]
