"""The lab's scenario registry: each failure mode and each fix, with its ground truth.

A `Scenario` names a topology shape, the filters and sysctls that make the failure (or the
fix) happen in a `Topology`, the address family of the SMTP transfer, and what must come
out: the verdict `pathsleuth analyze` should give (`expected_verdict`, None = no finding),
whether that finding is an error, and whether the message gets delivered. `SCENARIOS` is
the explicit registry, in the order `lab list` shows it. This module configures kernels
only; `lab/runner.py` runs the transfer and the capture.

Every filter is a real kernel mechanism: nftables in the routers' and the client's
namespaces, iptables-nft ``-m string`` where a payload match is needed (nftables cannot
match strings), sysctls and route attributes on the client. Loss uses nftables ``numgen``
because this kernel has no ``sch_netem``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pathsleuth.diagnose.model import Verdict
from pathsleuth.lab.topology import FULL_MTU, Family, Topology, TopologySpec

#: text every lab message carries in its header; the RST middlebox fires on it, i.e. on
#: the first segment of message content after DATA
CONTENT_MARKER = "X-Pathsleuth-Lab:"
#: text placed in the middle of the message body; the IPS drops any segment carrying it
IPS_MARKER = "PATHSLEUTH-IPS-SIGNATURE-7f3a"
#: the `loss` scenario drops every LOSS_EVERY-th TCP packet r1 forwards, either way (7%).
#: Periodic, not random: 7% random loss left all 62 data segments of the message alone in
#: about one run in a hundred (seen in CI), so the run had no loss to find
LOSS_EVERY = 14
#: the kernel default tcp_base_mss (net/ipv4/tcp_ipv4.c TCP_BASE_MSS = 1024): MSS that
#: tcp_mtu_probing falls back to once it suspects a black hole
BASE_MSS = 1024
#: IPv4 + TCP header bytes without options (RFC 791, RFC 9293): MSS = MTU - 40
IPV4_TCP_HEADERS = 40

Setup = Callable[[Topology], None]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scenario:
    """One reproducible situation: how to build it and what must be observed."""

    name: str
    summary: str
    """one line for `lab list`"""
    spec: TopologySpec
    setup: Setup
    """installs the scenario's filters and settings in a built topology"""
    family: Family = 4
    """address family of the SMTP transfer"""
    expected_verdict: Verdict | None
    """the verdict analyze should give for the client capture; None = no finding"""
    expect_error_finding: bool
    """True when that verdict must come with severity error"""
    expect_delivery: bool
    """True when the message reaches the server"""
    fix_of: str | None = None
    """for a fix: the failing scenario it repairs (same path, same filters)"""
    ground_truth: str = ""
    """what the client-side capture must show, in words (tests check it)"""

    @property
    def is_fix(self) -> bool:
        return self.fix_of is not None


# ---- building blocks ------------------------------------------------------------------


def _small_link_router(topo: Topology) -> str:
    """The router that forwards client traffic onto the small link (it sends the ICMP)."""
    node = topo.small_link.left
    if node == "client":
        raise ValueError("PMTU scenarios need the small link behind a router (small_link >= 1)")
    return node


def drop_ptb_at_router(topo: Topology, *, ipv4: bool = True, ipv6: bool = True) -> None:
    """The black hole: the router on the small link never lets its ICMP 3/4 / PTB out."""
    rules = []
    if ipv4:
        rules.append("icmp type destination-unreachable icmp code frag-needed counter drop")
    if ipv6:
        rules.append("icmpv6 type packet-too-big counter drop")
    body = "\n".join(rules)
    # output: the router's own ICMP; forward: ICMP from routers further on (a firewall)
    topo.nft(
        _small_link_router(topo),
        "table inet pathsleuth_blackhole {\n"
        f" chain output {{ type filter hook output priority filter; policy accept;\n{body}\n }}\n"
        f" chain forward {{ type filter hook forward priority filter; policy accept;\n{body}\n }}\n"
        "}\n",
    )


def blackhole(topo: Topology) -> None:
    drop_ptb_at_router(topo)


def blackhole6(topo: Topology) -> None:
    drop_ptb_at_router(topo, ipv4=False, ipv6=True)


def nothing(topo: Topology) -> None:
    """PMTU discovery works: the path is left as built."""


def ptb_ignored(topo: Topology) -> None:
    """The client's own firewall drops the ICMP 3/4 / PTB that the router does send."""
    topo.nft(
        "client",
        "table inet pathsleuth_hostfw {\n"
        " chain input { type filter hook input priority filter; policy accept;\n"
        "  icmp type destination-unreachable icmp code frag-needed counter drop\n"
        "  icmpv6 type packet-too-big counter drop\n"
        " }\n"
        "}\n",
    )


