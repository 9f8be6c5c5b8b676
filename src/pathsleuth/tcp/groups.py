"""What the tcp stage's numba passes share about grouped packets.

Packets are kept sorted by a group id (a connection direction, "half") and capture order:
`group_bounds` gives each group's slice, `bound` is the binary search the kernels run
inside one, and `SEQ_MOD`/`SEQ_HALF` are the sequence-space constants for unwrapping.
"""

from __future__ import annotations

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
