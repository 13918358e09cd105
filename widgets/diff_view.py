"""A unified diff with colour, drawn line by line: only the visible lines are cleaned and
rendered, and a diff that changes many times a second is redrawn at most ten times a
second, so busy lanes never stall the event loop however long their diffs are."""

from __future__ import annotations

import time
from functools import lru_cache
from math import ceil
from typing import Callable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.timer import Timer

from orch_tui.widgets.safe_text import clean

MAX_DIFF_LINES = 5000
"""Lines kept of one diff; a notice replaces the rest."""
MAX_LINE = 300
MIN_REDRAW_SECONDS = 0.1
EIGHTHS = 8
"""A scrollbar draws its thumb's ends in eighths of a row."""

_STYLES = (
    ("diff --git", Style(bold=True)), ("▸ ", Style(bold=True, color="bright_blue")), ("+++", Style(bold=True)), ("---", Style(bold=True)),
    ("@@", Style(color="cyan")), ("+", Style(color="green")), ("-", Style(color="red")),
    ("new file", Style(color="yellow")), ("deleted file", Style(color="yellow")),
    ("Binary", Style(color="yellow")), ("…", Style(dim=True, italic=True)),
)


def line_style(line: str) -> Style:
    for prefix, style in _STYLES:
        if line.startswith(prefix):
            return style
    return Style(dim=True) if line.startswith(("index ", "similarity", "rename ")) else Style()


@lru_cache(maxsize=1024)  # a few screens of six lanes: every entry is objects the collector walks
def _segment(raw: str, base: Style) -> Segment:
    line = clean(raw, MAX_LINE)  # untrusted: no escapes, no control characters, cropped
    return Segment(line, base + line_style(line))


def diff_lines(diff: str, truncated: bool = False) -> list[str]:
    """Raw lines (cleaned later, when drawn), capped at MAX_DIFF_LINES."""
    lines = diff.split("\n", MAX_DIFF_LINES)
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_DIFF_LINES:
        hidden = lines.pop().count("\n") + 1
        lines.append(f"… {hidden} more lines not shown")
    if truncated:
        lines.append("… diff truncated by the engine")
    return lines


def _line_at(lines: list[str], index: int) -> str | None:
    return lines[index] if index < len(lines) else None


def thumb_eighths(size: int, virtual_size: float, window_size: float, position: float) -> tuple[int, int] | None:
    """Where a vertical scrollbar of `size` rows draws its thumb, in eighths of a row (None:
    no thumb): the arithmetic of Textual's `ScrollBarRender.render_bar`, so a change that
    leaves the bar as drawn can skip redrawing it (tests/ui/test_diff_view.py checks every
    case against Textual's own drawing)."""
    virtual, window = ceil(virtual_size), ceil(window_size if window_size < virtual_size else 0)
    if not (window and size and virtual and size != virtual):
        return None
    thumb = max(1, window / (virtual / size))
    start = int((size - thumb) * (position / (virtual - window)) * EIGHTHS)
    return start, start + ceil(thumb * EIGHTHS)


class DiffView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DiffView { height: 1fr; background: $surface; scrollbar-size: 0 1; overflow-y: scroll; }
    DiffView:focus { background-tint: $foreground 5%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None,
                 prepare: Callable[[str], str] = str) -> None:
        super().__init__(id=id, classes=classes)
        self._prepare = prepare
        """Turns a diff into the text shown (the lane panels' compact form): run only for the
        diff that is drawn, not for each of the several that can come between two redraws."""
        self._shown: tuple[str, bool] | None = None
        self._lines: list[str] = []
        self._placeholder = "no changes yet"
        self._pending: tuple[str, bool] | None = None
        self._timer: Timer | None = None
        self._drawn_at = 0.0
        self._base_style: Style | None = None
        self._width = 0

    @property
    def lines(self) -> list[str]:
        return self._lines

    def show_diff(self, diff: str, truncated: bool = False) -> None:
        """Show `diff` now, or within MIN_REDRAW_SECONDS when it changed a moment ago."""
        self._pending = (diff, truncated)
        if self._timer is not None:
            return
        wait = self._drawn_at + MIN_REDRAW_SECONDS - time.monotonic()
        if wait <= 0 or not self.is_attached:
            self._apply_pending()
        else:
            self._timer = self.set_timer(wait, self._apply_pending)

    def _apply_pending(self) -> None:
        self._timer = None
        if self._pending is None:
            return
        diff, truncated = self._pending
        self._pending = None
        if (diff, truncated) == self._shown:
            return  # the lane's files changed back, or a write that changed nothing git shows
        self._shown = (diff, truncated)
        self._drawn_at = time.monotonic()
        before, scrolled_to = self._lines, self.scroll_offset
        self._lines = diff_lines(self._prepare(diff), truncated)
        width = min(MAX_LINE, max(map(len, self._lines), default=0))
        size = Size(width, len(self._lines))
        if size != self.virtual_size:
            # Not `self.virtual_size = size`: that reactive re-lays out the whole screen.
            # The view's own size is fixed by its lane and its scrollbar is always shown,
            # so only the scrollbar needs to learn the new size.
            self.set_reactive(DiffView.virtual_size, size)
            self._resize_scrollbar(size.height)
            self.scroll_to(x=self.validate_scroll_x(self.scroll_x), y=self.validate_scroll_y(self.scroll_y),
                           animate=False)
        if self.scroll_offset != scrolled_to or not before or not self._lines:
            self.refresh()
        else:
            self._refresh_changed_rows(before)

    def _resize_scrollbar(self, lines: int) -> None:
        """The scrollbar learns the diff's length, and is redrawn only if its thumb moved:
        a diff one line longer seldom moves it, and a redraw cost as much as the lines."""
        bar = self.vertical_scrollbar
        drawn = thumb_eighths(bar.size.height, bar.window_virtual_size, bar.window_size, bar.position)
        bar.set_reactive(ScrollBar.window_virtual_size, lines)
        if thumb_eighths(bar.size.height, lines, bar.window_size, bar.position) != drawn:
            bar.refresh()

    def _refresh_changed_rows(self, before: list[str]) -> None:
        """Redraw the visible rows that differ from `before`: an agent's write changes a few
        lines of the diff, often none of those in view."""
        top, height = self.scroll_offset.y, self.size.height
        changed = [row for row in range(top, top + height)
                   if _line_at(before, row) != _line_at(self._lines, row)]
        if changed:
            self.refresh_lines(changed[0], changed[-1] - changed[0] + 1)

    def set_placeholder(self, text: str) -> None:
        if text != self._placeholder:
            self._placeholder = text
            self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style walks every ancestor's styles (a fifth of a millisecond): once a
        # repaint, not twice a line, or six busy lanes spent most of each frame on it. Taken
        # by the first line drawn: a repaint of a neighbour asks for this view's cached lines.
        self._base_style = None
        return super().render_lines(crop)

    def _line_base(self) -> tuple[Style, int]:
        if self._base_style is None:
            self._base_style = self.rich_style
            self._width = self.scrollable_content_region.width
        return self._base_style, self._width

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        base, width = self._line_base()
        if not self._lines:
            text = Text(self._placeholder if y == 0 else "", style="dim italic")
            return Strip(text.render(self.app.console)).crop_extend(0, width, base)
        if index >= len(self._lines):
            return Strip.blank(width, base)
        strip = Strip([_segment(self._lines[index], base)])
        return strip.crop_extend(scroll_x, scroll_x + width, base)
