"""Per-connection summaries: what the `connections` list of the analyze JSON holds.

`summarise(ct, file=...)` turns the per-connection and per-half arrays of an analysed
`ConnectionTable` into `ConnectionSummary` records (one small object per connection, not
per packet). States follow Zeek's ``conn_state`` names; the history string follows Zeek's
``history`` letters, uppercase for the initiator and lowercase for the responder, each
letter at its first occurrence in that direction, in time order:

    S  SYN without ACK          H  SYN/ACK             A  pure ACK
    D  payload                  F  FIN                 R  RST
    T  retransmission           G  gap (bytes the capture never saw)
    W  zero window

When the capture holds no handshake the initiator is guessed (higher port) and the
history is prefixed with ``^`` (Zeek's "flipped / guessed" marker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from pathsleuth.capture.table import TcpFlag, format_addr
from pathsleuth.tcp.connections import ConnectionTable

_LETTERS = "SHADFRTGW"
_SYN, _FIN, _RST = int(TcpFlag.SYN), int(TcpFlag.FIN), int(TcpFlag.RST)


@dataclass(kw_only=True)
class DirectionSummary:
    """Counters of one direction of a connection (sender -> receiver)."""

    packets: int
    bytes: int
    """TCP payload bytes, retransmissions included."""
    data_packets: int
    retransmissions: int
    fast_retransmissions: int
    timeout_retransmissions: int
    spurious_retransmissions: int
    gap_fills: int
    """Segments filling bytes the capture had not seen (out of order or original missed)."""
    gaps: int
    """Places where the sender's sequence jumped over bytes the capture never saw."""
    duplicate_acks: int
    stuck_acks: int
    """Retransmissions that start exactly at the peer's cumulative ACK (the ACK stays put
    while the sender keeps resending above it)."""
    zero_windows: int
    super_segments: int
    """TSO/GSO segments larger than the peer's MSS (captured on the sending host)."""
    max_segment_sent: int
    """Largest on-wire TCP payload sent (super-segments counted at the MSS)."""
    max_segment_acked: int
    """Largest TCP payload that a later ACK from the peer acknowledged."""
    df: bool
    """Every data segment had DF set (IPv6: routers never fragment, so always true)."""
    ttl: int
    hops: int
    """Hops from the sender to the capture point, from the nearest initial TTL."""
    mss: int | None
    wscale: int | None
    sack_permitted: bool
    timestamps: bool
    isn: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(kw_only=True)
