"""Ranked remedies per verdict: exact commands, how to persist them, what they cost.

Findings say what is wrong; this module says what to do about it (Zeek keeps notices and
actions apart the same way). `advice_for(...)` returns `Advice` records for one finding,
filled with the flow's addresses and the MSS/MTU the evidence supports, so the commands
can be pasted. Nothing here inspects packets.
"""

from __future__ import annotations

from pathsleuth.diagnose.model import Advice, Direction, Verdict

#: IPv4 + TCP header bytes without options (RFC 791, RFC 9293): MSS = MTU - 40
IPV4_TCP_OVERHEAD = 40
#: IPv6 + TCP header bytes without options (RFC 8200, RFC 9293): MSS = MTU - 60
IPV6_TCP_OVERHEAD = 60
#: Linux default search floor for MTU probing (net.ipv4.tcp_base_mss, since 4.x: 1024)
TCP_BASE_MSS = 1024
#: a conservative path MTU when the evidence gives none (PPPoE 1492 minus a tunnel)
FALLBACK_MTU = 1400

SYSCTL_FILE = "/etc/sysctl.d/90-pathsleuth.conf"


def _allow_icmp(peer: str, v6: bool, rank: int) -> Advice:
    return Advice(
        id="allow-icmp-ptb",
        rank=rank,
        title="Let ICMP 'fragmentation needed' (type 3 code 4) and ICMPv6 'packet too big' through",
        where="every firewall/router between this host and the peer, and this host's own firewall",
        commands=[
            "nft add rule inet filter input icmp type destination-unreachable icmp code frag-needed accept",
            "nft add rule inet filter forward icmp type destination-unreachable icmp code frag-needed accept",
            "nft add rule inet filter input icmpv6 type packet-too-big accept",
            "nft add rule inet filter forward icmpv6 type packet-too-big accept",
            "iptables -I INPUT -p icmp --icmp-type fragmentation-needed -j ACCEPT",
            "iptables -I FORWARD -p icmp --icmp-type fragmentation-needed -j ACCEPT",
            "ip6tables -I INPUT -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT",
            "ip6tables -I FORWARD -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT",
        ],
        persist=[
            "nftables: nft list ruleset > /etc/nftables.conf && systemctl enable nftables",
            "iptables: iptables-save > /etc/iptables/rules.v4; ip6tables-save > /etc/iptables/rules.v6 "
            "(Debian/Ubuntu: apt install iptables-persistent)",
        ],
        tradeoffs=(
            "The real fix: path MTU discovery (RFC 1191, RFC 8201) then works for every "
            "destination. It only helps where you control the device that drops the ICMP; a "
            f"filter in the peer's network ({peer}) or a router that never sends ICMP needs one "
            "of the workarounds below. ICMP errors are rate-limited and harmless to allow; "
            "dropping them is what breaks TCP (RFC 4890 section 4.3.1 for ICMPv6)."
        ),
    )


def _mss_clamp(peer: str, mss: int, rank: int, *, inbound: bool) -> Advice:
    return Advice(
        id="mss-clamp",
        rank=rank,
        title=f"Clamp the TCP MSS (to {mss} bytes) so segments fit the path",
        where=(
            "our edge router/firewall (rewrites the MSS the peer is told, so it sends smaller segments)"
            if inbound
            else "the router where the smaller link starts, or this host's output path"
        ),
        commands=[
            "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu",
            f"nft add rule inet filter forward ip daddr {peer} tcp flags syn tcp option maxseg size set {mss}",
            "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            f"iptables -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -d {peer} -j TCPMSS --set-mss {mss}",
        ],
        persist=[
            "nftables: add the rule to /etc/nftables.conf (or nft list ruleset > /etc/nftables.conf)",
            "iptables: iptables-save > /etc/iptables/rules.v4 (iptables-persistent)",
        ],
        tradeoffs=(
            "Works without any ICMP and for every TCP connection through the device. "
            "'rt mtu' / --clamp-mss-to-pmtu only knows the MTU of the router's own outgoing "
            "route; when the small link is further along, set the size explicitly. TCP only "
            "(UDP, QUIC and IPsec still need PMTUD) and it lowers throughput slightly for "
            "paths that could carry larger segments."
        ),
    )


def _mtu_probing(rank: int) -> Advice:
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
            f"> {SYSCTL_FILE} && sysctl --system",
        ],
        tradeoffs=(
            "Mode 1 starts probing only after a retransmission timeout on a black-holed "
            "connection, so the first large transfer to such a destination still stalls for "
            "a few seconds before TCP falls back to tcp_base_mss; mode 2 probes always. "
            "Applies to TCP over IPv4 and IPv6 on Linux; the peer's segments to us are "
            "not affected."
        ),
    )


