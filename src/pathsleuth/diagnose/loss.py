"""Loss detectors: a peer that stops answering, and plain packet loss.

- `PeerUnresponsiveDetector` (peer_unresponsive): the sender retransmits at one sequence
  number and the peer, which answered before, sends nothing at all afterwards; or a SYN is
  retransmitted and never answered. When the capture was taken at the receiver, the
  unanswered segments demonstrably arrived, which rules out the path.
- `PacketLossDetector` (packet_loss): fast or timeout retransmissions on a path that
  carries full-size segments (whatever the black-hole, drop and PTB detectors did not
  claim). Warning when a retransmission timeout fired or loss repeated, info for a single
  fast retransmission. Not loss evidence: "early" retransmissions (no duplicate ACKs or
  SACK blocks beyond them, within the minimum RTO, e.g. resegmentation or tail-loss
  probes), and redundant resends: the peer reports them back by D-SACK as copies it
  already had, and an earlier resend had carried the same bytes (the sender repaired one
  hole twice). A resend of bytes whose original got through (acknowledged, or D-SACKed
  with no resend before it) does count: the ACK never reached the sender (lost, beyond
  the capture point or before it, or late).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pathsleuth.diagnose.context import Context, hops_phrase
from pathsleuth.diagnose.model import CapturePoint, Evidence, Finding, Severity, Verdict
from pathsleuth.diagnose.pmtu import largest_acked
from pathsleuth.diagnose.registry import Detector, handshake_evidence, make_finding, register

#: SYNs (original + retransmissions) without any answer before a connection attempt counts
#: as unanswered (Linux retries after 1, 3, 7 s: net.ipv4.tcp_syn_retries)
MIN_UNANSWERED_SYNS = 2
#: retransmissions listed by frame in the evidence
LIST_LIMIT = 8
#: a retransmission timeout this long stalls the transfer visibly (users notice ~1 s)
STALL_WARN_NS = 1_000_000_000


@register
class PeerUnresponsiveDetector(Detector):
    """The peer goes silent while the sender keeps retransmitting."""

    name = "peer-unresponsive"
    verdicts = (Verdict.PEER_UNRESPONSIVE,)
    priority = 40

    def run(self, ctx: Context) -> list[Finding]:
        h = ctx.ct.h
        out = []
        cand = h["present"] & (h["retrans"] > 0) & ((h["max_repeats"] >= 2) | (h["syns"] >= 2))
        for half in np.flatnonzero(cand & h["unacked_at_end"]).tolist():
            if half in ctx.claimed:
                continue
            f = self.check(ctx, half) if bool(h["present"][half ^ 1]) else self.check_syn(ctx, half)
            if f is not None:
                out.append(f)
        return out

    def check_syn(self, ctx: Context, half: int) -> Finding | None:
        p, h = ctx.ct.p, ctx.ct.h
        if half % 2 or int(h["syns"][half]) < MIN_UNANSWERED_SYNS or int(h["data_packets"][half]):
            return None
        sl = ctx.ct.half_slice(half)
        syns = (np.flatnonzero((p["flags"][sl] & 0x02) != 0) + sl.start).tolist()
        span = (int(p["ts_ns"][syns[-1]]) - int(p["ts_ns"][syns[0]])) / 1e9
        sender, _ = ctx.sender(half)
        peer, port = ctx.receiver(half)
        ev = [
            Evidence(
                frame=ctx.frame(syns[0]),
                text=f"{ctx.frames_phrase(syns)}: {len(syns)} SYNs over {span:.1f} s, never answered (no SYN/ACK, no RST)",
            )
        ]
        errs = [e for e in ctx.icmp if e.half == half]
        ev.append(
            Evidence(
                frame=errs[0].frame if errs else None,
                text=(
                    "; ".join(
                        f"frame {e.frame}: ICMP {e.kind} (type {e.icmp_type} code {e.icmp_code}) from {e.router}"
                        for e in errs[:4]
                    )
                    if errs
                    else "no ICMP error about it in the capture"
                ),
            )
        )
        return make_finding(
            ctx,
            self,
            half,
            Verdict.PEER_UNRESPONSIVE,
            Severity.WARNING,
            0.6,
            f"Connection attempt from {sender} to {peer}:{port} never answered",
            ev,
            fix_owner=f"{peer} or a filter on the way to it",
        )

    def check(self, ctx: Context, half: int) -> Finding | None:
        p = ctx.ct.p
        stall = ctx.worst_stall(half)
        if stall is None or len(stall.tx) < 2 or stall.recovered_by >= 0 or stall.peer_after:
            return None
        if int(ctx.ct.h["final_ack"][half ^ 1]) > stall.stuck_rel:
            return None
        point, _ = ctx.capture_point(half)
        o = ctx.ct.half_slice(half ^ 1)
        last_peer = o.stop - 1
        first = stall.tx[0]
        sender, _ = ctx.sender(half)
        peer, _ = ctx.receiver(half)
        span = (int(p["ts_ns"][stall.tx[-1]]) - int(p["ts_ns"][first])) / 1e9
        ev = [
            handshake_evidence(ctx, half // 2),
            Evidence(
                frame=ctx.frame(last_peer),
                text=f"frame {ctx.frame(last_peer)}: the last packet from {peer}; nothing from it afterwards",
            ),
            Evidence(
                frame=ctx.frame(first),
                text=(
                    f"frame {ctx.frame(first)}: {int(p['payload_len'][first])}-byte segment seq "
                    f"{stall.stuck_abs} (relative {stall.stuck_rel}) sent {len(stall.tx)}x over "
                    f"{span:.1f} s ({ctx.frames_phrase(stall.tx)}), never acknowledged"
                ),
            ),
        ]
        others = [i for i in stall.lost if int(p["rel_seq"][i]) != stall.stuck_rel]
        if others:
            ev.append(
                Evidence(
                    frame=ctx.frame(others[0]),
                    text=(
                        f"other segments go unanswered too (frame {ctx.frame(others[0])}, "
                        f"{int(p['payload_len'][others[0]])} bytes), and no duplicate ACK comes back"
                    ),
                )
            )
        conf = 0.7
        severity = Severity.ERROR
        alive = _alive_elsewhere(ctx, half, int(p["row"][first]))
        if alive is not None:
            severity = Severity.INFO
            ev.append(
                Evidence(
                    frame=alive,
                    text=(
                        f"frame {alive}: {peer} still talks on another connection afterwards: the "
                        "host and the path work, this connection was abandoned by its application"
                    ),
                )
            )
        if point == CapturePoint.RECEIVER:
            conf = 0.85
            hops = int(ctx.ct.h["hops"][half ^ 1])
            where = (
                f"the capture was taken at {peer}, the receiver: these segments reached it"
                if hops <= 0
                else f"the capture was taken ≈ {hops_phrase(hops)} from {peer}, the receiver: these segments got that far"
            )
            ev.append(
                Evidence(
                    frame=None,
                    text=(
                        f"{where}, so the path before the capture point and its MTU did not lose them; "
                        "the receiving host or application stopped answering"
                    ),
                )
            )
        return make_finding(
            ctx,
            self,
            half,
            Verdict.PEER_UNRESPONSIVE,
            severity,
            conf,
            f"{peer} stopped answering: {sender} retransmits {len(stall.tx) - 1}x without any reply",
            ev,
            fix_owner=f"the receiving host {peer} (its TCP stack or application)",
        )


@dataclass(frozen=True)
class _Retransmissions:
    """The loss-evidence retransmissions (fast or timeout, not redundant, with payload) of
    every half, found with whole-array operations once per capture instead of once per
    half: in packet order (so grouped by half), their ``fast`` flag, ``frame`` and
    ``size``; and per half the ``bounds`` of its run in those lists, ``nfast``,
    ``episodes`` (distinct ACK points the peer stood at) and ``longest`` wait before one."""

    fast: list[bool]
    frame: list[int]
    size: list[int]
    bounds: list[int]
    nfast: list[int]
    episodes: list[int]
    longest: list[int]

    @classmethod
    def of(cls, ctx: Context) -> _Retransmissions:
        p, nh = ctx.ct.p, ctx.ct.n_half
        ridx = np.flatnonzero((p["fast"] | p["timeout"]) & ~p["redundant"] & (p["payload_len"] > 0))
        rh = p["half"][ridx]
        fast = p["fast"][ridx]
        bounds = np.searchsorted(rh, np.arange(nh + 1))
        longest = np.full(nh, np.iinfo(np.int64).min, np.int64)
        np.maximum.at(longest, rh, p["rtx_elapsed"][ridx])
        pcb = p["peer_cumack_before"][ridx]
        o = np.lexsort((pcb, rh))
        new = np.ones(len(o), np.bool_)
        new[1:] = (rh[o][1:] != rh[o][:-1]) | (pcb[o][1:] != pcb[o][:-1])
        return cls(
            fast=fast.tolist(),
            frame=ctx.ct.frames(ridx).tolist(),
            size=p["payload_len"][ridx].tolist(),
            bounds=bounds.tolist(),
            nfast=np.bincount(rh[fast], minlength=nh).tolist(),
            episodes=np.bincount(rh[o][new], minlength=nh).tolist(),
            longest=longest.tolist(),
        )


@register
class PacketLossDetector(Detector):
    """Fast/timeout retransmissions where full-size segments also get through."""

    name = "packet-loss"
    verdicts = (Verdict.PACKET_LOSS,)
    priority = 50

    def run(self, ctx: Context) -> list[Finding]:
        h = ctx.ct.h
        r = _Retransmissions.of(ctx)
        real = np.diff(np.asarray(r.bounds, np.int64))
        out = []
        for half in np.flatnonzero(h["present"] & (real > 0) & (h["data_packets"] > 0)).tolist():
            if half in ctx.claimed or half // 2 in ctx.explained:
                continue
            out.append(self.check(ctx, half, r))
        return out

    def check(self, ctx: Context, half: int, r: _Retransmissions | None = None) -> Finding:
        """The finding for `half`, which has loss-evidence retransmissions (`r`: those of
        every half, when the caller already has them)."""
        h = ctx.ct.h
        if r is None:
            r = _Retransmissions.of(ctx)
        lo, hi = r.bounds[half], r.bounds[half + 1]
        n = hi - lo
        nfast = r.nfast[half]
        nto = n - nfast
        episodes = r.episodes[half]
        longest = r.longest[half]
        data = int(h["data_packets"][half])
        sender, _ = ctx.sender(half)
        peer, _ = ctx.receiver(half)
        one_sided = not bool(h["present"][half ^ 1])
        shown = range(lo, min(hi, lo + LIST_LIMIT))
        kinds = [
            f"{r.frame[k]} ({'fast' if r.fast[k] else 'timeout'}, {r.size[k]} bytes)" for k in shown
        ]
        ev = [
            handshake_evidence(ctx, half // 2),
            Evidence(
                frame=r.frame[lo],
                text=(
                    f"{n} of {data} data segments from {sender} retransmitted "
                    f"({nfast} fast, {nto} after a timeout): frames "
                    + ", ".join(kinds)
                    + (", ..." if n > LIST_LIMIT else "")
                ),
            ),
        ]
        acked, af, aa = largest_acked(ctx, half)
        if af is not None:
            ev.append(
                Evidence(
                    frame=af,
                    text=f"frame {af}: {acked}-byte segments get through (acknowledged in frame {aa}): size is not the problem",
                )
            )
        if one_sided:
            ev.append(
                Evidence(
                    frame=None,
                    text=f"only the {sender} -> {peer} direction is in the capture: ACKs cannot be checked",
                )
            )
        if longest >= STALL_WARN_NS:
            ev.append(
                Evidence(
                    frame=None,
                    text=f"the transfer stalled up to {longest / 1e9:.1f} s waiting for a retransmission timeout",
                )
            )
        hurt = longest >= STALL_WARN_NS or nfast >= 2 or (nto >= 1 and episodes >= 2)
        severity = Severity.WARNING if hurt else Severity.INFO
        conf = 0.3 if one_sided else 0.8
        if one_sided:
            severity = Severity.INFO
        return make_finding(
            ctx,
            self,
            half,
            Verdict.PACKET_LOSS,
            severity,
            conf,
            f"Packet loss from {sender} to {peer}: {n} retransmission(s), full-size segments otherwise pass",
            ev,
        )


def _alive_elsewhere(ctx: Context, half: int, after_row: int) -> int | None:
    """Frame of a later packet the silent peer sent on another connection, if any."""
    ct = ctx.ct
    p = ct.p
    src_hi, src_lo = ct.half_ends[0], ct.half_ends[1]
    peer = half ^ 1  # the peer's own half: its address is that half's source
    other = (np.arange(ct.n_half) >> 1) != half // 2
    sends = other & (src_hi == src_hi[peer]) & (src_lo == src_lo[peer])
    idx = np.flatnonzero(sends[p["half"]] & (p["row"] > after_row))
    if len(idx) == 0:
        return None
    return ct.frame(int(idx[np.argmin(p["row"][idx])]))
