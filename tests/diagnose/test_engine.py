"""The registry and analyze_table's result."""

from __future__ import annotations

import pytest

from diagnose import scenarios as S
from diagnose.helpers import run
from pathsleuth.diagnose import AnalysisResult, merge_all
from pathsleuth.diagnose.model import Severity, Verdict
from pathsleuth.diagnose.registry import REGISTRY, detectors


def test_registry_covers_every_verdict_once_per_detector() -> None:
    dets = detectors()
    names = [d.name for d in dets]
    assert len(names) == len(set(names)) == len(REGISTRY)
    covered = {v for d in dets for v in d.verdicts}
    assert covered == set(Verdict)
    assert [d.priority for d in dets] == sorted(d.priority for d in dets)


def test_result_shape_and_merge() -> None:
    t1, _ = S.blackhole_at_sender()
    t2, _ = S.healthy()
    r1, r2 = run(t1), run(t2)
    assert r1.worst_severity == Severity.ERROR and r2.worst_severity is None
    m = merge_all([r1, r2])
    assert isinstance(m, AnalysisResult)
    assert len(m.connections) == 2 and len(m.findings) == 1
    d = m.findings[0].to_dict()
    assert d["verdict"] == "pmtu_blackhole" and d["recovered"] is False
    assert set(d["flow"]) == {"src", "sport", "dst", "dport"}
    assert all({"frame", "text"} <= set(e) for e in d["evidence"])
    c = m.connections[0].to_dict()
    assert {"id", "src", "sport", "dst", "dport", "history", "state", "directions"} <= set(c)


def test_several_connections_only_the_broken_one_has_a_finding() -> None:
    t1, _ = S.blackhole_at_sender()
    from tcp.tables import Conv

    good = []
    for i in range(20):
        c = Conv(cport=30000 + i, cisn=10_000 * i)
        c.handshake(i * 0.1, 0.05)
        c.send("c", i * 0.1 + 0.1, 1448)
        c.ack("s", i * 0.1 + 0.2)
        good.append(c)
    from pathsleuth.capture.table import concat

    t = concat([t1, good[0].table(*good[1:])])
    t.columns["frame"][:] = range(1, len(t) + 1)
    r = run(t)
    assert [f.verdict for f in r.findings] == [Verdict.PMTU_BLACKHOLE]
    assert len(r.connections) == 21


def test_result_renders_to_a_schema_valid_document() -> None:
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    from pathsleuth.report.analyze_json import analyze_document

    schema_file = Path(__file__).resolve().parents[2] / "src/pathsleuth/schema/analyze.schema.json"
    schema = json.loads(schema_file.read_text())
    for make in (S.blackhole_at_sender, S.pmtud_working, S.injected_rst, S.plain_loss):
        t, _ = make()
        jsonschema.validate(analyze_document(run(t)), schema)


def test_empty_and_icmp_only_tables() -> None:
    from tcp.tables import Conv, make_table

    r = run(make_table([]))
    assert (r.connections, r.findings, r.icmp) == ([], [], [])
    c = Conv()
    c.handshake(0.0)
    big = c.send("c", 0.1, 1448)
    c.rows = []  # keep only the ICMP error (the snabb captures: a PTB and no flow)
    c.ptb(0.2, big, 1240)
    r = run(c.table())
    assert r.connections == [] and r.findings == []
    (ev,) = r.icmp
    assert ev.mtu == 1240 and ev.conn == -1 and ev.valid_ptb
