"""The only socket code of the hop trace: UDP (or, with root, ICMP echo) probes on Linux.

This module owns the kernel side of `pathsleuth probe`'s trace, as iputils' tracepath does
it: one datagram socket with ``IP_MTU_DISCOVER = IP_PMTUDISC_PROBE`` (DF set, the cached
path MTU ignored so any size up to the interface MTU can be sent) and ``IP_RECVERR`` /
``IPV6_RECVERR``, so ICMP time-exceeded, fragmentation-needed / packet-too-big and
destination-unreachable come back on the socket's error queue (``recvmsg(MSG_ERRQUEUE)``,
a ``struct sock_extended_err`` plus the offender's address) without privileges. With root
(``method="icmp"``) the probes are ICMP echo requests on a raw socket, for paths that
filter UDP; its errors arrive on the same error queue, echo replies as normal reads.

``method="tcp"`` probes with TCP SYNs to the service's own port, for paths that filter
UDP and ICMP echo but must pass mail. With root they are raw SYNs that carry a payload
(RFC 9293 allows data on a SYN), so they have a size and the trace measures the MTU per
hop and finds the black hole exactly as with UDP; errors come back on the raw socket's
error queue, the target's SYN-ACK or RST as a read (this host's kernel resets the
handshake: the source port is held by a bound, non-listening socket). Without root
(`TcpSynProbes`) each probe is a non-blocking ``connect()`` with the TTL limited and
``IP_RECVERR`` on, as ``traceroute -M tcpconn`` does: since Linux 5.8 ("tcp: allow
traceroute -Mtcp for unpriv users") the ICMP errors answering a SYN land on that socket's
error queue with the offender's address, and a SYN-ACK or RST is the target's answer. Such
a SYN carries no payload: that trace finds hops and reachability, not the MTU (the planner
runs with ``measure_mtu=False``; the SMTP-level test still measures the MTU).

It hands on `run_trace`, which drives a pure `TracePlanner` to the end and returns its
`PathTrace`; `parse_recverr` and `reply_from_error` decode the error queue and are tested
on their own. Nothing here decides or prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import random
import select
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pathsleuth.errors import EnvironmentProblem
from pathsleuth.probe.planner import (
    MAX_HOPS,
    MAX_PROBES,
    Family,
    PathTrace,
    Probe,
    Reply,
    ReplyKind,
    Timeout,
    TracePlanner,
)

Method = Literal["udp", "icmp", "tcp"]

# ---- kernel constants (include/uapi/linux/in.h, in6.h, errqueue.h, icmp.h) ------------

SOL_IP = 0
SOL_IPV6 = 41
IP_TTL = 2
IP_MTU_DISCOVER = 10
IP_RECVERR = 11
IP_PMTUDISC_PROBE = 3
IPV6_UNICAST_HOPS = 16
IPV6_MTU_DISCOVER = 23
IPV6_RECVERR = 25
IPV6_PMTUDISC_PROBE = 3
MSG_ERRQUEUE = 0x2000
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
#: struct sock_extended_err: ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data
SOCK_EXTENDED_ERR = struct.Struct("=IBBBBII")

ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_FRAG_NEEDED = 4
ICMP_PORT_UNREACH = 3
ICMPV6_DEST_UNREACH = 1
ICMPV6_PKT_TOO_BIG = 2
ICMPV6_TIME_EXCEED = 3
ICMPV6_PORT_UNREACH = 4
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129

#: RFC 792 destination-unreachable codes, for the hop line
ICMP_UNREACH_CODES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "administratively prohibited",
}
#: RFC 4443 section 3.1 codes
ICMPV6_UNREACH_CODES = {
    0: "no route to destination",
    1: "administratively prohibited",
    3: "address unreachable",
    5: "source address failed policy",
    6: "reject route",
}

IPV4_HEADER = 20  # RFC 791, no options
IPV6_HEADER = 40  # RFC 8200
UDP_HEADER = 8  # RFC 768
ICMP_HEADER = 8  # RFC 792 echo: type, code, checksum, id, seq
TCP_HEADER = 20  # RFC 9293 section 3.1, no options
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10
#: IPV6_CHECKSUM (include/uapi/linux/in6.h): the kernel fills in a raw socket's checksum
#: at this offset (RFC 3542 section 3.1); 16 is the TCP checksum's offset
IPV6_CHECKSUM = 7
TCP_CHECKSUM_OFFSET = 16

# ---- tunables ---------------------------------------------------------------------------

#: traceroute's first UDP port (RFC 1393 era convention); the port stays fixed for every
#: probe (Paris traceroute: one flow, one ECMP path) and probes are told apart by payload
DEFAULT_UDP_PORT = 33434
#: how long to wait for one probe's answer (tracepath waits up to a second per probe)
PROBE_TIMEOUT_S = 1.0
#: pause between probes: at most 20 probes per second towards a path
PROBE_INTERVAL_S = 0.05
#: the probe payload starts with this tag and the probe id, to match errors to probes
PAYLOAD_TAG = b"PSLP"
PAYLOAD_HEADER = struct.Struct("!4sI")
#: the first probe's size when the interface MTU is not yet known: our stack answers a
#: larger probe with EMSGSIZE and the interface MTU, as it does for tracepath
START_SIZE = 65535
#: error-queue entries read per wait, at most (bounds a flood of stray errors)
MAX_ERRORS_PER_WAIT = 64
#: SYN retransmissions of one TCP probe socket (TCP_SYNCNT; 1 is the kernel's minimum):
#: the probe is given up after PROBE_TIMEOUT_S anyway, and tcp_syn_retries' default of 6
#: would keep resending for two minutes had the socket lived on
TCP_PROBE_SYNCNT = 1


@dataclass(frozen=True, kw_only=True)
class ErrqueueEntry:
    """One decoded error-queue message."""

    errno: int
    origin: int
    type: int
    code: int
    info: int
    """the next-hop MTU for frag-needed / PTB / local EMSGSIZE"""
    offender: str | None
    payload: bytes
    """the start of our original datagram's payload, as the ICMP quoted it"""


