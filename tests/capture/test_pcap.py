"""Classic pcap reader: round trips against the project's writer, and every malformation."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from _recordio import TrickleStream, drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathsleuth.capture import pcap
from pathsleuth.capture.chunks import MAX_RECORD_BYTES
from pathsleuth.capture.formats import open_reader
from pathsleuth.capture.writer import PcapWriter
from pathsleuth.errors import BadInput

NS = 1_000_000_000

frames_st = st.lists(
    st.tuples(
        st.binary(min_size=0, max_size=3000),
        st.integers(0, 5000),  # wire_len - caplen
        st.integers(0, 2**32 - 1),  # seconds
        st.integers(0, NS - 1),  # nanoseconds
    ),
    max_size=25,
)


def header(
    *,
    order: str = "<",
    magic: int = pcap.MAGIC_USEC,
    version: tuple[int, int] = (2, 4),
    snaplen: int = 65535,
    linktype: int = 1,
) -> bytes:
    return struct.pack(order + "IHHiIII", magic, *version, 0, 0, snaplen, linktype)


def record(
    data: bytes, *, sec: int = 1, frac: int = 0, wire: int | None = None, order: str = "<"
) -> bytes:
    wire = len(data) if wire is None else wire
    return struct.pack(order + "IIII", sec, frac, len(data), wire) + data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=frames_st,
    nsec=st.booleans(),
    byte_order=st.sampled_from(["little", "big"]),
    linktype=st.integers(0, 0xFFFF),
    fcs=st.sampled_from([None, 0, 2, 4, 30]),
    chunk=st.sampled_from([1, 16, 17, 33, 100, 1000, 4096, 1 << 20]),
)
def test_round_trip(
    frames: list[tuple[bytes, int, int, int]],
    nsec: bool,
    byte_order: str,
    linktype: int,
    fcs: int | None,
    chunk: int,
) -> None:
    out = io.BytesIO()
    w = PcapWriter(out, linktype, nanosecond=nsec, byte_order=byte_order, fcs_len=fcs)  # type: ignore[arg-type]
    for data, extra, sec, ns in frames:
        w.write(data, sec * NS + ns, wire_len=len(data) + extra)
    blob = out.getvalue()
    got = drain(blob, chunk_bytes=chunk)
    assert got.error is None
    info = got.info
    assert info.format == "pcap"
    assert info.byte_order == byte_order
    assert info.ts_precision == ("nsec" if nsec else "usec")
    assert info.bytes_read == len(blob)
    [iface] = info.interfaces
    assert (iface.linktype, iface.snaplen, iface.fcs_len) == (linktype, pcap.MAXIMUM_SNAPLEN, fcs)
    assert len(got.frames) == len(frames)
    offset = pcap.FILE_HEADER_LEN
    for i, (f, (data, extra, sec, ns)) in enumerate(zip(got.frames, frames, strict=True)):
        assert f.frame == i + 1
        assert f.data == data
        assert f.wire_len == len(data) + extra
        assert f.ts_ns == sec * NS + (ns if nsec else ns // 1000 * 1000)
        assert (f.iface, f.linktype) == (0, linktype)
        assert f.file_offset == offset
        offset += pcap.RECORD_HEADER_LEN + len(data)


def test_non_seekable_short_reads_without_readinto() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1, nanosecond=True)
    payloads = [bytes([i]) * (i * 37 % 200) for i in range(60)]
    for i, p in enumerate(payloads):
        w.write(p, 10 * NS + i)
    blob = out.getvalue()
    got = drain(blob, chunk_bytes=50, stream=TrickleStream(blob))
    assert got.error is None
    assert [f.data for f in got.frames] == payloads
    assert [f.ts_ns for f in got.frames] == [10 * NS + i for i in range(60)]


def test_record_larger_than_chunk_grows_the_buffer() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1)
    big = bytes(range(256)) * 800  # 204800 bytes, under MAXIMUM_SNAPLEN
    w.write(b"a" * 10, NS)
    w.write(big, 2 * NS)
    w.write(b"b" * 5, 3 * NS)
    got = drain(out.getvalue(), chunk_bytes=4096)
    assert got.error is None
    assert [f.data for f in got.frames] == [b"a" * 10, big, b"b" * 5]


def test_batches_own_their_buffers() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1)
    for i in range(50):
        w.write(bytes([i]) * 40, i * NS)
    reader = open_reader(io.BytesIO(out.getvalue()), "x", chunk_bytes=100)
    batches = list(reader.batches())  # keep them all, then look: nothing was overwritten
    assert len(batches) > 5
    seen = [b.buf[int(o) : int(o) + 40].tobytes() for b in batches for o in b.data_offset]
    assert seen == [bytes([i]) * 40 for i in range(50)]


@pytest.mark.parametrize("chunk", [100, 173, 4096])
def test_recycled_buffers_give_the_same_frames(chunk: int) -> None:
    """With `recycle`, two buffers take turns: each batch read before the next is taken
    sees exactly what a fresh-buffer read sees, including records split across chunks
    and a record bigger than a chunk."""
    out = io.BytesIO()
    w = PcapWriter(out, 1)
    sizes = [40 + (i * 37) % 90 for i in range(60)] + [700] + [15] * 10
    for i, n in enumerate(sizes):
        w.write(bytes([i % 251]) * n, i * NS)
    blob = out.getvalue()

    def frames(recycle: bool) -> list[bytes]:
        reader = open_reader(io.BytesIO(blob), "x", chunk_bytes=chunk)
        got = []
        for b in reader.batches(recycle=recycle):  # consume each batch before the next
            got += [
                b.buf[int(o) : int(o + c)].tobytes()
                for o, c in zip(b.data_offset, b.cap_len, strict=True)
            ]
        return got

    expected = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    assert frames(False) == expected
    assert frames(True) == expected


def test_caplen_above_wire_len_and_zero_length_records_are_kept() -> None:
    blob = header() + record(b"xyz", wire=1) + record(b"", wire=0) + record(b"", wire=1500)
    got = drain(blob)
    assert got.error is None
    assert [(f.data, f.wire_len) for f in got.frames] == [(b"xyz", 1), (b"", 0), (b"", 1500)]


def test_big_endian_nsec_header_bytes() -> None:
    blob = header(order=">", magic=pcap.MAGIC_NSEC, linktype=101) + record(
        b"\x45" * 20, sec=5, frac=7, order=">"
    )
    got = drain(blob)
    assert got.info.byte_order == "big" and got.info.ts_precision == "nsec"
    assert [(f.ts_ns, f.linktype) for f in got.frames] == [(5 * NS + 7, 101)]


def test_fcs_bits_in_link_type_field() -> None:
    field = 1 | pcap.FCS_PRESENT_BIT | (2 << pcap.FCS_LEN_SHIFT)
    got = drain(header(linktype=field) + record(b"z" * 64))
    assert got.info.interfaces[0].linktype == 1
    assert got.info.interfaces[0].fcs_len == 4
    assert got.frames[0].linktype == 1
    # FCS length bits without the F bit mean "unknown"
    got = drain(header(linktype=1 | (2 << pcap.FCS_LEN_SHIFT)))
    assert got.info.interfaces[0].fcs_len is None


def test_modified_pcap_has_24_byte_record_headers() -> None:
    rec = struct.pack("<IIII", 3, 4, 5, 60) + b"\0" * 8 + b"hello"
    got = drain(header(magic=pcap.MAGIC_MODIFIED) + rec + rec)
    assert got.error is None
    assert [(f.data, f.ts_ns, f.wire_len) for f in got.frames] == [
        (b"hello", 3 * NS + 4000, 60)
    ] * 2
    assert got.frames[1].file_offset == 24 + 24 + 5


# --- bad input -----------------------------------------------------------------------


def test_unsupported_version() -> None:
    with pytest.raises(BadInput, match=r"unsupported pcap version 3\.0") as exc:
        drain(header(version=(3, 0)))
    assert exc.value.offset == 4


def test_old_minor_version_is_read() -> None:
    got = drain(header(version=(2, 2)) + record(b"abc"))
    assert got.info.version == (2, 2) and len(got.frames) == 1


def test_file_header_truncated() -> None:
    with pytest.raises(
        BadInput, match=r"file ends inside the pcap file header \(24 bytes needed, 10 available\)"
    ):
        drain(header()[:10])


def test_record_too_long() -> None:
    good = record(b"ok")
    bad = struct.pack("<IIII", 1, 0, pcap.MAXIMUM_SNAPLEN + 1, 100)
    got = drain(header(snaplen=65535) + good + good + bad)
    assert len(got.frames) == 2  # frames before the bad record are handed on first
    assert got.error is not None
    assert f"record length {pcap.MAXIMUM_SNAPLEN + 1} exceeds" in got.error.message
    assert got.error.offset == 24 + 2 * 18
    assert got.error.frame == 3
    assert "frame 3, byte offset 60" in str(got.error)


def test_large_snaplen_allows_large_records_up_to_the_hard_cap() -> None:
    blob = header(snaplen=1 << 20) + record(b"q" * 300_000)
    got = drain(blob, chunk_bytes=1 << 16)
    assert got.error is None and len(got.frames[0].data) == 300_000
    hard = struct.pack("<IIII", 1, 0, MAX_RECORD_BYTES + 4, 100)
    got = drain(header(snaplen=0xFFFFFFFF) + hard)
    assert got.error is not None and "exceeds" in got.error.message
    assert (got.error.offset, got.error.frame) == (24, 1)


@pytest.mark.parametrize("cut", [1, 8, 15])
def test_truncated_inside_record_header(cut: int) -> None:
    blob = header() + record(b"a" * 10) + record(b"b" * 10)[:cut]
    got = drain(blob, chunk_bytes=8)
    assert [f.data for f in got.frames] == [b"a" * 10]
    assert got.error is not None
    assert got.error.message == (
        f"file ends inside frame 2 (record at byte 50 needs 16 bytes, {cut} available)"
    )
    assert (got.error.offset, got.error.frame) == (50, 2)


def test_truncated_inside_record_body() -> None:
    blob = header() + record(b"a" * 10) + record(b"b" * 100)[:40]
    for chunk in (7, 64, 1 << 20):
        got = drain(blob, chunk_bytes=chunk)
        assert [f.data for f in got.frames] == [b"a" * 10]
        assert got.error is not None
        assert got.error.message == (
            "file ends inside frame 2 (record at byte 50 needs 116 bytes, 40 available)"
        )


def test_empty_capture_after_header() -> None:
    got = drain(header())
    assert got.error is None and got.frames == [] and got.info.bytes_read == 24


@settings(max_examples=200, deadline=None)
@given(
    frames=frames_st,
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(0, 1 << 20),
    chunk=st.sampled_from([1, 16, 64, 1 << 20]),
)
def test_corrupted_input_fails_cleanly(
    frames: list[tuple[bytes, int, int, int]],
    edits: list[tuple[int, int]],
    cut: int | None,
    chunk: int,
) -> None:
    out = io.BytesIO()
    w = PcapWriter(out, 1)
    for data, extra, sec, ns in frames:
        w.write(data, sec * NS + ns, wire_len=len(data) + extra)
    blob = bytearray(out.getvalue())
    for pos, value in edits:
        blob[pos % len(blob)] = value
    if cut is not None:
        del blob[cut % (len(blob) + 1) :]
    try:
        got = drain(bytes(blob), chunk_bytes=chunk)
    except BadInput:
        return  # refused at the file header
    for f in got.frames:
        assert f.file_offset >= 24 and f.file_offset + 16 + len(f.data) <= len(blob)


def _batch_fields(b: object) -> list[tuple[object, ...]]:
    """Every per-frame field of a batch, and the frame's bytes, as plain values."""
    from pathsleuth.capture.records import RecordBatch

    assert isinstance(b, RecordBatch)
    cols = (b.data_offset, b.cap_len, b.wire_len, b.ts_ns, b.iface, b.linktype, b.frame)
    return [
        (*(int(c[i]) for c in cols[1:]), b.buf[int(o) : int(o) + int(b.cap_len[i])].tobytes())
        for i, o in enumerate(cols[0])
    ]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("chunk", [120, 331, 4096])
