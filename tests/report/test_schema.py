"""The JSON Schema of the analyze contract: valid, in sync with the model, and it bites."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_samples import Result, healthy_result, sample_icmp, sample_result

import schemas
from pathsleuth.diagnose import model
from pathsleuth.report.analyze_json import analyze_document, render_analyze_json

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "json-contract.md"


def load_schema() -> dict[str, Any]:
    text = resources.files("pathsleuth").joinpath("schema/analyze.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return schemas.validator("analyze")


def errors(v: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [e.message for e in v.iter_errors(doc)]


def test_schema_is_draft_2020_12_and_versioned() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == model.SCHEMA_VERSION
    assert schema["$id"].endswith(model.SCHEMA_VERSION)


@pytest.mark.parametrize("make", [sample_result, healthy_result], ids=["findings", "healthy"])
def test_real_output_validates(validator: jsonschema.Draft202012Validator, make: Any) -> None:
    doc = json.loads(render_analyze_json(make()))
    assert errors(validator, doc) == []


def test_empty_analysis_validates(validator: jsonschema.Draft202012Validator) -> None:
    doc = json.loads(render_analyze_json(Result(files=[], connections=[], findings=[])))
    assert errors(validator, doc) == []


def _break(
    doc: dict[str, Any], path: str, value: Any = None, *, delete: bool = False
) -> dict[str, Any]:
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


NEGATIVE = [
    ("findings/0/verdict", None, True, "missing verdict"),
    ("findings/0/verdict", "mtu_problem", False, "unknown verdict"),
    ("findings/0/severity", "fatal", False, "unknown severity"),
    ("findings/0/confidence", 1.5, False, "confidence above 1"),
    ("findings/0/confidence", -0.1, False, "confidence below 0"),
    ("findings/0/flow/dport", 70000, False, "port out of range"),
    ("findings/0/flow/src", None, True, "flow without src"),
    ("findings/0/evidence/0/frame", 0, False, "frame numbers are 1-based"),
    ("findings/0/evidence/0/text", None, True, "evidence without text"),
    ("findings/0/advice/0/rank", 0, False, "rank starts at 1"),
    ("findings/0/advice/0/id", "Allow ICMP", False, "advice id is a slug"),
    ("findings/0/path_mtu/high", "1500", False, "MTU as a string"),
    ("findings/0/recovered", "no", False, "recovered is a boolean"),
    ("findings/0/direction", "sideways", False, "unknown direction"),
    ("findings/0/mood", "grumpy", False, "unknown finding key"),
    ("schema_version", "0.9", False, "wrong version"),
    ("connections", None, True, "missing connections"),
    ("connections/0/sport", None, True, "connection without sport"),
    ("files/0/packets", -1, False, "negative packet count"),
    ("extra", 1, False, "unknown top-level key"),
]


@pytest.mark.parametrize(("path", "value", "delete", "why"), NEGATIVE, ids=[n[3] for n in NEGATIVE])
def test_broken_documents_are_invalid(
    validator: jsonschema.Draft202012Validator, path: str, value: Any, delete: bool, why: str
) -> None:
    doc = analyze_document(sample_result())
    assert errors(validator, doc) == []
    assert errors(validator, _break(doc, path, value, delete=delete)), why


def test_connections_may_carry_tcp_stage_details(
    validator: jsonschema.Draft202012Validator,
) -> None:
    doc = analyze_document(sample_result())
    doc["connections"][0]["retransmissions"] = {"timeout": 5, "fast": 0}
    assert errors(validator, doc) == []


def test_enums_match_the_model() -> None:
    props = load_schema()["$defs"]["finding"]["properties"]
    assert props["verdict"]["enum"] == [v.value for v in model.Verdict]
    assert props["severity"]["enum"] == [s.value for s in model.Severity]
    assert props["direction"]["enum"] == [d.value for d in model.Direction]
    assert props["capture_point"]["enum"] == [c.value for c in model.CapturePoint]


@pytest.mark.parametrize(
    ("definition", "cls"),
    [
        ("finding", model.Finding),
        ("flow", model.Flow),
        ("evidence", model.Evidence),
        ("path_mtu", model.PathMtu),
        ("advice", model.Advice),
    ],
)
def test_schema_fields_match_the_model(definition: str, cls: type) -> None:
    """A field added to model.py must be added to the schema (and the docs) too."""
    props = load_schema()["$defs"][definition]["properties"]
    assert set(props) == {f.name for f in dataclasses.fields(cls)}


def _walk(schema: dict[str, Any], node: Any, where: str) -> list[str]:
    """Paths of properties that have no description (directly or through their $ref)."""
    missing: list[str] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            target = sub
            if sub.get("$ref", "").startswith("#/$defs/"):
                target = schema["$defs"][sub["$ref"].rsplit("/", 1)[1]]
            if not (sub.get("description") or target.get("description")):
                missing.append(f"{where}/{name}")
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                missing += _walk(schema, sub, f"{where}/{name}")
        if isinstance(node.get("items"), dict):
            missing += _walk(schema, node["items"], f"{where}[]")
    return missing


def test_every_field_is_documented_in_the_schema() -> None:
    schema = load_schema()
    assert _walk(schema, schema, "") == []
    for name, d in schema["$defs"].items():
        assert d.get("description"), name


def test_every_field_is_documented_in_the_markdown() -> None:
    text = DOC.read_text("utf-8")
    schema = load_schema()
    names = set(schema["properties"])
    for d in schema["$defs"].values():
        names |= set(d.get("properties", {}))
    documented = set(re.findall(r"`([a-z_]+)`", text))
    assert names - documented == set()
    assert model.SCHEMA_VERSION in text


def test_the_producers_own_types_render_valid_documents(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """The capture stage's CaptureSummary and the tcp stage's ConnectionSummary, not doubles."""
    from pathsleuth.capture.summary import CaptureSummary
    from pathsleuth.tcp.summary import ConnectionSummary, DirectionSummary

    def direction(**over: Any) -> DirectionSummary:
        base: dict[str, Any] = dict(
            packets=12,
            bytes=10_136,
            data_packets=9,
            retransmissions=6,
            fast_retransmissions=0,
            timeout_retransmissions=6,
            spurious_retransmissions=0,
            gap_fills=0,
            gaps=0,
            duplicate_acks=0,
            zero_windows=0,
            super_segments=0,
            max_segment_sent=1448,
            max_segment_acked=40,
            df=True,
            ttl=64,
            hops=0,
            mss=1460,
            wscale=7,
            sack_permitted=True,
            timestamps=False,
            isn=4_130_582_918,
            stuck_acks=5,
        )
        base.update(over)
        return DirectionSummary(**base)

    conn = ConnectionSummary(
        id=7,
        file="seed.pcap",
        src="192.168.1.254",
        sport=55400,
        dst="203.106.231.124",
        dport=25,
        packets=22,
        bytes=9_700,
        duration_s=53.81,
        state="RSTO",
        history="ShADadTR",
        close="rst",
        first_frame=9438,
        last_frame=11020,
        handshake_rtt_ms=182.0,
        start_ts=1_242_664_880.1,
        end_ts=1_242_664_933.9,
        directions={"orig": direction(), "resp": direction(ttl=54, hops=10, isn=None, wscale=None)},
    )
    cap = CaptureSummary(
        name="seed.pcap",
        format="pcap",
        packets=11_020,
        bytes=4_512_330,
        malformed=1,
        malformed_frames=[17],
        first_ts_ns=1_242_664_880_000_000_000,
        last_ts_ns=1_242_665_245_200_000_000,
    )
    finding = dataclasses.replace(sample_result().findings[-1], file="seed.pcap")
    icmp = sample_icmp()  # the tcp stage's own IcmpEvent
    doc = analyze_document(Result(files=[cap], connections=[conn], findings=[finding], icmp=icmp))
    assert errors(validator, doc) == []
    assert [e["frame"] for e in doc["icmp"]] == [612, 640, 700]
    assert [e["valid"] for e in doc["icmp"]] == [True, False, False]
    assert doc["connections"][0]["directions"]["resp"]["hops"] == 10
    broken = copy.deepcopy(doc)
    broken["connections"][0]["directions"]["orig"]["ttl"] = 300
    assert errors(validator, broken)


def test_the_documented_example_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    text = DOC.read_text("utf-8")
    blocks = re.findall(r"```json\n(.*?)\n```", text, flags=re.S)
    assert len(blocks) == 1
    assert errors(validator, json.loads(blocks[0])) == []
