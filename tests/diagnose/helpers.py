"""Run the diagnosis on a scripted table and pick findings out."""

from __future__ import annotations

from pathsleuth.capture.table import PacketTable
from pathsleuth.diagnose import AnalysisResult, analyze_table
from pathsleuth.diagnose.model import Finding, Verdict
from pathsleuth.tcp.columns import split_for_analysis


def run(t: PacketTable) -> AnalysisResult:
    """The analysis as `analyze_paths` runs it: on the TCP rows and the ICMP rows kept
    apart, each with the columns the analysis reads of them."""
    tcp, icmp = split_for_analysis(t)
    return analyze_table(tcp, file="test.pcap", charts=True, icmp=icmp)


def only(result: AnalysisResult, verdict: Verdict) -> Finding:
    got = [f.verdict.value for f in result.findings]
    assert got == [verdict.value], got
    return result.findings[0]


def text(f: Finding) -> str:
    return "\n".join(e.text for e in f.evidence)