def test_recycled_batches_keep_their_arrays_until_the_one_after_next(fmt: str, chunk: int) -> None:
    """With `recycle`, a batch's per-frame arrays are views of one of two scratch sets: they
    hold while the next batch is used, and every field equals a fresh (copying) read,
    with pcap's link type filled once and pcapng's interfaces and link types per frame."""
    from pathsleuth.capture.writer import PcapngWriter

    out = io.BytesIO()
    sizes = [20 + (i * 53) % 150 for i in range(90)]
    if fmt == "pcap":
        w = PcapWriter(out, 101)
        for i, n in enumerate(sizes):
            w.write(bytes([i % 251]) * n, (i + 1) * NS, wire_len=n + i)
    else:
        g = PcapngWriter(out)
        g.section()
        a, b = g.interface(1), g.interface(101, tsresol=9)
        for i, n in enumerate(sizes):
            g.epb(a if i % 3 else b, (i + 1) * NS, bytes([i % 251]) * n, wire_len=n + i)
    blob = out.getvalue()

    def read(recycle: bool) -> list[list[tuple[object, ...]]]:
        reader = open_reader(io.BytesIO(blob), "x", chunk_bytes=chunk)
        seen, prev = [], None
        for b in reader.batches(recycle=recycle):
            if prev is not None:  # the batch before is intact while this one is in use
                assert _batch_fields(prev) == seen[-1]
            seen.append(_batch_fields(b))
            prev = b
        return seen

    fresh, recycled = read(False), read(True)
    assert len(fresh) >= 3 and len(recycled) >= 3
    # frames, not batches: a recycled spare buffer that grew for a big record holds more
    frames = [f for batch in fresh for f in batch]
    assert [f for batch in recycled for f in batch] == frames
    assert len(frames) == len(sizes)


@pytest.mark.parametrize("count", [1023, 1024, 1025, 5000])
def test_single_pass_tables_fill_up_and_go_on_in_the_same_buffer(count: int) -> None:
    """`PcapReader.tables` sizes its first table at FIRST_TABLE_ROWS rows and the next
    ones by the mean record size: a buffer holding more records than a table has rows
    gives several tables, numbered on, equal to `batches` + `dissect`."""
    from _recordio import assert_tables_agree

    out = io.BytesIO()
    w = PcapWriter(out, 101)
    for i in range(count):
        w.write(bytes([0x45]) + bytes(19 + i % 7), i * NS)
    blob = out.getvalue()
    reader = open_reader(io.BytesIO(blob), "x", chunk_bytes=1 << 20)
    tables = list(reader.tables())
    assert sum(len(t) for t in tables) == count
    assert len(tables[0]) == min(count, pcap.FIRST_TABLE_ROWS)
    frames = np.concatenate([t.frame for t in tables])
    assert (frames == np.arange(1, count + 1)).all()
    assert_tables_agree(lambda: io.BytesIO(blob), 1 << 20)
