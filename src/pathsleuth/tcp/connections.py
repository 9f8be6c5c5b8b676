"""TCP connections from a `PacketTable`: grouping, orientation, sequence unwrapping.

`build_connections(table)` selects the decodable TCP packets, groups them by 4-tuple
(either direction), splits a 4-tuple into several connections when a new SYN (another
ISN) or a SYN after FIN/RST reuses the ports, decides who initiated each connection, and
re-sorts the packets by *half* (one direction of one connection: ``half = 2 * conn +
dir``, dir 0 = initiator -> responder) and capture order. Sequence and acknowledgment
numbers are unwrapped mod 2^32 per half, relative to the ISN (or to the first sequence
number seen when the capture starts mid-connection). Flows are numbered by one numba
hash pass (`tcp.flows`; `analyze_paths` numbers them while the capture is read) and
ordered by a counting sort; sequence numbers are unwrapped by one numba pass over the
halves (`_unwrap_halves`); the rest is NumPy grouping. No Python loop touches packets.

The result, a `ConnectionTable`, is handed to `tcp.directions` (per-direction loss and
ACK analysis), `tcp.icmp` (ICMP error correlation) and `tcp.summary` (per-connection
summaries); the diagnosis stage reads all of them.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from pathsleuth.capture.table import PacketTable, Status, TcpFlag
from pathsleuth.tcp.columns import DERIVED_DTYPES, derived, is_tcp
from pathsleuth.tcp.flows import Flows, number_flows
from pathsleuth.tcp.groups import (
    I64,
    SEQ_HALF,
    SEQ_MOD,
    connection_ranges,
    group_bounds,
    on_ranges,
    two_threads,
)

Arr = npt.NDArray[Any]

#: Status bits that make a TCP packet unusable for connection analysis
UNUSABLE = int(
    Status.TRUNCATED
    | Status.MALFORMED
    | Status.UNSUPPORTED_LINK
    | Status.NOT_IP
    | Status.LATER_FRAGMENT
)

_SYN, _ACK, _FIN, _RST = int(TcpFlag.SYN), int(TcpFlag.ACK), int(TcpFlag.FIN), int(TcpFlag.RST)

#: packet columns every analysis reads: gathered eagerly into the connection order; any
#: other PacketTable column is gathered on first use (`LazyColumns`)
_COPIED = ("ts_ns", "seq", "ack", "payload_len", "window", "ttl", "df", "ip_len")


def _gathered(tc: dict[str, Arr], frows: I64) -> dict[str, Arr]:
    """The `_COPIED` columns (and ``tcp_flags`` as ``flags``) in connection order; on two
    threads for large captures (NumPy's gathers release the GIL), half the bytes each."""
    names = [(name, name) for name in _COPIED] + [("flags", "tcp_flags")]
    if not two_threads(len(frows)):
        return {key: tc[src][frows] for key, src in names}
    # ts_ns and the 4-byte columns are most of the bytes: alternate them between threads
    names.sort(key=lambda kv: -tc[kv[1]].itemsize)
    parts = [names[0::2], names[1::2]]
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(lambda ns: {k: tc[src][frows] for k, src in ns}, ns) for ns in parts]
        return {k: v for f in done for k, v in f.result().items()}


class LazyColumns(dict[str, Arr]):
    """Packet columns in connection order; a missing PacketTable column is gathered
    (``table[name][row]``), and ``conn``, ``dir`` and ``seg_len`` are derived (`_DERIVED`),
    the first time they are asked for, so unused columns cost nothing."""

    def __init__(self, table: PacketTable, rows: I64) -> None:
        super().__init__()
        self._table = table
        self["row"] = rows

    def __missing__(self, key: str) -> Arr:
        if key in _DERIVED:  # from other columns: see _DERIVED
            col = _DERIVED[key](self)
        elif key in self._table.columns:
            col = self._table.columns[key][self["row"]]
        else:
            raise KeyError(key)
        self[key] = col
        return col


def _conn_of(p: dict[str, Arr]) -> I64:
    out: I64 = p["half"] >> 1
    return out


def _dir_of(p: dict[str, Arr]) -> I64:
    out: I64 = p["half"] & 1
    return out


