"""What the tcp stage's numba passes share about grouped packets.

Packets are kept sorted by a group id (a connection direction, "half") and capture order:
`group_bounds` gives each group's slice, `bound` is the binary search the kernels run
inside one, and `SEQ_MOD`/`SEQ_HALF` are the sequence-space constants for unwrapping.
`connection_ranges` and `on_ranges` run a per-connection kernel (one that writes only its
own connections' packets and halves) on two connection ranges at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

#: TCP sequence space modulus (RFC 9293 section 3.4)
SEQ_MOD = 1 << 32
SEQ_HALF = 1 << 31


def group_bounds(gid: I64, ngroups: int) -> tuple[I64, I64]:
    """Start and end index of each group in an array sorted by `gid` (empty: start == end)."""
    g = np.arange(ngroups, dtype=np.int64)
    start = np.searchsorted(gid, g, side="left").astype(np.int64)
    end = np.searchsorted(gid, g, side="right").astype(np.int64)
    return start, end


@numba.njit(cache=True, inline="always")
def bound(a: Any, lo: int, hi: int, x: Any, right: bool) -> int:
    """First index in sorted a[lo:hi] with a[i] >= x (a[i] > x when `right`); hi if none."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x or (right and a[mid] == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


#: packets below which the per-connection kernels run on one thread (a thread costs more)
PARALLEL_MIN_PACKETS = 200_000


def two_threads(n: int) -> bool:
    """Whether work on `n` packets is worth a second thread: two usable CPUs and at least
    `PARALLEL_MIN_PACKETS` packets."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2 and n >= PARALLEL_MIN_PACKETS


def connection_ranges(start: I64, n_conn: int, n: int) -> list[tuple[int, int]]:
    """Connection ranges of about equal packet counts, one per usable CPU (at most 2);
    `start` is each half's first packet, `n` the packets."""
    if not two_threads(n) or n_conn < 2:
        return [(0, n_conn)]
    # the first connection whose packets start past the middle
    mid = int(np.searchsorted(start[0::2], n // 2))
    mid = min(max(mid, 1), n_conn - 1)
    return [(0, mid), (mid, n_conn)]


def on_ranges(ranges: list[tuple[int, int]], kernel: Callable[..., None], *args: Any) -> None:
    """``kernel(*args, lo, hi)`` for each connection range, at once when there are several
    (the kernel must release the GIL and write only its connections' rows)."""
    if len(ranges) == 1:
        kernel(*args, *ranges[0])
        return
    with ThreadPoolExecutor(len(ranges)) as pool:
        for f in [pool.submit(kernel, *args, lo, hi) for lo, hi in ranges]:
            f.result()
