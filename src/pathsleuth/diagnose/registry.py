"""The detector registry and the helpers every detector uses to write a finding.

A detector is a small class with a `name`, the `verdicts` it can produce, a `priority`
(lower runs first; a connection direction claimed by an earlier detector is skipped by
later ones, so a black hole is not also reported as plain loss) and `run(ctx)`.
`@register` adds a class to `REGISTRY`; `detectors()` instantiates them in priority order.
The detector modules (`pmtu`, `middlebox`, `loss`) register themselves on import.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pathsleuth.diagnose.advice import FALLBACK_MTU, advice_for
from pathsleuth.diagnose.context import Context
from pathsleuth.diagnose.model import Evidence, Finding, PathMtu, Severity, Verdict


class Detector:
    """Base class: subclasses set the class attributes and implement `run`."""

    name: ClassVar[str] = ""
    verdicts: ClassVar[tuple[Verdict, ...]] = ()
    priority: ClassVar[int] = 100

    def run(self, ctx: Context) -> list[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError


class DirectionDetector(Detector):
    """A detector that looks at one connection direction at a time: `candidates` picks the
    directions worth a look with array filters, `check` judges one. Directions an earlier
    detector claimed, and directions whose peer sent nothing in the capture, are skipped."""

    def candidates(self, ctx: Context) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, ctx: Context, half: int) -> Finding | None:  # pragma: no cover
        raise NotImplementedError

    def run(self, ctx: Context) -> list[Finding]:
        present = ctx.ct.h["present"]
        out = []
        for half in self.candidates(ctx).tolist():
            if half in ctx.claimed or not bool(present[half ^ 1]):
                continue
            f = self.check(ctx, half)
            if f is not None:
                out.append(f)
        return out


REGISTRY: list[type[Detector]] = []


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: add a detector to the registry (once)."""
    if cls not in REGISTRY:
        REGISTRY.append(cls)
    return cls


def detectors() -> list[Detector]:
    """One instance of every registered detector, in priority order."""
    from pathsleuth.diagnose import loss, middlebox, pmtu  # noqa: F401  (registration)

    return [cls() for cls in sorted(REGISTRY, key=lambda c: (c.priority, c.name))]


def handshake_evidence(ctx: Context, conn: int) -> Evidence:
    """'frames 9438, 9446, 9447: handshake, MSS 1460 both sides' (or why there is none)."""
    h, _p = ctx.ct.h, ctx.ct.p
    a, b = 2 * conn, 2 * conn + 1
    syn, synack = int(h["syn_idx"][a]), int(h["syn_idx"][b])
    ack3 = int(h["first_pure_ack"][a])
    if syn < 0 and synack < 0:
        first = min(x for x in (int(h["first_idx"][a]), int(h["first_idx"][b])) if x >= 0)
        return Evidence(
            frame=ctx.frame(first),
            text=(
                f"frame {ctx.frame(first)}: the capture starts mid-connection (no handshake): "
                "relative sequence numbers count from the first segment seen, MSS unknown"
            ),
        )
    idx = [i for i in (syn, synack, ack3) if i >= 0]
    frames = ", ".join(str(ctx.frame(i)) for i in idx)
    m0, m1 = int(h["mss"][a]), int(h["mss"][b])
    if m0 and m0 == m1:
        mss = f"MSS {m0} both sides"
    else:
        mss = (
            f"MSS {m0 or 'not announced'} (initiator), {m1 or 'not announced'} (responder)"
            if synack >= 0
            else f"MSS {m0 or 'not announced'} (initiator), no SYN/ACK captured"
        )
    return Evidence(frame=ctx.frame(idx[0]), text=f"frames {frames}: handshake, {mss}")


def make_finding(
    ctx: Context,
    detector: Detector,
    half: int,
    verdict: Verdict,
    severity: Severity,
    confidence: float,
    summary: str,
    evidence: list[Evidence],
    *,
    path_mtu: PathMtu | None = None,
    recovered: bool | None = None,
    claim: bool = True,
    fix_owner: str | None = None,
) -> Finding:
    """A finding for one connection direction, with direction, capture point, filter, advice."""
    direction, owner = ctx.direction(half)
    point, why = ctx.capture_point(half)
    flow = ctx.flow(half)
    peer = flow.dst
    # commands need a concrete MTU: an announced one (PTB) when there is one, else the
    # largest size that demonstrably passed if it is plausible, else a safe fallback
    mtu_for_advice = None
    if path_mtu is not None:
        if verdict in (Verdict.PTB_IGNORED, Verdict.PMTUD_WORKING) and path_mtu.high:
            mtu_for_advice = path_mtu.high
        elif path_mtu.low and path_mtu.low >= FALLBACK_MTU:
            mtu_for_advice = path_mtu.low
    evidence = [*evidence, Evidence(frame=None, text=f"capture point: {why}")]
    if claim:
        ctx.claimed.add(half)
        if severity != Severity.INFO:
            ctx.explained.add(half // 2)
    return Finding(
        verdict=verdict,
        severity=severity,
        confidence=round(max(0.0, min(1.0, confidence)), 2),
        summary=summary,
        flow=flow,
        file=ctx.file,
        connection_id=half // 2,
        direction=direction,
        capture_point=point,
        fix_owner=fix_owner or owner,
        path_mtu=path_mtu,
        recovered=recovered,
        evidence=evidence,
        wireshark_filter=ctx.wireshark_filter(half),
        advice=advice_for(
            verdict,
            peer=peer,
            direction=direction,
            v6=ctx.is_v6(half),
            path_mtu=mtu_for_advice,
            bounds=path_mtu,
            port=flow.dport,
        ),
        detector=detector.name,
    )
