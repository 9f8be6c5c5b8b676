"""Advice: ranked, exact commands, persistence, trade-offs."""

from __future__ import annotations

from pathsleuth.diagnose.advice import advice_for
from pathsleuth.diagnose.model import Direction, Verdict


def test_blackhole_outbound_v4_ranked_with_commands() -> None:
    adv = advice_for(
        Verdict.PMTU_BLACKHOLE,
        peer="203.0.113.5",
        direction=Direction.OUTBOUND,
        v6=False,
        path_mtu=1400,
    )
    assert [a.rank for a in adv] == [1, 2, 3, 4, 5]
    ids = [a.id for a in adv]
    assert ids == [
        "allow-icmp-ptb",
        "mss-clamp",
        "tcp-mtu-probing",
        "route-mtu-lock",
        "no-pmtu-disc",
    ]
    cmds = {a.id: "\n".join(a.commands) for a in adv}
    assert (
        "icmp type destination-unreachable icmp code frag-needed accept" in cmds["allow-icmp-ptb"]
    )
    assert "--icmp-type fragmentation-needed" in cmds["allow-icmp-ptb"]
    assert "tcp option maxseg size set rt mtu" in cmds["mss-clamp"]
    assert "TCPMSS --set-mss 1360" in cmds["mss-clamp"]
    assert "net.ipv4.tcp_mtu_probing=1" in cmds["tcp-mtu-probing"]
    assert "tcp_base_mss" in cmds["tcp-mtu-probing"]
    assert "mtu lock 1400" in cmds["route-mtu-lock"]
    assert "net.ipv4.ip_no_pmtu_disc=1" in cmds["no-pmtu-disc"]
    assert all(a.persist for a in adv)
    assert "fragment" in adv[-1].tradeoffs and "IPv6" in adv[-1].tradeoffs


def test_blackhole_v6_has_no_ip_no_pmtu_disc() -> None:
    adv = advice_for(
        Verdict.PMTU_BLACKHOLE, peer="2001:db8::1", direction=Direction.OUTBOUND, v6=True
    )
    assert "no-pmtu-disc" not in [a.id for a in adv]
    assert "ip -6 route" in "\n".join(adv[3].commands)


def test_every_verdict_has_advice() -> None:
    for v in Verdict:
        if v == Verdict.PMTUD_WORKING:
            continue
        assert advice_for(v, peer="192.0.2.1", direction=Direction.INBOUND, v6=False)
