"""Postfix logs (syslog or Postfix's own ``maillog_file``): lines in, `LogEvent`s out.

What matters for delivery diagnosis, and what this parser turns into events:

- ``qmgr``: ``QID: from=<s>, size=N, nrcpt=K (queue active)`` -> `MessageInfo`;
  ``QID: removed`` -> `MessageDone`.
- ``smtp``/``lmtp`` (and any transport name, e.g. ``postfix/relay``): the per-recipient
  result ``QID: to=<r>, relay=mx[ip]:25, delay=.., delays=a/b/c/d, dsn=x.y.z,
  status=sent|deferred|bounced (text)`` -> `DeliveryResult`; and the per-MX failures that
  Postfix logs before trying the next MX (``QID: conversation with mx[ip] timed out while
  sending message body``, ``lost connection with ... while ...``, ``host mx[ip] said: ...
  (in reply to RCPT TO command)``) -> `DeliveryResult` without recipients.
- ``smtpd``: ``timeout after DATA (N bytes) from c[ip]`` / ``lost connection after DATA``
  / ``after END-OF-MESSAGE`` -> `InboundDrop`.

The stage comes from Postfix's own wording (smtp_proto.c ``xfer_states``: "while sending
message body", "while sending end of data -- message may be sent more than once", "in
reply to end of DATA command"). Queue ids may be short (hex) or long (``enable_long_queue_ids``).

Hot path: a benchmark feeds a gigabyte of this format, so lines are pre-filtered with
``in`` tests before any regex runs, the syslog header is sliced rather than matched when it
has the common fixed-width shape, and epoch conversion is cached per second.
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
    MessageDone,
    MessageInfo,
    Outcome,
    Stage,
)
from pathsleuth.maillog.syslog import MONTHS, SyslogClock, parse_header

_STATUS = re.compile(
    r"([0-9A-Za-z]+): to=<([^>]*)>,.*? relay=([^,]*),(.*?) status=(\w+)(?: \((.*)\))?$"
)
_DELAYS = re.compile(r"delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)")
_QMGR_FROM = re.compile(r"([0-9A-Za-z]+): from=<([^>]*)>, size=(\d+)")
_PER_MX = re.compile(
    r"([0-9A-Za-z]+): (?:(?:conversation|lost connection) with (\S+?\[[^\]]*\](?::\d+)?)|"
    r"host (\S+?\[[^\]]*\](?::\d+)?) (?:said|refused to talk to me)):? ?(.*)$"
)
_INBOUND = re.compile(
    r"(timeout|lost connection) after (DATA|END-OF-MESSAGE|BDAT)(?: \([^)]*\))? from (\S+)"
)
_CONNECT_TO = re.compile(r"connect to (\S+?\[[^\]]*\](?::\d+)?): (.*)$")

#: Postfix wording of where a client conversation was, in match order
_STAGE_WORDS: tuple[tuple[str, Stage], ...] = (
    ("while sending message body", Stage.BODY),
    ("while sending end of data", Stage.END_OF_DATA),
    ("after end-of-message", Stage.END_OF_DATA),
    ("in reply to end of data command", Stage.END_OF_DATA),
    ("while sending data command", Stage.DATA),
    ("in reply to data command", Stage.DATA),
    ("while sending rcpt to", Stage.RCPT),
    ("in reply to rcpt to command", Stage.RCPT),
    ("while sending mail from", Stage.MAIL),
    ("in reply to mail from command", Stage.MAIL),
    ("starttls", Stage.STARTTLS),
    ("tls", Stage.STARTTLS),
    ("handshake", Stage.EHLO),
    ("while sending xforward", Stage.EHLO),
    ("in reply to ehlo", Stage.EHLO),
    ("in reply to helo", Stage.EHLO),
    ("in reply to lhlo", Stage.EHLO),
    ("initial server greeting", Stage.BANNER),
    ("refused to talk to me", Stage.BANNER),
    ("connect to ", Stage.CONNECT),
    ("name service error", Stage.CONNECT),
    ("host or domain name not found", Stage.CONNECT),
)
_OUTCOMES = {
    "sent": Outcome.DELIVERED,
    "deliverable": Outcome.DELIVERED,
    "deferred": Outcome.DEFERRED,
    "undeliverable": Outcome.BOUNCED,
    "bounced": Outcome.BOUNCED,
    "expired": Outcome.BOUNCED,
}
#: transports that deliver locally: their results say nothing about the network path
_LOCAL_RELAYS = frozenset({"local", "virtual", "dovecot", "maildrop", "procmail", "cyrus"})


def postfix_stage(text: str) -> Stage:
    """The SMTP stage Postfix's explanation text names, or UNKNOWN."""
    low = text.lower()
    for words, stage in _STAGE_WORDS:
        if words in low:
            return stage
    return Stage.UNKNOWN


