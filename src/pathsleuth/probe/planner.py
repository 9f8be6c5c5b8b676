"""The path-MTU trace as a pure state machine: which probe next, and what the answers mean.

This module owns the *decisions* of `pathsleuth probe`'s hop-by-hop trace and nothing else:
no sockets, no clock, no printing (the h11 sans-IO shape; tracepath's algorithm). A driver
(`probe/linux.py`) asks `TracePlanner.next_probe()` for a `Probe` (TTL, IP packet size,
id), sends it, and feeds back exactly one `Reply` or `Timeout` per probe with `handle()`.
When `done` is true, `result()` hands on a frozen `PathTrace`: every hop with its address
and RTTs, the path MTU up to it, the MTU drops routers announced (ICMP "fragmentation
needed" / ICMPv6 "packet too big"), and the black hole: the hop after which large probes
vanish while small ones still pass and no PTB comes back.

The method follows Luckie, Cho and Owens, "Inferring and debugging path MTU discovery
failures" (IMC 2005, scamper's PMTUD mode): probe each TTL at the current path MTU; a
PTB lowers it; a silent loss of the large probe is checked with a small one; two large
losses with a small success in between mark a black hole, whose MTU is then found by a
search over common MTUs and a byte-level binary search. Every loop is bounded by the
named tunables below.

With ``measure_mtu=False`` (TCP SYN probes, which carry no payload) the same machine is a
plain traceroute: every probe is the minimum size, a hop is answered or silent, and the
result carries no MTU (`PathTrace.mtu_measured` is False, the MTU fields are None).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Family = Literal[4, 6]

# ---- tunables (tracepath-like defaults) ------------------------------------------------

#: highest TTL probed (tracepath's and traceroute's default of 30 hops)
MAX_HOPS = 30
#: probes of one size at one TTL before the hop counts as silent (traceroute -q 3)
PROBES_PER_HOP = 3
#: large-probe losses, with a small probe answered in between, that mark a black hole
BLACKHOLE_CONFIRM = 2
#: tries of one size during the black-hole MTU search before the size counts as lost;
#: 2 because a router rate-limits its ICMP errors (Linux: icmp_ratelimit 1 s, burst 6)
SEARCH_TRIES = 2
#: hard cap on the number of sizes tried in one black-hole search
MAX_SEARCH_STEPS = 16
#: consecutive silent hops after which the trace gives up (the path filters the probes)
MAX_SILENT_HOPS = 5
#: hard cap on probes per trace, whatever happens: MAX_HOPS * PROBES_PER_HOP * 2 plus a search
MAX_PROBES = MAX_HOPS * PROBES_PER_HOP * 2 + MAX_SEARCH_STEPS * SEARCH_TRIES
#: the datagram size every IPv4 host must accept (RFC 1122 section 3.3.3, RFC 791)
MIN_MTU_V4 = 576
#: the IPv6 minimum link MTU (RFC 8200 section 5)
MIN_MTU_V6 = 1280
#: largest IP packet (RFC 791 total length / RFC 8200 payload length without jumbograms)
MAX_PACKET = 65535
#: MTUs met on real paths, tried first in a black-hole search so a common MTU is found in a
#: few probes (RFC 1191 section 7 plateaus plus today's tunnels): PPPoE 1492 (RFC 2516),
#: IPIP 1480, GRE 1476, PPPoA 1454, VXLAN 1450, WireGuard 1420, IPsec/VPN 1400, IPv6 1280,
#: RFC 1191's 1006 and 576.
COMMON_MTUS: tuple[int, ...] = (
    576, 1006, 1280, 1300, 1360, 1380, 1400, 1420, 1440, 1450, 1454, 1460, 1472, 1476,
    1480, 1492, 1500, 4352, 8166, 9000, 17914, 65535,
)  # fmt: skip


def min_mtu(family: Family) -> int:
    """The smallest probe size: a packet every host and link of `family` must carry."""
    return MIN_MTU_V4 if family == 4 else MIN_MTU_V6


def next_search_size(low: int, high: int, tried: set[int] | frozenset[int]) -> int:
    """The next size to try when `low` passes and `high` does not (needs high - low > 1).

    Common MTUs inside the interval first (their median), then one byte above a common
    MTU that passed (that single probe proves it is the path MTU), then plain bisection.
    """
    inside = [m for m in COMMON_MTUS if low < m < high and m not in tried]
    if inside:
        return inside[len(inside) // 2]
    if low in COMMON_MTUS and low + 1 < high and low + 1 not in tried:
        return low + 1
    return (low + high) // 2


# ---- events ----------------------------------------------------------------------------


class ReplyKind(StrEnum):
    """What came back for a probe, in the driver's normalised words."""

    TIME_EXCEEDED = "time_exceeded"
    """a router on the way: ICMP 11/0, ICMPv6 3/0"""
    PACKET_TOO_BIG = "packet_too_big"
    """ICMP 3/4 "fragmentation needed" / ICMPv6 2; `Reply.mtu` is the next-hop MTU"""
    DESTINATION = "destination"
    """the target answered: port unreachable (UDP) or echo reply (ICMP)"""
    UNREACHABLE = "unreachable"
    """another destination-unreachable (net, host, administratively prohibited ...)"""
    LOCAL_MTU = "local_mtu"
    """our own stack refused the size (EMSGSIZE): `Reply.mtu` is the interface MTU"""


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One probe to send: the driver builds a packet of exactly `size` bytes of IP."""

    id: int
    ttl: int
    size: int
    """IP packet size in bytes, headers included"""
    small: bool = False
    """a small probe sent to tell a silent hop from a black hole"""


@dataclass(frozen=True, kw_only=True)
class Reply:
    """The answer to probe `probe_id`."""

    probe_id: int
    kind: ReplyKind
    address: str | None
    """who sent the answer (the ICMP source, RFC 5952 text); None for a local error"""
    rtt_ms: float | None = None
    mtu: int | None = None
    """next-hop MTU of a PACKET_TOO_BIG / LOCAL_MTU, as announced"""
    code: str = ""
    """for UNREACHABLE: the ICMP type/code in words ("host unreachable", "admin prohibited")"""


@dataclass(frozen=True, kw_only=True)
class Timeout:
    """No answer to probe `probe_id` within the driver's timeout."""

    probe_id: int


