"""The error-queue decoding and the UDP and TCP traces against loopback (no root needed)."""

from __future__ import annotations

import contextlib
import errno
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.probe.linux import (
    PAYLOAD_HEADER,
    PAYLOAD_TAG,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SO_EE_ORIGIN_LOCAL,
    SOCK_EXTENDED_ERR,
    ProbeSocket,
    icmp_checksum,
    parse_recverr,
    payload_probe_id,
    reply_from_error,
    route_source,
    run_trace,
)
from pathsleuth.probe.planner import Probe, ReplyKind, StopReason


def _ee(errno_: int, origin: int, typ: int, code: int, info: int, offender: bytes) -> bytes:
    return SOCK_EXTENDED_ERR.pack(errno_, origin, typ, code, 0, info, 0) + offender


def _sin(addr: str) -> bytes:
    return struct.pack("=H", socket.AF_INET) + b"\0\0" + socket.inet_aton(addr) + bytes(8)


def _sin6(addr: str) -> bytes:
    return (
        struct.pack("=H", socket.AF_INET6)
        + b"\0\0"
        + bytes(4)
        + socket.inet_pton(socket.AF_INET6, addr)
        + bytes(4)
    )


def test_frag_needed_v4() -> None:
    e = parse_recverr(_ee(errno.EMSGSIZE, SO_EE_ORIGIN_ICMP, 3, 4, 1400, _sin("198.18.0.2")), b"")
    assert (e.offender, e.info, e.type, e.code) == ("198.18.0.2", 1400, 3, 4)
    r = reply_from_error(e, 7, 1.5)
    assert r is not None and r.kind is ReplyKind.PACKET_TOO_BIG and r.mtu == 1400
    assert r.address == "198.18.0.2" and r.probe_id == 7 and r.rtt_ms == 1.5


@pytest.mark.parametrize(
    ("origin", "typ", "code", "kind"),
    [
        (SO_EE_ORIGIN_ICMP, 11, 0, ReplyKind.TIME_EXCEEDED),
        (SO_EE_ORIGIN_ICMP, 3, 3, ReplyKind.DESTINATION),
        (SO_EE_ORIGIN_ICMP, 3, 13, ReplyKind.UNREACHABLE),
        (SO_EE_ORIGIN_ICMP6, 3, 0, ReplyKind.TIME_EXCEEDED),
        (SO_EE_ORIGIN_ICMP6, 2, 0, ReplyKind.PACKET_TOO_BIG),
        (SO_EE_ORIGIN_ICMP6, 1, 4, ReplyKind.DESTINATION),
        (SO_EE_ORIGIN_ICMP6, 1, 1, ReplyKind.UNREACHABLE),
    ],
)
def test_icmp_kinds(origin: int, typ: int, code: int, kind: ReplyKind) -> None:
    addr = _sin("10.0.0.1") if origin == SO_EE_ORIGIN_ICMP else _sin6("2001:db8::1")
    r = reply_from_error(parse_recverr(_ee(0, origin, typ, code, 1280, addr), b""), 1, None)
    assert r is not None and r.kind is kind
    if kind is ReplyKind.UNREACHABLE:
        assert "prohibited" in r.code


def test_local_emsgsize_and_ignored_entries() -> None:
    e = parse_recverr(_ee(errno.EMSGSIZE, SO_EE_ORIGIN_LOCAL, 0, 0, 1500, b""), b"")
    assert e.offender is None
    r = reply_from_error(e, 1, None)
    assert r is not None and r.kind is ReplyKind.LOCAL_MTU and r.mtu == 1500
    assert (
        reply_from_error(parse_recverr(_ee(5, SO_EE_ORIGIN_LOCAL, 0, 0, 0, b""), b""), 1, None)
        is None
    )
    assert (
        reply_from_error(parse_recverr(_ee(0, SO_EE_ORIGIN_ICMP, 5, 0, 0, b""), b""), 1, None)
        is None
    )
    assert reply_from_error(parse_recverr(_ee(0, 9, 0, 0, 0, b""), b""), 1, None) is None


def test_v4_mapped_offender_is_plain_v4() -> None:
    e = parse_recverr(_ee(0, SO_EE_ORIGIN_ICMP6, 3, 0, 0, _sin6("::ffff:198.18.0.2")), b"")
    assert e.offender == "198.18.0.2"


