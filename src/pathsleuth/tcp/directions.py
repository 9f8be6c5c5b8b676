"""Per-direction TCP analysis: retransmissions, gaps, duplicate ACKs, what got acknowledged.

`analyse_directions(ct)` adds per-packet flags to ``ct.p`` and per-half counters to
``ct.h`` (half = one direction of one connection). One numba pass per connection over its
(half, capture order)-sorted packets computes them all (`_sender` walks each half's own
stream, `_exchange` merges the two halves in capture order, `_acknowledged` finds each
transmission's ACK, `_dsacked` reads the peer's D-SACKs, `_tally` counts); on large
captures two connection ranges run at once.
`tests/tcp/directions_reference.py` keeps the whole-array NumPy formulation it replaced as
the oracle of a differential test. Definitions:

- a segment is *new* when it starts at or beyond the highest sequence number the half
  had sent before it (``prev_max_end``); a jump beyond it leaves a *hole*: bytes the
  capture never saw (Wireshark's "previous segment not captured").
- a segment that starts below ``prev_max_end`` is a *retransmission* when it repeats a
  start already seen or starts in bytes that were captured before; one that starts inside
  a hole is a *gap fill* (out-of-order, or a retransmission whose original the capture
  missed), which the capture cannot prove was sent twice. Keep-alives (0/1 byte at
  ``prev_max_end - 1``) are neither.
- a retransmission is *fast* when the peer sent at least `FAST_RETRANS_DUPACKS` duplicate
  ACKs since the previous transmission of those bytes, or when the peer's last packet
  before it, sent after that transmission, SACKs bytes beyond its end while its ACK is
  below it (SACK-based recovery, RFC 6675, or RACK, RFC 8985: Linux repairs a hole after
  one duplicate ACK); *timeout* when it came at least `RTO_MIN_NS` later without either,
  otherwise *early* (tail-loss probe, resegmentation); *spurious* when the peer had
  already acknowledged all of it, or when a later D-SACK block of the peer reports all its
  bytes as received twice and no other resend of them came in between (*dsacked*, RFC
  2883/3708); *redundant* when, besides, an earlier resend had carried some of them.
- a transmission is *acknowledged* when a later ACK from the peer covers its end before
  the same bytes are sent again; *acknowledged clean* when, besides, no resend overlapping
  its bytes came before that ACK (Karn: the ACK cannot be for a copy);
  ``max_seg_acked`` is the largest payload acknowledged clean, ``max_seg_acked_idx``
  the first packet of that size (-1 when none).
- the *stuck ACK*: retransmissions that start exactly at the peer's cumulative ACK.
- on-wire size: payloads above the peer's MSS are TSO/GSO super-segments captured on the
  sending host before the NIC cut them; their on-wire size is the MSS less the segment's
  TCP options (1448 for MSS 1460 with timestamps).
- hops: the nearest initial TTL at or above the observed one (64, 128, 255) minus it.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from pathsleuth.capture.summary import mix64
from pathsleuth.capture.table import TcpFlag
from pathsleuth.tcp.connections import ConnectionTable
from pathsleuth.tcp.groups import I64, bound, connection_ranges, on_ranges

#: Linux TCP_RTO_MIN (include/net/tcp.h): 200 ms; a retransmission later than this
#: without duplicate ACKs is a retransmission timeout.
RTO_MIN_NS = 200_000_000
#: duplicate ACKs before a retransmission to call it fast (Wireshark uses 2; RFC 5681
#: section 3.2 triggers on the third, SACK/RACK stacks earlier)
FAST_RETRANS_DUPACKS = 2
#: initial TTL / hop-limit values in use (Linux/macOS 64, Windows 128, network gear 255)
INITIAL_TTLS = (64, 128, 255)
#: the classic Ethernet MTU (RFC 894); larger captured IP packets without a known MSS are
#: taken as TSO/GSO super-segments when sent by the capture host itself
ETHERNET_MTU = 1500

_SYN, _ACK, _FIN, _RST = int(TcpFlag.SYN), int(TcpFlag.ACK), int(TcpFlag.FIN), int(TcpFlag.RST)
_LOW = -(1 << 40)
#: TCP header without options (RFC 9293 section 3.1)
TCP_MIN_HDR = 20
#: resends one transmission may have in flight before its ACK before `_acknowledged` gives
#: up on it (far above real windows; bounds the work on pathological captures)
MAX_KARN_ROUNDS = 4096


@numba.njit(cache=True)
def nearest_initial_ttl(ttl: Any) -> Any:
    """Nearest initial TTL (`INITIAL_TTLS`) at or above one observed TTL."""
    for x in INITIAL_TTLS:
        if ttl <= x:
            return np.int64(x)
    return np.int64(INITIAL_TTLS[-1])


@numba.njit(cache=True)
def _initial_ttls(ttl: Any, out: Any) -> None:
    for i in range(len(ttl)):
        out[i] = nearest_initial_ttl(ttl[i])


def initial_ttl(ttl: I64) -> I64:
    """Nearest initial TTL at or above each observed TTL."""
    out: I64 = np.empty(len(ttl), np.int64)
    _initial_ttls(np.asarray(ttl, np.int64), out)
    return out


#: per-packet outputs written into ``ct.p``, as rows of one int64 and one bool block
P_INT = (
    "prev_max_end",
    "peer_cumack_before",
    "rtx_elapsed",
    "ack_pos",
    "wire_payload",
)
P_BOOL = (
    "keepalive",
    "hole",
    "retrans",
    "gapfill",
    "dup_start",
    "fast",
    "timeout",
    "early",
    "spurious",
    "dsacked",
    "redundant",
    "dupack",
    "acked",
    "acked_clean",
    "super_seg",
    "zero_window",
)
#: per-half outputs written into ``ct.h`` (rows of one int64 block)
H_INT = (
    "packets",
    "bytes",
    "ip_bytes",
    "data_packets",
    "retrans",
    "fast_retrans",
    "timeout_retrans",
    "early_retrans",
    "spurious_retrans",
    "gapfills",
    "holes",
    "dupacks",
    "zero_windows",
    "keepalives",
    "super_segments",
    "syns",
    "fins",
    "rsts",
    "max_seg_sent",
    "max_payload_captured",
    "max_seg_acked",
    "max_seg_acked_idx",
    "df_data",
    "stuck_acks",
    "max_end",
    "final_ack",
    "max_repeats",
    "ttl_min",
    "ttl_max",
    "first_idx",
    "last_idx",
    "first_ts",
    "last_ts",
    "first_fin",
    "first_rst",
    "last_data",
    "first_pure_ack",
)
# row numbers, as globals numba freezes into the kernels
_PME, _PCB, _ELAPSED, _ACKPOS, _WIRE = (P_INT.index(k) for k in P_INT)
(
    _KA,
    _HOLE,
    _RETR,
    _GAP,
    _DUPSTART,
    _FAST,
    _TIMEOUT,
    _EARLY,
    _SPUR,
    _DSACKED,
    _REDUNDANT,
    _DUPACK,
    _ACKED,
    _CLEAN,
    _SUPER,
    _ZWIN,
) = (P_BOOL.index(k) for k in P_BOOL)
(
    _H_PACKETS,
    _H_BYTES,
    _H_IP_BYTES,
    _H_DATA,
    _H_RETR,
    _H_FAST,
    _H_TIMEOUT,
    _H_EARLY,
    _H_SPUR,
    _H_GAP,
    _H_HOLES,
    _H_DUPACK,
    _H_ZWIN,
    _H_KA,
    _H_SUPER,
    _H_SYN,
    _H_FIN,
    _H_RST,
    _H_MAX_SENT,
    _H_MAX_CAPT,
    _H_MAX_ACKED,
    _H_MAX_ACKED_IDX,
    _H_DF,
    _H_STUCK,
    _H_MAX_END,
    _H_FINAL_ACK,
    _H_REPEATS,
    _H_TTL_MIN,
    _H_TTL_MAX,
    _H_FIRST,
    _H_LAST,
    _H_FIRST_TS,
    _H_LAST_TS,
    _H_FIRST_FIN,
    _H_FIRST_RST,
    _H_LAST_DATA,
    _H_FIRST_PURE_ACK,
) = (H_INT.index(k) for k in H_INT)
_I64_MIN = np.iinfo(np.int64).min


@numba.njit(cache=True)
def _sender(g: Any, cs: Any, c: Any, k: Any, pi: Any, pb: Any, hc: Any, s: Any) -> None:
    """One half's own stream in capture order: highest sequence sent before each packet,
    keep-alives, holes, repeated starts, retransmission vs gap fill, the previous
    transmission of a resend's bytes, the half's running cumulative ACK."""
    _row, ts, flags, rel, end, payload, ackf, rel_ack = c
    start, stop = k[0][g], k[1][g]
    mxi, acc, prev_same, next_same, run, hs, he, slot = (
        s[0],
        s[1],
        s[4],
        s[5],
        s[6],
        s[7],
        s[8],
        s[9],
    )
    prev_tx, cumack = s[14], s[15]
    if start == stop:
        return
    mask = np.uint64(len(slot) - 1)
    hmin = rel[start]
    acklow = _I64_MIN
    for i in range(start, stop):
        hmin = min(hmin, rel[i])
        if ackf[i] and (acklow == _I64_MIN or rel_ack[i] < acklow):
            acklow = rel_ack[i]
    if acklow == _I64_MIN:
        acklow = 0
    low = hmin - 1
    had = False
    sent = _I64_MIN  # highest end of the sequence-space packets so far
    mx = _I64_MIN
    cm = _I64_MIN
    nacks = 0
    nholes = 0
    repeats = 0
    for i in range(start, stop):
        li = i - cs
        f = flags[i]
        syn, fin, rst = (f & _SYN) != 0, (f & _FIN) != 0, (f & _RST) != 0
        r = rel[i]
        seqsp = end[i] > r
        pme = sent if had else r
        pi[_PME, i] = pme
        ka = (
            had
            and r == pme - 1
            and ((payload[i] == 1 and not syn and not fin) or (not seqsp and not rst and ackf[i]))
        )
        jump = seqsp and had and r > pme
        cand = seqsp and had and r < pme and not ka
        prev_same[li] = -1
        next_same[li] = -1
        if seqsp:
            h = mix64(np.uint64(r)) & mask
            while True:
                j = slot[h]
                if j < 0:
                    slot[h] = i
                    run[li] = 1
                    break
                if rel[j] == r:
                    prev_same[li] = j
                    next_same[j - cs] = i
                    slot[h] = i
                    run[li] = run[j - cs] + 1
                    break
                h = (h + np.uint64(1)) & mask
            repeats = max(repeats, run[li])
        dup = prev_same[li] >= 0
        in_hole = False
        if cand:  # the last hole starting at or below r (holes so far: later ones start higher)
            a = bound(hs, 0, nholes, r, True)
            in_hole = a > 0 and r < he[a - 1]
        retr = cand and (dup or not in_hole)
        if jump:
            hs[nholes] = pme
            he[nholes] = r
            nholes += 1
        mx = max(mx, end[i] if seqsp else low)
        mxi[li] = mx
        if seqsp:
            sent = max(sent, end[i])
            had = True
        if retr:  # first packet of the half whose running highest end passes r
            ptx = max(cs + bound(mxi, start - cs, li, r, True), prev_same[li])
            prev_tx[li] = ptx
            pi[_ELAPSED, i] = ts[i] - ts[ptx]
        else:
            prev_tx[li] = -1
            pi[_ELAPSED, i] = 0
        cm = max(cm, rel_ack[i] if ackf[i] else acklow - 1)
        cumack[li] = cm
        nacks += 1 if ackf[i] else 0
        acc[li] = nacks
        pb[_KA, i] = ka
        pb[_HOLE, i] = jump
        pb[_RETR, i] = retr
        pb[_GAP, i] = cand and not retr
        pb[_DUPSTART, i] = dup
    hc[_H_REPEATS, g] = repeats
    # empty the start table for the next half (every probe run starts at a home slot)
    for i in range(start, stop):
        if end[i] > rel[i]:
            h = mix64(np.uint64(rel[i])) & mask
            while slot[h] >= 0:
                slot[h] = -1
                h = (h + np.uint64(1)) & mask


@numba.njit(cache=True)
def _exchange(conn: Any, cs: Any, c: Any, x: Any, k: Any, pi: Any, pb: Any, s: Any) -> None:
    """Both halves of one connection merged in capture order: each packet's view of the
    peer (its last packet before it), duplicate ACKs, and how each resend was triggered."""
    row, _ts, flags, _rel, end, payload, ackf, rel_ack = c
    window, sack = x[0], x[6]
    mxi, acc, dcum, pred, prev_tx, cumack = s[0], s[1], s[2], s[3], s[14], s[15]
    g0 = 2 * conn
    i0, e0 = k[0][g0], k[1][g0]
    i1, e1 = k[0][g0 + 1], k[1][g0 + 1]
    last = [-1, -1]
    dc = [0, 0]
    while i0 < e0 or i1 < e1:
        if i1 >= e1 or (i0 < e0 and row[i0] < row[i1]):
            i, d = i0, 0
            i0 += 1
        else:
            i, d = i1, 1
            i1 += 1
        li = i - cs
        pr = last[1 - d]
        pred[li] = pr
        pcb = cumack[pr - cs] if pr >= 0 and acc[pr - cs] > 0 else _LOW
        pi[_PCB, i] = pcb
        f = flags[i]
        dupack = False
        if (
            ackf[i]
            and payload[i] == 0
            and (f & (_SYN | _FIN | _RST)) == 0
            and i > k[0][g0 + d]
            and ackf[i - 1]
            and rel_ack[i] == rel_ack[i - 1]
            and window[i] == window[i - 1]
        ):
            dupack = (mxi[pr - cs] if pr >= 0 else _LOW) > rel_ack[i]
        pb[_DUPACK, i] = dupack
        dc[d] += 1 if dupack else 0
        dcum[li] = dc[d]
        fast = timeout = early = spurious = False
        if pb[_RETR, i]:
            ptx = prev_tx[li]
            pp = pred[ptx - cs]
            dups = (dcum[pr - cs] if pr >= 0 else 0) - (dcum[pp - cs] if pp >= 0 else 0)
            fast = dups >= FAST_RETRANS_DUPACKS
            if not fast and pr >= 0 and pr != pp and ackf[pr] and sack[row[pr]] > 0:
                # the peer's latest packet, newer than the previous transmission, holds
                # bytes beyond this segment's end but not the segment (SACK recovery)
                fast = rel_ack[pr] < end[i] <= rel_ack[pr] + np.int64(sack[row[pr]])
            timeout = not fast and pi[_ELAPSED, i] >= RTO_MIN_NS
            early = not fast and not timeout
            spurious = pcb >= end[i]
        pb[_FAST, i] = fast
        pb[_TIMEOUT, i] = timeout
        pb[_EARLY, i] = early
        pb[_SPUR, i] = spurious
        last[d] = i


@numba.njit(cache=True)
def _acknowledged(g: Any, cs: Any, c: Any, k: Any, pi: Any, pb: Any, s: Any, rounds: int) -> None:
    """Each transmission of a half: the peer's first ACK after it covering its end, whether
    it counts as acknowledged, and whether clean (Karn: see the module docstring)."""
    row, _ts, _flags, rel, end, _payload, ackf, _rel_ack = c
    next_same, aidx, nxt, acum, arow, cumack = s[5], s[10], s[11], s[12], s[13], s[15]
    start, stop = k[0][g], k[1][g]
    q0, q1 = k[0][g ^ 1], k[1][g ^ 1]
    na = 0
    for j in range(q0, q1):  # the peer's ACK-carrying packets: cumulative ACK and row rise
        if ackf[j]:
            aidx[na] = j
            acum[na] = cumack[j - cs]
            arow[na] = row[j]
            na += 1
    for t in range(start, stop):
        pi[_ACKPOS, t] = -1
        pb[_ACKED, t] = False
        if end[t] <= rel[t]:
            continue
        # the first ACK whose cumulative ACK covers the end, and sent after it
        first = max(bound(acum, 0, na, end[t], False), bound(arow, 0, na, row[t], True))
        if first >= na:
            continue
        ap = aidx[first]
        pi[_ACKPOS, t] = ap
        nx = next_same[t - cs]
        superseded = nx >= 0 and row[nx] < row[ap]
        pb[_ACKED, t] = not superseded and not pb[_SPUR, t]
    # Karn: walk each acknowledged transmission's chain of later resends in the half
    # until one overlaps it (not clean) or the chain passes its ACK (clean)
    nextre = stop
    for i in range(stop - 1, start - 1, -1):
        nxt[i - cs] = nextre
        if pb[_RETR, i] or pb[_GAP, i]:
            nextre = i
    for t in range(start, stop):
        clean = pb[_ACKED, t]
        if clean:
            ack_row = row[pi[_ACKPOS, t]]
            j = nxt[t - cs]
            seen = 0
            while j < stop:
                if seen == rounds:  # undecided: never credit a size that may not have got through
                    clean = False
                    break
                seen += 1
                if row[j] >= ack_row:
                    break
                if rel[j] < end[t] and end[j] > rel[t]:
                    clean = False
                    break
                j = nxt[j - cs]
        pb[_CLEAN, t] = clean


@numba.njit(cache=True)
def _dsacked(g: Any, cs: Any, c: Any, x: Any, k: Any, pb: Any, s: Any, rounds: int) -> None:
    """Retransmissions of a half that a D-SACK block of the peer reports as a copy it
    already had (RFC 2883; RFC 3708 detects spurious retransmissions this way): the first
    block sent after the resend that holds all its bytes, with no other resend of any of
    them in between (a D-SACK says bytes arrived twice, not which copy was the extra one:
    the last one sent is taken). They are spurious too; *redundant* when besides an earlier
    resend had carried some of the same bytes (the sender repaired one hole twice), rather
    than the original only (then the original got there and the ACK for it did not reach
    the sender, or came late). At most `rounds` blocks and resends are looked at per
    resend."""
    row, _ts, _flags, rel, end, _payload, ackf, rel_ack = c
    dlo, dhi = x[7], x[8]
    nxt, brow, blo, bhi, prv = s[11], s[16], s[17], s[18], s[19]
    start, stop = k[0][g], k[1][g]
    for t in range(start, stop):
        pb[_DSACKED, t] = False
        pb[_REDUNDANT, t] = False
    nb = 0
    for j in range(k[0][g ^ 1], k[1][g ^ 1]):  # the peer's D-SACK blocks, in this half's space
        r = row[j]
        if ackf[j] and dhi[r] > dlo[r]:
            brow[nb] = r
            blo[nb] = rel_ack[j] + dlo[r]
            bhi[nb] = rel_ack[j] + dhi[r]
            nb += 1
    if nb == 0:  # the common case: nothing more to do for this half
        return
    before = -1
    for t in range(start, stop):  # the resend or gap fill before each packet of the half
        prv[t - cs] = before
        if pb[_RETR, t] or pb[_GAP, t]:
            before = t
    for t in range(start, stop):
        if not pb[_RETR, t] or end[t] <= rel[t]:
            continue
        q = bound(brow, 0, nb, row[t], True)  # the first block sent after it
        last = min(nb, q + rounds)
        while q < last and not (blo[q] <= rel[t] and end[t] <= bhi[q]):
            q += 1
        if q == last:
            continue
        # `nxt` (filled by `_acknowledged`): the next resend or gap fill in the half
        j, seen, alone = nxt[t - cs], 0, True
        while j < stop and row[j] < brow[q]:
            if seen == rounds or (rel[j] < end[t] and end[j] > rel[t]):
                alone = False
                break
            seen += 1
            j = nxt[j - cs]
        if not alone:
            continue
        pb[_DSACKED, t] = True
        pb[_SPUR, t] = True
        j, seen = prv[t - cs], 0
        while j >= 0 and seen < rounds:
            if rel[j] < end[t] and end[j] > rel[t]:
                pb[_REDUNDANT, t] = True
                break
            seen += 1
            j = prv[j - cs]


@numba.njit(cache=True)
def _tally(g: Any, c: Any, x: Any, k: Any, pi: Any, pb: Any, hc: Any) -> None:
    """A half's on-wire segment sizes (TSO/GSO), zero windows, and its counters."""
    _row, ts, flags, rel, end, payload, ackf, rel_ack = c
    window, ttl, ip_len, tcp_hdr_len, df, mss, _sack, _dlo, _dhi = x
    start, stop = k[0][g], k[1][g]
    peer_mss: Any = np.int64(mss[g ^ 1])
    # hc starts zeroed (`_H_REPEATS` already filled by `_sender`); the other defaults:
    max_end = final_ack = _I64_MIN
    for r in (
        _H_FIRST,
        _H_LAST,
        _H_FIRST_FIN,
        _H_FIRST_RST,
        _H_LAST_DATA,
        _H_FIRST_PURE_ACK,
        _H_MAX_ACKED_IDX,
    ):
        hc[r, g] = -1
    any_own = False
    tmin: Any = 256
    tmax: Any = -1
    amin: Any = 256
    amax: Any = -1
    for i in range(start, stop):
        f = flags[i]
        syn, fin, rst = (f & _SYN) != 0, (f & _FIN) != 0, (f & _RST) != 0
        pl: Any = np.int64(payload[i])
        data = pl > 0
        t: Any = np.int64(ttl[i])
        local_sender = nearest_initial_ttl(t) == t
        sup = data and (
            (peer_mss > 0 and pl > peer_mss)
            or (peer_mss == 0 and local_sender and np.int64(ip_len[i]) > ETHERNET_MTU)
        )
        wire = pl
        if sup and peer_mss > 0:
            opt_len: Any = max(np.int64(tcp_hdr_len[i]) - TCP_MIN_HDR, 0)
            wire = max(peer_mss - opt_len, 1)
        zwin = window[i] == 0 and not rst and not syn and not fin
        pb[_SUPER, i] = sup
        pb[_ZWIN, i] = zwin
        pi[_WIRE, i] = wire
        retr = pb[_RETR, i]
        hc[_H_PACKETS, g] += 1
        hc[_H_BYTES, g] += pl
        hc[_H_IP_BYTES, g] += np.int64(ip_len[i])
        hc[_H_RETR, g] += retr
        hc[_H_FAST, g] += pb[_FAST, i]
        hc[_H_TIMEOUT, g] += pb[_TIMEOUT, i]
        hc[_H_EARLY, g] += pb[_EARLY, i]
        hc[_H_SPUR, g] += pb[_SPUR, i]
        hc[_H_GAP, g] += pb[_GAP, i]
        hc[_H_HOLES, g] += pb[_HOLE, i]
        hc[_H_DUPACK, g] += pb[_DUPACK, i]
        hc[_H_ZWIN, g] += zwin
        hc[_H_KA, g] += pb[_KA, i]
        hc[_H_SUPER, g] += sup
        hc[_H_SYN, g] += syn
        hc[_H_FIN, g] += fin
        hc[_H_RST, g] += rst
        if data:
            hc[_H_DATA, g] += 1
            hc[_H_MAX_SENT, g] = max(hc[_H_MAX_SENT, g], wire)
            hc[_H_MAX_CAPT, g] = max(hc[_H_MAX_CAPT, g], pl)
            if pb[_CLEAN, i] and (hc[_H_MAX_ACKED_IDX, g] < 0 or wire > hc[_H_MAX_ACKED, g]):
                hc[_H_MAX_ACKED, g] = wire
                hc[_H_MAX_ACKED_IDX, g] = i
            hc[_H_DF, g] += df[i]
            hc[_H_LAST_DATA, g] = i
        if retr and rel[i] == pi[_PCB, i]:
            hc[_H_STUCK, g] += 1
        if end[i] > rel[i]:
            max_end = max(max_end, end[i])
        if ackf[i]:
            final_ack = max(final_ack, rel_ack[i])
            if not syn and hc[_H_FIRST_PURE_ACK, g] < 0:
                hc[_H_FIRST_PURE_ACK, g] = i
        # TTLs of the sender's own packets: RSTs are left out (a forged one would skew them)
        amin, amax = min(amin, t), max(amax, t)
        if not rst:
            any_own = True
            tmin, tmax = min(tmin, t), max(tmax, t)
        if fin and hc[_H_FIRST_FIN, g] < 0:
            hc[_H_FIRST_FIN, g] = i
        if rst and hc[_H_FIRST_RST, g] < 0:
            hc[_H_FIRST_RST, g] = i
    hc[_H_MAX_END, g] = 0 if max_end == _I64_MIN else max_end
    hc[_H_FINAL_ACK, g] = _LOW if final_ack == _I64_MIN else final_ack
    if stop > start:
        hc[_H_TTL_MIN, g] = tmin if any_own else amin
        hc[_H_TTL_MAX, g] = tmax if any_own else amax
        hc[_H_FIRST, g], hc[_H_LAST, g] = start, stop - 1
        hc[_H_FIRST_TS, g], hc[_H_LAST_TS, g] = ts[start], ts[stop - 1]