def _seg_len_of(p: dict[str, Arr]) -> I64:
    out: I64 = p["end"] - p["rel_seq"]
    return out


#: packet columns computed from others on first use: conn = half // 2, dir = half % 2,
#: seg_len = end - rel_seq (sequence space: payload + SYN + FIN)
_DERIVED = {"conn": _conn_of, "dir": _dir_of, "seg_len": _seg_len_of}


@dataclass
class ConnectionTable:
    """Packets of all TCP connections, sorted by (half, capture order), plus per-connection
    and per-half arrays.

    - ``p``: one row per usable TCP packet. Copied columns (see `_COPIED`) plus ``row``
      (index in the source PacketTable), ``conn``, ``dir`` (0 initiator -> responder),
      ``half``, ``rel_seq``, ``rel_ack`` (valid where ``ackf``), ``seg_len`` (sequence
      space: payload + SYN + FIN) and ``end``; `tcp.directions` adds its flags.
    - ``c``: one row per connection: the initiator's (``cli_*``) and responder's
      (``srv_*``) address halves and ports, ``first``/``last`` packet index, and
      ``oriented`` (the initiator is known from a SYN or SYN/ACK, not guessed).
    - ``h``: one row per half (``2 * conn + dir``): ``start``/``end`` packet slice,
      ``base`` (raw ISN or first sequence number), ``isn_seen`` and the SYN options;
      `tcp.directions` adds its counters.
    """

    table: PacketTable
    n_conn: int
    p: dict[str, Arr] = field(default_factory=dict)
    c: dict[str, Arr] = field(default_factory=dict)
    h: dict[str, Arr] = field(default_factory=dict)
    icmp: PacketTable | None = None
    """The capture's ICMP/ICMPv6 rows when they are kept apart (`tcp.columns`); None when
    ``table`` holds them (or, cut to `TCP_COLUMNS`, has none)."""

    @property
    def icmp_table(self) -> PacketTable:
        """The table `tcp.icmp` reads the ICMP errors from."""
        return self.table if self.icmp is None else self.icmp

    @property
    def n_half(self) -> int:
        return 2 * self.n_conn

    def half_slice(self, half: int) -> slice:
        return slice(int(self.h["start"][half]), int(self.h["end"][half]))

    @functools.cached_property
    def half_ends(self) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr]:
        """Each half's sender and receiver, one entry per half (``2 * conn``: the
        initiator's packets, ``2 * conn + 1``: the responder's): source address halves
        and port, then the destination's, from ``c`` (the packets need not carry them)."""
        c = self.c

        def by_half(even: Arr, odd: Arr) -> Arr:
            out = np.empty(2 * len(even), even.dtype)
            out[0::2], out[1::2] = even, odd
            return out

        cli = (c["cli_hi"], c["cli_lo"], c["cli_port"])
        srv = (c["srv_hi"], c["srv_lo"], c["srv_port"])
        src = [by_half(a, b) for a, b in zip(cli, srv, strict=True)]
        dst = [by_half(b, a) for a, b in zip(cli, srv, strict=True)]
        return src[0], src[1], src[2], dst[0], dst[1], dst[2]

    def source_column(self, name: str) -> Arr:
        """A column of the source table, indexed by ``p["row"]`` rather than gathered into
        connection order (for columns read at few packets). A derived column
        (`tcp.columns.DERIVED_DTYPES`) is made for the whole table if it was not cut."""
        cols = self.table.columns
        out: Arr = cols[name] if name in cols or name not in DERIVED_DTYPES else self._made[name]
        return out

    @functools.cached_property
    def _made(self) -> dict[str, Arr]:
        """The derived columns of a table that was not cut (made once, kept here: the
        caller's table is left as it was)."""
        return derived(self.table)

    def frames(self, idx: Any) -> Arr:
        """Capture frame numbers of packets `idx` (read through ``row``: no whole
        ``frame`` column is gathered for the few packets evidence names)."""
        out: Arr = self.table.columns["frame"][self.p["row"][idx]]
        return out

    def frame(self, i: int) -> int:
        return int(self.table.columns["frame"][self.p["row"][i]])


