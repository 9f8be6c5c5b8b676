"""The probe and fix-check JSON contracts: the schemas are sound, real output validates, and
the schemas bite.

"Real output" is what `report/probe.py` renders from results the pure parts compute: the
trace planner driven over simulated paths (`test_planner.SimPath`), the SMTP classifier on
recorded session outcomes, and fix-check's judgement on the host outputs recorded in the
lab (`data/`). No root, no sockets.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from test_planner import Node, SimPath

from pathsleuth.probe.fixcheck import SYSCTLS, HostState, check_fixes, parse_sysctl_output
from pathsleuth.probe.planner import MAX_PROBES, Family, PathTrace, TracePlanner
from pathsleuth.probe.run import TCP_TRACE_NOTE, DestinationResult, ProbeRun, trace_findings
from pathsleuth.probe.smtp import Attempt, SmtpProbe, classify
from pathsleuth.probe.targets import Destination
from pathsleuth.report.probe import (
    PROBE_SCHEMA_VERSION,
    fixcheck_json,
    load_schema,
    probe_json,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
DOC = ROOT / "docs" / "json-contract.md"
SERVER = "198.18.2.2"
SERVER6 = "2001:db8:0:2::2"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)  # type: ignore[arg-type]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


PROBE = validator("probe")
FIXCHECK = validator("fixcheck")


def errors(v: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [e.message for e in v.iter_errors(doc)]


# ---- results built by the pure parts ----------------------------------------------------


def lab_path(family: Family, *, r1_ptb: bool, small: int) -> SimPath:
    v4 = ["198.18.0.2", "198.18.1.2", SERVER]
    v6 = ["2001:db8::2", "2001:db8:0:1::2", SERVER6]
    r1, r2, server = v4 if family == 4 else v6
    return SimPath([Node(r1, next_mtu=small, sends_ptb=r1_ptb), Node(r2), Node(server)])


def trace(path: SimPath, family: Family, *, method: str = "udp") -> PathTrace:
    target = path.nodes[-1].address
    planner = TracePlanner(
        target, family=family, first_mtu=path.first_mtu, measure_mtu=method != "tcp"
    )
    for _ in range(MAX_PROBES + 1):
        probe = planner.next_probe()
        if probe is None:
            break
        planner.handle(path.answer(probe))
    assert planner.done
    source = "198.18.0.1" if family == 4 else "2001:db8::1"
    return dataclasses.replace(planner.result(), method=method, source=source)


def smtp_probe(*, blackhole: bool) -> SmtpProbe:
    base: dict[str, Any] = dict(
        local="198.18.0.1", lport=40000, banner="220 server.lab.example ESMTP", ehlo_ok=True,
        burst_bytes=14500, pmtu_start=1500, pmtu_end=1500, rto_us=204000,
    )  # fmt: skip
    first = Attempt(
        mss_set=None, acked=not blackhole, stalled_s=10.0 if blackhole else 0.01234,
        packet_size=1500, snd_mss_start=1448, snd_mss_end=1448, peer_mss=1460,
        retransmits=6 if blackhole else 0, **base,
    )  # fmt: skip
    attempts = [first]
    if blackhole:
        attempts += [
            Attempt(
                mss_set=1360,
                acked=True,
                packet_size=1400,
                snd_mss_start=1348,
                snd_mss_end=1348,
                peer_mss=1360,
                **base,
            ),
            Attempt(
                mss_set=1361,
                acked=False,
                stalled_s=3.0,
                packet_size=1401,
                snd_mss_start=1349,
                snd_mss_end=1349,
                peer_mss=1361,
                retransmits=4,
                **base,
            ),
        ]
    refused = Attempt(mss_set=1000, error="connection refused")
    if not blackhole:
        attempts.append(refused)
    finding, mtu, clamped, notes = classify(
        attempts, address=SERVER, port=25, family=4, target="mx.lab.example"
    )
    return SmtpProbe(
        address=SERVER, port=25, family=4, attempts=tuple(attempts), finding=finding,
        path_mtu=mtu, mss_clamped=clamped, notes=tuple(notes),
    )  # fmt: skip


def result(
    t: PathTrace | None, s: SmtpProbe | None, *, host: str = "mx.lab.example", **kw: Any
) -> DestinationResult:
    family: Family = t.family if t is not None else 4
    address = t.target if t is not None else SERVER
    findings = [*(trace_findings(t, port=25) if t is not None else [])]
    if s is not None and s.finding is not None:
        findings.append(s.finding)
    dest = Destination(address=address, family=family, host=host, preference=10)
    return DestinationResult(destination=dest, trace=t, smtp=s, findings=tuple(findings), **kw)


def probe_doc(*results: DestinationResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        probe_json(ProbeRun(target="lab.example", port=25, results=results))
    )
    return doc


CASES: dict[str, Any] = {
    "blackhole-v4": lambda: probe_doc(
        result(trace(lab_path(4, r1_ptb=False, small=1400), 4), smtp_probe(blackhole=True))
    ),
    "blackhole-v6-1280": lambda: probe_doc(
        result(trace(lab_path(6, r1_ptb=False, small=1280), 6), None)
    ),
    "pmtud-ok": lambda: probe_doc(
        result(trace(lab_path(4, r1_ptb=True, small=1400), 4), smtp_probe(blackhole=False))
    ),
    "tcp-trace": lambda: probe_doc(
        result(
            trace(lab_path(4, r1_ptb=False, small=1400), 4, method="tcp"),
            smtp_probe(blackhole=True),
            notes=(TCP_TRACE_NOTE,),
        )
    ),
    "silent-and-errors": lambda: probe_doc(
        result(
            trace(
                SimPath(
                    [Node("198.18.0.2"), *[Node(f"198.18.{k}.2", answers=False) for k in range(8)]]
                ),
                4,
            ),
            None,
            errors=("SMTP probe: connection refused by 198.18.2.2 port 25",),
            notes=("UDP probes got no answer from several hops in a row",),
        ),
        result(None, None, host=SERVER, errors=("hop trace: no route to 198.18.2.2",)),
    ),
    "no-addresses": lambda: probe_doc(),
}


# ---- the schemas themselves -------------------------------------------------------------


@pytest.mark.parametrize("name", ["probe", "fixcheck"])
def test_schema_is_draft_2020_12_and_pins_the_version(name: str) -> None:
    schema = load_schema(name)  # type: ignore[arg-type]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == PROBE_SCHEMA_VERSION
    assert schema["$id"] == f"urn:pathsleuth:schema:{name}:{PROBE_SCHEMA_VERSION}"


def _fields(node: Any, path: str) -> list[tuple[str, Any]]:
    """Every field schema under `node`: object properties, $defs entries and array items
    (an item that is only a ``$ref`` is described by its definition)."""
    out: list[tuple[str, Any]] = []
    if isinstance(node, list):
        for i, sub in enumerate(node):
            out += _fields(sub, f"{path}/{i}")
        return out
    if not isinstance(node, dict):
        return out
    children = [(f"{path}.{k}", v) for k, v in node.get("properties", {}).items()]
    children += [(f"{path}$defs.{k}", v) for k, v in node.get("$defs", {}).items()]
    items = node.get("items")
    if isinstance(items, dict) and set(items) != {"$ref"}:
        children.append((f"{path}[]", items))
    out += children
    for p, sub in children:
        out += _fields(sub, p)
    for key in ("anyOf", "additionalProperties"):
        if isinstance(node.get(key), (dict, list)):
            out += [f for f in _fields(node[key], f"{path}/{key}") if not f[0].endswith(key)]
    return out


@pytest.mark.parametrize("name", ["probe", "fixcheck"])
def test_every_field_is_described(name: str) -> None:
    schema = load_schema(name)  # type: ignore[arg-type]
    fields = _fields(schema, name)
    assert len(fields) > 40
    # a field that is only a ``$ref`` is described by its definition
    missing = sorted(
        p
        for p, sub in fields
        if set(sub) != {"$ref"} and not str(sub.get("description", "")).strip()
    )
    assert missing == []


@pytest.mark.parametrize("name", ["probe", "fixcheck"])
def test_objects_are_closed(name: str) -> None:
    """A field added to the output without a schema update fails validation."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, node.get("description")
                assert set(node["required"]) <= set(node["properties"])
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(load_schema(name))  # type: ignore[arg-type]


