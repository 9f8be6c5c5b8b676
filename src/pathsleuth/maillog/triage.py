"""Per-destination triage: which destinations show the path-MTU black-hole signature, and
what every other failure was.

`Triage` is fed finished `Attempt`s (and inbound drops) and keeps only per-destination
counters and a bounded number of example attempts, so it runs in flat memory on any log.
`Triage.result` judges each destination:

*The signature* (the seed case, RFC 2923 section 2.1): the transport dies while the body is
being written or while waiting for the reply to the final dot (`ErrorClass.PMTU_LIKE_AFTER_DATA`)
for messages bigger than one full-size segment, at a destination where the small-packet
commands (EHLO, MAIL, RCPT, DATA) worked and small messages are delivered. Confidence is
``strong`` when at least two such attempts failed or one failed *during* the body, ``weak``
when a single attempt timed out after the final dot or when a larger message did get through
(intermittent loss or a different cause). A failing message no bigger than `SMALL_MESSAGE_BYTES`
cannot need a full-size segment and is not counted.

Each suspect carries its evidence, the red herrings it rules out, the differentials that look
the same from the log (SMTP inspection on a Cisco PIX/ASA with its masked ``220 ****`` banner,
an AV-scanning SMTP proxy), and the next step: a capture filter that also catches the ICMP
errors routers send *from their own addresses*, and the probe command. Formatting is
`pathsleuth.report.maillog`'s job.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pathsleuth.maillog.events import ErrorClass, InboundDrop, Outcome, Stage
from pathsleuth.maillog.model import Attempt

#: one full-size Ethernet segment: MTU 1500 - 20 (IPv4) - 20 (TCP) = MSS 1460
#: (RFC 894 / RFC 879). A message that fits in one segment cannot hit a PMTU black hole.
SMALL_MESSAGE_BYTES = 1460
#: example attempts kept per suspect destination and per error class
MAX_SUSPECT_ATTEMPTS = 200
MAX_CLASS_EXAMPLES = 3
#: failing attempts kept for correlation with a capture (the rest are only counted)
MAX_FAILING_KEPT = 10_000
#: distinct responses / banners remembered per destination
MAX_DISTINCT = 20
#: inbound sessions lost after DATA from one client before it is worth a note
INBOUND_NOTE_MIN = 1

#: banner of Cisco PIX/ASA "fixup smtp" / "inspect esmtp" (MailGuard): every character
#: except the reply code replaced with '*' (Cisco ASA configuration guide, ESMTP inspection)
_MASKED_BANNER = re.compile(r"\*{4,}")
_APPLIANCE = re.compile(
    r"sonicwall|fortigate|fortimail|fortinet|barracuda|sophos|astaro|watchguard|ironport|"
    r"mcafee|symantec|proofpoint|mimecast|trend ?micro|interscan|mailscanner|clearswift|"
    r"kerio|untangle|check ?point|zyxel|smtp[- ]?proxy|mailguard|spamtitan|cyberoam",
    re.I,
)

RED_HERRINGS: tuple[str, ...] = (
    "not TLS: the session got past EHLO/STARTTLS to DATA, so any TLS handshake had completed",
    "not MTA-STS or DANE: those policies are checked before or at connection, not after DATA",
    "not antispam or content filtering: a filter answers with an SMTP reply (4xx/5xx); here "
    "the transport itself died with no reply",
    "not the recipient or the sender address: RCPT TO and MAIL FROM were accepted (250)",
)


class Confidence(StrEnum):
    STRONG = "strong"
    WEAK = "weak"


@dataclass(frozen=True, kw_only=True)
class Differential:
    """Another cause that leaves the same trace in the log."""

    kind: str
    """``smtp_inspection`` (firewall SMTP fixup), ``scanning_middlebox`` (an SMTP-aware
    appliance or proxy named in the banner), ``outbound_av_scanning`` (your own UTM)."""
    evidence: str


@dataclass(frozen=True, kw_only=True)
class PmtuSuspect:
    """A destination showing the path-MTU black-hole signature."""

    destination: str
    hosts: tuple[tuple[str | None, str | None], ...]
    """(host, ip) pairs of the failing attempts, most frequent first."""
    confidence: Confidence
    failed_after_data: int
    """Attempts that died after DATA (counted ones: size unknown or above one segment)."""
    attempts: int
    """All attempts to the destination."""
    delivered: int
    in_body: int
    """Of `failed_after_data`, how many died while the body was being written."""
    responses: tuple[tuple[str, int], ...]
    """The MTA's failure texts with their counts, most frequent first."""
    smallest_failing: int | None
    largest_delivered: int | None
    too_small_ignored: int
    """Transport failures after DATA of messages too small to need a full-size segment."""
    first_ts: float | None
    last_ts: float | None
    reasons: tuple[str, ...]
    """Why the confidence is what it is."""
    red_herrings: tuple[str, ...]
    differentials: tuple[Differential, ...]
    capture_filter: str
    """tcpdump command line that records the sessions and every ICMP error."""
    probe_command: str
    analyze_command: str
    examples: tuple[Attempt, ...]
    """The failing attempts (bounded by `MAX_SUSPECT_ATTEMPTS`), in log order."""

    @property
    def host(self) -> str | None:
        return self.hosts[0][0] if self.hosts else None

    @property
    def ip(self) -> str | None:
        return self.hosts[0][1] if self.hosts else None


