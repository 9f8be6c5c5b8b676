"""GroupWise Internet Agent (GWIA) logs: lines in, `LogEvent`s out.

GWIA writes ``HH:MM:SS TID [DMN: ][MSG N ]text`` with no date (TID is the thread or
process number, hex on some platforms: ``00:41:58 2BA Starting GWTCP-Dispatcher``). The date
comes from the file name (GWIA creates one log a day named ``mmddlog.nnn``, "mm is the month,
dd is the day, and nnn is a sequential number", GroupWise Troubleshooting 3, Internet Agent
directory; ``MMDDgwia.NNN`` copies such as ``0518gwia.001`` are accepted too) or from
``--date``; the year is the current one unless ``--date`` says otherwise; when
the clock goes backwards by more than `MIDNIGHT_BACKWARDS_S` the day has rolled over.

A delivery attempt appears twice (see the seed case in the project's reference notes):

1. the daemon (``DMN:``) lines carry the real session: ``Attempting to connect to HOST``,
   ``Connected to [IP] (HOST)``, ``SMTP session ended``, ``Send Failure: 420 TCP write error``;
2. the main thread then replays the session from the result file, after the fact:
   ``Analyzing result file``, ``Command: escatec.com`` (the target), ``Response: 220 ...``
   (the banner), ``Command: EHLO ...`` ... ``Command: DATA``, ``Response: 354 ...``,
   ``Detected error on SMTP command``, ``Command: Data...`` (the body), ``Response: 420 TCP
   write error``, ``Deferring message``.

This parser merges the two into one `DeliveryResult` (time and IP from the DMN lines, the
stage, banner and reply from the replay) and emits it when the attempt is closed: by
``Deferring message``, by the next attempt of the same message, or at end of input. Message
size (``Size: 86.5 Kb``, 1 Kb = 1024 bytes), sender and ``Recipient:`` lines become
`MessageInfo` / `RecipientInfo`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath
from typing import ClassVar

from pathsleuth.maillog.base import NOTHING
from pathsleuth.maillog.classify import classify, reply_code
from pathsleuth.maillog.events import (
    AnyEvent,
    DeliveryResult,
    MessageInfo,
    Outcome,
    RecipientInfo,
    Stage,
)

_LINE = re.compile(r"(\d\d):(\d\d):(\d\d) ([0-9A-Fa-f]+) (DMN: )?(?:MSG (\d+) )?(.*)$")
_SIZE = re.compile(r"Size: ([\d.]+) ?([KMG]?b(?:ytes)?)?", re.I)
_CONNECTED = re.compile(r"Connected to \[([0-9A-Fa-f:.]+)\](?: \(([^)]*)\))?")
_FILE_NAME = re.compile(r"^(\d\d)(\d\d)(?:log|gwia)\.\d+", re.I)
_UNITS = {"b": 1, "bytes": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}

#: a clock going backwards by more than this is the next day, not threads logging out of
#: order (GWIA threads interleave within a second or two)
MIDNIGHT_BACKWARDS_S = 3 * 3600

#: commands of the replayed dialogue -> the stage they start
_COMMAND_STAGE: tuple[tuple[str, Stage], ...] = (
    ("EHLO", Stage.EHLO),
    ("HELO", Stage.EHLO),
    ("STARTTLS", Stage.STARTTLS),
    ("MAIL FROM", Stage.MAIL),
    ("RCPT TO", Stage.RCPT),
    ("DATA...", Stage.BODY),
    ("DATA", Stage.DATA),
    (".", Stage.END_OF_DATA),
    ("QUIT", Stage.DONE),
    ("RSET", Stage.DONE),
    ("AUTH", Stage.EHLO),
)


def date_from_filename(name: str, year: int | None = None) -> date | None:
    """``0518gwia.001`` -> May 18 of `year` (default: this year); None if not that shape."""
    m = _FILE_NAME.match(PurePath(name).name)
    if not m:
        return None
    try:
        return date(year or datetime.now(UTC).year, int(m[1]), int(m[2]))
    except ValueError:
        return None


@dataclass
class _Attempt:
    line: int
    start_ts: float | None
    host: str | None = None
    ip: str | None = None
    domain: str | None = None
    stage: Stage = Stage.UNKNOWN
    banner: str | None = None
    code: int | None = None
    response: str = ""
    failure: str | None = None
    end_ts: float | None = None
    end_line: int = 0
    error_detected: bool = False
    replay_seen: bool = False
    closed_ok: bool = False
    commands: list[str] = field(default_factory=list)


class GwiaParser:
    """GWIA log lines -> events, merging DMN sessions with their result-file replay."""

    format_name: ClassVar[str] = "gwia"

    def __init__(self, file: str, *, day: date | None = None) -> None:
        self.file = file
        self.day = day or date_from_filename(file) or datetime.now(UTC).date()
        self._midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        self._last_sod: int | None = None
        self._open: dict[str, _Attempt] = {}

    # ------------------------------------------------------------------ time
    def _ts(self, hh: str, mm: str, ss: str) -> float:
        sod = int(hh) * 3600 + int(mm) * 60 + int(ss)
        if self._last_sod is not None and sod < self._last_sod - MIDNIGHT_BACKWARDS_S:
            self._midnight += timedelta(days=1)
        self._last_sod = sod
        return self._midnight.timestamp() + sod

    # ------------------------------------------------------------------ lines
    def feed(self, line: str, lineno: int) -> Sequence[AnyEvent] | None:
        m = _LINE.match(line)
        if m is None:
            return None
        ts = self._ts(m[1], m[2], m[3])
        dmn, msg, text = m[5], m[6], m[7]
        if msg is None:
            return NOTHING
        if dmn:
            return self._daemon(ts, lineno, msg, text)
        return self._main(ts, lineno, msg, text)

    def finish(self) -> Sequence[AnyEvent]:
        out = [self._result(msg, att) for msg, att in self._open.items()]
        self._open.clear()
        return [r for r in out if r is not None]

    def _close(self, msg: str) -> list[AnyEvent]:
        att = self._open.pop(msg, None)
        if att is None:
            return []
        r = self._result(msg, att)
        return [r] if r is not None else []

    def _daemon(self, ts: float, lineno: int, msg: str, text: str) -> Sequence[AnyEvent]:
        if text.startswith("Attempting to connect to "):
            out = self._close(msg)
            self._open[msg] = _Attempt(
                line=lineno, start_ts=ts, host=text[25:].strip() or None, stage=Stage.CONNECT
            )
            return out
        att = self._open.get(msg)
        if text.startswith("Connected to "):
            c = _CONNECTED.match(text)
            if att is None:
                att = self._open[msg] = _Attempt(line=lineno, start_ts=ts)
            if c:
                att.ip = c[1]
                att.host = c[2] or att.host
            att.stage = max(att.stage, Stage.BANNER)
            return NOTHING
        if att is None:
            return NOTHING
        if text.startswith("SMTP session ended"):
            att.end_ts = ts
            att.end_line = lineno
        elif text.startswith("Send Failure:"):
            att.failure = text[13:].strip()
            att.code = reply_code(att.failure)
            att.end_ts = att.end_ts or ts
            att.end_line = lineno
        elif text.startswith(("Message sent", "Send Success", "Sent to ")):
            att.closed_ok = True
            att.end_ts = att.end_ts or ts
            att.end_line = lineno
        return NOTHING

    def _main(self, ts: float, lineno: int, msg: str, text: str) -> Sequence[AnyEvent]:
        head, _, rest = text.partition(": ")
        if head == "Command":
            return self._command(ts, lineno, msg, rest.strip())
        if head == "Response":
            att = self._open.get(msg)
            if att is not None:
                att.code = reply_code(rest)
                att.response = rest.strip()
                att.end_line = lineno
                att.end_ts = att.end_ts or ts
                if att.commands and att.commands[-1] == "<target>":
                    att.banner = att.response
                    att.stage = max(att.stage, Stage.BANNER)
            return NOTHING
        if text.startswith("Detected error on SMTP command"):
            att = self._open.get(msg)
            if att is not None:
                att.error_detected = True
            return NOTHING
        if text.startswith("Deferring message"):
            return self._close(msg)
        if text.startswith("Analyzing result file"):
            att = self._open.get(msg)
            if att is not None and att.replay_seen:
                return self._close(msg)
            return NOTHING
        if head == "Recipient":
            return (
                RecipientInfo(
                    file=self.file, line=lineno, ts=ts, msg_id=msg, recipient=rest.strip()
                ),
            )
        if head == "Sender":
            return (
                MessageInfo(file=self.file, line=lineno, ts=ts, msg_id=msg, sender=rest.strip()),
            )
        s = _SIZE.search(text)
        if s:
            unit = _UNITS.get((s[2] or "b").lower(), 1)
            try:
                size = round(float(s[1]) * unit)
            except ValueError:
                return NOTHING
            return (MessageInfo(file=self.file, line=lineno, ts=ts, msg_id=msg, size=size),)
        return NOTHING

    def _command(self, ts: float, lineno: int, msg: str, cmd: str) -> Sequence[AnyEvent]:
        upper = cmd.upper()
        stage = next(
            (
                st
                for verb, st in _COMMAND_STAGE
                if upper == verb or upper.startswith((verb + " ", verb + ":"))
            ),
            None,
        )
        if stage is None:
            # not an SMTP verb: the target of a (replayed) session, a domain or [IP]
            out: list[AnyEvent] = []
            att = self._open.get(msg)
            if att is None or att.replay_seen:
                out = self._close(msg)
                att = self._open[msg] = _Attempt(line=lineno, start_ts=None, stage=Stage.CONNECT)
                att.end_ts = ts
            att.replay_seen = True
            att.commands.append("<target>")
            target = cmd.strip()
            if target.startswith("[") and target.endswith("]"):
                att.ip = att.ip or target[1:-1]
            else:
                att.domain = target.lower().rstrip(".") or None
            return out
        att = self._open.get(msg)
        if att is None:
            att = self._open[msg] = _Attempt(line=lineno, start_ts=None, end_ts=ts)
            att.replay_seen = True
        att.commands.append(upper)
        att.stage = stage if stage is not Stage.DONE else att.stage
        return NOTHING

    def _result(self, msg: str, att: _Attempt) -> DeliveryResult | None:
        text = att.failure or att.response
        failed = att.failure is not None or att.error_detected
        if not failed and att.code is not None and att.code >= 400:
            failed = True
        if not failed and not att.closed_ok and not (att.code is not None and att.code < 400):
            return None  # nothing but a connect line: no outcome to report
        outcome = Outcome.DEFERRED if failed else Outcome.DELIVERED
        if failed and att.code is not None and 500 <= att.code < 600:
            outcome = Outcome.BOUNCED
        stage = att.stage if failed else Stage.DONE
        if failed and att.stage is Stage.DATA and att.code == 354:
            stage = Stage.BODY  # 354 came back: the body was on its way when it failed
        return DeliveryResult(
            file=self.file,
            line=att.end_line or att.line,
            ts=att.end_ts if att.end_ts is not None else att.start_ts,
            msg_id=msg,
            outcome=outcome,
            domain=att.domain,
            host=att.host,
            ip=att.ip,
            stage=stage,
            error_class=classify(outcome, stage, att.code, text),
            code=att.code,
            response=text,
            banner=att.banner,
            start_ts=att.start_ts,
        )