class ConnectionSummary:
    """One TCP connection as the analyze report lists it (initiator = src)."""

    id: int
    file: str
    src: str
    sport: int
    dst: str
    dport: int
    packets: int
    bytes: int
    duration_s: float
    state: str
    """Zeek conn_state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, OTH."""
    history: str
    close: str
    """"fin", "rst" or "none"."""
    first_frame: int
    last_frame: int
    start_ts: float
    """Time of the first packet, seconds since the Unix epoch (UTC)."""
    end_ts: float
    """Time of the last packet, seconds since the Unix epoch (UTC)."""
    handshake_rtt_ms: float | None
    directions: dict[str, DirectionSummary] = field(default_factory=dict)
    """"orig" (initiator -> responder) and "resp"."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "src": self.src,
            "sport": self.sport,
            "dst": self.dst,
            "dport": self.dport,
            "packets": self.packets,
            "bytes": self.bytes,
            "duration_s": self.duration_s,
            "state": self.state,
            "history": self.history,
            "close": self.close,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "handshake_rtt_ms": self.handshake_rtt_ms,
            "directions": {k: v.to_dict() for k, v in self.directions.items()},
        }


def handshake_times(ct: ConnectionTable) -> dict[str, np.ndarray]:
    """SYN -> SYN/ACK and SYN/ACK -> ACK gaps per connection (ns, -1 when not seen)."""
    h, p = ct.h, ct.p
    ts = p["ts_ns"]
    syn_c = h["syn_idx"][0::2]
    syn_s = h["syn_idx"][1::2]
    ack_c = h["first_pure_ack"][0::2]
    ok1 = (syn_c >= 0) & (syn_s >= 0)
    t_syn = np.where(syn_c >= 0, ts[np.clip(syn_c, 0, None)], 0)
    t_sa = np.where(syn_s >= 0, ts[np.clip(syn_s, 0, None)], 0)
    t_ack = np.where(ack_c >= 0, ts[np.clip(ack_c, 0, None)], 0)
    ok2 = (syn_s >= 0) & (ack_c >= 0) & (t_ack >= t_sa)
    return {
        "syn_synack": np.where(ok1, t_sa - t_syn, -1),
        "synack_ack": np.where(ok2, t_ack - t_sa, -1),
    }


@numba.njit(cache=True)
def _first_events(
    flags: Any,
    payload: Any,
    ackf: Any,
    retrans: Any,
    hole: Any,
    zero_window: Any,
    start: Any,
    end: Any,
    out: Any,
) -> None:
    """out[e, g]: index of half g's first packet showing event e (`_LETTERS` order), -1
    when none; each half is scanned until all nine are seen."""
    for g in range(len(start)):
        need = len(_LETTERS)
        for e in range(need):
            out[e, g] = -1
        for i in range(start[g], end[g]):
            f = flags[i]
            syn, fin, rst = (f & _SYN) != 0, (f & _FIN) != 0, (f & _RST) != 0
            data = payload[i] > 0
            a = ackf[i]
            hit = (
                syn and not a,
                syn and a,
                a and not syn and not data and not fin and not rst,
                data,
                fin,
                rst,
                retrans[i],
                hole[i],
                zero_window[i],
            )
            for e in range(len(_LETTERS)):
                if hit[e] and out[e, g] < 0:
                    out[e, g] = i
                    need -= 1
            if need == 0:
                break


def _history(ct: ConnectionTable) -> list[str]:
    p, h = ct.p, ct.h
    firsts = np.empty((len(_LETTERS), ct.n_half), np.int64)
    _first_events(
        p["flags"],
        p["payload_len"],
        p["ackf"],
        p["retrans"],
        p["hole"],
        p["zero_window"],
        h["start"],
        h["end"],
        firsts,
    )
    conns, rows, codes = [], [], []
    for ci, first in enumerate(firsts):
        uk = np.flatnonzero(first >= 0)
        if not len(uk):
            continue
        conns.append(uk)
        rows.append(p["row"][first[uk]])
        codes.append(ci * 2 + (uk & 1))
    out = [""] * ct.n_conn
    if not conns:
        return out
    half = np.concatenate(conns)
    row = np.concatenate(rows)
    code_all = np.concatenate(codes)
    order = np.lexsort((row, half // 2))
    conn_sorted = (half // 2)[order]
    letters = np.array([c for ch in _LETTERS for c in (ch, ch.lower())], dtype="<U1")[
        code_all[order]
    ]
    bounds = np.flatnonzero(np.diff(conn_sorted)) + 1
    for cid, chunk in zip(
        conn_sorted[np.concatenate(([0], bounds))].tolist(),
        np.split(letters, bounds),
        strict=True,
    ):
        out[cid] = "".join(chunk.tolist())
    return out


def states(ct: ConnectionTable) -> tuple[list[str], list[str]]:
    """Zeek-style state and close kind per connection."""
    h = ct.h
    syn_c, syn_s = h["syns"][0::2] > 0, h["syns"][1::2] > 0
    fin_c, fin_s = h["fins"][0::2] > 0, h["fins"][1::2] > 0
    rst_c, rst_s = h["rsts"][0::2] > 0, h["rsts"][1::2] > 0
    ts = ct.p["ts_ns"]
    big = np.iinfo(np.int64).max
    t_rc = np.where(h["first_rst"][0::2] >= 0, ts[np.clip(h["first_rst"][0::2], 0, None)], big)
    t_rs = np.where(h["first_rst"][1::2] >= 0, ts[np.clip(h["first_rst"][1::2], 0, None)], big)
    st, close = [], []
    for i in range(ct.n_conn):
        if rst_c[i] or rst_s[i]:
            close.append("rst")
        elif fin_c[i] or fin_s[i]:
            close.append("fin")
        else:
            close.append("none")
        if not (syn_c[i] or syn_s[i]):
            st.append("OTH")
        elif rst_s[i] and not syn_s[i]:
            st.append("REJ")
        elif rst_c[i] or rst_s[i]:
            st.append("RSTO" if t_rc[i] <= t_rs[i] else "RSTR")
        elif fin_c[i] and fin_s[i]:
            st.append("SF")
        elif fin_c[i]:
            st.append("S2")
        elif fin_s[i]:
            st.append("S3")
        elif syn_s[i]:
            st.append("S1")
        else:
            st.append("S0")
    return st, close


def summarise(ct: ConnectionTable, *, file: str) -> list[ConnectionSummary]:
    """One `ConnectionSummary` per connection, in connection order."""
    if ct.n_conn == 0:
        return []
    h, c, p = ct.h, ct.c, ct.p
    hist = _history(ct)
    st, close = states(ct)
    hs = handshake_times(ct)
    # first and last packet of each connection (either half), capture order
    first, last = h["first_idx"].reshape(-1, 2), h["last_idx"].reshape(-1, 2)
    ts = p["ts_ns"]
    big = np.iinfo(np.int64).max
    fi, li = np.clip(first, 0, None), np.clip(last, 0, None)
    t0s = np.where(first >= 0, ts[fi], big).min(axis=1).tolist()
    t1s = np.where(last >= 0, ts[li], -1).max(axis=1).tolist()
    f0s = np.where(first >= 0, ct.frames(fi).astype(np.int64), big).min(axis=1).tolist()
    f1s = np.where(last >= 0, ct.frames(li).astype(np.int64), -1).max(axis=1).tolist()
    syn_synack, synack_ack = hs["syn_synack"].tolist(), hs["synack_ack"].tolist()
    hl = {k: np.asarray(v).tolist() for k, v in h.items()}
    cl = {k: np.asarray(v).tolist() for k, v in c.items()}
    out: list[ConnectionSummary] = []
    for i in range(ct.n_conn):
        a, b = 2 * i, 2 * i + 1
        t0, t1 = t0s[i], t1s[i]
        rtt = None
        if syn_synack[i] >= 0 and synack_ack[i] >= 0:
            rtt = round((syn_synack[i] + synack_ack[i]) / 1e6, 3)
        dirs = {}
        for name, x in (("orig", a), ("resp", b)):
            if not hl["present"][x]:
                continue
            dirs[name] = DirectionSummary(
                packets=hl["packets"][x],
                bytes=hl["bytes"][x],
                data_packets=hl["data_packets"][x],
                retransmissions=hl["retrans"][x],
                fast_retransmissions=hl["fast_retrans"][x],
                timeout_retransmissions=hl["timeout_retrans"][x],
                spurious_retransmissions=hl["spurious_retrans"][x],
                gap_fills=hl["gapfills"][x],
                gaps=hl["holes"][x],
                duplicate_acks=hl["dupacks"][x],
                stuck_acks=hl["stuck_acks"][x],
                zero_windows=hl["zero_windows"][x],
                super_segments=hl["super_segments"][x],
                max_segment_sent=hl["max_seg_sent"][x],
                max_segment_acked=hl["max_seg_acked"][x],
                df=hl["df_data"][x] == hl["data_packets"][x],
                ttl=hl["ttl_max"][x],
                hops=hl["hops"][x],
                mss=hl["mss"][x] or None,
                wscale=None if hl["wscale"][x] == 255 else hl["wscale"][x],
                sack_permitted=hl["sack_perm"][x],
                timestamps=hl["timestamps"][x],
                isn=hl["base"][x] if hl["isn_seen"][x] else None,
            )
        out.append(
            ConnectionSummary(
                id=i,
                file=file,
                src=format_addr(cl["cli_hi"][i], cl["cli_lo"][i]),
                sport=cl["cli_port"][i],
                dst=format_addr(cl["srv_hi"][i], cl["srv_lo"][i]),
                dport=cl["srv_port"][i],
                packets=hl["packets"][a] + hl["packets"][b],
                bytes=hl["bytes"][a] + hl["bytes"][b],
                duration_s=round((t1 - t0) / 1e9, 6),
                state=st[i],
                history=("" if cl["oriented"][i] else "^") + hist[i],
                close=close[i],
                first_frame=f0s[i],
                last_frame=f1s[i],
                start_ts=t0 / 1e9,
                end_ts=t1 / 1e9,
                handshake_rtt_ms=rtt,
                directions=dirs,
            )
        )
    return out