@dataclass(frozen=True, kw_only=True)
class DestinationSummary:
    destination: str
    hosts: tuple[tuple[str | None, str | None], ...]
    attempts: int
    delivered: int
    failed: int
    by_class: tuple[tuple[ErrorClass, int], ...]
    """Failure classes with counts, most frequent first (delivered attempts not included)."""
    largest_delivered: int | None
    smallest_failing_after_data: int | None
    pmtu_suspect: bool


@dataclass(frozen=True, kw_only=True)
class ClassSummary:
    error_class: ErrorClass
    attempts: int
    destinations: int
    examples: tuple[Attempt, ...]


@dataclass(frozen=True, kw_only=True)
class InboundNote:
    """Receiving sessions lost during/after the body, per client (weak inbound evidence)."""

    client: str
    ip: str | None
    drops: int
    first_line: int
    file: str
    example: str


@dataclass(frozen=True, kw_only=True)
class TriageResult:
    suspects: tuple[PmtuSuspect, ...]
    destinations: tuple[DestinationSummary, ...]
    classes: tuple[ClassSummary, ...]
    inbound: tuple[InboundNote, ...]
    attempts: int
    delivered: int
    failed: int
    failing_attempts: tuple[Attempt, ...]
    """Failing attempts for correlation (PMTU-like ones first), at most `MAX_FAILING_KEPT`."""
    failing_dropped: int
    """Failing attempts not kept in `failing_attempts` (only counted)."""


@dataclass
class _Dest:
    attempts: int = 0
    delivered: int = 0
    by_class: Counter[ErrorClass] = field(default_factory=Counter)
    hosts: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    fail_hosts: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    largest_delivered: int | None = None
    pmtu: int = 0
    pmtu_body: int = 0
    too_small: int = 0
    smallest_failing: int | None = None
    responses: Counter[str] = field(default_factory=Counter)
    banners: list[str] = field(default_factory=list)
    examples: list[Attempt] = field(default_factory=list)
    first_ts: float | None = None
    last_ts: float | None = None


@dataclass
class _Inbound:
    drops: int = 0
    first: InboundDrop | None = None


def _size_ok(size: int | None) -> bool:
    return size is None or size > SMALL_MESSAGE_BYTES


