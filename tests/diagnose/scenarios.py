"""Scripted captures for the detector tests, one function per situation of issue 3.

Each returns (PacketTable, notes) where notes holds the absolute sequence numbers and
frames a test wants to check. Times are seconds; the client is our host (192.168.1.254)
unless said otherwise, the server the remote SMTP peer 10 hops away (TTL 54).
"""

from __future__ import annotations

from typing import Any

from pathsleuth.capture.table import PacketTable
from tcp.tables import Conv


def _smtp_start(c: Conv, *, at: str = "c", rtt: float = 0.2) -> None:
    c.handshake(0.0, rtt, at=at)
    t = 0.3
    for n_srv, n_cli in ((46, 30), (120, 40), (20, 30), (30, 6)):
        c.send("s", t, n_srv)
        c.send("c", t + 0.01, n_cli)
        c.ack("s", t + 0.2)
        t += 0.25


def blackhole_at_sender(*, recover: bool = False) -> tuple[PacketTable, dict[str, Any]]:
    """The seed: first full-size DF segment never acknowledged, retransmitted, ACK stuck."""
    c = Conv()
    _smtp_start(c)
    c.send("s", 1.3, 46)  # "354 Start mail input"
    big = c.send("c", 1.4, 1448, flags="A")
    tail = c.send("c", 1.4001, 16)
    p = big["seq"]
    c.ack("s", 1.6, p)  # dup ACK for the 16-byte tail
    r1 = c.send("c", 1.8, 1448, seq=p, flags="A", ackno=c.nxt["s"])
    r2 = c.send("c", 2.2, 1448, seq=p, flags="A")
    c.send("s", 2.5, 46, seq=c.nxt["s"] - 46, ackno=p)  # peer retransmits, ACK stays at p
    notes: dict[str, Any] = {"p": p, "big": big, "tail": tail, "retx": [r1, r2]}
    if recover:
        # tcp_mtu_probing: fall back to tcp_base_mss-sized segments, which get through
        s1 = c.send("c", 3.0, 1024, seq=p, flags="A")
        c.ack("s", 3.2, p + 1024)
        s2 = c.send("c", 3.21, 424, seq=p + 1024)
        c.ack("s", 3.4, p + 1448 + 16)
        c.send("c", 3.41, 1024)
        c.ack("s", 3.6)
        notes["fallback"] = [s1, s2]
    return c.table(), notes


def blackhole_inbound_at_receiver() -> tuple[PacketTable, dict[str, Any]]:
    """We receive: the peer's full-size segment never arrives, later small ones do."""
    c = Conv(
        client="198.51.100.7", server="192.168.1.10", cport=40123, sport=25, c_ttl=50, s_ttl=64
    )
    c.handshake(0.0, 0.1, at="s")  # capture at the server = data receiver
    c.send("s", 0.2, 30)
    c.send("c", 0.3, 400)
    c.ack("s", 0.31)
    missing = c.nxt["c"]
    c.nxt["c"] += 1448  # lost on the way in: never captured
    small = c.send("c", 0.4, 200)
    d1 = c.ack("s", 0.41, missing)
    c.send("c", 0.45, 120)
    d2 = c.ack("s", 0.46, missing)
    d3 = c.ack("s", 1.5, missing)
    return c.table(), {"missing": missing, "small": small, "dups": [d1, d2, d3]}


def pmtud_working() -> tuple[PacketTable, dict[str, Any]]:
    c = Conv()
    _smtp_start(c)
    big = c.send("c", 1.4, 1448, flags="A")
    c.ptb(1.45, big, 1400)
    r = c.send("c", 1.4501, 1348, seq=big["seq"], flags="A")
    c.send("c", 1.4502, 100, seq=big["seq"] + 1348)
    c.ack("s", 1.65)
    c.send("c", 1.66, 1348)
    c.ack("s", 1.86)
    return c.table(), {"big": big, "resend": r}


def ptb_ignored() -> tuple[PacketTable, dict[str, Any]]:
    c = Conv()
    _smtp_start(c)
    big = c.send("c", 1.4, 1448, flags="A")
    c.ptb(1.45, big, 1400)
    r1 = c.send("c", 1.8, 1448, seq=big["seq"], flags="A")
    c.ptb(1.85, r1, 1400)
    r2 = c.send("c", 2.6, 1448, seq=big["seq"], flags="A")
    c.ack("s", 2.7, big["seq"])
    return c.table(), {"big": big, "retx": [r1, r2]}


def injected_rst() -> tuple[PacketTable, dict[str, Any]]:
    c = Conv()
    _smtp_start(c)
    c.send("c", 1.3, 500)
    c.ack("s", 1.5)
    rst = c.rst("s", 1.51, ttl=250, ip_id=0xB503)
    return c.table(), {"rst": rst}


