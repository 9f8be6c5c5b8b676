"""`tcp.columns`: the analysis reads only what `for_analysis` keeps."""

from __future__ import annotations

import re
from pathlib import Path

from pathsleuth.capture.table import COLUMNS, PacketTable, Status
from pathsleuth.tcp.columns import (
    ANALYSIS_COLUMNS,
    ICMP_COLUMNS,
    TCP_COLUMNS,
    TCP_ROW_COLUMNS,
    for_analysis,
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
    text = "".join(
        p.read_text("utf-8") for d in ("tcp", "diagnose") for p in (SRC / d).glob("*.py")
    )
    mentioned = {c.name for c in COLUMNS if re.search(rf"\b{c.name}\b", text)}
    assert mentioned - set(ANALYSIS_COLUMNS) == set()
    assert set(ANALYSIS_COLUMNS) <= {c.name for c in COLUMNS}


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