class Triage:
    """Attempts in, per-destination judgement out (see module docstring)."""

    def __init__(self, *, destination: str | None = None, logs: Sequence[str] = ()) -> None:
        # the log paths, quoted for the shell, for the suggested `analyze --log` command
        named = [p for p in logs if p != "-"]
        self.log_args = " ".join(f"--log {shlex.quote(p)}" for p in named) or "--log LOG"
        self.destination_filter = destination.lower().strip(".[]") if destination else None
        self._dests: dict[str, _Dest] = {}
        self._class_examples: dict[ErrorClass, list[Attempt]] = {}
        self._class_dests: dict[ErrorClass, set[str]] = {}
        self._class_counts: Counter[ErrorClass] = Counter()
        self._pmtu_kept: list[Attempt] = []
        self._other_kept: list[Attempt] = []
        self._dropped = 0
        self._inbound: dict[str, _Inbound] = {}
        self.attempts = 0
        self.delivered = 0

    def wants(self, a: Attempt) -> bool:
        """True unless a ``--destination`` filter excludes the attempt."""
        f = self.destination_filter
        if f is None:
            return True
        for name in (a.destination, a.domain, a.host, a.ip):
            if name and (name.lower() == f or name.lower().endswith("." + f)):
                return True
        return False

    def add(self, a: Attempt) -> None:
        if not self.wants(a):
            return
        self.attempts += 1
        d = self._dests.get(a.destination)
        if d is None:
            d = self._dests[a.destination] = _Dest()
        d.attempts += 1
        if a.host or a.ip:
            d.hosts[(a.host, a.ip)] += 1
        if a.ts is not None:
            d.first_ts = a.ts if d.first_ts is None else min(d.first_ts, a.ts)
            d.last_ts = a.ts if d.last_ts is None else max(d.last_ts, a.ts)
        if a.banner and len(d.banners) < MAX_DISTINCT and a.banner not in d.banners:
            d.banners.append(a.banner)
        if a.outcome is Outcome.DELIVERED:
            self.delivered += 1
            d.delivered += 1
            if a.size is not None and (d.largest_delivered is None or a.size > d.largest_delivered):
                d.largest_delivered = a.size
            return
        cls = a.error_class
        d.by_class[cls] += 1
        d.fail_hosts[(a.host, a.ip)] += 1
        self._class_counts[cls] += 1
        self._class_dests.setdefault(cls, set()).add(a.destination)
        ex = self._class_examples.setdefault(cls, [])
        if len(ex) < MAX_CLASS_EXAMPLES:
            ex.append(a)
        if cls is ErrorClass.PMTU_LIKE_AFTER_DATA:
            if not _size_ok(a.size):
                d.too_small += 1
            else:
                d.pmtu += 1
                d.pmtu_body += a.stage is Stage.BODY
                if a.size is not None and (
                    d.smallest_failing is None or a.size < d.smallest_failing
                ):
                    d.smallest_failing = a.size
                if len(d.responses) < MAX_DISTINCT or a.response in d.responses:
                    d.responses[a.response] += 1
                if len(d.examples) < MAX_SUSPECT_ATTEMPTS:
                    d.examples.append(a)
        kept = self._pmtu_kept if cls is ErrorClass.PMTU_LIKE_AFTER_DATA else self._other_kept
        if len(self._pmtu_kept) + len(self._other_kept) < MAX_FAILING_KEPT:
            kept.append(a)
        else:
            self._dropped += 1

    def add_inbound(self, ev: InboundDrop) -> None:
        key = ev.client_ip or ev.client_host or "(unknown)"
        s = self._inbound.get(key)
        if s is None:
            if len(self._inbound) >= MAX_FAILING_KEPT:
                return
            s = self._inbound[key] = _Inbound(first=ev)
        s.drops += 1

    # ------------------------------------------------------------------ judgement
    def result(self) -> TriageResult:
        suspects: list[PmtuSuspect] = []
        summaries: list[DestinationSummary] = []
        for name, d in self._dests.items():
            suspect = self._suspect(name, d, self.log_args) if d.pmtu else None
            if suspect is not None:
                suspects.append(suspect)
            summaries.append(
                DestinationSummary(
                    destination=name,
                    hosts=tuple(h for h, _ in d.hosts.most_common(MAX_DISTINCT)),
                    attempts=d.attempts,
                    delivered=d.delivered,
                    failed=d.attempts - d.delivered,
                    by_class=tuple(d.by_class.most_common()),
                    largest_delivered=d.largest_delivered,
                    smallest_failing_after_data=d.smallest_failing,
                    pmtu_suspect=suspect is not None,
                )
            )
        suspects.sort(
            key=lambda s: (
                s.confidence is not Confidence.STRONG,
                -s.failed_after_data,
                s.destination,
            )
        )
        summaries.sort(key=lambda s: (not s.pmtu_suspect, -s.failed, -s.attempts, s.destination))
        classes = tuple(
            ClassSummary(
                error_class=cls,
                attempts=n,
                destinations=len(self._class_dests[cls]),
                examples=tuple(self._class_examples[cls]),
            )
            for cls, n in self._class_counts.most_common()
        )
        inbound = tuple(
            InboundNote(
                client=(s.first.client_host or key) if s.first else key,
                ip=s.first.client_ip if s.first else None,
                drops=s.drops,
                first_line=s.first.line if s.first else 0,
                file=s.first.file if s.first else "",
                example=s.first.response if s.first else "",
            )
            for key, s in sorted(self._inbound.items(), key=lambda kv: -kv[1].drops)
            if s.drops >= INBOUND_NOTE_MIN
        )
        return TriageResult(
            suspects=tuple(suspects),
            destinations=tuple(summaries),
            classes=classes,
            inbound=inbound,
            attempts=self.attempts,
            delivered=self.delivered,
            failed=self.attempts - self.delivered,
            failing_attempts=tuple(self._pmtu_kept + self._other_kept),
            failing_dropped=self._dropped,
        )

    @staticmethod
    def _suspect(name: str, d: _Dest, log_args: str) -> PmtuSuspect | None:
        if d.pmtu == 0:
            return None
        reasons: list[str] = []
        strong = d.pmtu >= 2 or d.pmtu_body >= 1
        if d.pmtu_body:
            reasons.append(f"{d.pmtu_body} of {d.pmtu} died while the body was being written")
        else:
            reasons.append("the transport died waiting for the reply to the final dot")
        if d.pmtu == 1 and not d.pmtu_body:
            reasons.append("a single attempt: weak on its own")
        if (
            d.largest_delivered is not None
            and d.smallest_failing is not None
            and d.largest_delivered >= d.smallest_failing
        ):
            strong = False
            reasons.append(
                "a message at least as large as the smallest failing one was delivered: "
                "intermittent loss, another path, or not path MTU"
            )
        other_fail = sum(
            n for c, n in d.by_class.items() if c is not ErrorClass.PMTU_LIKE_AFTER_DATA
        )
        if other_fail:
            reasons.append(
                f"{other_fail} other failure(s) to this destination, see the class table"
            )
        if d.too_small:
            reasons.append(
                f"{d.too_small} failure(s) after DATA of messages <= {SMALL_MESSAGE_BYTES} bytes "
                "not counted (they fit in one segment)"
            )
        hosts = tuple(h for h, _ in d.fail_hosts.most_common(MAX_DISTINCT) if h != (None, None))
        ips = sorted({ip for _, ip in hosts if ip})
        return PmtuSuspect(
            destination=name,
            hosts=hosts,
            confidence=Confidence.STRONG if strong else Confidence.WEAK,
            failed_after_data=d.pmtu,
            attempts=d.attempts,
            delivered=d.delivered,
            in_body=d.pmtu_body,
            responses=tuple(d.responses.most_common()),
            smallest_failing=d.smallest_failing,
            largest_delivered=d.largest_delivered,
            too_small_ignored=d.too_small,
            first_ts=d.first_ts,
            last_ts=d.last_ts,
            reasons=tuple(reasons),
            red_herrings=RED_HERRINGS,
            differentials=differentials(d.banners),
            capture_filter=capture_filter(ips),
            probe_command=f"pathsleuth probe {_probe_target(name, hosts)} --port 25",
            analyze_command=f"pathsleuth analyze pmtu.pcap {log_args}",
            examples=tuple(d.examples),
        )


