"""`tcp.columns`: the analysis reads only what `for_analysis` keeps."""

from __future__ import annotations

import re
from pathlib import Path

from pathsleuth.capture.table import COLUMNS, Status
from pathsleuth.tcp.columns import ANALYSIS_COLUMNS, for_analysis
from tcp.tables import make_table

SRC = Path(__file__).resolve().parents[2] / "src" / "pathsleuth"


def test_every_column_the_tcp_and_diagnose_stages_name_is_kept() -> None:
    """A column name mentioned anywhere in tcp/ or diagnose/ must be in ANALYSIS_COLUMNS,
    or the analysis would read a column `analyze_paths` dropped."""
    text = "".join(
        p.read_text("utf-8") for d in ("tcp", "diagnose") for p in (SRC / d).glob("*.py")
    )
    mentioned = {c.name for c in COLUMNS if re.search(rf"\b{c.name}\b", text)}
    assert mentioned - set(ANALYSIS_COLUMNS) == set()
    assert set(ANALYSIS_COLUMNS) <= {c.name for c in COLUMNS}


def test_keeps_tcp_and_icmp_rows_with_their_frame_numbers() -> None:
    t = make_table(
        [
            dict(ip_version=4, proto=6, src="192.0.2.1", dst="192.0.2.2", sport=1000, dport=25),
            dict(ip_version=4, proto=17, src="192.0.2.1", dst="192.0.2.53", sport=1, dport=53),
            dict(ip_version=4, proto=1, src="192.0.2.254", dst="192.0.2.1", icmp_type=3),
            dict(ip_version=6, proto=58, src="2001:db8::fe", dst="2001:db8::1", icmp_type=2),
            dict(ip_version=6, proto=6, src="2001:db8::1", dst="2001:db8::2", sport=9, dport=25),
            dict(ip_version=0, proto=0, status=int(Status.NOT_IP)),  # ARP, LLDP, ...
        ]
    )
    cut = for_analysis(t)
    assert list(cut.columns) == list(ANALYSIS_COLUMNS)
    assert cut.frame.tolist() == [1, 3, 4, 5]
    assert cut.proto.tolist() == [6, 1, 58, 6]
    assert cut.sport.tolist() == [1000, 0, 0, 9]


def test_all_kept_rows_share_the_arrays() -> None:
    t = make_table([dict(ip_version=4, proto=6, sport=1), dict(ip_version=4, proto=6, sport=2)])
    cut = for_analysis(t)
    assert cut.columns["sport"] is t.columns["sport"]