def ips_drop() -> tuple[PacketTable, dict[str, Any]]:
    """Server download: full-size segments pass, then one stalls for good (http-sha256-drop)."""
    c = Conv(
        client="192.168.1.100", server="192.168.1.210", cport=35820, sport=80, c_ttl=64, s_ttl=64
    )
    c.handshake(0.0, 0.002, at="s")
    c.send("c", 0.01, 300)
    t = 0.02
    for _ in range(6):
        c.send("s", t, 1448, flags="A")
        c.send("s", t + 0.0001, 1448, flags="A")
        c.ack("c", t + 0.003)
        t += 0.01
    stuck = c.send("s", t, 1448, flags="A")
    c.send("s", t + 0.0001, 296)
    c.ack("c", t + 0.003, stuck["seq"])
    retx = [
        c.send("s", t + d, 1448, seq=stuck["seq"], flags="A") for d in (0.3, 0.9, 2.1, 4.5, 9.3)
    ]
    c.rst("s", t + 18)
    return c.table(), {"stuck": stuck, "retx": retx}


def plain_loss() -> tuple[PacketTable, dict[str, Any]]:
    """Bulk download with one full-size segment lost and fast-retransmitted; all ACKed."""
    c = Conv(client="10.0.88.85", server="192.168.0.27", cport=50368, sport=80, c_ttl=55, s_ttl=64)
    c.handshake(0.0, 0.18, at="s")
    c.send("c", 0.2, 474)
    c.ack("s", 0.2001)
    t = 0.21
    segs = [c.send("s", t + i * 0.0001, 1446, flags="A") for i in range(8)]
    lost = segs[2]
    c.ack("c", t + 0.19, segs[1]["seq"] + 1446)
    dups = [c.ack("c", t + 0.19 + i * 0.001, lost["seq"]) for i in (1, 2, 3)]
    fr = c.send("s", t + 0.195, 1446, seq=lost["seq"], flags="A")
    c.ack("c", t + 0.38)
    c.fin("s", t + 0.4)
    c.fin("c", t + 0.58)
    c.ack("s", t + 0.581)
    return c.table(), {"lost": lost, "retx": fr, "dups": dups}


def peer_unresponsive_at_receiver() -> tuple[PacketTable, dict[str, Any]]:
    """ssh-hassh-incomplete: captured at the receiver, which goes silent."""
    c = Conv(
        client="186.64.207.189",
        server="192.168.178.254",
        cport=50000,
        sport=22,
        c_ttl=45,
        s_ttl=64,
        mss_c=1452,
    )
    c.handshake(0.0, 0.195, at="s")
    c.send("s", 0.2, 21)
    c.send("c", 0.4, 21)
    c.ack("s", 0.4001)
    big = c.send("c", 0.6, 1440, flags="A")
    small = c.send("c", 0.6001, 528)
    rs = c.send("c", 1.0, 528, seq=small["seq"])
    retx = [
        c.send("c", 0.6 + d, 1440, seq=big["seq"], flags="A") for d in (1.4, 4.3, 10.1, 21.7, 45.0)
    ]
    return c.table(), {"big": big, "small": small, "small_retx": rs, "retx": retx}


def tso_super_segments() -> tuple[PacketTable, dict[str, Any]]:
    """Captured on the sending host: 2896/4344-byte segments, all acknowledged."""
    c = Conv()
    _smtp_start(c)
    s1 = c.send("c", 1.4, 2896, flags="A")
    s2 = c.send("c", 1.4001, 4344)
    c.ack("s", 1.6)
    return c.table(), {"supers": [s1, s2]}


def mid_connection_blackhole() -> tuple[PacketTable, dict[str, Any]]:
    """Capture starts after the handshake, seq numbers near the 2^32 wrap."""
    c = Conv(cisn=(1 << 32) - 700, sisn=123456)
    c.nxt = {"c": (1 << 32) - 600, "s": 123460}
    c.send("c", 0.0, 300)
    c.ack("s", 0.2)
    big = c.send("c", 0.3, 1448, flags="A")  # crosses the wrap
    c.send("c", 0.3001, 100)
    c.ack("s", 0.5, big["seq"])
    retx = [c.send("c", 0.3 + d, 1448, seq=big["seq"], flags="A") for d in (0.4, 1.2, 2.8)]
    c.ack("s", 3.3, big["seq"])
    return c.table(), {"big": big, "retx": retx}


def one_sided() -> tuple[PacketTable, dict[str, Any]]:
    """Only our outbound packets were captured (asymmetric routing)."""
    c = Conv()
    _smtp_start(c)
    big = c.send("c", 1.4, 1448, flags="A")
    retx = [c.send("c", 1.4 + d, 1448, seq=big["seq"], flags="A") for d in (0.4, 1.2)]
    rows = [r for r in c.rows if r["src"] == c.client]
    c.rows = rows
    return c.table(), {"big": big, "retx": retx}


def healthy() -> tuple[PacketTable, dict[str, Any]]:
    c = Conv()
    _smtp_start(c)
    for i in range(5):
        c.send("c", 1.4 + i * 0.001, 1448, flags="A")
    c.ack("s", 1.6)
    c.fin("c", 1.7)
    c.fin("s", 1.9)
    c.ack("c", 1.9001)
    return c.table(), {}
