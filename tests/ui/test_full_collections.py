"""While the dashboard runs, the app (not an allocation in the middle of a repaint) starts
Python's full garbage collections, on Python's own schedule (ten middle collections, and a
quarter more old objects than the last one left); garbage cycles are still freed, and Python
collects on its own again once the app has stopped."""

from __future__ import annotations

import gc
import weakref

from orch_tui.app.full_collections import NEVER, FullCollections
from tests.ui.scenario_engine import ScenarioEngine
from tests.ui.ui_helpers import make_app, wait_for


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


async def test_full_collections_run_between_frames_and_free_cycles(engine: ScenarioEngine) -> None:
    before = gc.get_threshold()
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        cycle = _Node()
        gone = weakref.ref(cycle)
        gc.collect(1)  # survived the young generations: it is old now
        del cycle
        for _ in range(before[2]):  # as many young collections as make a full one due
            gc.collect(1)
        assert gone() is not None, "a young collection freed the old cycle: the test shows nothing"
        await wait_for(pilot, lambda: gone() is None, "the app's full collection")
    assert gc.get_threshold() == before


def test_a_full_collection_waits_for_a_quarter_more_old_objects() -> None:
    """Python's second rule: ten middle collections are not enough while few objects have
    grown old since the last full collection (it would walk the same heap to free little)."""
    middle_collections_per_full = gc.get_threshold()[2]
    full = FullCollections()
    full.take_over()
    try:
        for _ in range(middle_collections_per_full):
            gc.collect(1)
        assert full.collect_if_due(), "nothing old was counted yet: the first one is due"
        assert not full.collect_if_due()  # counts what it left: the heap of this process
        assert full.long_lived_total > 1000

        for _ in range(middle_collections_per_full):
            gc.collect(1)
        assert not full.collect_if_due(), "ten middle collections, but hardly anything grew old"

        grown_old = [[number] for number in range(full.long_lived_total // 4 + 1000)]
        gc.collect(1)
        assert full.long_lived_pending >= len(grown_old)
        assert full.collect_if_due()
    finally:
        full.give_back()
