"""A chain of network namespaces (client — r1 — … — rN — server) joined by veth pairs.

This module owns the kernel objects of one lab: it creates uniquely prefixed namespaces,
veth links with one small-MTU link, IPv4 and IPv6 addresses and static routes, forwarding
in the routers and NIC-like offload settings; it runs commands, nftables rulesets, sysctls
and captures inside them; and it removes every namespace and process it created when the
``with`` block ends, also after an exception, Ctrl-C or SIGTERM. It hands on names and
addresses (``ns``, ``addr``, ``link_addrs``) to `lab/scenarios.py`, `lab/runner.py` and the
probe tests; it knows nothing about SMTP or verdicts.

Address plan: link *i* (0 = client–r1) carries 198.18.*i*.0/24 (RFC 2544 benchmarking
range, 198.18.0.0/15) and 2001:db8:0:*i*::/64 (RFC 3849 documentation prefix); the node on
the client side of a link is ``.1`` / ``::1``, the node on the server side ``.2`` / ``::2``.
Interface names are those of a real host: the client and server have ``eth0``; a router has
``eth0`` towards the client and ``eth1`` towards the server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Literal

from pathsleuth.errors import EnvironmentProblem

#: every lab namespace name starts with this, so `cleanup_labs` can find leftovers
LAB_PREFIX = "psl-"
#: Ethernet MTU (RFC 894) on every link but the small one
FULL_MTU = 1500
#: the IPv6 minimum link MTU (RFC 8200 section 5); a smaller link cannot carry IPv6
IPV6_MIN_MTU = 1280
#: the IPv4 minimum MTU every host must accept (RFC 791: 68 octets)
IPV4_MIN_MTU = 68
#: RFC 2544 benchmarking range: one /24 per link taken from 198.18.0.0/15
IPV4_BASE = ipaddress.IPv4Network("198.18.0.0/15")
#: RFC 3849 documentation prefix: one /64 per link
IPV6_BASE = ipaddress.IPv6Network("2001:db8::/32")
#: how long a process started with `popen` gets after SIGTERM before SIGKILL
TERMINATE_GRACE_S = 3.0
#: how long to wait for tcpdump to report that it is listening
CAPTURE_START_TIMEOUT_S = 10.0

Family = Literal[4, 6]


class LabError(EnvironmentProblem):
    """A lab command failed (names the namespace, the command and its stderr)."""


def require_root() -> None:
    """Raise `EnvironmentProblem` unless we are root and the lab's tools are installed."""
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "the lab needs root (it creates network namespaces, veth links and nftables "
            "rules); run it as root, e.g. with sudo"
        )
    missing = [
        tool
        for tool in ("ip", "nft", "ethtool", "tcpdump", "dumpcap")
        if shutil.which(tool) is None
    ]
    if missing:
        raise EnvironmentProblem(
            f"the lab needs {', '.join(missing)} (Debian packages iproute2, nftables, ethtool, "
            "tcpdump); `make system-deps` installs them"
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TopologySpec:
    """The shape of a lab: how many routers, which link is small, which features are on."""

    routers: int = 2
    """number of routers between client and server (>= 1)"""
    small_mtu: int = 1400
    """MTU of the small link (1400, 1280, 1492 PPPoE-like ...)"""
    small_link: int = 1
    """index of the small-MTU link: 0 = client–r1, 1 = r1–r2, ..., `routers` = rN–server"""
    ipv6: bool = True
    """configure IPv6 addresses and routes as well as IPv4"""
    offloads: bool = False
    """leave TSO/GSO/GRO and checksum offload on (captures then show super-segments)"""

    def __post_init__(self) -> None:
        if self.routers < 1:
            raise ValueError(f"routers must be >= 1, got {self.routers}")
        if not 0 <= self.small_link <= self.routers:
            raise ValueError(f"small_link must be in 0..{self.routers}, got {self.small_link}")
        low = IPV6_MIN_MTU if self.ipv6 else IPV4_MIN_MTU
        if not low <= self.small_mtu <= FULL_MTU:
            raise ValueError(f"small_mtu must be in {low}..{FULL_MTU}, got {self.small_mtu}")

    @property
    def nodes(self) -> list[str]:
        """Node names from the client to the server."""
        return ["client", *(f"r{k}" for k in range(1, self.routers + 1)), "server"]

    @property
    def link_count(self) -> int:
        return self.routers + 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinkAddrs:
    """One veth link: its ends, interface names, MTU and addresses."""

    index: int
    """0 = client–r1, ..."""
    left: str
    """node on the client side"""
    right: str
    """node on the server side"""
    left_ifname: str
    right_ifname: str
    mtu: int
    net4: str
    """IPv4 prefix, e.g. 198.18.1.0/24"""
    net6: str
    """IPv6 prefix, e.g. 2001:db8:0:1::/64"""
    left4: str
    right4: str
    left6: str
    right6: str

    def addr(self, node: str, family: Family = 4) -> str:
        """The address `node` has on this link."""
        if node == self.left:
            return self.left4 if family == 4 else self.left6
        if node == self.right:
            return self.right4 if family == 4 else self.right6
        raise KeyError(f"{node} is not on link {self.index} ({self.left}–{self.right})")


def _link_addrs(spec: TopologySpec, index: int) -> LinkAddrs:
    nodes = spec.nodes
    net4 = list(IPV4_BASE.subnets(new_prefix=24))[index]
    net6 = ipaddress.IPv6Network((int(IPV6_BASE.network_address) + (index << 64), 64))
    left, right = nodes[index], nodes[index + 1]
    return LinkAddrs(
        index=index,
        left=left,
        right=right,
        left_ifname="eth0" if left == "client" else "eth1",
        right_ifname="eth0",
        mtu=spec.small_mtu if index == spec.small_link else FULL_MTU,
        net4=str(net4),
        net6=str(net6),
        left4=str(net4.network_address + 1),
        right4=str(net4.network_address + 2),
        left6=str(net6.network_address + 1),
        right6=str(net6.network_address + 2),
    )


class Capture:
    """A dumpcap or tcpdump running in a namespace; `stop` ends it and flushes the file."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path) -> None:
        self.proc = proc
        self.path = path
        self.stderr = ""

    def stop(self, timeout: float = TERMINATE_GRACE_S) -> Path:
        """End the capture (SIGINT, as Ctrl-C) and wait for it to write its last packets."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self.proc.stderr is not None:
            with contextlib.suppress(ValueError, OSError):
                self.stderr += self.proc.stderr.read().decode(errors="replace")
                self.proc.stderr.close()
        # dumpcap creates its file 0600; the capture is lab data meant to be shared
        with contextlib.suppress(OSError):
            self.path.chmod(0o644)
        return self.path


def _terminate(proc: subprocess.Popen[bytes], grace: float = TERMINATE_GRACE_S) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)


