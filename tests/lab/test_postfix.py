"""The private Postfix instance: its configuration, a clean start and stop, real delivery."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from pathsleuth.lab import postfix as pf
from pathsleuth.lab.runner import lab_workdir, make_message
from pathsleuth.lab.topology import Topology, TopologySpec


@pytest.mark.needs_root
def test_config_is_private_and_bounded(tmp_path: Path) -> None:
    topo = Topology(TopologySpec(), prefix="psl-cfg-")  # not built: config only
    inst = pf.PostfixInstance(topo, "client", tmp_path / "pf", relay="2001:db8:0:2::2")
    inst.write_config()
    main = (inst.config_dir / "main.cf").read_text()
    assert f"queue_directory = {inst.queue_dir}" in main
    assert f"maillog_file = {inst.log_path}" in main
    assert "relayhost = [2001:db8:0:2::2]:25" in main
    assert f"smtp_data_xfer_timeout = {pf.DATA_XFER_TIMEOUT_S}s" in main
    assert "inet_interfaces = loopback-only" in main
    for line in (inst.config_dir / "master.cf").read_text().splitlines():
        assert line.split()[4] == "n", f"chroot must be off: {line}"
    assert any(
        line.startswith("postlog ")
        for line in (inst.config_dir / "master.cf").read_text().splitlines()
    )


@pytest.mark.needs_root
@pytest.mark.slow
def test_relay_and_clean_stop(lab_prefix: str, request: pytest.FixtureRequest) -> None:
    def request_cleanup(path: Path) -> None:
        request.addfinalizer(lambda: shutil.rmtree(path, ignore_errors=True))

    with Topology(TopologySpec(routers=1, small_mtu=1500), prefix=lab_prefix) as topo:
        work = lab_workdir(topo.prefix)
        request_cleanup(work)
        spool = work / "received"
        topo.popen(
            "server", [sys.executable, "-m", "pathsleuth.lab.smtpsink", "--spool", str(spool)]
        )
        topo.wait_tcp("client", topo.addr("server", 6), 25)
        inst = pf.PostfixInstance(topo, "client", work / "postfix", relay=topo.addr("server", 6))
        inst.start()
        try:
            qid = inst.submit(
                make_message(20_000), sender="a@client.lab.example", recipients=["b@x.example"]
            )
            result = inst.wait_result(qid, timeout=30)
            assert result.delivered, result
            assert "relay=2001:db8:0:1::2" in result.log_line
            assert "Mail queue is empty" in inst.queue()
        finally:
            inst.stop()
        master = inst.queue_dir / "pid" / "master.pid"
        assert not pf._pidfile_alive(master), "postfix stop leaves no master behind"
        assert len(list(spool.glob("*.eml"))) == 1
        log = inst.log_path.read_text()
        assert "daemon started" in log and "status=sent" in log