def parse_recverr(cmsg_data: bytes, payload: bytes) -> ErrqueueEntry:
    """Decode ``struct sock_extended_err`` and the offender ``sockaddr`` that follows it."""
    if len(cmsg_data) < SOCK_EXTENDED_ERR.size:
        raise ValueError(
            f"sock_extended_err needs {SOCK_EXTENDED_ERR.size} bytes, got {len(cmsg_data)}"
        )
    ee_errno, origin, typ, code, _pad, info, _data = SOCK_EXTENDED_ERR.unpack_from(cmsg_data)
    offender = _parse_sockaddr(cmsg_data[SOCK_EXTENDED_ERR.size :])
    return ErrqueueEntry(
        errno=ee_errno,
        origin=origin,
        type=typ,
        code=code,
        info=info,
        offender=offender,
        payload=payload,
    )


def _parse_sockaddr(raw: bytes) -> str | None:
    if len(raw) < 2:
        return None
    (family,) = struct.unpack_from("=H", raw)
    if family == socket.AF_INET and len(raw) >= 8:
        return str(ipaddress.IPv4Address(raw[4:8]))
    if family == socket.AF_INET6 and len(raw) >= 24:
        addr = ipaddress.IPv6Address(raw[8:24])
        return str(addr.ipv4_mapped or addr)
    return None


