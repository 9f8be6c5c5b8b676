"""Which MTA wrote this log: format detection from the first lines, and parser creation.

`detect_format` feeds up to `SNIFF_LINES` meaningful lines (blank lines and ``#``
comments such as fail2ban's ``# failJSON:`` annotations do not count) to a fresh parser of
every format and picks the one that recognises the most; fewer than `MIN_SHARE` of the lines
recognised by every format means the input is not a mail log. `make_parser` builds the
parser for a format with the date context GWIA needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pathsleuth.maillog.base import LineParser
from pathsleuth.maillog.exim import EximParser
from pathsleuth.maillog.gwia import GwiaParser, date_from_filename
from pathsleuth.maillog.postfix import PostfixParser
from pathsleuth.maillog.sendmail import SendmailParser

#: meaningful lines looked at before deciding
SNIFF_LINES = 200
#: share of the sniffed lines the winning format must recognise; mail logs are mixed
#: with other daemons' lines in /var/log/syslog, so this is well below one
MIN_SHARE = 0.05

FORMATS: tuple[str, ...] = ("postfix", "sendmail", "exim", "gwia")


def is_meaningful(line: str) -> bool:
    """Not blank and not a ``#`` comment."""
    s = line.lstrip()
    return bool(s) and not s.startswith("#")


def make_parser(fmt: str, file: str, *, day: date | None = None) -> LineParser:
    """A fresh parser of format `fmt` for `file`; `day` gives syslog stamps their year and
    dates GWIA lines when the file name (``mmddlog.nnn``) does not."""
    year = day.year if day else None
    if fmt == "postfix":
        return PostfixParser(file, year=year)
    if fmt == "sendmail":
        return SendmailParser(file, year=year)
    if fmt == "exim":
        return EximParser(file, year=year)
    if fmt == "gwia":
        # the name's date wins (rotated sets span days); --date dates unnamed files, sets the year
        return GwiaParser(file, day=date_from_filename(file, year) or day)
    raise ValueError(f"unknown mail-log format {fmt!r}; known: {', '.join(FORMATS)}")


def detect_format(lines: Sequence[str], file: str = "<sniff>") -> str | None:
    """The format that recognises most of `lines`, or None if none is convincing."""
    sample = [ln for ln in lines if is_meaningful(ln)][:SNIFF_LINES]
    if not sample:
        return None
    best: tuple[int, str] | None = None
    for fmt in FORMATS:
        parser = make_parser(fmt, file)
        hits = sum(1 for i, ln in enumerate(sample, 1) if parser.feed(ln, i) is not None)
        if hits and (best is None or hits > best[0]):
            best = (hits, fmt)
    if best is None or best[0] < max(1, MIN_SHARE * len(sample)):
        return None
    return best[1]
