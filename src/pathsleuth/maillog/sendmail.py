"""Sendmail syslog lines (``sendmail``, ``sm-mta``, ``sm-msp-queue`` ...): lines in, events out.

- ``QID: from=<s>, size=N, class=..., nrcpts=...`` -> `MessageInfo`.
- ``QID: to=<r>, ..., mailer=esmtp, ..., relay=mx. [ip], dsn=x.y.z, stat=Sent|Deferred: ...``
  -> `DeliveryResult` (local mailers skipped: they never touch the network).
- ``QID: timeout waiting for input from X during client DATA status`` (the client side of
  a stalled conversation; "client greeting/EHLO/MAIL/RCPT/DATA 354/DATA status" name the
  stage) and ``timeout writing message to X: Broken pipe`` (the body) -> `DeliveryResult`
  without recipients, merged by the model with the ``stat=`` line that follows.
- ``timeout waiting for input from X during message collect`` -> `InboundDrop` (Sendmail
  was *receiving* the body).
- ``ruleset=check_rcpt ... reject=`` and other inbound policy lines are recognised and
  ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pathsleuth.maillog.base import NOTHING
from pathsleuth.maillog.classify import classify, reply_code, split_host_ip
from pathsleuth.maillog.events import (
    AnyEvent,
    DeliveryResult,
    InboundDrop,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.syslog import SyslogClock, parse_header

_QID = re.compile(r"([0-9A-Za-z]{8,20}): (.*)$")
_FROM = re.compile(r"from=<?([^,>]*)>?, size=(\d+)")
_TO = re.compile(r"to=(.*?), (?:.*?, )?(?:mailer=(\w+), )?.*?stat=(\w+)(?:[: ] ?(.*))?$")
_RELAY = re.compile(r"relay=([^,\[]*?)\.? ?(?:\[([0-9A-Fa-f:.]+|IPv6:[0-9A-Fa-f:.]+)\])?(?:,|$)")
_TIMEOUT_WAIT = re.compile(r"timeout waiting for input from (\S+(?: \[[^\]]*\])?) during (.*)$")
_WRITING = re.compile(r"timeout writing message to (\S+?)\.?: (.*)$")
_CLIENT_STAGE: tuple[tuple[str, Stage], ...] = (
    ("client greeting", Stage.BANNER),
    ("client ehlo", Stage.EHLO),
    ("client helo", Stage.EHLO),
    ("client starttls", Stage.STARTTLS),
    ("client mail", Stage.MAIL),
    ("client rcpt", Stage.RCPT),
    ("client data 354", Stage.DATA),
    ("client data status", Stage.END_OF_DATA),
    ("client data", Stage.BODY),
)
_LOCAL_MAILERS = frozenset({"local", "prog", "cyrus", "cyrusv2", "procmail", "lmtp", "maildrop"})


class SendmailParser:
    """Sendmail log lines -> events (see module docstring)."""

    format_name: ClassVar[str] = "sendmail"

    def __init__(self, file: str, *, year: int | None = None) -> None:
        self.file = file
        self.clock = SyslogClock(year)

    def feed(self, line: str, lineno: int) -> Sequence[AnyEvent] | None:
        hdr = parse_header(line, self.clock)
        if hdr is None:
            return None
        ts, _host, prog, text = hdr
        if not (prog.startswith("sm-") or "sendmail" in prog):
            return None
        m = _QID.match(text)
        if m is None:
            return NOTHING
        qid, rest = m[1], m[2]
        if rest.startswith("from=") and "size=" in rest:
            f = _FROM.match(rest)
            if f:
                return (
                    MessageInfo(
                        file=self.file, line=lineno, ts=ts, msg_id=qid, size=int(f[2]), sender=f[1]
                    ),
                )
            return NOTHING
        if rest.startswith("to=") and "stat=" in rest:
            return self._to(ts, lineno, qid, rest)
        w = _TIMEOUT_WAIT.match(rest)
        if w:
            host, ip = split_host_ip(w[1])
            during = w[2].lower()
            if "message collect" in during:
                return (
                    InboundDrop(
                        file=self.file,
                        line=lineno,
                        ts=ts,
                        msg_id=qid,
                        client_host=host,
                        client_ip=ip,
                        stage=Stage.BODY,
                        response=rest,
                    ),
                )
            stage = next((s for k, s in _CLIENT_STAGE if during.startswith(k)), Stage.UNKNOWN)
            return (
                self._result(ts, lineno, qid, (), host, ip, stage, None, rest, Outcome.DEFERRED),
            )
        w = _WRITING.match(rest)
        if w:
            host, ip = split_host_ip(w[1])
            return (
                self._result(
                    ts, lineno, qid, (), host, ip, Stage.BODY, None, rest, Outcome.DEFERRED
                ),
            )
        return NOTHING

    def finish(self) -> Sequence[AnyEvent]:
        return NOTHING

    def _to(self, ts: float | None, lineno: int, qid: str, rest: str) -> Sequence[AnyEvent]:
        t = _TO.match(rest)
        if t is None:
            return NOTHING
        rcpts = tuple(r.strip().strip("<>") for r in t[1].split(",") if "@" in r)
        mailer, stat, why = t[2], t[3].lower(), (t[4] or "").strip()
        if mailer in _LOCAL_MAILERS:
            return NOTHING
        host: str | None = None
        ip: str | None = None
        r = _RELAY.search(rest)
        if r:
            host = r[1].strip().rstrip(".") or None
            ip = r[2][5:] if r[2] and r[2].lower().startswith("ipv6:") else r[2]
        dsn = re.search(r"dsn=(\d)", rest)
        if stat == "sent":
            outcome = Outcome.DELIVERED
        elif (dsn and dsn[1] == "5") or stat in ("user", "service", "host", "unknown"):
            outcome = Outcome.BOUNCED
        else:
            outcome = Outcome.DEFERRED
        low = why.lower()
        if outcome is Outcome.DELIVERED:
            stage = Stage.DONE
        elif "connection timed out with" in low or "connection refused by" in low:
            stage = Stage.CONNECT  # errno of connect(2), reported against the host
        else:
            stage = Stage.UNKNOWN
        code = reply_code(why)
        return (self._result(ts, lineno, qid, rcpts, host, ip, stage, code, why, outcome),)

    def _result(
        self,
        ts: float | None,
        lineno: int,
        qid: str,
        rcpts: tuple[str, ...],
        host: str | None,
        ip: str | None,
        stage: Stage,
        code: int | None,
        text: str,
        outcome: Outcome,
    ) -> DeliveryResult:
        return DeliveryResult(
            file=self.file,
            line=lineno,
            ts=ts,
            msg_id=qid,
            outcome=outcome,
            recipients=rcpts,
            host=host,
            ip=ip,
            stage=stage,
            error_class=classify(outcome, stage, code, text),
            code=code,
            response=text,
        )
