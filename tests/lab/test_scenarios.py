"""Scenario registry: complete, consistent, and every fix names the failure it repairs."""

from __future__ import annotations

import pytest

from pathsleuth.diagnose.model import Verdict
from pathsleuth.lab.scenarios import SCENARIOS, get_scenario

ISSUE_SCENARIOS = {
    "blackhole",
    "blackhole6",
    "pmtud-ok",
    "ptb-ignored",
    "rst-middlebox",
    "ips-drop",
    "loss",
    "tso-capture",
    "fix-mss-clamp",
    "fix-mtu-probing",
    "fix-no-pmtu-disc",
    "fix-route-mtu",
}


def test_registry_has_every_scenario_of_the_issue() -> None:
    assert set(SCENARIOS) == ISSUE_SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_consistent(name: str) -> None:
    s = SCENARIOS[name]
    assert s.name == name and s.summary and s.ground_truth
    if s.expect_error_finding:
        assert s.expected_verdict is not None
        assert not s.expect_delivery
    if s.is_fix:
        assert s.fix_of in SCENARIOS and not SCENARIOS[s.fix_of].expect_delivery
        assert s.expect_delivery and not s.expect_error_finding
        assert s.spec == SCENARIOS[s.fix_of].spec


def test_expected_verdicts() -> None:
    assert get_scenario("blackhole").expected_verdict is Verdict.PMTU_BLACKHOLE
    assert get_scenario("blackhole6").family == 6
    assert get_scenario("pmtud-ok").expected_verdict is Verdict.PMTUD_WORKING
    assert get_scenario("ptb-ignored").expected_verdict is Verdict.PTB_IGNORED
    assert get_scenario("rst-middlebox").expected_verdict is Verdict.MIDDLEBOX_RESET
    assert get_scenario("ips-drop").expected_verdict is Verdict.MIDDLEBOX_DROP
    assert get_scenario("loss").expected_verdict is Verdict.PACKET_LOSS
    assert get_scenario("tso-capture").spec.offloads


def test_unknown_scenario() -> None:
    with pytest.raises(KeyError, match="known: blackhole"):
        get_scenario("nope")
