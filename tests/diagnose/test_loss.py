"""Plain loss and unresponsive peers."""

from __future__ import annotations

from pathlib import Path

from diagnose import scenarios as S
from diagnose.crafted import TS_OPTION, Trace
from diagnose.helpers import only, run, text
from pathsleuth.capture import craft
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


def test_sack_recovery_is_loss() -> None:
    """Linux repairs a hole after one duplicate ACK once SACK blocks reach past it."""
    c = Conv()
    c.handshake(0.0, 0.05)
    segs = [c.send("c", 0.1 + i * 1e-4, 1448, flags="A") for i in range(6)]
    c.ack("s", 0.15, segs[1]["seq"])
    c.ack("s", 0.151, segs[1]["seq"], sack=[(segs[2]["seq"], c.nxt["c"])])
    c.send("c", 0.152, 1448, seq=segs[1]["seq"], flags="A")
    c.ack("s", 0.2)
    f = only(run(c.table()), Verdict.PACKET_LOSS)
    assert "1 fast" in text(f) and f.severity == Severity.INFO


def test_a_d_sacked_resend_is_loss_unless_another_resend_had_repaired_it() -> None:
    """The peer reports a resend back by D-SACK. With only the original before it, the
    original got there and its ACK was lost (the lab's `loss` scenario, one run in a few):
    loss. When an earlier resend had carried the same bytes (suricata-verify bug-5881-01:
    an early resend, then a SACK-driven one), the sender repaired one hole twice: no loss
    evidence, and no finding."""
    c = Conv()
    c.handshake(0.0, 0.05)
    seg = c.send("c", 0.1, 50)
    r = c.send("c", 0.35, 50, seq=seg["seq"])  # no ACK came: a timeout
    c.ack("s", 0.4, sack=[(r["seq"], r["seq"] + 50)])
    f = only(run(c.table()), Verdict.PACKET_LOSS)
    assert "1 after a timeout" in text(f)

    c = Conv()
    c.handshake(0.0, 0.04)
    _a, b, d = (c.send("c", 0.1 + i * 1e-4, n, flags="A") for i, n in enumerate((80, 1448, 506)))
    c.send("c", 0.105, 1448, seq=b["seq"], flags="A")  # early
    c.ack("s", 0.14, b["seq"], sack=[(d["seq"], d["seq"] + 506)])
    fast = c.send("c", 0.141, 1448, seq=b["seq"], flags="A")
    c.ack("s", 0.145)
    c.ack("s", 0.181, sack=[(fast["seq"], fast["seq"] + 1448)])
    assert run(c.table()).findings == []


def test_lab_loss_run_repaired_by_sack_recovery(tmp_path: Path) -> None:
    """Regression (lab `loss`, one run in ten): 7% random loss dropped two of the 62
    data segments only, and Linux repaired each hole after one duplicate ACK, its SACK
    blocks reaching past it (RACK). Byte-level replay of that run, through the pcap path."""
    tr = Trace()
    tr.handshake(0.0, 0.00004, 0.000007)
    tr.seg("s", 0.2, 0, 0, 42, flags="PA")
    tr.seg("c", 0.2001, 0, 42, 163, flags="PA")  # EHLO ... DATA, answered, in one
    tr.seg("s", 0.2002, 42, 163, 37, flags="PA")
    data, n, lost = 163, 62, (32, 36)  # the 33rd and 37th segments never arrive
    for k in range(n):
        tr.seg("c", 0.2003 + k * 1e-6, data + k * 1448, 79, 1448)

    def sack(*blocks: tuple[int, int]) -> list[craft.TcpOption]:
        """Timestamps and SACK blocks (segment numbers, absolute edges as on the wire)."""
        base = tr.isn_c + 1 + data
        edges = [(base + a * 1448, base + b * 1448) for a, b in blocks]
        return [*TS_OPTION, ("nop", None), ("nop", None), ("sack", edges)]

    hole1, hole2 = (data + k * 1448 for k in lost)
    # as the server sent them: the ACK at the hole, a window update, one duplicate ACK
    tr.seg("s", 0.2004, 79, hole1, options=sack((33, 35)), window=59)
    tr.seg("s", 0.20041, 79, hole1, options=sack((33, 36)), window=66)
    tr.seg("s", 0.20042, 79, hole1, options=sack((37, 39), (33, 36)), window=66)
    resend1 = tr.seg("c", 0.20043, hole1, 79, 1448)
    tr.seg("s", 0.20044, 79, hole2, options=sack((37, 40)))
    resend2 = tr.seg("c", 0.20045, hole2, 79, 1448)
    tr.seg("s", 0.2006, 79, data + n * 1448)
    f = only(tr.analyze(tmp_path / "loss.pcap"), Verdict.PACKET_LOSS)
    assert f"frames {resend1} (fast, 1448 bytes), {resend2} (fast, 1448 bytes)" in text(f)
    assert "2 of 65 data segments" in text(f)


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
