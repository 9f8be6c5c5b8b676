"""`make bench` runs end to end (on a small capture): it asserts nothing about speed.

The benchmark itself is `bench/run.py`; this only keeps it from rotting between the runs
that produce the figures in README.md (it once broke on the truth sidecar's layout).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "bench" / "gen_pcap.py"


@pytest.mark.slow
@pytest.mark.corpus
def test_bench_runs_on_a_small_capture(tmp_path: Path) -> None:
    if not GEN.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{GEN} missing")
        pytest.skip(f"{GEN} missing")
    env = dict(os.environ, BENCH_OUT=str(tmp_path), BENCH_PACKETS="20000", BENCH_REPEAT="2")
    env["BENCH_LOG_BYTES"] = str(1 << 20)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    tools = {(r["what"], r["tool"]) for r in doc["runs"] if r["ok"]}
    want = {("decode", "pathsleuth"), ("analyze", "pathsleuth")}
    if shutil.which("tshark"):
        want |= {("decode", "tshark"), ("analyze", "tshark")}
    assert want <= tools
    assert all(r["packets"] == 20000 for r in doc["runs"])
    # each figure is the fastest of the repeated runs, all of which are kept
    assert all(len(r["all_seconds"]) == 2 for r in doc["runs"])
    assert all(round(r["seconds"], 3) == min(r["all_seconds"]) for r in doc["runs"] if r["ok"])
    assert all(r["cpu_seconds"] > 0 for r in doc["runs"])
    assert doc["logs"]["blackhole_flagged"] is True
    assert "ratio" in proc.stdout
