"""Diagnosis: detectors turn analysed TCP connections into findings with evidence and advice.

    model.py      the JSON contract as frozen data (Finding, Evidence, Advice, Verdict ...)
    context.py    what detectors read: connections, ICMP matches, capture point, stalls
    registry.py   the detector registry and the finding builder
    pmtu.py       pmtu_blackhole (outbound and inbound view), pmtud_working, ptb_ignored
    middlebox.py  middlebox_reset (forged RSTs), middlebox_drop (content-triggered stalls)
    loss.py       peer_unresponsive, packet_loss
    advice.py     ranked remedies with commands, persistence and trade-offs
    engine.py     analyze_table(): tcp stage + detectors -> AnalysisResult

Measurement only: nothing here prints; `report/` renders the result.
"""

from pathsleuth.diagnose.engine import AnalysisResult, analyze_table, merge_all

__all__ = ["AnalysisResult", "analyze_table", "merge_all"]