def rst_middlebox(topo: Topology) -> None:
    """A UTM-like box on r1: the first segment of message content is answered with a RST."""
    # REJECT drops the matching segment and sends the client a RST as if from the server
    topo.iptables(
        "r1",
        ["-A", "FORWARD", "-p", "tcp", "--dport", "25", "-m", "string", "--algo", "bm",
         "--string", CONTENT_MARKER, "-j", "REJECT", "--reject-with", "tcp-reset"],
    )  # fmt: skip


def ips_drop(topo: Topology) -> None:
    """An IPS on r1 silently drops every segment carrying the signature, whatever its size."""
    topo.iptables(
        "r1",
        ["-A", "FORWARD", "-p", "tcp", "--dport", "25", "-m", "string", "--algo", "bm",
         "--string", IPS_MARKER, "-j", "DROP"],
    )  # fmt: skip


def random_loss(topo: Topology) -> None:
    """Loss on r1 in both directions, whatever the size: every `LOSS_EVERY`-th TCP packet
    (nftables numgen; no sch_netem here)."""
    topo.nft(
        "r1",
        "table inet pathsleuth_loss {\n"
        " chain forward { type filter hook forward priority filter; policy accept;\n"
        f"  meta l4proto tcp numgen inc mod {LOSS_EVERY} 0 counter drop\n"
        " }\n"
        "}\n",
    )


def fix_mss_clamp(topo: Topology) -> None:
    """Black hole + the routers on the small link clamp the MSS of SYNs to the route MTU."""
    blackhole(topo)
    link = topo.small_link
    for node in (link.left, link.right):
        if node in ("client", "server"):
            continue
        # each end clamps the SYN (or SYN-ACK) it forwards onto the small link, so both
        # directions' MSS fit: the nftables form of iptables --clamp-mss-to-pmtu
        topo.nft(
            node,
            "table inet pathsleuth_mss {\n"
            " chain forward { type filter hook forward priority mangle; policy accept;\n"
            "  tcp flags syn tcp option maxseg size set rt mtu\n"
            " }\n"
            "}\n",
        )


def fix_mtu_probing(topo: Topology) -> None:
    """Black hole + client RFC 4821 packetization-layer PMTUD after a black hole is suspected."""
    blackhole(topo)
    topo.sysctl("client", "net.ipv4.tcp_mtu_probing", "1")
    topo.sysctl("client", "net.ipv4.tcp_base_mss", str(BASE_MSS))


def fix_no_pmtu_disc(topo: Topology) -> None:
    """Black hole + the seed's fix: no DF bit, the router fragments."""
    blackhole(topo)
    topo.sysctl("client", "net.ipv4.ip_no_pmtu_disc", "1")


def fix_route_mtu(topo: Topology) -> None:
    """Black hole + a locked route MTU on the client (MSS and packet size fit the path)."""
    blackhole(topo)
    mtu = str(topo.small_link.mtu)
    gw = topo.link_addrs(0)
    topo.ip("client", ["route", "replace", "default", "via", gw.right4, "mtu", "lock", mtu])
    if topo.spec.ipv6:
        topo.ip("client", ["route", "replace", "::/0", "via", gw.right6, "mtu", "lock", mtu])


# ---- the registry ---------------------------------------------------------------------

_PMTU = TopologySpec(routers=2, small_mtu=1400, small_link=1)
_FULL = TopologySpec(routers=2, small_mtu=FULL_MTU, small_link=1)

