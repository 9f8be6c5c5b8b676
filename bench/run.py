"""`make bench`: pathsleuth against tshark on the same files, in the same run.

Generates the shared synthetic captures with ../shared/bench/gen_pcap.py (100 k and 2 M
packets; 10 M with BENCH_LARGE=1), then for each file times, in separate processes so
that peak RSS is measured per run (os.wait4):

* decode: pathsleuth's capture engine (read + dissect every chunk, columns as in issue 2)
  vs `tshark -T fields -e frame.number -e ip.src ...` extracting the same fields;
* analyze: pathsleuth's full analysis (decode + connections + diagnosis) vs
  `tshark -Y tcp.analysis.retransmission`;
* logs: a synthetic Postfix log triaged by the mail-log analyser (1 GB with BENCH_LARGE=1,
  else 200 MB).

Each measurement is repeated `BENCH_REPEAT` times (default 3), pathsleuth and tshark
taking turns so that a machine whose speed drifts (shared VMs do) slows both alike; the
fastest run of each is compared, and the spread is printed. pathsleuth's time is the
worker's own (after imports and the numba warm-up; its whole-process wall time is
recorded too), tshark's the whole process. CPU time (user + system) is recorded besides
wall time: the analysis uses a second core where there is one, tshark one.

Prints packets/s, the speed ratio against tshark and peak RSS, and writes
bench/out/results.json. Nothing here is a test: speed is never asserted, only reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = Path(os.environ.get("BENCH_OUT", HERE / "out"))
GEN = ROOT.parent / "shared" / "bench" / "gen_pcap.py"
WORKER = HERE / "worker.py"

SIZES = [100_000, 2_000_000]
LARGE = 10_000_000
TSHARK_FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.ttl",
    "ip.flags.df",
    "ip.len",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval",
    "icmp.type",
    "icmp.code",
    "icmp.mtu",
]


@dataclass
class Run:
    what: str
    tool: str
    file: str
    packets: int
    seconds: float
    peak_rss_mb: float
    ok: bool
    note: str = ""
    cpu_seconds: float = 0.0
    process_seconds: float = 0.0
    all_seconds: list[float] = field(default_factory=list)

    @property
    def pps(self) -> float:
        return self.packets / self.seconds if self.seconds > 0 else 0.0


def timed(
    cmd: list[str], *, stdout_to_null: bool = True, timeout: float = 3600
) -> tuple[float, float, int, str, float]:
    """Run cmd; return (wall seconds, peak RSS MiB, exit status, stdout, CPU seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL if stdout_to_null else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = ""
    if not stdout_to_null:
        assert proc.stdout is not None
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        err = proc.stderr.read()
        if proc.returncode != 0:
            print(err[-2000:], file=sys.stderr)
    cpu = usage.ru_utime + usage.ru_stime
    return dt, usage.ru_maxrss / 1024.0, proc.returncode, out, cpu


def generate(n: int) -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    pcap = OUT / f"gen-{n}.pcap"
    truth = OUT / f"gen-{n}.json"
    if not (pcap.exists() and truth.exists()):
        print(f"generating {pcap.name} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(GEN),
                "--seed",
                "7",
                "--packets",
                str(n),
                "--out",
                str(pcap),
                "--truth",
                str(truth),
            ],
            check=True,
        )
    return pcap, truth


def warm(pcap: Path) -> None:
    """Read the file once so that every timed run finds it in the page cache: otherwise
    whichever tool runs first pays the disk and the ratio measures the disk."""
    with open(pcap, "rb", buffering=0) as f:
        buf = bytearray(8 << 20)
        while f.readinto(buf):
            pass


REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def _pathsleuth(what: str, pcap: Path, n: int) -> Run:
    dt, rss, rc, out, cpu = timed(
        [sys.executable, str(WORKER), what, str(pcap)], stdout_to_null=False
    )
    res = json.loads(out) if rc == 0 and out.strip() else {}
    return Run(
        what,
        "pathsleuth",
        pcap.name,
        res.get("packets", n),
        res.get("seconds", 0.0),
        rss,
        rc == 0,
        res.get("note", ""),
        cpu_seconds=cpu,
        process_seconds=dt,
    )