def _route_mtu(peer: str, mtu: int, v6: bool, rank: int) -> Advice:
    ip = "ip -6" if v6 else "ip"
    return Advice(
        id="route-mtu-lock",
        rank=rank,
        title=f"Pin the path MTU to the peer at {mtu} bytes with a route",
        where="this host",
        commands=[
            f"{ip} route get {peer}",
            f"{ip} route add {peer} via <gateway from 'route get'> mtu lock {mtu}",
        ],
        persist=[
            "systemd-networkd: [Route] Destination=<peer> Gateway=<gw> MTUBytes=<mtu> in the .network file",
            "ifupdown: 'up ip route add <peer> via <gw> mtu lock <mtu>' in /etc/network/interfaces",
            "NetworkManager: nmcli connection modify <conn> +ipv4.routes '<peer>/32 <gw> mtu=<mtu>'",
        ],
        tradeoffs=(
            "Exact and local: only traffic to that destination uses the smaller packets, "
            "nothing else changes. Static: you must know the MTU, and a route per destination "
            "does not scale; it goes stale when the path changes."
        ),
    )


def _no_pmtu_disc(rank: int) -> Advice:
    return Advice(
        id="no-pmtu-disc",
        rank=rank,
        title="Last resort: turn off path MTU discovery (the seed case's fix)",
        where="this host",
        commands=["sysctl -w net.ipv4.ip_no_pmtu_disc=1"],
        persist=[f"echo 'net.ipv4.ip_no_pmtu_disc = 1' > {SYSCTL_FILE} && sysctl --system"],
        tradeoffs=(
            "Why it works: the host stops setting DF on its IPv4 packets, so the router in "
            "front of the smaller link fragments them instead of dropping them and sending an "
            "ICMP that never arrives. What it costs: every destination gets fragmented packets "
            "when the path is smaller (router CPU, a lost fragment loses the whole packet, some "
            "firewalls drop fragments), the host ignores PTBs it does get, and it does nothing "
            "for IPv6, where routers never fragment. Prefer the options above."
        ),
    )


def _advmss(peer: str, mss: int, v6: bool, rank: int) -> Advice:
    ip = "ip -6" if v6 else "ip"
    return Advice(
        id="route-advmss",
        rank=rank,
        title=f"Announce a smaller MSS ({mss}) to that peer so its segments fit",
        where="this host (the receiver)",
        commands=[f"{ip} route add {peer} via <gateway> advmss {mss}"],
        persist=[
            "add the same route with 'advmss' to your network configuration (networkd/ifupdown/NM)"
        ],
        tradeoffs=(
            "Fixes the peer's segments to us without any change on their side: our SYN tells "
            "them to send at most this many bytes per segment. Per destination and static."
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
) -> list[Advice]:
    """Ranked advice for one finding. `peer` is the address on the far side of the problem."""
    mtu = path_mtu or FALLBACK_MTU
    mss = mtu - (IPV6_TCP_OVERHEAD if v6 else IPV4_TCP_OVERHEAD)
    inbound = direction == Direction.INBOUND
    if verdict == Verdict.PMTU_BLACKHOLE:
        if inbound:
            return [
                _mss_clamp(peer, mss, 1, inbound=True),
                _advmss(peer, mss, v6, 2),
                _ask_remote(peer, 3),
            ]
        out = [
            _allow_icmp(peer, v6, 1),
            _mss_clamp(peer, mss, 2, inbound=False),
            _mtu_probing(3),
            _route_mtu(peer, mtu, v6, 4),
        ]
        if not v6:
            out.append(_no_pmtu_disc(5))
        return out
    if verdict == Verdict.PTB_IGNORED:
        first = _allow_icmp(peer, v6, 1)
        first = Advice(
            **{
                **first.__dict__,
                "title": "The PTB reached the capture point but not the TCP stack: allow it "
                "in this host's own firewall (captures tap packets before netfilter INPUT)",
            }
        )
        return [
            first,
            Advice(
                id="check-pmtu-settings",
                rank=2,
                title="Check that the sender honours PTBs",
                where="this host (the data sender)",
                commands=[
                    "sysctl net.ipv4.ip_no_pmtu_disc net.ipv4.ip_forward_use_pmtu",
                    f"{'ip -6' if v6 else 'ip'} route get {peer}   # shows a learnt 'mtu' when the PTB was accepted",
                ],
                tradeoffs="ip_no_pmtu_disc=1 makes Linux ignore PTBs; a learnt route MTU proves it listens.",
            ),
            _mss_clamp(peer, mss, 3, inbound=False),
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
