"""GWIA parser: the seed case's three excerpts verbatim, dates, and garbled input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.maillog.analysis import analyze_logs
from pathsleuth.maillog.events import DeliveryResult, ErrorClass, MessageInfo, Outcome, Stage
from pathsleuth.maillog.gwia import GwiaParser, date_from_filename
from pathsleuth.maillog.triage import Confidence

SEED = Path(__file__).parent / "data" / "seed_gwia_excerpts.txt"


def _events(lines: list[str], day: date = date(2009, 5, 18)) -> list[object]:
    p = GwiaParser("0518gwia.001", day=day)
    out: list[object] = []
    for i, ln in enumerate(lines, 1):
        out.extend(p.feed(ln, i) or ())
    out.extend(p.finish())
    return out


def test_seed_three_failures_after_data() -> None:
    a = analyze_logs([str(SEED)], day=date(2009, 5, 18))
    t = a.triage
    assert a.files[0].format == "gwia"
    assert t.attempts == 3 and t.failed == 3
    fails = sorted(t.failing_attempts, key=lambda x: x.msg_id)
    assert [f.msg_id for f in fails] == ["57671", "58050", "58121"]
    assert all(f.stage is Stage.BODY for f in fails)
    assert all(f.error_class is ErrorClass.PMTU_LIKE_AFTER_DATA for f in fails)
    assert sorted(f.response for f in fails) == [
        "420 TCP write error",
        "420 TCP write error",
        "421 4.0.0 Error: timeout",
    ]
    assert {s.destination for s in t.suspects} == {
        "202.75.48.118",
        "escatec.com",
        "kingston.com.my",
    }
    assert all(s.confidence is Confidence.STRONG for s in t.suspects)
    esc = next(s for s in t.suspects if s.destination == "escatec.com")
    assert esc.smallest_failing == round(86.5 * 1024)
    assert esc.hosts == (("mailserver.escatec.com", "203.106.231.124"),)
    m = next(f for f in fails if f.msg_id == "58121")
    # the DMN lines give the real session times; the result-file replay comes 7 s later
    assert m.start_ts == datetime(2009, 5, 18, 16, 41, 22, tzinfo=UTC).timestamp()
    assert m.ts == datetime(2009, 5, 18, 16, 47, 25, tzinfo=UTC).timestamp()
    assert m.size == 88576 and m.sender == "alicia_chua@sunrisepaper.com.my"
    assert m.recipients == ("Saravana@escatec.com", "Yeoh.KengHong@escatec.com")
    assert m.banner is not None and m.banner.startswith("220 escatec.com")
    king = next(s for s in t.suspects if s.destination == "kingston.com.my")
    assert any(
        d.kind == "scanning_middlebox" and "SonicWALL" in d.evidence for d in king.differentials
    )


def test_kingston_excerpt_rolls_to_next_day() -> None:
    a = analyze_logs([str(SEED)], day=date(2009, 5, 18))
    k = next(f for f in a.triage.failing_attempts if f.msg_id == "57671")
    assert k.ts == datetime(2009, 5, 19, 10, 51, 26, tzinfo=UTC).timestamp()


def test_midnight_rollover() -> None:
    ev = _events(
        [
            "23:59:58 1 DMN: MSG 7 Attempting to connect to mx.example.net",
            "23:59:59 1 DMN: MSG 7 Connected to [192.0.2.7] (mx.example.net)",
            "00:00:30 1 DMN: MSG 7 Send Failure: 420 TCP read error",
            "00:00:31 2 MSG 7 Deferring message: /x",
        ]
    )
    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert r.start_ts == datetime(2009, 5, 18, 23, 59, 58, tzinfo=UTC).timestamp()
    assert r.ts == datetime(2009, 5, 19, 0, 0, 30, tzinfo=UTC).timestamp()
    assert r.ip == "192.0.2.7" and r.outcome is Outcome.DEFERRED


def test_date_from_filename() -> None:
    assert date_from_filename("/var/log/gwia/0518gwia.001", 2009) == date(2009, 5, 18)
    assert date_from_filename("/grpwise/dom/wpgate/gwia/0518log.002", 2009) == date(2009, 5, 18)
    assert date_from_filename("1399gwia.001", 2009) is None
    assert date_from_filename("maillog", 2009) is None
    assert GwiaParser("x/0102gwia.003").day.month == 1


def test_delivered_dialogue_and_size_units() -> None:
    ev = _events(
        [
            "10:00:00 5 MSG 9 File: /x Message Id: (1) Size: 1.5 Mb",
            "10:00:01 5 MSG 9 Command: example.org",
            "10:00:01 5 MSG 9 Response: 220 mx.example.org ESMTP",
            "10:00:01 5 MSG 9 Command: DATA",
            "10:00:01 5 MSG 9 Response: 354 go ahead",
            "10:00:02 5 MSG 9 Command: Data...",
            "10:00:02 5 MSG 9 Response: 250 2.0.0 queued",
        ]
    )
    sizes = [e.size for e in ev if isinstance(e, MessageInfo)]
    assert sizes == [round(1.5 * 1024 * 1024)]
    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert r.outcome is Outcome.DELIVERED and r.domain == "example.org"


def test_masked_pix_banner_is_a_differential() -> None:
    ev = _events(
        [
            "10:00:01 5 MSG 9 Command: example.org",
            "10:00:01 5 MSG 9 Response: 220 ******************************2002*2*2*2****",
            "10:00:01 5 MSG 9 Command: DATA",
            "10:00:01 5 MSG 9 Response: 354 go ahead",
            "10:00:01 5 MSG 9 Detected error on SMTP command",
            "10:00:02 5 MSG 9 Command: Data...",
            "10:00:02 5 MSG 9 Response: 420 TCP write error",
        ]
    )
    from pathsleuth.maillog.triage import differentials

    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert r.error_class is ErrorClass.PMTU_LIKE_AFTER_DATA
    assert r.banner is not None
    assert differentials([r.banner])[0].kind == "smtp_inspection"


_GW_WORDS = st.sampled_from(
    [
        "MSG 1 ",
        "DMN: ",
        "Command: ",
        "Response: ",
        "Data...",
        "DATA",
        "420 TCP write error",
        "Connected to [",
        "]",
        "(",
        ")",
        "Attempting to connect to ",
        "Send Failure: ",
        "Deferring message",
        "Size: ",
        "Kb",
        "Recipient: ",
        "a@b",
        "Detected error on SMTP command",
        "Analyzing result file",
        "12:00:00 1 ",
        "00:00:00 2 ",
        "1",
        ".",
        " ",
        "\x00",
        "é",
    ]
)


@given(st.lists(st.lists(_GW_WORDS, max_size=12).map("".join), max_size=30))
def test_garbled_lines_never_crash(lines: list[str]) -> None:
    _events(lines)


@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(1, 99999),
    st.ip_addresses(v=4).map(str),
    st.from_regex(r"[a-z]{1,10}\.[a-z]{2,5}", fullmatch=True),
)
def test_valid_lines_round_trip(hh: int, mm: int, ss: int, msg: int, ip: str, host: str) -> None:
    t = f"{hh:02d}:{mm:02d}:{ss:02d}"
    ev = _events(
        [
            f"{t} 352 DMN: MSG {msg} Attempting to connect to {host}",
            f"{t} 352 DMN: MSG {msg} Connected to [{ip}] ({host})",
            f"{t} 352 DMN: MSG {msg} Send Failure: 420 TCP write error",
        ]
    )
    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert (r.msg_id, r.ip, r.host, r.code) == (str(msg), ip, host, 420)
    assert r.start_ts == datetime(2009, 5, 18, hh, mm, ss, tzinfo=UTC).timestamp()


def test_hex_thread_ids() -> None:
    ev = _events(
        [
            "00:41:58 2BA Starting GWTCP-Dispatcher",
            "00:42:00 2C0 DMN: MSG 12 Attempting to connect to mx.example.org",
            "00:42:01 2C0 DMN: MSG 12 Connected to [192.0.2.4] (mx.example.org)",
            "00:48:01 2C0 DMN: MSG 12 Send Failure: 420 TCP write error",
        ]
    )
    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert r.ip == "192.0.2.4"


def test_file_name_date_wins_over_date_option(tmp_path: Path) -> None:
    lines = (
        "23:00:00 1 DMN: MSG 1 Attempting to connect to mx.a.example\n"
        "23:00:01 1 DMN: MSG 1 Connected to [192.0.2.1] (mx.a.example)\n"
        "23:10:00 1 DMN: MSG 1 Send Failure: 420 TCP write error\n"
    )
    (tmp_path / "0518log.001").write_text(lines)
    (tmp_path / "0519log.001").write_text(lines.replace("MSG 1", "MSG 2"))
    a = analyze_logs(
        [str(tmp_path / "0519log.001"), str(tmp_path / "0518log.001")], day=date(2009, 1, 1)
    )
    ts = sorted((x.msg_id, x.ts) for x in a.triage.failing_attempts)
    assert ts == [
        ("1", datetime(2009, 5, 18, 23, 10, tzinfo=UTC).timestamp()),
        ("2", datetime(2009, 5, 19, 23, 10, tzinfo=UTC).timestamp()),
    ]
    assert [f.name.rsplit("/", 1)[-1] for f in a.files] == ["0518log.001", "0519log.001"]


def test_target_that_looks_like_a_verb() -> None:
    ev = _events(
        [
            "10:00:01 5 MSG 9 Command: datacorp.example",
            "10:00:01 5 MSG 9 Response: 220 hi",
            "10:00:01 5 MSG 9 Command: MAIL FROM:<a@b>",
            "10:00:01 5 MSG 9 Response: 451 4.3.0 try later",
            "10:00:01 5 MSG 9 Deferring message: /x",
        ]
    )
    (r,) = [e for e in ev if isinstance(e, DeliveryResult)]
    assert r.domain == "datacorp.example" and r.stage is Stage.MAIL
    assert r.error_class is ErrorClass.DEFERRED_4XX
