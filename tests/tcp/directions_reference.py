"""The whole-array NumPy formulation of `pathsleuth.tcp.directions`, kept as the oracle.

`pathsleuth.tcp.directions.analyse_directions` computes the same flags and counters in one
numba pass per connection; `tests/tcp/test_directions.py` checks the two agree on random
packet streams, and checks the small kernels here against their definitions. The
definitions themselves are in the docstring of `pathsleuth.tcp.directions`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from pathsleuth.capture.table import TcpFlag
from pathsleuth.tcp.connections import ConnectionTable
from pathsleuth.tcp.directions import (  # the same definitions as the numba pass
    _LOW,
    ETHERNET_MTU,
    FAST_RETRANS_DUPACKS,
    MAX_KARN_ROUNDS,
    RTO_MIN_NS,
    TCP_MIN_HDR,
    initial_ttl,
)
from pathsleuth.tcp.groups import I64
from tcp.grouped import (
    first_index,
    first_of_group,
    group_count,
    group_max,
    group_min,
    grouped_searchsorted,
    in_group,
    last_index,
    seg_cummax,
    seg_cumsum,
    take_or,
)

_SYN, _ACK, _FIN, _RST = int(TcpFlag.SYN), int(TcpFlag.ACK), int(TcpFlag.FIN), int(TcpFlag.RST)


@numba.njit(cache=True)
def _karn_walk(
    cand: Any, ack_row: Any, resend: Any, half: Any, row: Any, rel: Any, end: Any, rounds: int
) -> Any:
    n = len(half)
    # position of the next resend in the same half after each packet; n + 1 when none
    nxt = np.empty(n, np.int64)
    last = n + 1
    for i in range(n - 1, -1, -1):
        if i == n - 1 or half[i] != half[i + 1]:
            last = n + 1
        nxt[i] = last
        if resend[i]:
            last = i
    clean = np.ones(len(cand), np.bool_)
    for k in range(len(cand)):
        c = cand[k]
        j = nxt[c]
        seen = 0
        while j < n:
            if seen == rounds:  # undecided: never credit a size that may not have got through
                clean[k] = False
                break
            seen += 1
            if row[j] >= ack_row[k]:  # the chain passed the covering ACK
                break
            if rel[j] < end[c] and end[j] > rel[c]:  # an overlapping resend before it
                clean[k] = False
                break
            j = nxt[j]
    return clean


@numba.njit(cache=True)
def _peer_before(half: Any, row: Any, start: Any, end: Any) -> Any:
    """For each packet (sorted by (half, capture order); half g is [start[g], end[g])),
    the index of the last packet of the opposite half captured before it, -1 when none:
    a merge of the two row-sorted halves of each connection."""
    out = np.full(len(half), -1, np.int64)
    for g in range(len(start)):
        j = start[g ^ 1]
        jend = end[g ^ 1]
        for i in range(start[g], end[g]):
            while j < jend and row[j] < row[i]:
                j += 1
            if j > start[g ^ 1]:
                out[i] = j - 1
    return out


@numba.njit(cache=True)
def _covering_acks(
    half: Any,
    row: Any,
    end: Any,
    ackf: Any,
    cumack: Any,
    seqspace: Any,
    next_same: Any,
    spurious: Any,
    h_start: Any,
    h_end: Any,
    ack_pos: Any,
    acked: Any,
) -> None:
    """For each transmission (packets in (half, capture order)), the peer's first ACK
    after it whose cumulative ACK covers its end: `ack_pos` (-1 when none). `acked` when
    there is one, no later transmission of the same start came before that ACK (that ACK
    may be for the copy), and the transmission is not a spurious resend.

    Half g is [h_start[g], h_end[g]). The peer's ACKs of a half are in capture order with
    a running-maximum cumulative ACK, so both conditions are binary searches among them:
    one pass, no temporaries."""
    n = len(half)
    # the ACK-carrying packets; half g's are ai[acks[h_start[g]]:acks[h_end[g]]]
    ai = np.flatnonzero(ackf)
    acks = np.zeros(n + 1, np.int64)  # ACK-carrying packets before each index
    for i in range(n):
        acks[i + 1] = acks[i] + (1 if ackf[i] else 0)
    for t in range(n):
        if not seqspace[t]:
            continue
        g = half[t] ^ 1
        lo, hi = acks[h_start[g]], acks[h_end[g]]
        # first ACK with cumulative ACK >= the transmission's end ...
        a, b = lo, hi
        while a < b:
            m = (a + b) >> 1
            if cumack[ai[m]] < end[t]:
                a = m + 1
            else:
                b = m
        k = a
        # ... and first ACK sent after it
        a, b = lo, hi
        while a < b:
            m = (a + b) >> 1
            if row[ai[m]] <= row[t]:
                a = m + 1
            else:
                b = m
        if a > k:
            k = a
        if k >= hi:
            continue
        ap = ai[k]
        ack_pos[t] = ap
        nx = next_same[t]
        superseded = nx >= 0 and row[nx] < row[ap]
        acked[t] = not superseded and not spurious[t]


def _karn_clean(
    acked: np.ndarray, ack_pos: I64, resend: np.ndarray, half: I64, row: I64, rel: I64, end: I64
) -> np.ndarray:
    """Acknowledged transmissions with no overlapping resend before their covering ACK.

    Packets are sorted by (half, capture order). Each candidate walks the chain of later
    resends in its half until a resend overlaps it (not clean) or the chain passes its
    ACK (clean); `MAX_KARN_ROUNDS` resends bound each walk, and a candidate still
    undecided then counts as not clean. One numba pass: the walk is a pointer chase."""
    cand = np.flatnonzero(acked)
    ack_row = row[ack_pos[cand]]
    clean = _karn_walk(cand, ack_row, resend, half, row, rel, end, MAX_KARN_ROUNDS)
    out = np.zeros(len(half), dtype=bool)
    out[cand] = clean
    return out


def _by_half_then_value(g: I64, v: I64) -> I64:
    """Stable order by (g, v) of elements already in (g, capture order) order.

    Within a half, sequence numbers mostly rise with capture order, so a stable sort of
    one composite key is a merge of long runs (timsort), far cheaper than a 3-key
    lexsort; the lexsort remains for keys that would not fit in 62 bits."""
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    vmin = int(v.min())
    span = int(v.max()) - vmin + 1
    if (int(g.max()) + 1) * span < (1 << 62):
        out: I64 = np.argsort(g * span + (v - vmin), kind="stable").astype(np.int64)
        return out
    return np.lexsort((np.arange(len(g)), v, g)).astype(np.int64)


def analyse_directions(ct: ConnectionTable) -> None:
    """Fill ``ct.p`` flags and ``ct.h`` counters (see the module docstring)."""
    p, h = ct.p, ct.h
    nh = ct.n_half
    n = len(p["half"])
    half: I64 = p["half"]
    other = half ^ 1
    row: I64 = p["row"]
    ts: I64 = p["ts_ns"]
    flags: I64 = p["flags"]
    rel: I64 = p["rel_seq"]
    end: I64 = p["end"]
    seg_len: I64 = p["seg_len"]
    payload = p["payload_len"].astype(np.int64)
    ackf = p["ackf"]
    rel_ack: I64 = p["rel_ack"]
    syn = (flags & _SYN) != 0
    fin = (flags & _FIN) != 0
    rst = (flags & _RST) != 0
    data = payload > 0
    seqspace = seg_len > 0
    pos = np.arange(n, dtype=np.int64)

    # --- highest sequence sent before each packet, holes ------------------------------
    hmin = group_min(rel, np.ones(n, bool), half, nh, 0)
    low = hmin[half] - 1 if n else rel
    adv = np.where(seqspace, end, low)
    max_end_incl = seg_cummax(adv, half)
    prev_max_end = seg_cummax(adv, half, exclusive=True, fill=0)
    nseq = seqspace.astype(np.int64)
    had_prev = (seg_cumsum(nseq, half) - nseq) > 0
    prev_max_end = np.where(had_prev, prev_max_end, rel)
    keepalive = (
        (payload <= 1) & ~syn & ~fin & had_prev & (rel == prev_max_end - 1) & (payload == 1)
    ) | (~seqspace & ~rst & ackf & had_prev & (rel == prev_max_end - 1))
    jump = seqspace & had_prev & (rel > prev_max_end)
    hi_ = np.flatnonzero(jump)
    hole_half, hole_start, hole_end = half[hi_], prev_max_end[hi_], rel[hi_]
    cand = seqspace & had_prev & (rel < prev_max_end) & ~keepalive

    # --- repeated starts -----------------------------------------------------------------
    si = np.flatnonzero(seqspace)
    o = _by_half_then_value(half[si], rel[si])
    s_sorted = si[o]
    same_prev = np.zeros(len(s_sorted), dtype=bool)
    if len(s_sorted) > 1:
        same_prev[1:] = (half[s_sorted[1:]] == half[s_sorted[:-1]]) & (
            rel[s_sorted[1:]] == rel[s_sorted[:-1]]
        )
    prev_same = np.full(n, -1, dtype=np.int64)
    next_same = np.full(n, -1, dtype=np.int64)
    if len(s_sorted) > 1:
        prev_same[s_sorted[1:][same_prev[1:]]] = s_sorted[:-1][same_prev[1:]]
        next_same[s_sorted[:-1][same_prev[1:]]] = s_sorted[1:][same_prev[1:]]
    dup_start = prev_same >= 0
    # transmissions of the most-repeated start per half (1 = nothing sent twice)
    run_id = np.cumsum(~same_prev) - 1
    run_len = np.bincount(run_id) if len(run_id) else np.zeros(0, np.int64)
    max_repeats = group_max(
        run_len[run_id].astype(np.int64), np.ones(len(s_sorted), bool), half[s_sorted], nh, 0
    )

    qi = np.flatnonzero(cand)
    k = grouped_searchsorted(hole_half, hole_start, half[qi], rel[qi], side="right") - 1
    ok = in_group(k, hole_half, half[qi])
    in_hole = np.zeros(n, dtype=bool)
    in_hole[qi[ok]] = rel[qi[ok]] < hole_end[k[ok]]
    retrans = cand & (dup_start | ~in_hole)
    gapfill = cand & ~retrans

    # --- previous transmission of the same bytes -----------------------------------------
    ri = np.flatnonzero(retrans)
    oi = grouped_searchsorted(half, max_end_incl, half[ri], rel[ri], side="right")
    oi = np.where(in_group(oi, half, half[ri]), oi, ri)
    prev_tx = np.maximum(oi, prev_same[ri])
    elapsed = ts[ri] - ts[prev_tx]

    # --- the peer's view: cumulative ACK, highest data, dup ACKs before each packet -----
    acklow = group_min(rel_ack, ackf, half, nh, 0)
    cumack = seg_cummax(np.where(ackf, rel_ack, acklow[half] - 1), half)
    nack = ackf.astype(np.int64)
    acks_so_far = seg_cumsum(nack, half)
    pred = _peer_before(half, row, h["start"], h["end"])
    pred_ok = pred >= 0
    peer_has_ack = pred_ok & (take_or(acks_so_far, pred, pred_ok, 0) > 0)
    peer_cumack_before = np.where(peer_has_ack, take_or(cumack, pred, pred_ok, 0), _LOW)
    peer_max_end_before = np.where(pred_ok, take_or(max_end_incl, pred, pred_ok, _LOW), _LOW)

    prev_in_half = np.where(first_of_group(half), -1, pos - 1)
    pv = np.clip(prev_in_half, 0, None)
    pure_ack = ackf & ~data & ~syn & ~fin & ~rst
    dupack = (
        pure_ack
        & (prev_in_half >= 0)
        & ackf[pv]
        & (rel_ack == rel_ack[pv])
        & (p["window"] == p["window"][pv])
        & (peer_max_end_before > rel_ack)
    )
    dcum = seg_cumsum(dupack.astype(np.int64), half)

    # the peer's dup ACKs up to its last packet before each packet (`pred`); a resend
    # and its previous transmission are in the same half, so `pred` serves both
    peer_dupacks_before = take_or(dcum, pred, pred_ok, 0)
    dups_between = peer_dupacks_before[ri] - peer_dupacks_before[prev_tx]
    fast = np.zeros(n, dtype=bool)
    timeout = np.zeros(n, dtype=bool)
    # or SACK recovery: the peer's last packet before the resend, newer than the previous
    # transmission, acknowledges below the segment's end and SACKs beyond it
    sack = ct.source_column("sack_above")[row].astype(np.int64)
    pr, pp = pred[ri], pred[prev_tx]
    prc = np.clip(pr, 0, None)
    by_sack = (
        (pr >= 0)
        & (pr != pp)
        & ackf[prc]
        & (sack[prc] > 0)
        & (rel_ack[prc] < end[ri])
        & (end[ri] <= rel_ack[prc] + sack[prc])
    )
    fast[ri] = (dups_between >= FAST_RETRANS_DUPACKS) | by_sack
    timeout[ri] = ~fast[ri] & (elapsed >= RTO_MIN_NS)
    early = retrans & ~fast & ~timeout
    spurious = retrans & (peer_cumack_before >= end)
    prev_tx_all = np.full(n, -1, dtype=np.int64)
    prev_tx_all[ri] = prev_tx
    rtx_elapsed = np.zeros(n, dtype=np.int64)
    rtx_elapsed[ri] = elapsed

    # --- acknowledgment of each transmission -----------------------------------------
    ack_pos = np.full(n, -1, dtype=np.int64)  # packet index of the covering ACK
    acked = np.zeros(n, dtype=bool)
    args = (half, row, end, ackf, cumack, seqspace, next_same, spurious, h["start"], h["end"])
    _covering_acks(*args, ack_pos, acked)
    # Karn (RFC 6298 section 3): an ACK that comes after a resend of some of the same
    # bytes may be for the copy (the kernel may resegment lost bytes at other offsets, as
    # tcp_mtu_probing does, so "same start" is not enough). A transmission demonstrably
    # got through at its size only if no overlapping resend in its direction came between
    # it and its covering ACK; the largest segment acknowledged (`max_seg_acked`) counts
    # only those.
    acked_clean = _karn_clean(acked, ack_pos, retrans | gapfill, half, row, rel, end)

    # --- D-SACK (RFC 2883/3708): a resend whose bytes a later D-SACK block of the peer
    # reports as received twice, with no other resend of them in between, was not needed
    # (after the ACKs: it still counts for them)
    lo = rel_ack + ct.source_column("dsack_lo")[row].astype(np.int64)
    hi = rel_ack + ct.source_column("dsack_hi")[row].astype(np.int64)
    blocks = np.flatnonzero(ackf & (hi > lo))
    dsacked = np.zeros(n, dtype=bool)
    redundant = np.zeros(n, dtype=bool)  # D-SACKed, and an earlier resend overlapped it
    resends = np.flatnonzero(retrans | gapfill)
    for t in np.flatnonzero(retrans & seqspace):
        later = blocks[(half[blocks] == (half[t] ^ 1)) & (row[blocks] > row[t])]
        holding = later[(lo[later] <= rel[t]) & (end[t] <= hi[later])]
        if len(holding) == 0:
            continue
        first = row[holding].min()  # the first block holding it; then no resend between
        between = resends[(half[resends] == half[t]) & (row[resends] > row[t])]
        between = between[row[between] < first]
        dsacked[t] = not np.any((rel[between] < end[t]) & (end[between] > rel[t]))
        earlier = resends[(half[resends] == half[t]) & (row[resends] < row[t])]
        redundant[t] = dsacked[t] and bool(
            np.any((rel[earlier] < end[t]) & (end[earlier] > rel[t]))
        )
    spurious = spurious | dsacked

    # --- on-wire size, TSO/GSO ---------------------------------------------------------
    peer_mss = h["mss"][other]
    ttl = p["ttl"].astype(np.int64)
    local_sender = initial_ttl(ttl) == ttl
    super_seg = data & (
        ((peer_mss > 0) & (payload > peer_mss))
        | ((peer_mss == 0) & local_sender & (p["ip_len"].astype(np.int64) > ETHERNET_MTU))
    )
    # the NIC/GSO cuts at the MSS less the options each segment carries (Linux: MSS 1460
    # with timestamps -> 1448-byte segments), the super-segment's own options
    opt_len = np.maximum(p["tcp_hdr_len"].astype(np.int64) - TCP_MIN_HDR, 0)
    wire_payload = np.where(super_seg & (peer_mss > 0), np.maximum(peer_mss - opt_len, 1), payload)
    zero_window = (p["window"] == 0) & ~rst & ~syn & ~fin

    p.update(
        prev_max_end=prev_max_end,
        keepalive=keepalive,
        retrans=retrans,
        fast=fast,
        timeout=timeout,
        early=early,
        spurious=spurious,
        dsacked=dsacked,
        redundant=redundant,
        gapfill=gapfill,
        hole=jump,
        dupack=dupack,
        zero_window=zero_window,
        acked=acked,
        acked_clean=acked_clean,
        ack_pos=ack_pos,
        prev_tx=prev_tx_all,
        rtx_elapsed=rtx_elapsed,
        dup_start=dup_start,
        peer_cumack_before=peer_cumack_before,
        super_seg=super_seg,
        wire_payload=wire_payload,
        cumack=cumack,
    )

    # --- per-half counters -------------------------------------------------------------
    def cnt(mask: np.ndarray) -> I64:
        return group_count(mask, half, nh)

    h["packets"] = cnt(np.ones(n, bool))
    h["bytes"] = np.bincount(half, weights=payload, minlength=nh).astype(np.int64)
    h["ip_bytes"] = np.bincount(half, weights=p["ip_len"].astype(np.int64), minlength=nh).astype(
        np.int64
    )
    h["data_packets"] = cnt(data)
    h["retrans"] = cnt(retrans)
    h["fast_retrans"] = cnt(fast)
    h["timeout_retrans"] = cnt(timeout)
    h["early_retrans"] = cnt(early)
    h["spurious_retrans"] = cnt(spurious)
    h["gapfills"] = cnt(gapfill)
    h["holes"] = cnt(jump)
    h["dupacks"] = cnt(dupack)
    h["zero_windows"] = cnt(zero_window)
    h["keepalives"] = cnt(keepalive)
    h["super_segments"] = cnt(super_seg)
    h["syns"] = cnt(syn)
    h["fins"] = cnt(fin)
    h["rsts"] = cnt(rst)
    h["max_seg_sent"] = group_max(wire_payload, data, half, nh, 0)
    h["max_payload_captured"] = group_max(payload, data, half, nh, 0)
    h["max_seg_acked"] = group_max(wire_payload, data & acked_clean, half, nh, 0)
    # first packet of the largest (argmax takes the first of equals)
    h["max_seg_acked_idx"] = np.full(nh, -1, dtype=np.int64)
    for g in np.unique(half[data & acked_clean]).tolist():
        idx = np.flatnonzero(data & acked_clean & (half == g))
        h["max_seg_acked_idx"][g] = idx[np.argmax(wire_payload[idx])]
    h["df_data"] = cnt(data & p["df"])
    h["stuck_acks"] = cnt(retrans & (rel == peer_cumack_before))
    h["max_end"] = group_max(end, seqspace, half, nh, 0)
    h["final_ack"] = group_max(rel_ack, ackf, half, nh, _LOW)  # acks *this* half sends
    h["max_repeats"] = max_repeats
    #: data still unacknowledged when the capture ends (by the peer's highest ACK)
    h["unacked_at_end"] = h["present"] & (h["final_ack"][np.arange(nh) ^ 1] < h["max_end"])
    # TTLs of the sender's own packets: RSTs are left out (a forged one would skew them)
    own = ~rst
    any_own = group_count(own, half, nh) > 0
    ttl_src = np.where(any_own[half], own, True)
    h["ttl_min"] = group_min(ttl, ttl_src, half, nh, 0)
    h["ttl_max"] = group_max(ttl, ttl_src, half, nh, 0)
    first = first_index(np.ones(n, bool), half, nh)
    last = last_index(np.ones(n, bool), half, nh)
    h["first_idx"], h["last_idx"] = first, last
    h["first_ts"] = take_or(ts, first, first >= 0, 0)
    h["last_ts"] = take_or(ts, last, last >= 0, 0)
    h["first_fin"] = first_index(fin, half, nh)
    h["first_rst"] = first_index(rst, half, nh)
    h["last_data"] = last_index(data, half, nh)
    hop_ttl = h["ttl_max"]
    h["hops"] = np.where(h["present"], initial_ttl(hop_ttl) - hop_ttl, -1)
    first_ack = first_index(ackf & ~syn, half, nh)
    h["first_pure_ack"] = first_ack
