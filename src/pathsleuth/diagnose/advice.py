"""Ranked remedies per verdict: exact commands, how to persist them, what they cost.

Findings say what is wrong; this module says what to do about it (Zeek keeps notices and
actions apart the same way). `advice_for(...)` returns `Advice` records for one finding,
filled with the flow's addresses and an MTU/MSS the evidence supports, so the commands
can be pasted. `advised_mtu(...)` is how that number is chosen: a valid PTB-announced MTU
when a router sent one; otherwise the size that demonstrably passed when it is close to
the failing one; otherwise a conservative rung of the common-MTU ladder below the failing
size, never below the protocol floor (RFC 9293 default MSS 536 for IPv4, 1220 = 1280 - 60
for IPv6). Nothing here inspects packets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from pathsleuth.diagnose.model import Advice, Direction, PathMtu, Verdict

#: IPv4 + TCP header bytes without options (RFC 791, RFC 9293): MSS = MTU - 40
IPV4_TCP_OVERHEAD = 40
#: IPv6 + TCP header bytes without options (RFC 8200, RFC 9293): MSS = MTU - 60
IPV6_TCP_OVERHEAD = 60
#: Linux default search floor for MTU probing (net.ipv4.tcp_base_mss: 1024 in current kernels;
#: older kernels use 512)
TCP_BASE_MSS = 1024
#: The MSS every IPv4 host must accept (RFC 9293 section 3.7.1 default, = 576 - 40): no
#: advice ever goes below it.
IPV4_MIN_MSS = 536
#: IPv4 MTU matching that MSS (RFC 791: every host accepts 576-byte datagrams)
IPV4_FLOOR_MTU = IPV4_MIN_MSS + IPV4_TCP_OVERHEAD
#: IPv6 minimum link MTU (RFC 8200 section 5) and the MSS it allows
IPV6_MIN_MTU = 1280
IPV6_MIN_MSS = IPV6_MIN_MTU - IPV6_TCP_OVERHEAD
#: The smallest MTU a router may announce in an IPv4 PTB (RFC 791: 68 octets)
IPV4_MIN_ANNOUNCED_MTU = 68
#: Ethernet MTU: what a path is assumed to fail at when the evidence does not say
ETHERNET_MTU = 1500
#: Common link MTUs below Ethernet's, largest first, with the encapsulation that causes
#: each (RFC 2516 PPPoE 8 bytes, RFC 2003/4213 IPIP/6in4 20, RFC 2784 GRE 24, RFC 7348
#: VXLAN 50, WireGuard 80 over IPv6, IPsec ESP tunnel mode ~60-100, RFC 8200 minimum).
COMMON_MTUS: tuple[tuple[int, str], ...] = (
    (1492, "PPPoE"),
    (1480, "IPIP / 6in4 tunnel"),
    (1476, "GRE tunnel"),
    (1450, "VXLAN"),
    (1420, "WireGuard"),
    (1400, "IPsec / most VPNs"),
    (1280, "IPv6 minimum"),
)
#: The rung chosen when the capture does not bound the MTU tightly: it fits every
#: encapsulation above it (PPPoE, IPIP, GRE, VXLAN, WireGuard, typical IPsec), costs
#: under 7 % of payload per segment against 1500, and is what most VPN vendors recommend.
FALLBACK_MTU = 1400
#: A "got through" size at most this far below the failing size bounds the MTU tightly
#: enough to use as is (one rung of the ladder).
TIGHT_BOUND = 100

SYSCTL_DIR = "/etc/sysctl.d"


@dataclass(frozen=True, slots=True)
class MtuChoice:
    """The MTU the commands use, its MSS, and why that number."""

    mtu: int
    mss: int
    why: str
    measured: bool
    """True when the capture pins the MTU (valid PTB or a tight bound); False = an estimate
    the user should measure (`pathsleuth probe`)."""


def _floor_mtu(v6: bool) -> int:
    return IPV6_MIN_MTU if v6 else IPV4_FLOOR_MTU


def _overhead(v6: bool) -> int:
    return IPV6_TCP_OVERHEAD if v6 else IPV4_TCP_OVERHEAD


def valid_announced_mtu(mtu: int | None, v6: bool) -> bool:
    """Whether a PTB's MTU can be used at all (RFC 791 68 bytes, RFC 8200 1280 bytes)."""
    if mtu is None:
        return False
    return mtu >= (IPV6_MIN_MTU if v6 else IPV4_MIN_ANNOUNCED_MTU) and mtu < 65536


