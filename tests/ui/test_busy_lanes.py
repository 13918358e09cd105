"""Six busy lanes whose diffs change faster than the diff views redraw (ten times a second):
each lane ends on its latest diff, none is lost to the pacing."""

from __future__ import annotations

import gc

from textual.strip import Strip

from orch_tui.orchestration import events as ev
from orch_tui.widgets.diff_view import DiffView
from orch_tui.widgets.lane import LanePanel
from tests.support.synthetic_graphs import synthetic_graph
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.ui_helpers import make_app, wait_for

LANES = 6


def _diff(lane: int, version: int) -> tuple[str, tuple[str, ...]]:
    path = f"src/lane{lane}/module.py"
    return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n"
            f"-old\n+version {version} of lane {lane}\n"), (path,)


async def test_every_busy_lane_ends_on_its_latest_diff() -> None:
    graph = synthetic_graph(40, 40)
    engine = ScenarioEngine(graph, batch_size=LANES)
    app = make_app(engine)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        task_ids = list(graph.tasks)[:LANES]
        for lane, task_id in enumerate(task_ids, start=1):
            engine.emit(ev.LaneStarted(lane, task_id, graph.tasks[task_id].title, f"orch/{task_id}", f"/tmp/lane-{lane}"))
        await pilot.pause()
        for version in range(1, 31):  # far faster than ten redraws a second
            for lane, task_id in enumerate(task_ids, start=1):
                text, paths = _diff(lane, version)
                engine.emit(ev.LaneDiff(lane, task_id, text, paths))
            await pilot.pause()

        def shown(lane: int) -> list[str]:
            panel = next(p for p in app.screen.query(LanePanel) if p.lane == lane)
            return panel.query_one(DiffView).lines

        for lane in range(1, LANES + 1):
            await wait_for(pilot, lambda lane=lane: f"+version 30 of lane {lane}" in shown(lane), f"lane {lane}'s last diff")


async def test_busy_lanes_leave_no_strips_for_the_full_collections() -> None:
    """Every line a repaint draws is freed when dropped: none waits, cyclic, for a full
    collection (a full collection of thousands of them stalled busy lanes for 15-25 ms)."""
    graph = synthetic_graph(40, 40)
    engine = ScenarioEngine(graph, batch_size=LANES)
    app = make_app(engine)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        task_ids = list(graph.tasks)[:LANES]
        for lane, task_id in enumerate(task_ids, start=1):
            engine.emit(ev.LaneStarted(lane, task_id, graph.tasks[task_id].title, f"orch/{task_id}", f"/tmp/lane-{lane}"))
        await pilot.pause()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage, to count
        try:
            for version in range(1, 16):
                for lane, task_id in enumerate(task_ids, start=1):
                    engine.emit(ev.LaneDiff(lane, task_id, *_diff(lane, version)))
                await pilot.pause(0.11)  # past the diff views' pacing: every frame redraws
            gc.collect()
            cyclic_strips = sum(1 for found in gc.garbage if isinstance(found, Strip))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert cyclic_strips == 0, f"{cyclic_strips} strips were freed only by the collector"
