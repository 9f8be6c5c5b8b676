"""Topology: the namespaces, links, addresses and routes exist as specified, and vanish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from pathsleuth.errors import EnvironmentProblem
from pathsleuth.lab import topology as topo_mod
from pathsleuth.lab.topology import (
    LabError,
    Topology,
    TopologySpec,
    cleanup_labs,
    list_lab_namespaces,
    require_root,
)


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="routers"):
        TopologySpec(routers=0)
    with pytest.raises(ValueError, match="small_link"):
        TopologySpec(routers=2, small_link=3)
    with pytest.raises(ValueError, match="small_mtu"):
        TopologySpec(small_mtu=1200)  # below the IPv6 minimum link MTU
    assert TopologySpec(small_mtu=1200, ipv6=False).small_mtu == 1200
    assert TopologySpec(routers=3).nodes == ["client", "r1", "r2", "r3", "server"]


def test_address_plan_without_root() -> None:
    topo = Topology(TopologySpec(routers=3, small_link=2, small_mtu=1280), prefix="psl-plan-")
    assert topo.ns("r2") == "psl-plan-r2"
    assert topo.addr("client", 4) == "198.18.0.1"
    assert topo.addr("client", 6) == "2001:db8::1"
    assert topo.addr("server", 4) == "198.18.3.2"
    assert topo.addr("server", 6) == "2001:db8:0:3::2"
    assert topo.addr("r2", 4) == "198.18.1.2"  # a router's client-side address
    link = topo.link_addrs(2)
    assert (link.left, link.right, link.mtu) == ("r2", "r3", 1280)
    assert (link.left_ifname, link.right_ifname) == ("eth1", "eth0")
    assert [la.mtu for la in topo.links] == [1500, 1500, 1280, 1500]
    with pytest.raises(KeyError):
        topo.ns("r9")
    with pytest.raises(ValueError, match="prefix"):
        Topology(prefix="other-")


def test_require_root_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topo_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="needs root"):
        require_root()


@pytest.mark.needs_root
def test_build_routes_and_pmtu(lab_prefix: str) -> None:
    spec = TopologySpec(routers=2, small_mtu=1400, small_link=1)
    with Topology(spec, prefix=lab_prefix) as topo:
        assert list_lab_namespaces(lab_prefix) == sorted(topo.ns(n) for n in topo.nodes)
        assert topo.run("r1", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
        assert topo.run("client", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0"
        mtu = topo.run("r1", ["cat", "/sys/class/net/eth1/mtu"]).stdout.strip()
        assert mtu == "1400"
        feats = topo.run("client", ["ethtool", "-k", "eth0"]).stdout
        assert "tcp-segmentation-offload: off" in feats
        assert "generic-receive-offload: off" in feats
        # end-to-end reachability, both families, and kernel PMTU discovery through r1
        topo.popen("server", [sys.executable, "-c", _LISTENER, "::", "9"])
        server = topo.addr("server", 4)
        topo.wait_tcp("client", server, 9, timeout=10)
        out = topo.run("client", [sys.executable, "-c", _BULK, server, "9"], timeout=20)
        assert out.stdout.split() == ["1400"], out
        topo.wait_tcp("client", topo.addr("server", 6), 9, timeout=10)
        route = topo.run("client", ["ip", "route", "get", topo.addr("server", 4)]).stdout
        assert "mtu 1400" in route  # learned from r1's ICMP 3/4
    assert list_lab_namespaces(lab_prefix) == []


_LISTENER = textwrap.dedent(
    """
    import socket, sys, time
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
    conns = []
    while True:
        c, _ = s.accept(); conns.append(c)
    """
)
_BULK = textwrap.dedent(
    """
    import socket, sys, time
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    s.sendall(b"x" * 200000)
    time.sleep(0.5)
    print(s.getsockopt(socket.IPPROTO_IP, 14))  # IP_MTU: the path MTU the kernel uses
    """
)


@pytest.mark.needs_root
def test_nft_sysctl_iptables_and_errors(lab_prefix: str) -> None:
    with Topology(TopologySpec(routers=1, small_link=1), prefix=lab_prefix) as topo:
        topo.nft("r1", "table inet t { chain c { type filter hook forward priority 0; }; }")
        assert "table inet t" in topo.run("r1", ["nft", "list", "ruleset"]).stdout
        topo.sysctl("client", "net.ipv4.tcp_mtu_probing", "1")
        assert (
            topo.run("client", ["sysctl", "-n", "net.ipv4.tcp_mtu_probing"]).stdout.strip() == "1"
        )
        # per namespace: the server keeps the default
        assert (
            topo.run("server", ["sysctl", "-n", "net.ipv4.tcp_mtu_probing"]).stdout.strip() == "0"
        )
        topo.iptables(
            "r1", ["-A", "FORWARD", "-m", "string", "--algo", "bm", "--string", "x", "-j", "DROP"]
        )
        with pytest.raises(LabError, match="nft"):
            topo.nft("r1", "this is not nftables")
        with pytest.raises(subprocess.CalledProcessError):
            topo.run("client", ["false"])


@pytest.mark.needs_root
def test_removed_after_exception(lab_prefix: str) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        Topology(TopologySpec(), prefix=lab_prefix) as topo,
    ):
        proc = topo.popen("server", ["sleep", "300"])
        raise RuntimeError("boom")
    assert proc.poll() is not None
    assert list_lab_namespaces(lab_prefix) == []


@pytest.mark.needs_root
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_removed_after_sigterm_or_ctrl_c(lab_prefix: str, sig: signal.Signals) -> None:
    code = textwrap.dedent(
        f"""
        import time
        from pathsleuth.lab.topology import Topology, TopologySpec
        with Topology(TopologySpec(routers=1), prefix={lab_prefix!r}) as topo:
            topo.popen("server", ["sleep", "300"])
            print("up", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "up"
        assert len(list_lab_namespaces(lab_prefix)) == 3
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        # SIGTERM: turned into SystemExit(128 + 15); Ctrl-C: KeyboardInterrupt, after which
        # Python ends itself by SIGINT (-2) once the with block has cleaned up
        assert code == (128 + signal.SIGTERM if sig == signal.SIGTERM else -signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert list_lab_namespaces(lab_prefix) == []


@pytest.mark.needs_root
def test_cleanup_labs_kills_processes(lab_prefix: str) -> None:
    topo = Topology(TopologySpec(routers=1), prefix=lab_prefix).up()
    proc = subprocess.Popen(["ip", "netns", "exec", topo.ns("server"), "sleep", "300"])
    time.sleep(0.2)
    topo.detach()  # as `lab up` leaves it
    assert len(list_lab_namespaces(lab_prefix)) == 3
    removed = cleanup_labs(lab_prefix)
    assert len(removed) == 3
    proc.wait(timeout=10)  # long before its 300 s are up
    assert list_lab_namespaces(lab_prefix) == []
    assert os.path.exists("/proc/self")  # we are still alive
