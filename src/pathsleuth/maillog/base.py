"""The contract every mail-log parser keeps, so `detect` and `model` need not know formats.

A parser is a small stateful object fed one line at a time (sans-IO, like h11: it never
opens a file). `feed` returns the events the line produced, an empty tuple for a line it
recognises but does not need (``postfix/cleanup`` message-id lines), or None for a line
it does not recognise at all; the caller counts those and goes on. `finish` flushes what
the parser was still holding (GWIA keeps an attempt open until its result file arrives).
`sniff` scores a handful of first lines for format detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from pathsleuth.maillog.events import AnyEvent

#: the answer for "recognised, nothing to report"
NOTHING: tuple[AnyEvent, ...] = ()


class LineParser(Protocol):
    """One log format's line parser."""

    format_name: ClassVar[str]

    def feed(self, line: str, lineno: int) -> Sequence[AnyEvent] | None:
        """Events of one line (without its newline); None if the line is not this format's."""
        ...

    def finish(self) -> Sequence[AnyEvent]:
        """Events still held at end of input."""
        ...
