"""The receiving SMTP server of a lab: aiosmtpd, run as a process inside the server namespace.

This module owns the receiving end: ``python -m pathsleuth.lab.smtpsink --spool DIR`` listens
on port 25 of every address (IPv4 and IPv6), accepts any mail and writes each accepted
message to DIR as ``<n>.eml`` (written to a temporary name first, renamed when complete), so
the runner can check delivery at the receiving side, not only by the sender's word. It hands
nothing else on; `lab/runner.py` starts it with `Topology.popen`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
from pathlib import Path
from typing import Any

#: the SMTP port (RFC 5321 section 4.5.4.2 ... well-known port 25)
SMTP_PORT = 25


class SpoolHandler:
    """aiosmtpd handler: store each message in the spool directory, answer 250."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        n = next(self._counter)
        data: bytes = envelope.original_content or envelope.content
        tmp = self.spool / f".{n}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.spool / f"{n}.eml")
        return f"250 2.0.0 Ok: stored as {n} ({len(data)} bytes)"


async def _serve(spool: Path, port: int, hostname: str) -> None:
    from aiosmtpd.smtp import SMTP

    handler = SpoolHandler(spool)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # one dual-stack socket serves IPv4 (as ::ffff:a.b.c.d) and IPv6
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname, data_size_limit=64 * 1024 * 1024),
        sock=sock,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    (spool / "READY").write_text(str(os.getpid()))
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--port", type=int, default=SMTP_PORT)
    parser.add_argument("--hostname", default="server.lab.example")
    args = parser.parse_args(argv)
    args.spool.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(args.spool, args.port, args.hostname))


if __name__ == "__main__":
    main()
