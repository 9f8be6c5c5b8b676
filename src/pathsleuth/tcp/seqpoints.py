"""Time-sequence points of one connection direction, for the HTML Stevens chart.

`flow_points(ct, half, icmp)` lists the packets of a connection as plain tuples in the
field order of `report.views.SeqPoint` — (frame, t, rel_seq, length, kind, direction) —
in the sequence space of the data sender of `half` ("a"): its segments at their relative
sequence numbers, the peer's packets at the relative ACK they carry, ICMP errors at the
sequence number they quote. Only the few connections with findings are listed, and at
most `MAX_POINTS` packets each (first ones kept: a stall starts the story).
"""

from __future__ import annotations

import numpy as np

from pathsleuth.capture.table import TcpFlag
from pathsleuth.tcp.connections import ConnectionTable
from pathsleuth.tcp.icmp import IcmpEvent

#: upper bound on points per chart (an SVG with more is unreadable anyway)
MAX_POINTS = 5000

Point = tuple[int, float, int, int, str, str]


def _kind(flags: int, payload: int, retrans: bool) -> str:
    if flags & int(TcpFlag.RST):
        return "rst"
    if flags & int(TcpFlag.SYN):
        return "syn"
    if flags & int(TcpFlag.FIN) and payload == 0:
        return "fin"
    if payload > 0:
        return "retrans" if retrans else "data"
    return "ack"


def _kinds(flags: np.ndarray, payload: np.ndarray, retrans: np.ndarray) -> list[str]:
    """`_kind` over whole columns at once (same precedence, first match wins)."""
    fl = flags.astype(np.int64)
    has = payload.astype(np.int64) > 0
    kind = np.select(
        [
            (fl & int(TcpFlag.RST)) != 0,
            (fl & int(TcpFlag.SYN)) != 0,
            ((fl & int(TcpFlag.FIN)) != 0) & ~has,
            has & retrans.astype(bool),
            has,
        ],
        ["rst", "syn", "fin", "retrans", "data"],
        default="ack",
    )
    return [str(k) for k in kind.tolist()]


def flow_points(ct: ConnectionTable, half: int, icmp: list[IcmpEvent]) -> list[Point]:
    """Points of the connection of `half`, seen from its data sender (see module doc)."""
    p, h = ct.p, ct.h
    out: list[tuple[int, Point]] = []
    for hf, direction in ((half, "a->b"), (half ^ 1, "b->a")):
        sl = ct.half_slice(hf)
        rows = p["row"][sl][:MAX_POINTS].tolist()
        frames = ct.frames(sl)[:MAX_POINTS].tolist()
        ts = (p["ts_ns"][sl][:MAX_POINTS] / 1e9).tolist()
        pay = p["payload_len"][sl][:MAX_POINTS].tolist()
        pos = p["rel_seq"][sl] if hf == half else p["rel_ack"][sl]
        pos_l = pos[:MAX_POINTS].tolist()
        kinds = _kinds(
            p["flags"][sl][:MAX_POINTS],
            p["payload_len"][sl][:MAX_POINTS],
            p["retrans"][sl][:MAX_POINTS],
        )
        lens = pay if hf == half else [0] * len(pay)
        out.extend(
            (r, (fr, t, sq, n, k, direction))
            for r, fr, t, n, k, sq in zip(rows, frames, ts, lens, kinds, pos_l, strict=True)
        )
    base = int(h["base"][half])
    for ev in icmp:
        if ev.half == half and ev.quoted_seq is not None:
            rel = int(((ev.quoted_seq - base + (1 << 31)) % (1 << 32)) - (1 << 31))
            out.append(
                (int(np.iinfo(np.int64).max), (ev.frame, ev.ts_ns / 1e9, rel, 0, "icmp", "b->a"))
            )
    out.sort(key=lambda x: (x[1][1], x[0]))
    return [pt for _, pt in out[: 2 * MAX_POINTS]]
