"""`pathsleuth probe` end to end: resolve the target, probe every address, state findings.

This module wires the probe's parts and owns one decision: how a hop trace reads in
analyze's vocabulary (`trace_findings`: a black hole is `pmtu_blackhole`, an announced
MTU drop that the path honours is `pmtud_working`). For each `Destination` from
`probe/targets.py` it runs the SMTP-level probe (`probe/smtp.py`) first, while the kernel
has no path MTU cached from our own trace, then the hop trace (`probe/linux.py`), and
hands on a `ProbeRun` for `report/probe.py`.

The hop trace's probes (``method``): UDP (default, unprivileged, measures the MTU per hop),
ICMP echo (root, measures the MTU per hop; tried automatically as root when the UDP
trace goes silent) and TCP SYN to the service's port (as root raw SYNs with a payload,
which measure the MTU per hop too; without root plain connect() SYNs, which have no size:
hops and reachability only, the MTU then comes from the SMTP-level test).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pathsleuth.diagnose.model import (
    Direction,
    Evidence,
    Finding,
    Flow,
    PathMtu,
    Severity,
    Verdict,
)
from pathsleuth.errors import EnvironmentProblem
from pathsleuth.probe.fixcheck import blackhole_advice
from pathsleuth.probe.linux import DEFAULT_UDP_PORT, Method, run_trace
from pathsleuth.probe.planner import MAX_HOPS, Family, Hop, PathTrace, StopReason
from pathsleuth.probe.smtp import SMTP_PORT, SmtpProbe, probe_smtp
from pathsleuth.probe.targets import Destination, Resolver, dns_resolver, resolve_target


@dataclass(frozen=True, kw_only=True)
class DestinationResult:
    """Everything probed for one address."""

    destination: Destination
    trace: PathTrace | None = None
    smtp: SmtpProbe | None = None
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    """what could not be probed, and why (unreachable port, no permission ...)"""
    notes: tuple[str, ...] = ()
    """how the probing went, when it matters (e.g. a fallback to ICMP probes)"""


@dataclass(frozen=True, kw_only=True)
class ProbeRun:
    target: str
    port: int
    results: tuple[DestinationResult, ...] = field(default_factory=tuple)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]


def trace_findings(trace: PathTrace, *, port: int) -> list[Finding]:
    """The hop trace in analyze's vocabulary."""
    unspecified = "0.0.0.0" if trace.family == 4 else "::"
    flow = Flow(src=trace.source or unspecified, sport=0, dst=trace.target, dport=port)
    common = {
        "flow": flow,
        "file": f"probe {trace.target} (hop trace)",
        "connection_id": 0,
        "direction": Direction.OUTBOUND,
        "detector": "probe.trace",
    }
    ev = [Evidence(frame=None, text=_hop_evidence(h)) for h in trace.hops]
    out: list[Finding] = []
    bh = trace.blackhole
    if bh is not None:
        where = f"hop {bh.after_ttl} ({bh.router})" if bh.router else f"hop {bh.after_ttl}"
        if bh.after_ttl == 0:
            where = "this host's own link"
        out.append(
            Finding(
                verdict=Verdict.PMTU_BLACKHOLE,
                severity=Severity.ERROR,
                confidence=0.9,
                summary=f"probes larger than {bh.mtu_low} bytes vanish after {where} while "
                f"smaller ones pass and no ICMP fragmentation-needed / packet-too-big comes "
                f"back: that router (or a firewall after it) swallows the PTB",
                path_mtu=PathMtu(low=bh.mtu_low, high=bh.mtu_high),
                fix_owner="the operator of " + where + ", or our side (MSS clamp / route MTU)",
                advice=blackhole_advice(trace.target, bh.mtu_low, trace.family, router=bh.router),
                recovered=False,
                evidence=ev,
                **common,  # type: ignore[arg-type]
            )
        )
    announced = [d for d in trace.drops if d.announced]
    if announced and bh is None:
        d = announced[-1]
        out.append(
            Finding(
                verdict=Verdict.PMTUD_WORKING,
                severity=Severity.INFO,
                confidence=0.9,
                summary=f"the path MTU drops to {d.mtu} after hop {d.after_ttl} "
                f"({d.router}), which announces it with ICMP: path-MTU discovery works",
                path_mtu=PathMtu(low=trace.path_mtu, high=d.mtu),
                evidence=ev,
                **common,  # type: ignore[arg-type]
            )
        )
    return out