@functools.lru_cache(maxsize=4096)  # the same few bounds recur in thousands of findings
def advised_mtu(
    *,
    v6: bool,
    bounds: PathMtu | None = None,
    announced: int | None = None,
) -> MtuChoice:
    """The MTU to put into clamps and routes, never below the protocol floor.

    `announced` is a router's PTB MTU (used when valid); `bounds` are the capture's
    got-through (low) / lost (high) packet sizes.
    """
    floor = _floor_mtu(v6)
    over = _overhead(v6)
    if valid_announced_mtu(announced, v6):
        assert announced is not None
        mtu = max(announced, floor)
        why = f"the MTU a router announced in its ICMP 'packet too big' ({announced} bytes)"
        if mtu != announced:
            why += f", raised to the {floor}-byte floor (MSS {floor - over})"
        return MtuChoice(mtu=mtu, mss=mtu - over, why=why, measured=True)
    high = bounds.high if bounds is not None and bounds.high else ETHERNET_MTU
    low = bounds.low if bounds is not None and bounds.low else 0
    if low and low < high and high - low <= TIGHT_BOUND and low >= floor:
        why = f"{low}-byte packets got through and {high}-byte ones did not"
        return MtuChoice(mtu=low, mss=low - over, why=why, measured=True)
    rungs = [(m, name) for m, name in COMMON_MTUS if m < high and m >= floor]
    pick = next(((m, n) for m, n in rungs if m <= FALLBACK_MTU), None)
    if pick is None:
        pick = (floor, "protocol minimum")
    # a size that demonstrably passed beats a guess below it
    mtu = max(low if low >= pick[0] else pick[0], floor)
    shown = ", ".join(f"{m} {n}" for m, n in COMMON_MTUS if m < high and m > mtu)
    lost = f"{high}-byte packets were lost"
    passed = (
        f"only {low}-byte packets demonstrably got through"
        if low
        else "nothing bounds it from below"
    )
    why = (
        f"an estimate: {lost} and {passed}, so the capture does not pin the path MTU. "
        f"{mtu} bytes fits the usual culprits below {high}"
        + (f" ({shown})" if shown else "")
        + f"; if it still stalls use {IPV6_MIN_MTU if mtu > IPV6_MIN_MTU else floor}"
    )
    return MtuChoice(mtu=mtu, mss=mtu - over, why=why, measured=False)


def _measure(peer: str, port: int | None) -> str:
    return f"pathsleuth probe {peer} --port {port or 25}   # measures the real path MTU"


