"""Text and JSON rendering of probe and fix-check results."""

from __future__ import annotations

import dataclasses
import json

from pathsleuth.diagnose.model import Severity, Verdict
from pathsleuth.probe.fixcheck import HostState, check_fixes
from pathsleuth.probe.planner import BlackHole, Hop, MtuDrop, PathTrace, StopReason
from pathsleuth.probe.run import DestinationResult, ProbeRun, trace_findings
from pathsleuth.probe.smtp import Attempt, SmtpProbe, classify
from pathsleuth.probe.targets import Destination
from pathsleuth.report.probe import (
    PROBE_SCHEMA_VERSION,
    _trace_text,
    fixcheck_json,
    fixcheck_text,
    probe_has_error,
    probe_json,
    probe_text,
)


def blackhole_trace() -> PathTrace:
    return PathTrace(
        target="198.18.2.2",
        family=4,
        first_mtu=1500,
        hops=(
            Hop(ttl=1, address="198.18.0.2", rtts_ms=(0.42,), mtu=1500),
            Hop(ttl=2, address="198.18.1.2", rtts_ms=(0.7, 0.2), mtu=1400, lost_sizes=(1500, 1401)),
            Hop(ttl=3, address=None),
            Hop(ttl=4, address="198.18.2.2", rtts_ms=(0.3,), mtu=1400, destination=True),
        ),
        drops=(MtuDrop(after_ttl=1, router="198.18.0.2", mtu=1400, announced=False),),
        blackhole=BlackHole(
            after_ttl=1, router="198.18.0.2", next_hop="198.18.1.2", mtu_low=1400, mtu_high=1401
        ),
        path_mtu=1400,
        path_mtu_high=1401,
        reached=True,
        stop=StopReason.REACHED,
        probes_sent=14,
    )


def smtp_blackhole() -> SmtpProbe:
    base = dict(
        local="198.18.0.1",
        lport=40000,
        ehlo_ok=True,
        burst_bytes=14500,
        pmtu_start=1500,
        pmtu_end=1500,
    )
    atts = [
        Attempt(mss_set=None, acked=False, stalled_s=10.0, packet_size=1500, snd_mss_start=1448, snd_mss_end=1448, peer_mss=1460, retransmits=6, **base),  # type: ignore[arg-type]
        Attempt(mss_set=1360, acked=True, packet_size=1400, snd_mss_start=1348, snd_mss_end=1348, peer_mss=1360, **base),  # type: ignore[arg-type]
    ]  # fmt: skip
    finding, mtu, clamped, notes = classify(
        atts, address="198.18.2.2", port=25, family=4, target="mx.example"
    )
    return SmtpProbe(
        address="198.18.2.2", port=25, family=4, attempts=tuple(atts),
        finding=finding, path_mtu=mtu, mss_clamped=clamped, notes=tuple(notes),
    )  # fmt: skip


def run() -> ProbeRun:
    trace = blackhole_trace()
    smtp = smtp_blackhole()
    assert smtp.finding is not None
    findings = (smtp.finding, *trace_findings(trace, port=25))
    dest = Destination(address="198.18.2.2", family=4, host="mx.example", preference=10)
    return ProbeRun(
        target="example",
        port=25,
        results=(DestinationResult(destination=dest, trace=trace, smtp=smtp, findings=findings),),
    )


def test_trace_findings_vocabulary() -> None:
    (f,) = trace_findings(blackhole_trace(), port=25)
    assert f.verdict is Verdict.PMTU_BLACKHOLE and f.severity is Severity.ERROR
    assert f.path_mtu is not None and (f.path_mtu.low, f.path_mtu.high) == (1400, 1401)
    assert "198.18.0.2" in f.summary and f.recovered is False
    assert any("no answer" in e.text for e in f.evidence)


def test_probe_json_contract() -> None:
    doc = json.loads(probe_json(run()))
    assert doc["schema_version"] == PROBE_SCHEMA_VERSION and doc["command"] == "probe"
    (d,) = doc["destinations"]
    assert d["host"] == "mx.example" and d["mx_preference"] == 10 and d["family"] == 4
    assert d["trace"]["blackhole"]["router"] == "198.18.0.2"
    assert d["trace"]["hops"][2] == {
        "ttl": 3, "address": None, "rtts_ms": [], "mtu": None, "destination": False,
        "unreachable": "", "lost_sizes": [],
    }  # fmt: skip
    assert d["trace"]["stop"] == "reached"
    assert [f["verdict"] for f in d["findings"]] == ["pmtu_blackhole", "pmtu_blackhole"]
    assert d["findings"][0]["path_mtu"] == {"low": 1400, "high": 1500}
    assert d["smtp"]["attempts"][1]["passed"] is True
    assert set(d["findings"][0]) >= {"verdict", "severity", "summary", "flow", "evidence", "advice"}


