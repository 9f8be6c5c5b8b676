"""The process-wide settings an analysis changes while it runs, and puts back afterwards.

`analysis_settings()` wraps `pipeline.analyze_paths`. It changes two things, both
measured with perf on the 2 M-packet bench capture (see README, Performance):

* **NumPy's transparent-huge-page advice, off.** NumPy asks the kernel for 2 MiB pages
  (``madvise(MADV_HUGEPAGE)``) for every array of 4 MiB or more. An analysis allocates a
  few hundred MiB of such arrays once and writes them front to back, so huge pages save
  little TLB work; and on a virtual machine whose balloon reports free memory back to the
  host (Firecracker, QEMU with free-page reporting) each 2 MiB page is taken from memory
  the host has reclaimed, so every first touch is a host fault plus a 2 MiB clear. On the
  bench VM ``clear_page_erms`` under ``do_huge_pmd_anonymous_page`` was 30% of all samples,
  and the 2 M-packet analysis took 2.9–3.4 s with the advice and 1.75–2.3 s without it.
  ``PATHSLEUTH_HUGEPAGES=1`` keeps NumPy's default.
* **The cyclic garbage collector, paused.** An analysis makes tens of thousands of small
  objects (summaries, findings, evidence lines) and no reference cycles worth collecting
  before it returns; each full collection walks every object the process holds.

Both are restored on the way out, exception or not, so a library caller's own settings
are untouched afterwards.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

#: environment variable that keeps NumPy's huge-page advice during an analysis
HUGEPAGES_ENV = "PATHSLEUTH_HUGEPAGES"


def _hugepage_switch() -> Callable[[bool], bool] | None:
    """NumPy's setter for its huge-page advice (it returns the previous value), or None
    on a NumPy without one."""
    for mod in ("_core", "core"):
        multiarray = getattr(getattr(np, mod, None), "multiarray", None)
        setter = getattr(multiarray, "_set_madvise_hugepage", None)
        if callable(setter):
            return setter  # type: ignore[no-any-return]
    return None


@contextmanager
def analysis_settings() -> Iterator[None]:
    """Huge-page advice off (unless ``PATHSLEUTH_HUGEPAGES=1``) and the cyclic GC paused
    for the duration; both put back as they were."""
    setter = None if os.environ.get(HUGEPAGES_ENV) == "1" else _hugepage_switch()
    hugepages_were = setter(False) if setter is not None else None
    gc_was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc_was:
            gc.enable()
        if setter is not None and hugepages_were is not None:
            setter(hugepages_were)