def reply_from_error(entry: ErrqueueEntry, probe_id: int, rtt_ms: float | None) -> Reply | None:
    """Map one error-queue entry to the planner's vocabulary; None for entries of no use."""
    if entry.origin == SO_EE_ORIGIN_LOCAL:
        if entry.errno == errno.EMSGSIZE:
            return Reply(probe_id=probe_id, kind=ReplyKind.LOCAL_MTU, address=None, mtu=entry.info)
        return None
    if entry.origin == SO_EE_ORIGIN_ICMP:
        if entry.type == ICMP_TIME_EXCEEDED:
            kind = ReplyKind.TIME_EXCEEDED
        elif entry.type == ICMP_DEST_UNREACH and entry.code == ICMP_FRAG_NEEDED:
            kind = ReplyKind.PACKET_TOO_BIG
        elif entry.type == ICMP_DEST_UNREACH and entry.code == ICMP_PORT_UNREACH:
            kind = ReplyKind.DESTINATION
        elif entry.type == ICMP_DEST_UNREACH:
            code = ICMP_UNREACH_CODES.get(entry.code, f"ICMP 3/{entry.code}")
            return Reply(
                probe_id=probe_id,
                kind=ReplyKind.UNREACHABLE,
                address=entry.offender,
                rtt_ms=rtt_ms,
                code=code,
            )
        else:
            return None
    elif entry.origin == SO_EE_ORIGIN_ICMP6:
        if entry.type == ICMPV6_TIME_EXCEED:
            kind = ReplyKind.TIME_EXCEEDED
        elif entry.type == ICMPV6_PKT_TOO_BIG:
            kind = ReplyKind.PACKET_TOO_BIG
        elif entry.type == ICMPV6_DEST_UNREACH and entry.code == ICMPV6_PORT_UNREACH:
            kind = ReplyKind.DESTINATION
        elif entry.type == ICMPV6_DEST_UNREACH:
            code = ICMPV6_UNREACH_CODES.get(entry.code, f"ICMPv6 1/{entry.code}")
            return Reply(
                probe_id=probe_id,
                kind=ReplyKind.UNREACHABLE,
                address=entry.offender,
                rtt_ms=rtt_ms,
                code=code,
            )
        else:
            return None
    else:
        return None
    mtu = entry.info if kind is ReplyKind.PACKET_TOO_BIG else None
    return Reply(probe_id=probe_id, kind=kind, address=entry.offender, rtt_ms=rtt_ms, mtu=mtu)


def payload_probe_id(payload: bytes) -> int | None:
    """The probe id our payload carries, or None when the ICMP quote cut it off."""
    if len(payload) < PAYLOAD_HEADER.size:
        return None
    tag, probe_id = PAYLOAD_HEADER.unpack_from(payload)
    return int(probe_id) if tag == PAYLOAD_TAG else None