Event = Reply | Timeout


# ---- results ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Hop:
    """One TTL of the trace."""

    ttl: int
    address: str | None
    """who answered at this TTL; None when the hop stayed silent"""
    rtts_ms: tuple[float, ...] = ()
    mtu: int | None = None
    """largest probe size that reached this hop (the path MTU up to here); None if silent
    or when the trace does not measure the MTU"""
    destination: bool = False
    """the target itself answered at this TTL"""
    unreachable: str = ""
    """an ICMP destination-unreachable other than port-unreachable, in words"""
    lost_sizes: tuple[int, ...] = ()
    """probe sizes that got no answer at this TTL although a smaller one did"""


@dataclass(frozen=True, kw_only=True)
class MtuDrop:
    """Where the path MTU gets smaller."""

    after_ttl: int
    """the drop sits on the link after this hop (0 = this host's own link)"""
    router: str | None
    """the router with the small next link (it sent the PTB, or should have)"""
    mtu: int
    """the MTU from there on (announced, or the largest size found to pass)"""
    announced: bool
    """True: the router sent ICMP frag-needed / PTB; False: found by searching (no PTB)"""


@dataclass(frozen=True, kw_only=True)
class BlackHole:
    """Large probes vanish after `after_ttl` while small ones pass and no PTB comes back."""

    after_ttl: int
    router: str | None
    """the last hop large probes reached: it drops them without a PTB, or its PTB is lost"""
    next_hop: str | None
    """the first hop only small probes reach"""
    mtu_low: int
    """largest size that passed"""
    mtu_high: int
    """smallest size that vanished"""


class StopReason(StrEnum):
    REACHED = "reached"
    UNREACHABLE = "unreachable"
    MAX_HOPS = "max_hops"
    SILENT = "silent"
    PROBE_BUDGET = "probe_budget"
    LOCAL_ERROR = "local_error"


