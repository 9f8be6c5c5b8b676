"""The SMTP-level probe: do full-size DF segments to the real mail service get acknowledged?

This module owns the test a mail administrator would do by hand with a large message,
without sending any mail: connect to the SMTP port, read the banner, EHLO, then send a
burst of long pipelined NOOP lines (RFC 5321 section 4.1.1.9 allows an argument) large
enough to fill several full-size segments, and watch the kernel's ``TCP_INFO`` (snd_mss,
pmtu, retransmissions, bytes acknowledged) to see whether they are acknowledged. When they
are not, new connections with ``TCP_MAXSEG`` set before connect search the largest size
that passes (common MTUs first, then bisection). The session always ends with RSET/QUIT,
or with a reset when the peer stopped acknowledging, so nothing is ever delivered.

`parse_tcp_info` decodes ``struct tcp_info`` from a declared field table (dpkt-style);
`classify` turns the attempts into a `Finding` in analyze's vocabulary (pure, tested
without sockets); `probe_smtp` runs the sessions and hands on an `SmtpProbe`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pathsleuth.diagnose.model import (
    Direction,
    Evidence,
    Finding,
    Flow,
    PathMtu,
    Severity,
    Verdict,
)
from pathsleuth.errors import EnvironmentProblem
from pathsleuth.probe.fixcheck import blackhole_advice
from pathsleuth.probe.planner import Family, min_mtu, next_search_size

# ---- struct tcp_info (include/uapi/linux/tcp.h), declared once -------------------------

#: (field, struct code) in kernel order; a kernel returns a prefix of this (older kernels
#: stop earlier), and fields beyond the returned length are None
TCP_INFO_FIELDS: tuple[tuple[str, str], ...] = (
    ("state", "B"), ("ca_state", "B"), ("retransmits", "B"), ("probes", "B"),
    ("backoff", "B"), ("options", "B"), ("wscale", "B"), ("flags", "B"),
    ("rto", "I"), ("ato", "I"), ("snd_mss", "I"), ("rcv_mss", "I"),
    ("unacked", "I"), ("sacked", "I"), ("lost", "I"), ("retrans", "I"), ("fackets", "I"),
    ("last_data_sent", "I"), ("last_ack_sent", "I"), ("last_data_recv", "I"),
    ("last_ack_recv", "I"),
    ("pmtu", "I"), ("rcv_ssthresh", "I"), ("rtt", "I"), ("rttvar", "I"),
    ("snd_ssthresh", "I"), ("snd_cwnd", "I"), ("advmss", "I"), ("reordering", "I"),
    ("rcv_rtt", "I"), ("rcv_space", "I"), ("total_retrans", "I"),
    ("pacing_rate", "Q"), ("max_pacing_rate", "Q"), ("bytes_acked", "Q"),
    ("bytes_received", "Q"), ("segs_out", "I"), ("segs_in", "I"),
    ("notsent_bytes", "I"), ("min_rtt", "I"), ("data_segs_in", "I"), ("data_segs_out", "I"),
    ("delivery_rate", "Q"), ("busy_time", "Q"), ("rwnd_limited", "Q"),
    ("sndbuf_limited", "Q"), ("delivered", "I"), ("delivered_ce", "I"),
    ("bytes_sent", "Q"), ("bytes_retrans", "Q"),
)  # fmt: skip
#: offset of each field: natural alignment holds for every field, so packing is exact
_TCP_INFO_OFFSETS: dict[str, tuple[int, struct.Struct]] = {}
_off = 0
for _name, _code in TCP_INFO_FIELDS:
    _s = struct.Struct("=" + _code)
    _TCP_INFO_OFFSETS[_name] = (_off, _s)
    _off += _s.size
#: bytes of struct tcp_info this module knows (the kernel may return more)
TCP_INFO_SIZE = _off
#: the fields every Linux since 2.6 returns (up to total_retrans)
TCP_INFO_MIN = _TCP_INFO_OFFSETS["pacing_rate"][0]
#: tcpi_options bit: timestamps in use (12 option bytes in every segment, RFC 7323)
TCPI_OPT_TIMESTAMPS = 1
#: TCP_ESTABLISHED in tcpi_state
TCP_ESTABLISHED = 1
TCP_TIMESTAMP_OPTION = 12


@dataclass(frozen=True, kw_only=True)
class TcpInfo:
    """The TCP_INFO fields the probe uses (kernel units: µs for times, bytes, segments)."""

    state: int
    retransmits: int
    """consecutive retransmission timeouts of the current head segment"""
    options: int
    rto: int
    snd_mss: int
    """current send MSS: payload bytes per full-size segment"""
    rcv_mss: int
    unacked: int
    lost: int
    pmtu: int
    rtt: int
    advmss: int
    total_retrans: int
    bytes_acked: int | None
    bytes_sent: int | None
    segs_out: int | None

    @property
    def timestamps(self) -> bool:
        return bool(self.options & TCPI_OPT_TIMESTAMPS)

    def packet_size(self, family: Family) -> int:
        """IP packet size of a full-size segment at the current snd_mss."""
        opts = TCP_TIMESTAMP_OPTION if self.timestamps else 0
        return self.snd_mss + opts + (40 if family == 4 else 60)


def parse_tcp_info(raw: bytes) -> TcpInfo:
    """Decode the kernel's ``struct tcp_info``; raises ValueError when it is too short."""
    if len(raw) < TCP_INFO_MIN:
        raise ValueError(f"struct tcp_info needs at least {TCP_INFO_MIN} bytes, got {len(raw)}")

    def get(name: str) -> int | None:
        off, s = _TCP_INFO_OFFSETS[name]
        if off + s.size > len(raw):
            return None
        return int(s.unpack_from(raw, off)[0])

    def req(name: str) -> int:
        v = get(name)
        assert v is not None  # every required field lies below TCP_INFO_MIN
        return v

    return TcpInfo(
        state=req("state"),
        retransmits=req("retransmits"),
        options=req("options"),
        rto=req("rto"),
        snd_mss=req("snd_mss"),
        rcv_mss=req("rcv_mss"),
        unacked=req("unacked"),
        lost=req("lost"),
        pmtu=req("pmtu"),
        rtt=req("rtt"),
        advmss=req("advmss"),
        total_retrans=req("total_retrans"),
        bytes_acked=get("bytes_acked"),
        bytes_sent=get("bytes_sent"),
        segs_out=get("segs_out"),
    )