def test_probe_text() -> None:
    text = probe_text(run())
    assert "probe mx.example (198.18.2.2) IPv4, MX preference 10" in text
    assert "BLACK HOLE after hop 1 (198.18.0.2)" in text
    assert "MTU drops to 1400 on the next link, NOT announced" in text
    assert "NOT acknowledged (10.0 s)" in text
    assert "  3  *" in text
    assert "[error] pmtu_blackhole" in text
    assert "fix 1. have the router 198.18.0.2 send" in text
    assert "$ pathsleuth fix-check --dest 198.18.2.2 --mtu 1400" in text
    assert probe_has_error(run())


def test_probe_text_clean_and_error_lines() -> None:
    dest = Destination(address="192.0.2.1", family=4, host="192.0.2.1")
    r = ProbeRun(
        target="192.0.2.1",
        port=25,
        results=(DestinationResult(destination=dest, errors=("hop trace: no route",)),),
    )
    text = probe_text(r)
    assert "error: hop trace: no route" in text and not probe_has_error(r)
    ok = ProbeRun(target="x", port=25, results=(DestinationResult(destination=dest),))
    assert "no path-MTU problem found" in probe_text(ok)


def test_fixcheck_renderings() -> None:
    state = HostState(
        sysctls={"net.ipv4.tcp_mtu_probing": "0", "net.ipv4.ip_no_pmtu_disc": "0"},
        route_json='[{"dst":"198.18.2.2","gateway":"198.18.0.2","dev":"eth0","flags":[]}]',
        route_text="198.18.2.2 via 198.18.0.2 dev eth0\n",
        links_json='[{"ifname":"eth0","mtu":1500}]',
    )
    fc = check_fixes(state, dest="198.18.2.2", path_mtu=1400)
    doc = json.loads(fixcheck_json(fc))
    assert doc["command"] == "fix-check" and doc["protected"] is False
    assert {f["id"]: f["status"] for f in doc["fixes"]}["tcp-mtu-probing"] == "missing"
    assert doc["advice"][0]["commands"][0] == "sysctl -w net.ipv4.tcp_mtu_probing=1"
    assert doc["route"]["gateway"] == "198.18.0.2"
    text = fixcheck_text(fc)
    assert "NOT protected" in text
    assert "$ ip route replace 198.18.2.2/32 via 198.18.0.2 dev eth0 mtu lock 1400" in text
    assert "MTUBytes=1400" in text


def test_tcp_traces_say_what_they_measure() -> None:
    """A raw (root) TCP trace is sized like UDP; a connect() TCP trace has no MTU at all,
    and the text says so instead of printing empty sizes."""
    sized = dataclasses.replace(blackhole_trace(), method="tcp")
    text = "\n".join(_trace_text(sized))
    assert "hop trace (TCP SYN with payload, DF, first probe 1500 bytes)" in text
    assert "path MTU 1400 (1401 does not pass)" in text
    hops = (
        Hop(ttl=1, address="198.18.0.2", rtts_ms=(0.2,)),
        Hop(ttl=2, address=None),
        Hop(ttl=3, address="198.18.2.2", rtts_ms=(0.5,), destination=True),
    )
    bare = PathTrace(
        target="198.18.2.2", family=4, first_mtu=None, hops=hops, drops=(), blackhole=None,
        path_mtu=None, path_mtu_high=None, reached=True, stop=StopReason.REACHED,
        probes_sent=5, mtu_measured=False, method="tcp", source="198.18.0.1",
    )  # fmt: skip
    text = "\n".join(_trace_text(bare))
    assert "hops only: a SYN has no payload, the MTU is not measured" in text
    assert "None" not in text and "pmtu" not in text
    assert "path MTU not measured; target reached; 5 probes" in text
    assert trace_findings(bare, port=25) == []
    doc = json.loads(
        probe_json(
            ProbeRun(
                target="198.18.2.2",
                port=25,
                results=(
                    DestinationResult(
                        destination=Destination(address="198.18.2.2", family=4, host="mx"),
                        trace=bare,
                    ),
                ),
            )
        )
    )
    t = doc["destinations"][0]["trace"]
    assert t["mtu_measured"] is False and t["path_mtu"] is None and t["first_mtu"] is None
    assert t["source"] == "198.18.0.1" and [h["mtu"] for h in t["hops"]] == [None] * 3


def test_trace_finding_flow_names_this_host() -> None:
    (f,) = trace_findings(dataclasses.replace(blackhole_trace(), source="198.18.0.1"), port=25)
    assert (f.flow.src, f.flow.dst, f.flow.dport) == ("198.18.0.1", "198.18.2.2", 25)
    (f,) = trace_findings(blackhole_trace(), port=25)
    assert f.flow.src == "0.0.0.0"  # no route known: the unspecified address, not ""
