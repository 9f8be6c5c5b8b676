"""rich helpers shared by the terminal renderers: trimmed lines and copy-safe commands.

rich pads table cells and padded blocks with spaces up to the column or console width;
in a pipe or a saved report that leaves trailing blanks on every line. `Trimmed` renders
any renderable and strips them. `command_line` prints a shell command without ever
inserting a line break into it, so what a person copies is what should be run.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text


class Trimmed:
    """Render `renderable` with trailing whitespace removed from every line."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for line in console.render_lines(self.renderable, options, pad=False):
            segments = list(line)
            while segments and not segments[-1].control and not segments[-1].text.rstrip():
                segments.pop()
            if segments and not segments[-1].control:
                last = segments[-1]
                segments[-1] = Segment(last.text.rstrip(), last.style, last.control)
            yield from segments
            yield Segment.line()


def command_line(console: Console, command: str, *, indent: int, prompt: str = "$ ") -> None:
    """One shell command (or config line) on one output line, soft-wrapped by the terminal."""
    line = Text(" " * indent)
    line.append(prompt, style="dim")
    line.append(command, style="green")
    console.print(line, soft_wrap=True)
