"""Middlebox detectors: forged resets and content-triggered drops.

- `ResetDetector` (middlebox_reset): a RST whose TTL does not match the TTL of the
  claimed sender's own packets (more than `TTL_TOLERANCE` apart), or whose IPv4 ID is far
  from that sender's running IP-ID sequence or copies an ID of the other side: something
  between the ends (IPS, firewall, censor) forged it. IP-ID 0 with DF is no evidence
  either way (Linux sends its own RSTs for closed sockets that way).
- `DropDetector` (middlebox_drop): the data stalls for good at one sequence number, sent
  again and again, while segments of the same size or larger were acknowledged earlier in
  the same connection: the path MTU is at least that large, so size is not the cause and
  the stall is content-triggered (IPS, AV/mail scanning, DLP). Not reported when the
  capture was taken at the receiver (then the data demonstrably arrived).
"""

from __future__ import annotations

import numpy as np

from pathsleuth.capture.table import TcpFlag
from pathsleuth.diagnose.context import Context, hops_phrase
from pathsleuth.diagnose.model import CapturePoint, Evidence, Finding, PathMtu, Severity, Verdict
from pathsleuth.diagnose.pmtu import largest_acked, no_icmp_text, wire_ip_len
from pathsleuth.diagnose.registry import (
    Detector,
    DirectionDetector,
    handshake_evidence,
    make_finding,
    register,
)
from pathsleuth.tcp.directions import nearest_initial_ttl

#: TTL difference tolerated between a host's packets (a route change moves it by one)
TTL_TOLERANCE = 1
#: IPv4 IDs of one host's consecutive packets rarely jump by more than this in a short
#: connection (a global counter shared with other traffic still moves slowly)
IPID_WINDOW = 4096
#: transmissions at one sequence number (original + retransmissions) before a stall counts
MIN_STALL_TX = 3

_RST = int(TcpFlag.RST)


