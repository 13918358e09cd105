"""A table cell of one line in one style: draws what a Rich `Text` of the same text and style
draws in a `DataTable` cell, for a fraction of the work and memory.

A `Text` cell goes through Rich's wrapping and justifying on every repaint of its row, and is
three objects the garbage collector walks (the text, its span list, its text list); a
thousand-row table holds five thousand of them. A `Cell` yields its one segment and is one
object. The text is shown literally (never read as markup): callers pass it through
`safe_text.one_line` first, as they would for a `Text`.
"""

from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style


@lru_cache(maxsize=64)
def _style(definition: str) -> Style | None:
    return Style.parse(definition) if definition else None  # as Text draws an unstyled span


class Cell:
    __slots__ = ("text", "style", "cell_len")

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = _style(style)
        self.cell_len = cell_len(text)
        """Its width in terminal cells (as `Text.cell_len`)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(self.text, self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.cell_len, self.cell_len)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and (self.text, self.style) == (other.text, other.style)

    def __hash__(self) -> int:
        return hash((self.text, self.style))

    def __repr__(self) -> str:
        return f"Cell({self.text!r}, {str(self.style or '')!r})"
