"""ICMP error correlation: flow, exact segment, MTU, router and plausibility checks."""

from __future__ import annotations

from pathsleuth.capture.table import IPPROTO_ICMP, IPPROTO_UDP
from pathsleuth.tcp.connections import build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.icmp import IcmpEvent, match_icmp
from tcp.tables import Conv, make_table


def _events(c: Conv) -> list[IcmpEvent]:
    ct = build_connections(c.table())
    analyse_directions(ct)
    return match_icmp(ct)


def test_ptb_matched_to_flow_and_latest_transmission() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    big = c.send("c", 0.2, 1448)
    r = c.send("c", 0.6, 1448, seq=big["seq"])
    c.ptb(0.61, r, 1400, router="10.9.9.1")
    (ev,) = _events(c)
    assert ev.kind == "ptb" and ev.mtu == 1400 and ev.valid_ptb
    assert ev.conn == 0 and ev.half == 0
    assert ev.router == "10.9.9.1" and ev.router_hops == 5
    assert ev.quoted_seq == big["seq"] and ev.quoted_ip_len == 1500
    assert ev.segment_frame == 5  # the retransmission, the latest before the error
    assert ev.to_dict()["quoted"]["sport"] == 51064


def test_ptb_mtu_not_smaller_than_quote_is_implausible() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    small = c.send("c", 0.2, 12)
    c.ptb(0.3, small, 737)
    (ev,) = _events(c)
    assert not ev.valid_ptb
    assert "implausible" in ev.problems[0]


def test_ipv6_ptb_below_1280_is_invalid() -> None:
    c = Conv(client="2001:db8::1", server="2001:db8::2", v6=True)
    c.handshake(0.0, 0.1)
    big = c.send("c", 0.2, 1400)
    c.ptb(0.3, big, 1200, router="2001:db8::fe")
    (ev,) = _events(c)
    assert ev.kind == "ptb" and not ev.valid_ptb
    assert "1280" in ev.problems[0]
    assert ev.half == 0


def test_other_unreachables_and_unmatched_quotes() -> None:
    rows = [
        {
            "t": 0.0,
            "ip_version": 4,
            "proto": IPPROTO_ICMP,
            "src": "10.0.0.1",
            "dst": "10.0.0.2",
            "ttl": 64,
            "icmp_type": 3,
            "icmp_code": 3,
            "q_version": 4,
            "q_src": "10.0.0.2",
            "q_dst": "10.0.0.9",
            "q_proto": IPPROTO_UDP,
            "q_sport": 5353,
            "q_dport": 53,
        },
        {
            "t": 0.1,
            "ip_version": 4,
            "proto": IPPROTO_ICMP,
            "src": "10.0.0.1",
            "dst": "10.0.0.2",
            "ttl": 250,
            "icmp_type": 11,
            "icmp_code": 0,
        },
    ]
    ct = build_connections(make_table(rows))
    analyse_directions(ct)
    evs = match_icmp(ct)
    assert [e.kind for e in evs] == ["unreachable", "time_exceeded"]
    assert all(e.conn == -1 and e.mtu is None for e in evs)


def test_a_table_cut_to_the_tcp_columns_has_no_icmp_errors() -> None:
    from pathsleuth.tcp.columns import split_for_analysis

    c = Conv()
    c.handshake(0.0)
    big = c.send("c", 0.1, 1448)
    c.ptb(0.12, big, 1400)
    tcp, icmp = split_for_analysis(c.table())
    alone, apart = build_connections(tcp), build_connections(tcp, icmp)
    analyse_directions(alone)
    analyse_directions(apart)
    assert match_icmp(alone) == []
    (ev,) = match_icmp(apart)
    assert ev.kind == "ptb" and ev.segment_frame == 4 and ev.frame == 5
