"""Runs the stages in order for the CLI and for library users; formats nothing.

`decode_paths` streams each capture through the engine and folds a `CaptureSummary`
(bounded memory). `analyze_paths` reads each capture whole, hands its `PacketTable` to
the diagnosis and gathers one `AnalysisResult` for all files. Progress is reported through
an optional callback so that the caller (the CLI) decides how to show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pathsleuth.capture.reader import Progress, iter_captures
from pathsleuth.capture.summary import CaptureSummary, SummaryBuilder


def decode_paths(
    paths: Iterable[str], *, progress: Progress | None = None
) -> Iterator[CaptureSummary]:
    """One summary per capture stream (archive members each get their own)."""
    for path in paths:
        for cap in iter_captures(path):
            builder = SummaryBuilder(cap.name)
            for table in cap.tables(progress):
                builder.add(table)
            yield builder.finish(cap.info, skipped_members=cap.skipped_members)
