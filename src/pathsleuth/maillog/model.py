"""Messages and delivery attempts: groups parser events into what triage judges.

`MailLogModel` is fed events in log order and hands on finished `Attempt`s. It keeps per
message only what an attempt needs (size, sender, recipients, the attempt being built) and
evicts it when the MTA says the message is done (`MessageDone`) or when more than
`MAX_OPEN_MESSAGES` are open (the oldest go first), so memory stays flat on any log size.

One attempt is one SMTP session to one host. MTAs log a session as several lines (a
per-host error then one result line per recipient: Postfix, Exim, Sendmail all do), so
consecutive results for the same message and host within `MERGE_WINDOW_S` are merged; the
line that names the furthest stage supplies the stage and the error class.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from pathsleuth.maillog.classify import domain_of
from pathsleuth.maillog.events import (
    AnyEvent,
    DeliveryResult,
    ErrorClass,
    MessageDone,
    MessageInfo,
    Outcome,
    RecipientInfo,
    Stage,
)

#: open messages kept before the oldest is flushed; a busy relay has a few thousand in
#: its active queue (Postfix qmgr_message_active_limit default 20000)
MAX_OPEN_MESSAGES = 50_000
#: recipients remembered per message (enough to name the destination domains)
MAX_RECIPIENTS = 100
#: results of one session are logged within this many seconds of each other
MERGE_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One delivery attempt: one session (or one try to connect) to one host."""

    file: str
    line: int
    """Line of the result that decided the attempt's class."""
    msg_id: str
    ts: float | None
    """When the attempt ended (the result line's time), epoch seconds."""
    start_ts: float | None
    """When it began (connect), if the log says."""
    destination: str
    """What the attempt was delivering to: recipient domain, else host, else IP."""
    domain: str | None
    host: str | None
    ip: str | None
    recipients: tuple[str, ...]
    size: int | None
    """Message size in bytes, if the log gave it."""
    sender: str | None
    stage: Stage
    outcome: Outcome
    error_class: ErrorClass
    code: int | None
    response: str
    banner: str | None

    @property
    def failed(self) -> bool:
        return self.outcome is not Outcome.DELIVERED


@dataclass
class _Msg:
    size: int | None = None
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)
    pending: DeliveryResult | None = None


def _mergeable(a: DeliveryResult, b: DeliveryResult) -> bool:
    if a.ts is not None and b.ts is not None and abs(b.ts - a.ts) > MERGE_WINDOW_S:
        return False
    if a.ip is not None and b.ip is not None and a.ip != b.ip:
        return False
    if a.outcome is Outcome.DELIVERED or b.outcome is Outcome.DELIVERED:
        return a.outcome is b.outcome and a.ip == b.ip
    if a.host and b.host and a.host.lower() != b.host.lower():
        return False
    if a.recipients and not b.recipients:
        return False  # a per-host line after recipient results opens the next session
    if a.recipients and b.recipients:
        return a.error_class is b.error_class and a.stage is b.stage
    return True


def _merge(a: DeliveryResult, b: DeliveryResult) -> DeliveryResult:
    lead = b if b.stage > a.stage else a
    rcpts = a.recipients + tuple(r for r in b.recipients if r not in a.recipients)
    starts = [t for t in (a.start_ts, b.start_ts) if t is not None]
    return replace(
        lead,
        recipients=rcpts,
        host=a.host or b.host,
        ip=a.ip or b.ip,
        domain=a.domain or b.domain,
        banner=a.banner or b.banner,
        start_ts=min(starts) if starts else None,
        ts=b.ts if b.ts is not None else a.ts,
        outcome=Outcome.BOUNCED if Outcome.BOUNCED in (a.outcome, b.outcome) else lead.outcome,
    )


class MailLogModel:
    """Events in (log order), finished `Attempt`s out; bounded memory."""

    def __init__(self, *, max_open: int = MAX_OPEN_MESSAGES) -> None:
        self.max_open = max_open
        self._msgs: OrderedDict[str, _Msg] = OrderedDict()
        self.evicted_open = 0
        """Messages flushed because too many were open (not because they were done)."""

    def _msg(self, key: str) -> tuple[_Msg, list[Attempt]]:
        m = self._msgs.get(key)
        out: list[Attempt] = []
        if m is None:
            m = self._msgs[key] = _Msg()
            while len(self._msgs) > self.max_open:
                _, old = self._msgs.popitem(last=False)
                self.evicted_open += 1
                if old.pending is not None:
                    out.append(self._attempt(old, old.pending))
        return m, out

    def feed(self, ev: AnyEvent) -> list[Attempt]:
        """Take one event; return the attempts it finished (usually none or one)."""
        if isinstance(ev, DeliveryResult):
            key = f"{ev.file}\0{ev.msg_id}"
            m, out = self._msg(key)
            # remembered for per-host lines, which name no recipient (the results that follow do)
            for r in ev.recipients:
                if len(m.recipients) < MAX_RECIPIENTS and r not in m.recipients:
                    m.recipients.append(r)
            if m.pending is not None and _mergeable(m.pending, ev):
                m.pending = _merge(m.pending, ev)
            else:
                if m.pending is not None:
                    out.append(self._attempt(m, m.pending))
                m.pending = ev
            return out
        if isinstance(ev, MessageInfo):
            m, out = self._msg(f"{ev.file}\0{ev.msg_id}")
            m.size = ev.size if ev.size is not None else m.size
            m.sender = ev.sender if ev.sender is not None else m.sender
            return out
        if isinstance(ev, RecipientInfo):
            m, out = self._msg(f"{ev.file}\0{ev.msg_id}")
            if len(m.recipients) < MAX_RECIPIENTS and ev.recipient not in m.recipients:
                m.recipients.append(ev.recipient)
            return out
        if isinstance(ev, MessageDone):
            done = self._msgs.pop(f"{ev.file}\0{ev.msg_id}", None)
            if done is not None and done.pending is not None:
                return [self._attempt(done, done.pending)]
        return []

    def finish(self) -> list[Attempt]:
        """Flush every attempt still held (end of input)."""
        out = [self._attempt(m, m.pending) for m in self._msgs.values() if m.pending is not None]
        self._msgs.clear()
        return out

    @staticmethod
    def _attempt(m: _Msg, r: DeliveryResult) -> Attempt:
        rcpts = r.recipients or tuple(m.recipients)
        domain = r.domain
        if domain is None:
            domain = next((d for d in (domain_of(x) for x in rcpts) if d), None)
        dest = domain or (r.host.lower() if r.host else None) or r.ip or "(unknown)"
        return Attempt(
            file=r.file,
            line=r.line,
            msg_id=r.msg_id,
            ts=r.ts,
            start_ts=r.start_ts,
            destination=dest,
            domain=domain,
            host=r.host,
            ip=r.ip,
            recipients=rcpts,
            size=m.size,
            sender=m.sender,
            stage=r.stage,
            outcome=r.outcome,
            error_class=r.error_class,
            code=r.code,
            response=r.response,
            banner=r.banner,
        )