def read_tcp_info(sock: socket.socket) -> TcpInfo:
    return parse_tcp_info(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE + 64))


# ---- tunables ---------------------------------------------------------------------------

#: the SMTP port (RFC 5321 section 4.5.4 ... IANA "smtp")
SMTP_PORT = 25
#: full-size segments in the burst: more than the initial window of 10 (RFC 6928) is not
#: needed, fewer would not show that a *series* of full-size segments passes
BURST_SEGMENTS = 10
#: one NOOP line: RFC 5321 section 4.5.3.1.4 limits a command line to 512 octets with CRLF
NOOP_LINE_LEN = 500
#: at most this many NOOPs per session: Postfix counts NOOP as a junk command and starts
#: penalising after smtpd_junk_command_limit = 100
MAX_NOOPS = 60
CONNECT_TIMEOUT_S = 10.0
#: banner, EHLO and QUIT replies (RFC 5321 section 4.5.3.2 allows minutes; a probe won't)
REPLY_TIMEOUT_S = 15.0
#: a burst counts as stalled after this long without full acknowledgement: three
#: retransmission timeouts at Linux's minimum RTO of 200 ms (1.4 s), with margin ...
STALL_MIN_S = 3.0
#: ... or 7 RTOs (three back-offs) on slow paths, but never longer than this
STALL_MAX_S = 15.0
#: the first full-size attempt waits longer, so that a host with tcp_mtu_probing can
#: show that it recovers (RFC 4821 probing starts after tcp_retries1 = 3 timeouts)
RECOVERY_WAIT_S = 10.0
#: how often TCP_INFO is read while waiting
POLL_INTERVAL_S = 0.02
#: sessions per probe at most (one full-size, one small, the search)
MAX_ATTEMPTS = 12
#: largest MTU of real links (jumbo frames); above it (loopback) Linux bounds the MSS by
#: half the peer's window (tcp_bound_to_half_wnd), which is no clamp
MAX_REAL_MTU = 9216
#: IP + TCP headers without options (RFC 791 / RFC 8200 + RFC 9293): MSS = MTU - this
HEADERS = {4: 40, 6: 60}


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One SMTP session with a burst of NOOPs."""

    mss_set: int | None
    """TCP_MAXSEG set before connect; None = the kernel's own choice"""
    local: str = ""
    lport: int = 0
    banner: str = ""
    ehlo_ok: bool = False
    burst_bytes: int = 0
    acked: bool = False
    """every byte of the burst was acknowledged"""
    stalled_s: float = 0.0
    """seconds waited for the acknowledgements"""
    snd_mss_start: int = 0
    snd_mss_end: int = 0
    peer_mss: int = 0
    """the MSS our side accepted from the SYN-ACK (advmss/rcv side excluded): snd_mss + options"""
    pmtu_start: int = 0
    pmtu_end: int = 0
    packet_size: int = 0
    """IP size of the full-size segments sent at the start of the burst"""
    retransmits: int = 0
    """segments retransmitted during the burst"""
    rto_us: int = 0
    """the retransmission timeout when the burst started (µs)"""
    error: str = ""

    @property
    def passed(self) -> bool:
        """Acknowledged at the size it started with and without a stall."""
        return self.acked and self.snd_mss_end >= self.snd_mss_start and not self.error