def differentials(banners: list[str]) -> tuple[Differential, ...]:
    """Causes that look the same in the log, ranked by what the banners show."""
    out: list[Differential] = []
    for b in banners:
        if _MASKED_BANNER.search(b):
            out.append(
                Differential(
                    kind="smtp_inspection",
                    evidence=f"masked banner {b!r}: a Cisco PIX/ASA 'fixup smtp' / 'inspect "
                    "esmtp' rewrites the greeting and can stall or break DATA; try without the "
                    "inspection",
                )
            )
            break
    for b in banners:
        m = _APPLIANCE.search(b)
        if m:
            out.append(
                Differential(
                    kind="scanning_middlebox",
                    evidence=f"banner {b!r} names {m.group(0)}: an SMTP-aware appliance "
                    "receives the body; its scanning can stall after DATA. A capture tells them "
                    "apart: a proxy ACKs the full-size segments, a black hole never does",
                )
            )
            break
    out.append(
        Differential(
            kind="outbound_av_scanning",
            evidence="outbound SMTP/AV scanning on your own firewall or UTM buffers the body "
            "and can time out exactly after DATA; disable it for one test delivery",
        )
    )
    return tuple(out)


def capture_filter(ips: list[str]) -> str:
    """tcpdump command recording the SMTP sessions and every ICMP error.

    The ICMP "fragmentation needed" (type 3, RFC 1191) or ICMPv6 "packet too big" (type 2,
    RFC 8201) comes *from a router's address*, not from the mail server, so it must not be
    filtered by host; pcap-filter gives ``and``/``or`` equal precedence, hence the brackets.
    """
    tcp = "tcp port 25"
    if ips:
        hosts = " or ".join(f"host {ip}" for ip in ips[:8])
        tcp = f"({hosts}) and tcp port 25" if len(ips) > 1 else f"{hosts} and tcp port 25"
    return f"tcpdump -i any -s 0 -w pmtu.pcap '({tcp}) or icmp[0] == 3 or icmp6[0] == 2'"


def _probe_target(dest: str, hosts: tuple[tuple[str | None, str | None], ...]) -> str:
    if "." in dest or ":" in dest:
        return dest
    host, ip = hosts[0] if hosts else (None, None)
    return host or ip or dest
