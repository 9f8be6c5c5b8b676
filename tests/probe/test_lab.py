"""The probe and fix-check against the lab's scenarios, in network namespaces (root).

Every probe targets an address inside namespaces the test created. The scenarios'
setups come from `lab/scenarios.py`, so what is probed is the same kernel state the
capture tests analyse: r1 drops the ICMP frag-needed / PTB it would send for the
1400-byte (or 1280-byte) r1–r2 link.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pathsleuth.lab.scenarios import get_scenario
from pathsleuth.lab.topology import Topology, TopologySpec

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]

SPEC_1400 = TopologySpec(routers=2, small_mtu=1400, small_link=1)
SPEC_1280 = TopologySpec(routers=2, small_mtu=1280, small_link=1)


def pathsleuth(topo: Topology, node: str, args: list[str], timeout: float = 180) -> tuple[int, Any]:
    done = topo.run(
        node, [sys.executable, "-m", "pathsleuth.cli", *args], timeout=timeout, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Topology]:
    scenario, spec = request.param
    with Topology(spec) as topo:
        get_scenario(scenario).setup(topo)
        yield topo


def smtp_server(topo: Topology, spool: Path, family: int = 4) -> None:
    topo.popen("server", [sys.executable, "-m", "pathsleuth.lab.smtpsink", "--spool", str(spool)])
    topo.wait_tcp("client", topo.addr("server", family), 25)  # type: ignore[arg-type]


@pytest.mark.parametrize("lab", [("blackhole", SPEC_1400)], indirect=True)
def test_trace_finds_blackhole_v4(lab: Topology) -> None:
    rc, doc = pathsleuth(
        lab, "client", ["probe", lab.addr("server"), "--no-smtp", "--format", "json"]
    )
    (dest,) = doc["destinations"]
    trace = dest["trace"]
    assert trace["reached"] and trace["path_mtu"] == 1400 and trace["path_mtu_high"] == 1401
    bh = trace["blackhole"]
    assert (
        bh["after_ttl"] == 1 and bh["router"] == lab.addr("r1") and bh["next_hop"] == lab.addr("r2")
    )
    assert [h["address"] for h in trace["hops"]] == [
        lab.addr("r1"),
        lab.addr("r2"),
        lab.addr("server"),
    ]
    assert [f["verdict"] for f in dest["findings"]] == ["pmtu_blackhole"]
    assert rc == 1


@pytest.mark.parametrize("lab", [("blackhole6", SPEC_1280)], indirect=True)
def test_trace_finds_blackhole_v6_1280(lab: Topology) -> None:
    rc, doc = pathsleuth(
        lab,
        "client",
        ["probe", lab.addr("server", 6), "--no-smtp", "--family", "6", "--format", "json"],
    )
    trace = doc["destinations"][0]["trace"]
    assert trace["reached"] and trace["path_mtu"] == 1280
    assert trace["blackhole"]["router"] == lab.addr("r1", 6)
    assert rc == 1


@pytest.mark.parametrize("lab", [("pmtud-ok", SPEC_1400)], indirect=True)
@pytest.mark.parametrize("family", [4, 6])
def test_trace_reports_working_pmtud(lab: Topology, family: int) -> None:
    addr = lab.addr("server", family)  # type: ignore[arg-type]
    rc, doc = pathsleuth(lab, "client", ["probe", addr, "--no-smtp", "--format", "json"])
    dest = doc["destinations"][0]
    trace = dest["trace"]
    assert trace["path_mtu"] == 1400 and trace["blackhole"] is None and trace["reached"]
    (drop,) = trace["drops"]
    assert drop["announced"] and drop["router"] == lab.addr("r1", family) and drop["mtu"] == 1400  # type: ignore[arg-type]
    assert [f["verdict"] for f in dest["findings"]] == ["pmtud_working"]
    assert rc == 0


SMTP_CASES = [
    ("blackhole", SPEC_1400),
    ("blackhole6", SPEC_1400),
    ("pmtud-ok", SPEC_1400),
    ("fix-mss-clamp", SPEC_1400),
    ("fix-mtu-probing", SPEC_1400),
]


@pytest.mark.parametrize("lab", SMTP_CASES, indirect=True, ids=[c[0] for c in SMTP_CASES])
def test_smtp_probe_tells_scenarios_apart(
    lab: Topology, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    scenario = request.node.callspec.params["lab"][0]
    family = get_scenario(scenario).family
    smtp_server(lab, tmp_path, family)
    addr = lab.addr("server", family)
    rc, doc = pathsleuth(lab, "client", ["probe", addr, "--no-trace", "--format", "json"])
    dest = doc["destinations"][0]
    smtp = dest["smtp"]
    verdicts = [(f["verdict"], f["severity"]) for f in dest["findings"]]
    if scenario in ("blackhole", "blackhole6"):
        assert verdicts == [("pmtu_blackhole", "error")]
        assert smtp["path_mtu"] == {"low": 1400, "high": 1401}
        assert not smtp["attempts"][0]["acked"] and smtp["attempts"][0]["packet_size"] == 1500
        assert rc == 1
    elif scenario == "pmtud-ok":
        assert verdicts == [("pmtud_working", "info")]
        assert smtp["path_mtu"]["high"] == 1400 and rc == 0
    elif scenario == "fix-mss-clamp":
        assert verdicts == [] and smtp["mss_clamped"]
        assert smtp["attempts"][0]["packet_size"] == 1400 and rc == 0
    else:  # tcp_mtu_probing on the client: the stall ends with smaller segments
        assert verdicts == [("pmtu_blackhole", "warning")]
        assert dest["findings"][0]["recovered"] is True and rc == 0
    # the probe never delivers mail
    assert not list(tmp_path.glob("*.eml"))


FIX_CASES = [
    ("fix-mtu-probing", "client", "tcp-mtu-probing"),
    ("fix-no-pmtu-disc", "client", "no-pmtu-disc"),
    ("fix-route-mtu", "client", "route-mtu-lock"),
    ("fix-mss-clamp", "r1", "mss-clamp"),
]


@pytest.mark.parametrize(("scenario", "node", "fix_id"), FIX_CASES, ids=[c[0] for c in FIX_CASES])
def test_fix_check_sees_each_fix(scenario: str, node: str, fix_id: str) -> None:
    with Topology(SPEC_1400) as topo:
        get_scenario(scenario).setup(topo)
        rc, doc = pathsleuth(
            topo, node, ["fix-check", "--dest", topo.addr("server"), "--format", "json"]
        )
        status = {f["id"]: f["status"] for f in doc["fixes"]}
        assert status[fix_id] == "in_place", doc["fixes"]
        assert doc["protected"]
        others = {"tcp-mtu-probing", "no-pmtu-disc", "route-mtu-lock", "mss-clamp"} - {fix_id}
        assert all(status[o] == "missing" for o in others), doc["fixes"]
        if scenario == "fix-route-mtu":
            assert doc["route"]["mtu"] == 1400 and doc["route"]["mtu_locked"]
        if node == "r1":
            # the black-hole router's own rules are reported as the problem they are
            assert status["allow-icmp-ptb"] == "problem" and rc == 1
        else:
            assert status["allow-icmp-ptb"] == "in_place" and rc == 0


def test_fix_check_unprotected_client_and_host_firewall() -> None:
    with Topology(SPEC_1400) as topo:
        get_scenario("ptb-ignored").setup(topo)
        rc, doc = pathsleuth(
            topo,
            "client",
            ["fix-check", "--dest", topo.addr("server"), "--mtu", "1400", "--format", "json"],
        )
        assert not doc["protected"] and rc == 1
        status = {f["id"]: f["status"] for f in doc["fixes"]}
        assert status["allow-icmp-ptb"] == "problem"
        assert doc["advice"][0]["id"] == "allow-icmp-ptb"
        # the advice's commands work: applying the MSS clamp makes the host protected
        clamp = next(a for a in doc["advice"] if a["id"] == "mss-clamp")
        for cmd in clamp["commands"]:
            if not cmd.startswith("#"):
                topo.run("client", ["sh", "-c", cmd])
        rc2, doc2 = pathsleuth(
            topo, "client", ["fix-check", "--dest", topo.addr("server"), "--format", "json"]
        )
        assert {f["id"]: f["status"] for f in doc2["fixes"]}["mss-clamp"] == "in_place"
        assert doc2["protected"]
        assert rc2 == 1  # the host firewall still drops PTB: a problem worth fixing


def test_text_output_names_the_hop(tmp_path: Path) -> None:
    with Topology(SPEC_1400) as topo:
        get_scenario("blackhole").setup(topo)
        done = topo.run(
            "client",
            [sys.executable, "-m", "pathsleuth.cli", "probe", topo.addr("server"), "--no-smtp"],
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert f"BLACK HOLE after hop 1 ({topo.addr('r1')})" in done.stdout


def test_unreachable_target_is_clean_error() -> None:
    with Topology(SPEC_1400) as topo:
        topo.ip("client", ["route", "del", "default"])
        done = topo.run(
            "client",
            [sys.executable, "-m", "pathsleuth.cli", "probe", "198.18.2.2", "--no-smtp"],
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert "no route to 198.18.2.2" in done.stdout
        assert "Traceback" not in done.stderr


def test_filtered_udp_falls_back_to_icmp() -> None:
    """r2 drops forwarded UDP: the UDP trace goes silent after hop 2; as root the probe
    traces again with ICMP echo (raw socket) and still finds the black hole."""
    with Topology(SPEC_1400) as topo:
        get_scenario("blackhole").setup(topo)
        topo.nft(
            "r2",
            "table inet nudp { chain forward { type filter hook forward priority filter; "
            "policy accept; meta l4proto udp drop\n }\n}",
        )
        rc, doc = pathsleuth(
            topo, "client", ["probe", topo.addr("server"), "--no-smtp", "--format", "json"]
        )
        dest = doc["destinations"][0]
        assert any("filter UDP" in n for n in dest["notes"])
        trace = dest["trace"]
        assert trace["method"] == "icmp" and trace["reached"] and trace["path_mtu"] == 1400
        assert trace["blackhole"]["router"] == topo.addr("r1")
        assert rc == 1


UDP_DROP_AT_R2 = (
    "table inet nudp { chain forward { type filter hook forward priority filter; "
    "policy accept; meta l4proto udp drop\n }\n}"
)


def test_tcp_trace_finds_blackhole_when_udp_is_filtered(tmp_path: Path) -> None:
    """r2 drops forwarded UDP. As root, `--method tcp` sends raw SYNs that carry a payload
    to the SMTP port: over IPv4 and IPv6 the trace still finds every hop, the path MTU and
    the router that swallows the PTB. The documents validate against the published schema."""
    import jsonschema  # type: ignore[import-untyped]

    from pathsleuth.report.probe import load_schema

    validator = jsonschema.Draft202012Validator(load_schema("probe"))
    with Topology(SPEC_1400) as topo:
        get_scenario("blackhole").setup(topo)
        topo.nft("r2", UDP_DROP_AT_R2)
        smtp_server(topo, tmp_path)
        for family in (4, 6):
            addr = topo.addr("server", family)  # type: ignore[arg-type]
            rc, doc = pathsleuth(
                topo, "client", ["probe", addr, "--no-smtp", "--method", "tcp", "--format", "json"]
            )
            validator.validate(doc)
            dest = doc["destinations"][0]
            trace = dest["trace"]
            assert trace["method"] == "tcp" and trace["mtu_measured"] and trace["reached"]
            assert [h["address"] for h in trace["hops"]] == [
                topo.addr(n, family)  # type: ignore[arg-type]
                for n in ("r1", "r2", "server")
            ]
            assert trace["path_mtu"] == 1400 and trace["path_mtu_high"] == 1401
            assert trace["blackhole"]["router"] == topo.addr("r1", family)  # type: ignore[arg-type]
            assert [f["verdict"] for f in dest["findings"]] == ["pmtu_blackhole"]
            assert dest["notes"] == [] and rc == 1
    # the handshakes were reset by this host's kernel: nothing reached the SMTP sink
    assert not list(tmp_path.glob("*.eml"))


def test_unprivileged_tcp_trace_finds_hops_and_says_what_it_cannot(tmp_path: Path) -> None:
    """Without root (the CLI runs as nobody), `--method tcp` traces with connect() SYNs:
    with UDP filtered it still finds every hop and the target, and says that it cannot
    measure the MTU (the SMTP-level test does; `test_smtp_probe_tells_scenarios_apart`
    shows it finds this black hole)."""
    with Topology(SPEC_1400) as topo:
        get_scenario("blackhole").setup(topo)
        topo.nft("r2", UDP_DROP_AT_R2)
        smtp_server(topo, tmp_path)
        nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        cli = [*nobody, sys.executable, "-m", "pathsleuth.cli", "probe", topo.addr("server")]
        done = topo.run(
            "client",
            [*cli, "--method", "tcp", "--no-smtp", "--format", "json"],
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        )
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        text = topo.run(
            "client",
            [*cli, "--method", "tcp", "--no-smtp"],
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        )
    dest = doc["destinations"][0]
    trace = dest["trace"]
    assert trace["method"] == "tcp" and not trace["mtu_measured"] and trace["reached"]
    assert [h["address"] for h in trace["hops"]] == [
        topo.addr("r1"),
        topo.addr("r2"),
        topo.addr("server"),
    ]
    assert trace["path_mtu"] is None and trace["blackhole"] is None
    assert trace["probes_sent"] == 3
    (note,) = dest["notes"]
    assert "carry no payload" in note and "without --no-smtp" in note
    assert dest["smtp"] is None and dest["findings"] == [] and dest["errors"] == []
    assert "hops only: a SYN has no payload, the MTU is not measured" in text.stdout
    assert "path MTU not measured" in text.stdout and text.returncode == 0


@pytest.mark.skipif(shutil.which("postfix") is None, reason="postfix not installed")
@pytest.mark.parametrize("scenario", ["blackhole", "pmtud-ok"])
def test_smtp_probe_against_real_postfix(scenario: str) -> None:
    """The same SMTP-level test against Postfix's smtpd (its NOOP handling, its junk-command
    limit) as the receiving server; nothing may be queued."""
    from pathsleuth.lab.postfix import PostfixInstance

    class ReceivingPostfix(PostfixInstance):
        # lab/postfix.py builds a *sending* instance (loopback-only); listen on the
        # server's own address instead, and accept nothing for relay
        def write_config(self) -> None:
            super().write_config()
            main_cf = self.config_dir / "main.cf"
            text = main_cf.read_text()
            text = text.replace("inet_interfaces = loopback-only", "inet_interfaces = all")
            # the lab has no DNS: a reverse look-up of each client would wait for timeouts
            main_cf.write_text(text + "smtpd_peername_lookup = no\n")

    with Topology(SPEC_1400) as topo:
        get_scenario(scenario).setup(topo)
        # the postfix user must reach its data directory: pytest's tmp_path is root-only
        base = Path(tempfile.mkdtemp(prefix="psl-postfix-"))
        base.chmod(0o755)
        pf = ReceivingPostfix(
            topo, "server", base / "pf", relay="192.0.2.1", hostname="server.lab.example"
        )
        pf.start()
        try:
            topo.wait_tcp("client", topo.addr("server"), 25)
            rc, doc = pathsleuth(
                topo, "client", ["probe", topo.addr("server"), "--no-trace", "--format", "json"]
            )
            dest = doc["destinations"][0]
            first = dest["smtp"]["attempts"][0]
            assert "Postfix" in first["banner"] or first["banner"].startswith(
                "220 server.lab.example"
            )
            verdicts = [f["verdict"] for f in dest["findings"]]
            if scenario == "blackhole":
                assert verdicts == ["pmtu_blackhole"] and rc == 1
                assert dest["smtp"]["path_mtu"] == {"low": 1400, "high": 1401}
            else:
                assert verdicts == ["pmtud_working"] and rc == 0
            assert "421" not in pf.log_path.read_text()  # never hit smtpd's junk-command limit
            assert "queued as" not in pf.log_path.read_text()
        finally:
            pf.stop()
            shutil.rmtree(base, ignore_errors=True)
