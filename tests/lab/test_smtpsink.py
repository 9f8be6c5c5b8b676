"""The receiving server: accepts mail over IPv4 and IPv6 and stores each message whole."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::", 0))
        return int(s.getsockname()[1])


def test_sink_stores_messages(tmp_path: Path) -> None:
    port = _free_port()
    spool = tmp_path / "spool"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathsleuth.lab.smtpsink",
            "--spool",
            str(spool),
            "--port",
            str(port),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not (spool / "READY").exists():
            assert proc.poll() is None, "smtpsink exited"
            assert time.monotonic() < deadline, "smtpsink did not start"
            time.sleep(0.05)
        body = b"Subject: t\r\n\r\n" + b"x" * 70 + b"\r\n"
        for host in ("127.0.0.1", "::1"):
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                assert smtp.sendmail("a@x.example", ["b@y.example"], body) == {}
        stored = sorted(p.name for p in spool.glob("*.eml"))
        assert stored == ["1.eml", "2.eml"]
        assert (spool / "1.eml").read_bytes().endswith(b"x" * 70 + b"\r\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
