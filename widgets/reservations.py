"""The reservation ledger: path pattern, lane, holder, exclusive, time left (counting down);
overlapping exclusive reservations are highlighted."""

from __future__ import annotations

from datetime import timezone
from typing import Callable

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from orch_tui.orchestration.model import Reservation

from orch_tui.widgets.lane import format_elapsed
from orch_tui.widgets.safe_text import one_line
from orch_tui.widgets.table_cell import Cell

RENDER_CACHE_ENTRIES = 400
"""Entries kept in each of the table's render caches (DataTable keeps up to 10,000)."""
BOUNDED_CACHES = ("_cell_render_cache", "_row_render_cache", "_row_renderable_cache", "_line_cache")
COLUMNS = (("path", "Path", None), ("lane", "Lane", 4), ("left", "Left", 7), ("excl", "Excl", 4),
           ("agent", "Agent", None))


def time_left(reservation: Reservation, now: float) -> Cell:
    if reservation.expires_at is None:
        return Cell("—", "dim")
    expires = reservation.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    seconds = expires.timestamp() - now
    if seconds <= 0:
        return Cell("expired", "bold red")
    return Cell(format_elapsed(seconds), "yellow" if seconds < 60 else "")


class ReservationTable(DataTable[Cell]):
    DEFAULT_CSS = """
    ReservationTable { height: 1fr; }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.clock = clock
        self.reservations: tuple[Reservation, ...] = ()
        self._painting = False
        self._paint_style: Style | None = None
        self._out_of_view: dict[int, Reservation] = {}
        """Rows that changed while scrolled out of view, by position: written when they come
        into view. Every cell written makes the table redraw all the rows on screen (its
        render caches are keyed by an update counter), so a busy ledger of a thousand rows,
        nearly all of them out of view, redrew the table twice a second for nothing."""

    def on_mount(self) -> None:
        self._bound_render_caches()
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)
        self.show_reservations(self.reservations)
        self.set_interval(1.0, self._tick)

    def _bound_render_caches(self) -> None:
        """Every update of a cell makes DataTable's cached renders of all cells, rows and
        lines stale at once (its cache keys carry an update counter), and the stale ones
        stay until 10,000 (cells) or 1,000 (rows, lines) are kept: after a minute of a busy
        ledger some 100,000 objects that each full garbage collection walked, so each took
        twice as long. A few screens' worth is all the table ever reuses."""
        for name in BOUNDED_CACHES:
            # DataTable's own (textual 8). Should a later textual rename one, the table works
            # as before and test_reservation_table says so: never a crash on the dashboard.
            cache = getattr(self, name, None)
            if cache is not None:
                cache.maxsize = min(cache.maxsize, RENDER_CACHE_ENTRIES)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._painting, self._paint_style = True, None
        try:
            return super().render_lines(crop)
        finally:
            self._painting = False

    @property
    def rich_style(self) -> Style:
        """The table asks for its base style once a line, and it walks every ancestor's styles:
        during one repaint it is worked out once (a third of a repaint of the table)."""
        if not self._painting:
            return super().rich_style
        if self._paint_style is None:
            self._paint_style = super().rich_style
        return self._paint_style

    def show_reservations(self, reservations: tuple[Reservation, ...]) -> None:
        # conflicts first, then by lane, so what needs a look is never scrolled away
        ordered = tuple(sorted(reservations, key=lambda r: (not r.conflicts, r.lane or 99)))
        shown, self.reservations = self.reservations, ordered
        if not self.columns:
            return
        self.border_subtitle = f"{len(ordered)} held"
        if self.row_count == len(shown) == len(ordered):
            # The ledger is read every few seconds and mostly unchanged: with a thousand
            # reservations, rebuilding the table each time stalled the dashboard.
            self._update_changed_rows(shown, ordered)
            return
        self.clear()
        self._out_of_view = {}
        now = self.clock()
        for position, item in enumerate(ordered):
            self.add_row(*self._cells(item, now), key=str(position))

    def _cells(self, item: Reservation, now: float) -> tuple[Cell, ...]:
        # Cells, not Rich Texts: a thousand rows are 5,000 of them (table_cell.py says why).
        style = "bold red" if item.conflicts else ""
        path = Cell(("⚠ " if item.conflicts else "") + one_line(item.path_pattern, 120), style)
        lane = Cell(str(item.lane) if item.lane is not None else "—", style)
        return (path, lane, time_left(item, now), Cell("yes" if item.exclusive else "no", style),
                Cell(one_line(item.agent, 40), style or "dim"))

    def _update_changed_rows(self, shown: tuple[Reservation, ...], ordered: tuple[Reservation, ...]) -> None:
        now = self.clock()
        in_view = self._rows_in_view()
        for position, (old, new) in enumerate(zip(shown, ordered)):
            if old != new:
                if position in in_view:
                    self._out_of_view.pop(position, None)
                    self._write_row(position, new, now)
                else:
                    self._out_of_view[position] = new

    def _write_row(self, position: int, item: Reservation, now: float) -> None:
        """The row's cells that differ from the ones shown (an unchanged one is not written:
        each write redraws the table)."""
        for (key, _, _), cell in zip(COLUMNS, self._cells(item, now)):
            if self.get_cell(str(position), key) == cell:
                continue
            # Widening is costly (every row is measured again): only when it must.
            wider = cell.cell_len > self.columns[key].content_width  # type: ignore[index]
            self.update_cell(str(position), key, cell, update_width=wider)

    def _rows_in_view(self) -> range:
        """Positions of the rows on screen, with one row to spare on each side."""
        first = max(0, int(self.scroll_y) - 1)
        return range(first, min(len(self.reservations), first + self.size.height + 2))

    def _write_rows_come_into_view(self) -> None:
        if not self._out_of_view:
            return
        now = self.clock()
        for position in self._rows_in_view():
            item = self._out_of_view.pop(position, None)
            if item is not None:
                self._write_row(position, item, now)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._write_rows_come_into_view()

    def on_resize(self) -> None:
        self._write_rows_come_into_view()

    def _tick(self) -> None:
        # Only the rows on screen count down; a row scrolled into view is updated within a second.
        self._write_rows_come_into_view()
        now = self.clock()
        for position in self._rows_in_view():
            item = self.reservations[position]
            if item.expires_at is not None:
                left = time_left(item, now)
                if self.get_cell(str(position), "left") != left:  # "expired" stays "expired"
                    self.update_cell(str(position), "left", left)
