"""Plain loss and unresponsive peers."""

from __future__ import annotations

from diagnose import scenarios as S
from diagnose.helpers import only, run, text
from pathsleuth.diagnose.model import CapturePoint, Severity, Verdict
from tcp.tables import Conv


def test_plain_loss_on_full_mtu_path() -> None:
    t, _n = S.plain_loss()
    f = only(run(t), Verdict.PACKET_LOSS)
    ev = text(f)
    assert "1 fast" in ev and "size is not the problem" in ev
    assert f.severity == Severity.INFO  # one fast retransmission, recovered


def test_repeated_timeouts_are_a_warning() -> None:
    c = Conv()
    c.handshake(0.0, 0.05)
    for k in range(3):
        s = c.send("c", 1.0 + k, 1448)
        c.send("c", 1.5 + k, 1448, seq=s["seq"])
        c.ack("s", 1.6 + k)
    f = only(run(c.table()), Verdict.PACKET_LOSS)
    assert f.severity == Severity.WARNING
    assert "3 after a timeout" in text(f)


def test_peer_unresponsive_at_receiver() -> None:
    t, _n = S.peer_unresponsive_at_receiver()
    f = only(run(t), Verdict.PEER_UNRESPONSIVE)
    assert f.capture_point == CapturePoint.RECEIVER
    ev = text(f)
    assert "reached it" in ev and "other segments go unanswered" in ev
    assert "192.168.178.254" in f.fix_owner
    assert f.confidence >= 0.85


def test_unanswered_syns() -> None:
    c = Conv()
    for t in (0.0, 1.0, 3.0):
        c.rows.append(
            {
                **c._base("c", t),
                "seq": 77,
                "flags": "S",
                "tcp_hdr_len": 40,
                "payload_len": 0,
                "ip_len": 60,
            }
        )
    f = only(run(c.table()), Verdict.PEER_UNRESPONSIVE)
    assert f.severity == Severity.WARNING
    assert "3 SYNs over 3.0 s" in text(f)