def icmp_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class ProbeSocket:
    """One probe socket towards one address: sends sized, TTL-limited probes, reads answers."""

    def __init__(
        self, address: str, family: Family, *, method: Method = "udp", port: int = DEFAULT_UDP_PORT
    ) -> None:
        self.address = address
        self.family: Family = family
        self.method: Method = method
        self.port = port
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self._level = SOL_IP if family == 4 else SOL_IPV6
        self._ident = os.getpid() & 0xFFFF
        self._holder: socket.socket | None = None
        self._sport = 0
        self._seq_base = random.getrandbits(32)
        self._source = ""
        try:
            if method == "udp":
                self.sock = socket.socket(af, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
                self._overhead = (IPV4_HEADER if family == 4 else IPV6_HEADER) + UDP_HEADER
            elif method == "tcp":
                self.sock = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_TCP)
                self._overhead = (IPV4_HEADER if family == 4 else IPV6_HEADER) + TCP_HEADER
                self._reserve_port(af)
            else:
                proto = socket.IPPROTO_ICMP if family == 4 else socket.IPPROTO_ICMPV6
                self.sock = socket.socket(af, socket.SOCK_RAW, proto)
                self._overhead = (IPV4_HEADER if family == 4 else IPV6_HEADER) + ICMP_HEADER
        except PermissionError as exc:
            kind = "Sized TCP" if method == "tcp" else "ICMP"
            raise EnvironmentProblem(
                f"{kind} probes need a raw socket: run as root (or with CAP_NET_RAW), "
                "or use the default UDP probes"
            ) from exc
        except OSError as exc:
            raise EnvironmentProblem(f"cannot open an IPv{family} probe socket: {exc}") from exc
        if family == 4:
            self.sock.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
            self.sock.setsockopt(SOL_IP, IP_RECVERR, 1)
        else:
            self.sock.setsockopt(SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)
            self.sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
        self.sock.setblocking(False)

    def _reserve_port(self, af: int) -> None:
        """Hold a TCP port for the raw SYNs' source port: bound, never listening, so this
        host's kernel answers the target's SYN-ACK with a RST (no half-open connection is
        left behind) and no other connection of ours gets the same port meanwhile."""
        source = route_source(self.address, self.family)
        if source is None:
            raise OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))
        self._source = source
        holder = socket.socket(af, socket.SOCK_STREAM)
        holder.bind((source, 0))
        self._holder = holder
        self._sport = int(holder.getsockname()[1])
        if self.family == 6:
            self.sock.setsockopt(SOL_IPV6, IPV6_CHECKSUM, TCP_CHECKSUM_OFFSET)

    def close(self) -> None:
        self.sock.close()
        if self._holder is not None:
            self._holder.close()

    def __enter__(self) -> ProbeSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def payload(self, probe: Probe) -> bytes:
        """The datagram body that makes an IP packet of exactly `probe.size` bytes."""
        body_len = probe.size - self._overhead
        if body_len < PAYLOAD_HEADER.size:
            raise ValueError(f"probe size {probe.size} is too small")
        body = PAYLOAD_HEADER.pack(PAYLOAD_TAG, probe.id & 0xFFFFFFFF)
        body += bytes(body_len - len(body))
        if self.method == "udp":
            return body
        if self.method == "tcp":
            return self._tcp_syn(probe, body)
        typ = ICMP_ECHO if self.family == 4 else ICMPV6_ECHO_REQUEST
        header = struct.pack("!BBHHH", typ, 0, 0, self._ident, probe.id & 0xFFFF)
        if self.family == 4:
            csum = icmp_checksum(header + body)
            header = struct.pack("!BBHHH", typ, 0, csum, self._ident, probe.id & 0xFFFF)
        # ICMPv6 raw sockets: the kernel fills in the checksum (RFC 3542 section 3.1)
        return header + body

    def _seq(self, probe: Probe) -> int:
        return (self._seq_base + probe.id) & 0xFFFFFFFF

    def _tcp_syn(self, probe: Probe, body: bytes) -> bytes:
        """A SYN carrying `body`: RFC 9293 allows data on a SYN (the receiver keeps it
        until the handshake completes, Linux drops it and acknowledges the SYN only), so
        the probe has a size while routers treat it as any TCP segment to the service."""
        header = struct.Struct("!HHIIBBHHH")
        fields = [self._sport, self.port, self._seq(probe), 0, (TCP_HEADER // 4) << 4, TCP_SYN]
        fields += [0xFFFF, 0, 0]
        segment = header.pack(*fields) + body
        if self.family == 4:
            pseudo = socket.inet_aton(self._source) + socket.inet_aton(self.address)
            pseudo += struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment))
            fields[7] = icmp_checksum(pseudo + segment)
            segment = header.pack(*fields) + body
        # IPv6: the kernel fills the checksum in (IPV6_CHECKSUM set in _reserve_port)
        return segment

    def _tcp_probe_id(self, quote: bytes) -> int | None:
        """The probe id an ICMP error quotes (our SYN's sequence number); -1 for another
        flow's packet, None when the quote is too short to tell."""
        if len(quote) < 8:
            return None
        sport, dport, seq = struct.unpack_from("!HHI", quote)
        if sport != self._sport or dport != self.port:
            return -1
        return int((seq - self._seq_base) & 0xFFFFFFFF)

    def send(self, probe: Probe) -> Reply | None:
        """Send `probe`; a local refusal (EMSGSIZE) comes back at once as a LOCAL_MTU reply."""
        self.drain()
        if self.family == 4:
            self.sock.setsockopt(SOL_IP, IP_TTL, probe.ttl)
        else:
            self.sock.setsockopt(SOL_IPV6, IPV6_UNICAST_HOPS, probe.ttl)
        dest = (self.address, self.port if self.method == "udp" else 0)
        try:
            self.sock.sendto(self.payload(probe), dest)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                for entry in self._read_errors():
                    reply = reply_from_error(entry, probe.id, None)
                    if reply is not None and reply.kind is ReplyKind.LOCAL_MTU:
                        return reply
                raise EnvironmentProblem(
                    f"probe of {probe.size} bytes refused locally: {exc}"
                ) from exc
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                raise EnvironmentProblem(f"no route to {self.address}: {exc.strerror}") from exc
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise EnvironmentProblem(
                    f"sending to {self.address} was refused by this host ({exc.strerror}): "
                    "a local firewall rule?"
                ) from exc
            raise EnvironmentProblem(f"cannot send a probe to {self.address}: {exc}") from exc
        return None

    def drain(self) -> None:
        """Throw away stale errors and data (answers to probes already given up)."""
        self._read_errors()
        for _ in range(MAX_ERRORS_PER_WAIT):
            try:
                self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue

    def _read_errors(self) -> list[ErrqueueEntry]:
        return _read_errqueue(self.sock)

    def wait(
        self, probe: Probe, *, sent_at: float, timeout: float, clock: Callable[[], float]
    ) -> Reply | Timeout:
        """Wait up to `timeout` for the answer to `probe`; other probes' answers are skipped."""
        deadline = sent_at + timeout
        poller = select.poll()
        poller.register(self.sock, select.POLLIN | select.POLLERR)
        # bounded: each round either returns, or waits until the deadline passes
        for _ in range(MAX_ERRORS_PER_WAIT):
            left = deadline - clock()
            if left <= 0:
                break
            if not poller.poll(max(1, int(left * 1000))):
                continue
            rtt_ms = (clock() - sent_at) * 1000.0
            for entry in self._read_errors():
                if self.method == "tcp":
                    pid = self._tcp_probe_id(entry.payload)
                else:
                    pid = payload_probe_id(
                        entry.payload if self.method == "udp" else entry.payload[ICMP_HEADER:]
                    )
                if pid is not None and pid != probe.id:
                    continue
                reply = reply_from_error(entry, probe.id, rtt_ms)
                if reply is not None:
                    return reply
            if self.method == "icmp" and self._echo_reply(probe):
                return Reply(
                    probe_id=probe.id,
                    kind=ReplyKind.DESTINATION,
                    address=self.address,
                    rtt_ms=rtt_ms,
                )
            if self.method == "tcp" and self._tcp_answer(probe):
                return Reply(
                    probe_id=probe.id,
                    kind=ReplyKind.DESTINATION,
                    address=self.address,
                    rtt_ms=rtt_ms,
                )
            if self.method == "udp" and self._udp_answer():
                return Reply(
                    probe_id=probe.id,
                    kind=ReplyKind.DESTINATION,
                    address=self.address,
                    rtt_ms=rtt_ms,
                )
        return Timeout(probe_id=probe.id)

    def _udp_answer(self) -> bool:
        """A UDP service answered our probe (the destination is reached all the same)."""
        try:
            self.sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return False
        return True

    def _raw_packets(self) -> Iterator[tuple[bytes, tuple[Any, ...]]]:
        """What the raw socket has queued now, at most `MAX_ERRORS_PER_WAIT` reads:
        (transport header onwards, sender's address). IPv4 raw sockets read the IP header
        too, IPv6 ones do not; a packet too short for its IP header is skipped."""
        for _ in range(MAX_ERRORS_PER_WAIT):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if self.family == 4:
                if len(data) < IPV4_HEADER:
                    continue
                data = data[(data[0] & 0x0F) * 4 :]
            yield data, addr

    def _tcp_answer(self, probe: Probe) -> bool:
        """The target's SYN-ACK (port open) or RST (closed) to our SYN: it was reached."""
        data_len = probe.size - self._overhead
        for data, addr in self._raw_packets():
            if len(data) < TCP_HEADER:
                continue
            sport, dport, _seq, ack, _off, flags = struct.unpack_from("!HHIIBB", data)
            if (sport, dport) != (self.port, self._sport):
                continue
            if ipaddress.ip_address(addr[0]) != ipaddress.ip_address(self.address):
                continue
            # a SYN-ACK acknowledges the SYN only; a RST acknowledges the SYN and its data
            acked = (ack - self._seq(probe)) & 0xFFFFFFFF
            syn_ack = flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK
            if (syn_ack or flags & TCP_RST) and acked in (1, 1 + data_len):
                return True
        return False

    def _echo_reply(self, probe: Probe) -> bool:
        want = ICMP_ECHOREPLY if self.family == 4 else ICMPV6_ECHO_REPLY
        for data, addr in self._raw_packets():
            if len(data) < ICMP_HEADER:
                continue
            typ, _code, _csum, ident, seq = struct.unpack_from("!BBHHH", data)
            if typ == want and ident == self._ident and seq == probe.id & 0xFFFF:
                return ipaddress.ip_address(addr[0]) == ipaddress.ip_address(self.address)
        return False


