"""Connection summaries: state, close, history letters, per-direction counters."""

from __future__ import annotations

from pathsleuth.tcp.connections import build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.summary import ConnectionSummary, summarise
from tcp.tables import Conv


def _summ(c: Conv, *extra: Conv) -> list[ConnectionSummary]:
    ct = build_connections(c.table(*extra))
    analyse_directions(ct)
    return summarise(ct, file="f.pcap")


def test_clean_close() -> None:
    c = Conv()
    c.handshake(0.0, 0.1)
    c.send("c", 0.2, 100)
    c.ack("s", 0.3)
    c.fin("c", 0.4)
    c.fin("s", 0.5)
    c.ack("c", 0.6)
    (s,) = _summ(c)
    assert (s.state, s.close, s.history) == ("SF", "fin", "ShADaFf")
    assert (s.src, s.sport, s.dst, s.dport) == ("192.168.1.254", 51064, "203.106.231.124", 25)
    assert s.packets == 8 and s.bytes == 100
    assert s.handshake_rtt_ms == 100.1
    assert (s.start_ts, s.end_ts) == (0.0, 0.6)
    d = s.to_dict()
    assert d["directions"]["orig"]["mss"] == 1460
    assert d["directions"]["resp"]["hops"] == 10
    assert d["directions"]["orig"]["isn"] == c.cisn


def test_reset_rejected_and_unanswered() -> None:
    a = Conv(cport=1)
    a.handshake(0.0)
    a.rst("s", 0.5)
    b = Conv(cport=2)
    b.rows.append(
        {
            **b._base("c", 1.0),
            "seq": 5,
            "flags": "S",
            "tcp_hdr_len": 40,
            "payload_len": 0,
            "ip_len": 60,
        }
    )
    b.rows.append(
        {
            **b._base("s", 1.01),
            "seq": 0,
            "ack": 6,
            "flags": "RA",
            "tcp_hdr_len": 20,
            "payload_len": 0,
            "ip_len": 40,
        }
    )
    c = Conv(cport=3)
    c.rows.append(
        {
            **c._base("c", 2.0),
            "seq": 5,
            "flags": "S",
            "tcp_hdr_len": 40,
            "payload_len": 0,
            "ip_len": 60,
        }
    )
    s = {x.sport: x for x in _summ(a, b, c)}
    assert (s[1].state, s[1].close) == ("RSTR", "rst")
    assert s[2].state == "REJ"
    assert (s[3].state, s[3].close, s[3].history) == ("S0", "none", "S")


def test_mid_connection_history_is_flagged() -> None:
    c = Conv()
    c.nxt = {"c": 5000, "s": 9000}
    c.send("s", 0.0, 100)
    c.ack("c", 0.1)
    (s,) = _summ(c)
    assert s.state == "OTH"
    assert s.history.startswith("^")


def test_one_sided_connection_spans_its_own_frames() -> None:
    """A connection seen in one direction only: its first and last frame and times are
    those of that direction (the absent half contributes nothing)."""
    a = Conv(cport=40001)
    a.send("c", 1.0, 10)
    a.send("c", 2.0, 10)
    b = Conv(cport=40002)
    b.send("s", 1.5, 10)
    s1, s2 = _summ(a, b)
    assert (s1.first_frame, s1.last_frame, s1.start_ts, s1.end_ts) == (1, 3, 1.0, 2.0)
    assert (s2.first_frame, s2.last_frame) == (2, 2)
    assert set(s1.directions) == {"orig"} and set(s2.directions) == {"resp"}