@register
class ResetDetector(Detector):
    """RSTs that the claimed sender did not send (TTL / IP-ID mismatch)."""

    name = "middlebox-reset"
    verdicts = (Verdict.MIDDLEBOX_RESET,)
    priority = 15

    def run(self, ctx: Context) -> list[Finding]:
        h = ctx.ct.h
        out = []
        for half in np.flatnonzero(h["present"] & (h["rsts"] > 0)).tolist():
            victim = half ^ 1
            if victim in ctx.claimed or half in ctx.claimed:
                continue
            f = self.check(ctx, half)
            if f is not None:
                out.append(f)
        return out

    def check(self, ctx: Context, half: int) -> Finding | None:
        p = ctx.ct.p
        sl = ctx.ct.half_slice(half)
        idx = np.arange(sl.start, sl.stop)
        rst = (p["flags"][sl] & _RST) != 0
        own = idx[~rst]
        if len(own) == 0:
            return None
        ref_ttl = int(np.median(p["ttl"][own]))
        v4 = int(p["ip_version"][own[0]]) == 4
        own_ids = p["ip_id"][own].astype(np.int64)
        steps = np.diff(own_ids) % 65536 if len(own_ids) > 1 else np.zeros(0, np.int64)
        sequential = (
            v4 and len(steps) >= 1 and bool(np.all(steps < IPID_WINDOW)) and bool(np.any(own_ids))
        )
        o = ctx.ct.half_slice(half ^ 1)
        o_rows = p["row"][o]
        o_ids = p["ip_id"][o].astype(np.int64)
        forged: list[tuple[int, list[str]]] = []
        for r in idx[rst].tolist():
            why = []
            ttl = int(p["ttl"][r])
            if abs(ttl - ref_ttl) > TTL_TOLERANCE:
                hops = int(nearest_initial_ttl(ttl)) - ttl
                why.append(
                    f"TTL {ttl} (≈ {hops_phrase(hops)} away) where its own packets have TTL {ref_ttl}"
                )
            # IP-ID 0 on a DF packet says nothing about who sent it: the ID of an atomic
            # datagram has no meaning (RFC 6864 section 4.1), and Linux gives DF packets
            # from a socket without a peer ID 0 (ip_select_ident), which is every RST its
            # control socket sends for a closed connection, and netfilter's REJECT too
            if v4 and not (int(p["ip_id"][r]) == 0 and bool(p["df"][r])):
                rid = int(p["ip_id"][r])
                prev = own[p["row"][own] < p["row"][r]]
                if sequential and len(prev):
                    last = int(p["ip_id"][prev[-1]])
                    if (rid - last) % 65536 >= IPID_WINDOW:
                        why.append(f"IP-ID 0x{rid:04x} far from its running IP-ID 0x{last:04x}")
                # an injector answering a packet often copies its IP-ID (rst-inject-rae)
                k = int(np.searchsorted(o_rows, p["row"][r])) - 1
                if rid and k >= 0 and int(o_ids[k]) == rid:
                    why.append(
                        f"IP-ID 0x{rid:04x} copied from the packet it answers (frame "
                        f"{ctx.frame(o.start + k)})"
                    )
            if why:
                forged.append((r, why))
        if not forged:
            return None
        claimed, _ = ctx.sender(half)
        victim = half ^ 1
        ev = [handshake_evidence(ctx, half // 2)]
        for r, why in forged[:6]:
            ev.append(
                Evidence(
                    frame=ctx.frame(r),
                    text=f"frame {ctx.frame(r)}: RST claiming to come from {claimed}, but "
                    + "; ".join(why),
                )
            )
        if len(forged) > 6:
            ev.append(Evidence(frame=None, text=f"{len(forged)} forged RSTs in all"))
        ev.append(
            Evidence(
                frame=ctx.frame(int(own[0])), text=f"{claimed}'s own packets: {ctx.hops_text(half)}"
            )
        )
        conf = 0.8 + (0.1 if any(len(w) > 1 for _, w in forged) else 0.0)
        ctx.claimed.add(half)
        return make_finding(
            ctx,
            self,
            victim,
            Verdict.MIDDLEBOX_RESET,
            Severity.ERROR,
            conf,
            f"A device between the ends reset the connection: {len(forged)} RST(s) that {claimed} did not send",
            ev,
        )


@register
class DropDetector(DirectionDetector):
    """A permanent stall although same-size segments passed before: content, not size."""

    name = "middlebox-drop"
    verdicts = (Verdict.MIDDLEBOX_DROP,)
    priority = 30

    def candidates(self, ctx: Context) -> np.ndarray:
        h = ctx.ct.h
        return np.flatnonzero(
            h["present"] & (h["max_repeats"] >= MIN_STALL_TX) & h["unacked_at_end"]
        )

    def check(self, ctx: Context, half: int) -> Finding | None:
        p = ctx.ct.p
        stall = ctx.worst_stall(half)
        if stall is None or len(stall.tx) < MIN_STALL_TX or stall.recovered_by >= 0:
            return None
        if int(ctx.ct.h["final_ack"][half ^ 1]) > stall.stuck_rel:
            return None
        point, _ = ctx.capture_point(half)
        if point == CapturePoint.RECEIVER:
            return None
        lost = [i for i in stall.lost if int(p["payload_len"][i]) > 0] or stall.tx
        min_lost = min(int(p["wire_payload"][i]) for i in lost)
        acked, acked_frame, acked_ack = largest_acked(ctx, half)
        if acked_frame is None or min_lost > acked:
            return None  # size may be the cause: leave it to the black-hole / loss detectors
        first = stall.tx[0]
        size = int(p["wire_payload"][first])
        sender, _ = ctx.sender(half)
        ev = [
            handshake_evidence(ctx, half // 2),
            Evidence(
                frame=acked_frame,
                text=(
                    f"frame {acked_frame}: a {acked}-byte segment passed and was acknowledged "
                    f"(frame {acked_ack}): the path carries packets this large"
                ),
            ),
            Evidence(
                frame=ctx.frame(first),
                text=(
                    f"frame {ctx.frame(first)}: {size}-byte segment seq {stall.stuck_abs} (relative "
                    f"{stall.stuck_rel}) never acknowledged; sent again in "
                    f"{ctx.frames_phrase(stall.tx[1:])} over "
                    f"{(int(p['ts_ns'][stall.tx[-1]]) - int(p['ts_ns'][first])) / 1e9:.1f} s"
                ),
            ),
        ]
        small = [i for i in stall.lost if 0 < int(p["wire_payload"][i]) < size]
        if small:
            ev.append(
                Evidence(
                    frame=ctx.frame(small[0]),
                    text=f"smaller segments vanish too (frame {ctx.frame(small[0])}, {int(p['wire_payload'][small[0]])} bytes)",
                )
            )
        if stall.peer_stuck:
            ev.append(
                Evidence(
                    frame=ctx.frame(stall.peer_stuck[-1]),
                    text=f"the peer's ACK stays at {stall.stuck_abs} ({ctx.frames_phrase(stall.peer_stuck)})",
                )
            )
        else:
            ev.append(
                Evidence(frame=None, text="the receiver sends nothing more for this connection")
            )
        ev.append(Evidence(frame=None, text=no_icmp_text(ctx, half)))
        ev.append(
            Evidence(
                frame=None,
                text="same-size data passed before, so the path MTU is not the cause: the data is dropped for its content (IPS, AV/mail scanning, DLP)",
            )
        )
        conf = 0.6 + (0.15 if stall.peer_stuck else 0.0)
        return make_finding(
            ctx,
            self,
            half,
            Verdict.MIDDLEBOX_DROP,
            Severity.ERROR,
            conf,
            f"Data from {sender} stalls for good at one point although same-size segments passed before: dropped by content inspection, not by size",
            ev,
            path_mtu=PathMtu(low=wire_ip_len(ctx, first), high=None),
        )