def _tshark(what: str, pcap: Path, n: int) -> Run:
    cmd = ["tshark", "-n", "-r", str(pcap)]
    if what == "decode":
        cmd += ["-T", "fields"] + [a for f in TSHARK_FIELDS for a in ("-e", f)]
    else:
        cmd += ["-Y", "tcp.analysis.retransmission"]
    dt, rss, rc, _, cpu = timed(cmd)
    return Run(what, "tshark", pcap.name, n, dt, rss, rc == 0, cpu_seconds=cpu, process_seconds=dt)


def _best(tries: list[Run]) -> Run:
    """The fastest of the repeated runs, with every run's time kept."""
    best = min(tries, key=lambda r: r.seconds if r.ok else float("inf"))
    best.all_seconds = [round(r.seconds, 3) for r in tries]
    best.peak_rss_mb = max(r.peak_rss_mb for r in tries)
    best.ok = all(r.ok for r in tries)
    return best


def bench_file(pcap: Path, runs: list[Run]) -> None:
    n = int(json.loads(pcap.with_suffix(".json").read_text())["packets"])
    tools = ["pathsleuth"] + (["tshark"] if shutil.which("tshark") else [])
    if len(tools) == 1:
        print("  tshark not installed: no comparison")
    for what in ("decode", "analyze"):
        tries: dict[str, list[Run]] = {t: [] for t in tools}
        for _ in range(max(REPEAT, 1)):  # the tools take turns
            for tool in tools:
                warm(pcap)
                tries[tool].append(
                    (_pathsleuth if tool == "pathsleuth" else _tshark)(what, pcap, n)
                )
        for tool in tools:
            r = _best(tries[tool])
            runs.append(r)
            spread = ", ".join(f"{x:.2f}" for x in r.all_seconds)
            print(
                f"  {tool:10s} {what:8s} {r.seconds:8.2f} s  {r.pps / 1e6:7.2f} Mpkt/s  "
                f"{r.peak_rss_mb:6.0f} MiB  cpu {r.cpu_seconds:6.2f} s  (runs: {spread})  {r.note}",
                flush=True,
            )


def bench_logs(size: int, runs: list[Run]) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    try:
        import logs  # type: ignore[import-not-found]
    except ImportError:
        return {"error": "bench/logs.py missing"}
    finally:
        sys.path.pop(0)
    res: dict[str, object] = logs.run(OUT, size)
    return res


def main() -> int:
    large = os.environ.get("BENCH_LARGE", "") not in ("", "0")
    sizes = SIZES + ([LARGE] if large else [])
    if os.environ.get("BENCH_PACKETS"):  # e.g. the smoke test: BENCH_PACKETS=3000
        sizes = [int(x) for x in os.environ["BENCH_PACKETS"].split(",")]
    runs: list[Run] = []
    for n in sizes:
        pcap, _ = generate(n)
        print(f"{pcap.name}: {pcap.stat().st_size / 1e9:.2f} GB", flush=True)
        bench_file(pcap, runs)
    log_size = (1 << 30) if large else (200 << 20)
    if os.environ.get("BENCH_LOG_BYTES"):
        log_size = int(os.environ["BENCH_LOG_BYTES"])
    print(f"mail log triage ({log_size >> 20} MiB synthetic Postfix log) ...", flush=True)
    logres = bench_logs(log_size, runs)
    print(f"  {logres}")

    print(
        "\nsummary (ratio = tshark time / pathsleuth time, same file, same run, "
        f"fastest of {max(REPEAT, 1)})"
    )
    by = {(r.what, r.tool, r.file): r for r in runs}
    for r in runs:
        if r.tool != "pathsleuth":
            continue
        t = by.get((r.what, "tshark", r.file))
        ratio = f"{t.seconds / r.seconds:6.1f}x" if t and r.seconds > 0 and t.ok else "   n/a"
        print(
            f"  {r.file:18s} {r.what:8s} {r.pps / 1e6:6.2f} Mpkt/s  ratio {ratio}  "
            f"peak RSS {r.peak_rss_mb:6.0f} MiB  (whole process {r.process_seconds:.2f} s)"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(
        json.dumps(
            {"runs": [asdict(r) | {"pps": r.pps} for r in runs], "logs": logres},
            indent=1,
            default=str,
        )
    )
    return 0 if all(r.ok for r in runs) and "error" not in logres else 1


if __name__ == "__main__":
    sys.exit(main())