class PostfixParser:
    """Postfix syslog / maillog_file lines -> events (see module docstring)."""

    format_name: ClassVar[str] = "postfix"

    def __init__(self, file: str, *, year: int | None = None) -> None:
        self.file = file
        self.clock = SyslogClock(year)
        self._stamps: dict[str, float | None] = {}

    def _header(self, line: str) -> tuple[float | None, str, str] | None:
        """(ts, program, text), sliced when the stamp is the usual 15 characters."""
        if len(line) > 16 and line[15] == " " and line[3] == " " and line[6] == " ":
            stamp = line[:15]
            ts = self._stamps.get(stamp, -1.0)
            if ts == -1.0:
                day = line[4:6].strip()
                if line[:3] not in MONTHS or not day.isdigit():
                    ts = None
                else:
                    ts = self.clock.bsd(line[:3], day, line[7:9], line[10:12], line[13:15], None)
                if len(self._stamps) > 4096:
                    self._stamps.clear()
                self._stamps[stamp] = ts
            if ts is not None:
                _host, _, rest = line[16:].partition(" ")
                prog, sep, text = rest.partition(": ")
                if sep and not _host.startswith("<"):
                    return ts, prog, text
        hdr = parse_header(line, self.clock)
        if hdr is None:
            return None
        return hdr[0], hdr[2], hdr[3]

    def feed(self, line: str, lineno: int) -> Sequence[AnyEvent] | None:
        if "postfix" not in line:
            return None
        hdr = self._header(line)
        if hdr is None:
            return None
        ts, prog, text = hdr
        if "postfix" not in prog:
            return None
        if "status=" in text:
            return self._status(ts, text, lineno)
        if "size=" in text:
            m = _QMGR_FROM.match(text)
            if m:
                return (
                    MessageInfo(
                        file=self.file,
                        line=lineno,
                        ts=ts,
                        msg_id=m[1],
                        size=int(m[3]),
                        sender=m[2] or "<>",
                    ),
                )
            return NOTHING
        if text.endswith(": removed"):
            return (MessageDone(file=self.file, line=lineno, ts=ts, msg_id=text[:-9]),)
        if " with " in text or " said" in text or "refused to talk" in text:
            m = _PER_MX.match(text)
            if m:
                return self._per_mx(ts, lineno, m)
        if " after " in text and "smtpd" in prog:
            m = _INBOUND.search(text)
            if m:
                host, ip = split_host_ip(m[3])
                stage = Stage.BODY if m[2] != "END-OF-MESSAGE" else Stage.END_OF_DATA
                return (
                    InboundDrop(
                        file=self.file,
                        line=lineno,
                        ts=ts,
                        msg_id="",
                        client_host=host,
                        client_ip=ip,
                        stage=stage,
                        response=text,
                    ),
                )
        return NOTHING

    def finish(self) -> Sequence[AnyEvent]:
        return NOTHING

    def _status(self, ts: float | None, text: str, lineno: int) -> Sequence[AnyEvent]:
        m = _STATUS.match(text)
        if m is None:
            return NOTHING
        qid, rcpt, relay, middle, status, why = m.groups()
        host, ip = split_host_ip(relay)
        if host in _LOCAL_RELAYS and ip is None:
            return NOTHING
        outcome = _OUTCOMES.get(status, Outcome.DEFERRED)
        why = why or ""
        start_ts = None
        d = _DELAYS.search(middle)
        if d and ts is not None:
            # delays=a/b/c/d: c is connection setup (DNS, TCP, HELO, TLS), d transmission
            # (postconf(5) "delay_logging_resolution_limit"; Postfix 2.3 and later)
            start_ts = ts - float(d[3]) - float(d[4])
        if outcome is Outcome.DELIVERED:
            stage = Stage.DONE
            code = reply_code(why)
        else:
            stage = postfix_stage(why)
            code = _said_code(why)
        # the host in the explanation is the one that failed (relay= may be the last MX)
        if outcome is not Outcome.DELIVERED and ip is None and "[" in why:
            w = re.search(r"(?:with|host|to) (\S+?\[[^\]]*\])", why)
            if w:
                host, ip = split_host_ip(w[1])
        return (
            DeliveryResult(
                file=self.file,
                line=lineno,
                ts=ts,
                msg_id=qid,
                outcome=outcome,
                recipients=(rcpt,) if rcpt else (),
                host=host if host != "none" else None,
                ip=ip,
                stage=stage,
                error_class=classify(outcome, stage, code, why),
                code=code,
                response=why,
                start_ts=start_ts,
            ),
        )

    def _per_mx(self, ts: float | None, lineno: int, m: re.Match[str]) -> Sequence[AnyEvent]:
        qid = m[1]
        host, ip = split_host_ip(m[2] or m[3])
        text = m.group(0)[len(qid) + 2 :]
        stage = postfix_stage(text)
        code = _said_code(text)
        return (
            DeliveryResult(
                file=self.file,
                line=lineno,
                ts=ts,
                msg_id=qid,
                outcome=Outcome.DEFERRED,
                host=host,
                ip=ip,
                stage=stage,
                error_class=classify(Outcome.DEFERRED, stage, code, text),
                code=code,
                response=text,
            ),
        )


_SAID = re.compile(r"said: ([245]\d\d)\b")


def _said_code(text: str) -> int | None:
    m = _SAID.search(text)
    return int(m[1]) if m else None