def _strip_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


@pytest.mark.parametrize("name", ["finding", "flow", "path_mtu", "evidence", "advice"])
def test_findings_are_analyzes(name: str) -> None:
    """Probe findings are analyze's `Finding.to_dict()`: the copied definitions must say the
    same as analyze's schema (descriptions may differ: they speak of probes, not captures)."""
    analyze = json.loads((ROOT / "src/pathsleuth/schema/analyze.schema.json").read_text())
    probe = load_schema("probe")
    assert _strip_descriptions(probe["$defs"][name]) == _strip_descriptions(analyze["$defs"][name])


def test_sysctl_names_are_the_ones_read() -> None:
    names = load_schema("fixcheck")["properties"]["sysctls"]["propertyNames"]["enum"]
    assert names == list(SYSCTLS)


# ---- real output validates --------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_probe_output_validates(case: str) -> None:
    doc = CASES[case]()
    assert errors(PROBE, doc) == []


def test_the_cases_cover_the_contract() -> None:
    """The documents validated above exercise what the schema allows, not a corner of it."""
    docs = [CASES[c]() for c in CASES]
    dests = [d for doc in docs for d in doc["destinations"]]
    traces = [d["trace"] for d in dests if d["trace"] is not None]
    assert {t["method"] for t in traces} == {"udp", "tcp"}
    assert {t["stop"] for t in traces} >= {"reached", "silent"}
    assert any(t["blackhole"] is not None for t in traces)
    assert any(dr["announced"] for t in traces for dr in t["drops"])
    tcp = next(t for t in traces if t["method"] == "tcp")
    assert tcp["mtu_measured"] is False and tcp["path_mtu"] is None and tcp["reached"]
    assert all(h["mtu"] is None for h in tcp["hops"])
    verdicts = {f["verdict"] for d in dests for f in d["findings"]}
    assert verdicts == {"pmtu_blackhole", "pmtud_working"}
    assert any(d["trace"] is None and d["smtp"] is None and d["errors"] for d in dests)
    assert any(a["error"] for d in dests if d["smtp"] for a in d["smtp"]["attempts"])
    assert any(d["family"] == 6 for d in dests)


