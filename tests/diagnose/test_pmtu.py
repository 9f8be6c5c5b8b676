"""Black-hole (outbound and inbound), pmtud_working and ptb_ignored detectors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diagnose import scenarios as S
from diagnose.crafted import Trace
from diagnose.helpers import only, run, text
from pathsleuth.diagnose.context import Context
from pathsleuth.diagnose.model import CapturePoint, Direction, Severity, Verdict
from pathsleuth.diagnose.pmtu import largest_acked_index
from pathsleuth.tcp.columns import for_analysis
from pathsleuth.tcp.connections import build_connections
from pathsleuth.tcp.directions import analyse_directions
from pathsleuth.tcp.icmp import match_icmp


def test_seed_like_blackhole_at_sender() -> None:
    t, n = S.blackhole_at_sender()
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    assert f.severity == Severity.ERROR and f.confidence >= 0.9
    assert f.recovered is False
    assert f.direction == Direction.OUTBOUND and f.capture_point == CapturePoint.SENDER
    assert "our side" in f.fix_owner
    assert (f.flow.src, f.flow.dst, f.flow.dport) == ("192.168.1.254", "203.106.231.124", 25)
    ev = text(f)
    p = n["p"]
    assert "handshake, MSS 1460 both sides" in ev
    assert f"first full-size segment (1448 bytes, DF, ip.len 1500, seq {p}" in ev
    assert "retransmitted in frames" in ev
    assert f"the peer's ACK stays at {p}" in ev
    assert "no ICMP type 3 code 4 for this flow" in ev
    assert "≈ 10 hops" in ev and "TTL 54" in ev
    assert f.path_mtu is not None and f.path_mtu.high == 1500 and f.path_mtu.low is not None
    assert f.path_mtu.low < 1500
    assert f.wireshark_filter.startswith(
        "(ip.addr==192.168.1.254 && ip.addr==203.106.231.124 && tcp.port==51064 && tcp.port==25)"
    )
    assert [a.id for a in f.advice][:3] == ["allow-icmp-ptb", "mss-clamp", "tcp-mtu-probing"]
    assert f.advice[-1].id == "no-pmtu-disc"


def test_recovered_by_mtu_probing() -> None:
    t, _n = S.blackhole_at_sender(recover=True)
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    assert f.recovered is True and f.severity == Severity.WARNING
    assert "fell back to 1024-byte segments without any ICMP" in text(f)


def test_blackhole_seen_at_receiver_inbound() -> None:
    t, n = S.blackhole_inbound_at_receiver()
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    assert f.direction == Direction.INBOUND and f.capture_point == CapturePoint.RECEIVER
    assert "remote sender" in f.fix_owner
    assert f"our ACK stays at {n['missing']}" in text(f)
    assert f.advice[0].id == "mss-clamp"


def test_mid_connection_start_across_wrap() -> None:
    t, n = S.mid_connection_blackhole()
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    ev = text(f)
    assert "starts mid-connection" in ev
    assert f"seq {n['big']['seq']}" in ev


def test_pmtud_working() -> None:
    t, _n = S.pmtud_working()
    f = only(run(t), Verdict.PMTUD_WORKING)
    assert f.severity == Severity.INFO
    assert f.path_mtu is not None and f.path_mtu.high == 1400
    ev = text(f)
    assert "MTU 1400" in ev and "10.9.9.1" in ev and "resent at ip.len 1400" in ev


def test_ptb_ignored() -> None:
    t, _n = S.ptb_ignored()
    f = only(run(t), Verdict.PTB_IGNORED)
    assert f.severity == Severity.ERROR
    assert "keeps sending 1500-byte packets above MTU 1400" in text(f)
    assert f.advice[0].id == "allow-icmp-ptb"


def test_tso_super_segments_are_not_blackholed() -> None:
    t, _n = S.tso_super_segments()
    assert run(t).findings == []


def test_healthy_connection_gets_no_finding() -> None:
    t, _ = S.healthy()
    r = run(t)
    assert r.findings == []
    assert len(r.connections) == 1


def test_one_sided_capture_is_not_a_blackhole() -> None:
    t, _ = S.one_sided()
    r = run(t)
    assert all(f.verdict != Verdict.PMTU_BLACKHOLE for f in r.findings)
    assert all(f.severity == Severity.INFO for f in r.findings)


def test_receiver_capture_is_never_a_blackhole() -> None:
    t, _ = S.peer_unresponsive_at_receiver()
    assert all(f.verdict != Verdict.PMTU_BLACKHOLE for f in run(t).findings)


def test_quic_guard_loss_of_large_and_small_alike_is_not_a_blackhole() -> None:
    from tcp.tables import Conv

    c = Conv()
    c.handshake(0.0, 0.1)
    c.send("c", 0.2, 1000)
    c.ack("s", 0.3)
    big = c.send("c", 0.4, 1448, flags="A")
    small = c.send("c", 0.4001, 500)
    for k, d in enumerate((0.4, 1.2, 2.8)):
        c.send("c", 0.4 + d, 1448, seq=big["seq"], flags="A")
        c.send("c", 0.4 + d + 0.0001, 500, seq=small["seq"])
        c.ack("s", 0.5 + d + k * 0.01, big["seq"])
    r = run(c.table())
    assert Verdict.PMTU_BLACKHOLE not in [f.verdict for f in r.findings]
    assert r.findings  # it is still reported, as a drop / loss


def test_invalid_or_bogus_ptbs_make_no_pmtu_finding() -> None:
    from tcp.tables import Conv

    c = Conv()
    c.handshake(0.0, 0.1)
    small = c.send("c", 0.2, 12)
    c.ptb(0.25, small, 737)  # PTB for a 64-byte packet: implausible
    c.ack("s", 0.3)
    big = c.send("c", 0.4, 1448)
    c.ptb(0.45, big, 1500)  # MTU not smaller than the packet
    c.ack("s", 0.6)
    r = run(c.table())
    assert r.findings == []
    assert [bool(e.problems) for e in r.icmp] == [True, True]


def _inbound(fill: int | None) -> tuple[object, int]:
    from tcp.tables import Conv

    c = Conv(client="198.51.100.7", server="192.168.1.10", cport=40123, c_ttl=50, s_ttl=64)
    c.handshake(0.0, 0.1, at="s")
    c.send("c", 0.3, 400)
    c.ack("s", 0.31)
    missing = c.nxt["c"]
    c.nxt["c"] += 1448
    c.send("c", 0.4, 200)
    for k in range(3):
        c.ack("s", 0.41 + k * 0.3, missing)
    if fill is not None:
        c.send("c", 1.5, fill, seq=missing)
        if fill < 1448:
            c.send("c", 1.5001, 1448 - fill, seq=missing + fill)
        c.ack("s", 1.51)
    return c.table(), missing


def test_inbound_recovered_when_the_peer_resends_smaller() -> None:
    t, _ = _inbound(fill=536)
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    assert f.recovered is True and f.severity == Severity.WARNING
    assert "resent it as 536-byte segments" in text(f)


def test_inbound_hole_filled_at_full_size_is_not_a_blackhole() -> None:
    t, _ = _inbound(fill=1448)
    assert Verdict.PMTU_BLACKHOLE not in [f.verdict for f in run(t).findings]


def test_inbound_short_unfilled_hole_at_capture_end_is_not_a_blackhole() -> None:
    t, _ = _inbound(fill=None)  # dup ACKs for 0.6 s, then the capture ends
    assert Verdict.PMTU_BLACKHOLE not in [f.verdict for f in run(t).findings]


def test_advice_uses_a_plausible_mss_not_the_small_segments_that_passed() -> None:
    t, _ = S.blackhole_at_sender()
    f = only(run(t), Verdict.PMTU_BLACKHOLE)
    clamp = next(a for a in f.advice if a.id == "mss-clamp")
    assert "--set-mss 1360" in "\n".join(clamp.commands)
    t, _ = S.ptb_ignored()
    f = only(run(t), Verdict.PTB_IGNORED)
    clamp = next(a for a in f.advice if a.id == "mss-clamp")
    assert "--set-mss 1360" in "\n".join(clamp.commands)  # announced MTU 1400 - 40


def _mtu_probing_fallback(tr: Trace) -> dict[str, int]:
    """The lab's fix-mtu-probing run (Linux 6.x, tcp_mtu_probing=1, tcp_base_mss=1024,
    path MTU 1400, ICMP dropped), frame for frame in miniature: four full-size segments,
    the first resent at full size until the black-hole timer fires, then everything resent
    in 1024-byte segments at other offsets than the originals, then a 1342-byte probe."""
    tr.handshake()
    tr.seg("s", 0.01, 0, 0, 40, flags="PA")  # 220 banner
    tr.seg("c", 0.011, 0, 40, 20, flags="PA")  # EHLO
    tr.seg("s", 0.012, 40, 20, 60, flags="PA")
    tr.seg("c", 0.013, 20, 100, 50, flags="PA")  # MAIL, RCPT, DATA
    tr.seg("s", 0.014, 100, 70, 37, flags="PA")  # 354
    p, mss = 70, 1448
    first = tr.seg("c", 0.05, p, 137, mss)
    for k in range(1, 4):
        tr.seg("c", 0.05 + k * 1e-6, p + k * mss, 137, mss)
    tr.seg("s", 0.25, 100, p, 37, flags="PA")  # the 354 again: the ACK stays at p
    tr.seg("c", 0.2501, p + 4 * mss, 137)
    for t in (0.26, 0.7, 1.5, 3.2):
        tr.seg("c", t, p, 137, mss)
    fallback = tr.seg("c", 6.58, p, 137, 1024)
    tr.seg("s", 6.62, 137, p + 1024)
    off = p + 1024
    for n in (424, 1024, 1024, 1024, 1024, 248):
        tr.seg("c", 6.621, off, 137, n)
        off += n
    assert off == p + 4 * mss
    tr.seg("s", 6.63, 137, off)
    probe = tr.seg("c", 6.64, off, 137, 1342)
    tr.seg("s", 6.65, 137, off + 1342)
    tr.seg("c", 6.66, off + 1342, 137, 1024)
    end = off + 1342 + 1024
    tr.seg("s", 6.67, 137, end)
    tr.seg("c", 6.68, end, 137, 6, flags="PA")  # QUIT
    tr.seg("c", 6.681, end + 6, 137, flags="FA")
    tr.seg("s", 6.69, 137, end + 7, 9, flags="PA")  # 221 after our FIN: the socket is gone
    tr.seg("c", 6.691, end + 7, 0, flags="R", ip_id=0)
    return {"first": first, "fallback": fallback, "probe": probe}


def test_mtu_probing_fallback_resent_at_other_offsets(tmp_path: Path) -> None:
    """Regression (lab fix-mtu-probing): the full-size segments after the first were never
    resent from their own start, so the tcp stage counts them acknowledged once the
    1024-byte resends are; that must not pass for "1448 bytes got through"."""
    tr = Trace()
    n = _mtu_probing_fallback(tr)
    f = only(tr.analyze(tmp_path / "probing.pcap"), Verdict.PMTU_BLACKHOLE)
    assert f.severity == Severity.WARNING and f.recovered is True
    assert "(sent 5x, never acknowledged)" in f.summary
    ev = text(f)
    assert f"frame {n['probe']}: the largest segment that got through is 1342 bytes" in ev
    assert f"frame {n['first']}: first full-size segment (1448 bytes, DF, ip.len 1500" in ev
    assert f"frame {n['fallback']}: the sender fell back to 1024-byte segments" in ev
    assert f.path_mtu is not None and (f.path_mtu.low, f.path_mtu.high) == (1394, 1500)


def test_mtu_probing_without_the_probe_bounds_by_the_fallback_size(tmp_path: Path) -> None:
    """Same, cut before the 1342-byte probe: the largest size that demonstrably passed is
    the 1024-byte fallback, whatever the ACKs of the resent originals seem to say."""
    tr = Trace()
    n = _mtu_probing_fallback(tr)
    tr.frames = tr.frames[: n["probe"] - 1]
    f = only(tr.analyze(tmp_path / "probing.pcap"), Verdict.PMTU_BLACKHOLE)
    assert f.recovered is True
    assert "the largest segment that got through is 1024 bytes" in text(f)
    assert f.path_mtu is not None and f.path_mtu.low == 1076


@pytest.mark.parametrize(
    "scenario",
    [
        S.blackhole_at_sender,
        S.pmtud_working,
        S.ptb_ignored,
        S.ips_drop,
        S.plain_loss,
        S.tso_super_segments,
        S.healthy,
    ],
)
def test_largest_acked_is_the_tcp_stages_max_seg_acked(scenario: Callable[[], Any]) -> None:
    """The detector's "largest segment that got through" and the connection summary's
    max_segment_acked are the same Karn-clean number, for every direction."""
    table, _ = scenario()
    ct = build_connections(for_analysis(table))
    analyse_directions(ct)
    ctx = Context(ct=ct, icmp=match_icmp(ct), file="t")
    wp = ct.p["wire_payload"]
    for half in range(ct.n_half):
        i = largest_acked_index(ctx, half)
        assert (0 if i is None else int(wp[i])) == int(ct.h["max_seg_acked"][half])