@dataclass(frozen=True, kw_only=True)
class SmtpProbe:
    """The SMTP-level probe's outcome towards one address."""

    address: str
    port: int
    family: Family
    attempts: tuple[Attempt, ...]
    finding: Finding | None
    """None when full-size segments pass: nothing wrong on this path"""
    path_mtu: PathMtu | None
    mss_clamped: bool
    """the peer (or a box on the path) announced an MSS below what the path MTU allows"""
    notes: tuple[str, ...] = field(default_factory=tuple)


# ---- the decision (pure) ------------------------------------------------------------------


def classify(
    attempts: Sequence[Attempt], *, address: str, port: int, family: Family, target: str = ""
) -> tuple[Finding | None, PathMtu | None, bool, list[str]]:
    """Turn the sessions into a finding in analyze's vocabulary, MTU bounds and notes."""
    notes: list[str] = []
    first = attempts[0]
    hdr = HEADERS[family]
    flow = Flow(src=first.local, sport=first.lport, dst=address, dport=port)
    name = f"probe {target or address} port {port}"
    clamped = bool(
        first.pmtu_start
        and first.pmtu_start <= MAX_REAL_MTU
        and first.peer_mss
        and first.peer_mss + hdr < first.pmtu_start
    )
    if clamped:
        notes.append(
            f"the SYN-ACK announced MSS {first.peer_mss} while the route allows "
            f"{first.pmtu_start - hdr}: the peer's MTU is smaller or a box on the path clamps "
            "the MSS, so full-size segments fit a smaller path MTU"
        )
    evidence = [_attempt_evidence(i, a) for i, a in enumerate(attempts, start=1)]
    passes = [a.packet_size for a in attempts if a.passed]
    fails = [a.packet_size for a in attempts if not a.passed and a.ehlo_ok]
    low = max(passes) if passes else None
    high = min((f for f in fails if low is None or f > low), default=None)

    def finding(
        verdict: Verdict, severity: Severity, confidence: float, summary: str, **kw: object
    ) -> Finding:
        return Finding(
            verdict=verdict,
            severity=severity,
            confidence=confidence,
            summary=summary,
            flow=flow,
            file=name,
            connection_id=0,
            direction=Direction.OUTBOUND,
            fix_owner="our side or the path to the peer",
            evidence=evidence,
            detector="probe.smtp",
            **kw,  # type: ignore[arg-type]
        )

    if first.error and not first.ehlo_ok:
        return None, None, clamped, [*notes, f"the SMTP session failed: {first.error}"]
    if first.acked and not first.error and first.pmtu_end and first.pmtu_end < first.pmtu_start:
        mtu = PathMtu(low=first.pmtu_end, high=first.pmtu_end)
        return (
            finding(
                Verdict.PMTUD_WORKING,
                Severity.INFO,
                0.9,
                f"a router announced MTU {first.pmtu_end} (ICMP fragmentation needed / "
                "packet too big) and the full-size burst was acknowledged at the smaller "
                "size: path-MTU discovery works",
                path_mtu=mtu,
            ),
            mtu,
            clamped,
            notes,
        )
    if first.passed:
        notes.append(
            f"full-size segments of {first.packet_size} bytes were acknowledged "
            f"(the kernel's path MTU for this destination: {first.pmtu_start})"
        )
        return None, PathMtu(low=first.packet_size, high=None), clamped, notes
    small_ok = any(a.passed for a in attempts[1:])
    if first.acked and first.snd_mss_end < first.snd_mss_start:
        recovered_size = first.snd_mss_end + first.packet_size - first.snd_mss_start
        mtu = PathMtu(low=max(low or 0, recovered_size), high=high or first.packet_size)
        return (
            finding(
                Verdict.PMTU_BLACKHOLE,
                Severity.WARNING,
                0.85,
                f"full-size segments of {first.packet_size} bytes were lost without ICMP; "
                f"this host recovered after {first.stalled_s:.1f} s by lowering its MSS to "
                f"{first.snd_mss_end} (tcp_mtu_probing)",
                path_mtu=mtu,
                recovered=True,
            ),
            mtu,
            clamped,
            notes,
        )
    if small_ok:
        mtu = PathMtu(low=low, high=high)
        return (
            finding(
                Verdict.PMTU_BLACKHOLE,
                Severity.ERROR,
                0.9,
                f"full-size segments of {first.packet_size} bytes are never acknowledged "
                f"while {low}-byte segments pass, and no ICMP fragmentation-needed / PTB "
                "arrives: a path-MTU black hole; large messages will stall after DATA",
                path_mtu=mtu,
                advice=blackhole_advice(address, low or min_mtu(family), family),
                recovered=False,
            ),
            mtu,
            clamped,
            notes,
        )
    return (
        finding(
            Verdict.PEER_UNRESPONSIVE,
            Severity.ERROR,
            0.6,
            "the peer stopped acknowledging data of every size tried after EHLO",
        ),
        None,
        clamped,
        notes,
    )