@dataclass(frozen=True, kw_only=True)
class PathTrace:
    """The outcome of one trace towards one address."""

    target: str
    family: Family
    first_mtu: int | None
    """size of the first probe: the outgoing interface's MTU as far as the driver knew it;
    None when the trace does not measure the MTU"""
    hops: tuple[Hop, ...]
    drops: tuple[MtuDrop, ...]
    blackhole: BlackHole | None
    path_mtu: int | None
    """largest size known to reach the farthest answering hop; None when not measured"""
    path_mtu_high: int | None
    """smallest size known not to pass (a lost size, or an announced MTU + 1); None = none seen"""
    reached: bool
    stop: StopReason
    probes_sent: int
    mtu_measured: bool = True
    """False for a hop-only trace (TCP SYN probes): hops and reachability, no MTU"""
    method: str = "udp"
    """the probes' kind, set by the driver: "udp", "icmp" (echo requests) or "tcp" (SYN)"""
    source: str | None = None
    """this host's address the probes left from, set by the driver when it knows it"""


# ---- the state machine -----------------------------------------------------------------


class _Phase(StrEnum):
    HOP = "hop"  # probing the current TTL at the current path MTU (or small)
    SEARCH = "search"  # looking for the black hole's MTU at the current TTL
    DONE = "done"


@dataclass
class _HopState:
    """Mutable notes about the TTL being probed."""

    ttl: int
    address: str | None = None
    rtts: list[float] = field(default_factory=list)
    large_losses: int = 0
    small_losses: int = 0
    small_ok: bool = False
    small_destination: bool = False
    largest_ok: int | None = None
    lost: list[int] = field(default_factory=list)


