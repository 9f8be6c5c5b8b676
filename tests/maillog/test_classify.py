"""Error classes from stage, code and wording."""

from __future__ import annotations

import pytest

from pathsleuth.maillog.classify import classify, domain_of, reply_code, split_host_ip
from pathsleuth.maillog.events import ErrorClass as E
from pathsleuth.maillog.events import Outcome, Stage


@pytest.mark.parametrize(
    ("stage", "code", "text", "cls"),
    [
        (Stage.BODY, 420, "420 TCP write error", E.PMTU_LIKE_AFTER_DATA),
        (Stage.BODY, 421, "421 4.0.0 Error: timeout", E.PMTU_LIKE_AFTER_DATA),
        (Stage.END_OF_DATA, None, "timed out while sending end of data", E.PMTU_LIKE_AFTER_DATA),
        (
            Stage.END_OF_DATA,
            451,
            "451 4.3.0 Mail server temporarily rejected message",
            E.DEFERRED_4XX,
        ),
        (Stage.END_OF_DATA, 554, "554 5.7.1 spam detected", E.REJECTED_5XX),
        (Stage.RCPT, None, "SMTP timeout after RCPT TO", E.TIMEOUT_BEFORE_DATA),
        (Stage.EHLO, None, "Remote host closed connection in response to EHLO", E.LOST_BEFORE_DATA),
        (Stage.CONNECT, None, "connect to x[1.2.3.4]:25: Connection timed out", E.CONNECT_TIMEOUT),
        (Stage.CONNECT, None, "Connection refused", E.CONNECTION_REFUSED),
        (Stage.RCPT, 450, "450 4.7.1 Greylisted, see http://x", E.GREYLISTING),
        (Stage.STARTTLS, None, "Cannot start TLS: handshake failure", E.TLS),
        (Stage.UNKNOWN, None, "Host or domain name not found", E.DNS),
        (
            Stage.BODY,
            None,
            "delivery temporarily suspended: lost connection while sending message body",
            E.LOCAL,
        ),
        (Stage.UNKNOWN, None, "something odd", E.OTHER),
    ],
)
def test_classify(stage: Stage, code: int | None, text: str, cls: E) -> None:
    assert classify(Outcome.DEFERRED, stage, code, text) is cls


def test_delivered_is_none() -> None:
    assert classify(Outcome.DELIVERED, Stage.DONE, 250, "250 ok") is E.NONE


def test_helpers() -> None:
    assert reply_code("host said: 550 5.1.1 no") == 550
    assert reply_code("version 1.250.3") is None
    assert split_host_ip("mx.example[192.0.2.1]:25") == ("mx.example", "192.0.2.1")
    assert split_host_ip("mx.example. [IPv6:2001:db8::1]") == ("mx.example", "2001:db8::1")
    assert split_host_ip("none") == ("none", None)
    assert domain_of("<Bob@Example.NET>") == "example.net"
    assert domain_of("postmaster") is None
