"""Where the capture was taken (`Context.local_end`), on real-kernel-like handshakes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from diagnose.crafted import Trace
from diagnose.helpers import only, text
from pathsleuth.diagnose.model import CapturePoint, Direction, Verdict


def _blackhole(tr: Trace, syn_synack: float, synack_ack: float) -> None:
    """A black hole after a handshake with the given legs (seconds)."""
    tr.handshake(0.0, syn_synack, synack_ack)
    tr.seg("s", 0.001, 0, 0, 40, flags="PA")
    tr.seg("c", 0.002, 0, 40, 50, flags="PA")
    tr.seg("s", 0.003, 40, 50, 37, flags="PA")
    for t in (0.004, 0.21, 0.63, 1.5):
        tr.seg("c", t, 50, 77, 1448)
    tr.seg("s", 0.2, 40, 50, 37, flags="PA")  # the 354 again, the ACK stays at 50


def test_lab_handshake_too_close_to_tell_falls_back_to_ttl(tmp_path: Path) -> None:
    """Regression (lab ptb-ignored, one run in a few): on veths the round trip is ~36 us
    and the client's own SYN/ACK -> ACK turnaround ~9 us, past the 25% ratio; the client's
    initial TTL 64 against the server's 62 still places the capture at the client."""
    tr = Trace()
    _blackhole(tr, 0.0000356, 0.0000090)
    f = only(tr.analyze(tmp_path / "veth.pcap"), Verdict.PMTU_BLACKHOLE)
    assert f.capture_point == CapturePoint.SENDER and f.direction == Direction.OUTBOUND
    assert (
        "capture point: SYN -> SYN/ACK 0.036 ms, SYN/ACK -> ACK 0.009 ms (too close to tell); "
        "initiator's TTL 64 is an initial TTL: captured at the initiator"
    ) in text(f)


@pytest.mark.parametrize(("ttl_s", "point"), [(64, CapturePoint.MIDDLE), (62, CapturePoint.SENDER)])
def test_ttl_decides_only_when_one_end_shows_an_initial_ttl(
    tmp_path: Path, ttl_s: int, point: CapturePoint
) -> None:
    """Equal legs (a capture half-way in time): with both ends at an initial TTL nothing
    tells them apart and the capture counts as taken between the ends."""
    tr = Trace(ttl_s=ttl_s)
    _blackhole(tr, 0.01, 0.01)
    result = tr.analyze(tmp_path / "mid.pcap")
    (f,) = result.findings
    assert f.capture_point == point
    if point == CapturePoint.MIDDLE:
        assert "SYN -> SYN/ACK 10.0 ms, SYN/ACK -> ACK 10.0 ms: captured between the ends" in text(
            f
        )


def test_one_frame_is_named_in_the_singular(tmp_path: Path) -> None:
    """The stuck ACK seen once reads "(frame N)", several "(frames N, M)"."""
    tr = Trace()
    _blackhole(tr, 0.01, 0.0001)
    f = only(tr.analyze(tmp_path / "one.pcap"), Verdict.PMTU_BLACKHOLE)
    ev = text(f)
    assert re.search(r"the peer's ACK stays at \d+ \(frame \d+\)", ev), ev
    assert re.search(r"retransmitted in frames \d+, \d+, \d+", ev), ev