class TracePlanner:
    """Decides the next probe of a path-MTU trace from the answers so far (pure, bounded)."""

    def __init__(
        self,
        target: str,
        *,
        family: Family,
        first_mtu: int,
        max_hops: int = MAX_HOPS,
        first_ttl: int = 1,
        measure_mtu: bool = True,
    ) -> None:
        if not 1 <= first_ttl <= max_hops <= 255:
            raise ValueError(f"need 1 <= first_ttl <= max_hops <= 255, got {first_ttl}, {max_hops}")
        self.target = target
        self.family: Family = family
        self.small_size = min_mtu(family)
        self.measure_mtu = measure_mtu
        if not measure_mtu:
            # every probe at the minimum size: the planner's minimum-MTU path is a plain
            # traceroute (answered, or PROBES_PER_HOP losses make a silent hop)
            first_mtu = self.small_size
        if not self.small_size <= first_mtu <= MAX_PACKET:
            raise ValueError(f"first MTU {first_mtu} is outside {self.small_size}..{MAX_PACKET}")
        self.first_mtu = first_mtu
        self.max_hops = max_hops
        self.mtu = first_mtu
        self.high: int | None = None
        self.hops: list[Hop] = []
        self.drops: list[MtuDrop] = []
        self.blackhole: BlackHole | None = None
        self.stop: StopReason | None = None
        self.probes_sent = 0
        self._phase = _Phase.HOP
        self._hop = _HopState(ttl=first_ttl)
        self._silent_run = 0
        self._next_id = 1
        self._outstanding: Probe | None = None
        self._send_small = False
        # black-hole search
        self._low = 0
        self._search_high = 0
        self._search_size = 0
        self._search_tries = 0
        self._search_steps = 0
        self._tried: set[int] = set()

    # ---- driver interface --------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    @property
    def outstanding(self) -> Probe | None:
        """The probe sent and not yet answered or timed out."""
        return self._outstanding

    def next_probe(self) -> Probe | None:
        """The probe to send now, or None when done (or one is still outstanding)."""
        if self.done or self._outstanding is not None:
            return None
        if self.probes_sent >= MAX_PROBES:
            self._finish(StopReason.PROBE_BUDGET)
            return None
        if self._phase is _Phase.SEARCH:
            size, small = self._search_size, False
        elif self._send_small:
            size, small = self.small_size, True
        else:
            size, small = self.mtu, False
        probe = Probe(id=self._next_id, ttl=self._hop.ttl, size=size, small=small)
        self._next_id += 1
        self.probes_sent += 1
        self._outstanding = probe
        return probe

    def handle(self, event: Event) -> None:
        """Feed the answer (or the timeout) of the outstanding probe; stale events are ignored."""
        probe = self._outstanding
        if probe is None or event.probe_id != probe.id or self.done:
            return
        self._outstanding = None
        if self._phase is _Phase.SEARCH:
            self._handle_search(probe, event)
        elif isinstance(event, Timeout):
            self._handle_loss(probe)
        else:
            self._handle_reply(probe, event)

    def result(self) -> PathTrace:
        """The trace so far (complete once `done`)."""
        reached = any(h.destination for h in self.hops)
        if not self.measure_mtu:
            return PathTrace(
                target=self.target,
                family=self.family,
                first_mtu=None,
                hops=tuple(dataclasses.replace(h, mtu=None) for h in self.hops),
                drops=(),
                blackhole=None,
                path_mtu=None,
                path_mtu_high=None,
                reached=reached,
                stop=self.stop or StopReason.PROBE_BUDGET,
                probes_sent=self.probes_sent,
                mtu_measured=False,
            )
        answered = [h.mtu for h in self.hops if h.mtu is not None]
        return PathTrace(
            target=self.target,
            family=self.family,
            first_mtu=self.first_mtu,
            hops=tuple(self.hops),
            drops=tuple(self.drops),
            blackhole=self.blackhole,
            path_mtu=answered[-1] if answered else self.mtu,
            path_mtu_high=self.high,
            reached=reached,
            stop=self.stop or StopReason.PROBE_BUDGET,
            probes_sent=self.probes_sent,
        )

    # ---- transitions -------------------------------------------------------------------

    def _handle_reply(self, probe: Probe, reply: Reply) -> None:
        hop = self._hop
        if reply.kind is ReplyKind.LOCAL_MTU:
            if reply.mtu is None or not self.small_size <= reply.mtu < probe.size:
                self._finish(StopReason.LOCAL_ERROR)
                return
            # our own interface is smaller than assumed: not a drop on the path
            self.mtu = reply.mtu
            if not self.hops:
                self.first_mtu = reply.mtu
            return
        if reply.kind is ReplyKind.PACKET_TOO_BIG:
            self._on_ptb(probe, reply)
            return
        if reply.rtt_ms is not None:
            hop.rtts.append(reply.rtt_ms)
        hop.address = hop.address or reply.address
        if probe.small:
            hop.small_ok = True
            hop.small_destination = reply.kind is ReplyKind.DESTINATION
            if reply.kind is ReplyKind.UNREACHABLE:
                self._close_hop(unreachable=reply.code or "unreachable")
                self._finish(StopReason.UNREACHABLE)
                return
            self._decide()
            return
        hop.largest_ok = max(hop.largest_ok or 0, probe.size)
        if reply.kind is ReplyKind.DESTINATION:
            self._close_hop(destination=True)
            self._finish(StopReason.REACHED)
        elif reply.kind is ReplyKind.UNREACHABLE:
            self._close_hop(unreachable=reply.code or "unreachable")
            self._finish(StopReason.UNREACHABLE)
        else:
            self._close_hop()
            self._advance()

    def _on_ptb(self, probe: Probe, reply: Reply) -> None:
        if probe.small or probe.size <= self.small_size:
            # a PTB for the minimum size breaks RFC 1191 / RFC 8201: count it as no answer
            self._handle_loss(probe)
            return
        mtu = reply.mtu
        if mtu is None or not self.small_size <= mtu < probe.size:
            # a PTB without a usable MTU (RFC 1191 "mtu 0" routers, or a bogus value):
            # the size is too big, find the MTU by searching
            self._hop.lost.append(probe.size)
            self._start_search(low=self.small_size, high=probe.size)
            return
        self.drops.append(
            MtuDrop(
                after_ttl=self._ttl_of(reply.address, default=self._hop.ttl - 1),
                router=reply.address,
                mtu=mtu,
                announced=True,
            )
        )
        self.mtu = mtu
        self.high = mtu + 1 if self.high is None else min(self.high, mtu + 1)
        # the same TTL is probed again at the announced size; losses start afresh
        self._hop.large_losses = 0

    def _handle_loss(self, probe: Probe) -> None:
        hop = self._hop
        if probe.small or self.mtu <= self.small_size:
            hop.small_losses += 1
            if self.mtu <= self.small_size:
                hop.large_losses += 1
        else:
            hop.large_losses += 1
        self._decide()

    def _decide(self) -> None:
        """After an answer to a small probe or any loss: what to send at this TTL next."""
        hop = self._hop
        if self.mtu <= self.small_size:
            if hop.small_ok:
                # the path MTU is already the minimum, the small probe is the large one
                hop.largest_ok = self.mtu
                self._close_hop(destination=hop.small_destination)
                self._after_close(hop.small_destination)
            elif hop.small_losses >= PROBES_PER_HOP:
                self._silent_hop()
            else:
                self._send_small = False
            return
        if hop.small_ok and hop.large_losses >= BLACKHOLE_CONFIRM:
            hop.lost.append(self.mtu)
            self._start_search(low=self.small_size, high=self.mtu)
        elif hop.small_ok:
            self._send_small = False
        elif hop.small_losses >= PROBES_PER_HOP:
            self._silent_hop()
        else:
            self._send_small = hop.large_losses > 0

    # ---- black-hole search -------------------------------------------------------------

    def _start_search(self, *, low: int, high: int) -> None:
        self._phase = _Phase.SEARCH
        self._low = low
        self._search_high = high
        self._search_steps = 0
        self._tried = {low, high}
        self._pick_search_size()

    def _pick_search_size(self) -> None:
        low, high = self._low, self._search_high
        if high - low <= 1 or self._search_steps >= MAX_SEARCH_STEPS:
            self._end_search()
            return
        size = next_search_size(low, high, self._tried)
        self._tried.add(size)
        self._search_size = size
        self._search_tries = 0
        self._search_steps += 1

    def _handle_search(self, probe: Probe, event: Event) -> None:
        hop = self._hop
        if isinstance(event, Timeout):
            self._search_tries += 1
            if self._search_tries < SEARCH_TRIES:
                return  # same size again
            hop.lost.append(probe.size)
            self._search_high = probe.size
        elif event.kind is ReplyKind.PACKET_TOO_BIG or event.kind is ReplyKind.LOCAL_MTU:
            self._search_high = probe.size
        else:
            if event.rtt_ms is not None:
                hop.rtts.append(event.rtt_ms)
            hop.address = hop.address or event.address
            if event.kind is ReplyKind.DESTINATION:
                hop.small_destination = True
            self._low = probe.size
            hop.largest_ok = max(hop.largest_ok or 0, probe.size)
        self._pick_search_size()

    def _end_search(self) -> None:
        hop = self._hop
        low, high = self._low, self._search_high
        before = self.hops[-1] if self.hops else None
        after_ttl = hop.ttl - 1
        router = before.address if before is not None and before.ttl == after_ttl else None
        self.blackhole = BlackHole(
            after_ttl=after_ttl,
            router=router,
            next_hop=hop.address,
            mtu_low=low,
            mtu_high=high,
        )
        self.drops.append(MtuDrop(after_ttl=after_ttl, router=router, mtu=low, announced=False))
        self.mtu = low
        self.high = high if self.high is None else min(self.high, high)
        hop.largest_ok = low
        self._phase = _Phase.HOP
        self._close_hop(destination=hop.small_destination)
        self._after_close(hop.small_destination)

    # ---- hop bookkeeping ---------------------------------------------------------------

    def _ttl_of(self, address: str | None, *, default: int) -> int:
        for h in self.hops:
            if address is not None and h.address == address:
                return h.ttl
        return max(default, 0)

    def _close_hop(self, *, destination: bool = False, unreachable: str = "") -> None:
        hop = self._hop
        self.hops.append(
            Hop(
                ttl=hop.ttl,
                address=hop.address,
                rtts_ms=tuple(hop.rtts),
                mtu=hop.largest_ok if hop.largest_ok is not None else None,
                destination=destination,
                unreachable=unreachable,
                lost_sizes=tuple(sorted(set(hop.lost), reverse=True)),
            )
        )
        self._silent_run = 0

    def _after_close(self, destination: bool) -> None:
        if destination:
            self._finish(StopReason.REACHED)
        else:
            self._advance()

    def _silent_hop(self) -> None:
        self.hops.append(Hop(ttl=self._hop.ttl, address=None))
        self._silent_run += 1
        if self._silent_run >= MAX_SILENT_HOPS:
            self._finish(StopReason.SILENT)
        else:
            self._advance()

    def _advance(self) -> None:
        if self.done:
            return
        next_ttl = self._hop.ttl + 1
        if next_ttl > self.max_hops:
            self._finish(StopReason.MAX_HOPS)
            return
        self._hop = _HopState(ttl=next_ttl)
        self._send_small = False

    def _finish(self, reason: StopReason) -> None:
        self.stop = reason
        self._phase = _Phase.DONE
        self._outstanding = None
