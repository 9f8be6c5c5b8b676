"""Grouping results into attempts; eviction keeps memory bounded."""

from __future__ import annotations

from pathsleuth.maillog.events import (
    DeliveryResult,
    ErrorClass,
    MessageDone,
    MessageInfo,
    Outcome,
    RecipientInfo,
    Stage,
)
from pathsleuth.maillog.model import MailLogModel


def res(
    msg: str,
    ts: float,
    rcpts: tuple[str, ...] = (),
    ip: str | None = "192.0.2.1",
    host: str | None = "mx",
    stage: Stage = Stage.BODY,
) -> DeliveryResult:
    return DeliveryResult(
        file="f",
        line=1,
        ts=ts,
        msg_id=msg,
        outcome=Outcome.DEFERRED,
        recipients=rcpts,
        host=host,
        ip=ip,
        stage=stage,
        error_class=ErrorClass.PMTU_LIKE_AFTER_DATA,
        response="timed out",
    )


def test_message_context_and_done() -> None:
    m = MailLogModel()
    assert m.feed(MessageInfo(file="f", line=1, ts=0.0, msg_id="A", size=5000, sender="s@x")) == []
    assert (
        m.feed(RecipientInfo(file="f", line=2, ts=0.0, msg_id="A", recipient="r@Dest.Example"))
        == []
    )
    assert m.feed(res("A", 10.0)) == []
    (a,) = m.feed(MessageDone(file="f", line=4, ts=11.0, msg_id="A"))
    assert (a.size, a.sender, a.destination, a.recipients) == (
        5000,
        "s@x",
        "dest.example",
        ("r@Dest.Example",),
    )
    assert m.finish() == []


def test_merge_rules() -> None:
    m = MailLogModel()
    m.feed(res("A", 10.0))  # per-host line
    m.feed(res("A", 10.5, ("a@x",)))
    m.feed(res("A", 10.5, ("b@x",)))
    atts = m.feed(res("A", 100.0, ("a@x",)))  # too late: a new session
    assert [a.recipients for a in atts] == [("a@x", "b@x")]
    atts = m.feed(res("A", 100.5, ip="192.0.2.2", host="mx2"))  # other host: a new session
    assert [a.recipients for a in atts] == [("a@x",)]
    (last,) = m.finish()
    assert last.ip == "192.0.2.2" and last.recipients == ("a@x", "b@x")  # the message's


def test_eviction_bounds_open_messages() -> None:
    m = MailLogModel(max_open=10)
    out = []
    for i in range(100):
        out += m.feed(res(str(i), float(i), ("a@x",)))
    out += m.finish()
    assert len(out) == 100 and m.evicted_open == 90