def tcp_rows(table: PacketTable) -> I64:
    """Indices of the packets the tcp stage can use (decoded TCP header, first fragment)."""
    mask = is_tcp(table) & ((table.status & np.uint8(UNUSABLE)) == 0)
    out: I64 = np.flatnonzero(mask).astype(np.int64)
    return out


@numba.njit(cache=True)
def _bucket_starts(ids: Any, nids: int) -> Any:
    """Where each id's run starts in `ids` sorted (0 <= id < nids): a counting sort's
    first pass, shared by `_stable_order` and `_by_half`."""
    start = np.zeros(nids + 1, np.int64)
    for x in ids:
        start[x + 1] += 1
    for k in range(nids):
        start[k + 1] += start[k]
    return start


@numba.njit(cache=True)
def _stable_order(ids: Any, nids: int) -> Any:
    """Permutation sorting `ids` (0 <= id < nids), equal ids in input order (counting
    sort: two passes, where a comparison sort of random keys costs ~20)."""
    start = _bucket_starts(ids, nids)
    order = np.empty(len(ids), np.int64)
    for i in range(len(ids)):
        x = ids[i]
        order[start[x]] = i
        start[x] += 1
    return order


@numba.njit(cache=True)
def _split_flows(
    order: Any,
    rows: Any,
    tflags: Any,
    tseq: Any,
    fid: Any,
    src_is_lo: Any,
    conn: Any,
    cstart: Any,
    fi_syn: Any,
    fi_synack: Any,
) -> int:
    """Walk the packets in flow order (`order`; flows numbered `fid`, packets of a flow in
    capture order) and split each flow into connections: a new one starts at a SYN (no
    ACK) with another ISN or direction than the flow's previous SYN, or at the first SYN
    after a FIN/RST when there was no SYN before. Fills each position's connection
    (`conn`) and, per connection, its first position and its first SYN's and SYN/ACK's
    (-1 when none); returns the number of connections."""
    nc = 0
    last_syn = -1  # position of the flow's last SYN so far
    closed = 0  # FIN/RST of the flow so far
    for k in range(len(order)):
        i = order[k]
        r = rows[i]
        f = tflags[r]
        flow_start = k == 0 or fid[i] != fid[order[k - 1]]
        if flow_start:
            last_syn = -1
            closed = 0
        syn_only = (f & _SYN) != 0 and (f & _ACK) == 0
        has_prev = last_syn >= 0
        new_isn = False
        if has_prev:
            j = order[last_syn]
            new_isn = tseq[r] != tseq[rows[j]] or src_is_lo[i] != src_is_lo[j]
        if flow_start or (syn_only and (new_isn or (not has_prev and closed > 0))):
            cstart[nc] = k
            fi_syn[nc] = -1
            fi_synack[nc] = -1
            nc += 1
        c = nc - 1
        conn[k] = c
        if syn_only:
            if fi_syn[c] < 0:
                fi_syn[c] = k
            last_syn = k
        elif (f & _SYN) != 0 and fi_synack[c] < 0:
            fi_synack[c] = k
        if (f & (_FIN | _RST)) != 0:
            closed += 1
    return nc


@numba.njit(cache=True)
def _halves(order: Any, conn: Any, renum: Any, src_is_lo: Any, client_is_lo: Any, out: Any) -> None:
    """Each packet's half (2 * connection + direction; connections renumbered by `renum`),
    written at its own index; `order`/`conn`: packets in flow order and their connection."""
    for k in range(len(order)):
        i = order[k]
        c = conn[k]
        out[i] = 2 * renum[c] + (1 if src_is_lo[i] != client_is_lo[c] else 0)


@numba.njit(cache=True)
def _by_half(half_t: Any, nh: int, rows: Any, frows: Any, half: Any) -> None:
    """The packets (in capture order) stably sorted by half: their rows and halves
    (`_stable_order`, writing the two gathered columns instead of the permutation)."""
    start = _bucket_starts(half_t, nh)
    for i in range(len(half_t)):
        x = half_t[i]
        frows[start[x]] = rows[i]
        half[start[x]] = x
        start[x] += 1