def _allow_icmp(peer: str, v6: bool, rank: int) -> Advice:
    # only the family of the failing flow: an operator pastes what is shown
    if v6:
        what = "ICMPv6 'packet too big' (type 2)"
        commands = [
            "nft insert rule inet filter input icmpv6 type packet-too-big accept",
            "nft insert rule inet filter forward icmpv6 type packet-too-big accept",
            "ip6tables -I INPUT -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT",
            "ip6tables -I FORWARD -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT",
        ]
        saved = "ip6tables-save > /etc/iptables/rules.v6"
        rfc = "RFC 8201; RFC 4890 section 4.3.1 says never to filter it"
    else:
        what = "ICMP 'fragmentation needed' (type 3 code 4)"
        commands = [
            "nft insert rule inet filter input icmp type destination-unreachable icmp code frag-needed accept",
            "nft insert rule inet filter forward icmp type destination-unreachable icmp code frag-needed accept",
            "iptables -I INPUT -p icmp --icmp-type fragmentation-needed -j ACCEPT",
            "iptables -I FORWARD -p icmp --icmp-type fragmentation-needed -j ACCEPT",
        ]
        saved = "iptables-save > /etc/iptables/rules.v4"
        rfc = "RFC 1191"
    return Advice(
        id="allow-icmp-ptb",
        rank=rank,
        title=f"Let {what} through",
        where="every firewall/router between this host and the peer, and this host's own firewall",
        commands=commands,
        persist=[
            "nftables: nft list ruleset > /etc/nftables.conf && systemctl enable nftables",
            f"iptables: {saved} (Debian/Ubuntu: apt install iptables-persistent)",
        ],
        tradeoffs=(
            f"The real fix: path MTU discovery ({rfc}) then works for every destination. "
            "The nft lines assume the Debian default table 'inet filter'; 'insert' puts "
            "them before any drop rule. It only helps where you control the device that "
            f"drops the ICMP; a filter in the peer's network ({peer}) or a router that "
            "never sends ICMP needs one of the workarounds below. ICMP errors are "
            "rate-limited and harmless to allow; dropping them is what breaks TCP."
        ),
    )


def _mss_clamp(
    peer: str, choice: MtuChoice, v6: bool, rank: int, *, inbound: bool, port: int | None
) -> Advice:
    mss = choice.mss
    fam = "ip6" if v6 else "ip"
    ipt = "ip6tables" if v6 else "iptables"
    over = _overhead(v6)
    # our own outbound segments are sized by the MSS the peer announces in its SYN/ACK,
    # the peer's segments by the MSS in our SYN: clamp the SYN that travels the other way
    host_match = f"{fam} daddr {peer}" if inbound else f"{fam} saddr {peer}"
    ipt_match = f"-d {peer}" if inbound else f"-s {peer}"
    host_hook = "output" if inbound else "prerouting"
    ipt_chain = "OUTPUT" if inbound else "PREROUTING"
    commands = []
    if not choice.measured:
        commands.append(_measure(peer, port))
    commands += [
        "nft insert rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu",
        f"nft insert rule inet filter forward {fam} {'daddr' if inbound else 'saddr'} {peer} "
        f"tcp flags syn tcp option maxseg size > {mss} tcp option maxseg size set {mss}",
        f"nft add chain inet filter mss_{host_hook} "
        f"'{{ type filter hook {host_hook} priority mangle; }}'",
        f"nft add rule inet filter mss_{host_hook} {host_match} tcp flags syn "
        f"tcp option maxseg size > {mss} tcp option maxseg size set {mss}",
        f"{ipt} -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
        f"{ipt} -t mangle -A {ipt_chain} -p tcp {ipt_match} --tcp-flags SYN,RST SYN "
        f"-m tcpmss --mss {mss + 1}:65535 -j TCPMSS --set-mss {mss}",
    ]
    return Advice(
        id="mss-clamp",
        rank=rank,
        title=(
            f"Clamp the TCP MSS: 'rt mtu' on the router, or explicitly to {mss} "
            f"(MTU {choice.mtu} - {over})"
        ),
        where=(
            "our edge router/firewall (rewrites the MSS our SYN announces, so the peer sends smaller segments)"
            if inbound
            else "the router where the smaller link starts, or this host (rewrites the peer's SYN/ACK)"
        ),
        commands=commands,
        persist=[
            "nftables: add the rules to /etc/nftables.conf (or nft list ruleset > /etc/nftables.conf) "
            "&& systemctl enable nftables",
            f"iptables: {ipt}-save > /etc/iptables/rules.v{6 if v6 else 4} (iptables-persistent)",
        ],
        tradeoffs=(
            f"Why {mss}: {choice.why}. "
            "Works without any ICMP, for every TCP connection through the device. 'rt mtu' / "
            "--clamp-mss-to-pmtu (router, forward path) only knows the MTU of the router's own "
            "outgoing route, so it helps only on the router in front of the small link; "
            "elsewhere use the explicit size. The host lines rewrite only the "
            f"{'SYN we send' if inbound else 'SYN/ACK the peer sends'}, so only that peer is "
            f"affected. Never clamp below {IPV6_MIN_MSS if v6 else IPV4_MIN_MSS} "
            f"({'RFC 8200 minimum MTU 1280 - 60' if v6 else 'RFC 9293 default MSS'}). "
            "TCP only (UDP, QUIC and IPsec still need PMTUD)."
        ),
    )


