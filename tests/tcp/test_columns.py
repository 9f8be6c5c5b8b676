"""`tcp.columns`: the analysis reads only what `for_analysis` keeps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.capture.table import COLUMNS, PacketTable, Status
from pathsleuth.tcp.columns import (
    ANALYSIS_COLUMNS,
    DERIVED_DTYPES,
    DERIVED_SOURCES,
    ICMP_COLUMNS,
    TCP_COLUMNS,
    TCP_ROW_COLUMNS,
    for_analysis,
    sack_columns,
    split_for_analysis,
)
from pathsleuth.tcp.flows import KEY_COLUMNS
from tcp.tables import make_table

SRC = Path(__file__).resolve().parents[2] / "src" / "pathsleuth"


def _mixed() -> PacketTable:
    """TCP (v4, v6), UDP, ICMP, ICMPv6 and a non-IP frame, in that capture order."""
    return make_table(
        [
            dict(ip_version=4, proto=6, src="192.0.2.1", dst="192.0.2.2", sport=1000, dport=25),
            dict(ip_version=4, proto=17, src="192.0.2.1", dst="192.0.2.53", sport=1, dport=53),
            dict(ip_version=4, proto=1, src="192.0.2.254", dst="192.0.2.1", icmp_type=3),
            dict(ip_version=6, proto=58, src="2001:db8::fe", dst="2001:db8::1", icmp_type=2),
            dict(ip_version=6, proto=6, src="2001:db8::1", dst="2001:db8::2", sport=9, dport=25),
            dict(ip_version=0, proto=0, status=int(Status.NOT_IP)),  # ARP, LLDP, ...
        ]
    )


def test_every_column_the_tcp_and_diagnose_stages_name_is_kept() -> None:
    """A column name mentioned anywhere in tcp/ or diagnose/ must be in ANALYSIS_COLUMNS,
    or the analysis would read a column `analyze_paths` dropped."""
    files = [p for d in ("tcp", "diagnose") for p in (SRC / d).glob("*.py")]
    text = "".join(p.read_text("utf-8") for p in files if p.name != "columns.py")
    mentioned = {c.name for c in COLUMNS if re.search(rf"\b{c.name}\b", text)}
    assert mentioned - set(ANALYSIS_COLUMNS) == set()
    # the derived columns' sources are read when the rows are cut, in columns.py only
    own = (SRC / "tcp" / "columns.py").read_text("utf-8")
    mentioned = {c.name for c in COLUMNS if re.search(rf"\b{c.name}\b", own)}
    assert mentioned - set(ANALYSIS_COLUMNS) - set(DERIVED_SOURCES) == set()
    schema = {c.name for c in COLUMNS}
    assert set(ANALYSIS_COLUMNS) <= schema | set(DERIVED_DTYPES)
    assert set(DERIVED_DTYPES).isdisjoint(schema) and set(DERIVED_SOURCES) <= schema


def test_only_tcp_icmp_reads_the_icmp_columns() -> None:
    """Outside `tcp/icmp.py`, every column named is one the TCP table keeps; `tcp/icmp.py`
    reads the ICMP table only (each half's endpoints come from the connection table)."""
    files = [p for d in ("tcp", "diagnose") for p in (SRC / d).glob("*.py")]
    text = "".join(p.read_text("utf-8") for p in files if p.name not in ("icmp.py", "columns.py"))
    # a column is read by key (p["seq"], tc["opt_mss"]) or as a table attribute (table.proto)
    mentioned = {
        c.name for c in COLUMNS if re.search(rf"[\"']{c.name}[\"']|\btable\.{c.name}\b", text)
    }
    assert mentioned - set(TCP_COLUMNS) == set()
    icmp_text = (SRC / "tcp" / "icmp.py").read_text("utf-8")
    read = {c.name for c in COLUMNS if re.search(rf"\bt\.{c.name}\b", icmp_text)}
    assert read and read <= set(ICMP_COLUMNS)
    from_tcp = {c.name for c in COLUMNS if re.search(rf"\b(tt|ct\.table)\.{c.name}\b", icmp_text)}
    assert from_tcp <= set(TCP_ROW_COLUMNS)


def test_only_the_flow_numbering_reads_the_4_tuple_of_a_tcp_row() -> None:
    """`analyze_paths` keeps the TCP rows without their 4-tuple (`TCP_ROW_COLUMNS`), so
    past numbering the flows (`tcp/flows.py`, for a table given whole) nothing may read
    it per row: endpoints come from the flow keys and the connection table."""
    files = [p for d in ("tcp", "diagnose") for p in (SRC / d).glob("*.py")]
    skip = ("flows.py", "columns.py")
    text = "".join(p.read_text("utf-8") for p in files if p.name not in skip)
    for name in KEY_COLUMNS:
        read = rf"\[\s*[\"']{name}[\"']\s*\]|\b(table|tt|tc)\.{name}\b"  # p["sport"], table.sport
        assert not re.search(read, text), name
    assert set(TCP_ROW_COLUMNS) == set(TCP_COLUMNS) - set(KEY_COLUMNS)


def test_split_keeps_tcp_and_icmp_rows_apart_in_capture_order() -> None:
    t = _mixed()
    tcp, icmp = split_for_analysis(t)
    assert list(tcp.columns) == list(TCP_COLUMNS)
    assert list(icmp.columns) == list(ICMP_COLUMNS)
    assert tcp.frame.tolist() == [1, 5]
    assert icmp.frame.tolist() == [3, 4]
    assert icmp.icmp_type.tolist() == [3, 2]


def test_keeps_tcp_and_icmp_rows_with_their_frame_numbers() -> None:
    t = _mixed()
    cut = for_analysis(t)
    assert list(cut.columns) == list(ANALYSIS_COLUMNS)
    assert cut.frame.tolist() == [1, 3, 4, 5]
    assert cut.proto.tolist() == [6, 1, 58, 6]
    assert cut.sport.tolist() == [1000, 0, 0, 9]


def test_all_kept_rows_share_the_arrays() -> None:
    t = make_table([dict(ip_version=4, proto=6, sport=1), dict(ip_version=4, proto=6, sport=2)])
    cut = for_analysis(t)
    assert cut.columns["sport"] is t.columns["sport"]


def _sacked(ack: int, blocks: list[tuple[int, int]], count: int | None = None) -> PacketTable:
    edges = blocks + [(0, 0)] * (4 - len(blocks))
    return make_table(
        [
            dict(
                ip_version=4,
                proto=6,
                ack=ack,
                sack_count=len(blocks) if count is None else count,
                sack_left=[lo for lo, _ in edges],
                sack_right=[hi for _, hi in edges],
            )
        ]
    )


@pytest.mark.parametrize(
    ("ack", "blocks", "count", "above", "dsack"),
    [
        (1000, [], None, 0, (0, 0)),  # no SACK option
        (1000, [(2448, 3896)], None, 2896, (0, 0)),
        (1000, [(5000, 6000), (2000, 3000)], None, 5000, (0, 0)),  # farthest, not first
        (1000, [(500, 1000)], None, 0, (-500, 0)),  # D-SACK below the ACK: nothing above
        (1000, [(500, 900), (2000, 2500)], None, 1500, (-500, -100)),  # D-SACK, then a block
        (1000, [(2200, 2300), (2000, 2500)], None, 1500, (1200, 1300)),  # D-SACK inside the 2nd
        (1000, [(2200, 2600), (2000, 2500)], None, 1600, (0, 0)),  # overlaps: not inside
        ((1 << 32) - 100, [(50, 400)], None, 500, (0, 0)),  # edges wrapped past 2^32
        ((1 << 32) - 100, [((1 << 32) - 300, (1 << 32) - 200)], None, 0, (-200, -100)),
        (1000, [(2000, 3000), (5000, 9000)], 1, 2000, (0, 0)),  # only `sack_count` are read
        (1000, [(400, 500), (300, 900)], 1, 0, (-600, -500)),
    ],
)
def test_sack_columns_measure_the_blocks_from_the_ack(
    ack: int,
    blocks: list[tuple[int, int]],
    count: int | None,
    above: int,
    dsack: tuple[int, int],
) -> None:
    t = _sacked(ack, blocks, count)
    for rows, n in ((None, 1), (np.array([0, 0]), 2)):
        got = sack_columns(t.columns, rows)
        assert got["sack_above"].tolist() == [above] * n
        assert (
            list(zip(got["dsack_lo"].tolist(), got["dsack_hi"].tolist(), strict=True))
            == [dsack] * n
        )
        assert {k: v.dtype for k, v in got.items()} == DERIVED_DTYPES
    # the cut keeps them, made from the blocks, in place of the blocks
    (tcp, _icmp) = split_for_analysis(t)
    assert tcp.columns["sack_above"].tolist() == [above]
    assert (int(tcp.columns["dsack_lo"][0]), int(tcp.columns["dsack_hi"][0])) == dsack
    assert "sack_right" not in tcp.columns


@given(
    st.integers(0, (1 << 32) - 1),
    st.lists(st.tuples(st.integers(-5000, 5000), st.integers(1, 3000)), max_size=4),
)
def test_sack_columns_match_the_definition(ack: int, blocks: list[tuple[int, int]]) -> None:
    """sack_above: the largest (right - ack) over the blocks, as a signed 32-bit distance,
    at least 0; the D-SACK: the first block, if at or below the ACK or inside the second."""
    edges = [((ack + off) % (1 << 32), (ack + off + size) % (1 << 32)) for off, size in blocks]
    got = sack_columns(_sacked(ack, edges).columns)
    assert got["sack_above"].tolist() == [max([0] + [o + z for o, z in blocks if o + z > 0])]
    want = (0, 0)
    if blocks:
        (o1, z1), rest = blocks[0], blocks[1:]
        inside = bool(rest) and rest[0][0] <= o1 and o1 + z1 <= rest[0][0] + rest[0][1]
        if o1 + z1 <= 0 or inside:
            want = (o1, o1 + z1)
    assert (int(got["dsack_lo"][0]), int(got["dsack_hi"][0])) == want
