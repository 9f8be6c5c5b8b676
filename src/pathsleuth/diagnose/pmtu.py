"""Path-MTU detectors: black holes (seen at the sender or at the receiver) and PTB handling.

- `BlackholeDetector` (pmtu_blackhole, outbound view): full-size DF segments sent again
  and again at one sequence number, never acknowledged, the peer's ACK stuck below them,
  no PTB for the flow; the QUIC guard (quinn, s2n-quic): the smallest lost segment must be
  larger than every segment that demonstrably got through (acknowledged before any of its
  bytes were sent again, `largest_acked_index`), otherwise size is not the cause.
  Not reported when the capture was taken at the receiver (the packets arrived there).
- `InboundBlackholeDetector` (pmtu_blackhole, receiver view): at the receiver the lost
  segments never appear: a hole of at least one full-size segment at the receiver's stuck
  ACK, duplicate ACKs for it, later smaller segments arriving, never filled at full size.
- `PtbDetector` (pmtud_working / ptb_ignored): a valid PTB for the flow whose MTU is
  smaller than the segments on the wire, then either smaller resends or the same size.
"""

from __future__ import annotations

import numpy as np

from pathsleuth.diagnose.context import Context, Stall, hops_phrase
from pathsleuth.diagnose.model import (
    CapturePoint,
    Evidence,
    Finding,
    PathMtu,
    Severity,
    Verdict,
)
from pathsleuth.diagnose.registry import (
    Detector,
    DirectionDetector,
    handshake_evidence,
    make_finding,
    register,
)
from pathsleuth.tcp.icmp import IcmpEvent

#: a hole counts as "one full-size segment" when it is at least the sender's MSS minus
#: this much room for TCP options (timestamps 12 bytes, RFC 7323, plus SACK slack)
MSS_OPTION_SLACK = 60
#: a PTB only explains packets sent after it arrived; at the sender allow this much for
#: segments already queued (1 ms), elsewhere half the handshake RTT
PTB_GRACE_NS = 1_000_000
#: an unfilled hole at the receiver must keep the ACK stuck this long (several RTOs) before
#: it counts: a capture that merely ends during ordinary loss recovery is not a black hole
INBOUND_STALL_NS = 1_000_000_000


def wire_ip_len(ctx: Context, i: int) -> int:
    """IP length on the wire (super-segments counted at the MSS they are cut to)."""
    p = ctx.ct.p
    if bool(p["super_seg"][i]):
        return int(p["ip_hdr_len"][i]) + int(p["tcp_hdr_len"][i]) + int(p["wire_payload"][i])
    return int(p["ip_len"][i])


def wire_ip_lens(ctx: Context, idx: np.ndarray) -> np.ndarray:
    """`wire_ip_len` for many packets at once."""
    p = ctx.ct.p
    cut = (
        p["ip_hdr_len"][idx].astype(np.int64)
        + p["tcp_hdr_len"][idx].astype(np.int64)
        + p["wire_payload"][idx]
    )
    out: np.ndarray = np.where(p["super_seg"][idx], cut, p["ip_len"][idx].astype(np.int64))
    return out


def no_icmp_text(ctx: Context, half: int) -> str:
    others = [ev for ev in ctx.icmp if ev.half == half]
    kind = "ICMPv6 packet too big" if ctx.is_v6(half) else "ICMP type 3 code 4"
    if not others:
        return f"no {kind} for this flow in the capture"
    desc = ", ".join(f"frame {ev.frame} ({ev.kind})" for ev in others[:4])
    return f"no usable {kind} for this flow in the capture (other ICMP errors: {desc})"


def largest_acked_index(ctx: Context, half: int) -> int | None:
    """Packet index of the largest segment of a direction that demonstrably got through
    (by on-wire payload, the first of equals): the tcp stage's ``acked_clean``, i.e.
    acknowledged with none of its bytes sent again before the ACK that covers it (after a
    resend the ACK may be for the copy: Karn's algorithm, RFC 6298 section 3). A sender
    that falls back to smaller segments (tcp_mtu_probing, a PTB) resends the lost
    full-size segments' bytes at other offsets; their ACKs say nothing about the full size."""
    i = int(ctx.ct.h["max_seg_acked_idx"][half])  # found by the tcp stage's pass
    return None if i < 0 else i


def largest_acked(ctx: Context, half: int) -> tuple[int, int | None, int | None]:
    """(size, frame, ack frame) of `largest_acked_index`; (0, None, None) when none."""
    p = ctx.ct.p
    i = largest_acked_index(ctx, half)
    if i is None:
        return 0, None, None
    return int(p["wire_payload"][i]), ctx.frame(i), ctx.frame(int(p["ack_pos"][i]))


