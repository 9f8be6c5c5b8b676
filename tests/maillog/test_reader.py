"""Reading: compression, rotated order, stdin-like streams, not-a-mail-log errors."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from pathsleuth.errors import BadInput
from pathsleuth.maillog.analysis import analyze_logs
from pathsleuth.maillog.reader import order_rotated

LINE = (
    "Nov 25 06:30:0{i} m postfix/smtp[1]: Q{i}: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, "
    "delay=1, dsn=4.4.2, status=deferred (conversation with mx.b.example[192.0.2.1] timed out while "
    "sending message body)\n"
)


def test_order_rotated() -> None:
    given = [
        "maillog",
        "maillog.1",
        "maillog.2.gz",
        "other.log",
        "0519gwia.001",
        "0518gwia.002",
        "0517log.001",
    ]
    assert order_rotated(given) == [
        "maillog.2.gz",
        "maillog.1",
        "maillog",
        "other.log",
        "0517log.001",
        "0518gwia.002",
        "0519gwia.001",
    ]
    assert order_rotated(["maillog", "maillog-20241124.gz", "maillog-20241123"]) == [
        "maillog-20241123",
        "maillog-20241124.gz",
        "maillog",
    ]
    assert order_rotated(["b.log", "a.log"]) == ["b.log", "a.log"]


def test_compressed_rotated_set(tmp_path: Path) -> None:
    (tmp_path / "maillog").write_text(LINE.format(i=3))
    (tmp_path / "maillog.1").write_bytes(bz2.compress(LINE.format(i=2).encode()))
    (tmp_path / "maillog.2.gz").write_bytes(gzip.compress(LINE.format(i=1).encode()))
    (tmp_path / "maillog.3.xz").write_bytes(lzma.compress(LINE.format(i=0).encode()))
    a = analyze_logs(
        [str(tmp_path / n) for n in ("maillog", "maillog.1", "maillog.2.gz", "maillog.3.xz")]
    )
    assert [f.name.rsplit("/", 1)[-1] for f in a.files] == [
        "maillog.3.xz",
        "maillog.2.gz",
        "maillog.1",
        "maillog",
    ]
    assert [f.compression for f in a.files] == [("xz",), ("gzip",), ("bzip2",), ()]
    (s,) = a.triage.suspects
    assert s.failed_after_data == 4 and s.confidence.value == "strong"


def test_not_a_mail_log(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("# a comment\nhello world\nthis is not a log\n")
    with pytest.raises(BadInput) as exc:
        analyze_logs([str(f)])
    assert exc.value.line == 2 and "not a mail log" in str(exc.value)
    b = tmp_path / "bin"
    b.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(BadInput):
        analyze_logs([str(b)])


def test_empty_log_is_fine(tmp_path: Path) -> None:
    f = tmp_path / "maillog"
    f.write_text("")
    a = analyze_logs([str(f)])
    assert a.files[0].format is None and a.triage.attempts == 0


def test_unknown_lines_counted_not_fatal(tmp_path: Path) -> None:
    f = tmp_path / "maillog"
    f.write_text(LINE.format(i=1) + "garbage in the middle\n\x00\xff junk\n" + LINE.format(i=2))
    a = analyze_logs([str(f)])
    assert a.files[0].unknown_lines == 2 and a.files[0].first_unknown_line == 2
    assert a.triage.attempts == 2


def test_destination_filter(tmp_path: Path) -> None:
    f = tmp_path / "maillog"
    f.write_text(LINE.format(i=1) + LINE.format(i=2).replace("a@b.example", "a@c.example"))
    a = analyze_logs([str(f)], destination="c.example")
    assert [d.destination for d in a.triage.destinations] == ["c.example"]
    assert analyze_logs([str(f)], destination="192.0.2.1").triage.attempts == 2
    assert analyze_logs([str(f)], destination="nowhere.example").triage.attempts == 0


def test_overlong_line_is_cut_and_counted(tmp_path: Path) -> None:
    f = tmp_path / "maillog"
    f.write_text("x" * (1 << 20) + "\n" + LINE.format(i=1))
    a = analyze_logs([str(f)])
    assert a.files[0].unknown_lines == 16  # 1 MiB in 64 KiB pieces
    assert a.triage.attempts == 1
