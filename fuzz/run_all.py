"""Run every atheris fuzz target in this folder for a bounded time.

Each `fuzz_*.py` defines `TestOneInput(data: bytes)` and calls `atheris.Fuzz()` under
`__main__`. This runner starts each one in its own process with libFuzzer's
`-max_total_time`, a memory cap and a hard wall-clock timeout, and fails (exit 1) if any
target finds a crash. Used by `make fuzz` (longer) and `make test` (a short smoke run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: libFuzzer RSS cap per target (MiB); numba's JIT alone needs a few hundred
RSS_LIMIT_MB = 3072
#: grace on top of the fuzzing time for imports and numba compilation (s)
STARTUP_GRACE_S = 120


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=20, help="fuzzing time per target")
    ap.add_argument("targets", nargs="*", help="target names (default: all fuzz_*.py)")
    args = ap.parse_args()
    targets = sorted(HERE.glob("fuzz_*.py"))
    if args.targets:
        targets = [t for t in targets if t.stem in args.targets or t.name in args.targets]
    if not targets:
        print("fuzz: no targets found", file=sys.stderr)
        return 1
    failed = []
    for target in targets:
        with tempfile.TemporaryDirectory(prefix=f"{target.stem}-") as work:
            cmd = [
                sys.executable,
                str(target),
                f"-max_total_time={args.seconds}",
                f"-rss_limit_mb={RSS_LIMIT_MB}",
                "-print_final_stats=1",
                f"-artifact_prefix={work}/",
            ]
            t0 = time.monotonic()
            try:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=args.seconds + STARTUP_GRACE_S,
                    cwd=work,
                )
            except subprocess.TimeoutExpired:
                print(f"fuzz {target.stem}: FAILED (did not stop in time)")
                failed.append(target.stem)
                continue
            dt = time.monotonic() - t0
            runs = next(
                (
                    ln.split(":")[-1].strip()
                    for ln in proc.stderr.splitlines()
                    if "stat::number_of_executed_units" in ln
                ),
                "?",
            )
            if proc.returncode != 0:
                print(f"fuzz {target.stem}: FAILED (exit {proc.returncode}, {dt:.0f}s)")
                print(proc.stderr[-4000:])
                failed.append(target.stem)
            else:
                print(f"fuzz {target.stem}: ok, {runs} inputs in {dt:.0f}s")
    if failed:
        print(f"fuzz: {len(failed)} of {len(targets)} targets failed: {', '.join(failed)}")
        return 1
    print(f"fuzz: {len(targets)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