def _tso_note(ctx: Context, half: int) -> list[Evidence]:
    h, p = ctx.ct.h, ctx.ct.p
    n = int(h["super_segments"][half])
    if not n:
        return []
    sl = ctx.ct.half_slice(half)
    idx = np.flatnonzero(p["super_seg"][sl]) + sl.start
    big = int(p["payload_len"][idx].max())
    return [
        Evidence(
            frame=ctx.frame(int(idx[0])),
            text=(
                f"{n} segments up to {big} bytes exceed the peer's MSS: TSO/GSO super-segments "
                "captured on the sending host before the NIC cut them; counted at MSS size, "
                "not as oversize packets"
            ),
        )
    ]


@register
class BlackholeDetector(DirectionDetector):
    """Full-size DF segments vanish at the sender's side of the path (see module doc)."""

    name = "pmtu-blackhole"
    verdicts = (Verdict.PMTU_BLACKHOLE,)
    priority = 20

    def candidates(self, ctx: Context) -> np.ndarray:
        h = ctx.ct.h
        # vectorised pre-filter: something sent twice, and something larger than anything
        # that demonstrably got through (the tcp stage's max_seg_acked counts only
        # segments acknowledged clean, Karn): the guard cannot pass otherwise
        return np.flatnonzero(
            h["present"] & (h["max_repeats"] >= 2) & (h["max_seg_sent"] > h["max_seg_acked"])
        )

    def check(self, ctx: Context, half: int) -> Finding | None:
        p = ctx.ct.p
        acked, acked_frame, acked_ack = largest_acked(ctx, half)
        if acked >= int(ctx.ct.h["max_seg_sent"][half]):
            return None  # the largest size sent got through: the guard below cannot pass
        stall = ctx.worst_stall(half)
        if stall is None or len(stall.tx) < 2:
            return None
        point, _ = ctx.capture_point(half)
        if point == CapturePoint.RECEIVER:
            return None
        if any(not ev.problems for ev in ctx.ptbs.get(half, [])):
            return None
        v6 = ctx.is_v6(half)
        lost = [i for i in stall.lost if int(p["payload_len"][i]) > 0]
        if not lost:
            return None
        if not v6 and not all(bool(p["df"][i]) for i in lost):
            return None
        min_lost = min(int(p["wire_payload"][i]) for i in lost)
        if min_lost <= acked:
            return None  # the QUIC guard: something as large got through
        final_ack = int(ctx.ct.h["final_ack"][half ^ 1])
        recovered_idx = stall.recovered_by
        recovered = recovered_idx >= 0 or final_ack > stall.stuck_rel
        return self._finding(
            ctx, half, stall, lost, min_lost, acked, acked_frame, acked_ack, recovered, point
        )

    def _finding(
        self,
        ctx: Context,
        half: int,
        stall: Stall,
        lost: list[int],
        min_lost: int,
        acked: int,
        acked_frame: int | None,
        acked_ack: int | None,
        recovered: bool,
        point: CapturePoint,
    ) -> Finding:
        p = ctx.ct.p
        v6 = ctx.is_v6(half)
        first = stall.tx[0]
        size = int(p["wire_payload"][first])
        df = "" if v6 else "DF, "
        ev = [handshake_evidence(ctx, half // 2)]
        if acked_frame is not None:
            ev.append(
                Evidence(
                    frame=acked_frame,
                    text=(
                        f"frame {acked_frame}: the largest segment that got through is "
                        f"{acked} bytes (acknowledged in frame {acked_ack})"
                    ),
                )
            )
        ev.append(
            Evidence(
                frame=ctx.frame(first),
                text=(
                    f"frame {ctx.frame(first)}: first full-size segment ({size} bytes, {df}"
                    f"ip.len {wire_ip_len(ctx, first)}, seq {stall.stuck_abs} (relative "
                    f"{stall.stuck_rel})), never acknowledged"
                ),
            )
        )
        if len(stall.tx) > 1:
            retx = [i for i in stall.tx[1:] if i != stall.recovered_by]
            if retx:
                ev.append(
                    Evidence(
                        frame=ctx.frame(retx[0]),
                        text=f"retransmitted in {ctx.frames_phrase(retx)}",
                    )
                )
        if stall.peer_stuck:
            ev.append(
                Evidence(
                    frame=ctx.frame(stall.peer_stuck[-1]),
                    text=(
                        f"the peer's ACK stays at {stall.stuck_abs} ("
                        f"{ctx.frames_phrase(stall.peer_stuck)}): it never received the segment"
                    ),
                )
            )
        elif not stall.peer_after:
            ev.append(
                Evidence(
                    frame=None,
                    text="the peer sends nothing after the full-size segment (nothing smaller was outstanding)",
                )
            )
        ev.append(Evidence(frame=None, text=no_icmp_text(ctx, half)))
        ev.append(Evidence(frame=None, text=f"peer {ctx.hops_text(half ^ 1)}"))
        if recovered:
            r = stall.recovered_by
            if r >= 0:
                ev.append(
                    Evidence(
                        frame=ctx.frame(r),
                        text=(
                            f"frame {ctx.frame(r)}: the sender fell back to "
                            f"{int(p['wire_payload'][r])}-byte segments without any ICMP "
                            f"(TCP MTU probing), acknowledged in frame {stall.ack_frame_pass}"
                        ),
                    )
                )
            else:
                ev.append(
                    Evidence(
                        frame=None,
                        text="the data later got through in smaller segments, without any ICMP",
                    )
                )
        ev.extend(_tso_note(ctx, half))
        conf = 0.6
        conf += 0.15 if stall.peer_stuck else (-0.15 if not stall.peer_after else 0.0)
        conf += 0.1 if point == CapturePoint.SENDER else 0.0
        conf += 0.1 if len(stall.tx) >= 3 else 0.0
        passed = largest_acked_index(ctx, half)
        low_ip = wire_ip_len(ctx, passed) if passed is not None else None
        high_ip = min(wire_ip_len(ctx, i) for i in lost)
        sender, _ = ctx.sender(half)
        peer, _ = ctx.receiver(half)
        sent = sum(1 for i in stall.tx if i != stall.recovered_by)
        summary = (
            f"Path-MTU black hole: {size}-byte segments from {sender} to {peer} vanish "
            f"(sent {sent}x, never acknowledged) while smaller ones get through; "
            "no ICMP 'fragmentation needed' reaches the sender"
        )
        if recovered:
            summary += "; the sender recovered by falling back to smaller segments"
        return make_finding(
            ctx,
            self,
            half,
            Verdict.PMTU_BLACKHOLE,
            Severity.WARNING if recovered else Severity.ERROR,
            conf,
            summary,
            ev,
            path_mtu=PathMtu(low=low_ip, high=high_ip),
            recovered=recovered,
        )


@register
class InboundBlackholeDetector(DirectionDetector):
    """At the receiver: a full-size hole that never arrives while smaller data does."""

    name = "pmtu-blackhole-inbound"
    verdicts = (Verdict.PMTU_BLACKHOLE,)
    priority = 21

    def candidates(self, ctx: Context) -> np.ndarray:
        h = ctx.ct.h
        return np.flatnonzero(h["present"] & (h["holes"] > 0))

    def check(self, ctx: Context, half: int) -> Finding | None:
        p, h = ctx.ct.p, ctx.ct.h
        point, _ = ctx.capture_point(half)
        if point == CapturePoint.SENDER:
            return None
        sl = ctx.ct.half_slice(half)
        o = ctx.ct.half_slice(half ^ 1)
        holes = np.flatnonzero(p["hole"][sl]) + sl.start
        acked, acked_frame, _acked_ack = largest_acked(ctx, half)
        mss = int(h["mss"][half ^ 1]) or int(h["mss"][half])
        for j in holes.tolist():
            start = int(p["prev_max_end"][j])
            size = int(p["rel_seq"][j]) - start
            if size <= acked or (mss and size < mss - MSS_OPTION_SLACK):
                continue
            orow, rj = p["row"][o], int(p["row"][j])
            stuck = (
                np.flatnonzero(p["ackf"][o] & (p["rel_ack"][o] == start) & (orow > rj)) + o.start
            )
            if len(stuck) < 2:
                continue
            rel = p["rel_seq"][sl]
            fills = (
                np.flatnonzero(p["gapfill"][sl] & (rel == start) & (p["row"][sl] > rj)) + sl.start
            )
            if len(fills) and int(p["wire_payload"][fills[0]]) >= size:
                continue  # filled at full size: plain loss upstream, not a black hole
            lasted = int(p["ts_ns"][stuck[-1]]) - int(p["ts_ns"][j])
            if not len(fills) and lasted < INBOUND_STALL_NS:
                continue
            return self._finding(
                ctx, half, j, start, size, stuck.tolist(), fills.tolist(), acked, acked_frame
            )
        return None

    def _finding(
        self,
        ctx: Context,
        half: int,
        j: int,
        start: int,
        size: int,
        stuck: list[int],
        fills: list[int],
        acked: int,
        acked_frame: int | None,
    ) -> Finding:
        p = ctx.ct.p
        a = ctx.abs_seq(half, start)
        sender, _ = ctx.sender(half)
        recovered = bool(fills)
        ev = [handshake_evidence(ctx, half // 2)]
        if acked_frame is not None:
            ev.append(
                Evidence(
                    frame=acked_frame,
                    text=f"frame {acked_frame}: segments up to {acked} bytes from {sender} arrive",
                )
            )
        ev.append(
            Evidence(
                frame=ctx.frame(j),
                text=(
                    f"frame {ctx.frame(j)}: the next segment from {sender} starts at seq "
                    f"{ctx.abs_seq(half, int(p['rel_seq'][j]))}: bytes {a}..{ctx.abs_seq(half, start + size)} "
                    f"(relative {start}, {size} bytes: at least one full-size segment) never arrived"
                ),
            )
        )
        ev.append(
            Evidence(
                frame=ctx.frame(stuck[-1]),
                text=f"our ACK stays at {a} ({ctx.frames_phrase(stuck)}): duplicate ACKs asking for it",
            )
        )
        if recovered:
            f = fills[0]
            ev.append(
                Evidence(
                    frame=ctx.frame(f),
                    text=(
                        f"frame {ctx.frame(f)}: the peer resent it as {int(p['wire_payload'][f])}-byte "
                        "segments (it lowered its segment size without ICMP)"
                    ),
                )
            )
        ev.append(
            Evidence(
                frame=None,
                text="the full-size retransmissions never reach this capture; no ICMP could reach the peer from here",
            )
        )
        ev.append(Evidence(frame=None, text=f"peer {ctx.hops_text(half)}"))
        return make_finding(
            ctx,
            self,
            half,
            Verdict.PMTU_BLACKHOLE,
            Severity.WARNING if recovered else Severity.ERROR,
            0.65,
            (
                f"Path-MTU black hole on the way in: full-size segments from {sender} never "
                "arrive while smaller ones do"
                + ("; the peer recovered with smaller segments" if recovered else "")
            ),
            ev,
            path_mtu=PathMtu(low=None, high=None),
            recovered=recovered,
        )


@register
class PtbDetector(Detector):
    """A valid PTB for the flow: did the sender resend smaller (working) or not (ignored)?"""

    name = "ptb"
    verdicts = (Verdict.PMTUD_WORKING, Verdict.PTB_IGNORED)
    priority = 10

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for half, events in sorted(ctx.ptbs.items()):
            if half in ctx.claimed:
                continue
            f = self.check(ctx, half, events)
            if f is not None:
                out.append(f)
        return out

    def check(self, ctx: Context, half: int, events: list[IcmpEvent]) -> Finding | None:
        p = ctx.ct.p
        sl = ctx.ct.half_slice(half)
        data = np.flatnonzero(p["payload_len"][sl] > 0) + sl.start
        if len(data) == 0:
            return None
        wire = wire_ip_lens(ctx, data)
        valid = [ev for ev in events if not ev.problems and ev.mtu and ev.mtu < int(wire.max())]
        if not valid:
            return self.odd(ctx, half, events, int(wire.max()))
        ev0 = valid[0]
        mtu = int(ev0.mtu or 0)
        point, _ = ctx.capture_point(half)
        rtt = ctx.rtt_ns(half // 2) or 0
        grace = PTB_GRACE_NS if point == CapturePoint.SENDER else max(PTB_GRACE_NS, rtt // 2)
        ts = p["ts_ns"][data]
        after = ts > ev0.ts_ns + grace
        v6 = ctx.is_v6(half)
        df = np.ones(len(data), bool) if v6 else p["df"][data]
        over = after & (wire > mtu) & df
        fits = after & (wire <= mtu)
        # the proof that the error worked: the first resend that fits, however soon after
        # the error (the grace only keeps packets already in flight from counting as
        # ignoring it); else the first packet that fits once the grace is over
        resent = (ts > ev0.ts_ns) & (wire <= mtu) & p["retrans"][data]
        shown = resent if resent.any() else fits
        what = "ICMPv6 packet too big" if v6 else "ICMP type 3 code 4"
        quoted = f" quoting frame {ev0.segment_frame}" if ev0.segment_frame else ""
        ev = [
            handshake_evidence(ctx, half // 2),
            Evidence(
                frame=ev0.frame,
                text=(
                    f"frame {ev0.frame}: {what} from {ev0.router} ({hops_phrase(ev0.router_hops)} "
                    f"from the capture point), MTU {mtu}{quoted} ({ev0.quoted_ip_len}-byte "
                    f"packet, seq {ev0.quoted_seq})"
                ),
            ),
        ]
        if len(valid) > 1:
            ev.append(Evidence(frame=valid[1].frame, text=f"{len(valid)} such errors in all"))
        sender, _ = ctx.sender(half)
        if int(over.sum()) >= 2:
            oi = data[over].tolist()
            ev.append(
                Evidence(
                    frame=ctx.frame(oi[0]),
                    text=(
                        f"{ctx.frames_phrase(oi)}: {sender} keeps sending {int(wire[over].max())}-byte "
                        f"packets above MTU {mtu} after the error"
                    ),
                )
            )
            return make_finding(
                ctx,
                self,
                half,
                Verdict.PTB_IGNORED,
                Severity.ERROR,
                0.85,
                f"{sender} received 'packet too big' (MTU {mtu}) but kept sending larger packets",
                ev,
                path_mtu=PathMtu(low=None, high=mtu),
            )
        if fits.any() or resent.any():
            f0 = int(data[shown][0])
            ack = int(p["ack_pos"][f0])
            acked = f", acknowledged in frame {ctx.frame(ack)}" if ack >= 0 else ""
            ev.append(
                Evidence(
                    frame=ctx.frame(f0),
                    text=(
                        f"frame {ctx.frame(f0)}: resent at ip.len {int(wire[shown][0])} (<= {mtu}), "
                        f"{(p['ts_ns'][f0] - ev0.ts_ns) / 1e6:.3f} ms after the error{acked}; all "
                        "later data fits the new MTU"
                    ),
                )
            )
            return make_finding(
                ctx,
                self,
                half,
                Verdict.PMTUD_WORKING,
                Severity.INFO,
                0.9,
                f"Path MTU discovery works: {sender} got MTU {mtu} from {ev0.router} and resent smaller",
                ev,
                path_mtu=PathMtu(low=int(wire[fits | resent].max()), high=mtu),
            )
        return None

    def odd(
        self, ctx: Context, half: int, events: list[IcmpEvent], wire_max: int
    ) -> Finding | None:
        """A PTB that does not constrain the on-wire packets, whose quoted segment the
        sender resent at the same size after a timeout and got acknowledged
        (filestore-5408: MTU 1500 quoting a 1645-byte GRO-coalesced packet)."""
        p = ctx.ct.p
        sl = ctx.ct.half_slice(half)
        for ev in events:
            if ev.segment < 0:
                continue
            rel = int(p["rel_seq"][ev.segment])
            later = (
                np.flatnonzero(
                    p["retrans"][sl] & (p["rel_seq"][sl] == rel) & (p["ts_ns"][sl] > ev.ts_ns)
                )
                + sl.start
            )
            acked = [int(i) for i in later.tolist() if bool(p["acked"][i])]
            if not acked:
                continue
            r = acked[0]
            why = "; ".join(ev.problems) or (
                f"MTU {ev.mtu} is not smaller than the {wire_max}-byte packets on the wire"
            )
            text = [
                handshake_evidence(ctx, half // 2),
                Evidence(
                    frame=ev.frame,
                    text=(
                        f"frame {ev.frame}: {'ICMPv6 packet too big' if ctx.is_v6(half) else 'ICMP type 3 code 4'} "
                        f"from {ev.router}, MTU {ev.mtu}, quoting a {ev.quoted_ip_len}-byte packet "
                        f"(seq {ev.quoted_seq}, frame {ev.segment_frame}): {why}"
                    ),
                ),
            ]
            if ev.quoted_ip_len > wire_max:
                text.append(
                    Evidence(
                        frame=None,
                        text=(
                            f"the quoted {ev.quoted_ip_len}-byte packet is larger than anything the sender "
                            "put on the wire: segments coalesced by a receive offload (GRO/LRO) on the path"
                        ),
                    )
                )
            text.append(
                Evidence(
                    frame=ctx.frame(r),
                    text=(
                        f"frame {ctx.frame(r)}: the sender resent the same {int(p['payload_len'][r])}-byte "
                        f"segment {(int(p['ts_ns'][r]) - ev.ts_ns) / 1e6:.0f} ms after the error, acknowledged "
                        f"in frame {ctx.frame(int(p['ack_pos'][r]))}: the path carries it; not a path-MTU problem"
                    ),
                )
            )
            sender, _ = ctx.sender(half)
            return make_finding(
                ctx,
                self,
                half,
                Verdict.PMTUD_WORKING,
                Severity.INFO,
                0.4,
                f"Odd 'packet too big' (MTU {ev.mtu}) for packets that already fit; {sender} resent at the same size and it got through",
                text,
                path_mtu=PathMtu(low=wire_max, high=None),
            )
        return None
