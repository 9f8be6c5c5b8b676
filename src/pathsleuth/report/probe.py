"""Rendering of `pathsleuth probe` and `pathsleuth fix-check` results: text and JSON.

The only place that formats probe and fix-check results for people (tracepath-like hop
lines, the SMTP sessions, the verdicts) and for programs (a versioned JSON document,
`PROBE_SCHEMA_VERSION`, whose findings are analyze's `Finding.to_dict()`). It measures
nothing; it takes a `ProbeRun` (probe/run.py) or a `FixCheck` (probe/fixcheck.py).

Both JSON documents are public contracts, versioned together by `PROBE_SCHEMA_VERSION`
and described field by field by the JSON Schemas (draft 2020-12)
``src/pathsleuth/schema/probe.schema.json`` and ``fixcheck.schema.json`` and by
docs/json-contract.md; the probe's findings are analyze's `Finding.to_dict()`, so a
reader of analyze's findings reads these unchanged. `pathsleuth.report.probe.load_schema`
returns either schema.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from typing import Any, Literal

from pathsleuth.diagnose.model import Finding, Severity
from pathsleuth.probe.fixcheck import FixCheck, FixStatus
from pathsleuth.probe.planner import PathTrace
from pathsleuth.probe.run import DestinationResult, ProbeRun
from pathsleuth.probe.smtp import SmtpProbe

#: bump minor for added fields or values, major for changed or removed ones; the schemas
#: pin it with ``const``. 1.1: trace.method "tcp", trace.mtu_measured, trace.source (and
#: null MTU fields for TCP traces)
PROBE_SCHEMA_VERSION = "1.1"

_STATUS_WORD = {
    FixStatus.IN_PLACE: "in place",
    FixStatus.MISSING: "missing",
    FixStatus.PROBLEM: "PROBLEM",
    FixStatus.NOT_APPLICABLE: "n/a",
}


def load_schema(name: Literal["probe", "fixcheck"]) -> dict[str, Any]:
    """The installed JSON Schema of the probe or fix-check document."""
    text = resources.files("pathsleuth").joinpath(f"schema/{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def probe_has_error(run: ProbeRun) -> bool:
    """True when any finding is an error (the CLI exits 1)."""
    return any(f.severity == Severity.ERROR for f in run.findings)


# ---- JSON ------------------------------------------------------------------------------------


def _trace_dict(t: PathTrace) -> dict[str, Any]:
    d = asdict(t)
    del d["target"], d["family"]
    d["stop"] = str(t.stop)
    for h in d["hops"]:
        h["rtts_ms"] = [round(x, 3) for x in h["rtts_ms"]]
        h["lost_sizes"] = list(h["lost_sizes"])
    return d


def _smtp_dict(s: SmtpProbe) -> dict[str, Any]:
    return {
        "path_mtu": asdict(s.path_mtu) if s.path_mtu else None,
        "mss_clamped": s.mss_clamped,
        "notes": list(s.notes),
        "attempts": [
            {**asdict(a), "passed": a.passed, "stalled_s": round(a.stalled_s, 3)}
            for a in s.attempts
        ],
    }


def _dest_dict(r: DestinationResult) -> dict[str, Any]:
    d = r.destination
    return {
        "address": d.address,
        "family": d.family,
        "host": d.host,
        "mx_preference": d.preference,
        "errors": list(r.errors),
        "notes": list(r.notes),
        "trace": _trace_dict(r.trace) if r.trace else None,
        "smtp": _smtp_dict(r.smtp) if r.smtp else None,
        "findings": [f.to_dict() for f in r.findings],
    }


def probe_to_dict(run: ProbeRun) -> dict[str, Any]:
    return {
        "schema_version": PROBE_SCHEMA_VERSION,
        "command": "probe",
        "target": run.target,
        "port": run.port,
        "destinations": [_dest_dict(r) for r in run.results],
    }


def probe_json(run: ProbeRun) -> str:
    return json.dumps(probe_to_dict(run), indent=2, default=str) + "\n"


def fixcheck_to_dict(fc: FixCheck) -> dict[str, Any]:
    return {
        "schema_version": PROBE_SCHEMA_VERSION,
        "command": "fix-check",
        "dest": fc.dest,
        "family": fc.family,
        "protected": fc.protected,
        "route": asdict(fc.route) if fc.route else None,
        "interface_mtu": fc.interface_mtu,
        "sysctls": dict(fc.sysctls),
        "fixes": [{**asdict(f), "status": str(f.status)} for f in fc.fixes],
        "rules": [{**asdict(r), "kind": str(r.kind)} for r in fc.rules],
        "advice": [asdict(a) for a in fc.advice],
        "problems": list(fc.problems),
    }


def fixcheck_json(fc: FixCheck) -> str:
    return json.dumps(fixcheck_to_dict(fc), indent=2, default=str) + "\n"


# ---- text ------------------------------------------------------------------------------------


def _trace_text(t: PathTrace) -> list[str]:
    if t.mtu_measured:
        kind = {"icmp": "ICMP echo", "tcp": "TCP SYN with payload"}.get(t.method, "UDP")
        lines = [f"  hop trace ({kind}, DF, first probe {t.first_mtu} bytes):"]
    else:
        lines = ["  hop trace (TCP SYN; hops only: a SYN has no payload, the MTU is not measured):"]
    drops = {d.after_ttl: d for d in t.drops}
    for h in t.hops:
        if h.address is None:
            lines.append(f"  {h.ttl:>3}  {'*':<39} no reply")
            continue
        rtt = f"{min(h.rtts_ms):8.3f} ms" if h.rtts_ms else " " * 11
        extra = []
        if h.destination:
            extra.append("reached")
        if h.unreachable:
            extra.append(f"!{h.unreachable}")
        if h.lost_sizes:
            extra.append("lost: " + ", ".join(map(str, h.lost_sizes)))
        pmtu = f"pmtu {h.mtu}" if h.mtu is not None else ""
        lines.append(f"  {h.ttl:>3}  {h.address:<28}{rtt}  {pmtu}  {'  '.join(extra)}".rstrip())
        d = drops.get(h.ttl)
        if d is not None:
            how = "announced by ICMP" if d.announced else "NOT announced (no PTB)"
            lines.append(f"       └─ MTU drops to {d.mtu} on the next link, {how}")
    high = f" ({t.path_mtu_high} does not pass)" if t.path_mtu_high else ""
    state = "reached" if t.reached else f"not reached ({t.stop})"
    mtu = f"path MTU {t.path_mtu}{high}" if t.mtu_measured else "path MTU not measured"
    lines.append(f"  {mtu}; target {state}; {t.probes_sent} probes")
    if t.blackhole is not None:
        b = t.blackhole
        lines.append(
            f"  BLACK HOLE after hop {b.after_ttl} ({b.router or 'this host'}): probes of "
            f"{b.mtu_high}+ bytes vanish before {b.next_hop or 'the next hop'}, "
            f"{b.mtu_low} bytes pass, no PTB comes back"
        )
    return lines


def _smtp_text(s: SmtpProbe) -> list[str]:
    lines = [f"  SMTP port {s.port}: {len(s.attempts)} session(s), no mail sent"]
    for i, a in enumerate(s.attempts, start=1):
        mss = f"MSS {a.mss_set}" if a.mss_set else "default MSS"
        if a.error and not a.ehlo_ok:
            lines.append(f"    {i}. {mss}: {a.error}")
            continue
        ok = (
            "acknowledged"
            if a.passed
            else "acknowledged after MSS fell to " + str(a.snd_mss_end)
            if a.acked
            else f"NOT acknowledged ({a.stalled_s:.1f} s)"
        )
        lines.append(
            f"    {i}. {mss:<16} {a.packet_size:>5}-byte segments, {a.burst_bytes} bytes: "
            f"{ok}, {a.retransmits} retransmitted"
        )
    if s.path_mtu is not None:
        hi = f"..{s.path_mtu.high}" if s.path_mtu.high and s.path_mtu.high != s.path_mtu.low else ""
        lines.append(f"    path MTU {s.path_mtu.low}{hi}")
    lines += [f"    note: {n}" for n in s.notes]
    return lines


def _finding_text(f: Finding, shown: set[str]) -> list[str]:
    """The finding and its advice; advice already shown for this destination is not repeated."""
    lines = [f"  [{f.severity}] {f.verdict}: {f.summary}"]
    new = [a for a in f.advice if a.title not in shown]
    if len(new) < len(f.advice):
        lines.append("    fixes: as above" + (", and:" if new else ""))
    for a in new:
        shown.add(a.title)
        lines.append(f"    fix {a.rank}. {a.title} ({a.where})")
        lines += [f"         $ {c}" for c in a.commands]
    return lines


def probe_text(run: ProbeRun) -> str:
    out: list[str] = []
    for r in run.results:
        d = r.destination
        name = d.host if d.host == d.address else f"{d.host} ({d.address})"
        pref = f", MX preference {d.preference}" if d.preference is not None else ""
        out.append(f"probe {name} IPv{d.family}{pref}")
        if r.smtp is not None:
            out += _smtp_text(r.smtp)
        if r.trace is not None:
            out += _trace_text(r.trace)
        for e in r.errors:
            out.append(f"  error: {e}")
        out += [f"  note: {n}" for n in r.notes]
        if r.findings:
            shown: set[str] = set()
            for f in r.findings:
                out += _finding_text(f, shown)
        elif not r.errors:
            out.append("  no path-MTU problem found")
        out.append("")
    return "\n".join(out)


def fixcheck_text(fc: FixCheck) -> str:
    out = [f"fix-check {'for ' + fc.dest if fc.dest else '(no --dest: host-wide)'}, IPv{fc.family}"]
    if fc.route is not None:
        r = fc.route
        mtu = f"mtu {'lock ' if r.mtu_locked else ''}{r.mtu}" if r.mtu else "no route MTU"
        out.append(
            f"  route: {r.dst} via {r.gateway or '(direct)'} dev {r.dev}, {mtu}; "
            f"interface MTU {fc.interface_mtu}"
        )
    for f in fc.fixes:
        out.append(f"  {_STATUS_WORD[f.status]:<9} {f.title}: {f.detail}")
    out.append(
        "  => protected against a path-MTU black hole"
        if fc.protected
        else "  => NOT protected: a path-MTU black hole will stall large transfers"
    )
    if fc.advice:
        out.append("  apply:")
        for a in fc.advice:
            out.append(f"   {a.rank}. {a.title} ({a.where})")
            out += [f"        $ {c}" for c in a.commands]
            out += ["        persist: " + p.replace("\n", "\n                 ") for p in a.persist]
            if a.tradeoffs:
                out.append(f"        trade-offs: {a.tradeoffs}")
    out += [f"  note: {p}" for p in fc.problems]
    return "\n".join(out) + "\n"
