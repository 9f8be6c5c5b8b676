"""`pathsleuth logs` output: text wording, the JSON contract against its schema, the CLI."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from pathsleuth.cli import main
from pathsleuth.maillog.analysis import LogAnalysis, analyze_logs
from pathsleuth.maillog.correlate import correlate
from pathsleuth.report.maillog import (
    logs_document,
    matches_document,
    render_logs_json,
    render_logs_text,
    render_matches_text,
    size_text,
)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "maillog" / "data" / "seed_gwia_excerpts.txt"
SCHEMA = ROOT / "src" / "pathsleuth" / "schema" / "logs.schema.json"


@pytest.fixture(scope="module")
def seed() -> LogAnalysis:
    return analyze_logs([str(SEED)], day=date(2009, 5, 18))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _text(a: LogAnalysis) -> str:
    buf = io.StringIO()
    render_logs_text(a, Console(file=buf, width=300, color_system=None))
    return buf.getvalue()


def test_size_text() -> None:
    assert size_text(88576) == "86.5 KB"
    assert size_text(1229) == "1.2 KB"
    assert size_text(500) == "500 bytes"
    assert size_text(None) == "unknown"
    assert size_text(3 * 1024 * 1024) == "3.0 MB"


def test_text_report_names_suspects_and_next_steps(seed: LogAnalysis) -> None:
    out = _text(seed)
    assert (
        "suspect path-MTU problem to mailserver.escatec.com [203.106.231.124] (escatec.com): "
        "1 of 1 attempt failed after DATA (420 TCP write error); smallest failing 86.5 KB"
    ) in out
    assert "kingston.com.my" in out and "421 4.0.0 Error: timeout" in out
    assert "not TLS" in out and "not MTA-STS" in out and "antispam" in out and "recipient" in out
    assert "SonicWALL" in out
    assert "icmp[0] == 3 or icmp6[0] == 2" in out
    assert "pathsleuth probe escatec.com --port 25" in out
    assert "by destination" in out and "by failure class" in out


def test_json_validates_and_matches_text(
    seed: LogAnalysis, validator: jsonschema.Draft202012Validator
) -> None:
    doc = json.loads(render_logs_json(seed))
    errs = [e.message for e in validator.iter_errors(doc)]
    assert errs == []
    assert doc["totals"] == {"attempts": 3, "delivered": 0, "failed": 3, "pmtu_suspects": 3}
    esc = next(s for s in doc["suspects"] if s["destination"] == "escatec.com")
    assert esc["smallest_failing_bytes"] == 88576
    assert esc["failed_attempts"][0]["start_time"] == "2009-05-18T16:41:22Z"
    assert esc["summary"] in _text(seed)


@pytest.mark.corpus
def test_corpus_json_validates(
    maillogs_dir: Path, validator: jsonschema.Draft202012Validator
) -> None:
    for p in sorted(maillogs_dir.rglob("*.log")):
        doc = logs_document(analyze_logs([str(p)]))
        assert [e.message for e in validator.iter_errors(doc)] == [], p


@pytest.mark.parametrize(
    ("path", "value"),
    [("schema_version", "2.0"), ("totals", {}), ("suspects", [{"destination": "x"}])],
)
def test_schema_rejects_broken_documents(
    seed: LogAnalysis, validator: jsonschema.Draft202012Validator, path: str, value: Any
) -> None:
    doc = logs_document(seed)
    doc[path] = value
    assert list(validator.iter_errors(doc))


def test_matches_rendering(seed: LogAnalysis) -> None:
    class C:
        dst, dport, connection_id, verdict = "203.106.231.124", 25, 4, "pmtu_blackhole"
        start_ts = 0.0
        end_ts = 0.0

    a = next(x for x in seed.triage.failing_attempts if x.msg_id == "58121")
    c = C()
    assert a.start_ts is not None
    c.start_ts = a.start_ts + 12.0
    ms = correlate(seed.triage.failing_attempts, [c])
    buf = io.StringIO()
    render_matches_text(ms, Console(file=buf, width=300))
    out = buf.getvalue()
    assert "+12.0 s" in out and "pmtu_blackhole" in out and "no IP address" in out
    assert matches_document(ms)["clock_offset_s"] == 12.0


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    import pathsleuth.cli as cli_mod

    cli_mod._exit_status = 0
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["logs", str(SEED), "--date", "2009-05-18", "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["totals"]["pmtu_suspects"] == 3
    code, out, _ = _run(["logs", str(SEED), "--destination", "escatec.com"], capsys)
    assert code == 1 and "kingston" not in out
    ok = tmp_path / "maillog"
    ok.write_text(
        "Nov 25 06:30:01 m postfix/smtp[1]: Q1: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, "
        "delay=1, dsn=2.0.0, status=sent (250 ok)\n"
    )
    code, out, _ = _run(["logs", str(ok)], capsys)
    assert code == 0 and "1 delivery attempt: 1 delivered" in out
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    code, _, err = _run(["logs", str(bad)], capsys)
    assert code == 2 and "not a mail log" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_cli_reads_compressed_stdin() -> None:
    import gzip
    import subprocess
    import sys

    data = gzip.compress(SEED.read_bytes())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathsleuth.cli",
            "logs",
            "-",
            "--date",
            "2009-05-18",
            "--format",
            "json",
        ],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["files"][0]["name"] == "<stdin>" and doc["files"][0]["compression"] == ["gzip"]
    assert doc["totals"]["pmtu_suspects"] == 3


def test_destination_table_fits_a_80_column_terminal(seed: LogAnalysis) -> None:
    """Names, numbers and class labels stay whole in the default width of a pipe."""
    buf = io.StringIO()
    render_logs_text(seed, Console(file=buf, width=80, color_system=None))
    table = buf.getvalue().split("by destination", 1)[1].split("by failure class", 1)[0]
    rows = [line.split() for line in table.splitlines()]
    assert ["escatec.com", "1", "0", "1", "-", "86.5", "KB", "suspect"] in rows
    assert ["pmtu_like_after_data", "1"] in rows
