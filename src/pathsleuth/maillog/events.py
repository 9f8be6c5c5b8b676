"""Events the mail-log parsers hand on, and the SMTP vocabulary they share.

Every parser (`gwia`, `postfix`, `sendmail`, `exim`) turns lines into the frozen events
below, each carrying the 1-based line number and the file it came from, so a finding can
always be traced back to the log. The vocabulary is deliberately small and MTA-neutral:

- `MessageInfo`: what the MTA knows about a queued message (size, sender).
- `RecipientInfo`: one recipient of a message, when the MTA logs it apart from the result.
- `DeliveryResult`: one outcome of one delivery attempt to one host (delivered, deferred,
  bounced), with the SMTP `Stage` the conversation had reached and the `ErrorClass` the
  parser assigned from the MTA's own wording.
- `MessageDone`: the MTA forgot the message (Postfix ``removed``, Exim ``Completed``), so
  the model may evict its state.
- `InboundDrop`: a *receiving* session that died during or right after the body (the
  inbound side of a black hole, weak evidence on its own).

`model.py` groups them into messages and attempts; `triage.py` judges destinations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Stage(IntEnum):
    """How far an SMTP client conversation got, in protocol order (RFC 5321 section 3).

    Ordered so that ``stage >= Stage.DATA`` means "the DATA command was sent".
    """

    UNKNOWN = 0
    CONNECT = 1  #: TCP connection being set up
    BANNER = 2  #: waiting for / reading the 220 greeting
    EHLO = 3
    STARTTLS = 4
    MAIL = 5
    RCPT = 6
    DATA = 7  #: DATA command sent, waiting for 354
    BODY = 8  #: writing the message body (the bulk, full-size segments)
    END_OF_DATA = 9  #: final "." sent, waiting for the reply
    DONE = 10  #: reply to end of data received

    @property
    def label(self) -> str:
        return self.name.lower()


class Outcome(StrEnum):
    """What the MTA decided for the recipient(s) of one attempt."""

    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


class ErrorClass(StrEnum):
    """Why an attempt failed, in the support engineer's categories.

    Only `PMTU_LIKE_AFTER_DATA` is the path-MTU black-hole signature; the others are the
    failure classes a mail log shows every day and are reported separately.
    """

    NONE = "none"
    """Delivered."""
    PMTU_LIKE_AFTER_DATA = "pmtu_like_after_data"
    """Transport failure (write error, timeout, lost connection) while sending the body or
    waiting for the reply to the final dot: the black-hole signature."""
    TIMEOUT_BEFORE_DATA = "timeout_before_data"
    """Timeout during the small-command phase (banner, EHLO, MAIL, RCPT, DATA command)."""
    LOST_BEFORE_DATA = "lost_before_data"
    """Connection closed or reset by the peer before the body was sent."""
    CONNECT_TIMEOUT = "connect_timeout"
    """TCP connection never established (SYN unanswered)."""
    CONNECTION_REFUSED = "connection_refused"
    """TCP RST to the SYN, or no route / host unreachable."""
    TLS = "tls"
    """STARTTLS or TLS handshake failure, TLS policy (MTA-STS, DANE) not met."""
    DNS = "dns"
    """Name resolution failed (MX or A/AAAA lookup)."""
    REJECTED_5XX = "rejected_5xx"
    """The server answered with a permanent 5xx."""
    DEFERRED_4XX = "deferred_4xx"
    """The server answered with a temporary 4xx (busy, rate limit, policy)."""
    GREYLISTING = "greylisting"
    """A 4xx that says it is greylisting."""
    LOCAL = "local"
    """The local MTA's own problem (queue, transport unavailable, retry time not reached)."""
    OTHER = "other"
    """A failure the wording does not place."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEvent:
    """Base of all parser events."""

    file: str
    """Display name of the log the line came from."""
    line: int
    """1-based line number in that log."""
    ts: float | None
    """Seconds since the epoch (UTC unless the log says otherwise), None if unknown."""
    msg_id: str
    """The MTA's message identifier (Postfix/Sendmail queue id, Exim id, GWIA MSG number)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageInfo(LogEvent):
    """Size and/or sender of a message as the MTA logged them."""

    size: int | None = None
    """Message size in bytes (GWIA's ``86.5 Kb`` converted with 1 KB = 1024 bytes)."""
    sender: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientInfo(LogEvent):
    """One recipient, logged apart from any delivery result (GWIA ``Recipient:``)."""

    recipient: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult(LogEvent):
    """One outcome of one delivery attempt (one log line, one or more recipients)."""

    outcome: Outcome
    recipients: tuple[str, ...] = ()
    domain: str | None = None
    """Destination domain when the line names no recipient (GWIA result file target)."""
    host: str | None = None
    """Name of the host the MTA talked to (the MX), if logged."""
    ip: str | None = None
    """Its IP address as text, if logged."""
    stage: Stage = Stage.UNKNOWN
    error_class: ErrorClass = ErrorClass.NONE
    code: int | None = None
    """SMTP reply code (or the MTA's own pseudo-code such as GWIA's 420)."""
    response: str = ""
    """The MTA's explanation, verbatim (status text, reply, error)."""
    banner: str | None = None
    """The server's 220 greeting, when the log shows it (GWIA result files)."""
    start_ts: float | None = None
    """When the attempt began (connect), if the log says; `ts` is when it ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDone(LogEvent):
    """The MTA has finished with the message: its state can be evicted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundDrop(LogEvent):
    """A receiving session lost during or right after the message body."""

    client_host: str | None
    client_ip: str | None
    stage: Stage
    response: str


AnyEvent = MessageInfo | RecipientInfo | DeliveryResult | MessageDone | InboundDrop
