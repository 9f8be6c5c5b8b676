"""Every capture of ../shared/captures gets the verdict its expected.tsv accepts.

Mapping (MANIFEST.md): pmtu_blackhole, pmtud_working as they are; ptb_received_ignored =
ptb_ignored; middlebox_drop_or_reset = middlebox_reset | middlebox_drop;
plain_loss_or_timeout = packet_loss | peer_unresponsive; none = no error- or
warning-severity finding; malformed_input = a clean BadInput, or no finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pathsleuth.errors import BadInput

pytest.importorskip("pathsleuth.capture.dissect")

from pathsleuth.capture.reader import iter_captures
from pathsleuth.diagnose import analyze_table
from pathsleuth.diagnose.model import Severity
from pathsleuth.tcp.columns import for_analysis

pytestmark = pytest.mark.corpus

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "captures"

VERDICT_MAP = {
    "pmtu_blackhole": {"pmtu_blackhole"},
    "pmtud_working": {"pmtud_working"},
    "ptb_received_ignored": {"ptb_ignored"},
    "middlebox_drop_or_reset": {"middlebox_reset", "middlebox_drop"},
    "plain_loss_or_timeout": {"packet_loss", "peer_unresponsive"},
}


def _expected() -> list[tuple[str, str]]:
    tsv = CAPTURES / "expected.tsv"
    if not tsv.is_file():
        return []
    rows = []
    for line in tsv.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, accepted = line.split("\t")[:2]
        rows.append((name, accepted))
    return rows


@pytest.mark.parametrize(("name", "accepted"), _expected(), ids=[n for n, _ in _expected()])
def test_capture_verdict(captures_dir: Path, name: str, accepted: str) -> None:
    options = set(accepted.split("|"))
    try:
        findings = []
        for cap in iter_captures(str(captures_dir / name)):
            findings.extend(analyze_table(for_analysis(cap.read_all()), file=cap.name).findings)
    except BadInput as e:
        assert "malformed_input" in options, f"unexpected BadInput: {e}"
        return
    serious = {f.verdict.value for f in findings if f.severity != Severity.INFO}
    allowed: set[str] = set()
    for o in options - {"none", "malformed_input"}:
        allowed |= VERDICT_MAP[o]
    if options & {"none", "malformed_input"}:
        # no error/warning finding, except verdicts the line also accepts
        assert serious <= allowed, (name, serious)
        return
    everything = {f.verdict.value for f in findings}
    assert everything & allowed, (name, everything)
    assert serious <= allowed, (name, serious)


def test_expected_table_is_complete(captures_dir: Path) -> None:
    listed = {n for n, _ in _expected()}
    on_disk = {
        str(p.relative_to(captures_dir))
        for p in captures_dir.rglob("*")
        if p.suffix in {".pcap", ".pcapng"}
    }
    assert on_disk <= listed


def test_zeek_smtp_evidence_matches_the_manifest(captures_dir: Path) -> None:
    """MANIFEST: PTB MTU 1492 from 192.168.1.1 in frame 26 quoting frame 22, followed
    within 0.1 ms by the resend at ip.len 1492 in frame 27."""
    for cap in iter_captures(str(captures_dir / "zeek" / "smtp.pcap")):
        result = analyze_table(for_analysis(cap.read_all()), file=cap.name)
    (f,) = [f for f in result.findings if f.verdict.value == "pmtud_working"]
    texts = [e.text for e in f.evidence]
    assert any(
        t.startswith("frame 26: ICMP type 3 code 4 from 192.168.1.1 (1 hop from the capture")
        and "MTU 1492 quoting frame 22" in t
        for t in texts
    ), texts
    (resent,) = [t for t in texts if "resent at ip.len" in t]
    assert resent.startswith("frame 27: resent at ip.len 1492 (<= 1492), 0.055 ms after")
    assert f.path_mtu is not None and (f.path_mtu.low, f.path_mtu.high) == (1492, 1492)