def _sh(cmd: Sequence[str], *, input: str | None = None, timeout: float = 30.0) -> str:
    """Run a host command; raise `LabError` with its stderr when it fails."""
    try:
        done = subprocess.run(
            list(cmd), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise LabError(f"{cmd[0]} is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(cmd)}` did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        raise LabError(f"`{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def list_lab_namespaces(prefix: str = LAB_PREFIX) -> list[str]:
    """Names of existing network namespaces whose name starts with `prefix`."""
    out = _sh(["ip", "netns", "list"])
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def _kill_netns_pids(ns: str) -> None:
    """SIGTERM then SIGKILL every process inside `ns` (a process outlives `ip netns del`)."""
    try:
        out = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except subprocess.TimeoutExpired:
        return
    pids = [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
                alive.append(pid)
        if not alive:
            return
        deadline = time.monotonic() + TERMINATE_GRACE_S
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _pid_alive(p)]
            if alive:
                time.sleep(0.05)
        pids = alive


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); it is dead all the same (its parent reaps it)
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def cleanup_labs(prefix: str = LAB_PREFIX) -> list[str]:
    """Kill the processes in and delete every namespace named `prefix`*; return the names."""
    names = list_lab_namespaces(prefix)
    for ns in names:
        _kill_netns_pids(ns)
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)
    return names


class Topology:
    """A running lab of `TopologySpec`'s shape; a context manager that removes it all on exit.

    >>> with Topology(TopologySpec(routers=2)) as topo:      # doctest: +SKIP
    ...     topo.run("client", ["ip", "route"])
    """

    def __init__(self, spec: TopologySpec | None = None, *, prefix: str | None = None) -> None:
        self.spec = spec or TopologySpec()
        self.prefix = prefix or f"{LAB_PREFIX}{secrets.token_hex(3)}-"
        if not self.prefix.startswith(LAB_PREFIX):
            raise ValueError(f"lab prefixes start with {LAB_PREFIX!r}, got {self.prefix!r}")
        self.nodes: list[str] = self.spec.nodes
        self.links: list[LinkAddrs] = [
            _link_addrs(self.spec, i) for i in range(self.spec.link_count)
        ]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._created: list[str] = []
        self._old_handlers: dict[int, object] = {}
        self._up = False

    # ---- names and addresses -----------------------------------------------------------

    def ns(self, node: str) -> str:
        """The network namespace name of `node` ("client", "r1", ..., "server")."""
        if node not in self.nodes:
            raise KeyError(f"no node {node!r} in this lab (nodes: {', '.join(self.nodes)})")
        return f"{self.prefix}{node}"

    def link_addrs(self, index: int) -> LinkAddrs:
        """Addresses, interface names and MTU of link `index` (0 = client–r1)."""
        return self.links[index]

    def addr(self, node: str, family: Family = 4) -> str:
        """`node`'s address: the client's and server's only one; a router's on its client side."""
        if node == "client":
            return self.links[0].addr(node, family)
        return self._client_side_link(node).addr(node, family)

    def ifname(self, node: str, link: int) -> str:
        """Interface name of `node` on link `link`."""
        la = self.links[link]
        if node == la.left:
            return la.left_ifname
        if node == la.right:
            return la.right_ifname
        raise KeyError(f"{node} is not on link {link}")

    @property
    def small_link(self) -> LinkAddrs:
        return self.links[self.spec.small_link]

    def _client_side_link(self, node: str) -> LinkAddrs:
        return self.links[self.nodes.index(node) - 1]

    # ---- running things inside ---------------------------------------------------------

    def _exec(self, node: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(node), *argv]

    def run(
        self,
        node: str,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in `node`'s namespace, text output captured; bounded by `timeout`."""
        return subprocess.run(
            self._exec(node, argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            env=dict(env) if env is not None else None,
        )

    def popen(
        self,
        node: str,
        argv: Sequence[str],
        *,
        stdout: int | None = subprocess.DEVNULL,
        stderr: int | None = subprocess.PIPE,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in `node`'s namespace; it is terminated when the lab goes down."""
        proc = subprocess.Popen(
            self._exec(node, argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
        self._procs.append(proc)
        return proc

    def spawn_detached(self, node: str, argv: Sequence[str], *, log: Path | None = None) -> None:
        """Start a daemon in `node`'s namespace that outlives this process (`lab up`).

        ``setsid -f`` forks it into its own session and returns at once; `cleanup_labs`
        (``lab down``) finds and kills it through the namespace.
        """
        out = str(log) if log is not None else os.devnull
        _sh(
            self._exec(
                node, ["setsid", "-f", "sh", "-c", 'exec "$@" </dev/null >>"$0" 2>&1', out, *argv]
            )
        )

    def nft(self, node: str, ruleset: str) -> None:
        """Load an nftables ruleset (``nft -f`` syntax) in `node`'s namespace.

        On one line, blocks need a separator: ``table inet t { chain c { ...; }; }``.
        """
        _sh(
            self._exec(node, ["nft", "-f", "-"]),
            input=ruleset if ruleset.endswith("\n") else ruleset + "\n",
        )

    def iptables(self, node: str, args: Sequence[str], *, family: Family = 4) -> None:
        """Add an iptables(-nft) rule: for matches nftables lacks, e.g. ``-m string``."""
        tool = "iptables" if family == 4 else "ip6tables"
        _sh(self._exec(node, [tool, "-w", "5", *args]))

    def sysctl(self, node: str, key: str, value: str) -> None:
        """Set a sysctl inside `node`'s namespace (only per-namespace keys make sense)."""
        _sh(self._exec(node, ["sysctl", "-q", "-w", f"{key}={value}"]))

    def ip(self, node: str, args: Sequence[str]) -> str:
        """Run ``ip -n NS ARGS`` and return its output."""
        return _sh(["ip", "-n", self.ns(node), *args])

    def capture(
        self,
        node: str,
        path: str | Path,
        *,
        ifname: str = "eth0",
        bpf: str = "",
        pcapng: bool = True,
    ) -> Capture:
        """Capture (full snaplen) on `node`'s `ifname`; returns once the capture is running.

        pcapng is written by dumpcap (Wireshark's capture engine; Debian's tcpdump 4.99.3
        writes pcap only), pcap by tcpdump. The filter is stored in the pcapng interface block.
        """
        path = Path(path)
        if pcapng:
            argv = ["dumpcap", "-i", ifname, "-s", "0", "-w", str(path)]
            if bpf:
                argv += ["-f", bpf]
            ready = b"Capturing on"
        else:
            argv = ["tcpdump", "-i", ifname, "-s", "0", "-n", "-U", "-w", str(path)]
            if bpf:
                argv.append(bpf)
            # tcpdump says "listening on IF" on stderr once the socket is bound
            ready = b"listening on"
        proc = self.popen(node, argv, stderr=subprocess.PIPE)
        cap = Capture(proc, path)
        assert proc.stderr is not None
        deadline = time.monotonic() + CAPTURE_START_TIMEOUT_S
        buf = b""
        os.set_blocking(proc.stderr.fileno(), False)
        while time.monotonic() < deadline:
            chunk = proc.stderr.read(4096)
            if chunk:
                buf += chunk
                if ready in buf:
                    break
            if proc.poll() is not None:
                raise LabError(
                    f"{argv[0]} in {self.ns(node)} failed: {buf.decode(errors='replace')}"
                )
            time.sleep(0.02)
        else:
            _terminate(proc)
            raise LabError(
                f"{argv[0]} in {self.ns(node)} did not start within {CAPTURE_START_TIMEOUT_S:g} s"
            )
        os.set_blocking(proc.stderr.fileno(), True)
        cap.stderr = buf.decode(errors="replace")
        return cap

    # ---- life cycle --------------------------------------------------------------------

    def __enter__(self) -> Topology:
        require_root()
        self._install_signal_handlers()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._up = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> Topology:
        """Build the lab without a ``with`` block (`lab up`); `down` or `cleanup_labs` ends it."""
        require_root()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._up = True
        return self

    def detach(self) -> None:
        """Forget our processes and namespaces so the lab outlives this object (`lab up`)."""
        for proc in self._procs:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError, ValueError):
                        stream.close()
        self._procs.clear()
        self._created.clear()
        self._restore_signal_handlers()

    def down(self) -> None:
        """Terminate our processes, kill anything left in our namespaces, delete them."""
        try:
            for proc in reversed(self._procs):
                _terminate(proc)
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        with contextlib.suppress(OSError, ValueError):
                            stream.close()
            self._procs.clear()
            for ns in self._created:
                _kill_netns_pids(ns)
            for ns in reversed(self._created):
                subprocess.run(
                    ["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False
                )
            self._created.clear()
            self._up = False
        finally:
            self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        # SIGTERM would otherwise end Python without running __exit__; turning it into
        # SystemExit lets the with-block unwind and remove the namespaces.
        if threading.current_thread() is not threading.main_thread():
            return

        def _on_term(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                self._old_handlers[sig] = signal.signal(sig, _on_term)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._old_handlers.clear()

    def _build(self) -> None:
        for node in self.nodes:
            ns = self.ns(node)
            _sh(["ip", "netns", "add", ns])
            self._created.append(ns)
            # addresses must be usable at once: no duplicate address detection
            self._sysctls(
                node, {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}
            )
            _sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        for la in self.links:
            _sh(
                [
                    "ip", "link", "add", la.left_ifname, "netns", self.ns(la.left),
                    "mtu", str(la.mtu), "type", "veth",
                    "peer", "name", la.right_ifname, "netns", self.ns(la.right), "mtu", str(la.mtu),
                ]
            )  # fmt: skip
        for node in self.nodes:
            self._configure(node)

    def _sysctls(self, node: str, values: Mapping[str, str]) -> None:
        _sh(self._exec(node, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in values.items())]))

    def _configure(self, node: str) -> None:
        idx = self.nodes.index(node)
        mine = [la for la in self.links if node in (la.left, la.right)]
        cmds: list[str] = []
        for la in mine:
            dev = self.ifname(node, la.index)
            plen4 = la.net4.split("/")[1]
            cmds.append(f"addr add {la.addr(node, 4)}/{plen4} dev {dev}")
            if self.spec.ipv6:
                cmds.append(f"addr add {la.addr(node, 6)}/64 dev {dev} nodad")
            cmds.append(f"link set {dev} up")
        is_router = node not in ("client", "server")
        if node != "server":
            # towards the server: a default route through the next node on the chain
            down = self.links[idx]
            cmds.append(f"route add default via {down.right4}")
            if self.spec.ipv6:
                cmds.append(f"route add ::/0 via {down.right6}")
        if node != "client":
            up = self.links[idx - 1]
            if node == "server":
                cmds.append(f"route add default via {up.left4}")
                if self.spec.ipv6:
                    cmds.append(f"route add ::/0 via {up.left6}")
            else:
                # the client side: one route per link further upstream than our own
                for far in self.links[: idx - 1]:
                    cmds.append(f"route add {far.net4} via {up.left4}")
                    if self.spec.ipv6:
                        cmds.append(f"route add {far.net6} via {up.left6}")
        _sh(["ip", "-n", self.ns(node), "-batch", "-"], input="\n".join(cmds) + "\n")
        values = {"net.ipv4.ip_forward": "1" if is_router else "0"}
        if self.spec.ipv6:
            values["net.ipv6.conf.all.forwarding"] = "1" if is_router else "0"
        self._sysctls(node, values)
        if not self.spec.offloads:
            for la in mine:
                # a NIC-like capture: no TSO/GSO super-segments, no GRO coalescing, and
                # checksums filled in before tcpdump sees the packet
                _sh(
                    self._exec(
                        node,
                        ["ethtool", "-K", self.ifname(node, la.index),
                         "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off"],
                    )
                )  # fmt: skip

    # ---- convenience -------------------------------------------------------------------

    def wait_tcp(self, node: str, host: str, port: int, *, timeout: float = 10.0) -> None:
        """Wait until a TCP connect from `node` to host:port succeeds (a server is up)."""
        code = (
            "import socket,sys,time\n"
            f"end=time.monotonic()+{timeout!r}\n"
            "while True:\n"
            "    try:\n"
            f"        socket.create_connection(({host!r},{port}),timeout=1).close(); sys.exit(0)\n"
            "    except OSError:\n"
            "        if time.monotonic()>end: sys.exit(1)\n"
            "        time.sleep(0.05)\n"
        )
        done = self.run(node, [sys.executable, "-c", code], timeout=timeout + 5, check=False)
        if done.returncode != 0:
            raise LabError(f"{host} port {port} not reachable from {node} within {timeout:g} s")

    def processes(self) -> Iterator[subprocess.Popen[bytes]]:
        return iter(self._procs)
