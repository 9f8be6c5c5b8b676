"""Black-hole precision and recall on gen_pcap.py output against its truth sidecar.

The generator (../shared/bench/gen_pcap.py) writes PMTU black-hole flows, PMTUD-ok flows
(ICMP 3/4 then smaller resends) and ~1% random loss in the other flows. Every black-hole
flow must be found (recall 1.0), nothing else called a black hole (precision 1.0), and
every PMTUD-ok flow must come out pmtud_working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pathsleuth.capture.dissect")

from pathsleuth.capture.reader import iter_captures
from pathsleuth.diagnose import analyze_table
from pathsleuth.diagnose.model import Finding, Verdict
from pathsleuth.pipeline import analyze_paths
from pathsleuth.tcp.columns import for_analysis

GEN = Path(__file__).resolve().parents[3] / "shared" / "bench" / "gen_pcap.py"

Key = tuple[str, int, str, int]


def _key(f: Finding, known: set[Key]) -> Key:
    a = (f.flow.src, f.flow.sport, f.flow.dst, f.flow.dport)
    b = (f.flow.dst, f.flow.dport, f.flow.src, f.flow.sport)
    return a if a in known else b


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("path", ["table", "pipeline"])
def test_blackhole_precision_recall(tmp_path: Path, path: str) -> None:
    """Through `analyze_table` on the whole table, and through `analyze_paths`, which
    keeps the rows chunk by chunk without their 4-tuple (flows numbered while reading)."""
    if not GEN.is_file():
        pytest.skip(f"{GEN} missing")
    pcap, truth_file = tmp_path / "b.pcap", tmp_path / "b.json"
    subprocess.run(
        [sys.executable, str(GEN), "--seed", "5", "--packets", "200000", "--flows", "1000",
         "--out", str(pcap), "--truth", str(truth_file)],
        check=True, capture_output=True,
    )  # fmt: skip
    truth = json.loads(truth_file.read_text())
    bh = {(d["client"], d["cport"], d["server"], d["sport"]) for d in truth["blackhole_flows"]}
    pm = {(d["client"], d["cport"], d["server"], d["sport"]) for d in truth["pmtud_ok_flows"]}
    assert bh and pm
    if path == "table":
        (result,) = [
            analyze_table(for_analysis(cap.read_all()), file=cap.name)
            for cap in iter_captures(str(pcap))
        ]
    else:
        result = analyze_paths([str(pcap)])
    assert len(result.connections) == truth["tcp_flows"]
    got_bh = {_key(f, bh | pm) for f in result.findings if f.verdict == Verdict.PMTU_BLACKHOLE}
    got_pm = {_key(f, bh | pm) for f in result.findings if f.verdict == Verdict.PMTUD_WORKING}
    tp = len(got_bh & bh)
    precision, recall = tp / len(got_bh), tp / len(bh)
    assert (precision, recall) == (1.0, 1.0), (sorted(got_bh - bh), sorted(bh - got_bh))
    assert got_pm == pm
