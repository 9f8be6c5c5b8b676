"""Byte-level replays of what the lab's real kernels sent, for detector regression tests.

`Trace` builds a client <-> server TCP conversation frame by frame with
`pathsleuth.capture.craft` (real headers, checksums, DF, IP-ID, TTL), writes it with
`PcapWriter` and runs it through `pipeline.analyze_paths`, the same path `pathsleuth
analyze` takes. The capture is at the client (TTL 64, the server 2 hops away, TTL 62), as
in the lab (`tests/lab/test_analyze_scenarios.py` checks the real runs themselves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pathsleuth.capture import craft
from pathsleuth.capture import linktypes as LT
from pathsleuth.capture.writer import PcapWriter
from pathsleuth.diagnose.engine import AnalysisResult
from pathsleuth.pipeline import analyze_paths

#: 2026-01-01T00:00:00Z, so that nothing depends on a zero timestamp
T0_NS = 1_767_225_600_000_000_000
#: the lab's client and server (lab/topology.py: 198.18.0.0/15, RFC 2544 benchmarking)
CLIENT, SERVER = "198.18.0.1", "198.18.2.2"
CPORT, SPORT = 45500, 25
#: TCP timestamps (12 option bytes) as Linux sends them: data segments carry 1448 bytes
#: at MSS 1460 (IP length 1500)
TS_OPTION: list[craft.TcpOption] = [("nop", None), ("nop", None), ("ts", (1, 1))]


@dataclass
class Trace:
    """A client-side capture of one SMTP connection, written frame by frame."""

    isn_c: int = 3_000_000_000
    isn_s: int = 1_000_000_000
    ttl_s: int = 62
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    ip_id: dict[str, int] = field(default_factory=lambda: {"c": 0x1200, "s": 0x9C00})

    def seg(
        self,
        side: str,
        t: float,
        seq: int,
        ack: int,
        n: int = 0,
        *,
        flags: str = "A",
        df: bool = True,
        ip_id: int | None = None,
        ttl: int | None = None,
        options: list[craft.TcpOption] | None = None,
        window: int = 65535,
    ) -> int:
        """One segment; `seq`/`ack` relative to the sender's/receiver's ISN + 1.

        Returns the frame number (1-based, as Wireshark counts)."""
        c = side == "c"
        src, dst = (CLIENT, SERVER) if c else (SERVER, CLIENT)
        sport, dport = (CPORT, SPORT) if c else (SPORT, CPORT)
        mine, theirs = (self.isn_c, self.isn_s) if c else (self.isn_s, self.isn_c)
        if ip_id is None:
            self.ip_id[side] += 1
            ip_id = self.ip_id[side] & 0xFFFF
        pkt = craft.tcp(
            src,
            dst,
            sport,
            dport,
            seq=(mine + 1 + seq) % (1 << 32),
            ack=(theirs + 1 + ack) % (1 << 32) if "A" in flags else 0,
            flags=flags,
            options=TS_OPTION if options is None else options,
            payload_len=n,
            df=df,
            ip_id=ip_id,
            ttl=(64 if c else self.ttl_s) if ttl is None else ttl,
            window=window,
        )
        self.frames.append((t, pkt))
        return len(self.frames)

    def handshake(
        self, t: float = 0.0, syn_synack: float = 0.0003, synack_ack: float = 0.00001
    ) -> None:
        """SYN, SYN/ACK, ACK with the two legs as the capture point sees them (seconds)."""
        syn = [("mss", 1460), ("sackok", None), *TS_OPTION, ("nop", None), ("wscale", 7)]
        self.seg("c", t, -1, 0, flags="S", options=syn)
        self.seg("s", t + syn_synack, -1, 0, flags="SA", options=syn)
        self.seg("c", t + syn_synack + synack_ack, 0, 0)

    def write(self, path: Path) -> Path:
        with path.open("wb") as fh:
            w = PcapWriter(fh, LT.LINKTYPE_ETHERNET, nanosecond=True)
            for t, pkt in self.frames:
                w.write(craft.frame(LT.LINKTYPE_ETHERNET, pkt), T0_NS + round(t * 1e9))
        return path

    def analyze(self, path: Path) -> AnalysisResult:
        return analyze_paths([str(self.write(path))])
