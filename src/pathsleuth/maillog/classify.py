"""Error classes from the MTAs' own words: one place that maps wording to `ErrorClass`.

Each parser works out the SMTP `Stage` from its MTA's phrasing (Postfix "while sending
message body", Exim "after end of data", GWIA's ``Command: Data...``) and hands the stage,
the reply code and the text to `classify`, so that every format applies the same rules:
a transport failure (timeout, lost connection, write error) once the body is on its way is
the path-MTU signature; the same failure earlier is an ordinary timeout; a reply code means
the server *answered*, which a black hole never lets it do. Also small address helpers the
parsers share. Pure functions; nothing here reads files.
"""

from __future__ import annotations

import re

from pathsleuth.maillog.events import ErrorClass, Outcome, Stage

_DNS = re.compile(
    r"host or domain name not found|name service error|host not found|"
    r"no mx (?:record|host)|unrouteable|all relevant mx records|dns (?:error|failure|lookup)|"
    r"domain (?:name )?not found|nxdomain|servfail",
    re.I,
)
_TLS = re.compile(
    r"\btls\b|starttls|\bssl|certificate|handshake failure|mta-sts|\bdane\b|tlsa", re.I
)
_REFUSED = re.compile(
    r"connection refused|no route to host|network is unreachable|host (?:is )?unreachable", re.I
)
_TIMEOUT = re.compile(r"timed? ?out|timeout", re.I)
_TRANSPORT = re.compile(
    r"timed? ?out|timeout|lost connection|connection (?:was )?reset|reset by peer|broken pipe|"
    r"tcp (?:write|read) error|write error|read error|i/o error|"
    r"(?:remote host )?closed (?:the )?connection|connection (?:was )?closed|"
    r"unexpected (?:eof|end of file)|connection (?:was )?dropped",
    re.I,
)
_GREY = re.compile(r"gr[ae]y ?list", re.I)
_LOCAL = re.compile(
    r"delivery temporarily suspended|retry time not reached|transport is unavailable|"
    r"mail transport unavailable|retry timeout exceeded|queue file write error|"
    r"mail for \S+ loops back to myself",
    re.I,
)
_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]|$)")


def reply_code(text: str) -> int | None:
    """The first SMTP reply code (2xx/4xx/5xx) in `text`, or None."""
    m = _CODE.search(text)
    return int(m.group(1)) if m else None


def classify(outcome: Outcome, stage: Stage, code: int | None, text: str) -> ErrorClass:
    """The error class of one attempt's outcome from its stage, reply code and wording."""
    if outcome is Outcome.DELIVERED:
        return ErrorClass.NONE
    if _LOCAL.search(text):
        return ErrorClass.LOCAL
    if _DNS.search(text):
        return ErrorClass.DNS
    transport = _TRANSPORT.search(text) is not None
    # A transport failure once the body is being written is the black-hole signature,
    # even when the MTA dresses it as a 42x pseudo-reply (GWIA "420 TCP write error",
    # "421 4.0.0 Error: timeout"): a server that *answers* does not give a timeout.
    if stage >= Stage.BODY and stage < Stage.DONE and transport:
        return ErrorClass.PMTU_LIKE_AFTER_DATA
    if _TLS.search(text) or stage is Stage.STARTTLS:
        return ErrorClass.TLS
    if _REFUSED.search(text):
        return ErrorClass.CONNECTION_REFUSED
    if code is not None and 500 <= code < 600:
        return ErrorClass.REJECTED_5XX
    if code is not None and 400 <= code < 500 and not (code in (420, 421) and transport):
        return ErrorClass.GREYLISTING if _GREY.search(text) else ErrorClass.DEFERRED_4XX
    if _GREY.search(text):
        return ErrorClass.GREYLISTING
    if transport:
        if stage is Stage.CONNECT:
            return (
                ErrorClass.CONNECT_TIMEOUT if _TIMEOUT.search(text) else ErrorClass.LOST_BEFORE_DATA
            )
        if _TIMEOUT.search(text):
            return ErrorClass.TIMEOUT_BEFORE_DATA
        return ErrorClass.LOST_BEFORE_DATA
    return ErrorClass.OTHER


_HOST_IP = re.compile(r"^\s*([^\s\[\]]*)\s*\[((?i:ipv6:)?[0-9A-Fa-f:.]+)\](?::\d+)?")


def split_host_ip(text: str) -> tuple[str | None, str | None]:
    """``mx.example[192.0.2.1]:25`` / ``mx.example. [192.0.2.1]`` -> (host, ip)."""
    m = _HOST_IP.match(text)
    if not m:
        host = text.strip().rstrip(".").split(":")[0] or None
        return (host, None)
    host = m.group(1).rstrip(".") or None
    ip = m.group(2)
    if ip.lower().startswith("ipv6:"):
        ip = ip[5:]
    return host, ip


def domain_of(address: str) -> str | None:
    """The lower-cased domain of ``user@domain`` (angle brackets allowed), or None."""
    address = address.strip().strip("<>")
    at = address.rfind("@")
    if at < 0 or at == len(address) - 1:
        return None
    return address[at + 1 :].lower().rstrip(".")
