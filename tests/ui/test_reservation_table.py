"""The reservation table keeps up with a ledger read every few seconds: rows that changed are
redrawn, rows that came or went rebuild the table, and the count in the border is right."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.model import Reservation
from orch_tui.widgets.reservations import BOUNDED_CACHES, RENDER_CACHE_ENTRIES, ReservationTable
from tests.ui.scenario_engine import FROZEN_NOW, ScenarioEngine
from tests.ui.ui_helpers import make_app, screen_text, settle


def _ledger(count: int) -> tuple[Reservation, ...]:
    expires = datetime.fromtimestamp(FROZEN_NOW, timezone.utc) + timedelta(minutes=10)
    return tuple(Reservation(f"src/file_{n}.py", f"lane-{n % 3 + 1}", n % 3 + 1, True, expires)
                 for n in range(count))


async def test_changed_rows_are_redrawn_and_new_rows_rebuild_the_table(engine: ScenarioEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        ledger = _ledger(5)
        engine.emit(ev.ReservationsChanged(ledger))
        await settle(pilot)
        table = app.screen.query_one(ReservationTable)
        assert table.row_count == 5 and table.border_subtitle == "5 held"

        renewed = list(ledger)
        renewed[2] = replace(ledger[2], path_pattern="src/renamed.py", conflicts=True)
        engine.emit(ev.ReservationsChanged(tuple(renewed)))
        await settle(pilot)
        text = screen_text(app)
        assert "src/renamed.py" in text and "src/file_2.py" not in text
        assert table.row_count == 5

        engine.emit(ev.ReservationsChanged(_ledger(7)))
        await settle(pilot)
        assert table.row_count == 7 and table.border_subtitle == "7 held"
        assert "src/file_6.py" in screen_text(app)

        engine.emit(ev.ReservationsChanged(()))
        await settle(pilot)
        assert table.row_count == 0 and table.border_subtitle == "0 held"


async def test_a_busy_ledger_keeps_the_tables_render_caches_small(engine: ScenarioEngine) -> None:
    """Each update makes every cached render stale; the table keeps a few screens of them,
    not DataTable's ten thousand (memory, and the garbage collector's pauses)."""
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        ledger = list(_ledger(60))
        table = app.screen.query_one(ReservationTable)
        for round_number in range(40):
            ledger[round_number % 60] = replace(ledger[round_number % 60], agent=f"renewed-{round_number}")
            engine.emit(ev.ReservationsChanged(tuple(ledger)))
            await settle(pilot)
        assert table.row_count == 60
        for name in BOUNDED_CACHES:
            cache = getattr(table, name)  # a textual upgrade that renames one fails here
            assert cache.maxsize <= RENDER_CACHE_ENTRIES and len(cache) <= RENDER_CACHE_ENTRIES


async def test_a_row_renewed_out_of_view_shows_its_new_values_once_scrolled_to(engine: ScenarioEngine) -> None:
    """Rows out of view are written when they come into view (each write redraws the table);
    the user scrolling down sees the ledger as it is now, never an old row."""
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        ledger = list(_ledger(60))
        engine.emit(ev.ReservationsChanged(tuple(ledger)))
        await settle(pilot)
        table = app.screen.query_one(ReservationTable)
        assert table.size.height < 50  # the last rows are out of view
        ledger[56] = replace(ledger[56], path_pattern="src/renewed_far.py")  # lane 3: near the end
        ledger[3] = replace(ledger[3], path_pattern="src/renewed_near.py")  # lane 1: at the top
        engine.emit(ev.ReservationsChanged(tuple(ledger)))
        await settle(pilot)
        assert "src/renewed_near.py" in screen_text(app)

        table.focus()
        await pilot.press("ctrl+end")
        await settle(pilot)
        text = screen_text(app)
        assert "src/renewed_far.py" in text and "src/file_56.py" not in text and "src/file_59.py" in text
        await pilot.press("ctrl+home")
        await settle(pilot)
        assert "src/renewed_near.py" in screen_text(app)
