"""report/: the only stage that formats results for people and machines.

It takes what the other stages hand on and renders it; it never measures, never reads a
capture and never decides a verdict. Inputs are read-only Protocols (`views`), so any
producer object with the named attributes can be rendered:

- `analyze_text.render_analyze_text(result, console, show_all=False)`: rich terminal
  report, summary first, then the ICMP errors, then each finding with evidence and
  ranked advice.
- `analyze_json.render_analyze_json(result) -> str`: the versioned JSON contract
  (`pathsleuth/schema/analyze.schema.json`, documented in `docs/json-contract.md`).
- `html.render_analyze_html(result, sequences) -> str`: one self-contained HTML page with
  a Stevens time–sequence chart per finding (`seqchart` lays it out, inline SVG).
- `decode_text.render_decode_text(summaries, console)` and
  `decode_text.render_decode_json(summaries) -> str`: the `decode` summary.

`fmt` holds the wording shared by all outputs (ordering, sizes, times, flows), so text,
JSON and HTML number and phrase the same finding the same way.
"""

from pathsleuth.report.analyze_json import render_analyze_json
from pathsleuth.report.analyze_text import render_analyze_text
from pathsleuth.report.decode_text import render_decode_json, render_decode_text
from pathsleuth.report.html import render_analyze_html
from pathsleuth.report.views import (
    AnalysisView,
    ConnectionView,
    FileView,
    SeqPoint,
    SummaryView,
)

__all__ = [
    "AnalysisView",
    "ConnectionView",
    "FileView",
    "SeqPoint",
    "SummaryView",
    "render_analyze_html",
    "render_analyze_json",
    "render_analyze_text",
    "render_decode_json",
    "render_decode_text",
]
