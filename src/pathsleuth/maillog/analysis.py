"""`analyze_logs`: the one entry point the CLI (and `analyze --log`) calls.

Wires the stages of this package in one streaming pass: `reader` (paths -> events) ->
`model` (events -> attempts, bounded state) -> `triage` (attempts -> judgement). Returns a
`LogAnalysis`: the triage result plus per-file statistics. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pathsleuth.maillog.events import InboundDrop
from pathsleuth.maillog.model import MailLogModel
from pathsleuth.maillog.reader import LogFileStats, read_logs
from pathsleuth.maillog.triage import Triage, TriageResult

#: version of the `logs --format json` contract (schema/logs.schema.json)
LOGS_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True, kw_only=True)
class LogAnalysis:
    files: tuple[LogFileStats, ...]
    triage: TriageResult
    destination_filter: str | None
    evicted_open: int
    """Messages flushed early because too many were open at once (memory bound)."""

    @property
    def has_suspect(self) -> bool:
        return bool(self.triage.suspects)


def analyze_logs(
    paths: Iterable[str],
    *,
    day: date | None = None,
    destination: str | None = None,
    fmt: str | None = None,
) -> LogAnalysis:
    """Read, model and triage mail logs (see the package docstring). Raises `BadInput`."""
    paths = list(paths)
    stats: list[LogFileStats] = []
    model = MailLogModel()
    triage = Triage(destination=destination, logs=paths)
    add = triage.add
    feed = model.feed
    for ev in read_logs(paths, stats, day=day, fmt=fmt):
        if type(ev) is InboundDrop:
            triage.add_inbound(ev)
            continue
        for att in feed(ev):
            add(att)
    for att in model.finish():
        add(att)
    return LogAnalysis(
        files=tuple(stats),
        triage=triage.result(),
        destination_filter=destination,
        evicted_open=model.evicted_open,
    )
