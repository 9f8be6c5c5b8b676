"""Mail-log triage benchmark: a synthetic Postfix log, triaged in a child process.

`run(workdir, size_bytes)` writes ``synthetic-postfix.log`` of about `size_bytes` (a
block of unique messages, repeated with fresh queue ids and times: generation is string
templating, seconds per gigabyte), then runs `pathsleuth.maillog.analysis.analyze_logs` on
it in a separate process so that its peak RSS can be measured (``os.wait4``). Returns
seconds, MB/s, lines, peak RSS and whether the planted black-hole destination was flagged.
The issue's bar: 1 GB in <= 60 s on one core with flat memory. Nothing is asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

#: messages per generated block; each block gets its own queue-id prefix and minute
BLOCK_MESSAGES = 20_000
#: destination domains in the synthetic traffic; one of them is a black hole
DOMAINS = 200
BLACKHOLE = "dom7.example"

_CHILD = r"""
import json, sys, time
from pathsleuth.maillog.analysis import analyze_logs
t0 = time.perf_counter()
a = analyze_logs([sys.argv[1]])
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "lines": sum(f.lines for f in a.files),
  "attempts": a.triage.attempts, "suspects": [s.destination for s in a.triage.suspects]}))
"""


def _block() -> str:
    """One block of messages with placeholders ``@Q`` (queue-id prefix) and ``@T`` (hh:mm)."""
    out: list[str] = []
    for i in range(BLOCK_MESSAGES):
        d = i % DOMAINS
        dom = f"dom{d}.example"
        ip = f"198.51.{d // 250}.{d % 250 + 1}"
        size = 600 + (i * 7919) % 200_000
        qid = f"@Q{i:06X}"
        ts = f"Nov 25 @T:{i % 60:02d} mail"
        out.append(
            f"{ts} postfix/smtpd[{1000 + i % 50}]: {qid}: client=client{i % 97}.example.org[203.0.113.{i % 250 + 1}]\n"
        )
        out.append(
            f"{ts} postfix/cleanup[{2000 + i % 20}]: {qid}: message-id=<{i}.{qid}@example.org>\n"
        )
        out.append(
            f"{ts} postfix/qmgr[99]: {qid}: from=<user{i % 1000}@example.org>, size={size}, nrcpt=1 (queue active)\n"
        )
        if dom == BLACKHOLE and size > 20_000:
            status = (
                f"delay=300, delays=0.01/0/0.2/300, dsn=4.4.2, status=deferred (conversation with "
                f"mx.{dom}[{ip}] timed out while sending message body)"
            )
        elif i % 53 == 0:
            status = (
                f"delay=1.2, delays=0.01/0/0.1/1.1, dsn=4.7.1, status=deferred (host mx.{dom}[{ip}] "
                "said: 450 4.7.1 Greylisted, try again later (in reply to RCPT TO command))"
            )
        else:
            status = f"delay=0.8, delays=0.01/0/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {i:X})"
        out.append(
            f"{ts} postfix/smtp[{3000 + i % 100}]: {qid}: to=<rcpt{i % 5000}@{dom}>, relay=mx.{dom}[{ip}]:25, {status}\n"
        )
        out.append(f"{ts} postfix/qmgr[99]: {qid}: removed\n")
        out.append(
            f"{ts} postfix/smtpd[{1000 + i % 50}]: disconnect from client{i % 97}.example.org[203.0.113.{i % 250 + 1}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n"
        )
    return "".join(out)


def generate(path: Path, size_bytes: int) -> int:
    """Write the synthetic log; returns its size in bytes."""
    block = _block()
    written = 0
    n = 0
    with open(path, "w", encoding="ascii") as f:
        while written < size_bytes:
            hh, mm = divmod(n % 1440, 60)
            prefix = f"{n % 4096:03X}"[-3:] + chr(ord("A") + (n // 4096) % 26)
            chunk = block.replace("@Q", prefix).replace("@T", f"{hh:02d}:{mm:02d}")
            f.write(chunk)
            written += len(chunk)
            n += 1
    return written


def run(workdir: Path, size_bytes: int) -> dict[str, object]:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "synthetic-postfix.log"
    t0 = time.perf_counter()
    size = generate(path, size_bytes)
    gen_s = time.perf_counter() - t0
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    import json

    res: dict[str, object] = {"bytes": size, "generate_s": round(gen_s, 2)}
    if os.waitstatus_to_exitcode(status) != 0:
        res["error"] = "triage failed"
        return res
    child = json.loads(out)
    secs = float(child["seconds"])
    res.update(
        seconds=round(secs, 2),
        mb_per_s=round(size / 1e6 / secs, 1),
        lines=child["lines"],
        attempts=child["attempts"],
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        blackhole_flagged=child["suspects"] == [BLACKHOLE],
    )
    path.unlink()
    return res


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 200 << 20
    print(run(Path(__file__).resolve().parent / "out", size))
