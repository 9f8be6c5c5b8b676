"""Format detection from the first lines."""

from __future__ import annotations

import pytest

from pathsleuth.maillog.detect import detect_format, make_parser

LINE = (
    "Nov 25 06:30:01 m postfix/smtp[1]: Q1: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, "
    "delay=1, dsn=4.4.2, status=deferred (conversation with mx.b.example[192.0.2.1] timed out while "
    "sending message body)"
)


def test_detect_prefers_the_matching_format() -> None:
    assert detect_format(["16:00:13 896 MSG 58050 Command: [202.75.48.118]"]) == "gwia"
    assert detect_format(["1999-03-02 09:44:33 10HmaX-000000005vi-0000 Completed"]) == "exim"
    assert (
        detect_format(["Feb 25 03:01:10 k sm-mta[1]: s1P819mk027713: ruleset=check_rcpt"])
        == "sendmail"
    )
    assert detect_format([LINE]) == "postfix"
    assert detect_format(["# only comments", ""]) is None


def test_mixed_syslog_still_detects_postfix() -> None:
    noise = [f"Nov 25 06:30:0{i} host kernel: [123.4] eth0: link up" for i in range(10)]
    assert detect_format([*noise, LINE]) == "postfix"


def test_unknown_format_name() -> None:
    with pytest.raises(ValueError):
        make_parser("qmail", "x")
