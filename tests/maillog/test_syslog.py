"""Syslog headers: BSD, Postfix maillog_file, RFC 5424, facility tags, year roll-over."""

from __future__ import annotations

from datetime import UTC, datetime

from pathsleuth.maillog.syslog import SyslogClock, parse_header


def test_shapes() -> None:
    c = SyslogClock(2024)
    assert parse_header("Nov 05 06:30:01 h postfix/smtp[1]: text", c) == (
        datetime(2024, 11, 5, 6, 30, 1, tzinfo=UTC).timestamp(),
        "h",
        "postfix/smtp",
        "text",
    )
    hdr = parse_header("Jun 17 14:37:39 <mail.info> robin sm-mta[2794]: X: y", c)
    assert hdr is not None and hdr[1:] == ("robin", "sm-mta", "X: y")
    hdr = parse_header("2024-11-25T06:30:01.5+01:00 h postfix/qmgr[2]: z", SyslogClock(2024))
    assert (
        hdr is not None
        and hdr[0] == datetime(2024, 11, 25, 5, 30, 1, 500000, tzinfo=UTC).timestamp()
    )
    assert parse_header("not a header", c) is None
    assert SyslogClock(2024).bsd("Feb", "30", "00", "00", "00", None) is None


def test_year_rollover() -> None:
    c = SyslogClock(2023)
    assert c.bsd("Dec", "31", "23", "59", "59", None) is not None
    assert c.bsd("Jan", "1", "00", "00", "00", None) == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