_BLACKHOLE_TRUTH = (
    "full-size DF segments (IP length 1500) retransmitted with the same sequence number, "
    "no ICMP 3/4 (or ICMPv6 packet too big) arrives, the peer never ACKs them"
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="blackhole",
            summary="r1 drops its ICMP frag-needed / PTB for the 1400-byte r1–r2 link: mail stalls after DATA",
            spec=_PMTU,
            setup=blackhole,
            expected_verdict=Verdict.PMTU_BLACKHOLE,
            expect_error_finding=True,
            expect_delivery=False,
            ground_truth=_BLACKHOLE_TRUTH,
        ),
        Scenario(
            name="blackhole6",
            summary="the same black hole over IPv6: r1 drops ICMPv6 packet too big",
            spec=_PMTU,
            setup=blackhole6,
            family=6,
            expected_verdict=Verdict.PMTU_BLACKHOLE,
            expect_error_finding=True,
            expect_delivery=False,
            ground_truth=_BLACKHOLE_TRUTH.replace("IP length 1500", "IPv6 packet 1500"),
        ),
        Scenario(
            name="pmtud-ok",
            summary="a 1400-byte link and working PMTU discovery: ICMP 3/4 arrives, mail is delivered",
            spec=_PMTU,
            setup=nothing,
            expected_verdict=Verdict.PMTUD_WORKING,
            expect_error_finding=False,
            expect_delivery=True,
            ground_truth="ICMP 3/4 with next-hop MTU 1400, then segments of at most 1400 bytes",
        ),
        Scenario(
            name="ptb-ignored",
            summary="r1 sends ICMP 3/4 but the client's own firewall drops it: mail stalls",
            spec=_PMTU,
            setup=ptb_ignored,
            expected_verdict=Verdict.PTB_IGNORED,
            expect_error_finding=True,
            expect_delivery=False,
            ground_truth="ICMP 3/4 arrives (seen by the capture) yet full-size segments keep being retransmitted",
        ),
        Scenario(
            name="rst-middlebox",
            summary="a UTM on r1 answers the first message-content segment with a TCP RST",
            spec=_FULL,
            setup=rst_middlebox,
            expected_verdict=Verdict.MIDDLEBOX_RESET,
            expect_error_finding=True,
            expect_delivery=False,
            ground_truth="a RST arrives from the server's address right after the client starts the message content",
        ),
        Scenario(
            name="ips-drop",
            summary="an IPS on r1 silently drops the segment carrying a signature, whatever its size",
            spec=_FULL,
            setup=ips_drop,
            expected_verdict=Verdict.MIDDLEBOX_DROP,
            expect_error_finding=True,
            expect_delivery=False,
            ground_truth="one segment (the one carrying the signature) retransmitted forever while later ones are SACKed",
        ),
        Scenario(
            name="loss",
            summary=f"r1 drops every {LOSS_EVERY}th TCP packet on a full-MTU path: slow, but delivered",
            spec=_FULL,
            setup=random_loss,
            expected_verdict=Verdict.PACKET_LOSS,
            expect_error_finding=False,
            expect_delivery=True,
            ground_truth="retransmissions of segments of every size, all eventually ACKed",
        ),
        Scenario(
            name="tso-capture",
            summary="offloads left on: the sender's capture shows TSO/GSO super-segments; nothing is wrong",
            spec=TopologySpec(routers=2, small_mtu=FULL_MTU, small_link=1, offloads=True),
            setup=nothing,
            expected_verdict=None,
            expect_error_finding=False,
            expect_delivery=True,
            ground_truth="outgoing segments longer than the MTU (super-segments), all ACKed",
        ),
        Scenario(
            name="fix-mss-clamp",
            summary="black hole + the small link's routers clamp the TCP MSS to the route MTU",
            spec=_PMTU,
            setup=fix_mss_clamp,
            expected_verdict=None,
            expect_error_finding=False,
            expect_delivery=True,
            fix_of="blackhole",
            ground_truth="the SYN-ACK arriving at the client carries MSS 1360; no segment exceeds 1400 bytes",
        ),
        Scenario(
            name="fix-mtu-probing",
            summary="black hole + client net.ipv4.tcp_mtu_probing=1: TCP falls back to tcp_base_mss",
            spec=_PMTU,
            setup=fix_mtu_probing,
            expected_verdict=Verdict.PMTU_BLACKHOLE,
            expect_error_finding=False,
            expect_delivery=True,
            fix_of="blackhole",
            ground_truth="full-size segments lost a few times, then the same data resent in smaller segments and ACKed",
        ),
        Scenario(
            name="fix-no-pmtu-disc",
            summary="black hole + client net.ipv4.ip_no_pmtu_disc=1 (the seed's fix): no DF, r1 fragments",
            spec=_PMTU,
            setup=fix_no_pmtu_disc,
            expected_verdict=None,
            expect_error_finding=False,
            expect_delivery=True,
            fix_of="blackhole",
            ground_truth="full-size segments without DF, ACKed",
        ),
        Scenario(
            name="fix-route-mtu",
            summary="black hole + client route 'mtu lock 1400': small segments from the start",
            spec=_PMTU,
            setup=fix_route_mtu,
            expected_verdict=None,
            expect_error_finding=False,
            expect_delivery=True,
            fix_of="blackhole",
            ground_truth="the client's SYN advertises MSS 1360 and no packet exceeds 1400 bytes",
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; `KeyError` naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