def _mtu_probing(rank: int) -> Advice:
    conf = f"{SYSCTL_DIR}/90-pathsleuth-mtu-probing.conf"
    return Advice(
        id="tcp-mtu-probing",
        rank=rank,
        title="Let this host's TCP detect black holes itself (packetization-layer PMTUD, RFC 4821)",
        where="this host (the data sender)",
        commands=[
            "sysctl -w net.ipv4.tcp_mtu_probing=1",
            f"sysctl -w net.ipv4.tcp_base_mss={TCP_BASE_MSS}",
        ],
        persist=[
            f"printf 'net.ipv4.tcp_mtu_probing = 1\\nnet.ipv4.tcp_base_mss = {TCP_BASE_MSS}\\n' "
            f"> {conf} && sysctl --system",
        ],
        tradeoffs=(
            "Mode 1 starts probing only after a retransmission timeout on a black-holed "
            "connection, so the first large transfer to such a destination still stalls for "
            "a few seconds before TCP falls back to tcp_base_mss; mode 2 probes always. "
            "Applies to TCP over IPv4 and IPv6 on Linux (the ipv4 sysctl covers both); the "
            "peer's segments to us are not affected."
        ),
    )


def _route_mtu(peer: str, choice: MtuChoice, v6: bool, rank: int, port: int | None) -> Advice:
    ip = "ip -6" if v6 else "ip"
    mtu = choice.mtu
    prefix = f"{peer}/{128 if v6 else 32}"
    nm = "ipv6" if v6 else "ipv4"
    commands = [] if choice.measured else [_measure(peer, port)]
    commands += [
        f"{ip} route get {peer}   # shows the gateway and device to use",
        f"{ip} route add {prefix} via <gateway> dev <device> mtu lock {mtu}",
    ]
    return Advice(
        id="route-mtu-lock",
        rank=rank,
        title=f"Pin the path MTU to {peer} at {mtu} bytes with a host route",
        where="this host (the data sender)",
        commands=commands,
        persist=[
            f"systemd-networkd: in the interface's .network file, [Route] Destination={prefix} "
            f"Gateway=<gateway> MTUBytes={mtu}",
            f"ifupdown: 'up {ip} route add {prefix} via <gateway> mtu lock {mtu}' under the "
            "interface in /etc/network/interfaces",
            f"NetworkManager: nmcli connection modify <connection> +{nm}.routes "
            f"'{prefix} <gateway> mtu={mtu} lock-mtu=true' && nmcli connection up <connection>",
        ],
        tradeoffs=(
            f"Why {mtu}: {choice.why}. Exact and local: only traffic to that destination "
            "uses the smaller packets ('lock' keeps PMTUD from raising it again), nothing "
            "else changes. Static: a route per destination does not scale and goes stale "
            f"when the path changes. Never below {_floor_mtu(v6)} "
            f"({'RFC 8200 minimum' if v6 else 'RFC 791 576-byte datagram, MSS 536'})."
        ),
    )


