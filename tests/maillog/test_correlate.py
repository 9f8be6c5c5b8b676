"""Correlation of log attempts with capture connections: offset estimate and matching."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.maillog.correlate import correlate, estimate_offset, normalise_ip
from pathsleuth.maillog.events import ErrorClass, Outcome, Stage
from pathsleuth.maillog.model import Attempt


@dataclass(frozen=True)
class Conn:
    dst: str
    dport: int
    start_ts: float
    end_ts: float
    connection_id: int
    verdict: str | None


def att(
    ts: float, ip: str | None = "192.0.2.1", start: float | None = None, msg: str = "Q"
) -> Attempt:
    return Attempt(
        file="maillog",
        line=1,
        msg_id=msg,
        ts=ts,
        start_ts=start,
        destination="example.net",
        domain="example.net",
        host="mx",
        ip=ip,
        recipients=(),
        size=90000,
        sender=None,
        stage=Stage.BODY,
        outcome=Outcome.DEFERRED,
        error_class=ErrorClass.PMTU_LIKE_AFTER_DATA,
        code=None,
        response="timed out while sending message body",
        banner=None,
    )


def test_offset_and_matching_with_decoy() -> None:
    off = 3600.0  # log in UTC+1 ... capture in UTC: capture = log + 3600 ... any constant
    attempts = [att(1000.0 + 600 * i, msg=str(i)) for i in range(4)]
    conns = [
        Conn(
            "::ffff:192.0.2.1",
            25,
            a.ts + off - 300 + 0.4 * i,
            a.ts + off + 0.3 * i,
            i,
            "pmtu_blackhole",
        )
        for i, a in enumerate(attempts)
    ]  # type: ignore[operator]
    conns.append(
        Conn("192.0.2.1", 25, 1000.0 + off + 100, 1000.0 + off + 101, 99, None)
    )  # another session
    conns.append(Conn("192.0.2.9", 25, 1000.0 + off, 1000.0 + off, 98, None))  # other host
    ms = correlate([*attempts, att(99999.0, msg="gone"), att(5.0, ip=None, msg="noip")], conns)
    assert [m.connection.connection_id if m.connection else None for m in ms] == [
        0,
        1,
        2,
        3,
        None,
        None,
    ]
    assert ms[0].clock_offset is not None and abs(ms[0].clock_offset - off) < 0.5
    assert all(m.verdict == "pmtu_blackhole" for m in ms[:4])
    assert "no trace in the capture" in ms[4].reason
    assert "no IP" in ms[5].reason


def test_start_times_preferred() -> None:
    a = att(2000.0, start=1700.0)
    c = Conn("192.0.2.1", 25, 1710.0, 2500.0, 7, None)
    (m,) = correlate([a], [c])
    assert m.connection is c and m.clock_offset == 10.0


def test_non_smtp_ports_and_delivered_ignored() -> None:
    a = att(100.0)
    assert correlate([a], [Conn("192.0.2.1", 443, 100.0, 100.0, 1, None)])[0].connection is None


def test_normalise_ip() -> None:
    assert normalise_ip("::ffff:192.0.2.1") == "192.0.2.1"
    assert normalise_ip("2001:DB8::1") == "2001:db8::1"
    assert normalise_ip("bogus") == "bogus"


@given(
    st.floats(-40000, 40000),
    st.lists(st.floats(-1, 1), min_size=3, max_size=20),
    st.lists(st.floats(-30000, 30000), max_size=5),
)
def test_offset_robust_to_outliers(off: float, jitter: list[float], outliers: list[float]) -> None:
    # outliers: fewer than the true pairs and clearly away from the offset (beyond the window)
    far = [o for o in outliers if abs(o - off) > 5.0][: len(jitter) - 1]
    pairs = [(i, off + j) for i, j in enumerate(jitter)] + [(100 + i, o) for i, o in enumerate(far)]
    est = estimate_offset(pairs, tolerance=2.0)
    assert est is not None and abs(est - off) <= 1.0
