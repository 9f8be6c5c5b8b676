"""Exim main log (``mainlog``): lines in, events out.

Line shape: ``YYYY-MM-DD hh:mm:ss[.fff] [+zone] [[pid]] [message-id] text``; ids are old
(``10HmaX-0005vi-00``) or new style (``10HmaX-000000005vi-0000``, Exim 4.97+).

- ``<= sender ... S=size`` -> `MessageInfo` (a masked ``S=sss`` gives no size).
- ``=> rcpt ... H=host [ip]`` / ``-> rcpt`` -> delivered `DeliveryResult` (local
  deliveries without ``H=`` are skipped);
  ``== rcpt ... defer (errno): ... H=host [ip]: SMTP timeout after end of data`` ->
  deferred; ``** rcpt ...: reason`` -> bounced.
- ``H=host [ip]: SMTP timeout after sending data block``, ``SMTP error from remote mail
  server after RCPT TO:<x>: 450 ...``, ``Remote host closed connection in response to EHLO``
  (one host of several MX) -> deferred result without recipients; the model merges it
  with the ``==`` line that repeats it.
- ``Completed`` -> `MessageDone`; ``SMTP connection from ... lost while reading message
  data`` -> `InboundDrop`.

The stage is Exim's "after X" phrase: "sending data block" is the body, "end of data" the
wait for the reply to the final dot (smtp transport, ``transports/smtp.c``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pathsleuth.maillog.base import NOTHING
from pathsleuth.maillog.classify import classify, reply_code
from pathsleuth.maillog.events import (
    AnyEvent,
    DeliveryResult,
    InboundDrop,
    MessageDone,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.syslog import SyslogClock

_LINE = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: ([+-]\d{4}))?(?: \[\d+(?:/\d+)?\])? "
    r"(?:([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) )?(.*)$"
)
_HOST = re.compile(r"H=(\S+) \[([^\]]+)\]")
_SIZE = re.compile(r" S=(\d+)")
_SENDER = re.compile(r"<= (\S+)")
_RCPT = re.compile(r"(?:=>|->|==|\*\*) (\S+)")
_INBOUND = re.compile(
    r"SMTP connection from (.*?)\s*(?:\[([0-9A-Fa-f:.]+)\])?(?::\d+)? lost while reading message data"
)
_STAGE_WORDS: tuple[tuple[str, Stage], ...] = (
    ("after sending data block", Stage.BODY),
    ("after end of data", Stage.END_OF_DATA),
    ("after pipelined end of data", Stage.END_OF_DATA),
    ("after data", Stage.DATA),
    ("after pipelined data", Stage.DATA),
    ("after rcpt to", Stage.RCPT),
    ("after pipelined rcpt to", Stage.RCPT),
    ("after mail from", Stage.MAIL),
    ("after pipelined mail from", Stage.MAIL),
    ("starttls", Stage.STARTTLS),
    ("tls session", Stage.STARTTLS),
    ("ehlo", Stage.EHLO),
    ("helo", Stage.EHLO),
    ("after initial connection", Stage.BANNER),
    ("connection refused", Stage.CONNECT),
)
_IP = re.compile(r"[0-9A-Fa-f:.]+")


def exim_stage(text: str) -> Stage:
    low = text.lower()
    for words, stage in _STAGE_WORDS:
        if words in low:
            return stage
    return Stage.UNKNOWN


class EximParser:
    """Exim main-log lines -> events (see module docstring)."""

    format_name: ClassVar[str] = "exim"

    def __init__(self, file: str, *, year: int | None = None) -> None:
        self.file = file
        self._cache: dict[str, float | None] = {}

    def _ts(self, stamp: str, zone: str | None) -> float | None:
        key = stamp + (zone or "")
        if key not in self._cache:
            iso = stamp.replace(" ", "T") + (f"{zone[:3]}:{zone[3:]}" if zone else "")
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = SyslogClock.iso(iso)
        return self._cache[key]

    def feed(self, line: str, lineno: int) -> Sequence[AnyEvent] | None:
        m = _LINE.match(line)
        if m is None:
            return None
        ts = self._ts(m[1], m[2])
        mid, text = m[3], m[4]
        if mid is None:
            i = _INBOUND.search(text)
            if i:
                return (
                    InboundDrop(
                        file=self.file,
                        line=lineno,
                        ts=ts,
                        msg_id="",
                        client_host=i[1] or None,
                        client_ip=i[2],
                        stage=Stage.BODY,
                        response=text,
                    ),
                )
            return NOTHING
        if text.startswith("<= "):
            s = _SIZE.search(text)
            snd = _SENDER.match(text)
            return (
                MessageInfo(
                    file=self.file,
                    line=lineno,
                    ts=ts,
                    msg_id=mid,
                    size=int(s[1]) if s else None,
                    sender=snd[1] if snd else None,
                ),
            )
        if text == "Completed" or text.startswith("Completed "):
            return (MessageDone(file=self.file, line=lineno, ts=ts, msg_id=mid),)
        mark = text[:3]
        if mark in ("=> ", "-> ", "== ", "** "):
            return self._result(ts, lineno, mid, text, mark[:2])
        if text.startswith("H="):
            return self._host_error(ts, lineno, mid, text)
        return NOTHING

    def finish(self) -> Sequence[AnyEvent]:
        return NOTHING

    def _host(self, text: str) -> tuple[str | None, str | None]:
        h = _HOST.search(text)
        if not h:
            return None, None
        ip = h[2] if _IP.fullmatch(h[2]) else None
        return h[1].rstrip("."), ip

    def _result(
        self, ts: float | None, lineno: int, mid: str, text: str, mark: str
    ) -> Sequence[AnyEvent]:
        r = _RCPT.match(text)
        rcpt = r[1] if r else ""
        if rcpt.startswith(":"):  # :blackhole:, :fail: and friends
            return NOTHING
        host, ip = self._host(text)
        if mark in ("=>", "->"):
            if host is None:
                return NOTHING  # local delivery
            c = re.search(r'C="([^"]*)"', text)
            why = c[1] if c else ""
            outcome, stage, code = Outcome.DELIVERED, Stage.DONE, reply_code(why)
        else:
            outcome = Outcome.DEFERRED if mark == "==" else Outcome.BOUNCED
            why = text.split(": ", 1)[1] if ": " in text else text
            stage = exim_stage(why)
            code = _smtp_code(why)
        return (
            DeliveryResult(
                file=self.file,
                line=lineno,
                ts=ts,
                msg_id=mid,
                outcome=outcome,
                recipients=(rcpt,) if "@" in rcpt else (),
                host=host,
                ip=ip,
                stage=stage,
                error_class=classify(outcome, stage, code, why),
                code=code,
                response=why,
            ),
        )

    def _host_error(self, ts: float | None, lineno: int, mid: str, text: str) -> Sequence[AnyEvent]:
        host, ip = self._host(text)
        why = text.split("]: ", 1)[1] if "]: " in text else text
        stage = exim_stage(why)
        code = _smtp_code(why)
        return (
            DeliveryResult(
                file=self.file,
                line=lineno,
                ts=ts,
                msg_id=mid,
                outcome=Outcome.DEFERRED,
                host=host,
                ip=ip,
                stage=stage,
                error_class=classify(Outcome.DEFERRED, stage, code, why),
                code=code,
                response=why,
            ),
        )


_REMOTE_CODE = re.compile(r"(?:server after [^:]*(?::<[^>]*>)?|response was): ([245]\d\d)\b")


def _smtp_code(text: str) -> int | None:
    m = _REMOTE_CODE.search(text)
    return int(m[1]) if m else None