def _no_pmtu_disc(rank: int) -> Advice:
    conf = f"{SYSCTL_DIR}/90-pathsleuth-no-pmtu-disc.conf"
    return Advice(
        id="no-pmtu-disc",
        rank=rank,
        title="Last resort: turn off IPv4 path MTU discovery (the seed case's fix)",
        where="this host (the data sender)",
        commands=["sysctl -w net.ipv4.ip_no_pmtu_disc=1"],
        persist=[f"echo 'net.ipv4.ip_no_pmtu_disc = 1' > {conf} && sysctl --system"],
        tradeoffs=(
            "Why it works: new sockets get IP_PMTUDISC_DONT, so this host's IPv4 packets "
            "leave without DF and the router in front of the smaller link fragments them "
            "instead of dropping them and sending an ICMP that never arrives. What it costs: "
            "every destination behind a smaller link gets fragmented packets (router CPU; a "
            "lost fragment loses the whole packet; some firewalls and NATs drop fragments; "
            "the 16-bit IP ID wraps within seconds at high rates and reassembly can mix "
            "packets, RFC 4963). Mode 1 still reacts to a PTB that does arrive, by dropping "
            "that destination's PMTU to net.ipv4.route.min_pmtu (552) instead of the "
            "announced MTU; mode 2 also discards incoming PTBs; mode 3 (hardened) accepts "
            "PTBs only for TCP/SCTP/DCCP, where the quoted sequence can be verified, and is "
            "meant for namespaces, not globally (Linux ip-sysctl.rst). IPv4 only: IPv6 routers "
            "never fragment, so it does nothing for IPv6. Affects sockets created after the "
            "change (restart the mail server). Prefer the options above."
        ),
    )


def _advmss(peer: str, choice: MtuChoice, v6: bool, rank: int, port: int | None) -> Advice:
    ip = "ip -6" if v6 else "ip"
    prefix = f"{peer}/{128 if v6 else 32}"
    mss = choice.mss
    commands = [] if choice.measured else [_measure(peer, port)]
    commands += [
        f"{ip} route get {peer}   # shows the gateway and device to use",
        f"{ip} route add {prefix} via <gateway> dev <device> advmss {mss}",
    ]
    return Advice(
        id="route-advmss",
        rank=rank,
        title=f"Announce a smaller MSS ({mss}) to {peer} so its segments fit",
        where="this host (the receiver)",
        commands=commands,
        persist=[
            f"ifupdown: 'up {ip} route add {prefix} via <gateway> advmss {mss}' in "
            "/etc/network/interfaces",
            "systemd-networkd / NetworkManager have no advmss route option: use a "
            "networkd-dispatcher or NetworkManager dispatcher.d script running the "
            "command above, or the MSS clamp",
        ],
        tradeoffs=(
            f"Why {mss}: {choice.why}. Fixes the peer's segments to us without any change "
            "on their side: our SYN tells them to send at most this many bytes per segment. "
            f"Per destination and static. Never below {IPV6_MIN_MSS if v6 else IPV4_MIN_MSS}."
        ),
    )


def _ask_remote(peer: str, rank: int) -> Advice:
    return Advice(
        id="remote-path",
        rank=rank,
        title="Ask the peer's administrators to fix ICMP filtering on their side",
        where="the remote site",
        commands=[],
        tradeoffs=(
            f"{peer}'s large segments die on their way to us and the ICMP their sender needs "
            "never reaches it; only their network (or ours, with an MSS clamp) can fix that."
        ),
    )


