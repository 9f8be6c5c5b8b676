"""pcapng reader: multi-section / multi-interface round trips and every malformation."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

import pytest
from _recordio import TrickleStream, drain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathsleuth.capture import pcapng
from pathsleuth.capture.chunks import MAX_RECORD_BYTES
from pathsleuth.capture.writer import PcapngWriter, tsresol_units
from pathsleuth.errors import BadInput

NS = 1_000_000_000
TSRESOLS = [
    6,
    9,
    0,
    3,
    12,
    19,
    0x80 | 0,
    0x80 | 3,
    0x80 | 10,
    0x80 | 20,
    0x80 | 33,
    0x80 | 40,
    0x80 | 63,
]
#: option strings: writers may NUL-terminate them, so readers strip trailing NULs
text_st = st.text(st.characters(codec="utf-8", blacklist_characters="\0"), max_size=20)
SKIPPABLE = [pcapng.NRB, pcapng.ISB, pcapng.DSB, 9, 0x00000101, 0x7FFF1234, 0x80000001]


@dataclass
class Expected:
    frames: list[tuple[bytes, int, int, int, int]] = field(
        default_factory=list
    )  # data, ts, wire, iface, lt
    comments: list[tuple[int | None, str]] = field(default_factory=list)
    skipped: dict[int, int] = field(default_factory=dict)
    ifaces: list[tuple[int, int, int, int, int]] = field(default_factory=list)


def expected_ts(ts_ns: int, units: int, offset_s: int) -> int:
    ticks = (ts_ns - offset_s * NS) * units // NS
    return offset_s * NS + ticks * NS // units


@st.composite
def interface_st(draw: st.DrawFn) -> dict[str, object]:
    return {
        "linktype": draw(st.integers(0, 0xFFFF)),
        "snaplen": draw(st.sampled_from([0, 64, 1500, 262144])),
        "tsresol": draw(st.sampled_from(TSRESOLS)),
        "tsoffset": draw(st.sampled_from([0, 0, 1, -7, 1_600_000_000])),
        "name": draw(st.none() | text_st),
        "fcs_len": draw(st.sampled_from([None, 0, 4])),
        "comment": draw(st.none() | text_st),
    }


@st.composite
def capture_st(draw: st.DrawFn) -> tuple[bytes, Expected]:
    out = io.BytesIO()
    w = PcapngWriter(out)
    exp = Expected()
    last_ts = 0
    for sec_idx in range(draw(st.integers(1, 3))):
        comment = draw(st.none() | text_st)
        w.section(comment, byte_order=draw(st.sampled_from(["little", "big"])))
        if comment is not None:
            exp.comments.append((None, comment))
        ifaces = draw(st.lists(interface_st(), min_size=1, max_size=4))
        for spec in ifaces:
            w.interface(**spec)  # type: ignore[arg-type]
            if spec["comment"] is not None:
                exp.comments.append((None, spec["comment"]))  # type: ignore[arg-type]
            exp.ifaces.append(
                (
                    spec["linktype"],
                    spec["snaplen"],
                    tsresol_units(spec["tsresol"]),  # type: ignore[arg-type]
                    spec["tsoffset"],
                    sec_idx,
                )
            )
        for _ in range(draw(st.integers(0, 12))):
            kind = draw(st.sampled_from(["epb", "epb", "pb", "spb", "skip", "custom"]))
            if kind in ("skip", "custom"):
                body = draw(st.binary(max_size=40))
                if kind == "custom":
                    nocopy = draw(st.booleans())
                    w.custom_block(body, copyable=not nocopy)
                    btype = pcapng.CUSTOM_NOCOPY if nocopy else pcapng.CUSTOM_COPY
                else:
                    btype = draw(st.sampled_from(SKIPPABLE))
                    w.raw_block(btype, body)
                exp.skipped[btype] = exp.skipped.get(btype, 0) + 1
                continue
            data = draw(st.binary(max_size=3000))
            if kind == "spb":
                snap = int(ifaces[0]["snaplen"])  # type: ignore[call-overload]
                # SPB has no captured length: it is min(wire, snaplen), so only a frame
                # cut at the snaplen can have a longer wire length
                wire = len(data)
                if snap and len(data) >= snap:
                    data = data[:snap]
                    wire = snap + draw(st.integers(0, 3000))
                w.spb(data, wire_len=wire)
                exp.frames.append((data, last_ts, wire, 0, int(ifaces[0]["linktype"])))  # type: ignore[call-overload]
                continue
            i = draw(st.integers(0, len(ifaces) - 1))
            spec = ifaces[i]
            units = tsresol_units(spec["tsresol"])  # type: ignore[arg-type]
            off = int(spec["tsoffset"])  # type: ignore[call-overload]
            span = min(2**62, (2**64 - 1) * NS // units)
            ts = off * NS + draw(st.integers(0, span))
            wire = len(data) + draw(st.integers(0, 3000))
            comment = draw(st.none() | text_st)
            if kind == "epb":
                w.epb(i, ts, data, wire_len=wire, comment=comment)
            else:
                w.pb(i, ts, data, wire_len=wire, comment=comment)
            last_ts = expected_ts(ts, units, off)
            exp.frames.append((data, last_ts, wire, i, int(spec["linktype"])))  # type: ignore[call-overload]
            if comment is not None:
                exp.comments.append((len(exp.frames), comment))
    return out.getvalue(), exp


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cap=capture_st(), chunk=st.sampled_from([1, 12, 16, 31, 64, 500, 4096, 1 << 20]))
def test_round_trip(cap: tuple[bytes, Expected], chunk: int) -> None:
    blob, exp = cap
    got = drain(blob, chunk_bytes=chunk)
    assert got.error is None
    assert [(f.data, f.ts_ns, f.wire_len, f.iface, f.linktype) for f in got.frames] == exp.frames
    assert [f.frame for f in got.frames] == list(range(1, len(exp.frames) + 1))
    assert got.info.comments == exp.comments
    assert got.info.skipped_blocks == exp.skipped
    assert [
        (i.linktype, i.snaplen, i.ts_units_per_second, i.ts_offset_s, i.section)
        for i in got.info.interfaces
    ] == exp.ifaces
    assert got.info.bytes_read == len(blob)
    # every file_offset points at a packet block header in the original bytes
    for f in got.frames:
        head = blob[f.file_offset : f.file_offset + 4]
        assert head in {
            struct.pack(o, t) for o in ("<I", ">I") for t in (pcapng.EPB, pcapng.PB, pcapng.SPB)
        }


def test_sections_interfaces_and_options() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section("first", hardware="hw", os="linux", userappl="pathsleuth")
    a = w.interface(1, name="eth0", description="uplink", fcs_len=4, tsresol=9)
    b = w.interface(113, tsresol=0x80 | 20, tsoffset=100, comment="cooked")
    w.epb(a, 5 * NS + 1, b"A" * 60)
    w.epb(b, 200 * NS, b"B" * 30, comment="look here")
    w.section(byte_order="big")
    c = w.interface(101, snaplen=40)
    w.spb(b"C" * 40, wire_len=1500)
    w.pb(c, 300 * NS + 999_999, b"D" * 20)
    w.spb(b"E" * 10)
    got = drain(out.getvalue(), chunk_bytes=32)
    assert got.error is None
    info = got.info
    assert (info.format, info.byte_order, info.sections) == ("pcapng", "little", 2)
    assert [(i.linktype, i.name, i.description, i.fcs_len, i.section) for i in info.interfaces] == [
        (1, "eth0", "uplink", 4, 0),
        (113, None, None, None, 0),
        (101, None, None, None, 1),
    ]
    assert info.interfaces[1].ts_units_per_second == 1 << 20
    assert info.interfaces[1].ts_offset_s == 100
    assert info.comments == [(None, "first"), (None, "cooked"), (2, "look here")]
    assert info.extra["section_headers"] == [
        {"byte_order": "little", "hardware": "hw", "os": "linux", "userappl": "pathsleuth"},
        {"byte_order": "big"},
    ]
    rows = [(f.frame, f.iface, f.linktype, len(f.data), f.wire_len, f.ts_ns) for f in got.frames]
    assert rows == [
        (1, 0, 1, 60, 60, 5 * NS + 1),
        (2, 1, 113, 30, 30, 200 * NS),
        (3, 0, 101, 40, 1500, 200 * NS),  # SPB: no timestamp, the previous one carries on
        (4, 0, 101, 20, 20, 300 * NS + 999_000),  # usec interface floors
        (5, 0, 101, 10, 10, 300 * NS + 999_000),
    ]


def test_trickle_stream_and_big_block_over_chunk() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out, byte_order="big")
    w.section()
    w.interface(1)
    big = bytes(range(256)) * 1000
    w.epb(0, NS, b"x")
    w.epb(0, 2 * NS, big)
    w.epb(0, 3 * NS, b"y")
    blob = out.getvalue()
    for got in (
        drain(blob, chunk_bytes=100),
        drain(blob, chunk_bytes=64, stream=TrickleStream(blob)),
    ):
        assert got.error is None
        assert [f.data for f in got.frames] == [b"x", big, b"y"]


def test_epb_option_scan_ignores_other_options() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.interface(1)
    flags = (2, struct.pack("<I", 1))  # epb_flags: inbound
    w.epb(0, NS, b"abc", options=[flags])
    w.epb(0, NS, b"def", options=[flags, (3, b"\x00" * 5)], comment="after")
    got = drain(out.getvalue())
    assert got.info.comments == [(2, "after")]
    assert [f.data for f in got.frames] == [b"abc", b"def"]


# --- bad input -----------------------------------------------------------------------


def one_iface(byte_order: str = "little") -> tuple[io.BytesIO, PcapngWriter]:
    out = io.BytesIO()
    w = PcapngWriter(out, byte_order=byte_order)  # type: ignore[arg-type]
    w.section()
    w.interface(1)
    w.epb(0, NS, b"good")
    return out, w


def test_block_length_below_12() -> None:
    out, _ = one_iface()
    at = len(out.getvalue())
    out.write(struct.pack("<II", pcapng.EPB, 8) + b"\0" * 16)
    got = drain(out.getvalue())
    assert len(got.frames) == 1
    assert got.error is not None
    assert "enhanced packet block length 8 is invalid" in got.error.message
    assert (got.error.offset, got.error.frame) == (at, 2)


def test_block_length_not_multiple_of_4() -> None:
    out, _ = one_iface("big")
    at = len(out.getvalue())
    out.write(struct.pack(">II", pcapng.NRB, 22) + b"\0" * 20)
    got = drain(out.getvalue())
    assert got.error is not None
    assert "name resolution block length 22 is invalid" in got.error.message
    assert (got.error.offset, got.error.frame) == (at, None)


def test_trailer_differs() -> None:
    out, _ = one_iface()
    at = len(out.getvalue())
    out.write(
        struct.pack("<IIIIIII", pcapng.EPB, 36, 0, 0, 0, 4, 4) + b"abcd" + struct.pack("<I", 40)
    )
    got = drain(out.getvalue(), chunk_bytes=20)
    assert got.error is not None
    assert (
        got.error.message
        == "enhanced packet block trailing length 40 differs from its leading length 36"
    )
    assert (got.error.offset, got.error.frame) == (at, 2)


def test_epb_unknown_interface() -> None:
    out, w = one_iface()
    w.interface(1)
    at = len(out.getvalue())
    w._ifaces.append(w._ifaces[0])  # let the writer emit a reference to interface 2
    w.epb(2, NS, b"x")
    got = drain(out.getvalue())
    assert got.error is not None
    assert (
        got.error.message
        == "enhanced packet block refers to interface 2, but section 0 has 2 interface(s)"
    )
    assert (got.error.offset, got.error.frame) == (at, 2)


def test_interfaces_reset_by_new_section() -> None:
    out, w = one_iface()
    w.section()
    w._ifaces.append(w._ifaces[0] if w._ifaces else None)  # type: ignore[arg-type]
    out2 = io.BytesIO()
    w2 = PcapngWriter(out2)
    w2.section()
    w2.interface(1)
    w2.epb(0, NS, b"z")
    # a section without IDBs followed by an EPB from another file
    blob = out.getvalue() + out2.getvalue()[out2.getvalue().index(struct.pack("<I", pcapng.EPB)) :]
    got = drain(blob)
    assert (
        got.error is not None and "refers to interface 0, but section 1 has 0" in got.error.message
    )


def test_spb_without_interface() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.raw_block(pcapng.SPB, struct.pack("<I", 4) + b"abcd")
    got = drain(out.getvalue())
    assert got.error is not None
    assert "simple packet block refers to interface 0, but section 0 has 0" in got.error.message
    assert got.error.frame == 1


def test_epb_caplen_overruns_block() -> None:
    out, _ = one_iface()
    out.write(
        struct.pack("<IIIIIII", pcapng.EPB, 36, 0, 0, 0, 100, 100) + b"abcd" + struct.pack("<I", 36)
    )
    got = drain(out.getvalue())
    assert got.error is not None
    assert "too short for its contents (captured length 100)" in got.error.message


def test_block_too_long() -> None:
    out, _ = one_iface()
    out.write(struct.pack("<II", pcapng.EPB, MAX_RECORD_BYTES + 4))
    got = drain(out.getvalue())
    assert got.error is not None and "exceeds the maximum" in got.error.message


def test_bad_byte_order_magic() -> None:
    blob = struct.pack("<III", pcapng.SHB, 28, 0x11223344) + b"\0" * 16
    got = drain(blob)
    assert got.error is not None
    assert (
        got.error.message
        == "section header block has a bad byte-order magic 0x44332211 (expected 0x1a2b3c4d)"
    )
    assert got.error.offset == 8


def test_bad_second_section() -> None:
    out, _ = one_iface()
    at = len(out.getvalue())
    out.write(struct.pack("<III", pcapng.SHB, 28, 0) + b"\0" * 16)
    got = drain(out.getvalue())
    assert len(got.frames) == 1
    assert got.error is not None and got.error.offset == at + 8


def test_unsupported_version() -> None:
    blob = struct.pack("<IIIHHq", pcapng.SHB, 28, pcapng.BYTE_ORDER_MAGIC, 2, 0, -1) + struct.pack(
        "<I", 28
    )
    got = drain(blob)
    assert got.error is not None and "unsupported pcapng version 2.0" in got.error.message


def test_tsresol_too_fine() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.interface(1, options=[(pcapng.IF_TSRESOL, b"\x14")])  # 10^-20
    got = drain(out.getvalue())
    assert got.error is not None and "if_tsresol 10^-20" in got.error.message


def test_idb_option_overruns_block() -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    body = struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", pcapng.IF_NAME, 200) + b"eth0"
    w.raw_block(pcapng.IDB, body)
    got = drain(out.getvalue())
    assert got.error is not None and "runs past the end of the block" in got.error.message


@pytest.mark.parametrize("cut", [3, 7, 11, 30])
def test_truncated_packet_block(cut: int) -> None:
    out, w = one_iface()
    at = len(out.getvalue())
    w.epb(0, 2 * NS, b"y" * 40)
    blob = out.getvalue()[: at + cut]
    for chunk in (4, 64, 1 << 20):
        got = drain(blob, chunk_bytes=chunk)
        assert [f.data for f in got.frames] == [b"good"]
        assert got.error is not None
        need = 72 if cut >= 8 else 12
        assert got.error.message == (
            f"file ends inside frame 2 (block at byte {at} needs {need} bytes, {cut} available)"
        )
        assert (got.error.offset, got.error.frame) == (at, 2)


def test_truncated_other_block() -> None:
    out, w = one_iface()
    at = len(out.getvalue())
    w.raw_block(pcapng.ISB, b"\0" * 20)
    got = drain(out.getvalue()[:-4])
    assert got.error is not None
    assert got.error.message == (
        f"file ends inside a interface statistics block (block at byte {at} needs 32 bytes, 28 available)"
    )
    assert got.error.frame is None


def test_truncated_section_header() -> None:
    out = io.BytesIO()
    PcapngWriter(out).section("x" * 10)
    got = drain(out.getvalue()[:20])
    assert got.error is not None
    assert (
        "file ends inside a section header block (block at byte 0 needs 48 bytes, 20 available)"
        in got.error.message
    )


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cap=capture_st(),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(0, 1 << 20),
    chunk=st.sampled_from([1, 16, 64, 1 << 20]),
)
def test_corrupted_input_fails_cleanly(
    cap: tuple[bytes, Expected], edits: list[tuple[int, int]], cut: int | None, chunk: int
) -> None:
    blob = bytearray(cap[0])
    for pos, value in edits:
        blob[pos % len(blob)] = value
    if cut is not None:
        del blob[cut % (len(blob) + 1) :]
    try:
        got = drain(bytes(blob), chunk_bytes=chunk)
    except BadInput:
        return  # refused at the magic
    for f in got.frames:  # whatever was handed on lies inside the file
        assert f.file_offset >= 0 and f.file_offset + len(f.data) <= len(blob)
