"""From paths to events: opening (compressed, archived, stdin), ordering rotated files,
detecting the format and streaming lines through the parser.

Files come through `pathsleuth.inputs.iter_members`, so ``maillog.2.gz``, ``.bz2``,
``.xz``, ``.zst``, a tar of logs and ``-`` (stdin) all work and nothing is read whole:
lines are decoded (UTF-8, undecodable bytes replaced) and parsed one at a time. Rotated
sets are put oldest first when their names say so (`order_rotated`). Each stream gets a
`LogFileStats` that counts lines, comments and lines no parser recognised (never fatal);
a stream whose first lines match no format raises `BadInput`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain
from pathlib import PurePath

from pathsleuth.errors import BadInput
from pathsleuth.inputs import NamedStream, is_text, iter_members
from pathsleuth.maillog.detect import SNIFF_LINES, detect_format, is_meaningful, make_parser
from pathsleuth.maillog.events import AnyEvent

#: lines read ahead for detection when most of them are blank or comments
MAX_SNIFF_READ = 5_000
#: longest line handed to a parser; real mail-log lines are a few hundred characters
#: (syslog's own limit is 8 KiB in rsyslog's default maxMessageSize)
MAX_LINE_CHARS = 64 * 1024
#: bytes buffered in front of the text decoder; large enough to amortise per-read overhead
READ_BUFFER = 1 << 20

_ROTATED = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d{1,4}))?(?:\.(?:gz|bz2|xz|zst|zstd|lzma))?$")
_GWIA_NAME = re.compile(r"^\d{4}(?:log|gwia)\.\d+$", re.I)
_DATED = re.compile(r"^(?P<base>.+?)[-.](?P<d>\d{8}(?:-\d{6})?)(?:\.(?:gz|bz2|xz|zst|zstd|lzma))?$")


@dataclass(kw_only=True)
class LogFileStats:
    """What was read from one log stream."""

    name: str
    format: str | None = None
    lines: int = 0
    comment_lines: int = 0
    """Blank lines and ``#`` comments (fail2ban ``# failJSON:`` annotations)."""
    unknown_lines: int = 0
    """Lines the detected format's parser did not recognise; counted, never fatal."""
    first_unknown_line: int | None = None
    events: int = 0
    compression: tuple[str, ...] = ()


def _rotation_key(path: str) -> tuple[str, int, str]:
    name = PurePath(path).name
    if _GWIA_NAME.match(name):
        return "<gwia>", 0, name.lower()  # mmddlog.nnn: the name is the order
    d = _DATED.match(name)
    if d:
        return d["base"], 0, d["d"]
    m = _ROTATED.match(name)
    if m and m["n"] is not None:
        return m["base"], -int(m["n"]), ""
    base = m["base"] if m else name
    return base, 0, "~"  # the live file: after every numbered or dated one


def order_rotated(paths: Iterable[str]) -> list[str]:
    """Paths of each rotated set oldest first (``maillog.2.gz``, ``maillog.1``, ``maillog``;
    ``maillog-20241124``, ``maillog``); sets, and files whose names say nothing, keep the
    order given. GWIA's ``mmddlog.nnn`` (or ``MMDDgwia.NNN``) sort by name."""
    paths = list(paths)
    groups: dict[str, list[str]] = {}
    for p in paths:
        if p == "-":
            groups.setdefault(f"\0{len(groups)}", []).append(p)
            continue
        groups.setdefault(str(PurePath(p).parent / _rotation_key(p)[0]), []).append(p)
    out: list[str] = []
    for members in groups.values():
        if len(members) > 1:
            members = sorted(members, key=lambda p: (_rotation_key(p)[1:], PurePath(p).name))
        out.extend(members)
    return out


def _lines(stream: NamedStream) -> Iterator[str]:
    text = io.TextIOWrapper(
        io.BufferedReader(stream, READ_BUFFER), encoding="utf-8", errors="replace", newline=""
    )
    # readline with a cap keeps memory bounded on a file without newlines; an overlong
    # line comes out in pieces, which the parser counts as unknown lines
    readline = text.readline
    while line := readline(MAX_LINE_CHARS):
        yield line.rstrip("\r\n")


def read_stream(
    stream: NamedStream | Iterable[str],
    stats: LogFileStats,
    *,
    day: date | None = None,
    fmt: str | None = None,
) -> Iterator[AnyEvent]:
    """Events of one log stream (bytes stream or lines), filling `stats` as it goes."""
    lines = _lines(stream) if isinstance(stream, NamedStream) else iter(stream)
    head: list[str] = []
    meaningful = 0
    for line in lines:
        head.append(line)
        meaningful += is_meaningful(line)
        if meaningful >= SNIFF_LINES or len(head) >= MAX_SNIFF_READ:
            break
    if fmt is None:
        if meaningful == 0:
            stats.lines = len(head)
            stats.comment_lines = len(head)
            return
        fmt = detect_format(head, stats.name)
        if fmt is None:
            first = next(i for i, ln in enumerate(head, 1) if is_meaningful(ln))
            raise BadInput(
                stats.name,
                "not a mail log: no line in Postfix, Sendmail, Exim or GroupWise GWIA format "
                f"among the first {meaningful} non-comment lines",
                line=first,
            )
    stats.format = fmt
    parser = make_parser(fmt, stats.name, day=day)
    n = 0
    comments = unknown = events = 0
    feed = parser.feed
    for n, line in enumerate(chain(head, lines), 1):
        if not line or line[0] == "#" or not line.strip():
            comments += 1
            continue
        evs = feed(line, n)
        if evs is None:
            unknown += 1
            if stats.first_unknown_line is None:
                stats.first_unknown_line = n
            continue
        if evs:
            events += len(evs)
            yield from evs
    tail = parser.finish()
    events += len(tail)
    yield from tail
    stats.lines = n
    stats.comment_lines = comments
    stats.unknown_lines = unknown
    stats.events = events


def read_logs(
    paths: Iterable[str],
    stats: list[LogFileStats],
    *,
    day: date | None = None,
    fmt: str | None = None,
) -> Iterator[AnyEvent]:
    """Events of every log in `paths` (rotated sets oldest first); one `LogFileStats` per
    stream is appended to `stats` as each stream starts."""
    for path in order_rotated(paths):
        with iter_members(path, accept=is_text) as members:
            for stream in members:
                st = LogFileStats(name=stream.name, compression=stream.compression)
                stats.append(st)
                yield from read_stream(stream, st, day=day, fmt=fmt)
