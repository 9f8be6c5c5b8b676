"""TCP_INFO decoding against a real loopback connection, the SMTP verdicts, and a
loopback SMTP session against a real aiosmtpd server (all without root)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.diagnose.model import Severity, Verdict
from pathsleuth.probe.smtp import (
    TCP_INFO_MIN,
    TCP_INFO_SIZE,
    Attempt,
    classify,
    parse_tcp_info,
    probe_smtp,
    read_tcp_info,
)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    srv = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(srv.getsockname(), timeout=5)
    peer, _ = srv.accept()
    try:
        yield cli, peer
    finally:
        cli.close()
        peer.close()
        srv.close()


def test_layout_matches_the_kernel_header() -> None:
    # include/uapi/linux/tcp.h: total_retrans ends at byte 104, bytes_retrans at 216
    assert TCP_INFO_MIN == 104
    assert TCP_INFO_SIZE == 216


def test_tcp_info_on_loopback(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    cli, peer = tcp_pair
    cli.sendall(b"x" * 100_000)
    got = 0
    while got < 100_000:
        got += len(peer.recv(65536))
    time.sleep(0.05)
    info = read_tcp_info(cli)
    assert info.state == 1  # TCP_ESTABLISHED
    assert info.pmtu in (65535, 65536)  # loopback MTU, capped at the IP maximum
    assert info.bytes_acked is not None and info.bytes_acked >= 100_000
    assert info.bytes_sent is not None and info.bytes_sent >= 100_000
    assert info.unacked == 0 and info.total_retrans == 0
    assert 0 < info.snd_mss <= 65536 - 40
    assert info.rto >= 200_000  # Linux TCP_RTO_MIN is 200 ms
    assert info.packet_size(4) == info.snd_mss + (12 if info.timestamps else 0) + 40


@pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2 ss not installed")
def test_tcp_info_agrees_with_ss(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    """Differential test: iproute2's ss decodes the same struct tcp_info."""
    cli, peer = tcp_pair
    cli.sendall(b"y" * 50_000)
    got = 0
    while got < 50_000:
        got += len(peer.recv(65536))
    time.sleep(0.05)
    info = read_tcp_info(cli)
    port = cli.getsockname()[1]
    out = subprocess.run(
        ["ss", "-tinH", "src", f"127.0.0.1:{port}"], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(re.findall(r"\b(mss|pmtu|rcvmss|advmss|bytes_acked|bytes_sent):(\d+)", out))
    assert int(fields["mss"]) == info.snd_mss
    assert int(fields["pmtu"]) == info.pmtu
    assert int(fields["advmss"]) == info.advmss
    assert int(fields["rcvmss"]) == info.rcv_mss
    assert (
        int(fields["bytes_acked"]) - 1 == info.bytes_acked
        or int(fields["bytes_acked"]) == info.bytes_acked
    )
    assert int(fields["bytes_sent"]) == info.bytes_sent


def test_short_and_old_kernel_struct() -> None:
    with pytest.raises(ValueError):
        parse_tcp_info(b"\0" * 50)
    old = parse_tcp_info(b"\1" + b"\0" * (TCP_INFO_MIN - 1))
    assert old.state == 1 and old.bytes_acked is None and old.bytes_sent is None


def _a(**kw: object) -> Attempt:
    base: dict[str, object] = dict(
        mss_set=None, local="198.18.0.1", lport=40000, ehlo_ok=True, burst_bytes=14500,
        snd_mss_start=1448, snd_mss_end=1448, pmtu_start=1500, pmtu_end=1500,
        peer_mss=1460, packet_size=1500,
    )  # fmt: skip
    base.update(kw)
    return Attempt(**base)  # type: ignore[arg-type]


def _classify(attempts: list[Attempt]):  # type: ignore[no-untyped-def]
    return classify(attempts, address="198.18.2.2", port=25, family=4)


def test_classify_blackhole_with_search() -> None:
    atts = [
        _a(acked=False, stalled_s=10.0, retransmits=6),
        _a(mss_set=536, acked=True, packet_size=576, snd_mss_start=524, snd_mss_end=524),
        _a(mss_set=1360, acked=True, packet_size=1400, snd_mss_start=1348, snd_mss_end=1348),
        _a(mss_set=1361, acked=False, packet_size=1401, snd_mss_start=1349, snd_mss_end=1349),
    ]
    finding, mtu, clamped, _ = _classify(atts)
    assert finding is not None and finding.verdict is Verdict.PMTU_BLACKHOLE
    assert finding.severity is Severity.ERROR and finding.recovered is False
    assert mtu is not None and (mtu.low, mtu.high) == (1400, 1401)
    assert not clamped
    assert len(finding.evidence) == 4 and "NOT" not in finding.evidence[0].text
    assert "not acknowledged" in finding.evidence[0].text


def test_classify_pmtud_working() -> None:
    finding, mtu, _, _ = _classify(
        [_a(acked=True, snd_mss_end=1348, pmtu_end=1400, retransmits=12)]
    )
    assert finding is not None and finding.verdict is Verdict.PMTUD_WORKING
    assert finding.severity is Severity.INFO
    assert mtu is not None and mtu.high == 1400


def test_classify_mss_clamp_is_no_finding() -> None:
    finding, mtu, clamped, notes = _classify(
        [_a(acked=True, snd_mss_start=1348, snd_mss_end=1348, peer_mss=1360, packet_size=1400)]
    )
    assert finding is None and clamped and mtu is not None and mtu.low == 1400
    assert any("clamps" in n for n in notes)


def test_classify_recovered_by_mtu_probing() -> None:
    finding, mtu, _, _ = _classify([_a(acked=True, stalled_s=4.2, snd_mss_end=1012, retransmits=5)])
    assert finding is not None and finding.verdict is Verdict.PMTU_BLACKHOLE
    assert finding.recovered is True and finding.severity is Severity.WARNING
    assert mtu is not None and mtu.low == 1012 + 52 and mtu.high == 1500


def test_classify_nothing_passes_is_unresponsive_peer() -> None:
    finding, _, _, _ = _classify([_a(acked=False), _a(mss_set=536, acked=False, packet_size=576)])
    assert finding is not None and finding.verdict is Verdict.PEER_UNRESPONSIVE


def test_classify_failed_session() -> None:
    finding, mtu, _, notes = _classify([_a(ehlo_ok=False, error="banner '554 go away' is not 220")])
    assert finding is None and mtu is None and "554" in notes[-1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, int]]:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            raise AssertionError("the probe must never send DATA")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield "127.0.0.1", port
    finally:
        ctl.stop()


