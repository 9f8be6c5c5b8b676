"""Advice: ranked, exact commands, persistence, trade-offs."""

from __future__ import annotations

import re

import pytest

from pathsleuth.diagnose.advice import (
    IPV4_MIN_MSS,
    IPV6_MIN_MSS,
    advice_for,
    advised_mtu,
    valid_announced_mtu,
)
from pathsleuth.diagnose.model import Advice, Direction, PathMtu, Verdict


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


def _by_id(adv: list[Advice]) -> dict[str, Advice]:
    return {a.id: a for a in adv}


def _numbers_after(text: str, word: str) -> list[int]:
    return [int(m) for m in re.findall(rf"{word} (\d+)", text)]


def test_weak_bound_uses_conservative_rung_and_says_measure() -> None:
    # the lab black hole: a 50-byte SMTP command (102-byte packet) was the largest acked
    adv = _by_id(
        advice_for(
            Verdict.PMTU_BLACKHOLE,
            peer="198.18.2.2",
            direction=Direction.OUTBOUND,
            v6=False,
            bounds=PathMtu(low=102, high=1500),
            port=25,
        )
    )
    clamp = "\n".join(adv["mss-clamp"].commands)
    assert "--set-mss 1360" in clamp and "maxseg size set 1360" in clamp
    assert "maxseg size set rt mtu" in clamp
    assert "pathsleuth probe 198.18.2.2 --port 25" in clamp
    assert "mtu lock 1400" in "\n".join(adv["route-mtu-lock"].commands)
    assert "62" not in adv["mss-clamp"].title
    why = adv["mss-clamp"].tradeoffs
    assert "102" in why and "1492 PPPoE" in why and "1280" in why
    # persistence is concrete for routes: networkd, ifupdown, NetworkManager
    persist = "\n".join(adv["route-mtu-lock"].persist)
    assert "MTUBytes=1400" in persist and "/etc/network/interfaces" in persist
    assert "lock-mtu=true" in persist


@pytest.mark.parametrize(
    ("v6", "bounds", "mtu", "mss"),
    [
        (False, PathMtu(low=None, high=600), 576, 536),  # nothing sane below: RFC 9293 floor
        (False, PathMtu(low=1450, high=1500), 1450, 1410),  # tight: use what passed
        (False, PathMtu(low=1420, high=1500), 1420, 1380),
        (False, PathMtu(low=None, high=1400), 1280, 1240),  # next rung below the lost size
        (True, PathMtu(low=80, high=1500), 1400, 1340),
        (True, PathMtu(low=None, high=1300), 1280, 1220),  # IPv6 floor
        (False, None, 1400, 1360),
    ],
)
def test_advised_mtu_never_below_floor(
    v6: bool, bounds: PathMtu | None, mtu: int, mss: int
) -> None:
    choice = advised_mtu(v6=v6, bounds=bounds)
    assert (choice.mtu, choice.mss) == (mtu, mss)
    adv = _by_id(
        advice_for(
            Verdict.PMTU_BLACKHOLE,
            peer="2001:db8::1" if v6 else "192.0.2.1",
            direction=Direction.INBOUND,
            v6=v6,
            bounds=bounds,
        )
    )
    floor = IPV6_MIN_MSS if v6 else IPV4_MIN_MSS
    for a in adv.values():
        text = " ".join(a.commands)
        for n in _numbers_after(text, "set-mss") + _numbers_after(text, "advmss"):
            assert n >= floor


@pytest.mark.parametrize(
    ("v6", "announced", "mtu", "measured"),
    [
        (True, 1280, 1280, True),  # icmp6-toobig: use the PTB's MTU
        (False, 1300, 1300, True),
        (True, 1200, 1280, False),  # below the IPv6 minimum: invalid, not used
        (False, 40, 576, False),  # below RFC 791's 68: invalid
    ],
)
def test_announced_mtu_used_only_when_valid(
    v6: bool, announced: int, mtu: int, measured: bool
) -> None:
    choice = advised_mtu(v6=v6, bounds=PathMtu(low=None, high=announced), announced=announced)
    assert choice.mtu == mtu
    assert choice.measured is measured
    assert valid_announced_mtu(announced, v6) is measured


def test_ptb_ignored_uses_announced_mtu_and_no_probe() -> None:
    adv = _by_id(
        advice_for(
            Verdict.PTB_IGNORED,
            peer="2001:db8::1",
            direction=Direction.OUTBOUND,
            v6=True,
            bounds=PathMtu(low=1280, high=1280),
        )
    )
    clamp = "\n".join(adv["mss-clamp"].commands)
    assert "--set-mss 1220" in clamp and "ip6 saddr 2001:db8::1" in clamp
    assert "ip6tables" in clamp
    assert "pathsleuth probe" not in clamp
    assert "ip_no_pmtu_disc=2" in adv["check-pmtu-settings"].tradeoffs


def test_no_pmtu_disc_explains_modes_and_costs() -> None:
    adv = _by_id(
        advice_for(Verdict.PMTU_BLACKHOLE, peer="192.0.2.1", direction=Direction.OUTBOUND, v6=False)
    )
    t = adv["no-pmtu-disc"].tradeoffs
    for word in ("without DF", "fragment", "IP ID", "min_pmtu", "mode 2", "mode 3", "IPv4 only"):
        assert word in t
    assert "/etc/sysctl.d/" in adv["no-pmtu-disc"].persist[0]
    # separate sysctl.d files: applying one item must not overwrite another's
    assert adv["no-pmtu-disc"].persist[0] != adv["tcp-mtu-probing"].persist[0]
    assert all(a.persist for a in adv.values())
