"""What a diagnosis is: findings, their evidence and advice, as plain frozen data.

These types are the public JSON contract of `pathsleuth analyze` (schema in
`src/pathsleuth/schema/analyze.schema.json`, `SCHEMA_VERSION` below). Detectors in
`diagnose/` create them; `report/` renders them; nothing here measures or prints.
Findings (what was found) are kept separate from advice (what to do), as Zeek keeps
notices separate from actions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

#: Bump the minor part for added fields, the major part for changed or removed ones.
SCHEMA_VERSION = "1.1"


class Verdict(StrEnum):
    """The closed vocabulary of analyze verdicts (issue 3)."""

    PMTU_BLACKHOLE = "pmtu_blackhole"
    PMTUD_WORKING = "pmtud_working"
    PTB_IGNORED = "ptb_ignored"
    MIDDLEBOX_RESET = "middlebox_reset"
    MIDDLEBOX_DROP = "middlebox_drop"
    PACKET_LOSS = "packet_loss"
    PEER_UNRESPONSIVE = "peer_unresponsive"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Direction(StrEnum):
    """Which way the failing data flows, seen from the capture's local host when known."""

    #: segments from the capture host (or the connection's initiator) to the peer
    OUTBOUND = "outbound"
    #: segments from the peer to the capture host
    INBOUND = "inbound"
    UNKNOWN = "unknown"


class CapturePoint(StrEnum):
    """Where on the path the capture was taken, inferred from handshake timing and TTLs."""

    SENDER = "sender"  # at the host that sends the failing data
    RECEIVER = "receiver"  # at the host that should receive it
    MIDDLE = "middle"  # on a router / span port between them
    UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class Flow:
    """One TCP connection's endpoints, as the data sender of the finding sees them."""

    src: str
    """Source address of the failing data (text, IPv4 dotted or RFC 5952 IPv6)."""
    sport: int
    dst: str
    dport: int


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """One line of evidence, anchored to a frame where there is one."""

    frame: int | None
    """1-based frame number in the capture (as Wireshark shows it), or None."""
    text: str
    """A sentence in the support engineer's words: frames, seq numbers, sizes, DF, TTL."""


@dataclass(frozen=True, kw_only=True)
class PathMtu:
    """Bounds on the path MTU in bytes of IP packet: low passed, high did not (or was announced)."""

    low: int | None
    high: int | None


@dataclass(frozen=True, kw_only=True)
class Advice:
    """One ranked remedy with exact commands, how to persist them, and what they cost."""

    id: str
    """Stable identifier, e.g. "allow-icmp-ptb", "mss-clamp", "tcp-mtu-probing",
    "route-mtu-lock", "no-pmtu-disc"."""
    rank: int
    """1 = try first."""
    title: str
    where: str
    """Who applies it: "firewall/router on the path", "this host", "the remote site"."""
    commands: list[str] = field(default_factory=list)
    persist: list[str] = field(default_factory=list)
    """How to make the change survive a reboot (files and lines, or commands)."""
    tradeoffs: str = ""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One diagnosed problem on one connection (or one direction of it)."""

    verdict: Verdict
    severity: Severity
    confidence: float
    """0..1: how sure the detector is, given what the capture can and cannot show."""
    summary: str
    """One sentence for the top of the report."""
    flow: Flow
    file: str
    """Capture (or archive member) the connection came from."""
    connection_id: int
    direction: Direction = Direction.UNKNOWN
    capture_point: CapturePoint = CapturePoint.UNKNOWN
    fix_owner: str = ""
    """Who owns the fix, in words: "our side or the path to the peer", "the remote sender's path"."""
    path_mtu: PathMtu | None = None
    recovered: bool | None = None
    """pmtu_blackhole only: the sender later fell back to smaller segments without ICMP."""
    evidence: list[Evidence] = field(default_factory=list)
    wireshark_filter: str = ""
    advice: list[Advice] = field(default_factory=list)
    detector: str = ""
    """Name of the detector in the registry that produced this finding."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.path_mtu is None:
            del d["path_mtu"]
        if self.recovered is None:
            del d["recovered"]
        return d
