"""capture.jit: the prefetch hint and the unrefcounted njit."""

from __future__ import annotations

import platform

import numba
import numpy as np
import pytest

from pathsleuth.capture.jit import prefetch


@numba.njit
def _sum_with_hints(a, off):  # type: ignore[no-untyped-def]
    s = 0
    for i in range(len(off)):
        if i + 4 < len(off):
            prefetch(a, off[i + 4])
        s += a[off[i]]
    return s


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int64])
def test_prefetch_changes_no_result(dtype: type) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 100, 5000).astype(dtype)
    off = np.sort(rng.integers(0, len(a), 700)).astype(np.int64)
    assert _sum_with_hints(a, off) == int(a[off].sum())


def test_prefetch_rejects_non_arrays() -> None:
    @numba.njit
    def bad(x):  # type: ignore[no-untyped-def]
        prefetch(x, 0)

    with pytest.raises(numba.core.errors.TypingError):
        bad(3)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="checks x86 assembly")
def test_prefetch_is_emitted() -> None:
    a = np.zeros(64, np.uint8)
    off = np.arange(0, 64, 8, dtype=np.int64)
    fresh = numba.njit(_sum_with_hints.py_func)
    fresh(a, off)
    asm = "\n".join(fresh.inspect_asm().values())
    assert "prefetcht0" in asm


@numba.njit(inline="always")
def _first_two(b, p):  # type: ignore[no-untyped-def]
    return (np.int64(b[p]) << 8) | np.int64(b[p + 1])


def _kernel(b, off, out, scratch):  # type: ignore[no-untyped-def]
    for i in range(len(off)):
        scratch[0] = _first_two(b, off[i])
        out[i] = scratch[0] if b[off[i]] & 1 else _first_two(b, off[i] + 2)


def test_unrefcounted_kernel_runs_without_refcount_calls() -> None:
    """Same results as plain njit, and no NRT increment/decrement left in its IR."""
    from pathsleuth.capture.jit import njit_unrefcounted

    rng = np.random.default_rng(2)
    b = rng.integers(0, 256, 4096).astype(np.uint8)
    off = np.sort(rng.integers(0, 4000, 300)).astype(np.int64)
    outs = []
    for jit in (numba.njit, njit_unrefcounted()):
        k = jit(_kernel)
        out = np.zeros(len(off), np.int64)
        k(b, off, out, np.zeros(1, np.int64))
        outs.append(out)
        body = next(iter(k.inspect_llvm().values())).split("define ")[1]
        if jit is not numba.njit:
            assert "@NRT_incref(" not in body and "@NRT_decref(" not in body
    assert np.array_equal(outs[0], outs[1])