def advice_for(
    verdict: Verdict,
    *,
    peer: str,
    direction: Direction,
    v6: bool,
    path_mtu: int | None = None,
    bounds: PathMtu | None = None,
    port: int | None = None,
) -> list[Advice]:
    """Ranked advice for one finding. `peer` is the address on the far side of the problem.

    `bounds` are the finding's path-MTU bounds; for `ptb_ignored`/`pmtud_working` their
    `high` is the MTU a router announced. `path_mtu` (older callers) is an MTU the caller
    already trusts: announced for the PTB verdicts, a passed size otherwise. `port` is
    the service port, for the `pathsleuth probe` measurement command.
    """
    announced_verdict = verdict in (Verdict.PTB_IGNORED, Verdict.PMTUD_WORKING)
    announced = None
    if announced_verdict:
        announced = bounds.high if bounds is not None and bounds.high else path_mtu
    elif bounds is None and path_mtu is not None:
        # a trusted passed size without the failing one: treat it as tight
        bounds = PathMtu(low=path_mtu, high=path_mtu + 1)
    choice = advised_mtu(v6=v6, bounds=bounds, announced=announced)
    inbound = direction == Direction.INBOUND
    if verdict == Verdict.PMTU_BLACKHOLE:
        if inbound:
            return [
                _mss_clamp(peer, choice, v6, 1, inbound=True, port=port),
                _advmss(peer, choice, v6, 2, port),
                _ask_remote(peer, 3),
            ]
        out = [
            _allow_icmp(peer, v6, 1),
            _mss_clamp(peer, choice, v6, 2, inbound=False, port=port),
            _mtu_probing(3),
            _route_mtu(peer, choice, v6, 4, port),
        ]
        if not v6:
            out.append(_no_pmtu_disc(5))
        return out
    if verdict == Verdict.PTB_IGNORED:
        first = replace(
            _allow_icmp(peer, v6, 1),
            title="The PTB reached the capture point but not the TCP stack: allow it "
            "in this host's own firewall (captures tap packets before netfilter INPUT)",
        )
        return [
            first,
            Advice(
                id="check-pmtu-settings",
                rank=2,
                title="Check that the sender honours PTBs",
                where="this host (the data sender)",
                commands=[
                    "sysctl net.ipv4.ip_no_pmtu_disc net.ipv4.route.min_pmtu",
                    f"{'ip -6' if v6 else 'ip'} route get {peer}   # shows a learnt 'mtu' when the PTB was accepted",
                ],
                persist=[
                    f"grep -r pmtu {SYSCTL_DIR} /etc/sysctl.conf   # remove ip_no_pmtu_disc = 2 there"
                ],
                tradeoffs=(
                    "ip_no_pmtu_disc=2 makes Linux discard PTBs; 1 clears DF and reacts to "
                    "a PTB only by dropping to min_pmtu (552); 3 accepts them only for "
                    "TCP/SCTP/DCCP. A learnt route MTU proves the stack listens."
                ),
            ),
            _mss_clamp(peer, choice, v6, 3, inbound=False, port=port),
            _mtu_probing(4),
        ]
    if verdict == Verdict.MIDDLEBOX_DROP:
        return [
            Advice(
                id="inspect-middlebox",
                rank=1,
                title="Find the content-inspecting device (IPS, AV/mail scanning, DLP proxy) that drops the data",
                where="firewalls/UTMs on the path",
                commands=[
                    f"capture on both sides of the firewall: tcpdump -ni <if> host {peer} and tcp",
                    "check the IPS/AV logs for the connection's time and addresses",
                ],
                tradeoffs=(
                    "Segments of the same size passed earlier in the same connection, so the "
                    "path MTU is not the cause; an exception for this destination in the "
                    "inspection policy (the seed's last comment: outbound SMTP AV scanning) is "
                    "the usual fix. Do not change MTU settings for this."
                ),
            )
        ]
    if verdict == Verdict.MIDDLEBOX_RESET:
        return [
            Advice(
                id="find-resetter",
                rank=1,
                title="Find the device that forges RSTs for this connection",
                where="firewalls/IPS/load balancers on the path",
                commands=[
                    f"traceroute -T -p <port> {peer}   # the RST's hop count points at the device",
                    "check session timeouts and IPS 'reset' actions for this flow",
                ],
                tradeoffs="The endpoints did not close the connection; fixing MTU or TCP settings will not help.",
            )
        ]
    if verdict == Verdict.PEER_UNRESPONSIVE:
        return [
            Advice(
                id="check-peer",
                rank=1,
                title="Check the peer host and application",
                where="the remote host",
                commands=[f"ss -tin dst {peer}   # on the sender: retransmits, rto, unacked"],
                tradeoffs="The peer stopped answering entirely; the path and MTU are not implicated by the capture.",
            )
        ]
    if verdict == Verdict.PACKET_LOSS:
        return [
            Advice(
                id="find-loss",
                rank=1,
                title="Locate the loss",
                where="the path",
                commands=[
                    f"mtr -rwzbc 200 {peer}",
                    "ip -s link; ethtool -S <if> | grep -Ei 'err|drop|miss'",
                ],
                tradeoffs="Full-size segments also get through, so this is loss or congestion, not an MTU problem.",
            )
        ]
    return []
