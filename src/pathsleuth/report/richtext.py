"""rich helpers shared by the terminal renderers: trimmed lines and copy-safe commands.

rich pads table cells and padded blocks with spaces up to the column or console width;
in a pipe or a saved report that leaves trailing blanks on every line. `Trimmed` renders
any renderable (and indents it). `command_text` is a shell command that is never broken
across lines, so what a person copies is what should be run.
`LabelGrid` is the two-column grid the analyze report prints for every finding, laid out
as `rich.table.Table.grid(padding=(0, 1))` lays out its two columns but without measuring
every cell: a report with thousands of findings spent most of its time there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import StyleType
from rich.text import Text


class Trimmed:
    """Render `renderable` with trailing whitespace removed from every line; `indent`
    columns to its left and `top` blank lines above it (what a `rich.padding.Padding`
    around it would add, in the same pass)."""

    def __init__(self, renderable: RenderableType, *, indent: int = 0, top: int = 0) -> None:
        self.renderable = renderable
        self.indent = indent
        self.top = top

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for _ in range(self.top):
            yield Segment.line()
        inner = options.update_width(max(options.max_width - self.indent, 1))
        margin = Segment(" " * self.indent) if self.indent else None
        for line in console.render_lines(self.renderable, inner, pad=False):
            segments = list(line)
            while segments and not segments[-1].control and not segments[-1].text.rstrip():
                segments.pop()
            if segments and not segments[-1].control:
                last = segments[-1]
                segments[-1] = Segment(last.text.rstrip(), last.style, last.control)
            if segments and margin is not None:  # a blank line stays empty
                yield margin
            yield from segments
            yield Segment.line()


def command_text(command: str, *, indent: int, prompt: str = "$ ") -> Text:
    """One shell command (or config line) as one line that is never wrapped or cropped
    (printed with ``crop=False``): the terminal soft-wraps it."""
    line = Text(" " * indent, no_wrap=True, overflow="ignore")
    line.append(prompt, style="dim")
    line.append(command, style="green")
    return line


class LabelGrid:
    """Rows of a label (never wrapped, padded to the widest label or `min_width`, justified
    left or right, in `label_style`) and a text folded into the remaining width, one space
    between: what ``Table.grid(padding=(0, 1))`` with a ``no_wrap`` first column and an
    ``overflow="fold"`` second prints, for far less work (labels without leading or
    trailing blanks, as the report's are; `tests/report/test_richtext.py` compares the
    two). No trailing blanks."""

    def __init__(
        self,
        *,
        min_width: int = 0,
        justify: Literal["left", "right"] = "left",
        label_style: StyleType = "",
    ) -> None:
        self.min_width = min_width
        self.justify = justify
        self.label_style = label_style
        self.rows: list[tuple[Text, Text]] = []

    def add_row(self, label: str | Text, value: Text) -> None:
        self.rows.append((Text(label) if isinstance(label, str) else label, value))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        width = max([self.min_width, *(cell_len(label.plain) for label, _ in self.rows)])
        room = max(options.max_width - width - 1, 1)
        label_style = console.get_style(self.label_style) if self.label_style else None
        blank = " " * width
        for label, value in self.rows:
            pad = Text(" " * (width - cell_len(label.plain)))
            first = pad + label if self.justify == "right" else label + pad
            lines = value.wrap(console, room, overflow="fold") if value.plain else [Text()]
            for k, line in enumerate(lines):
                line.rstrip()
                head = first.copy() if k == 0 else Text(blank)
                if k == 0 and label_style is not None:
                    head.stylize(label_style)
                row = Text.assemble(head, " ", line) if line.plain else head
                row.rstrip()
                yield from row.render(console)
                yield Segment.line()
