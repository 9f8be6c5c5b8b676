"""fix-check's parsers and judgement on outputs recorded in the lab's namespaces.

The files under data/ were captured from `lab/scenarios.py` setups (see each test): `ip -j
route get` and its text form, `ip -j link`, `nft -j list ruleset`, `iptables-save`,
`ip6tables-save` and `sysctl` output, as the tools print them on Debian 12
(iproute2 6.1, nftables 1.0.6, iptables-nft 1.8.9).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathsleuth.errors import BadInput
from pathsleuth.probe.fixcheck import (
    FixCheck,
    FixStatus,
    HostState,
    RuleKind,
    check_fixes,
    parse_iptables_save,
    parse_links,
    parse_nft_ruleset,
    parse_route,
    parse_sysctl_output,
)
from pathsleuth.probe.hostinfo import read_sysctls

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


DEFAULT_SYSCTLS = {
    "net.ipv4.ip_no_pmtu_disc": "0",
    "net.ipv4.tcp_mtu_probing": "0",
    "net.ipv4.tcp_base_mss": "1024",
}


def status(fc: FixCheck, fix_id: str) -> FixStatus:
    return {f.id: f.status for f in fc.fixes}[fix_id]


def test_route_mtu_lock_v4_and_v6() -> None:
    r4 = parse_route(read("fix-route-mtu.route-get4.json"), read("fix-route-mtu.route-get4.txt"))
    assert (r4.dst, r4.dev, r4.gateway, r4.mtu, r4.mtu_locked, r4.learned) == (
        "198.18.2.2", "eth0", "198.18.0.2", 1400, True, False,
    )  # fmt: skip
    r6 = parse_route(read("fix-route-mtu.route-get6.json"), read("fix-route-mtu.route-get6.txt"))
    assert r6.mtu == 1400 and r6.mtu_locked and r6.gateway == "2001:db8::2"
    # the JSON alone cannot show the lock (iproute2 drops it)
    assert not parse_route(read("fix-route-mtu.route-get4.json")).mtu_locked


def test_learned_pmtu_is_not_a_configured_route_mtu() -> None:
    j = '[{"dst":"198.18.2.2","gateway":"198.18.0.2","dev":"eth0","flags":[],"cache":[]}]'
    t = "198.18.2.2 via 198.18.0.2 dev eth0 src 198.18.0.1 uid 0\n    cache expires 598sec mtu 1400\n"
    r = parse_route(j, t)
    assert r.mtu == 1400 and r.learned and not r.mtu_locked
    state = HostState(
        sysctls=DEFAULT_SYSCTLS,
        route_json=j,
        route_text=t,
        links_json=read("fix-route-mtu.link.json"),
    )
    fc = check_fixes(state, dest="198.18.2.2")
    assert status(fc, "route-mtu-lock") is FixStatus.MISSING
    assert "cached path MTU 1400" in {f.id: f.detail for f in fc.fixes}["route-mtu-lock"]


def test_links() -> None:
    assert parse_links(read("fix-route-mtu.link.json")) == {"lo": 65536, "eth0": 1500}


def test_bad_json_is_bad_input() -> None:
    with pytest.raises(BadInput, match="not JSON"):
        parse_links("{nope")
    with pytest.raises(BadInput):
        parse_route("[]")


def test_nft_blackhole_router_rules() -> None:
    hits = parse_nft_ruleset(read("fix-mss-clamp.r1.nft.json"))
    kinds = sorted((h.kind, h.hook, h.family) for h in hits if h.kind is RuleKind.DROPS_PTB)
    assert kinds == [
        (RuleKind.DROPS_PTB, "forward", 4),
        (RuleKind.DROPS_PTB, "forward", 6),
        (RuleKind.DROPS_PTB, "output", 4),
        (RuleKind.DROPS_PTB, "output", 6),
    ]
    (clamp,) = [h for h in hits if h.kind is RuleKind.MSS_CLAMP]
    assert clamp.mss is None and "rt mtu" in clamp.rule and clamp.hook == "forward"
    drop = next(h for h in hits if h.kind is RuleKind.DROPS_PTB)
    assert (
        drop.delete.startswith("nft delete rule inet pathsleuth_blackhole ")
        and "handle" in drop.delete
    )
    assert "frag-needed" in drop.rule


def test_nft_host_firewall_drops_inbound_ptb() -> None:
    hits = parse_nft_ruleset(read("ptb-ignored.nft.json"))
    assert {(h.kind, h.hook, h.family) for h in hits} == {
        (RuleKind.DROPS_PTB, "input", 4),
        (RuleKind.DROPS_PTB, "input", 6),
    }


def test_iptables_save_rules() -> None:
    hits4, tables4 = parse_iptables_save(read("iptables.client.save.txt"), 4)
    assert tables4 == {"filter", "mangle"}
    got = sorted((h.kind, h.chain, h.mss) for h in hits4)
    assert got == [
        (RuleKind.DROPS_ALL_ICMP, "OUTPUT", None),
        (RuleKind.DROPS_PTB, "INPUT", None),
        (RuleKind.MSS_CLAMP, "FORWARD", None),
        (RuleKind.MSS_CLAMP, "POSTROUTING", 1360),
    ]
    assert all(h.delete.startswith("iptables -t ") and " -D " in h.delete for h in hits4)
    hits6, _ = parse_iptables_save(read("ip6tables.client.save.txt"), 6)
    assert [(h.kind, h.chain) for h in hits6] == [(RuleKind.DROPS_PTB, "INPUT")]


def test_iptables_nft_tables_are_not_counted_twice() -> None:
    fc_state = HostState(
        sysctls=DEFAULT_SYSCTLS,
        nft_json=read("iptables.client.nft.json"),
        iptables_save=read("iptables.client.save.txt"),
        ip6tables_save=read("ip6tables.client.save.txt"),
    )
    fc = check_fixes(fc_state)
    assert all(r.source != "nftables" for r in fc.rules)
    assert len(fc.rules) == 5
    # without iptables-save, nft's view of the same rules still finds the all-ICMP drop
    alone = parse_nft_ruleset(read("iptables.client.nft.json"))
    assert any(h.kind is RuleKind.DROPS_ALL_ICMP and h.chain == "OUTPUT" for h in alone)


def test_nothing_in_place_gives_ranked_advice() -> None:
    state = HostState(
        sysctls=DEFAULT_SYSCTLS,
        route_json='[{"dst":"198.18.2.2","gateway":"198.18.0.2","dev":"eth0","flags":[]}]',
        route_text="198.18.2.2 via 198.18.0.2 dev eth0 src 198.18.0.1 uid 0\n",
        links_json=read("fix-route-mtu.link.json"),
        nft_json='{"nftables": [{"metainfo": {"version": "1.0.6"}}]}',
    )
    fc = check_fixes(state, dest="198.18.2.2", path_mtu=1400)
    assert not fc.protected
    assert [a.id for a in fc.advice] == [
        "tcp-mtu-probing",
        "route-mtu-lock",
        "mss-clamp",
        "no-pmtu-disc",
    ]
    assert [a.rank for a in fc.advice] == [1, 2, 3, 4]
    route = fc.advice[1]
    assert route.commands == [
        "ip route replace 198.18.2.2/32 via 198.18.0.2 dev eth0 mtu lock 1400"
    ]
    assert any("MTUBytes=1400" in p for p in route.persist)
    assert "tcp option maxseg size set 1360" in " ".join(fc.advice[2].commands)
    assert any("sysctl.d" in p for p in fc.advice[0].persist)
    assert fc.problems == ()


@pytest.mark.parametrize(
    ("sysctl_file", "fix_id"),
    [
        ("fix-mtu-probing.sysctl.txt", "tcp-mtu-probing"),
        ("fix-no-pmtu-disc.sysctl.txt", "no-pmtu-disc"),
    ],
)
def test_sysctl_fixes(sysctl_file: str, fix_id: str) -> None:
    sysctls = parse_sysctl_output(read(sysctl_file))
    fc = check_fixes(HostState(sysctls=sysctls), path_mtu=1400)
    assert status(fc, fix_id) is FixStatus.IN_PLACE
    assert fc.protected and fc.advice == ()


def test_route_fix_recognised() -> None:
    state = HostState(
        sysctls=DEFAULT_SYSCTLS,
        route_json=read("fix-route-mtu.route-get4.json"),
        route_text=read("fix-route-mtu.route-get4.txt"),
        links_json=read("fix-route-mtu.link.json"),
    )
    fc = check_fixes(state, dest="198.18.2.2")
    assert status(fc, "route-mtu-lock") is FixStatus.IN_PLACE and fc.protected
    assert fc.interface_mtu == 1500


def test_ptb_drop_is_a_problem_even_when_protected() -> None:
    state = HostState(
        sysctls=parse_sysctl_output(read("fix-mtu-probing.sysctl.txt")),
        nft_json=read("ptb-ignored.nft.json"),
    )
    fc = check_fixes(state, path_mtu=1400)
    assert status(fc, "allow-icmp-ptb") is FixStatus.PROBLEM
    assert fc.protected and [a.id for a in fc.advice] == ["allow-icmp-ptb"]
    assert any(
        c.startswith("nft delete rule inet pathsleuth_hostfw input handle")
        for c in fc.advice[0].commands
    )


def test_ipv6_destination_uses_v6_rules_only() -> None:
    state = HostState(sysctls=DEFAULT_SYSCTLS, iptables_save=read("iptables.client.save.txt"))
    fc = check_fixes(state, dest="2001:db8:0:2::2", path_mtu=1280)
    assert fc.family == 6 and status(fc, "allow-icmp-ptb") is FixStatus.IN_PLACE
    assert status(fc, "no-pmtu-disc") is FixStatus.NOT_APPLICABLE


def test_policy_drop_without_related() -> None:
    ruleset = """{"nftables": [
      {"table": {"family": "inet", "name": "fw", "handle": 1}},
      {"chain": {"family": "inet", "table": "fw", "name": "in", "handle": 1, "type": "filter",
                 "hook": "input", "prio": 0, "policy": "drop"}},
      {"rule": {"family": "inet", "table": "fw", "chain": "in", "handle": 2, "expr": [
         {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
         {"accept": null}]}}]}"""
    (hit,) = parse_nft_ruleset(ruleset)
    assert hit.kind is RuleKind.POLICY_DROP
    ok = ruleset.replace(
        '"right": 22}}',
        '"right": 22}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "fw", "chain": "in", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}',
    )
    assert parse_nft_ruleset(ok) == []


def test_read_sysctls_from_proc(tmp_path: Path) -> None:
    (tmp_path / "net/ipv4").mkdir(parents=True)
    (tmp_path / "net/ipv4/tcp_mtu_probing").write_text("2\n")
    assert read_sysctls(tmp_path) == {"net.ipv4.tcp_mtu_probing": "2"}
    assert "net.ipv4.tcp_base_mss" in read_sysctls()


# ---- property tests: any shape of input gives an answer or BadInput, never a crash ----------


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.sampled_from(
        ["drop", "accept", "icmp", "icmpv6", "type", "code", "frag-needed", "packet-too-big",
         "destination-unreachable", "input", "forward", "maxseg", "size", "related", "payload",
         "match", "meta", "l4proto", "mangle", "tcp option", "set", "policy", "hook", "rt", "==", "in"]
    ),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["nftables", "rule", "chain", "expr", "match", "left", "right", "op",
                         "payload", "protocol", "field", "meta", "key", "mangle", "value",
                         "tcp option", "name", "drop", "accept", "policy", "hook", "family",
                         "table", "handle", "set", "xt", "counter"]),
        kids, max_size=5),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_json)
def test_nft_parser_survives_any_json(doc: object) -> None:
    text = json.dumps(doc)
    for wrapped in (text, json.dumps({"nftables": doc}), json.dumps({"nftables": [doc]})):
        try:
            hits = parse_nft_ruleset(wrapped)
        except BadInput:
            continue
        assert all(h.source == "nftables" for h in hits)
        check_fixes(HostState(nft_json=wrapped), path_mtu=1400)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["*filter", "*mangle", "-A INPUT", "-A", "-p icmp", "-p ipv6-icmp", "--icmp-type 3/4",
     "--icmpv6-type 2", "-j DROP", "-j TCPMSS", "--set-mss", "1360", "²", "!", "'", "COMMIT", "\n"]),
    max_size=30))  # fmt: skip
def test_iptables_save_parser_survives_any_text(words: list[str]) -> None:
    text = " ".join(words)
    for fam in (4, 6):
        hits, _ = parse_iptables_save(text, fam)
        assert all(h.family == fam for h in hits)


@settings(max_examples=200, deadline=None)
@given(_json, st.text(max_size=80))
def test_route_and_links_parsers(doc: object, text: str) -> None:
    for parse in (lambda t: parse_route(t, text), parse_links):
        with contextlib.suppress(BadInput):
            parse(json.dumps(doc))


def test_blackhole_advice_for_probe_findings() -> None:
    from pathsleuth.probe.fixcheck import blackhole_advice

    adv = blackhole_advice("198.18.2.2", 1400, 4, router="198.18.0.2")
    assert [a.id for a in adv] == [
        "allow-icmp-ptb",
        "mss-clamp",
        "tcp-mtu-probing",
        "route-mtu-lock",
    ]
    assert [a.rank for a in adv] == [1, 2, 3, 4]
    assert "198.18.0.2" in adv[0].title and "frag-needed" in adv[0].commands[0]
    assert any("maxseg size set 1360" in c and "oifname" not in c for c in adv[1].commands)
    assert "fix-check --dest 198.18.2.2 --mtu 1400" in adv[3].commands[0]
    adv6 = blackhole_advice("2001:db8::2", 1280, 6)
    assert "packet-too-big" in adv6[0].commands[0]
    assert any("maxseg size set 1220" in c for c in adv6[1].commands)
