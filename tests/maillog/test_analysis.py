"""The corpus logs end to end: no crash, the MANIFEST's classifications."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathsleuth.maillog.analysis import analyze_logs
from pathsleuth.maillog.events import ErrorClass
from pathsleuth.maillog.triage import Confidence

pytestmark = pytest.mark.corpus


def test_exim_0525_is_pmtu_suspect(maillogs_dir: Path) -> None:
    a = analyze_logs([str(maillogs_dir / "exim" / "test_log_0525.log")])
    (s,) = a.triage.suspects
    assert s.destination == "pqr" and s.in_body == 1 and s.confidence is Confidence.STRONG
    assert a.files[0].format == "exim" and a.files[0].unknown_lines == 0


def test_exim_0498_policy_defer_and_weak_suspect(maillogs_dir: Path) -> None:
    t = analyze_logs([str(maillogs_dir / "exim" / "test_log_0498.log")]).triage
    classes = dict((c.error_class, c.attempts) for c in t.classes)
    assert classes[ErrorClass.DEFERRED_4XX] == 1  # 450 DELAY after MAIL FROM
    assert classes[ErrorClass.PMTU_LIKE_AFTER_DATA] == 1
    (s,) = t.suspects
    assert s.confidence is Confidence.WEAK and s.in_body == 0


@pytest.mark.parametrize("name", ["test_log_0553.log", "test_log_0211.log"])
def test_exim_not_pmtu(maillogs_dir: Path, name: str) -> None:
    t = analyze_logs([str(maillogs_dir / "exim" / name)]).triage
    assert t.suspects == ()
    assert ErrorClass.PMTU_LIKE_AFTER_DATA not in {c.error_class for c in t.classes}
    assert t.failed > 0


def test_exim_0553_rcpt_timeout(maillogs_dir: Path) -> None:
    t = analyze_logs([str(maillogs_dir / "exim" / "test_log_0553.log")]).triage
    assert {c.error_class for c in t.classes} == {ErrorClass.TIMEOUT_BEFORE_DATA}
    assert t.delivered == 1


@pytest.mark.parametrize(
    ("name", "fmt"), [("postfix.log", "postfix"), ("sendmail-reject.log", "sendmail")]
)
def test_fail2ban_not_pmtu(maillogs_dir: Path, name: str, fmt: str) -> None:
    a = analyze_logs([str(maillogs_dir / "fail2ban" / name)])
    (f,) = a.files
    assert f.format == fmt and f.unknown_lines == 0
    assert f.comment_lines > 40  # the "# failJSON" lines are skipped, not parsed
    assert a.triage.suspects == ()
    assert not a.has_suspect


def test_fail2ban_postfix_inbound_note(maillogs_dir: Path) -> None:
    t = analyze_logs([str(maillogs_dir / "fail2ban" / "postfix.log")]).triage
    assert [(n.ip, n.drops) for n in t.inbound] == [("192.0.2.10", 1)]


def test_every_corpus_log_parses(maillogs_dir: Path) -> None:
    logs = sorted(str(p) for p in maillogs_dir.rglob("*.log"))
    assert len(logs) >= 6
    for p in logs:
        analyze_logs([p])


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_lab_blackhole_postfix_log_is_flagged() -> None:
    """A real Postfix 3.7 maillog_file from the lab's black-hole scenario."""
    log = EXAMPLES / "blackhole" / "postfix.log"
    if not log.is_file():
        pytest.skip("examples/blackhole/postfix.log not generated")
    a = analyze_logs([str(log)])
    assert a.files[0].format == "postfix" and a.files[0].unknown_lines == 0
    (s,) = a.triage.suspects
    assert s.in_body == 1 and s.smallest_failing is not None and s.smallest_failing > 50_000
    assert s.ip is not None
