"""Differential test: the dissector's columns against tshark, field by field, on the corpus.

tshark (Wireshark's dissectors) is the reference every operator trusts. For every capture in
../shared/captures we read our PacketTable and `tshark -T fields` for the same frames and
compare addresses, ports, seq/ack, flags, lengths, TTL, DF, TCP options and ICMP fields on
the frames both decode cleanly. Deliberate differences are listed where they are handled.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pathsleuth.capture.reader import load
from pathsleuth.capture.table import Status, format_addr

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
]

FIELDS = [
    "frame.number",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.ttl",
    "ipv6.hlim",
    "ip.flags.df",
    "ip.len",
    "ipv6.plen",
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
    "udp.srcport",
    "udp.dstport",
    "icmp.type",
    "icmp.code",
    "icmp.mtu",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.mtu",
]


def tshark_rows(path: Path) -> dict[int, dict[str, list[str]]]:
    out = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
        ]
        + [a for f in FIELDS for a in ("-e", f)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    rows: dict[int, dict[str, list[str]]] = {}
    for line in out.splitlines():
        vals = line.split("\t")
        if len(vals) != len(FIELDS) or not vals[0].isdigit():
            continue
        rows[int(vals[0])] = {
            f: [x for x in v.split("|") if x] for f, v in zip(FIELDS, vals, strict=True)
        }
    return rows


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if p.suffix in (".pcap", ".pcapng"))


def test_corpus_matches_tshark(captures_dir: Path) -> None:
    checked = 0
    mismatches: list[str] = []
    for path in corpus_files(captures_dir):
        (cap,) = load(str(path))
        t = cap.table
        ref = tshark_rows(path)
        for i in range(len(t)):
            fr = int(t.frame[i])
            r = ref.get(fr)
            if r is None or t.status[i] & (Status.TRUNCATED | Status.MALFORMED):
                continue
            v = int(t.ip_version[i])
            if v == 0:
                continue
            icmp = bool(r["icmp.type"] or r["icmpv6.type"])

            def check(
                name: str,
                ours: object,
                theirs: list[str],
                idx: int = -1,
                i: int = i,
                icmp: bool = icmp,
                fr: int = fr,
                path: Path = path,
                tunnelled: bool = bool(t.tunnelled[i]),
            ) -> None:
                if not theirs:
                    return
                # one IP header: tshark's first; tunnels: the innermost (tshark lists outer
                # first); nested payloads such as sFlow samples come after ours
                want = theirs[idx if tunnelled and not icmp else 0]
                if str(ours) != want:
                    mismatches.append(f"{path.name} frame {fr} {name}: ours {ours} tshark {want}")

            # innermost IP header (tunnels: tshark lists outer first); ICMP: the first one
            # is the packet's own, later ones are quoted
            if v == 4:
                check("ip.src", format_addr(t.src_hi[i], t.src_lo[i]), r["ip.src"])
                check("ip.dst", format_addr(t.dst_hi[i], t.dst_lo[i]), r["ip.dst"])
                check("ip.ttl", int(t.ttl[i]), r["ip.ttl"])
                check("ip.flags.df", "1" if t.df[i] else "0", r["ip.flags.df"])
            else:
                check("ipv6.src", format_addr(t.src_hi[i], t.src_lo[i]), r["ipv6.src"])
                check("ipv6.hlim", int(t.ttl[i]), r["ipv6.hlim"])
            if int(t.proto[i]) == 6 and not icmp and not (t.status[i] & Status.LATER_FRAGMENT):
                check("tcp.srcport", int(t.sport[i]), r["tcp.srcport"])
                check("tcp.dstport", int(t.dport[i]), r["tcp.dstport"])
                check("tcp.seq_raw", int(t.seq[i]), r["tcp.seq_raw"])
                check("tcp.ack_raw", int(t.ack[i]), r["tcp.ack_raw"])
                check("tcp.flags", f"0x{int(t.tcp_flags[i]):04x}", r["tcp.flags"])
                check("tcp.window", int(t.window[i]), r["tcp.window_size_value"])
                check("tcp.len", int(t.payload_len[i]), r["tcp.len"])
                if t.opt_mss[i]:
                    check("mss", int(t.opt_mss[i]), r["tcp.options.mss_val"])
                if t.opt_wscale[i] != 255:
                    check("wscale", int(t.opt_wscale[i]), r["tcp.options.wscale.shift"])
                if t.opt_has_ts[i]:
                    check("tsval", int(t.opt_ts_val[i]), r["tcp.options.timestamp.tsval"])
            if int(t.proto[i]) == 1 and r["icmp.type"]:
                check("icmp.type", int(t.icmp_type[i]), r["icmp.type"], 0)
                check("icmp.code", int(t.icmp_code[i]), r["icmp.code"], 0)
                if t.icmp_type[i] == 3 and t.icmp_code[i] == 4 and r["icmp.mtu"]:
                    check("icmp.mtu", int(t.icmp_mtu[i]), r["icmp.mtu"], 0)
            if int(t.proto[i]) == 58 and r["icmpv6.type"]:
                check("icmpv6.type", int(t.icmp_type[i]), r["icmpv6.type"], 0)
                if t.icmp_type[i] == 2:
                    check("icmpv6.mtu", int(t.icmp_mtu[i]), r["icmpv6.mtu"], 0)
            checked += 1
    assert checked > 2500
    assert not mismatches, "\n".join(mismatches[:40])


def test_quoted_headers_of_ptb(captures_dir: Path) -> None:
    """ICMP errors carry the flow they quote (MANIFEST's snabb and zeek PTB files)."""
    expect = {
        # RFC 792's minimal quote: IP header + 8 bytes, which still reach the seq (0 here)
        "snabb/incoming-icmpv4-34toobig.pcap": (4, 1240, "2.3.4.5", 2300, 2700, True),
        "snabb/icmpv4-fromlwaftr-replyto-tcp-frominet-bound1494-DF.pcap": (
            4,
            1240,
            "10.10.10.10",
            2300,
            2700,
            True,
        ),
        "snabb/incoming-icmpv6-20pkttoobig-inet-OPE.pcap": (6, 777, None, 54192, 80, True),
        "zeek/icmp_icmp6-toobig.pcap": (6, 1280, "fe80::dead", None, None, False),
        "snabb/response-ipv4-icmp34-inet.pcap": (4, 737, "10.10.10.10", 54192, 80, True),
    }
    for rel, (_ver, mtu, router, qsport, qdport, has_seq) in expect.items():
        (cap,) = load(str(captures_dir / rel))
        t = cap.table
        assert int(t.icmp_mtu[0]) == mtu, rel
        if router:
            assert format_addr(t.src_hi[0], t.src_lo[0]) == router, rel
        if qsport is not None:
            assert (int(t.q_sport[0]), int(t.q_dport[0])) == (qsport, qdport), rel
        assert bool(t.q_has_seq[0]) == has_seq, rel
    # the IPv6 PTB quoting IPv4-in-IPv6: the inner quoted packet is the IPv4 TCP flow
    (cap,) = load(str(captures_dir / "snabb/incoming-icmpv6-20pkttoobig-inet-OPE.pcap"))
    t = cap.table
    assert format_addr(t.q_src_hi[0], t.q_src_lo[0]) == "149.174.156.93"
    assert int(t.q_seq[0]) == 548286810
