"""A lane's diff view redraws only the rows a new diff changed, and its scrollbar only when the
thumb moved: what it shows is still, row for row, what a full redraw shows."""

from __future__ import annotations

from itertools import product

from textual.scrollbar import ScrollBarRender

from orch_tui.orchestration import events as ev
from orch_tui.widgets.diff_view import DiffView, thumb_eighths
from orch_tui.widgets.lane import LanePanel
from tests.support.synthetic_graphs import synthetic_graph
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.ui_helpers import make_app, screen_text, wait_for


def _drawn(size: int, virtual: int, window: int, position: float) -> list[tuple[str, object]]:
    bar = ScrollBarRender.render_bar(size, virtual, window, position)
    return [(segment.text, segment.style) for segment in bar.segments]


def test_a_scrollbar_with_the_same_thumb_is_drawn_the_same() -> None:
    """`thumb_eighths` is Textual's arithmetic: bars it calls alike, Textual draws alike (so
    skipping the redraw of one never leaves a wrong bar on screen)."""
    for size, window in product(range(3, 18), range(0, 20)):
        drawings: dict[tuple[int, int] | None, list[tuple[str, object]]] = {}
        for virtual, position in product(range(0, 70), (0, 1, 2.5, 7, 30)):
            if window < virtual and position > virtual - window:
                continue  # past the end: a scroll view never sits there
            thumb = thumb_eighths(size, virtual, window, position)
            drawn = _drawn(size, virtual, window if window < virtual else 0, position)
            assert drawings.setdefault(thumb, drawn) == drawn, (size, virtual, window, position)


def _diff(files: list[tuple[str, int]]) -> str:
    parts = []
    for path, lines in files:
        parts.append(f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n")
        parts.append("".join(f"+{path} line {number}{' and more' * (number % 4)}\n" for number in range(lines)))
    return "".join(parts)


_CHANGES = [
    [("a.py", 3), ("b.py", 30)],
    [("a.py", 3), ("b.py", 31)],   # grows below the rows in view
    [("a.py", 4), ("b.py", 31)],   # grows in view: every row below moves
    [("a.py", 4), ("b.py", 31), ("c.py", 2)],
    [("b.py", 31), ("c.py", 2)],   # a file leaves the diff
    [("a.py", 1)],                 # shorter than the view
    [],                            # no changes: the placeholder
    [("a.py", 40)],
]


async def test_each_redraw_shows_what_a_full_redraw_shows() -> None:
    graph = synthetic_graph(10, 5)
    engine = ScenarioEngine(graph, batch_size=1)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        task_id = next(iter(graph.tasks))
        engine.emit(ev.LaneStarted(1, task_id, "t", f"orch/{task_id}", "/tmp/lane-1"))
        await pilot.pause()
        view = app.screen.query(LanePanel).first().query_one(DiffView)
        for scrolled in ((0, 0), (0, 5), (12, 0)):  # (right, down)
            for files in _CHANGES:
                diff = _diff(files)
                engine.emit(ev.LaneDiff(1, task_id, diff, tuple(path for path, _ in files)))
                await wait_for(pilot, lambda diff=diff: view._shown == (diff, False), "the diff drawn")
                right, down = scrolled
                view.scroll_to(x=min(right, view.max_scroll_x), y=min(down, view.max_scroll_y), animate=False)
                await pilot.pause()
                shown = screen_text(app)
                view.refresh()
                view.vertical_scrollbar.refresh()
                await pilot.pause()
                assert shown == screen_text(app), f"stale rows after {files} (scrolled {scrolled})"