def test_probe_smtp_on_loopback_passes(smtp_server: tuple[str, int]) -> None:
    host, port = smtp_server
    res = probe_smtp(host, 4, port=port)
    assert res.finding is None and not res.mss_clamped
    (a,) = res.attempts
    assert a.ehlo_ok and a.acked and a.passed and a.retransmits == 0
    assert a.banner.startswith("220")
    assert a.burst_bytes >= 10 * a.snd_mss_start or a.burst_bytes == 60 * 500
    assert res.path_mtu is not None and res.path_mtu.low == a.packet_size


def test_probe_smtp_refused_is_environment_problem() -> None:
    from pathsleuth.errors import EnvironmentProblem

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(EnvironmentProblem, match="cannot connect"):
        probe_smtp("127.0.0.1", 4, port=port)


def test_probe_smtp_non_smtp_banner() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        c, _ = srv.accept()
        c.sendall(b"554 no service here\r\n")
        time.sleep(0.2)
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        res = probe_smtp("127.0.0.1", 4, port=port)
    finally:
        t.join()
        srv.close()
    assert res.finding is None and "554" in res.notes[-1]


@given(st.binary(max_size=300))
def test_parse_tcp_info_any_length(raw: bytes) -> None:
    try:
        info = parse_tcp_info(raw)
    except ValueError:
        assert len(raw) < TCP_INFO_MIN
        return
    assert info.bytes_acked is None or len(raw) >= 128
    assert info.packet_size(6) >= info.snd_mss + 60