class TcpSynProbes:
    """TCP SYN probes to the service's port, no privileges: one socket per probe.

    Each probe is a non-blocking ``connect()`` with the TTL (hop limit) set to the probe's
    and ``IP_RECVERR`` / ``IPV6_RECVERR`` on; the size the planner asks for is ignored (a
    SYN has no payload). The answer is a time-exceeded or unreachable on the socket's error
    queue, or the destination's SYN-ACK or RST. A completed handshake is aborted at once
    with a RST (``SO_LINGER`` 0): the service sees a connection open and close, never data.
    """

    method: Method = "tcp"

    def __init__(self, address: str, family: Family, *, port: int) -> None:
        self.address = address
        self.family: Family = family
        self.port = port
        self._af = socket.AF_INET if family == 4 else socket.AF_INET6
        self._sock: socket.socket | None = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> TcpSynProbes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _abort(self) -> None:
        """Close the probe socket; a connection that came up is reset, not closed politely."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close()

    def send(self, probe: Probe) -> Reply | None:
        """Start the handshake; a connection refused or made at once is answered at once."""
        self.close()
        try:
            sock = socket.socket(self._af, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot open an IPv{self.family} TCP socket: {exc}") from exc
        self._sock = sock
        if self.family == 4:
            sock.setsockopt(SOL_IP, IP_RECVERR, 1)
            sock.setsockopt(SOL_IP, IP_TTL, probe.ttl)
        else:
            sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
            sock.setsockopt(SOL_IPV6, IPV6_UNICAST_HOPS, probe.ttl)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, TCP_PROBE_SYNCNT)
        sock.setblocking(False)
        rc = sock.connect_ex((self.address, self.port))
        if rc in (0, errno.ECONNREFUSED):
            self._abort()
            return Reply(
                probe_id=probe.id, kind=ReplyKind.DESTINATION, address=self.address, rtt_ms=0.0
            )
        if rc in (errno.EINPROGRESS, errno.EALREADY):
            return None
        self.close()
        if rc in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            raise EnvironmentProblem(f"no route to {self.address}: {os.strerror(rc)}")
        if rc in (errno.EPERM, errno.EACCES):
            raise EnvironmentProblem(
                f"connecting to {self.address} was refused by this host ({os.strerror(rc)}): "
                "a local firewall rule?"
            )
        raise EnvironmentProblem(f"cannot send a TCP probe to {self.address}: {os.strerror(rc)}")

    def wait(
        self, probe: Probe, *, sent_at: float, timeout: float, clock: Callable[[], float]
    ) -> Reply | Timeout:
        """Wait up to `timeout` for the ICMP error, the SYN-ACK or the RST of `probe`."""
        sock = self._sock
        if sock is None:
            return Timeout(probe_id=probe.id)
        deadline = sent_at + timeout
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLERR)
        try:
            # bounded: each round either returns, or waits until the deadline passes
            for _ in range(MAX_ERRORS_PER_WAIT):
                left = deadline - clock()
                if left <= 0:
                    break
                if not poller.poll(max(1, int(left * 1000))):
                    continue
                rtt_ms = (clock() - sent_at) * 1000.0
                for entry in _read_errqueue(sock):
                    reply = reply_from_error(entry, probe.id, rtt_ms)
                    if reply is not None:
                        return reply
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err in (0, errno.ECONNREFUSED):
                    # SYN-ACK (connected) or RST (port closed): the target answered
                    return Reply(
                        probe_id=probe.id,
                        kind=ReplyKind.DESTINATION,
                        address=self.address,
                        rtt_ms=rtt_ms,
                    )
                # another error without an ICMP quote (e.g. the neighbour did not resolve):
                # nothing more will come on this socket
                break
            return Timeout(probe_id=probe.id)
        finally:
            self._abort()


def route_source(address: str, family: Family) -> str | None:
    """This host's address towards `address`, as the routing table picks it (no packet is
    sent: connecting a UDP socket only looks the route up); None when there is no route."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        with socket.socket(af, socket.SOCK_DGRAM) as sock:
            sock.connect((address, DEFAULT_UDP_PORT))
            return str(sock.getsockname()[0])
    except OSError:
        return None


