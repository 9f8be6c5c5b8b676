"""Grouped (segmented) NumPy primitives the tcp stage is built from.

Packets are kept sorted by a group id (a connection direction, "half") and capture order,
so per-group running maxima, first/last members and searches become a handful of whole
array operations instead of a Python loop per packet. Everything here is pure and
allocation-bounded (a few arrays the size of the input).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: TCP sequence space modulus (RFC 9293 section 3.4)
SEQ_MOD = 1 << 32
SEQ_HALF = 1 << 31


def signed32(x: I64) -> I64:
    """Differences of 32-bit sequence numbers as signed values in [-2^31, 2^31)."""
    out: I64 = ((x + SEQ_HALF) & (SEQ_MOD - 1)) - SEQ_HALF
    return out


def group_bounds(gid: I64, ngroups: int) -> tuple[I64, I64]:
    """Start and end index of each group in an array sorted by `gid` (empty: start == end)."""
    g = np.arange(ngroups, dtype=np.int64)
    start = np.searchsorted(gid, g, side="left").astype(np.int64)
    end = np.searchsorted(gid, g, side="right").astype(np.int64)
    return start, end


def first_of_group(gid: I64) -> Bool:
    """True where a new group starts (input sorted by `gid`)."""
    out = np.ones(len(gid), dtype=bool)
    if len(gid) > 1:
        out[1:] = gid[1:] != gid[:-1]
    return out


def seg_cumsum(v: I64, gid: I64) -> I64:
    """Inclusive cumulative sum restarting at each group (input sorted by `gid`)."""
    if len(v) == 0:
        return v.copy()
    c = np.cumsum(v)
    starts = first_of_group(gid)
    base = np.maximum.accumulate(np.where(starts, np.arange(len(v)), 0))
    out: I64 = c - (c[base] - v[base])
    return out


def seg_cummax(v: I64, gid: I64, *, exclusive: bool = False, fill: int = -(1 << 62)) -> I64:
    """Running maximum restarting at each group (input sorted by `gid`).

    Done with one global `maximum.accumulate` after lifting each group above the
    previous one: values are shifted by the group's minimum and offset by the sum of
    the earlier groups' ranges, so no group can see a larger value from before it.
    With `exclusive`, element i gets the maximum of the group's elements before i
    (`fill` for the first element of a group).
    """
    n = len(v)
    if n == 0:
        return v.copy()
    starts_mask = first_of_group(gid)
    starts = np.flatnonzero(starts_mask)
    gmin = np.minimum.reduceat(v, starts)
    gmax = np.maximum.reduceat(v, starts)
    span = gmax - gmin + 1
    offset = np.concatenate(([0], np.cumsum(span)[:-1]))
    rank = np.cumsum(starts_mask) - 1
    lifted = v - gmin[rank] + offset[rank]
    run = np.maximum.accumulate(lifted) - offset[rank] + gmin[rank]
    if not exclusive:
        out: I64 = run
        return out
    ex = np.empty(n, dtype=np.int64)
    ex[1:] = run[:-1]
    ex[starts_mask] = fill
    return ex


def grouped_searchsorted(tg: I64, tv: I64, qg: I64, qv: I64, *, side: str = "left") -> I64:
    """`searchsorted` of each query inside its own group of a (group, value)-sorted target.

    Returns, for every query, the global index of the first target of the query's group
    with value >= qv (side "left") or > qv (side "right"); when there is none, the index
    just past the group (the caller checks `idx < len(t)` and `tg[idx] == qg`).
    """
    nt, nq = len(tg), len(qg)
    if nq == 0:
        return np.zeros(0, dtype=np.int64)
    if nt == 0:
        return np.zeros(nq, dtype=np.int64)
    vmin = min(int(tv.min()), int(qv.min()))
    span = max(int(tv.max()), int(qv.max())) - vmin + 1
    gmax = max(int(tg.max()), int(qg.max())) + 1
    if gmax * span < (1 << 62) and min(int(tg.min()), int(qg.min())) >= 0:
        # fast path: one composite int64 key, sorted the same way as (group, value)
        tk = tg * span + (tv - vmin)
        qk = qg * span + (qv - vmin)
        fast: I64 = np.searchsorted(tk, qk, side=side).astype(np.int64)  # type: ignore[call-overload]
        return fast
    # general path: queries sort before equal targets for "left", after them for "right"
    kind_t, kind_q = (1, 0) if side == "left" else (0, 1)
    g = np.concatenate((tg, qg))
    v = np.concatenate((tv, qv))
    k = np.concatenate((np.full(nt, kind_t, np.int8), np.full(nq, kind_q, np.int8)))
    order = np.lexsort((k, v, g))
    is_t = order < nt
    before: I64 = np.cumsum(is_t) - is_t  # targets strictly before each merged position
    pos_of = np.empty(nt + nq, dtype=np.int64)
    pos_of[order] = np.arange(nt + nq)
    idx: I64 = before[pos_of[nt:]].astype(np.int64)
    return idx


def in_group(idx: I64, tg: I64, qg: I64) -> Bool:
    """Whether `grouped_searchsorted` results point at a target of the query's group."""
    ok = (idx >= 0) & (idx < len(tg))
    out = np.zeros(len(idx), dtype=bool)
    out[ok] = tg[idx[ok]] == qg[ok]
    return out


