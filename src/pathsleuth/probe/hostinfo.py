"""Gather the texts fix-check reads: the one thin module of fix-check that runs commands.

It reads the sysctls from ``/proc/sys`` and runs ``ip``, ``nft``, ``iptables-save`` and
``ip6tables-save`` (each bounded by a timeout), and hands on a `HostState` of their raw
outputs to the pure parsers in `probe/fixcheck.py`. A tool that is missing or refuses
(the rulesets need root) leaves its field None and a line in `HostState.problems`.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

from pathsleuth.errors import BadInput
from pathsleuth.probe.fixcheck import SYSCTLS, HostState

#: one command's time limit
COMMAND_TIMEOUT_S = 10.0
PROC_SYS = Path("/proc/sys")


def _run(argv: list[str], problems: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        problems.append(f"{argv[0]} is not installed: {' '.join(argv)} skipped")
        return None
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        problems.append(f"`{' '.join(argv)}` did not finish within {COMMAND_TIMEOUT_S:g} s")
        return None
    if done.returncode != 0:
        problems.append(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")
        return None
    return done.stdout


def read_sysctls(root: Path = PROC_SYS) -> dict[str, str]:
    """The fix-check sysctls that exist on this kernel, as text values."""
    out: dict[str, str] = {}
    for key in SYSCTLS:
        path = root / key.replace(".", "/")
        try:
            out[key] = path.read_text().strip()
        except OSError:
            continue
    return out


def gather(dest: str | None) -> HostState:
    """Run the commands (inside the current network namespace) and collect their outputs."""
    problems: list[str] = []
    route_json = route_text = None
    if dest is not None:
        try:
            ip = ipaddress.ip_address(dest)
        except ValueError as exc:
            raise BadInput("--dest", f"{dest!r} is not an IP address") from exc
        fam = "-6" if ip.version == 6 else "-4"
        route_json = _run(["ip", fam, "-j", "route", "get", str(ip)], problems)
        route_text = _run(["ip", fam, "route", "get", str(ip)], problems)
    return HostState(
        sysctls=read_sysctls(),
        route_json=route_json,
        route_text=route_text,
        links_json=_run(["ip", "-j", "link"], problems),
        nft_json=_run(["nft", "-j", "list", "ruleset"], problems),
        iptables_save=_run(["iptables-save"], problems),
        ip6tables_save=_run(["ip6tables-save"], problems),
        problems=tuple(problems),
    )