def _attempt_evidence(i: int, a: Attempt) -> Evidence:
    mss = f"TCP_MAXSEG {a.mss_set}" if a.mss_set else "default MSS"
    if a.error and not a.ehlo_ok:
        return Evidence(frame=None, text=f"session {i} ({mss}): {a.error}")
    outcome = (
        f"acknowledged in {a.stalled_s:.2f} s"
        if a.acked
        else f"not acknowledged after {a.stalled_s:.1f} s"
    )
    text = (
        f"session {i} ({mss}): {a.burst_bytes} bytes of NOOPs in segments of "
        f"{a.packet_size} bytes (snd_mss {a.snd_mss_start}, pmtu {a.pmtu_start}), {outcome}, "
        f"{a.retransmits} retransmitted"
    )
    if a.snd_mss_end != a.snd_mss_start:
        text += f", snd_mss then {a.snd_mss_end}"
    if a.pmtu_end != a.pmtu_start:
        text += f", pmtu then {a.pmtu_end}"
    if a.error:
        text += f" ({a.error})"
    return Evidence(frame=None, text=text)


# ---- the sessions ---------------------------------------------------------------------------


class _Session:
    """One SMTP connection: line reading with deadlines (bounded by bytes and time)."""

    def __init__(self, sock: socket.socket, clock: Callable[[], float]) -> None:
        self.sock = sock
        self.buf = b""
        self.clock = clock

    def reply(self, timeout: float) -> tuple[int, str]:
        """Read one (possibly multi-line) SMTP reply: code and text."""
        deadline = self.clock() + timeout
        lines: list[str] = []
        for _ in range(10_000):
            while b"\r\n" not in self.buf and b"\n" not in self.buf:
                left = deadline - self.clock()
                if left <= 0 or len(self.buf) > 65536:
                    raise TimeoutError("no complete SMTP reply")
                self.sock.settimeout(left)
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                self.buf += chunk
            raw, _, self.buf = self.buf.partition(b"\n")
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                code = int(line[:3]) if line[:3].isdigit() else 0
                return code, "\n".join(lines)
        raise ConnectionError("SMTP reply too long")


