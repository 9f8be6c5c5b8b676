"""Chart points: a->b segments at relative seq, b->a at relative ACK, ICMP at the quote."""

from __future__ import annotations

from pathsleuth.report.views import SeqPoint
from pathsleuth.tcp.connections import build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.icmp import match_icmp
from pathsleuth.tcp.seqpoints import flow_points
from tcp.tables import Conv


def test_points_of_a_resent_segment_and_its_ptb() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    big = c.send("c", 0.2, 1448)
    c.ack("s", 0.3, big["seq"])
    c.send("c", 0.6, 1448, seq=big["seq"])
    c.ptb(0.61, big, 1400)
    ct = build_connections(c.table())
    analyse_directions(ct)
    pts = [SeqPoint(*x) for x in flow_points(ct, 0, match_icmp(ct))]
    assert [(x.kind, x.direction, x.rel_seq) for x in pts] == [
        ("syn", "a->b", 0),
        ("syn", "b->a", 1),
        ("ack", "a->b", 1),
        ("data", "a->b", 1),
        ("ack", "b->a", 1),
        ("retrans", "a->b", 1),
        ("icmp", "b->a", 1),
    ]
    assert pts[3].length == 1448 and pts[4].length == 0
    assert [x.frame for x in pts] == sorted(x.frame for x in pts)
