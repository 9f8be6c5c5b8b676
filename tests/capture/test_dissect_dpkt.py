"""Differential test against dpkt on the corpus (issue 2 asks for dpkt or scapy).

dpkt decodes Ethernet (with 802.1Q, MPLS, PPPoE), Linux SLL and loopback frames into
Python objects; for every corpus capture on those link types we compare, frame by frame,
the IP and TCP/UDP fields of the packets dpkt decodes cleanly. Deliberate differences,
skipped here and covered by the tshark differential instead: tunnelled packets (we report
the innermost header, dpkt the outer) and frames we flag as truncated or malformed.
"""

from __future__ import annotations

import socket
from pathlib import Path
from struct import error as struct_error
from typing import Any

import dpkt
import pytest

from pathsleuth.capture.reader import load
from pathsleuth.capture.table import Status, format_addr

pytestmark = pytest.mark.corpus

DECODERS: dict[int, Any] = {1: dpkt.ethernet.Ethernet, 113: dpkt.sll.SLL, 0: dpkt.loopback.Loopback}


def dpkt_frames(path: Path) -> list[tuple[int, bytes]]:
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        reader: Any = dpkt.pcapng.Reader(f) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
        lt = reader.datalink()
        return [(lt, bytes(buf)) for _, buf in reader]


def inner_ip(frame: Any) -> Any:
    x = frame
    for _ in range(6):
        x = getattr(x, "data", None)
        if isinstance(x, dpkt.ip.IP | dpkt.ip6.IP6):
            return x
    return None


def test_corpus_matches_dpkt(captures_dir: Path) -> None:
    compared = 0
    bad: list[str] = []
    for path in sorted(p for p in captures_dir.glob("*/*") if p.suffix in (".pcap", ".pcapng")):
        (cap,) = load(str(path))
        t = cap.table
        try:
            frames = dpkt_frames(path)
        except (dpkt.dpkt.Error, ValueError, struct_error):
            continue
        for i, (lt, raw) in enumerate(frames):
            if lt not in DECODERS or i >= len(t):
                continue
            if (
                t.status[i] & (Status.TRUNCATED | Status.MALFORMED)
                or t.tunnelled[i]
                or t.ip_version[i] == 0
            ):
                continue
            try:
                ip = inner_ip(DECODERS[lt](raw))
            except (dpkt.dpkt.Error, ValueError, IndexError, struct_error):
                continue
            if ip is None:
                continue
            fam = socket.AF_INET6 if isinstance(ip, dpkt.ip6.IP6) else socket.AF_INET
            got = {
                "src": format_addr(t.src_hi[i], t.src_lo[i]),
                "dst": format_addr(t.dst_hi[i], t.dst_lo[i]),
                "ttl": int(t.ttl[i]),
            }
            want = {
                "src": socket.inet_ntop(fam, ip.src),
                "dst": socket.inet_ntop(fam, ip.dst),
                "ttl": ip.hlim if fam == socket.AF_INET6 else ip.ttl,
            }
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP) and int(t.proto[i]) == 6:
                got |= {
                    "sport": int(t.sport[i]),
                    "dport": int(t.dport[i]),
                    "seq": int(t.seq[i]),
                    "ack": int(t.ack[i]),
                    "flags": int(t.tcp_flags[i]) & 0xFF,
                    "win": int(t.window[i]),
                }
                want |= {
                    "sport": l4.sport,
                    "dport": l4.dport,
                    "seq": l4.seq,
                    "ack": l4.ack,
                    "flags": l4.flags & 0xFF,
                    "win": l4.win,
                }
            elif isinstance(l4, dpkt.udp.UDP) and int(t.proto[i]) == 17:
                got |= {"sport": int(t.sport[i]), "dport": int(t.dport[i])}
                want |= {"sport": l4.sport, "dport": l4.dport}
            if fam == socket.AF_INET:
                got["df"] = bool(t.df[i])
                want["df"] = bool(ip.df)
            if got != want:
                bad.append(f"{path.name} frame {i + 1}: ours {got} dpkt {want}")
            compared += 1
    assert compared > 2000
    assert not bad, "\n".join(bad[:30])
