"""What every detector reads: the analysed connections, ICMP matches, and evidence helpers.

`Context` bundles the tcp stage's `ConnectionTable` (with `tcp.directions` flags),
the ICMP events from `tcp.icmp`, handshake timings and the capture file name, plus the
small per-connection helpers detectors share: which end the capture was taken at, the
flow of a direction, its Wireshark display filter, frame numbers and hop counts in
words, and the "stall" at a sequence number (the seed's "never acknowledged, retransmitted
in frames ..., the peer's ACK stays at ..."). Helpers work on one direction at a time and
are called only for the few suspicious directions detectors pick out with array filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pathsleuth.capture.table import format_addr
from pathsleuth.diagnose.model import CapturePoint, Direction, Flow
from pathsleuth.tcp.connections import ConnectionTable
from pathsleuth.tcp.icmp import IcmpEvent
from pathsleuth.tcp.summary import handshake_times

#: one handshake leg shorter than this fraction of the other puts the capture at that end
#: (at the client the SYN/ACK -> ACK gap is local turnaround, at the server SYN -> SYN/ACK)
HANDSHAKE_RATIO = 0.25


@dataclass
class Stall:
    """Repeated transmissions starting at one sequence number of one direction."""

    half: int
    stuck_rel: int
    """Relative sequence number the transmissions start at (the peer's ACK is stuck here)."""
    stuck_abs: int
    tx: list[int]
    """Packet indices of the transmissions at stuck_rel while unacknowledged, in order."""
    lost: list[int]
    """Transmissions in the episode that were never acknowledged and were sent again."""
    recovered_by: int
    """Packet index of the transmission whose ACK finally passed stuck_rel (-1 if never)."""
    ack_frame_pass: int | None
    """Frame of the peer's ACK that passed stuck_rel."""
    peer_after: list[int]
    """Peer packets sent after the first transmission (before recovery)."""
    peer_stuck: list[int]
    """Those of them whose ACK stays exactly at stuck_rel."""


@dataclass
class Context:
    ct: ConnectionTable
    icmp: list[IcmpEvent]
    file: str
    claimed: set[int] = field(default_factory=set)
    """Halves (connection directions) that already have a finding."""
    explained: set[int] = field(default_factory=set)
    """Connections with a stall finding: the reverse direction's retransmissions are its
    echo (the peer resends what our lost segments should have acknowledged)."""
    hs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hs = handshake_times(self.ct)
        self._senders: dict[int, tuple[str, int]] = {}
        self._local_ends: dict[int, tuple[int | None, str]] = {}
        self.ptbs: dict[int, list[IcmpEvent]] = {}
        for ev in self.icmp:
            if ev.kind == "ptb" and ev.half >= 0:
                self.ptbs.setdefault(ev.half, []).append(ev)

    # --- endpoints ----------------------------------------------------------------------
    def sender(self, half: int) -> tuple[str, int]:
        if half in self._senders:  # asked for several times per finding
            return self._senders[half]
        c, i = self.ct.c, half // 2
        end = "cli" if half % 2 == 0 else "srv"
        out = (
            format_addr(int(c[f"{end}_hi"][i]), int(c[f"{end}_lo"][i])),
            int(c[f"{end}_port"][i]),
        )
        self._senders[half] = out
        return out

    def receiver(self, half: int) -> tuple[str, int]:
        return self.sender(half ^ 1)

    def flow(self, half: int) -> Flow:
        (s, sp), (d, dp) = self.sender(half), self.receiver(half)
        return Flow(src=s, sport=sp, dst=d, dport=dp)

    def is_v6(self, half: int) -> bool:
        i = int(self.ct.h["first_idx"][half])
        if i < 0:
            i = int(self.ct.h["first_idx"][half ^ 1])
        return int(self.ct.p["ip_version"][i]) == 6

    def wireshark_filter(self, half: int) -> str:
        """The flow's packets both ways plus ICMP errors sent to the data sender.

        Wireshark dissects the headers quoted inside ICMP errors, so the flow clause also
        matches errors that quote this flow; the second clause adds every ICMP error sent
        to the sender (to see that none came, or one that quotes too little)."""
        (s, sp), (d, dp) = self.sender(half), self.receiver(half)
        if self.is_v6(half):
            return (
                f"(ipv6.addr=={s} && ipv6.addr=={d} && tcp.port=={sp} && tcp.port=={dp})"
                f" || ((icmpv6.type==1 || icmpv6.type==2 || icmpv6.type==3) && ipv6.dst=={s})"
            )
        return (
            f"(ip.addr=={s} && ip.addr=={d} && tcp.port=={sp} && tcp.port=={dp})"
            f" || ((icmp.type==3 || icmp.type==11) && ip.dst=={s})"
        )

    # --- packets ------------------------------------------------------------------------
    def frame(self, i: int) -> int:
        return self.ct.frame(i)

    def frames_phrase(self, idx: list[int], limit: int = 8) -> str:
        """``frame 32`` or ``frames 32, 33, 34``: `frames` with the right noun."""
        return ("frame " if len(idx) == 1 else "frames ") + self.frames(idx, limit)

    def frames(self, idx: list[int], limit: int = 8) -> str:
        fr = [str(self.frame(i)) for i in idx]
        if len(fr) > limit:
            fr = [*fr[: limit - 1], "...", fr[-1]]
        return ", ".join(fr)

    def abs_seq(self, half: int, rel: int) -> int:
        return (int(self.ct.h["base"][half]) + rel) % (1 << 32)

    def rtt_ns(self, conn: int) -> int | None:
        a, b = int(self.hs["syn_synack"][conn]), int(self.hs["synack_ack"][conn])
        if a >= 0 and b >= 0:
            return a + b
        return None

    def hops_text(self, half: int) -> str:
        h = self.ct.h
        ttl, hops = int(h["ttl_max"][half]), int(h["hops"][half])
        if hops <= 0:
            return f"TTL {ttl}: sent from the capture host or its own segment"
        return f"≈ {hops_phrase(hops)} from the capture point (TTL {ttl})"

    # --- where was the capture taken ---------------------------------------------------
    def local_end(self, conn: int) -> tuple[int | None, str]:
        """Which end (0 initiator, 1 responder, None middle/unknown) the capture is at
        (`_local_end`, remembered: every finding asks for it more than once)."""
        if conn not in self._local_ends:
            self._local_ends[conn] = self._local_end(conn)
        return self._local_ends[conn]

    def _local_end(self, conn: int) -> tuple[int | None, str]:
        """Which end (0 initiator, 1 responder, None middle/unknown) the capture is at.

        The handshake legs decide when one is clearly the shorter (`HANDSHAKE_RATIO`).
        When they do not, as on a path of a few tens of microseconds where the host's own
        turnaround (~10 us) is a fair part of the round trip, the TTLs decide if exactly
        one end's packets arrive with an initial TTL: no router between it and the capture.
        """
        h = self.ct.h
        h0, h1 = int(h["hops"][2 * conn]), int(h["hops"][2 * conn + 1])
        a, b = int(self.hs["syn_synack"][conn]), int(self.hs["synack_ack"][conn])
        if a >= 0 and b >= 0 and max(a, b) > 0:
            why = f"SYN -> SYN/ACK {_ms(a)}, SYN/ACK -> ACK {_ms(b)}"
            for end, ok in ((0, b <= HANDSHAKE_RATIO * a), (1, a <= HANDSHAKE_RATIO * b)):
                if ok:
                    name = ("initiator", "responder")[end]
                    hops = int(h["hops"][2 * conn + end])
                    if hops > 0:
                        return end, (
                            f"{why}: captured near the {name} (its packets arrive with TTL "
                            f"{int(h['ttl_max'][2 * conn + end])}, ≈ {hops_phrase(hops)} from the capture point)"
                        )
                    return end, f"{why}: captured at the {name}"
            by_ttl = self._initial_ttl_end(conn, h0, h1)
            if by_ttl is not None:
                end, ttl_why = by_ttl
                name = ("initiator", "responder")[end]
                return end, f"{why} (too close to tell); {ttl_why}: captured at the {name}"
            return None, why + ": captured between the ends"
        by_ttl = self._initial_ttl_end(conn, h0, h1)
        if by_ttl is not None:
            return by_ttl
        return None, "no handshake and no initial TTL on either side"

    def _initial_ttl_end(self, conn: int, h0: int, h1: int) -> tuple[int, str] | None:
        """The one end whose packets arrive with an initial TTL while the other's do not."""
        h = self.ct.h
        if h0 == 0 and h1 > 0:
            return 0, f"initiator's TTL {int(h['ttl_max'][2 * conn])} is an initial TTL"
        if h1 == 0 and h0 > 0:
            return 1, f"responder's TTL {int(h['ttl_max'][2 * conn + 1])} is an initial TTL"
        return None

    def capture_point(self, half: int) -> tuple[CapturePoint, str]:
        end, why = self.local_end(half // 2)
        if end is None:
            unknown = "no handshake" in why
            return (CapturePoint.UNKNOWN if unknown else CapturePoint.MIDDLE), why
        return (CapturePoint.SENDER if end == half % 2 else CapturePoint.RECEIVER), why

    def direction(self, half: int) -> tuple[Direction, str]:
        """Direction of the failing data and who owns the fix."""
        end, _ = self.local_end(half // 2)
        if end is None:
            d = Direction.OUTBOUND if half % 2 == 0 else Direction.INBOUND
            return d, (
                "the path between the ends (capture taken in the middle): whoever runs "
                "the routers/firewalls between the sender and the receiver"
            )
        if end == half % 2:
            return Direction.OUTBOUND, "our side or the path to the peer (our outbound segments)"
        return Direction.INBOUND, "the remote sender's path (the peer's segments to us)"

    # --- the stall at one sequence number ---------------------------------------------
    def worst_stall(self, half: int) -> Stall | None:
        """The sequence number sent most often while unacknowledged, and its episode."""
        p = self.ct.p
        sl = self.ct.half_slice(half)
        retr = np.flatnonzero(p["retrans"][sl] & (p["payload_len"][sl] > 0)) + sl.start
        if len(retr) == 0:
            return None
        vals, counts = np.unique(p["rel_seq"][retr], return_counts=True)
        best = vals[np.argmax(counts)]
        rel = p["rel_seq"][sl]
        at = np.flatnonzero((rel == best) & (p["payload_len"][sl] > 0)) + sl.start
        # the transmission whose ACK passed the stuck point, if any
        recovered_by, ack_frame = -1, None
        tx: list[int] = []
        for i in at.tolist():
            tx.append(i)
            if bool(p["acked"][i]):
                recovered_by = i
                ack_frame = self.ct.frame(int(p["ack_pos"][i]))
                break
        if recovered_by < 0:
            # resegmented recovery: a later transmission starting below and covering it
            pass
        t_first = int(p["row"][tx[0]])
        t_end = int(p["row"][recovered_by]) if recovered_by >= 0 else 1 << 62
        rows = p["row"][sl]
        window = (rows >= t_first) & (rows < t_end) & (p["payload_len"][sl] > 0)
        cand = np.flatnonzero(window & ~p["acked"][sl]) + sl.start
        nxt_sent = _resent(p, sl, cand)
        lost = [int(i) for i, r in zip(cand.tolist(), nxt_sent.tolist(), strict=True) if r]
        if not lost:
            lost = [tx[0]]
        o = self.ct.half_slice(half ^ 1)
        orow = p["row"][o]
        after = np.flatnonzero((orow > t_first) & (orow < t_end)) + o.start
        stuck = [i for i in after.tolist() if bool(p["ackf"][i]) and int(p["rel_ack"][i]) == best]
        return Stall(
            half=half,
            stuck_rel=int(best),
            stuck_abs=self.abs_seq(half, int(best)),
            tx=tx,
            lost=lost,
            recovered_by=recovered_by,
            ack_frame_pass=ack_frame,
            peer_after=after.tolist(),
            peer_stuck=stuck,
        )


def hops_phrase(n: int) -> str:
    """'1 hop', '10 hops'."""
    return f"{n} hop" if n == 1 else f"{n} hops"


def _ms(ns: int) -> str:
    """A handshake leg in milliseconds, to the microsecond below 1 ms (lab and LAN paths)."""
    return f"{ns / 1e6:.1f} ms" if ns >= 1_000_000 else f"{ns / 1e6:.3f} ms"


def _resent(p: dict[str, Any], sl: slice, cand: np.ndarray) -> np.ndarray:
    """Whether each candidate transmission's first byte was sent again later in the half."""
    if len(cand) == 0:
        return np.zeros(0, dtype=bool)
    rel = p["rel_seq"][sl]
    end = p["end"][sl]
    rows = p["row"][sl]
    retr = p["retrans"][sl]
    out = np.zeros(len(cand), dtype=bool)
    r_idx = np.flatnonzero(retr)
    for k, i in enumerate(cand.tolist()):
        s, r = int(p["rel_seq"][i]), int(p["row"][i])
        later = r_idx[rows[r_idx] > r]
        out[k] = bool(np.any((rel[later] <= s) & (end[later] > s)))
    return out
