"""`pathsleuth lab ...`: list without root, clear refusal without root, up/down by prefix."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner

from pathsleuth import cli as cli_mod
from pathsleuth.cli import cli
from pathsleuth.errors import EnvironmentProblem
from pathsleuth.lab import topology as topo_mod
from pathsleuth.lab.scenarios import SCENARIOS
from pathsleuth.lab.topology import list_lab_namespaces


def test_lab_list() -> None:
    result = CliRunner().invoke(cli, ["lab", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in SCENARIOS:
        assert name in result.output
    assert "pmtu_blackhole" in result.output


def test_lab_run_unknown_scenario() -> None:
    result = CliRunner().invoke(cli, ["lab", "run", "nope"])
    assert result.exit_code == 2
    assert "unknown scenario" in result.output


def test_lab_run_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topo_mod.os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli, ["lab", "run", "blackhole"])
    assert isinstance(result.exception, EnvironmentProblem)
    assert "needs root" in str(result.exception)
    with pytest.raises(SystemExit) as exc:
        cli_mod.main(["lab", "up", "blackhole"])
    assert exc.value.code == 3


def test_lab_down_rejects_foreign_prefix() -> None:
    result = CliRunner().invoke(cli, ["lab", "down", "--prefix", "netns-of-someone"])
    assert result.exit_code == 2


@pytest.mark.needs_root
@pytest.mark.slow
def test_lab_up_then_down(lab_prefix: str) -> None:
    from pathsleuth.lab.runner import lab_down, lab_up

    up = lab_up("pmtud-ok", prefix=lab_prefix)
    try:
        assert set(up.namespaces) == {"client", "r1", "r2", "server"}
        assert len(list_lab_namespaces(lab_prefix)) == 4
        assert up.postfix_config is not None and up.workdir.is_dir()
        # the sink and the Postfix instance outlive lab_up: mail goes through by hand
        code = (
            "import smtplib;"
            "s=smtplib.SMTP('127.0.0.1',25,timeout=10);"
            "s.sendmail('a@client.lab.example',['b@server.lab.example'],b'Subject: hi\\r\\n\\r\\nhi\\r\\n');"
            "s.quit()"
        )
        ns = up.namespaces["client"]
        subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code], check=True, timeout=20)
        spool = up.workdir / "received"
        for _ in range(100):
            if list(spool.glob("*.eml")):
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert len(list(spool.glob("*.eml"))) == 1
    finally:
        removed = lab_down(lab_prefix)
    assert len(removed) == 4
    assert list_lab_namespaces(lab_prefix) == []
    assert not up.workdir.exists()


@pytest.mark.needs_root
@pytest.mark.slow
def test_lab_run_cli(tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "run"  # type: ignore[operator]
    result = CliRunner().invoke(
        cli,
        ["lab", "run", "pmtud-ok", "--out", str(out), "--sender", "smtplib", "--size", "20000"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "as expected" in result.output and "pmtud_working" in result.output
    assert (out / "client.pcapng").stat().st_size > 0
    assert (out / "smtplib.log").exists() and (out / "run.json").exists()
