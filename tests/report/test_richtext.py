"""`LabelGrid` prints what the rich table grid it replaces printed, for far less work."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from pathsleuth.report.richtext import LabelGrid, Trimmed

words = st.text(alphabet="abcdefghij.:#→-·0123456789", min_size=1, max_size=30)
values = st.lists(st.one_of(words, st.just("\n"), st.just(" ")), min_size=0, max_size=25).map(
    lambda parts: " ".join(parts).strip(" ")
)


def _printed(renderable: RenderableType, width: int, indent: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    console.print(Trimmed(renderable, indent=indent))
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.text(alphabet="abc#.0123456789", max_size=10), values), max_size=6),
    st.integers(40, 132),
    st.sampled_from(["left", "right"]),
    st.sampled_from([0, 12]),
    st.sampled_from([0, 2, 4]),
)
def test_label_grid_prints_what_the_table_grid_printed(
    rows: list[tuple[str, str]], width: int, justify: str, min_width: int, indent: int
) -> None:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, justify=justify, min_width=min_width)  # type: ignore[arg-type]
    table.add_column(overflow="fold")
    grid = LabelGrid(min_width=min_width, justify=justify)  # type: ignore[arg-type]
    for label, value in rows:
        table.add_row(label, Text(value))
        grid.add_row(label, Text(value))
    assert _printed(grid, width, indent) == _printed(table, width, indent)
