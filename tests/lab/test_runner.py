"""Every scenario, run for real: the capture shows the scenario's ground truth (read with
tshark as the independent reference) and the delivery ends as the scenario says.

Each scenario runs once per session (`lab_run` fixture); the lead's "analyze gives the
expected verdict" tests can reuse `LabRun.capture` and `LabRun.expected_verdict`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from pathsleuth.lab.runner import DEFAULT_SIZE, LabRun, make_message
from pathsleuth.lab.scenarios import CONTENT_MARKER, IPS_MARKER, SCENARIOS
from pathsleuth.lab.topology import LabError  # noqa: F401  (import check: lab importable)

TsharkFn = Callable[..., list[list[str]]]
_tshark: TsharkFn | None = None


@pytest.fixture(autouse=True)
def _bind_tshark(tshark: TsharkFn) -> None:
    global _tshark
    _tshark = tshark


def tshark_fields(pcap: Path, display_filter: str, *fields: str) -> list[list[str]]:
    assert _tshark is not None
    return _tshark(pcap, display_filter, *fields)


RunFn = Callable[..., object]
FIXES = sorted(n for n, s in SCENARIOS.items() if s.is_fix)


def _run(lab_run: RunFn, name: str, sender: str = "postfix") -> LabRun:
    return cast(LabRun, lab_run(name, sender))


def _client_data(run: LabRun) -> list[tuple[int, int, int, int]]:
    """(frame, seq, tcp payload length, IP packet length) of client->server data segments."""
    ip = "ip" if run.family == 4 else "ipv6"
    rows = tshark_fields(
        run.capture,
        f"{ip}.src == {run.client_addr} && tcp.dstport == 25 && tcp.len > 0",
        "frame.number",
        "tcp.seq",
        "tcp.len",
        "ip.len" if run.family == 4 else "ipv6.plen",
    )
    extra = 0 if run.family == 4 else 40  # IPv6 payload length excludes the fixed header
    return [(int(f), int(s), int(n), int(length) + extra) for f, s, n, length in rows]


def _retransmitted(run: LabRun) -> Counter[int]:
    """seq -> times sent, for data segments sent more than once."""
    counts = Counter(seq for _f, seq, _n, _len in _client_data(run))
    return Counter({seq: c for seq, c in counts.items() if c > 1})


def _ptb_frames(run: LabRun) -> list[list[str]]:
    if run.family == 4:
        return tshark_fields(
            run.capture, "icmp.type == 3 && icmp.code == 4", "frame.number", "icmp.mtu"
        )
    return tshark_fields(run.capture, "icmpv6.type == 2", "frame.number", "icmpv6.mtu")


def _assert_delivery(run: LabRun) -> None:
    scenario = SCENARIOS[run.scenario]
    assert run.delivered is scenario.expect_delivery, run.delivery_detail
    assert run.received == (1 if scenario.expect_delivery else 0)
    assert run.outcome_as_expected
    assert run.capture.stat().st_size > 0
    assert run.total_s < 60, "a scenario must end well within a minute"


def _max_server_ack(run: LabRun) -> int:
    ip = "ip" if run.family == 4 else "ipv6"
    acks = tshark_fields(
        run.capture, f"{ip}.src == {run.server_addr} && tcp.flags.ack == 1", "tcp.ack"
    )
    return max(int(a[0]) for a in acks)


# ---- every scenario ----------------------------------------------------------------------


@pytest.mark.needs_root
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_delivery_outcome(lab_run: RunFn, name: str) -> None:
    run = _run(lab_run, name)
    _assert_delivery(run)
    assert run.expected_verdict == (
        SCENARIOS[name].expected_verdict.value if SCENARIOS[name].expected_verdict else None
    )
    log = run.sender_log.read_text()
    assert "status=sent" in log if run.delivered else "status=deferred" in log


@pytest.mark.needs_root
@pytest.mark.slow
@pytest.mark.parametrize("name", ["blackhole", "blackhole6"])
def test_blackhole_ground_truth(lab_run: RunFn, name: str) -> None:
    run = _run(lab_run, name)
    data = _client_data(run)
    full = [d for d in data if d[3] == 1500]
    assert full, "the client must send full-size (1500-byte) packets"
    first_full_seq = min(seq for _f, seq, _n, _len in full)
    retrans = _retransmitted(run)
    assert retrans.get(first_full_seq, 0) >= 3, "the first full-size segment is retransmitted"
    assert all(ln == 1500 for _f, seq, _n, ln in data if seq == first_full_seq)
    if run.family == 4:
        df = tshark_fields(run.capture, "ip.len == 1500 && ip.flags.df == 0", "frame.number")
        assert df == [], "every full-size packet carries DF"
    assert _ptb_frames(run) == [], "no ICMP 3/4 / packet too big reaches the client"
    assert _max_server_ack(run) <= first_full_seq, "the server never ACKs a full-size segment"
    log = run.sender_log.read_text()
    assert "timed out while sending message body" in log


@pytest.mark.needs_root
@pytest.mark.slow
def test_pmtud_ok_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "pmtud-ok")
    ptb = _ptb_frames(run)
    assert ptb and {row[1] for row in ptb} == {"1400"}
    first_ptb = int(ptb[0][0])
    later = [ln for f, _s, _n, ln in _client_data(run) if f > first_ptb + 20]
    assert later and max(later) <= 1400


@pytest.mark.needs_root
@pytest.mark.slow
def test_ptb_ignored_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "ptb-ignored")
    ptb = _ptb_frames(run)
    assert len(ptb) >= 2, "r1 sends ICMP 3/4 and the capture sees it"
    first_ptb = int(ptb[0][0])
    full_after = [f for f, _s, _n, ln in _client_data(run) if f > first_ptb and ln == 1500]
    assert len(full_after) >= 3, "the client keeps sending full-size segments"
    assert max(_retransmitted(run).values()) >= 3


@pytest.mark.needs_root
@pytest.mark.slow
def test_rst_middlebox_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "rst-middlebox")
    rst = tshark_fields(
        run.capture,
        f"ip.src == {run.server_addr} && tcp.flags.reset == 1",
        "frame.number",
        "ip.ttl",
    )
    assert rst, "a RST arrives claiming to be from the server"
    synack_ttl = tshark_fields(run.capture, "tcp.flags.syn == 1 && tcp.flags.ack == 1", "ip.ttl")[
        0
    ][0]
    # the forged RST comes from r1, one hop away; the server is three hops away
    assert int(rst[0][1]) > int(synack_ttl)
    marker = tshark_fields(run.capture, f'tcp.payload contains "{CONTENT_MARKER}"', "frame.number")
    assert marker and int(marker[0][0]) < int(rst[0][0])
    assert "lost connection" in run.sender_log.read_text()


@pytest.mark.needs_root
@pytest.mark.slow
def test_ips_drop_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "ips-drop")
    sig = tshark_fields(run.capture, f'tcp.payload contains "{IPS_MARKER}"', "tcp.seq")
    assert len(sig) >= 3, "the segment with the signature is retransmitted"
    assert len({row[0] for row in sig}) == 1
    sack = tshark_fields(
        run.capture, f"ip.src == {run.server_addr} && tcp.options.sack_le", "frame.number"
    )
    assert sack, "the server SACKs data beyond the dropped segment"
    assert _max_server_ack(run) <= int(sig[0][0])
    resets = tshark_fields(run.capture, "tcp.flags.reset == 1", "frame.number")
    assert resets == []
    assert _ptb_frames(run) == []


@pytest.mark.needs_root
@pytest.mark.slow
def test_loss_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "loss")
    retrans = tshark_fields(
        run.capture,
        "tcp.analysis.retransmission || tcp.analysis.fast_retransmission",
        "frame.number",
    )
    assert retrans, "the dropped packets are resent"
    assert max(ln for *_x, ln in _client_data(run)) == 1500


@pytest.mark.needs_root
@pytest.mark.slow
def test_tso_capture_shows_super_segments(lab_run: RunFn) -> None:
    run = _run(lab_run, "tso-capture")
    assert max(ln for *_x, ln in _client_data(run)) > 1500


@pytest.mark.needs_root
@pytest.mark.slow
def test_fix_mss_clamp_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "fix-mss-clamp")
    synack = tshark_fields(
        run.capture, "tcp.flags.syn == 1 && tcp.flags.ack == 1", "tcp.options.mss_val"
    )
    assert synack == [["1360"]]
    assert max(ln for *_x, ln in _client_data(run)) <= 1400


@pytest.mark.needs_root
@pytest.mark.slow
def test_fix_mtu_probing_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "fix-mtu-probing")
    data = _client_data(run)
    full = [(f, seq) for f, seq, _n, ln in data if ln == 1500]
    assert full, "full-size segments are tried first"
    first_full_seq = min(seq for _f, seq in full)
    assert _retransmitted(run).get(first_full_seq, 0) >= 2, "and lost"
    # RFC 4821 fallback: tcp_base_mss-sized segments (1024 + 12 option bytes + 40 headers)
    assert any(ln <= 1076 for *_x, ln in data)
    # ... and the whole message gets ACKed
    assert _max_server_ack(run) - first_full_seq >= run.message_size - 2000


@pytest.mark.needs_root
@pytest.mark.slow
def test_fix_no_pmtu_disc_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "fix-no-pmtu-disc")
    df = tshark_fields(
        run.capture,
        f"ip.src == {run.client_addr} && tcp.len > 0 && ip.flags.df == 1",
        "frame.number",
    )
    assert df == [], "no data segment from the client carries DF"
    assert max(ln for *_x, ln in _client_data(run)) == 1500


@pytest.mark.needs_root
@pytest.mark.slow
def test_fix_route_mtu_ground_truth(lab_run: RunFn) -> None:
    run = _run(lab_run, "fix-route-mtu")
    syn = tshark_fields(
        run.capture, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.options.mss_val"
    )
    assert syn == [["1360"]]
    assert max(ln for *_x, ln in _client_data(run)) <= 1400


@pytest.mark.needs_root
@pytest.mark.slow
@pytest.mark.parametrize("fix", FIXES)
def test_fix_turns_failure_into_delivery(lab_run: RunFn, fix: str) -> None:
    failing = _run(lab_run, cast(str, SCENARIOS[fix].fix_of))
    fixed = _run(lab_run, fix)
    assert not failing.delivered and failing.received == 0
    assert fixed.delivered and fixed.received == 1


# ---- the light sender -------------------------------------------------------------------


@pytest.mark.needs_root
@pytest.mark.slow
@pytest.mark.parametrize("name", ["blackhole", "pmtud-ok"])
def test_smtplib_sender(lab_run: RunFn, name: str) -> None:
    run = _run(lab_run, name, "smtplib")
    _assert_delivery(run)
    assert run.postfix_log is None
    text = run.sender_log.read_text()
    if run.delivered:
        assert "sent" in text
    else:
        assert "error: " in text and ("timed out" in text or "Timeout" in text)
        assert run.transfer_s < 40


def test_message_size_and_markers() -> None:
    msg = make_message(DEFAULT_SIZE)
    assert abs(len(msg) - DEFAULT_SIZE) < 200
    assert msg.count(IPS_MARKER.encode()) == 1
    assert CONTENT_MARKER.encode() in msg[:1000]
    assert all(len(line) <= 998 for line in msg.split(b"\r\n"))  # RFC 5322 section 2.1.1
    assert make_message(5000, marker=False).count(IPS_MARKER.encode()) == 0


@pytest.mark.needs_root
@pytest.mark.slow
def test_run_json_written(lab_run: RunFn, tmp_path: Path) -> None:
    import json

    run = _run(lab_run, "pmtud-ok")
    doc = json.loads((run.out_dir / "run.json").read_text())
    assert doc["scenario"] == "pmtud-ok" and doc["delivered"] is True
    assert doc["expected_verdict"] == "pmtud_working"
    assert Path(doc["capture"]) == run.capture


@pytest.mark.needs_root
@pytest.mark.slow
@pytest.mark.parametrize(("mtu", "routers"), [(1280, 3), (1492, 2)])
def test_other_mtus_and_path_lengths(
    tmp_path: Path, lab_prefix: str, mtu: int, routers: int
) -> None:
    from pathsleuth.lab.runner import run_scenario

    run = run_scenario(
        "pmtud-ok",
        tmp_path,
        sender="smtplib",
        size=30_000,
        mtu=mtu,
        routers=routers,
        prefix=lab_prefix,
    )
    assert run.delivered and run.path_mtu == mtu
    ptb = tshark_fields(run.capture, "icmp.type == 3 && icmp.code == 4", "icmp.mtu", "ip.src")
    assert ptb and ptb[0][0] == str(mtu)
    assert ptb[0][1] == "198.18.0.2"  # r1 owns the small link (small_link = 1)
    later = [ln for *_x, ln in _client_data(run)][-5:]
    assert max(later) <= mtu