def _read_errqueue(sock: socket.socket) -> list[ErrqueueEntry]:
    """Every entry on `sock`'s error queue (at most MAX_ERRORS_PER_WAIT)."""
    entries: list[ErrqueueEntry] = []
    for _ in range(MAX_ERRORS_PER_WAIT):
        try:
            data, ancdata, _flags, _addr = sock.recvmsg(65535, socket.CMSG_SPACE(512), MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            break
        for level, typ, cdata in ancdata:
            if (level, typ) in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
                with contextlib.suppress(ValueError):
                    entries.append(parse_recverr(cdata, data))
    return entries


def run_trace(
    address: str,
    family: Family,
    *,
    method: Method = "udp",
    port: int = DEFAULT_UDP_PORT,
    max_hops: int = MAX_HOPS,
    first_mtu: int | None = None,
    timeout: float = PROBE_TIMEOUT_S,
    interval: float = PROBE_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tcp_raw: bool | None = None,
) -> PathTrace:
    """Trace the path MTU hop by hop towards `address`; bounded by the planner's caps.

    `port` is the UDP probes' destination port, or for ``method="tcp"`` the service's TCP
    port. TCP probes are raw SYNs with a payload when `tcp_raw` (default: when running as
    root), sized like UDP and ICMP probes; otherwise connect() SYNs without a payload, and
    the trace measures hops and reachability only (`PathTrace.mtu_measured` False).
    """
    if tcp_raw is None:
        tcp_raw = os.geteuid() == 0
    sizeless = method == "tcp" and not tcp_raw
    planner = TracePlanner(
        address,
        family=family,
        first_mtu=first_mtu or START_SIZE,
        max_hops=max_hops,
        measure_mtu=not sizeless,
    )
    ps: ProbeSocket | TcpSynProbes = (
        TcpSynProbes(address, family, port=port)
        if sizeless
        else ProbeSocket(address, family, method=method, port=port)
    )
    with ps:
        for _ in range(MAX_PROBES + 1):
            probe = planner.next_probe()
            if probe is None:
                break
            sent_at = clock()
            local = ps.send(probe)
            if local is not None:
                planner.handle(local)
                continue
            event = ps.wait(probe, sent_at=sent_at, timeout=timeout, clock=clock)
            planner.handle(event)
            if isinstance(event, Reply):
                sleep(interval)
    return dataclasses.replace(
        planner.result(), method=method, source=route_source(address, family)
    )
