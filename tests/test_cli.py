"""The CLI's contract: exit statuses and one-line errors, never a traceback.

Runs the real console entry point in a subprocess (as a user would), on captures written
by the project's own writer, and on broken inputs made here.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import schemas
from pathsleuth.capture import craft
from pathsleuth.capture.writer import PcapngWriter, PcapWriter

ETH = 1


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pathsleuth.cli", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def small_capture() -> bytes:
    """A three-way handshake, one data segment and its ACK, as classic pcap."""
    out = io.BytesIO()
    w = PcapWriter(out, ETH)
    a, b = "192.0.2.10", "198.51.100.25"
    pkts = [
        craft.tcp4(a, b, 40000, 25, seq=1000, flags="S", options=[("mss", 1460)]),
        craft.tcp4(b, a, 25, 40000, seq=5000, ack=1001, flags="SA", options=[("mss", 1460)]),
        craft.tcp4(a, b, 40000, 25, seq=1001, ack=5001, flags="A"),
        craft.tcp4(a, b, 40000, 25, seq=1001, ack=5001, flags="PA", payload=b"EHLO x\r\n"),
        craft.tcp4(b, a, 25, 40000, seq=5001, ack=1009, flags="A"),
    ]
    for i, p in enumerate(pkts):
        w.write(craft.frame(ETH, p), 1_700_000_000_000_000_000 + i * 1_000_000)
    return out.getvalue()


def test_decode_json_on_own_capture(tmp_path: Path) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(small_capture())
    proc = run("decode", "--format", "json", str(f))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (entry,) = doc["files"]
    assert entry["packets"] == 5
    assert entry["format"] == "pcap"
    assert entry["protocols"]["tcp"] == 5
    assert entry["tcp_flows"] == 1
    assert entry["malformed"] == 0


def test_decode_reads_stdin_gzip_and_tar_members(tmp_path: Path) -> None:
    raw = small_capture()
    proc = run("decode", "--format", "json", "-", stdin=gzip.compress(raw))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["packets"] == 5

    tgz = tmp_path / "PACKETTRACE.TAR.GZ"
    with tarfile.open(tgz, "w:gz") as tar:
        for name in ("a/one.pcap", "b/two.pcap"):
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        readme = tarfile.TarInfo("README.txt")
        readme.size = 5
        tar.addfile(readme, io.BytesIO(b"hello"))
    proc = run("decode", "--format", "json", str(tgz))
    assert proc.returncode == 0, proc.stderr
    names = [f["name"] for f in json.loads(proc.stdout)["files"]]
    assert names == [f"{tgz}!a/one.pcap", f"{tgz}!b/two.pcap"]


@pytest.mark.parametrize("command", ["decode", "analyze"])
def test_bad_magic_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    f = tmp_path / "notes.txt"
    f.write_bytes(b"this is not a capture at all\n")
    line = one_line_error(run(command, str(f)))
    assert "notes.txt" in line and "offset 0" in line


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    line = one_line_error(run("decode", str(tmp_path / "nope.pcap")))
    assert "nope.pcap" in line


def test_truncated_capture_names_frame_and_offset(tmp_path: Path) -> None:
    raw = small_capture()
    f = tmp_path / "cut.pcap"
    f.write_bytes(raw[:-10])
    line = one_line_error(run("decode", str(f)))
    assert "cut.pcap" in line and "frame 5" in line and "byte offset" in line


def test_pcapng_bad_block_length(tmp_path: Path) -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.interface(ETH)
    w.epb(0, 0, craft.frame(ETH, craft.tcp4("192.0.2.1", "192.0.2.2", 1, 2)))
    data = bytearray(out.getvalue())
    data += b"\x06\x00\x00\x00\x0d\x00\x00\x00"  # EPB with total length 13: not a multiple of 4
    f = tmp_path / "bad.pcapng"
    f.write_bytes(bytes(data))
    line = one_line_error(run("decode", str(f)))
    assert "bad.pcapng" in line and "byte offset" in line


def test_analyze_exit_status_and_json_contract(tmp_path: Path) -> None:
    f = tmp_path / "ok.pcap"
    f.write_bytes(small_capture())
    proc = run("analyze", "--format", "json", str(f))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"schema_version", "files", "connections", "findings", "icmp"}
    assert len(doc["connections"]) == 1
    assert doc["findings"] == []


def test_analyze_flow_filter_rejects_garbage(tmp_path: Path) -> None:
    f = tmp_path / "ok.pcap"
    f.write_bytes(small_capture())
    proc = run("analyze", "--flow", "not-an-address:99999", str(f))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "blackhole"


def test_analyze_joins_the_lab_example_with_its_postfix_log() -> None:
    """The committed lab example: the black hole, and the Postfix attempt tied to it."""
    proc = run(
        "analyze",
        "--format",
        "json",
        str(EXAMPLE / "client.pcapng"),
        "--log",
        str(EXAMPLE / "postfix.log"),
    )
    assert proc.returncode == 1, proc.stderr  # an error-severity finding
    doc = json.loads(proc.stdout)
    verdicts = {f["verdict"] for f in doc["findings"] if f["severity"] == "error"}
    assert verdicts == {"pmtu_blackhole"}
    corr = doc["mail_log"]["correlation"]
    assert abs(corr["clock_offset_s"]) < 5
    (attempt,) = corr["attempts"]
    assert attempt["verdict"] == "pmtu_blackhole"
    assert attempt["connection_id"] == doc["findings"][0]["connection_id"]
    assert doc["mail_log"]["triage"]["suspects"]
    assert not list(schemas.validator("analyze").iter_errors(doc))


def test_analyze_flow_filter_selects_connections() -> None:
    cap = str(EXAMPLE / "client.pcapng")
    hit = json.loads(run("analyze", "--format", "json", "--flow", "198.18.2.2:25", cap).stdout)
    assert len(hit["connections"]) == 1 and hit["findings"]
    miss = run("analyze", "--format", "json", "--flow", "192.0.2.99", cap)
    assert miss.returncode == 0
    doc = json.loads(miss.stdout)
    assert doc["connections"] == [] and doc["findings"] == []


def test_analyze_icmp_entries_name_their_file_and_follow_the_flow_filter(tmp_path: Path) -> None:
    """Two connections, a PTB quoting each: every `icmp` entry names its capture, and
    `--flow` keeps only the PTB about the flow it selects."""
    out = io.BytesIO()
    w = PcapWriter(out, ETH)
    a, b, c, r = "192.0.2.10", "198.51.100.25", "203.0.113.7", "192.0.2.1"
    pkts = []
    for dst, port in ((b, 40000), (c, 40001)):
        seg = craft.tcp(a, dst, port, 25, seq=1001, ack=1, flags="PA", payload_len=1448, df=True)
        pkts += [
            craft.tcp(a, dst, port, 25, seq=1000, flags="S", options=[("mss", 1460)]),
            craft.tcp(dst, a, 25, port, seq=0, ack=1001, flags="SA", options=[("mss", 1460)]),
            seg,
            craft.frag_needed(r, a, 1400, seg),
        ]
    for i, p in enumerate(pkts):
        w.write(craft.frame(ETH, p), 1_700_000_000_000_000_000 + i * 1_000_000)
    f = tmp_path / "two.pcap"
    f.write_bytes(out.getvalue())
    doc = json.loads(run("analyze", "--format", "json", str(f)).stdout)
    assert [(e["file"], e["quoted"]["dst"]) for e in doc["icmp"]] == [(str(f), b), (str(f), c)]
    one = json.loads(run("analyze", "--format", "json", "--flow", f"{c}:25", str(f)).stdout)
    assert [e["quoted"]["dst"] for e in one["icmp"]] == [c]
    assert not list(schemas.validator("analyze").iter_errors(one))


def test_unsupported_link_type_is_named_in_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "wifi.pcap"
    out = io.BytesIO()
    w = PcapWriter(out, 105)  # IEEE 802.11: not decoded
    for i in range(3):
        w.write(bytes(40), i)
    f.write_bytes(out.getvalue())
    for cmd in ("decode", "analyze"):
        line = one_line_error(run(cmd, str(f)))
        assert f"{f} (frame 1)" in line and "link type IEEE 802.11 is not supported" in line
        assert "none of its 3 frames" in line and "Ethernet" in line


def test_partly_unsupported_pcapng_is_decoded_and_says_what_it_skipped(tmp_path: Path) -> None:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.section()
    w.interface(ETH)
    w.interface(105)
    w.epb(0, 0, craft.frame(ETH, craft.tcp4("192.0.2.1", "192.0.2.2", 1, 2)))
    w.epb(1, 1, bytes(30))
    w.epb(1, 2, bytes(30))
    f = tmp_path / "mixed.pcapng"
    f.write_bytes(out.getvalue())
    proc = run("decode", str(f))
    assert proc.returncode == 0, proc.stderr
    assert "2 frames on link type IEEE 802.11 (not supported)" in proc.stdout
    doc = json.loads(run("decode", "--format", "json", str(f)).stdout)
    assert doc["files"][0]["unsupported_linktypes"] == {"IEEE 802.11": 2}