@given(st.binary(max_size=64))
def test_parse_recverr_never_crashes_unexpectedly(data: bytes) -> None:
    try:
        e = parse_recverr(data, b"")
    except ValueError:
        assert len(data) < SOCK_EXTENDED_ERR.size
        return
    reply_from_error(e, 1, None)


def test_payload_id() -> None:
    assert payload_probe_id(PAYLOAD_HEADER.pack(PAYLOAD_TAG, 42) + b"\0" * 10) == 42
    assert payload_probe_id(b"XXXX\0\0\0\1") is None
    assert payload_probe_id(b"PSL") is None


def test_icmp_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d
    assert icmp_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    data = bytes.fromhex("0800000012340001") + b"abc"
    c = icmp_checksum(data)
    assert icmp_checksum(data[:2] + struct.pack("!H", c) + data[4:]) == 0


def test_payload_sizes_make_exact_packets() -> None:
    with ProbeSocket("127.0.0.1", 4) as ps:
        assert len(ps.payload(Probe(id=1, ttl=1, size=1500))) == 1500 - 28
    with ProbeSocket("::1", 6) as ps:
        assert len(ps.payload(Probe(id=1, ttl=1, size=1280))) == 1280 - 48


@pytest.mark.parametrize(("address", "family"), [("127.0.0.1", 4), ("::1", 6)])
def test_loopback_trace_reaches_destination(address: str, family: int) -> None:
    trace = run_trace(address, family, timeout=1.0, interval=0.0)  # type: ignore[arg-type]
    assert trace.reached and trace.stop is StopReason.REACHED
    assert len(trace.hops) == 1 and trace.hops[0].address == address
    # PMTUDISC_PROBE lets the first probe go at the loopback MTU: no drop, no black hole
    assert trace.path_mtu is not None and trace.path_mtu >= 65000
    assert trace.blackhole is None and trace.drops == ()
    assert trace.probes_sent == 1


def test_loopback_udp_service_answer_counts_as_destination() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    import threading

    def echo() -> None:
        srv.settimeout(5)
        try:
            _data, peer = srv.recvfrom(65535)
            srv.sendto(b"hi", peer)
        except OSError:
            pass

    t = threading.Thread(target=echo)
    t.start()
    try:
        trace = run_trace("127.0.0.1", 4, port=port, timeout=2.0, interval=0.0)
    finally:
        t.join()
        srv.close()
    assert trace.reached and trace.hops[0].destination


@pytest.mark.parametrize(("address", "family"), [("127.0.0.1", 4), ("::1", 6)])
@pytest.mark.parametrize("listening", [True, False], ids=["syn-ack", "rst"])
@pytest.mark.parametrize(
    "raw", [False, pytest.param(True, marks=pytest.mark.needs_root)], ids=["connect", "raw"]
)
def test_loopback_tcp_trace(address: str, family: int, listening: bool, raw: bool) -> None:
    """TCP SYN probes: a SYN-ACK (listening port) or a RST (closed port) is the target's
    answer. connect() SYNs (no privileges) give hops and no MTU; raw SYNs with a payload
    (root) are sized: the first probe goes at the loopback MTU and is answered."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    with socket.socket(af, socket.SOCK_STREAM) as srv:
        srv.bind((address, 0))
        port = srv.getsockname()[1]
        if listening:
            srv.listen(4)
        else:
            srv.close()  # the port is free again: the SYN is answered with a RST
        trace = run_trace(
            address,
            family,  # type: ignore[arg-type]
            method="tcp",
            port=port,
            timeout=2.0,
            interval=0.0,
            tcp_raw=raw,
        )
        if listening:
            # the handshake completed and was reset at once: nothing is left to accept
            srv.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                conn, _ = srv.accept()
                with conn, contextlib.suppress(ConnectionResetError):
                    assert conn.recv(16) == b""
    assert trace.method == "tcp" and trace.mtu_measured is raw and trace.source == address
    assert trace.reached and trace.stop is StopReason.REACHED and trace.probes_sent == 1
    mtu = trace.path_mtu
    assert [(h.ttl, h.address, h.destination, h.mtu) for h in trace.hops] == [
        (1, address, True, mtu)
    ]
    if raw:
        assert mtu is not None and mtu >= 65000 and trace.first_mtu == mtu
    else:
        assert mtu is None and trace.first_mtu is None
    assert trace.blackhole is None and trace.drops == ()


def test_route_source() -> None:
    assert route_source("127.0.0.1", 4) == "127.0.0.1"
    assert route_source("::1", 6) == "::1"
