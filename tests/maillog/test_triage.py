"""Per-destination judgement, differentials, capture filter."""

from __future__ import annotations

import subprocess

import pytest

from pathsleuth.maillog.events import ErrorClass, Outcome, Stage
from pathsleuth.maillog.model import Attempt
from pathsleuth.maillog.triage import (
    SMALL_MESSAGE_BYTES,
    Confidence,
    Triage,
    capture_filter,
    differentials,
)


def att(
    size: int | None,
    ok: bool = False,
    stage: Stage = Stage.BODY,
    dest: str = "d.example",
    cls: ErrorClass = ErrorClass.PMTU_LIKE_AFTER_DATA,
) -> Attempt:
    return Attempt(
        file="f",
        line=1,
        msg_id="m",
        ts=1.0,
        start_ts=None,
        destination=dest,
        domain=dest,
        host="mx." + dest,
        ip="192.0.2.1",
        recipients=(),
        size=size,
        sender=None,
        stage=Stage.DONE if ok else stage,
        outcome=Outcome.DELIVERED if ok else Outcome.DEFERRED,
        error_class=ErrorClass.NONE if ok else cls,
        code=None,
        response="" if ok else "timed out",
        banner=None,
    )


def _judge(*atts: Attempt) -> Triage:
    t = Triage()
    for a in atts:
        t.add(a)
    return t


def test_confidence_rules() -> None:
    (s,) = _judge(att(90000), att(500, ok=True)).result().suspects
    assert s.confidence is Confidence.STRONG and s.largest_delivered == 500
    (s,) = _judge(att(90000, stage=Stage.END_OF_DATA)).result().suspects
    assert s.confidence is Confidence.WEAK
    (s,) = (
        _judge(att(90000, stage=Stage.END_OF_DATA), att(None, stage=Stage.END_OF_DATA))
        .result()
        .suspects
    )
    assert s.confidence is Confidence.STRONG
    (s,) = _judge(att(90000), att(90000), att(100000, ok=True)).result().suspects
    assert s.confidence is Confidence.WEAK
    assert _judge(att(SMALL_MESSAGE_BYTES)).result().suspects == ()
    assert (
        _judge(att(90000, stage=Stage.RCPT, cls=ErrorClass.TIMEOUT_BEFORE_DATA)).result().suspects
        == ()
    )


def test_summaries() -> None:
    r = _judge(
        att(90000),
        att(500, ok=True),
        att(800, dest="e.example", cls=ErrorClass.REJECTED_5XX, stage=Stage.RCPT),
    ).result()
    assert [d.destination for d in r.destinations] == ["d.example", "e.example"]
    assert {c.error_class for c in r.classes} == {
        ErrorClass.PMTU_LIKE_AFTER_DATA,
        ErrorClass.REJECTED_5XX,
    }
    assert (r.attempts, r.delivered, r.failed) == (3, 1, 2)


def test_differentials() -> None:
    kinds = [d.kind for d in differentials(["220 ****************************0*0*0*0*0*0"])]
    assert kinds == ["smtp_inspection", "outbound_av_scanning"]
    kinds = [d.kind for d in differentials(["220 MYMF1 ESMTP SonicWALL (7.0.0.1393)"])]
    assert kinds == ["scanning_middlebox", "outbound_av_scanning"]


@pytest.mark.parametrize("ips", [[], ["203.106.231.124"], ["192.0.2.1", "2001:db8::25"]])
def test_capture_filter_compiles(ips: list[str]) -> None:
    cmd = capture_filter(ips)
    expr = cmd.split("'")[1]
    assert "icmp[0] == 3" in expr and "icmp6[0] == 2" in expr
    proc = subprocess.run(
        ["tcpdump", "-d", expr], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
