"""Grouped (segmented) NumPy primitives of the whole-array formulations the tcp stage's
numba passes replaced, kept for the oracles (`directions_reference.py` and the
differential tests); `test_groups.py` checks them against plain Python.

Packets are sorted by a group id (a connection direction, "half") and capture order, so
per-group running maxima, first/last members and searches are a handful of whole-array
operations; the segmented scans and the per-group binary searches are numba loops.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from pathsleuth.tcp.groups import I64, SEQ_HALF, SEQ_MOD, bound

Bool = npt.NDArray[np.bool_]


def signed32(x: I64) -> I64:
    """Differences of 32-bit sequence numbers as signed values in [-2^31, 2^31)."""
    out: I64 = ((x + SEQ_HALF) & (SEQ_MOD - 1)) - SEQ_HALF
    return out


def first_of_group(gid: I64) -> Bool:
    """True where a new group starts (input sorted by `gid`)."""
    out = np.ones(len(gid), dtype=bool)
    if len(gid) > 1:
        out[1:] = gid[1:] != gid[:-1]
    return out


@numba.njit(cache=True)
def _seg_cumsum(v: Any, gid: Any, out: Any) -> None:
    acc = np.int64(0)
    for i in range(len(v)):
        if i == 0 or gid[i] != gid[i - 1]:
            acc = np.int64(0)
        acc += v[i]
        out[i] = acc


def seg_cumsum(v: I64, gid: I64) -> I64:
    """Inclusive cumulative sum restarting at each group (input sorted by `gid`).

    A segmented scan needs a handful of whole-array passes in NumPy; numba does it in one
    (this and `seg_cummax` run over every packet several times per analysis)."""
    out = np.empty(len(v), dtype=np.int64)
    _seg_cumsum(np.asarray(v, dtype=np.int64), gid, out)
    return out


@numba.njit(cache=True)
def _seg_cummax(v: Any, gid: Any, exclusive: bool, fill: int, out: Any) -> None:
    run = np.int64(0)
    for i in range(len(v)):
        first = i == 0 or gid[i] != gid[i - 1]
        x = np.int64(v[i])
        if exclusive:
            out[i] = fill if first else run
        if first or x > run:
            run = x
        if not exclusive:
            out[i] = run


def seg_cummax(v: I64, gid: I64, *, exclusive: bool = False, fill: int = -(1 << 62)) -> I64:
    """Running maximum restarting at each group (input sorted by `gid`).

    With `exclusive`, element i gets the maximum of the group's elements before i
    (`fill` for the first element of a group)."""
    out = np.empty(len(v), dtype=np.int64)
    _seg_cummax(np.asarray(v, dtype=np.int64), gid, exclusive, fill, out)
    return out


@numba.njit(cache=True)
def _unwrap32(v: Any, gid: Any, start_base: Any, out: Any) -> None:
    acc = np.int64(0)
    k = -1
    for i in range(len(v)):
        x = np.int64(v[i])
        if i == 0 or gid[i] != gid[i - 1]:
            k += 1
            d = x - np.int64(start_base[k])
            acc = np.int64(0)
        else:
            d = x - np.int64(v[i - 1])
        acc += ((d + SEQ_HALF) & (SEQ_MOD - 1)) - SEQ_HALF
        out[i] = acc


def unwrap32(v: I64, gid: I64, start_base: I64) -> I64:
    """32-bit sequence-space values made relative and unwrapped per group (input sorted
    by `gid`): a group's first value is measured from its entry in `start_base` (one per
    run of equal `gid`, in order), each later one adds the signed step from its
    predecessor (`signed32`), so the result counts across 2^32 wraps."""
    out = np.empty(len(v), dtype=np.int64)
    _unwrap32(v, gid, np.asarray(start_base, dtype=np.int64), out)
    return out


@numba.njit(cache=True)
def _grouped_searchsorted(tg: Any, tv: Any, qg: Any, qv: Any, right: bool, out: Any) -> None:
    nt = len(tg)
    start = end = 0
    for k in range(len(qg)):
        g = qg[k]
        if k == 0 or g != qg[k - 1]:  # queries come in runs of one group: search once per run
            # the group's slice [start, end) of the targets
            start = bound(tg, 0, nt, g, False)
            end = bound(tg, start, nt, g, True)
        out[k] = bound(tv, start, end, qv[k], right)


def grouped_searchsorted(tg: I64, tv: I64, qg: I64, qv: I64, *, side: str = "left") -> I64:
    """`searchsorted` of each query inside its own group of a (group, value)-sorted target.

    Returns, for every query, the global index of the first target of the query's group
    with value >= qv (side "left") or > qv (side "right"); when there is none, the index
    just past the group (the caller checks `idx < len(t)` and `tg[idx] == qg`). Three
    binary searches per query in numba: no composite keys, whatever the value range.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    out = np.empty(len(qg), dtype=np.int64)
    _grouped_searchsorted(tg, tv, qg, qv, side == "right", out)
    return out


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
