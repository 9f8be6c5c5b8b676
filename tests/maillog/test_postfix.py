"""Postfix parser: the black-hole wordings, maillog_file and syslog headers, garbage."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.maillog.analysis import analyze_logs
from pathsleuth.maillog.events import (
    DeliveryResult,
    ErrorClass,
    InboundDrop,
    MessageDone,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.postfix import PostfixParser
from pathsleuth.maillog.reader import LogFileStats, read_stream
from pathsleuth.maillog.triage import Confidence


def _feed(lines: list[str]) -> list[object]:
    p = PostfixParser("maillog", year=2024)
    out: list[object] = []
    for i, ln in enumerate(lines, 1):
        out.extend(p.feed(ln, i) or ())
    return out


def _session(
    qid: str, size: int, to: str, relay: str, status: str, t: str = "06:30:01"
) -> list[str]:
    return [
        f"Nov 25 {t} mail postfix/qmgr[10]: {qid}: from=<alice@example.com>, size={size}, nrcpt=1 (queue active)",
        f"Nov 25 {t} mail postfix/smtp[11]: {qid}: to=<{to}>, relay={relay}, delay=300, "
        f"delays=0.01/0/0.5/300, dsn=4.4.2, status={status}",
        f"Nov 25 {t} mail postfix/qmgr[10]: {qid}: removed",
    ]


BODY = "deferred (conversation with mx.example[192.0.2.1] timed out while sending message body)"
LOST = "deferred (lost connection with mx.example[192.0.2.1] while sending message body)"
EOM = "deferred (conversation with mx.example[192.0.2.1] timed out after END-OF-MESSAGE)"
EOD = (
    "deferred (conversation with mx.example[192.0.2.1] timed out while sending end of data -- "
    "message may be sent more than once)"
)
SENT = "sent (250 2.0.0 Ok: queued as 4Tq)"


def test_status_line_fields() -> None:
    (info, res, done) = _feed(
        _session("4A1B2C3D4E", 90000, "bob@example.net", "mx.example[192.0.2.1]:25", BODY)
    )
    assert (
        isinstance(info, MessageInfo) and info.size == 90000 and info.sender == "alice@example.com"
    )
    assert isinstance(res, DeliveryResult)
    assert (res.msg_id, res.recipients, res.host, res.ip) == (
        "4A1B2C3D4E",
        ("bob@example.net",),
        "mx.example",
        "192.0.2.1",
    )
    assert res.stage is Stage.BODY and res.error_class is ErrorClass.PMTU_LIKE_AFTER_DATA
    assert res.ts == datetime(2024, 11, 25, 6, 30, 1, tzinfo=UTC).timestamp()
    assert res.start_ts is not None and abs(res.ts - res.start_ts - 300.5) < 1e-6
    assert isinstance(done, MessageDone)


def test_each_black_hole_wording_is_flagged(tmp_path: object) -> None:
    for i, status in enumerate((BODY, LOST, EOM, EOD)):
        lines = _session(
            "4Tq5Xk1Z2Yz9ab" + str(i), 120000, "bob@example.net", "mx.example[192.0.2.1]:25", status
        )
        lines += _session(
            "4Tq5Xk1Z2Yz9cd" + str(i), 800, "carol@example.net", "mx.example[192.0.2.1]:25", SENT
        )
        st_ = LogFileStats(name="m")
        from pathsleuth.maillog.model import MailLogModel
        from pathsleuth.maillog.triage import Triage

        model, tri = MailLogModel(), Triage()
        for ev in read_stream(lines, st_, fmt="postfix"):
            for a in model.feed(ev):
                tri.add(a)
        for a in model.finish():
            tri.add(a)
        (s,) = tri.result().suspects
        assert s.destination == "example.net" and s.ip == "192.0.2.1", status
        assert s.smallest_failing == 120000 and s.largest_delivered == 800


def test_sizes_decide_confidence(tmp_path: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    lines = []
    for i in range(3):
        lines += _session(
            f"AB{i}", 90000 + i, "x@dest.example", "mx.dest.example[198.51.100.9]:25", BODY
        )
    lines += _session("CD1", 1200, "x@dest.example", "mx.dest.example[198.51.100.9]:25", SENT)
    # a tiny message failing after DATA cannot be a PMTU problem: not counted
    lines += _session("EF1", 500, "y@small.example", "mx.small.example[198.51.100.10]:25", BODY)
    # a big message delivered: the other destination is fine
    lines += _session("GH1", 5_000_000, "z@ok.example", "mx.ok.example[198.51.100.11]:25", SENT)
    f = tmp_path / "maillog"
    f.write_text("\n".join(lines) + "\n")
    t = analyze_logs([str(f)]).triage
    (s,) = t.suspects
    assert s.destination == "dest.example" and s.confidence is Confidence.STRONG
    assert (s.failed_after_data, s.attempts, s.delivered) == (3, 4, 1)
    small = next(d for d in t.destinations if d.destination == "small.example")
    assert not small.pmtu_suspect


def test_larger_delivered_makes_it_weak(tmp_path: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    lines = _session("AB1", 90000, "x@d.example", "mx.d.example[203.0.113.5]:25", EOD)
    lines += _session("AB2", 200000, "x@d.example", "mx.d.example[203.0.113.5]:25", SENT)
    f = tmp_path / "maillog"
    f.write_text("\n".join(lines) + "\n")
    (s,) = analyze_logs([str(f)]).triage.suspects
    assert s.confidence is Confidence.WEAK


def test_other_classes() -> None:
    cases = {
        "deferred (connect to mx.a[192.0.2.5]:25: Connection refused)": ErrorClass.CONNECTION_REFUSED,
        "deferred (connect to mx.a[192.0.2.5]:25: Connection timed out)": ErrorClass.CONNECT_TIMEOUT,
        "deferred (conversation with mx.a[192.0.2.5] timed out while receiving the initial server greeting)": ErrorClass.TIMEOUT_BEFORE_DATA,
        "deferred (host mx.a[192.0.2.5] said: 450 4.7.1 <b@a>: Recipient address rejected: Greylisted (in reply to RCPT TO command))": ErrorClass.GREYLISTING,
        "bounced (host mx.a[192.0.2.5] said: 550 5.1.1 <b@a>: User unknown (in reply to RCPT TO command))": ErrorClass.REJECTED_5XX,
        "deferred (Host or domain name not found. Name service error for name=a type=MX: Host not found, try again)": ErrorClass.DNS,
        "deferred (TLS is required, but was not offered by host mx.a[192.0.2.5])": ErrorClass.TLS,
        "deferred (host mx.a[192.0.2.5] said: 451 4.3.0 temporary failure (in reply to end of DATA command))": ErrorClass.DEFERRED_4XX,
    }
    for status, cls in cases.items():
        ev = _feed(_session("QQ1", 5000, "b@a", "mx.a[192.0.2.5]:25", status))
        (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
        assert r.error_class is cls, status


def test_maillog_file_and_rfc5424_headers() -> None:
    # Postfix 3.4+ maillog_file: strftime("%b %d %H:%M:%S ") -> zero-padded day
    ev = _feed(
        [
            "Nov 05 06:30:01 client postfix/smtp[123]: 4Tq: to=<a@b.example>, relay=mx.b.example[10.0.0.2]:25, delay=61, delays=0/0/0.1/60, dsn=4.4.2, status="
            + BODY,
            "Nov  7 02:09:33 client postfix/smtp[124]: 4Tr: to=<a@b.example>, relay=mx.b.example[10.0.0.2]:25, delay=1, dsn=2.0.0, status="
            + SENT,
            "2024-11-25T06:30:01.123456+00:00 client postfix/smtp[125]: 4Ts: to=<a@b.example>, relay=mx.b.example[10.0.0.2]:25, delay=1, dsn=2.0.0, status="
            + SENT,
        ]
    )
    ts = [e.ts for e in ev if isinstance(e, DeliveryResult)]
    assert ts == [
        datetime(2024, 11, 5, 6, 30, 1, tzinfo=UTC).timestamp(),
        datetime(2024, 11, 7, 2, 9, 33, tzinfo=UTC).timestamp(),
        datetime(2024, 11, 25, 6, 30, 1, 123456, tzinfo=UTC).timestamp(),
    ]


def test_inbound_drop() -> None:
    (d,) = _feed(
        [
            "Feb 18 09:50:05 xxx postfix/smtpd[42]: lost connection after DATA (1234 bytes) from good-host.example.com[192.0.2.10]"
        ]
    )
    assert isinstance(d, InboundDrop) and d.client_ip == "192.0.2.10" and d.stage is Stage.BODY


def test_per_mx_line_merges_with_status() -> None:
    lines = [
        "Nov 25 06:30:01 m postfix/qmgr[1]: AA1: from=<s@x>, size=70000, nrcpt=2 (queue active)",
        "Nov 25 06:35:01 m postfix/smtp[2]: AA1: conversation with mx1.y[192.0.2.1] timed out while sending message body",
        "Nov 25 06:40:02 m postfix/smtp[2]: AA1: to=<a@y>, relay=mx2.y[192.0.2.2]:25, delay=600, dsn=4.4.2, status="
        + BODY.replace("mx.example[192.0.2.1]", "mx2.y[192.0.2.2]"),
        "Nov 25 06:40:02 m postfix/smtp[2]: AA1: to=<b@y>, relay=mx2.y[192.0.2.2]:25, delay=600, dsn=4.4.2, status="
        + BODY.replace("mx.example[192.0.2.1]", "mx2.y[192.0.2.2]"),
        "Nov 25 06:40:03 m postfix/qmgr[1]: AA1: removed",
    ]
    from pathsleuth.maillog.model import MailLogModel

    model = MailLogModel()
    atts = [
        a
        for ev in read_stream(lines, LogFileStats(name="m"), fmt="postfix")
        for a in model.feed(ev)
    ]
    atts += model.finish()
    assert [(a.ip, a.recipients) for a in atts] == [
        ("192.0.2.1", ("a@y",)),
        ("192.0.2.2", ("a@y", "b@y")),
    ]
    assert atts[0].destination == "y" and atts[0].size == 70000


@given(st.text(max_size=200))
def test_random_text_never_crashes(line: str) -> None:
    _feed([line, "Nov 25 06:30:01 h postfix/smtp[1]: " + line])


@given(
    st.from_regex(r"[0-9A-F]{10}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{12,15}", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True),
    st.ip_addresses().map(str),
    st.sampled_from(["sent", "deferred", "bounced"]),
    st.integers(0, 10**9),
)
def test_valid_status_round_trip(qid: str, rcpt: str, ip: str, status: str, size: int) -> None:
    ev = _feed(
        [
            f"Nov 25 06:30:01 h postfix/qmgr[1]: {qid}: from=<s@x.y>, size={size}, nrcpt=1 (queue active)",
            f"Nov 25 06:30:02 h postfix/smtp[2]: {qid}: to=<{rcpt}>, relay=mx.q[{ip}]:25, delay=1, "
            f"delays=0/0/0/1, dsn=2.0.0, status={status} (x)",
        ]
    )
    info, res = ev
    assert isinstance(info, MessageInfo) and info.size == size and info.msg_id == qid
    assert isinstance(res, DeliveryResult)
    assert (res.msg_id, res.recipients, res.ip, res.host) == (qid, (rcpt,), ip, "mx.q")
    assert (
        res.outcome
        is {"sent": Outcome.DELIVERED, "deferred": Outcome.DEFERRED, "bounced": Outcome.BOUNCED}[
            status
        ]
    )


def test_year_rolls_over_in_january() -> None:
    ev = _feed(
        [
            "Dec 31 23:59:59 h postfix/qmgr[1]: A1: from=<s@x>, size=1, nrcpt=1 (queue active)",
            "Jan  1 00:00:01 h postfix/qmgr[1]: A2: from=<s@x>, size=1, nrcpt=1 (queue active)",
        ]
    )
    assert [e.ts for e in ev if isinstance(e, MessageInfo)] == [
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp(),
        datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC).timestamp(),
    ]