def build_connections(
    table: PacketTable, icmp: PacketTable | None = None, flows: Flows | None = None
) -> ConnectionTable:
    """Group the table's TCP packets into connections (see the module docstring). `icmp`:
    the capture's ICMP rows, when `table` does not hold them (kept for `tcp.icmp`).
    `flows`: the table's rows already numbered (`tcp.flows.FlowIndex`, while reading)."""
    rows = tcp_rows(table)
    n = len(rows)
    tc = table.columns
    # flows (4-tuples), numbered by first packet; the lexicographically smaller endpoint
    # of each is "lo"
    if flows is None:
        fid, src_is_lo, keys = number_flows(table, rows)
    elif len(flows.fid) != len(table):
        raise ValueError(f"flow numbers for {len(flows.fid)} rows, table has {len(table)}")
    elif n == len(table):  # every row usable: the numbers as they are
        fid, src_is_lo, keys = flows.fid, flows.src_is_lo, flows.keys
    else:
        fid, src_is_lo, keys = flows.fid[rows], flows.src_is_lo[rows], flows.keys
    order = _stable_order(fid, len(keys))

    # --- connections (a flow split on port reuse) ----------------------------------------
    conn_sorted = np.empty(n, np.int64)
    per_conn = [np.empty(n, np.int64) for _ in range(3)]
    n_conn = _split_flows(
        order, rows, tc["tcp_flags"], tc["seq"], fid, src_is_lo, conn_sorted, *per_conn
    )
    cstart, fi_syn, fi_synack = (a[:n_conn] for a in per_conn)

    # --- orientation: who initiated ------------------------------------------------------
    # the endpoints of each connection, from its first packet
    r0 = rows[order[cstart]]
    s0 = src_is_lo[order[cstart]]
    # the flow's key: its smaller ("lo") endpoint's address halves and port, then the other's
    k0 = keys[fid[order[cstart]]]
    lo = [k0[:, 0], k0[:, 1], k0[:, 2]]
    hi = [k0[:, 3], k0[:, 4], k0[:, 5]]
    lo_port = lo[2].astype(np.int64)
    hi_port = hi[2].astype(np.int64)
    # no handshake seen: the endpoint with the lower port is the server (Zeek does the same)
    client_is_lo = np.where(lo_port != hi_port, lo_port > hi_port, s0)
    has_synack = fi_synack >= 0
    synack_lo = src_is_lo[order[np.clip(fi_synack, 0, None)]]
    client_is_lo = np.where(has_synack, ~synack_lo, client_is_lo)
    has_syn = fi_syn >= 0
    client_is_lo = np.where(has_syn, src_is_lo[order[np.clip(fi_syn, 0, None)]], client_is_lo)
    oriented = has_syn | has_synack

    # number connections in capture order (of their first packet)
    renum = np.empty(n_conn, dtype=np.int64)
    renum[np.argsort(r0, kind="stable")] = np.arange(n_conn)
    # each packet's half under the new numbering, then the packets by (half, capture
    # order): a stable counting sort of the packets in capture order (`rows` ascend)
    half_t = np.empty(n, dtype=np.int64)
    _halves(order, conn_sorted, renum, src_is_lo, client_is_lo, half_t)
    frows = np.empty(n, dtype=np.int64)
    half = np.empty(n, dtype=np.int64)
    _by_half(half_t, 2 * n_conn, rows, frows, half)
    inv = np.argsort(renum)  # new id -> old id
    client_is_lo, oriented = client_is_lo[inv], oriented[inv]
    lo_port, hi_port = lo_port[inv], hi_port[inv]
    p = LazyColumns(table, frows)
    p.update(_gathered(tc, frows))
    p["half"] = half

    c: dict[str, Arr] = {}
    for name, idx in (("hi", 0), ("lo", 1)):
        c[f"cli_{name}"] = np.where(client_is_lo, lo[idx][inv], hi[idx][inv])
        c[f"srv_{name}"] = np.where(client_is_lo, hi[idx][inv], lo[idx][inv])
    c["cli_port"] = np.where(client_is_lo, lo_port, hi_port)
    c["srv_port"] = np.where(client_is_lo, hi_port, lo_port)
    c["oriented"] = oriented

    ct = ConnectionTable(table=table, n_conn=n_conn, p=p, c=c, icmp=icmp)
    _unwrap(ct)
    return ct


