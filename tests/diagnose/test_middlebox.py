"""Forged RSTs and content-triggered drops."""

from __future__ import annotations

from pathlib import Path

from diagnose import scenarios as S
from diagnose.crafted import Trace
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


def _closed_then_data(tr: Trace) -> None:
    """A short healthy SMTP session: the client sends QUIT and closes; the server's 221
    arrives after the client's FIN, so the client's kernel answers it with a RST."""
    tr.handshake()
    tr.seg("s", 0.01, 0, 0, 40, flags="PA")
    tr.seg("c", 0.011, 0, 40, 20, flags="PA")
    tr.seg("s", 0.012, 40, 20, 60, flags="PA")
    tr.seg("c", 0.013, 20, 100, 1448)
    tr.seg("c", 0.0131, 1468, 100, 1448, flags="PA")
    tr.seg("s", 0.014, 100, 2916)
    tr.seg("c", 0.015, 2916, 100, 6, flags="PA")  # QUIT
    tr.seg("c", 0.0151, 2922, 100, flags="FA")


def test_linux_rst_for_a_closed_socket_is_not_forged(tmp_path: Path) -> None:
    """Regression (every lab run that ends with the client's RST): Linux sends the RST for
    a closed socket from its control socket, IP-ID 0 with DF, not from the connection's
    running IP-ID; an atomic datagram's ID means nothing (RFC 6864 section 4.1)."""
    tr = Trace()
    _closed_then_data(tr)
    tr.seg("s", 0.016, 100, 2923, 9, flags="PA")  # 221 Bye
    tr.seg("c", 0.0161, 2923, 0, flags="R", ip_id=0, df=True)
    assert tr.analyze(tmp_path / "rst.pcap").findings == []


def test_ip_id_zero_without_df_still_counts(tmp_path: Path) -> None:
    """Without DF the ID is a fragment ID and a host does not leave it at 0 out of its
    running sequence: such a RST is still evidence."""
    tr = Trace()
    _closed_then_data(tr)
    tr.seg("s", 0.016, 100, 2923, 9, flags="PA")
    tr.seg("c", 0.0161, 2923, 0, flags="R", ip_id=0, df=False)
    f = only(tr.analyze(tmp_path / "rst.pcap"), Verdict.MIDDLEBOX_RESET)
    assert "IP-ID 0x0000 far from its running IP-ID 0x1207" in text(f)


def test_netfilter_reject_rst_caught_by_ttl_not_ip_id(tmp_path: Path) -> None:
    """The lab's rst-middlebox: iptables REJECT --reject-with tcp-reset on the first router
    answers the message content with IP-ID 0, DF, TTL 64; the server is 2 hops away."""
    tr = Trace()
    tr.handshake()
    tr.seg("s", 0.01, 0, 0, 40, flags="PA")
    tr.seg("c", 0.011, 0, 40, 50, flags="PA")
    tr.seg("s", 0.012, 40, 50, 37, flags="PA")  # 354
    tr.seg("c", 0.013, 50, 77, 1448)
    rst = tr.seg("s", 0.0131, 77, 50, flags="R", ip_id=0, ttl=64)
    f = only(tr.analyze(tmp_path / "reject.pcap"), Verdict.MIDDLEBOX_RESET)
    ev = text(f)
    assert f"frame {rst}: RST claiming to come from 198.18.2.2, but TTL 64" in ev
    assert "IP-ID" not in ev
    assert f.flow.src == "198.18.0.1"
