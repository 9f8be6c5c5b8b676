"""`pathsleuth analyze` end to end through the CLI: the lab black hole in all three formats.

The lab capture (`examples/blackhole/client.pcapng`) is a recorded namespace run: an SMTP
client whose 1448-byte DF segments vanish behind a 1400-byte link with ICMP dropped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

LAB = Path(__file__).resolve().parents[2] / "examples" / "blackhole" / "client.pcapng"


def run(*args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    """The real console entry point (exit status included), as a user runs it."""
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pathsleuth.cli", "analyze", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


@pytest.fixture(scope="module")
def lab() -> Path:
    if not LAB.exists():
        pytest.skip(f"{LAB} missing")
    return LAB


def test_html_to_file_is_self_contained_with_one_chart_per_finding(
    lab: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    res = run(str(lab), "--format", "html", "-o", str(out))
    assert res.returncode == 1, res.stderr  # an error-severity finding
    assert res.stdout == ""  # everything went to the file
    html = out.read_text("utf-8")
    assert html.startswith("<!doctype html>")
    tags = _Tags()
    tags.feed(html)
    sections = [a for t, a in tags.tags if t == "section" and "finding" in a.get("class", "")]
    charts = [a for t, a in tags.tags if t == "svg" and "seqchart" in a.get("class", "")]
    assert len(sections) >= 1
    assert len(charts) == len(sections)
    assert sections[0]["data-verdict"] == "pmtu_blackhole"
    # self-contained: no scripts, no external stylesheets, images or fonts
    assert not [t for t, _ in tags.tags if t in ("script", "link", "img", "iframe")]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    # the black hole is drawn: retransmissions and the stuck-ACK band
    marks = [a for t, a in tags.tags if t == "g" and a.get("data-kind") == "retrans"]
    assert len(marks) >= 3
    assert "receiver's ACK stuck at" in html


def test_json_validates_and_advice_is_sane(lab: Path) -> None:
    res = run(str(lab), "--format", "json")
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    schema = json.loads(
        resources.files("pathsleuth").joinpath("schema/analyze.schema.json").read_text("utf-8")
    )
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    assert doc["icmp"] == []  # ICMP was dropped in the lab: none captured
    (f,) = [f for f in doc["findings"] if f["verdict"] == "pmtu_blackhole"]
    cmds = "\n".join(c for a in f["advice"] for c in a["commands"])
    # the largest acknowledged packet was a short SMTP command: no absurd MSS from it
    for n in re.findall(r"(?:set-mss|maxseg size set|advmss) (\d+)", cmds):
        assert int(n) >= 536
    assert "maxseg size set rt mtu" in cmds
    assert "pathsleuth probe 198.18.2.2 --port 25" in cmds
    assert all(a["persist"] for a in f["advice"])


def test_text_first_screen_is_the_answer(lab: Path) -> None:
    """What is broken, where, and what to do, within the first 24 lines of the terminal."""
    res = run(str(lab))
    assert res.returncode == 1, res.stderr
    first = "\n".join(res.stdout.splitlines()[:24])
    assert "#1 error: path-MTU black hole on 198.18.0.1:41608 → 198.18.2.2:25" in first
    assert "outbound: our segments to the peer" in first
    assert "do first     Let ICMP 'fragmentation needed' (type 3 code 4) through" in first
    assert "below 1500 bytes" in first and "only 102 bytes" in first
    assert "62 bytes" not in res.stdout  # no MSS derived from a 50-byte SMTP command
    assert "ICMPv6" not in res.stdout.split("advice (try in this order)")[1]  # IPv4 flow