def _hop_evidence(h: Hop) -> str:
    if h.address is None:
        return f"hop {h.ttl}: no answer"
    if h.mtu is None:
        return f"hop {h.ttl} {h.address}: answered"
    lost = f"; {', '.join(map(str, h.lost_sizes))}-byte probes vanished" if h.lost_sizes else ""
    return f"hop {h.ttl} {h.address}: reached by {h.mtu}-byte probes{lost}"


#: what the unprivileged TCP trace cannot do, said wherever it runs
TCP_TRACE_NOTE = (
    "without root, TCP SYN probes carry no payload: the TCP trace finds the hops and whether "
    "the service's port answers, not the path MTU nor where large packets vanish (as root, "
    "the SYNs carry a payload and measure both)"
)


def _may_raw() -> bool:
    """Raw ICMP sockets need root (CAP_NET_RAW); the fallback is only tried then."""
    return os.geteuid() == 0


def _last_answer(trace: PathTrace) -> int:
    return max((h.ttl for h in trace.hops if h.address is not None), default=0)


def run_probe(
    target: str,
    *,
    port: int = SMTP_PORT,
    family: Family | None = None,
    max_hops: int = MAX_HOPS,
    smtp: bool = True,
    trace: bool = True,
    method: Method = "udp",
    udp_port: int = DEFAULT_UDP_PORT,
    resolve: Resolver = dns_resolver,
) -> ProbeRun:
    """Probe every address of `target` (MX hosts in preference order)."""
    results: list[DestinationResult] = []
    for dest in resolve_target(target, family=family, resolve=resolve):
        errors: list[str] = []
        findings: list[Finding] = []
        smtp_result: SmtpProbe | None = None
        trace_result: PathTrace | None = None
        if smtp:
            try:
                smtp_result = probe_smtp(dest.address, dest.family, port=port, target=dest.host)
                if smtp_result.finding is not None:
                    findings.append(smtp_result.finding)
            except EnvironmentProblem as exc:
                errors.append(f"SMTP probe: {exc}")
        notes: list[str] = []
        if trace:
            try:
                trace_result = run_trace(
                    dest.address,
                    dest.family,
                    method=method,
                    port=port if method == "tcp" else udp_port,
                    max_hops=max_hops,
                )
                if trace_result.stop is StopReason.SILENT and method == "udp" and _may_raw():
                    notes.append(
                        f"UDP probes got no answer after hop {_last_answer(trace_result)}: "
                        "the path seems to filter UDP; traced again with ICMP echo probes"
                    )
                    trace_result = run_trace(
                        dest.address, dest.family, method="icmp", max_hops=max_hops
                    )
                    if trace_result.stop is StopReason.SILENT:
                        notes.append(
                            "ICMP echo probes went silent too: `--method tcp` traces the hops "
                            f"with TCP SYNs to port {port}, which the path must let through"
                        )
                elif trace_result.stop is StopReason.SILENT and method == "udp":
                    notes.append(
                        "UDP probes got no answer from several hops in a row: the path may "
                        "filter UDP; as root, `--method icmp` traces with ICMP echo instead, "
                        f"and `--method tcp` traces the hops with TCP SYNs to port {port}"
                    )
                if not trace_result.mtu_measured:
                    notes.append(
                        TCP_TRACE_NOTE
                        + (
                            "; the SMTP-level test measures the path MTU"
                            if smtp
                            else "; run without --no-smtp, or with --method udp, for the MTU"
                        )
                    )
                # the trace's findings first: they name the hop
                findings[:0] = trace_findings(trace_result, port=port)
            except EnvironmentProblem as exc:
                errors.append(f"hop trace: {exc}")
        results.append(
            DestinationResult(
                destination=dest,
                trace=trace_result,
                smtp=smtp_result,
                findings=tuple(findings),
                errors=tuple(errors),
                notes=tuple(notes),
            )
        )
    return ProbeRun(target=target, port=port, results=tuple(results))
