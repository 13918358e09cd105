"""A unified diff with colour, drawn line by line: only the visible lines are rendered, so a
lane whose diff changes many times a second stays cheap however long the diff is."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .safe_text import clean

MAX_DIFF_LINES = 5000
"""Lines kept of one diff; a notice replaces the rest."""
MAX_LINE = 300

_STYLES = (
    ("diff --git", Style(bold=True)), ("+++", Style(bold=True)), ("---", Style(bold=True)),
    ("@@", Style(color="cyan")), ("+", Style(color="green")), ("-", Style(color="red")),
    ("new file", Style(color="yellow")), ("deleted file", Style(color="yellow")),
    ("Binary", Style(color="yellow")), ("…", Style(dim=True, italic=True)),
)


def line_style(line: str) -> Style:
    for prefix, style in _STYLES:
        if line.startswith(prefix):
            return style
    return Style(dim=True) if line.startswith(("index ", "similarity", "rename ")) else Style()


@lru_cache(maxsize=4096)
def _segment(line: str, base: Style) -> Segment:
    return Segment(line, base + line_style(line))


def diff_lines(diff: str, truncated: bool = False) -> list[str]:
    lines = clean(diff, MAX_LINE).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = lines[:MAX_DIFF_LINES] + [f"… {hidden} more lines not shown"]
    if truncated:
        lines.append("… diff truncated by the engine")
    return lines


class DiffView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DiffView { height: 1fr; background: $surface; scrollbar-size: 0 1; }
    DiffView:focus { background-tint: $foreground 5%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[str] = []
        self._placeholder = "no changes yet"

    @property
    def lines(self) -> list[str]:
        return self._lines

    def show_diff(self, diff: str, truncated: bool = False) -> None:
        self._lines = diff_lines(diff, truncated)
        width = max((len(line) for line in self._lines), default=0)
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if not self._lines:
            text = Text(self._placeholder if y == 0 else "", style="dim italic")
            return Strip(text.render(self.app.console)).crop_extend(0, width, self.rich_style)
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = Strip([_segment(self._lines[index], self.rich_style)])
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
