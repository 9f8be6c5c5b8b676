"""Lab test fixtures: a per-test namespace prefix with a leak check, tshark field reading,
and a session cache of scenario runs (each scenario runs once, several tests read it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

from pathsleuth.lab.topology import cleanup_labs, list_lab_namespaces

#: every namespace these tests create starts with this; other people's labs never do
TEST_PREFIX = f"psl-t{os.getpid()}x"
_serial = count()


def new_prefix() -> str:
    return f"{TEST_PREFIX}{next(_serial)}-"


@pytest.fixture
def lab_prefix() -> Iterator[str]:
    """A fresh namespace prefix; the test fails if anything with it is left behind."""
    prefix = new_prefix()
    yield prefix
    left = list_lab_namespaces(prefix)
    cleanup_labs(prefix)
    assert not left, f"namespaces left behind: {left}"


@pytest.fixture(scope="session", autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    if os.geteuid() == 0 and shutil.which("ip"):
        left = cleanup_labs(TEST_PREFIX)
        assert not left, f"lab tests left namespaces behind: {left}"
    dirs = list(Path(tempfile.gettempdir()).glob(f"{TEST_PREFIX}*work"))
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    assert not dirs, f"lab tests left scratch directories behind: {dirs}"


def tshark_fields(pcap: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """Rows of `fields` for the packets matching `display_filter` (tshark as the reference)."""
    argv = ["tshark", "-r", str(pcap), "-n", "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        argv += ["-e", f]
    if display_filter:
        argv += ["-Y", display_filter]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


@pytest.fixture(scope="session")
def tshark() -> Callable[..., list[list[str]]]:
    """`tshark(pcap, display_filter, *fields)`: see `tshark_fields`."""
    return tshark_fields


@pytest.fixture(scope="session")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`lab_run(name, sender="postfix")` runs a scenario once per session and caches it."""
    from pathsleuth.lab.runner import run_scenario

    cache: dict[tuple[str, str], object] = {}

    def get(name: str, sender: str = "postfix") -> object:
        key = (name, sender)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"{name}-{sender}")
            prefix = new_prefix()
            try:
                cache[key] = run_scenario(name, out, sender=sender, prefix=prefix)  # type: ignore[arg-type]
            finally:
                left = cleanup_labs(prefix)
                assert not left, f"run_scenario({name}) left namespaces behind: {left}"
        return cache[key]

    return get
