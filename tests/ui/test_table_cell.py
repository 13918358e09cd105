"""A table `Cell` draws exactly what a Rich `Text` of the same text and style draws in a
DataTable cell (padded, cropped, styled), measures the same, and never reads markup."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.padding import Padding
from rich.text import Text
from textual.render import measure

from orch_tui.widgets.table_cell import Cell


@pytest.mark.parametrize("text, style", [("src/config/**", ""), ("⚠ src/api/*.py", "bold red"),
                                         ("expired", "bold red"), ("12:00", "yellow"), ("—", "dim"),
                                         ("[red]not red[/red]", "")])
@pytest.mark.parametrize("width", [3, 12, 30])
def test_a_cell_draws_what_a_text_draws(text: str, style: str, width: int) -> None:
    console = Console(width=80, color_system="truecolor")
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    as_text = console.render_lines(Padding(Text(text, style), (0, 1)), options)
    as_cell = console.render_lines(Padding(Cell(text, style), (0, 1)), options)
    assert as_cell == as_text
    assert measure(console, Cell(text, style), 1) == measure(console, Text(text, style), 1)