@numba.njit(cache=True, nogil=True)
def _walk(c: Any, x: Any, k: Any, pi: Any, pb: Any, hc: Any, rounds: int, lo: int, hi: int) -> None:
    """Connections lo..hi-1, one at a time, with scratch arrays sized to the largest.
    Each writes only its own packets and halves, so disjoint ranges can run at once."""
    m, mh = 1, 1
    for g in range(2 * lo, 2 * hi):
        mh = max(mh, k[1][g] - k[0][g])
        if g & 1:
            m = max(m, k[1][g] - k[0][g - 1])
    cap = 16
    while cap < 2 * mh:
        cap *= 2
    s = (
        np.empty(m, np.int64),  # 0 running highest end, incl. the packet (mxi)
        np.empty(m, np.int64),  # 1 ACK-carrying packets so far
        np.empty(m, np.int64),  # 2 duplicate ACKs so far
        np.empty(m, np.int64),  # 3 the peer's last packet before it
        np.empty(m, np.int64),  # 4 previous transmission with the same start
        np.empty(m, np.int64),  # 5 next transmission with the same start
        np.empty(m, np.int64),  # 6 transmissions of the same start so far
        np.empty(m, np.int64),  # 7 hole starts
        np.empty(m, np.int64),  # 8 hole ends
        np.full(cap, -1, np.int64),  # 9 start -> last packet (open addressing)
        np.empty(m, np.int64),  # 10 the peer's ACK-carrying packets
        np.empty(m, np.int64),  # 11 next resend in the half
        np.empty(m, np.int64),  # 12 the peer's ACKs' cumulative ACK
        np.empty(m, np.int64),  # 13 the peer's ACKs' rows
        np.empty(m, np.int64),  # 14 previous transmission a resend repeats (prev_tx)
        np.empty(m, np.int64),  # 15 cumulative ACK of the half so far (cumack)
        np.empty(m, np.int64),  # 16 the peer's D-SACK blocks: rows
        np.empty(m, np.int64),  # 17 ... their left edges (relative)
        np.empty(m, np.int64),  # 18 ... their right edges
        np.empty(m, np.int64),  # 19 previous resend or gap fill in the half
    )
    for conn in range(lo, hi):
        g = 2 * conn
        cs = k[0][g]
        _sender(g, cs, c, k, pi, pb, hc, s)
        _sender(g + 1, cs, c, k, pi, pb, hc, s)
        _exchange(conn, cs, c, x, k, pi, pb, s)
        for d in range(2):
            _acknowledged(g + d, cs, c, k, pi, pb, s, rounds)
            _dsacked(g + d, cs, c, x, k, pb, s, rounds)
            _tally(g + d, c, x, k, pi, pb, hc)


