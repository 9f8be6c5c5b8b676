"""Realistic report inputs (imported by the tests and by conftest.py) built from the diagnosis model: the seed's GWIA connection.

The seed (`../shared/reference/seed-gwia-420-tcp-write-error.txt`) is a black hole on
192.168.1.254:55400 -> 203.106.231.124:25: handshake in frames 9438/9446/9447 with MSS 1460
both sides, the first full-size segment (frame 9484, 1448 bytes, DF) never acknowledged,
retransmitted in 9530 and 9561, the peer's ACK stuck (frame 9635), no ICMP 3/4. The
renderers' tests use these objects; the producers' own types are not needed, only
objects with the attributes the report's Protocols name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathsleuth.diagnose.model import (
    Advice,
    CapturePoint,
    Direction,
    Evidence,
    Finding,
    Flow,
    PathMtu,
    Severity,
    Verdict,
)
from pathsleuth.report.views import SeqPoint
from pathsleuth.tcp.icmp import IcmpEvent

#: 2009-05-18 16:41:20 UTC, the seed's Escatec attempt, in ns.
SEED_T0_NS = 1_242_664_880_000_000_000
SEED_FILE = "PACKETTRACE.TAR.GZ:PACKETTRACE"


@dataclass(frozen=True)
class FileInfo:
    name: str
    format: str
    packets: int
    bytes: int
    malformed: int = 0
    malformed_frames: list[int] = field(default_factory=list)
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None


@dataclass(frozen=True)
class Conn:
    id: int
    file: str
    src: str
    sport: int
    dst: str
    dport: int
    packets: int
    bytes: int
    duration_s: float
    state: str
    history: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Mapping[str, Any]:
        d = {
            "id": self.id,
            "src": self.src,
            "sport": self.sport,
            "dst": self.dst,
            "dport": self.dport,
            "history": self.history,
        }
        d.update(self.details)
        return d


@dataclass(frozen=True)
class Result:
    files: Sequence[FileInfo]
    connections: Sequence[Conn]
    findings: Sequence[Finding]
    icmp: Sequence[IcmpEvent] = ()


def sample_icmp() -> list[IcmpEvent]:
    """The three kinds the MANIFEST asks about: a PTB that matches connection 3 (the
    pmtud_working finding), an ICMPv6 PTB with MTU 1200 (below the IPv6 minimum, as in
    suricata-verify's atomic-fragments capture) and an implausible IPv4 PTB quoting a
    52-byte packet (snabb's response-ipv4-icmp34), both quoting no captured connection.
    Listed out of frame order on purpose: the reports sort them."""
    return [
        IcmpEvent(
            frame=640,
            ts_ns=SEED_T0_NS + 10**12 + 2 * 10**9,
            kind="ptb",
            icmp_type=2,
            icmp_code=0,
            version=6,
            router="2001:db8:2::2",
            router_hops=0,
            mtu=1200,
            quoted_ip_len=1201,
            quoted_df=False,
            quoted_proto=58,
            quoted_src="fe80::6600:6aff:fe5b:8f4a",
            quoted_sport=0,
            quoted_dst="2001:db8:2::2",
            quoted_dport=0,
            quoted_seq=None,
            problems=[
                "announced MTU 1200 is below the IPv6 minimum of 1280 (RFC 8200 section 5): invalid"
            ],
        ),
        IcmpEvent(
            frame=612,
            ts_ns=SEED_T0_NS + 10**12 + 10**9,
            kind="ptb",
            icmp_type=3,
            icmp_code=4,
            version=4,
            router="10.9.0.254",
            router_hops=3,
            mtu=1400,
            quoted_ip_len=1500,
            quoted_df=True,
            quoted_proto=6,
            quoted_src="10.0.0.1",
            quoted_sport=40000,
            quoted_dst="10.9.0.2",
            quoted_dport=25,
            quoted_seq=3_000_001_449,
            conn=3,
            half=6,
            segment=40,
            segment_frame=611,
        ),
        IcmpEvent(
            frame=700,
            ts_ns=SEED_T0_NS + 10**12 + 3 * 10**9,
            kind="ptb",
            icmp_type=3,
            icmp_code=4,
            version=4,
            router="10.10.10.10",
            router_hops=0,
            mtu=737,
            quoted_ip_len=52,
            quoted_df=True,
            quoted_proto=6,
            quoted_src="149.174.156.93",
            quoted_sport=54192,
            quoted_dst="178.79.150.233",
            quoted_dport=80,
            quoted_seq=548286810,
            problems=[
                "quotes a 52-byte packet that already fits the announced MTU 737: implausible"
            ],
        ),
    ]


def blackhole_advice() -> list[Advice]:
    return [
        Advice(
            id="allow-icmp-ptb",
            rank=1,
            title="Let ICMP 'fragmentation needed' (type 3 code 4) and ICMPv6 'packet too big' through",
            where="firewall/router on the path",
            commands=[
                "nft add rule inet filter forward icmp type destination-unreachable icmp code frag-needed accept",
                "nft add rule inet filter forward icmpv6 type packet-too-big accept",
            ],
            persist=["add both rules to /etc/nftables.conf (table inet filter, chain forward)"],
            tradeoffs="None worth the name: RFC 4890 says never to filter these messages.",
        ),
        Advice(
            id="mss-clamp",
            rank=2,
            title="Clamp the TCP MSS to the route's MTU on the router",
            where="firewall/router on the path",
            commands=[
                "nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu"
            ],
            persist=["add the rule to /etc/nftables.conf"],
            tradeoffs="Only helps TCP and only through this router; every segment gets smaller.",
        ),
        Advice(
            id="tcp-mtu-probing",
            rank=3,
            title="Turn on packetization-layer PMTU discovery (RFC 4821)",
            where="this host",
            commands=[
                "sysctl -w net.ipv4.tcp_mtu_probing=1",
                "sysctl -w net.ipv4.tcp_base_mss=1024",
            ],
            persist=[
                "echo 'net.ipv4.tcp_mtu_probing = 1' > /etc/sysctl.d/90-pathsleuth.conf",
                "echo 'net.ipv4.tcp_base_mss = 1024' >> /etc/sysctl.d/90-pathsleuth.conf",
            ],
            tradeoffs="The first stall still costs one RTO per connection before the probe shrinks the MSS.",
        ),
        Advice(
            id="no-pmtu-disc",
            rank=5,
            title="Disable path-MTU discovery (the seed's fix)",
            where="this host",
            commands=["sysctl -w net.ipv4.ip_no_pmtu_disc=1"],
            persist=["echo 'net.ipv4.ip_no_pmtu_disc = 1' >> /etc/sysctl.conf"],
            tradeoffs="Works because packets leave without DF and routers fragment them; costs "
            "fragmentation on every small-MTU path and affects all destinations.",
        ),
        Advice(
            id="route-mtu-lock",
            rank=4,
            title="Pin a smaller MTU on the route to the peer",
            where="this host",
            commands=["ip route add 203.106.231.124/32 via 192.168.1.1 mtu lock 1400"],
            persist=["add the route to /etc/network/interfaces (up ip route add ...)"],
            tradeoffs="Only for the destinations you list; must be kept up to date by hand.",
        ),
    ]


def seed_finding() -> Finding:
    return Finding(
        verdict=Verdict.PMTU_BLACKHOLE,
        severity=Severity.ERROR,
        confidence=0.9512,
        summary="Full-size DF segments from 192.168.1.254 to 203.106.231.124 vanish while small "
        "ones get through, and no ICMP 'fragmentation needed' comes back: a path-MTU black hole.",
        flow=Flow(src="192.168.1.254", sport=55400, dst="203.106.231.124", dport=25),
        file=SEED_FILE,
        connection_id=7,
        direction=Direction.OUTBOUND,
        capture_point=CapturePoint.SENDER,
        fix_owner="our side or the path to the peer",
        path_mtu=PathMtu(low=94, high=1500),
        recovered=False,
        evidence=[
            Evidence(frame=9438, text="frames 9438, 9446, 9447: handshake, MSS 1460 both sides"),
            Evidence(
                frame=9484,
                text="frame 9484: first full-size segment (1448 bytes, DF, seq 4130583027), never acknowledged",
            ),
            Evidence(frame=9530, text="retransmitted in frames 9530, 9561"),
            Evidence(frame=9635, text="the peer's ACK stays at 4130583027 (frame 9635)"),
            Evidence(frame=None, text="no ICMP type 3 code 4 for this flow in the capture"),
            Evidence(frame=9446, text="peer ≈ 10 hops away (TTL 54)"),
        ],
        wireshark_filter="(ip.addr==192.168.1.254 && ip.addr==203.106.231.124 && tcp.port==55400 "
        "&& tcp.port==25) || (icmp.type==3 && icmp.code==4)",
        advice=blackhole_advice(),
        detector="pmtu_blackhole",
    )


def loss_finding() -> Finding:
    return Finding(
        verdict=Verdict.PACKET_LOSS,
        severity=Severity.WARNING,
        confidence=0.7,
        summary="Segments of every size are retransmitted on a path that carries full-size ones.",
        flow=Flow(src="2001:db8::25", sport=25, dst="2001:db8:1::7", dport=41822),
        file="inbound.pcapng",
        connection_id=2,
        direction=Direction.INBOUND,
        capture_point=CapturePoint.RECEIVER,
        fix_owner="the remote sender's path",
        evidence=[Evidence(frame=120, text="frames 120, 133: 1440-byte segments acknowledged")],
        wireshark_filter="ipv6.addr==2001:db8::25 && tcp.port==41822",
        detector="packet_loss",
    )


def pmtud_finding() -> Finding:
    return Finding(
        verdict=Verdict.PMTUD_WORKING,
        severity=Severity.INFO,
        confidence=1.0,
        summary="A router announced MTU 1400 and the sender resent smaller segments.",
        flow=Flow(src="10.0.0.1", sport=40000, dst="10.9.0.2", dport=25),
        file="inbound.pcapng",
        connection_id=3,
        path_mtu=PathMtu(low=1400, high=1400),
        evidence=[Evidence(frame=55, text="frame 55: ICMP 3/4 from 10.5.0.1, next-hop MTU 1400")],
        detector="pmtud_working",
    )


def seed_points() -> list[SeqPoint]:
    """The seed's connection as a chart series (rel. to ISN 4130582918, so 9484 is seq 109)."""
    pts = [
        SeqPoint(9438, 0.000, 0, 0, "syn", "a->b"),
        SeqPoint(9446, 0.182, 1, 0, "syn", "b->a"),
        SeqPoint(9447, 0.182, 1, 0, "ack", "a->b"),
        SeqPoint(9450, 0.366, 1, 0, "data", "b->a"),  # 220 banner
        SeqPoint(9451, 0.367, 1, 27, "data", "a->b"),  # EHLO
        SeqPoint(9455, 0.550, 28, 0, "data", "b->a"),  # 250
        SeqPoint(9456, 0.551, 28, 40, "data", "a->b"),  # MAIL FROM
        SeqPoint(9461, 0.735, 68, 0, "data", "b->a"),
        SeqPoint(9462, 0.736, 68, 35, "data", "a->b"),  # RCPT TO
        SeqPoint(9470, 0.920, 103, 0, "data", "b->a"),
        SeqPoint(9471, 0.921, 103, 6, "data", "a->b"),  # DATA
        SeqPoint(9483, 1.105, 109, 0, "data", "b->a"),  # 354, 46 bytes
        SeqPoint(9484, 1.106, 109, 1448, "data", "a->b"),
        SeqPoint(9485, 1.106, 1557, 16, "data", "a->b"),
        SeqPoint(9530, 1.520, 109, 1448, "retrans", "a->b"),
        SeqPoint(9561, 2.350, 109, 1448, "retrans", "a->b"),
        SeqPoint(9635, 3.300, 109, 0, "retrans", "b->a"),  # the peer resends 354, ACK stuck
        SeqPoint(9702, 4.010, 109, 1448, "retrans", "a->b"),
        SeqPoint(9811, 7.330, 109, 1448, "retrans", "a->b"),
        SeqPoint(9990, 13.970, 109, 1448, "retrans", "a->b"),
        SeqPoint(10411, 27.250, 109, 1448, "retrans", "a->b"),
        SeqPoint(11020, 53.810, 1573, 0, "rst", "a->b"),
    ]
    return pts


def sample_result() -> Result:
    seed_file = FileInfo(
        name=SEED_FILE,
        format="pcap",
        packets=11_020,
        bytes=4_512_330,
        malformed=2,
        malformed_frames=[17, 4410],
        first_ts_ns=SEED_T0_NS,
        last_ts_ns=SEED_T0_NS + 365_200_000_000,
    )
    other = FileInfo(
        name="inbound.pcapng",
        format="pcapng",
        packets=812,
        bytes=900_100,
        first_ts_ns=SEED_T0_NS + 10**12,
        last_ts_ns=SEED_T0_NS + 10**12 + 9_500_000_000,
    )
    conns = [
        Conn(
            7,
            SEED_FILE,
            "192.168.1.254",
            55400,
            "203.106.231.124",
            25,
            22,
            9_700,
            53.81,
            "reset",
            "ShADadTTTTTR",
            {"mss": {"a": 1460, "b": 1460}, "retransmissions": 6},
        ),
        Conn(
            8,
            SEED_FILE,
            "192.168.1.254",
            55402,
            "202.75.48.118",
            25,
            40,
            3_400,
            1.2,
            "closed",
            "ShADadFf",
        ),
        Conn(
            2,
            "inbound.pcapng",
            "2001:db8::25",
            25,
            "2001:db8:1::7",
            41822,
            300,
            400_000,
            9.1,
            "closed",
            "ShADadtFf",
        ),
        Conn(
            3,
            "inbound.pcapng",
            "10.0.0.1",
            40000,
            "10.9.0.2",
            25,
            90,
            100_000,
            2.5,
            "closed",
            "ShADadFf",
        ),
    ]
    return Result(
        files=[seed_file, other],
        connections=conns,
        findings=[pmtud_finding(), loss_finding(), seed_finding()],
        icmp=sample_icmp(),
    )


def healthy_result() -> Result:
    f = FileInfo(
        "ok.pcap", "pcap", 40, 3_400, first_ts_ns=SEED_T0_NS, last_ts_ns=SEED_T0_NS + 10**9
    )
    c = Conn(
        1, "ok.pcap", "192.0.2.1", 50000, "198.51.100.2", 25, 40, 3_400, 1.0, "closed", "ShADadFf"
    )
    return Result(files=[f], connections=[c], findings=[])
