"""A private Postfix instance inside a lab namespace: the real MTA as the sending side.

This module owns one throw-away Postfix 3.x instance: its own configuration directory
(``main.cf`` + ``master.cf`` written from scratch, chroot off, ``maillog_file`` through
postlogd), its own queue and data directories under a temporary directory, a relayhost in
the server namespace and short SMTP client timeouts so that a black-holed delivery fails in
seconds instead of minutes. It starts and stops the instance (``postfix -c DIR``), submits a
message through the instance's own smtpd on the namespace's loopback, and waits for the
delivery attempt to end; it hands on the log path and the delivery outcome to
`lab/runner.py`. The host-wide Postfix and ``/etc/postfix`` are never touched: the instance
is started as root with ``-c``, which needs no ``alternate_config_directories`` entry, and
no set-gid command (postdrop, postqueue) is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pathsleuth.errors import EnvironmentProblem
from pathsleuth.lab.topology import LabError, Topology

#: Postfix time limits for one delivery attempt. Defaults (postconf(5)) are 30 s connect,
#: 300 s helo, 180 s data transfer, 600 s data done; a lab run must end within a minute.
CONNECT_TIMEOUT_S = 10
HELO_TIMEOUT_S = 15
DATA_XFER_TIMEOUT_S = 20
DATA_DONE_TIMEOUT_S = 20
#: the delivery-attempt result lines postfix's smtp(8) client writes: status=sent|deferred|bounced
_STATUS_RE = re.compile(
    r"postfix[^:]*/(?:smtp|error)\[\d+\]: (?P<qid>[0-9A-F]+): .*status=(?P<status>\w+)"
)
_QUEUED_RE = re.compile(r"queued as (?P<qid>[0-9A-F]+)")

MAIN_CF = """\
# pathsleuth lab: a private Postfix instance (see pathsleuth/lab/postfix.py)
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = {hostname}
mydomain = lab.example
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = {relayhost}
inet_interfaces = loopback-only
inet_protocols = {protocols}
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_relay_restrictions = permit_mynetworks, reject
smtputf8_enable = no
biff = no
message_size_limit = 52428800
maillog_file = {log}
maillog_file_prefixes = {logdir}
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = {connect}s
smtp_helo_timeout = {helo}s
smtp_mail_timeout = {helo}s
smtp_rcpt_timeout = {helo}s
smtp_data_init_timeout = {helo}s
smtp_data_xfer_timeout = {xfer}s
smtp_data_done_timeout = {done}s
smtp_quit_timeout = {helo}s
# one delivery attempt per run: the lab stops the instance before any retry
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
bounce_queue_lifetime = 0
"""

# service type private unpriv chroot wakeup maxproc command: chroot is "n" everywhere
MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryResult:
    """How Postfix's delivery attempt for the submitted message ended."""

    queue_id: str
    """Postfix queue id of the message"""
    status: str
    """``sent``, ``deferred``, ``bounced`` or ``timeout`` (no result line in time)"""
    log_line: str
    """the smtp(8) result line, empty on ``timeout``"""

    @property
    def delivered(self) -> bool:
        return self.status == "sent"


