"""What the renderers read: minimal read-only Protocols and the time-sequence point type.

The report stage never imports a producer's concrete classes. Each renderer states the
attributes it reads as a `Protocol` here, so any object that has them (the diagnosis'
`AnalysisResult`, the capture stage's `CaptureSummary`, a test double built from plain
dataclasses) can be rendered. `SeqPoint` is the one concrete input type: the lead turns a
flow's rows of the `PacketTable` into a list of them for the HTML time-sequence chart.
Nothing here measures or formats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pathsleuth.diagnose.model import Finding

#: Packet roles the time-sequence chart knows how to draw.
SeqKind = Literal["data", "retrans", "ack", "icmp", "rst", "syn", "fin"]
SEQ_KINDS: tuple[SeqKind, ...] = ("data", "retrans", "ack", "icmp", "rst", "syn", "fin")

#: "a->b" is the finding's data direction (a = `Finding.flow.src`), "b->a" the reverse.
SeqDirection = Literal["a->b", "b->a"]


@dataclass(frozen=True, slots=True)
class SeqPoint:
    """One packet of a flow, placed on a Stevens time-sequence chart.

    All sequence numbers are in the sequence space of the finding's data sender *a*
    (`Finding.flow.src`), relative to a's initial sequence number (or to the first
    sequence number seen, for captures that start mid-connection).
    """

    frame: int
    """1-based frame number in the capture (as Wireshark shows it)."""
    t: float
    """Time in seconds; any origin (the chart subtracts the earliest point's t)."""
    rel_seq: int
    """a->b: the segment's relative sequence number. b->a: the relative ACK number b
    sends for a's data. icmp: the relative sequence number the ICMP error quotes."""
    length: int
    """a->b: TCP payload bytes of the segment (0 for a bare SYN/FIN/ACK). b->a and icmp:
    ignored by the chart (may be 0)."""
    kind: SeqKind
    """data: a new segment; retrans: a retransmission; ack: a packet that only
    acknowledges; icmp: an ICMP/ICMPv6 error about the flow; rst, syn, fin: the flag."""
    direction: SeqDirection
    """Which way the packet went: "a->b" or "b->a" (ICMP errors travel toward a: b->a)."""

    def __post_init__(self) -> None:
        if self.kind not in SEQ_KINDS:
            raise ValueError(f"SeqPoint frame {self.frame}: unknown kind {self.kind!r}")
        if self.direction not in ("a->b", "b->a"):
            raise ValueError(f"SeqPoint frame {self.frame}: bad direction {self.direction!r}")


class FileView(Protocol):
    """One analysed capture (or archive member). `CaptureSummary` satisfies it."""

    @property
    def name(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def packets(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def malformed_frames(self) -> Sequence[int]: ...
    @property
    def first_ts_ns(self) -> int | None: ...
    @property
    def last_ts_ns(self) -> int | None: ...


class ConnectionView(Protocol):
    """One TCP connection summary from the tcp stage.

    The named attributes feed the `--all` table and the fixed part of the JSON entry;
    `to_dict()` supplies the rest of the entry (handshake options, per-direction
    counters, ...), which the JSON renderer copies after the fixed keys, sorted.
    """

    @property
    def id(self) -> int: ...
    @property
    def file(self) -> str: ...
    @property
    def src(self) -> str: ...
    @property
    def sport(self) -> int: ...
    @property
    def dst(self) -> str: ...
    @property
    def dport(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def state(self) -> str: ...
    @property
    def history(self) -> str: ...
    def to_dict(self) -> Mapping[str, Any]: ...


class IcmpView(Protocol):
    """One ICMP/ICMPv6 error and what it quotes. `tcp.icmp.IcmpEvent` satisfies it.

    An optional `file` attribute (the capture it came from) is read when present.
    """

    @property
    def frame(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def icmp_type(self) -> int: ...
    @property
    def icmp_code(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def router(self) -> str: ...
    @property
    def router_hops(self) -> int: ...
    @property
    def mtu(self) -> int | None: ...
    @property
    def quoted_ip_len(self) -> int: ...
    @property
    def quoted_df(self) -> bool: ...
    @property
    def quoted_proto(self) -> int: ...
    @property
    def quoted_src(self) -> str: ...
    @property
    def quoted_sport(self) -> int: ...
    @property
    def quoted_dst(self) -> str: ...
    @property
    def quoted_dport(self) -> int: ...
    @property
    def quoted_seq(self) -> int | None: ...
    @property
    def conn(self) -> int: ...
    @property
    def segment_frame(self) -> int | None: ...
    @property
    def problems(self) -> Sequence[str]: ...


class AnalysisView(Protocol):
    """What `pathsleuth analyze` hands to the report stage."""

    @property
    def files(self) -> Sequence[FileView]: ...
    @property
    def connections(self) -> Sequence[ConnectionView]: ...
    @property
    def findings(self) -> Sequence[Finding]: ...
    @property
    def icmp(self) -> Sequence[IcmpView]: ...


class SummaryView(FileView, Protocol):
    """One capture's `decode` summary (issue 2). `CaptureSummary` satisfies it."""

    @property
    def linktypes(self) -> Mapping[str, int]: ...
    @property
    def protocols(self) -> Mapping[str, int]: ...
    @property
    def comments(self) -> Sequence[str]: ...
    @property
    def skipped_members(self) -> Sequence[str]: ...


#: Key the HTML renderer uses to find a finding's packets: (Finding.file, Finding.connection_id).
SequenceKey = tuple[str, int]
