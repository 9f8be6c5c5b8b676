"""Forged RSTs and content-triggered drops."""

from __future__ import annotations

from diagnose import scenarios as S
from diagnose.helpers import only, run, text
from pathsleuth.diagnose.model import Severity, Verdict
from tcp.tables import Conv


def test_injected_rst_ttl_and_ipid_mismatch() -> None:
    t, _n = S.injected_rst()
    f = only(run(t), Verdict.MIDDLEBOX_RESET)
    assert f.severity == Severity.ERROR and f.confidence >= 0.9
    ev = text(f)
    assert "RST claiming to come from 203.106.231.124" in ev
    assert "TTL 250" in ev and "TTL 54" in ev and "IP-ID 0xb503" in ev
    assert "own packets: ≈ 10 hops from the capture point (TTL 54)" in ev
    # the finding is about the victim's direction
    assert f.flow.src == "192.168.1.254"


def test_genuine_rst_is_not_forged() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    c.send("c", 0.2, 100)
    c.ack("s", 0.3)
    c.rst("s", 0.4)
    assert run(c.table()).findings == []


def test_ips_drop_after_full_size_passed() -> None:
    t, n = S.ips_drop()
    f = only(run(t), Verdict.MIDDLEBOX_DROP)
    ev = text(f)
    assert "a 1448-byte segment passed and was acknowledged" in ev
    assert f"seq {n['stuck']['seq']}" in ev
    assert "not the cause" in ev
    assert f.advice[0].id == "inspect-middlebox"
