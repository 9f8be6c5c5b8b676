"""Sendmail parser: outbound results, client-side timeouts, inbound collect timeouts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.maillog.events import (
    DeliveryResult,
    ErrorClass,
    InboundDrop,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.model import MailLogModel
from pathsleuth.maillog.sendmail import SendmailParser


def _feed(lines: list[str]) -> list[object]:
    p = SendmailParser("maillog", year=2024)
    out: list[object] = []
    for i, ln in enumerate(lines, 1):
        out.extend(p.feed(ln, i) or ())
    return out


def test_body_timeout_then_deferred_is_one_pmtu_attempt() -> None:
    ev = _feed(
        [
            "Nov 25 10:00:00 h sm-mta[1]: 4APA00aB001234: from=<a@x.example>, size=250000, class=0, nrcpts=1, msgid=<m@x>, proto=ESMTP, daemon=MTA, relay=localhost [127.0.0.1]",
            "Nov 25 10:10:00 h sm-mta[2]: 4APA00aB001234: timeout writing message to mx.y.example.: Broken pipe",
            "Nov 25 10:10:00 h sm-mta[2]: 4APA00aB001234: to=<b@y.example>, delay=00:10:00, xdelay=00:10:00, mailer=esmtp, pri=120000, relay=mx.y.example. [198.51.100.3], dsn=4.0.0, stat=Deferred: Broken pipe",
        ]
    )
    assert isinstance(ev[0], MessageInfo) and ev[0].size == 250000
    model = MailLogModel()
    atts = [a for e in ev for a in model.feed(e)] + model.finish()  # type: ignore[arg-type]
    (a,) = atts
    assert a.stage is Stage.BODY and a.error_class is ErrorClass.PMTU_LIKE_AFTER_DATA
    assert a.ip == "198.51.100.3" and a.recipients == ("b@y.example",) and a.size == 250000


def test_client_data_status_timeout_is_end_of_data() -> None:
    (r,) = _feed(
        [
            "Nov 25 10:10:00 h sm-mta[2]: 4APA00aB001235: timeout waiting for input from mx.y.example. during client DATA status"
        ]
    )
    assert isinstance(r, DeliveryResult) and r.stage is Stage.END_OF_DATA
    assert r.error_class is ErrorClass.PMTU_LIKE_AFTER_DATA


def test_message_collect_is_inbound() -> None:
    (r,) = _feed(
        [
            "Nov 25 10:10:00 h sendmail[2]: 4APA00aB001236: timeout waiting for input from client.example [192.0.2.9] during message collect"
        ]
    )
    assert isinstance(r, InboundDrop) and r.client_ip == "192.0.2.9"


def test_sent_and_connect_timeout() -> None:
    ev = _feed(
        [
            "Nov 25 10:00:00 h sm-mta[1]: 4APA00aB001237: to=<b@y.example>, delay=00:00:01, mailer=esmtp, relay=mx.y.example. [198.51.100.3], dsn=2.0.0, stat=Sent (ok)",
            "Nov 25 10:00:00 h sm-mta[1]: 4APA00aB001238: to=<b@z.example>, delay=00:00:01, mailer=esmtp, relay=mx.z.example., dsn=4.0.0, stat=Deferred: Connection timed out with mx.z.example.",
            "Nov 25 10:00:00 h sm-mta[1]: 4APA00aB001239: to=<c@h>, delay=00:00:01, mailer=local, pri=1, dsn=2.0.0, stat=Sent",
        ]
    )
    a, b = ev
    assert (
        isinstance(a, DeliveryResult) and a.outcome is Outcome.DELIVERED and a.ip == "198.51.100.3"
    )
    assert isinstance(b, DeliveryResult) and b.error_class is ErrorClass.CONNECT_TIMEOUT


@given(st.text(max_size=200))
def test_random_text_never_crashes(line: str) -> None:
    _feed([line, "Nov 25 10:00:00 h sm-mta[1]: 4APA00aB001234: " + line])


@given(st.integers(0, 10**9), st.ip_addresses(v=4).map(str))
def test_valid_lines_round_trip(size: int, ip: str) -> None:
    info, res = _feed(
        [
            f"Nov 25 10:00:00 h sm-mta[1]: 4APA00aB00123X: from=<a@x>, size={size}, class=0, nrcpts=1",
            f"Nov 25 10:00:01 h sm-mta[1]: 4APA00aB00123X: to=<b@y>, delay=00:00:01, mailer=esmtp, relay=mx.y. [{ip}], dsn=2.0.0, stat=Sent (ok)",
        ]
    )
    assert isinstance(info, MessageInfo) and info.size == size
    assert isinstance(res, DeliveryResult) and res.ip == ip and res.host == "mx.y"
