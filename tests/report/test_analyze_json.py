"""`analyze --format json`: the contract's keys, their order, determinism and JSON hygiene."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from report_samples import Conn, Result, healthy_result, seed_finding

from pathsleuth.diagnose.model import SCHEMA_VERSION, Finding, Severity
from pathsleuth.report.analyze_json import (
    CONNECTION_KEYS,
    FINDING_KEY_ORDER,
    analyze_document,
    render_analyze_json,
)


def test_top_level_is_exactly_the_contract(result: Result) -> None:
    doc = json.loads(render_analyze_json(result))
    assert list(doc) == ["schema_version", "files", "connections", "findings", "icmp"]
    assert doc["schema_version"] == SCHEMA_VERSION
    assert len(doc["files"]) == 2 and len(doc["connections"]) == 4 and len(doc["findings"]) == 3


def test_finding_keys_in_contract_order_then_model_extras(result: Result) -> None:
    doc = analyze_document(result)
    f = doc["findings"][0]
    contract = [k for k in FINDING_KEY_ORDER if k in f]
    assert list(f)[: len(contract)] == contract
    assert contract[:4] == ["verdict", "severity", "confidence", "flow"]
    model_fields = [fl.name for fl in dataclasses.fields(Finding)]
    assert set(f) == set(model_fields)
    extras = [k for k in f if k not in FINDING_KEY_ORDER]
    assert extras == [k for k in model_fields if k in extras]


def test_values_are_those_of_the_finding(result: Result) -> None:
    f = analyze_document(result)["findings"][0]
    seed = seed_finding()
    assert f["verdict"] == "pmtu_blackhole"
    assert f["severity"] == "error"
    assert f["confidence"] == 0.951  # rounded to 3 places
    assert f["flow"] == {
        "src": "192.168.1.254",
        "sport": 55400,
        "dst": "203.106.231.124",
        "dport": 25,
    }
    assert f["path_mtu"] == {"low": 94, "high": 1500}
    assert f["recovered"] is False
    assert f["evidence"][1] == {"frame": 9484, "text": seed.evidence[1].text}
    assert f["evidence"][4]["frame"] is None
    assert f["wireshark_filter"] == seed.wireshark_filter
    assert [a["id"] for a in f["advice"]] == [a.id for a in seed.advice]
    assert list(f["advice"][0]) == [
        "id",
        "rank",
        "title",
        "where",
        "commands",
        "persist",
        "tradeoffs",
    ]
    assert f["direction"] == "outbound" and f["capture_point"] == "sender"


def test_optional_fields_are_absent_not_null(result: Result) -> None:
    loss = analyze_document(result)["findings"][1]
    assert loss["verdict"] == "packet_loss"
    assert "path_mtu" not in loss and "recovered" not in loss


def test_findings_ordered_worst_first_stably(result: Result) -> None:
    extra = dataclasses.replace(seed_finding(), connection_id=99)
    info_first = Result(result.files, result.connections, [*result.findings, extra])
    doc = analyze_document(info_first)
    assert [f["severity"] for f in doc["findings"]] == ["error", "error", "warning", "info"]
    assert [f["connection_id"] for f in doc["findings"][:2]] == [7, 99]


def test_deterministic_output(result: Result) -> None:
    assert render_analyze_json(result) == render_analyze_json(result)
    text = render_analyze_json(result)
    assert text.endswith("}") and not text.endswith("\n")  # click.echo adds the newline
    assert "≈" in text  # UTF-8 text, not \\u escapes


def test_connection_entry_fixed_keys_then_details_sorted() -> None:
    c = Conn(
        1,
        "a.pcap",
        "192.0.2.1",
        1025,
        "192.0.2.2",
        25,
        np.int64(10),
        1000,
        0.5,
        "closed",
        "ShAF",
        {
            "zero_windows": np.uint32(0),
            "mss": (1460, 1400),
            "dup_acks": np.int64(3),
            "src": "ignored",
        },
    )
    doc = analyze_document(Result(files=[], connections=[c], findings=[]))
    entry = doc["connections"][0]
    assert list(entry) == [*CONNECTION_KEYS, "dup_acks", "mss", "zero_windows"]
    assert entry["src"] == "192.0.2.1"  # the attribute wins over to_dict()
    assert entry["mss"] == [1460, 1400]
    assert type(entry["dup_acks"]) is int
    json.dumps(doc)


def test_files_entry(healthy: Result) -> None:
    f = analyze_document(healthy)["files"][0]
    assert f == {
        "name": "ok.pcap",
        "format": "pcap",
        "packets": 40,
        "bytes": 3400,
        "malformed": 0,
        "malformed_frames": [],
        "first_ts_ns": healthy.files[0].first_ts_ns,
        "last_ts_ns": healthy.files[0].last_ts_ns,
        "duration_s": 1.0,
    }


def test_no_findings_is_an_empty_list() -> None:
    doc = json.loads(render_analyze_json(healthy_result()))
    assert doc["findings"] == []


def test_nan_confidence_is_refused_not_written() -> None:
    bad = dataclasses.replace(seed_finding(), confidence=math.nan, severity=Severity.ERROR)
    with pytest.raises(ValueError, match="non-finite"):
        render_analyze_json(Result(files=[], connections=[], findings=[bad]))


def test_icmp_entries(result: Result) -> None:
    doc = analyze_document(result)
    icmp = doc["icmp"]
    assert [e["frame"] for e in icmp] == [612, 640, 700]  # sorted by frame
    matched, v6, implausible = icmp
    assert list(matched) == [
        "frame",
        "file",
        "kind",
        "version",
        "type",
        "code",
        "router",
        "router_hops",
        "mtu",
        "quoted",
        "connection",
        "segment_frame",
        "valid",
        "problems",
    ]
    assert matched["connection"] == 3 and matched["segment_frame"] == 611
    assert matched["valid"] is True and matched["problems"] == []
    assert matched["quoted"]["seq"] == 3_000_001_449 and matched["quoted"]["df"] is True
    assert (v6["version"], v6["type"], v6["mtu"], v6["valid"]) == (6, 2, 1200, False)
    assert v6["connection"] is None and v6["quoted"]["seq"] is None
    assert implausible["valid"] is False and "implausible" in implausible["problems"][0]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "mtu", "valid", "problem"),
    [
        # the MANIFEST asks only for MTU 1280 here (it quotes a 52-byte UDP packet, so
        # tcp.icmp also calls it implausible)
        ("zeek/icmp_icmp6-toobig.pcap", 1280, None, None),
        ("suricata-verify/ipv6-evasion_ipv6-atomic-fragments-toobig.pcap", 1200, False, "1280"),
        ("snabb/response-ipv4-icmp34-inet.pcap", 737, False, "implausible"),
    ],
)
def test_corpus_ptbs_are_reported(
    captures_dir: Path, name: str, mtu: int, valid: bool | None, problem: str | None
) -> None:
    """MANIFEST: report PTB MTU=1280; flag MTU 1200 < 1280 as invalid; flag icmp34 implausible."""
    from pathsleuth.pipeline import analyze_paths

    doc = analyze_document(analyze_paths([str(captures_dir / name)]))
    (ptb,) = [e for e in doc["icmp"] if e["kind"] == "ptb"]
    assert ptb["mtu"] == mtu
    if valid is not None:
        assert ptb["valid"] is valid
    if problem:
        assert problem in " ".join(ptb["problems"])
