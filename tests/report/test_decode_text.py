"""`decode` summary: text per capture and the JSON document."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from pathsleuth.report.decode_text import (
    DECODE_KEYS,
    DECODE_SCHEMA_VERSION,
    render_decode_json,
    render_decode_text,
)

T0 = 1_242_664_880_000_000_000


@dataclass
class Summary:
    name: str
    format: str
    linktypes: dict[str, int] = field(default_factory=dict)
    packets: int = 0
    bytes: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    protocols: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    malformed_frames: list[int] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    skipped_members: list[str] = field(default_factory=list)


@dataclass
class RichSummary(Summary):
    """Like the capture stage's CaptureSummary: more fields, and a to_dict()."""

    tcp_flows: int = 0
    truncated_payload: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tcp_flows": self.tcp_flows,
            "truncated_payload": self.truncated_payload,
        }


def seed_summary() -> RichSummary:
    return RichSummary(
        name="PACKETTRACE.TAR.GZ:PACKETTRACE",
        format="pcapng",
        linktypes={"LINUX_SLL2": 12, "ETHERNET": 9800},
        packets=9812,
        bytes=4_512_330,
        first_ts_ns=T0,
        last_ts_ns=T0 + 365 * 10**9,
        protocols={"udp": 180, "tcp": 9500, "ipv4": 9700, "zz_other": 2, "icmp": 20},
        malformed=23,
        malformed_frames=list(range(17, 37)),
        comments=["captured on the GWIA host"],
        skipped_members=["README.txt"],
        tcp_flows=214,
        truncated_payload=4,
    )


def render(summaries: list[Any]) -> str:
    buf = io.StringIO()
    render_decode_text(summaries, Console(file=buf, width=80))
    return buf.getvalue()


def test_text_per_file() -> None:
    out = render([seed_summary()])
    assert out.startswith("PACKETTRACE.TAR.GZ:PACKETTRACE ─")
    assert "format      pcapng" in out
    assert "ETHERNET 9,800 · LINUX_SLL2 12" in out  # most frames first
    assert "9,812 packets, 4.3 MiB captured" in out
    assert "2009-05-18 16:41:20.000000 UTC → 16:47:25.000000 UTC (6 min 5.0 s)" in out
    # well-known protocols in a fixed order, unknown ones after
    assert (
        out.index("ipv4 9,700")
        < out.index("tcp 9,500")
        < out.index("udp 180")
        < out.index("zz_other 2")
    )
    assert "malformed   23 (frames 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, ... (23 in all))" in out
    assert "TCP flows   214" in out
    assert "captured on the GWIA host" in out
    assert "README.txt" in out
    for line in out.splitlines():
        assert len(line) <= 80 and line == line.rstrip()
    assert "\x1b[" not in out


def test_text_for_empty_and_several_files() -> None:
    out = render([seed_summary(), Summary(name="empty.pcap", format="pcap")])
    assert "no timestamps" in out
    assert "protocols   none" in out
    assert out.rstrip().endswith("2 captures: 9,812 packets, 23 malformed")


def test_json_document() -> None:
    doc = json.loads(render_decode_json([seed_summary(), Summary(name="e.pcap", format="pcap")]))
    assert list(doc) == ["schema_version", "files"]
    assert doc["schema_version"] == DECODE_SCHEMA_VERSION
    first, empty = doc["files"]
    assert list(first)[: len(DECODE_KEYS)] == list(DECODE_KEYS)
    assert list(first)[len(DECODE_KEYS) :] == ["tcp_flows", "truncated_payload"]
    assert first["malformed_frames"] == list(range(17, 37))
    assert first["duration_s"] == 365.0
    assert list(first["protocols"]) == ["ipv4", "tcp", "udp", "icmp", "zz_other"]
    assert empty["first_ts_ns"] is None and empty["duration_s"] == 0.0
    assert list(empty) == list(DECODE_KEYS)