def take_or(arr: npt.NDArray[Any], idx: I64, ok: Bool, default: Any) -> npt.NDArray[Any]:
    """`arr[idx]` where `ok`, `default` elsewhere."""
    out = np.full(len(idx), default, dtype=arr.dtype)
    out[ok] = arr[idx[ok]]
    return out


def first_index(mask: Bool, gid: I64, ngroups: int) -> I64:
    """Index of the first True element of each group (-1 if none); `gid` sorted ascending."""
    pos = np.flatnonzero(mask)
    out = np.full(ngroups, -1, dtype=np.int64)
    if len(pos):
        g = gid[pos]
        firsts = first_of_group(g)
        out[g[firsts]] = pos[firsts]
    return out


def last_index(mask: Bool, gid: I64, ngroups: int) -> I64:
    """Index of the last True element of each group (-1 if none); `gid` sorted ascending."""
    pos = np.flatnonzero(mask)
    out = np.full(ngroups, -1, dtype=np.int64)
    if len(pos):
        g = gid[pos]
        lasts = np.ones(len(g), dtype=bool)
        lasts[:-1] = g[1:] != g[:-1]
        out[g[lasts]] = pos[lasts]
    return out


def group_count(mask: Bool, gid: I64, ngroups: int) -> I64:
    out: I64 = np.bincount(gid[mask], minlength=ngroups).astype(np.int64)
    return out


def _group_reduce(
    ufunc: np.ufunc, v: I64, mask: Bool, gid: I64, ngroups: int, default: int, neutral: int
) -> I64:
    """`ufunc` over the masked members of each group, for `gid` sorted ascending."""
    out = np.full(ngroups, default, dtype=np.int64)
    if len(gid) == 0:
        return out
    starts = np.flatnonzero(first_of_group(gid))
    vals = np.where(mask, v, neutral)
    red = ufunc.reduceat(vals, starts)
    has = np.add.reduceat(mask.astype(np.int64), starts) > 0
    g = gid[starts]
    out[g[has]] = red[has]
    return out


def group_max(v: I64, mask: Bool, gid: I64, ngroups: int, default: int) -> I64:
    """Maximum of `v` over the masked members of each group (`default` for none);
    `gid` sorted ascending."""
    return _group_reduce(np.maximum, v, mask, gid, ngroups, default, np.iinfo(np.int64).min)


def group_min(v: I64, mask: Bool, gid: I64, ngroups: int, default: int) -> I64:
    """Minimum of `v` over the masked members of each group (`default` for none);
    `gid` sorted ascending."""
    return _group_reduce(np.minimum, v, mask, gid, ngroups, default, np.iinfo(np.int64).max)