class PostfixInstance:
    """One private Postfix in `node`'s namespace of `topo`, relaying to ``[relay]:port``."""

    def __init__(
        self,
        topo: Topology,
        node: str,
        base_dir: Path,
        *,
        relay: str,
        port: int = 25,
        hostname: str = "client.lab.example",
        ipv6: bool = True,
    ) -> None:
        if shutil.which("postfix") is None:
            raise EnvironmentProblem("postfix is not installed (Debian package postfix)")
        self.topo = topo
        self.node = node
        self.base = base_dir.resolve()
        self.config_dir = self.base / "etc"
        self.queue_dir = self.base / "spool"
        self.data_dir = self.base / "data"
        self.log_path = self.base / "postfix.log"
        # relayhost takes a bracketed address for IPv4 and IPv6 alike (postconf(5));
        # the brackets also suppress MX lookups, which the lab has no DNS for
        self.relayhost = f"[{relay}]:{port}"
        self.hostname = hostname
        self.ipv6 = ipv6
        self._started = False

    def write_config(self) -> None:
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        # postfix(1) refuses a queue or data directory it cannot own
        shutil.chown(self.data_dir, "postfix", "postfix")
        # postlogd writes as root; the file must exist for postfix(1)'s own messages too
        self.log_path.touch()
        (self.config_dir / "main.cf").write_text(
            MAIN_CF.format(
                queue=self.queue_dir,
                data=self.data_dir,
                hostname=self.hostname,
                relayhost=self.relayhost,
                protocols="all" if self.ipv6 else "ipv4",
                log=self.log_path,
                logdir=self.base,
                connect=CONNECT_TIMEOUT_S,
                helo=HELO_TIMEOUT_S,
                xfer=DATA_XFER_TIMEOUT_S,
                done=DATA_DONE_TIMEOUT_S,
            )
        )
        (self.config_dir / "master.cf").write_text(MASTER_CF)

    def _postfix(self, *args: str, timeout: float = 30.0) -> str:
        done = self.topo.run(
            self.node, ["postfix", "-c", str(self.config_dir), *args], timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise LabError(
                f"postfix -c {self.config_dir} {' '.join(args)} failed: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        return done.stdout + done.stderr

    def start(self, *, timeout: float = 20.0) -> None:
        """Write the configuration, create the queue, start master and wait for smtpd."""
        self.write_config()
        self._postfix("check", timeout=timeout)
        self._postfix("start", timeout=timeout)
        self._started = True
        # `postfix start` runs `master -w`: it returns once master listens on port 25

    def stop(self, *, timeout: float = 20.0) -> None:
        """Stop the instance (``postfix stop``; `Topology.down` kills what is left)."""
        if not self._started:
            return
        self._started = False
        with contextlib.suppress(LabError, subprocess.TimeoutExpired):
            self._postfix("stop", timeout=timeout)
        # master exits asynchronously after "stop"; wait for its pid file lock to go
        pid_file = self.queue_dir / "pid" / "master.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pidfile_alive(pid_file):
            time.sleep(0.1)

    def flush(self) -> None:
        self._postfix("flush")

    def submit(
        self, message: bytes, *, sender: str, recipients: list[str], timeout: float = 30.0
    ) -> str:
        """Hand `message` to the instance's smtpd on loopback; return the Postfix queue id."""
        code = (
            "import smtplib,sys\n"
            "msg=sys.stdin.buffer.read()\n"
            f"s=smtplib.SMTP('127.0.0.1',25,timeout={timeout!r})\n"
            "s.ehlo('submitter.lab.example')\n"
            f"s.mail({sender!r})\n"
            f"[s.rcpt(r) for r in {recipients!r}]\n"
            "code,resp=s.data(msg)\n"
            "s.quit()\n"
            "sys.stdout.write(f'{code} {resp.decode()}')\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", self.topo.ns(self.node), sys.executable, "-c", code],
            input=message,
            capture_output=True,
            timeout=timeout + 5,
            check=False,
        )
        out = done.stdout.decode(errors="replace")
        m = _QUEUED_RE.search(out)
        if done.returncode != 0 or not out.startswith("250") or m is None:
            raise LabError(
                f"submitting to Postfix in {self.node} failed: {out} "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return m.group("qid")

    def wait_result(self, queue_id: str, *, timeout: float) -> DeliveryResult:
        """Wait for the smtp(8) result line of `queue_id` in the log (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            for line in text.splitlines():
                m = _STATUS_RE.search(line)
                if m and m.group("qid") == queue_id:
                    return DeliveryResult(
                        queue_id=queue_id, status=m.group("status"), log_line=line
                    )
            if time.monotonic() >= deadline:
                return DeliveryResult(queue_id=queue_id, status="timeout", log_line="")
            time.sleep(0.2)

    def queue(self) -> str:
        """The queue listing (``postqueue -p``), for diagnostics."""
        done = self.topo.run(
            self.node, ["postqueue", "-c", str(self.config_dir), "-p"], timeout=15, check=False
        )
        return done.stdout + done.stderr


def _pidfile_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return Path(f"/proc/{pid}").exists()