def fixcheck_docs() -> dict[str, dict[str, Any]]:
    def doc(state: HostState, **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(fixcheck_json(check_fixes(state, **kw)))
        return out

    def read(name: str) -> str:
        return (DATA / name).read_text()

    defaults = {
        "net.ipv4.ip_no_pmtu_disc": "0",
        "net.ipv4.tcp_mtu_probing": "0",
        "net.ipv4.tcp_base_mss": "1024",
    }
    return {
        "route-mtu-lock-v4": doc(
            HostState(
                sysctls=defaults,
                route_json=read("fix-route-mtu.route-get4.json"),
                route_text=read("fix-route-mtu.route-get4.txt"),
                links_json=read("fix-route-mtu.link.json"),
            ),
            dest=SERVER,
        ),
        "route-mtu-lock-v6": doc(
            HostState(
                sysctls=defaults,
                route_json=read("fix-route-mtu.route-get6.json"),
                route_text=read("fix-route-mtu.route-get6.txt"),
                links_json=read("fix-route-mtu.link.json"),
            ),
            dest=SERVER6,
        ),
        "mss-clamp-router": doc(
            HostState(sysctls=defaults, nft_json=read("fix-mss-clamp.r1.nft.json")),
            dest=SERVER,
        ),
        "host-firewall": doc(
            HostState(
                sysctls=defaults,
                nft_json=read("iptables.client.nft.json"),
                iptables_save=read("iptables.client.save.txt"),
                ip6tables_save=read("ip6tables.client.save.txt"),
            ),
            dest=SERVER,
            path_mtu=1400,
        ),
        "ptb-ignored": doc(
            HostState(sysctls=defaults, nft_json=read("ptb-ignored.nft.json")), dest=SERVER
        ),
        "sysctl-mtu-probing": doc(
            HostState(sysctls=parse_sysctl_output(read("fix-mtu-probing.sysctl.txt")))
        ),
        "unreadable": doc(HostState(problems=("nft list ruleset: needs root",))),
    }


FIX_DOCS = fixcheck_docs()


@pytest.mark.parametrize("case", list(FIX_DOCS))
def test_fixcheck_output_validates(case: str) -> None:
    assert errors(FIXCHECK, FIX_DOCS[case]) == []


def test_fixcheck_cases_cover_the_contract() -> None:
    docs = list(FIX_DOCS.values())
    statuses = {f["status"] for d in docs for f in d["fixes"]}
    assert statuses >= {"in_place", "missing", "problem"}
    kinds = {r["kind"] for d in docs for r in d["rules"]}
    assert kinds >= {"drops_ptb", "drops_all_icmp", "mss_clamp"}
    assert {r["source"] for d in docs for r in d["rules"]} >= {"nftables", "iptables"}
    assert any(d["route"] is not None and d["route"]["mtu_locked"] for d in docs)
    assert any(d["dest"] is None and d["route"] is None for d in docs)
    assert any(d["advice"] for d in docs) and any(d["problems"] for d in docs)
    assert {d["family"] for d in docs} == {4, 6}


# ---- and the schemas bite ---------------------------------------------------------------


def _break(doc: dict[str, Any], path: str, value: Any = None, *, delete: bool = False) -> Any:
    out = copy.deepcopy(doc)
    *parents, last = path.split("/")
    node: Any = out
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    key: Any = int(last) if last.isdigit() else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return out


PROBE_NEGATIVE = [
    ("schema_version", "1.0", False, "an old version"),
    ("schema_version", "2.1", False, "a future major version"),
    ("command", "fix-check", False, "the other command"),
    ("port", 70000, False, "port out of range"),
    ("destinations", None, True, "missing destinations"),
    ("extra", 1, False, "unknown top-level field"),
    ("destinations/0/family", 5, False, "bad family"),
    ("destinations/0/address", "", False, "empty address"),
    ("destinations/0/trace/stop", "gave_up", False, "unknown stop reason"),
    ("destinations/0/trace/method", "sctp", False, "unknown method"),
    ("destinations/0/trace/path_mtu", 40, False, "MTU below the IPv4 minimum of 68"),
    ("destinations/0/trace/mtu_measured", None, True, "missing mtu_measured"),
    ("destinations/0/trace/hops/0/ttl", 0, False, "TTL 0"),
    ("destinations/0/trace/hops/0/rtts_ms", [-1.0], False, "negative RTT"),
    ("destinations/0/trace/hops/0/colour", "red", False, "unknown hop field"),
    ("destinations/0/trace/blackhole/mtu_low", "1400", False, "MTU as a string"),
    ("destinations/0/smtp/attempts/0/passed", None, True, "missing passed"),
    ("destinations/0/smtp/attempts/0/stalled_s", -1, False, "negative stall"),
    ("destinations/0/smtp/path_mtu/low", 0, False, "zero path MTU"),
    ("destinations/0/findings/0/verdict", "mtu_problem", False, "unknown verdict"),
    ("destinations/0/findings/0/confidence", 1.5, False, "confidence above 1"),
    ("destinations/0/findings/0/advice/0/rank", 0, False, "rank 0"),
    ("destinations/0/findings/0/evidence/0/frame", 0, False, "frame 0"),
]


@pytest.mark.parametrize(
    ("path", "value", "delete"),
    [c[:3] for c in PROBE_NEGATIVE],
    ids=[c[3] for c in PROBE_NEGATIVE],
)
def test_probe_schema_rejects(path: str, value: Any, delete: bool) -> None:
    doc = CASES["blackhole-v4"]()
    assert errors(PROBE, doc) == []
    assert errors(PROBE, _break(doc, path, value, delete=delete)) != []


FIX_NEGATIVE = [
    ("schema_version", "1.0", False, "an old version"),
    ("command", "probe", False, "the other command"),
    ("protected", "yes", False, "protected as a string"),
    ("family", 5, False, "bad family"),
    ("sysctls/net.ipv4.tcp_mtu_probing", 1, False, "sysctl value as a number"),
    ("sysctls/kernel.hostname", "x", False, "a sysctl fix-check does not read"),
    ("fixes/0/status", "maybe", False, "unknown status"),
    ("fixes/0/id", "Allow ICMP", False, "id not in kebab case"),
    ("rules/0/kind", "drops_everything", False, "unknown rule kind"),
    ("rules/0/source", "pf", False, "unknown rule source"),
    ("rules/0/handle", -1, False, "negative handle"),
    ("advice/0/commands", "nft ...", False, "commands as a string"),
    ("problems/0", "", False, "empty problem"),
    ("route", {"dst": SERVER}, False, "incomplete route"),
]


@pytest.mark.parametrize(
    ("path", "value", "delete"), [c[:3] for c in FIX_NEGATIVE], ids=[c[3] for c in FIX_NEGATIVE]
)
def test_fixcheck_schema_rejects(path: str, value: Any, delete: bool) -> None:
    doc = copy.deepcopy(FIX_DOCS["host-firewall"])
    doc["problems"] = ["nft list ruleset: needs root"]
    assert errors(FIXCHECK, doc) == []
    assert errors(FIXCHECK, _break(doc, path, value, delete=delete)) != []


# ---- the contract page ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["probe", "fixcheck"])
def test_contract_page_names_every_field(name: str) -> None:
    """docs/json-contract.md documents every field of both documents (by its name in
    backquotes in the probe / fix-check section)."""
    text = DOC.read_text()
    section = text[text.index("# The `pathsleuth probe` and `pathsleuth fix-check` JSON") :]
    schema = load_schema(name)  # type: ignore[arg-type]
    shared = {"finding", "flow", "path_mtu", "evidence", "advice", "address", "port"}
    names: set[str] = set(schema["properties"])
    for def_name, sub in schema["$defs"].items():
        if def_name not in shared:
            names |= set(sub.get("properties", {}))
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert missing == []
    assert f"**{PROBE_SCHEMA_VERSION}**" in section