@numba.njit(cache=True, nogil=True)
def _unwrap_halves(
    seq: Any,
    ack: Any,
    flags: Any,
    payload: Any,
    start: Any,
    stop: Any,
    rel: Any,
    end: Any,
    ackf: Any,
    rel_ack: Any,
    base: Any,
    syn_idx: Any,
    lo: int,
    hi: int,
) -> None:
    """Per half of connections lo..hi-1 (packets [start[g], stop[g]) in capture order),
    writing only theirs (so that disjoint ranges can run at once): the base (first SYN's
    sequence number, else the first packet's), relative sequence numbers unwrapped across
    2^32 wraps (each adds the signed 32-bit step from its predecessor), segment ends
    (plus the sequence-space length), and relative ACKs in the
    peer's space (measured from the peer's base; from the half's own first ACK when the
    peer is not in the capture)."""
    for g in range(2 * lo, 2 * hi):
        syn_idx[g] = -1
        base[g] = 0
        for i in range(start[g], stop[g]):
            if flags[i] & _SYN:
                syn_idx[g] = i
                break
        if syn_idx[g] >= 0:
            base[g] = np.int64(seq[syn_idx[g]])
        elif stop[g] > start[g]:
            base[g] = np.int64(seq[start[g]])
    for g in range(2 * lo, 2 * hi):
        peer_present = stop[g ^ 1] > start[g ^ 1]
        acc = np.int64(0)
        prev = base[g]
        aacc = np.int64(0)
        aprev = np.int64(-1)
        for i in range(start[g], stop[g]):
            x = np.int64(seq[i])
            acc += ((x - prev + SEQ_HALF) & (SEQ_MOD - 1)) - SEQ_HALF
            prev = x
            rel[i] = acc
            f = flags[i]
            n = np.int64(payload[i]) + (1 if f & _SYN else 0) + (1 if f & _FIN else 0)
            end[i] = acc + n
            a = (f & _ACK) != 0
            ackf[i] = a
            rel_ack[i] = 0
            if a:
                y = np.int64(ack[i])
                if aprev < 0:  # the half's first ACK
                    aprev = base[g ^ 1] if peer_present else y
                aacc += ((y - aprev + SEQ_HALF) & (SEQ_MOD - 1)) - SEQ_HALF
                aprev = y
                rel_ack[i] = aacc


def _unwrap(ct: ConnectionTable) -> None:
    """Relative sequence / ACK numbers per half, unwrapped across 2^32 wraps."""
    p, h = ct.p, ct.h
    nh = ct.n_half
    n = len(p["half"])
    start, end = group_bounds(p["half"], nh)
    h["start"], h["end"] = start, end
    present = end > start
    h["present"] = present
    rel, seg_end, rel_ack = (np.empty(n, np.int64) for _ in range(3))
    ackf = np.empty(n, np.bool_)
    base = np.empty(nh, np.int64)
    fi_syn = np.empty(nh, np.int64)
    cols = (p["seq"], p["ack"], p["flags"], p["payload_len"], start, end)
    ranges = connection_ranges(start, ct.n_conn, n)
    on_ranges(ranges, _unwrap_halves, *cols, rel, seg_end, ackf, rel_ack, base, fi_syn)
    p.update(rel_seq=rel, end=seg_end, ackf=ackf, rel_ack=rel_ack)
    h["isn_seen"] = fi_syn >= 0
    h["base"] = base
    h["syn_idx"] = fi_syn
    # handshake options per half from its first SYN
    si = p["row"][np.clip(fi_syn, 0, None)] if n else np.zeros(nh, np.int64)
    has = fi_syn >= 0
    tc = ct.table.columns
    h["mss"] = np.where(has, tc["opt_mss"][si].astype(np.int64), 0)
    h["wscale"] = np.where(has, tc["opt_wscale"][si].astype(np.int64), 255)
    h["sack_perm"] = has & tc["opt_sack_perm"][si]
    h["timestamps"] = has & tc["opt_has_ts"][si]