def analyse_directions(ct: ConnectionTable) -> None:
    """Fill ``ct.p`` flags and ``ct.h`` counters (see the module docstring): one numba
    pass per connection, with the module's `P_INT`, `P_BOOL` and `H_INT` as outputs."""
    p, h = ct.p, ct.h
    nh = ct.n_half
    n = len(p["half"])
    pi = np.empty((len(P_INT), n), np.int64)
    pb = np.empty((len(P_BOOL), n), np.bool_)
    hc = np.zeros((len(H_INT), nh), np.int64)
    cols = ("row", "ts_ns", "flags", "rel_seq", "end", "payload_len", "ackf", "rel_ack")
    c = tuple(p[k] for k in cols)
    # the SACK columns are read at few packets, through ``row``: not gathered
    sack = (ct.source_column(k) for k in ("sack_above", "dsack_lo", "dsack_hi"))
    x = (p["window"], p["ttl"], p["ip_len"], p["tcp_hdr_len"], p["df"], h["mss"], *sack)
    k = (h["start"], h["end"])
    on_ranges(
        connection_ranges(h["start"], ct.n_conn, n), _walk, c, x, k, pi, pb, hc, MAX_KARN_ROUNDS
    )
    p.update(zip(P_INT, pi, strict=True))
    p.update(zip(P_BOOL, pb, strict=True))
    h.update(zip(H_INT, hc, strict=True))
    #: data still unacknowledged when the capture ends (by the peer's highest ACK)
    h["unacked_at_end"] = h["present"] & (h["final_ack"][np.arange(nh) ^ 1] < h["max_end"])
    hop_ttl = h["ttl_max"]
    h["hops"] = np.where(h["present"], initial_ttl(hop_ttl) - hop_ttl, -1)
