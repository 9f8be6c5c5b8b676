"""Run one lab scenario end to end: build, send mail, capture, tear down, report the facts.

This module owns a scenario run: it builds the scenario's `Topology`, starts the receiving
SMTP server (`lab/smtpsink.py`) in the server namespace, starts tcpdump on the client's
interface, sends one message of the requested size through a real Postfix instance
(`lab/postfix.py`) or a plain smtplib client, waits (bounded) for the delivery attempt to
end, stops everything and removes the namespaces. It hands on a `LabRun`: paths of the
capture, the sender's log and a ``run.json`` summary, the delivery outcome as the sender
and the receiving server saw it, timings, and the scenario's expected verdict. It formats
nothing for people (``report/`` does) and diagnoses nothing (``diagnose/`` does).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Literal

from pathsleuth.errors import EnvironmentProblem
from pathsleuth.lab import postfix as pf
from pathsleuth.lab.scenarios import CONTENT_MARKER, IPS_MARKER, Scenario, get_scenario
from pathsleuth.lab.smtpsink import SMTP_PORT
from pathsleuth.lab.topology import LAB_PREFIX, Topology, TopologySpec, cleanup_labs

Sender = Literal["postfix", "smtplib"]

#: default message size: about the seed's 86.5 KB GWIA message
DEFAULT_SIZE = 90_000
#: upper bound on one scenario's delivery attempt; Postfix's own timeouts end it sooner
DEFAULT_TIMEOUT_S = 60.0
#: socket timeout of the smtplib sender, like Postfix's smtp_data_xfer_timeout in the lab
SMTPLIB_TIMEOUT_S = float(pf.DATA_XFER_TIMEOUT_S)
#: capture only what the diagnosis needs: SMTP, ICMP, ICMPv6 errors (not neighbour discovery)
CAPTURE_FILTER = (
    f"tcp port {SMTP_PORT} or (icmp and icmp[0] != 8 and icmp[0] != 0) or (icmp6 and ip6[40] < 128)"
)
#: how long to keep capturing after the delivery attempt ended (FIN/RST exchange)
CAPTURE_TAIL_S = 0.5
#: base64 line length of MIME bodies (RFC 2045 section 6.8: at most 76 characters)
MIME_LINE = 76

SENDER_ADDR = "alicia@client.lab.example"
RECIPIENT_ADDR = "saravana@server.lab.example"


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabRun:
    """What one scenario run produced and observed."""

    scenario: str
    expected_verdict: str | None
    """`Verdict` value analyze should give, or None for no finding"""
    expect_error_finding: bool
    expect_delivery: bool
    sender: str
    """``postfix`` or ``smtplib``"""
    family: int
    message_size: int
    """bytes of the message handed to the sender"""
    out_dir: Path
    capture: Path
    """dumpcap on the client's eth0 (pcapng, full snaplen, SMTP + ICMP errors only)"""
    sender_log: Path
    """Postfix's maillog_file, or the smtplib sender's transcript"""
    delivered: bool
    """the sender reported success"""
    delivery_status: str
    """Postfix status (sent, deferred, bounced, timeout) or smtplib's (sent, error, timeout)"""
    delivery_detail: str
    """the Postfix result line or the smtplib exception"""
    received: int
    """messages the receiving server stored"""
    client_addr: str
    server_addr: str
    path_mtu: int
    """MTU of the smallest link"""
    started: str
    """UTC ISO 8601"""
    setup_s: float
    transfer_s: float
    """from submission to the end of the delivery attempt"""
    total_s: float

    @property
    def postfix_log(self) -> Path | None:
        return self.sender_log if self.sender == "postfix" else None

    @property
    def outcome_as_expected(self) -> bool:
        return (
            self.delivered == self.expect_delivery and (self.received > 0) == self.expect_delivery
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        return d


def make_message(size: int = DEFAULT_SIZE, *, marker: bool = True) -> bytes:
    """A realistic MIME mail of about `size` bytes: a text part and a base64 "attachment".

    The header carries `CONTENT_MARKER` (what the RST middlebox fires on) and, with
    `marker`, the middle of the attachment carries `IPS_MARKER` (what the IPS drops).
    """
    boundary = "=_pathsleuth_lab_boundary"
    head = (
        f"From: Alicia <{SENDER_ADDR}>\r\n"
        f"To: Saravana <{RECIPIENT_ADDR}>\r\n"
        f"Subject: quarterly figures (lab message, {size} bytes)\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: {make_msgid(domain='client.lab.example')}\r\n"
        f"{CONTENT_MARKER} {size}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Please find the figures attached.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream; name=figures.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    line_len = MIME_LINE + 2
    n_lines = max(1, (size - len(head) - len(tail)) // line_len)
    lines = [
        bytes(alphabet[(i * 7 + j) % 64] for j in range(MIME_LINE)) + b"\r\n"
        for i in range(min(n_lines, 64))
    ]
    body = [lines[i % len(lines)] for i in range(n_lines)]
    if marker and n_lines > 2:
        sig = IPS_MARKER.encode()
        mid = n_lines // 2
        body[mid] = sig + body[mid][len(sig) :]
    return head + b"".join(body) + tail


def _smtplib_send(
    topo: Topology, server: str, message: bytes, log: Path, timeout: float
) -> tuple[str, str]:
    """Send with smtplib from the client namespace; transcript to `log`; (status, detail)."""
    code = (
        "import smtplib,sys\n"
        "msg=sys.stdin.buffer.read()\n"
        "try:\n"
        f"    s=smtplib.SMTP({server!r},{SMTP_PORT},timeout={SMTPLIB_TIMEOUT_S!r},local_hostname='client.lab.example')\n"
        "    s.set_debuglevel(2)\n"
        f"    s.sendmail({SENDER_ADDR!r},[{RECIPIENT_ADDR!r}],msg)\n"
        "    s.quit()\n"
        "except Exception as e:\n"
        "    c=e.__context__\n"
        "    why=f' (after {type(c).__name__}: {c})' if c else ''\n"
        "    print(f'error: {type(e).__name__}: {e}{why}', flush=True); sys.exit(1)\n"
        "print('sent', flush=True)\n"
    )
    argv = ["ip", "netns", "exec", topo.ns("client"), sys.executable, "-c", code]
    try:
        done = subprocess.run(
            argv, input=message, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        log.write_bytes((exc.stderr or b"") + (exc.stdout or b""))
        return "timeout", f"no result within {timeout:g} s"
    log.write_bytes(done.stderr + done.stdout)
    last = done.stdout.decode(errors="replace").strip().splitlines()
    detail = last[-1] if last else ""
    return ("sent" if done.returncode == 0 else "error"), detail


def lab_workdir(prefix: str) -> Path:
    """A world-readable scratch directory for one lab (Postfix daemons run as `postfix`)."""
    path = Path(tempfile.gettempdir()) / f"{prefix}work"
    path.mkdir(mode=0o755, exist_ok=True)
    path.chmod(0o755)
    return path


def build_spec(
    scenario: Scenario, *, mtu: int | None = None, routers: int | None = None
) -> TopologySpec:
    """The scenario's topology, with the small link's MTU or the router count overridden."""
    spec = scenario.spec
    changes: dict[str, Any] = {}
    if mtu is not None and spec.small_mtu != 1500:
        changes["small_mtu"] = mtu
    if routers is not None:
        changes["routers"] = routers
    return dataclasses.replace(spec, **changes) if changes else spec


def start_services(
    topo: Topology, scenario: Scenario, work: Path, *, detached: bool = False
) -> Path:
    """Apply the scenario's filters, start the SMTP sink; return its spool directory."""
    scenario.setup(topo)
    spool = work / "received"
    spool.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "pathsleuth.lab.smtpsink", "--spool", str(spool)]
    if detached:
        topo.spawn_detached("server", argv, log=work / "smtpsink.log")
    else:
        topo.popen("server", argv, stderr=subprocess.DEVNULL)
    topo.wait_tcp("client", topo.addr("server", scenario.family), SMTP_PORT, timeout=15)
    return spool


def run_scenario(
    name: str,
    out_dir: str | Path,
    *,
    sender: Sender = "postfix",
    size: int = DEFAULT_SIZE,
    timeout: float = DEFAULT_TIMEOUT_S,
    mtu: int | None = None,
    routers: int | None = None,
    prefix: str | None = None,
) -> LabRun:
    """Run scenario `name` once; write capture, sender log and run.json to `out_dir`.

    `prefix` names the lab's namespaces (default: a random ``psl-xxxxxx-``); tests pass
    their own so that their leak checks never touch somebody else's lab.
    """
    scenario = get_scenario(name)
    if sender not in ("postfix", "smtplib"):
        raise ValueError(f"sender must be postfix or smtplib, got {sender!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    spec = build_spec(scenario, mtu=mtu, routers=routers)
    capture_path = out / "client.pcapng"
    sender_log = out / ("postfix.log" if sender == "postfix" else "smtplib.log")
    message = make_message(size)
    with Topology(spec, prefix=prefix) as topo:
        work = lab_workdir(topo.prefix)
        try:
            spool = start_services(topo, scenario, work)
            server = topo.addr("server", scenario.family)
            instance = None
            if sender == "postfix":
                instance = pf.PostfixInstance(
                    topo, "client", work / "postfix", relay=server, ipv6=spec.ipv6
                )
                instance.start()
            # capture as late as possible: the file then holds the one SMTP session only
            cap = topo.capture("client", capture_path, ifname="eth0", bpf=CAPTURE_FILTER)
            setup_s = time.monotonic() - t0
            t1 = time.monotonic()
            try:
                if instance is not None:
                    qid = instance.submit(message, sender=SENDER_ADDR, recipients=[RECIPIENT_ADDR])
                    result = instance.wait_result(qid, timeout=timeout)
                    status, detail = result.status, result.log_line
                else:
                    status, detail = _smtplib_send(topo, server, message, sender_log, timeout)
                transfer_s = time.monotonic() - t1
                time.sleep(CAPTURE_TAIL_S)
            finally:
                cap.stop()
                if instance is not None:
                    instance.stop()
            if instance is not None:
                shutil.copyfile(instance.log_path, sender_log)
            received = len(list(spool.glob("*.eml")))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    run = LabRun(
        scenario=name,
        expected_verdict=scenario.expected_verdict.value if scenario.expected_verdict else None,
        expect_error_finding=scenario.expect_error_finding,
        expect_delivery=scenario.expect_delivery,
        sender=sender,
        family=scenario.family,
        message_size=len(message),
        out_dir=out,
        capture=capture_path,
        sender_log=sender_log,
        delivered=status == "sent",
        delivery_status=status,
        delivery_detail=detail,
        received=received,
        client_addr=topo.addr("client", scenario.family),
        server_addr=server,
        path_mtu=min(link.mtu for link in topo.links),
        started=started,
        setup_s=round(setup_s, 3),
        transfer_s=round(transfer_s, 3),
        total_s=round(time.monotonic() - t0, 3),
    )
    (out / "run.json").write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    return run


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabUp:
    """A lab left running by `lab_up`: names and addresses to use it by hand."""

    scenario: str
    prefix: str
    namespaces: dict[str, str]
    client_addr: str
    server_addr: str
    workdir: Path
    postfix_config: Path | None


def lab_up(
    name: str,
    *,
    mtu: int | None = None,
    routers: int | None = None,
    postfix: bool = True,
    prefix: str | None = None,
) -> LabUp:
    """Build scenario `name` and leave it running (SMTP sink, optionally Postfix); `lab_down` ends it."""
    scenario = get_scenario(name)
    topo = Topology(build_spec(scenario, mtu=mtu, routers=routers), prefix=prefix).up()
    try:
        work = lab_workdir(topo.prefix)
        start_services(topo, scenario, work, detached=True)
        config = None
        if postfix:
            instance = pf.PostfixInstance(
                topo, "client", work / "postfix", relay=topo.addr("server", scenario.family)
            )
            instance.start()
            config = instance.config_dir
    except BaseException:
        topo.down()
        raise
    # leave the namespaces for `lab down`
    topo.detach()
    return LabUp(
        scenario=name,
        prefix=topo.prefix,
        namespaces={node: topo.ns(node) for node in topo.nodes},
        client_addr=topo.addr("client", scenario.family),
        server_addr=topo.addr("server", scenario.family),
        workdir=work,
        postfix_config=config,
    )


def lab_down(prefix: str = LAB_PREFIX) -> list[str]:
    """Remove every lab namespace named `prefix`* (and their processes and scratch dirs)."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("removing lab namespaces needs root")
    names = cleanup_labs(prefix)
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*work"):
        shutil.rmtree(path, ignore_errors=True)
    return names