def _attempt(
    address: str,
    port: int,
    family: Family,
    mss: int | None,
    *,
    wait: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Attempt:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    sock = socket.socket(af, socket.SOCK_STREAM)
    kw: dict[str, object] = {"mss_set": mss}
    try:
        if mss is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect((address, port))
        except TimeoutError as exc:
            raise EnvironmentProblem(
                f"{address} port {port}: no answer to the TCP connect within {CONNECT_TIMEOUT_S:g} s"
            ) from exc
        except OSError as exc:
            raise EnvironmentProblem(
                f"{address} port {port}: cannot connect ({exc.strerror or exc})"
            ) from exc
        local = sock.getsockname()
        kw["local"], kw["lport"] = str(local[0]), int(local[1])
        session = _Session(sock, clock)
        code, banner = session.reply(REPLY_TIMEOUT_S)
        kw["banner"] = banner.splitlines()[0] if banner else ""
        if code != 220:
            return Attempt(**kw, error=f"banner {banner!r} is not 220")  # type: ignore[arg-type]
        literal = f"[{local[0]}]" if family == 4 else f"[IPv6:{local[0]}]"
        sock.sendall(f"EHLO {literal}\r\n".encode())
        code, text = session.reply(REPLY_TIMEOUT_S)
        if code != 250:
            return Attempt(**kw, error=f"EHLO answered {text.splitlines()[0]!r}")  # type: ignore[arg-type]
        kw["ehlo_ok"] = True
        before = read_tcp_info(sock)
        kw["snd_mss_start"], kw["pmtu_start"] = before.snd_mss, before.pmtu
        kw["rto_us"] = before.rto
        kw["peer_mss"] = before.snd_mss + (TCP_TIMESTAMP_OPTION if before.timestamps else 0)
        kw["packet_size"] = before.packet_size(family)
        line_count = min(MAX_NOOPS, -(-BURST_SEGMENTS * before.snd_mss // NOOP_LINE_LEN))
        line = b"NOOP " + b"x" * (NOOP_LINE_LEN - 7) + b"\r\n"
        burst = line * line_count
        kw["burst_bytes"] = len(burst)
        acked0 = before.bytes_acked or 0
        retrans0 = before.total_retrans
        start = clock()
        sock.settimeout(REPLY_TIMEOUT_S)
        sock.sendall(burst)
        info = before
        acked = False
        steps = int(wait / POLL_INTERVAL_S) + 1
        for _ in range(steps):
            info = read_tcp_info(sock)
            if info.bytes_acked is not None:
                acked = info.bytes_acked - acked0 >= len(burst)
            else:
                acked = info.unacked == 0
            if acked or clock() - start >= wait or info.state != TCP_ESTABLISHED:
                break
            sleep(POLL_INTERVAL_S)
        kw["stalled_s"] = clock() - start
        kw["acked"] = acked
        kw["snd_mss_end"], kw["pmtu_end"] = info.snd_mss, info.pmtu
        kw["retransmits"] = info.total_retrans - retrans0
        if info.state != TCP_ESTABLISHED:
            return Attempt(**kw, error="the connection was closed during the burst")  # type: ignore[arg-type]
        if acked:
            # polite end: collect the NOOP replies, then RSET and QUIT
            with contextlib.suppress(OSError, TimeoutError, ConnectionError, ValueError):
                for _ in range(line_count):
                    session.reply(REPLY_TIMEOUT_S)
                sock.sendall(b"RSET\r\nQUIT\r\n")
                session.reply(REPLY_TIMEOUT_S)
                session.reply(REPLY_TIMEOUT_S)
        else:
            # never more traffic than needed: a reset instead of endless retransmissions
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return Attempt(**kw)  # type: ignore[arg-type]
    except (TimeoutError, ConnectionError) as exc:
        return Attempt(**kw, error=str(exc) or type(exc).__name__)  # type: ignore[arg-type]
    finally:
        sock.close()


def probe_smtp(
    address: str,
    family: Family,
    *,
    port: int = SMTP_PORT,
    target: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SmtpProbe:
    """Run the SMTP sessions towards `address` and classify them (at most MAX_ATTEMPTS)."""
    hdr = HEADERS[family]

    def later(mss: int, wait: float) -> Attempt:
        # the first session proved the service reachable; a later failure is that
        # attempt's outcome, not a reason to drop what was learned
        try:
            return _attempt(address, port, family, mss, wait=wait, clock=clock, sleep=sleep)
        except EnvironmentProblem as exc:
            return Attempt(mss_set=mss, error=str(exc))

    attempts = [
        _attempt(address, port, family, None, wait=RECOVERY_WAIT_S, clock=clock, sleep=sleep)
    ]
    first = attempts[0]
    if first.ehlo_ok and not first.passed and not first.acked:
        stall = min(STALL_MAX_S, max(STALL_MIN_S, 7 * first.rto_us / 1e6))
        small = min_mtu(family)
        attempts.append(later(small - hdr, stall))
        if attempts[-1].passed:
            low, high = attempts[-1].packet_size, first.packet_size
            tried = {low, high}
            for _ in range(MAX_ATTEMPTS - len(attempts)):
                if high - low <= 1:
                    break
                size = next_search_size(low, high, tried)
                tried.add(size)
                a = later(size - hdr, stall)
                attempts.append(a)
                if a.passed:
                    low = max(low, a.packet_size)
                elif a.ehlo_ok:
                    high = size
                else:
                    break
    finding, mtu, clamped, notes = classify(
        attempts, address=address, port=port, family=family, target=target
    )
    return SmtpProbe(
        address=address,
        port=port,
        family=family,
        attempts=tuple(attempts),
        finding=finding,
        path_mtu=mtu,
        mss_clamped=clamped,
        notes=tuple(notes),
    )
