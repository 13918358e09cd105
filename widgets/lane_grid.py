"""The lanes side by side: as many as the batch size (2..6), laid out to fill the room."""

from __future__ import annotations

import math
from typing import Callable

from textual import events
from textual.containers import Grid

from orch_tui.orchestration.commands import LaneView

from orch_tui.widgets.lane import LanePanel

MIN_LANE_WIDTH = 30


class LaneGrid(Grid):
    DEFAULT_CSS = """
    LaneGrid { grid-gutter: 0 0; height: 1fr; }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.count = 0

    def panel(self, lane: int) -> LanePanel | None:
        # The panels are the grid's children: no CSS query (a millisecond with six lanes,
        # once for every lane event).
        for panel in self.children:
            if isinstance(panel, LanePanel) and panel.lane == lane:
                return panel
        return None

    def set_lane_count(self, count: int) -> None:
        count = max(1, count)
        panels = list(self.query(LanePanel))
        for panel in panels[count:]:
            if not panel.view.task_id:
                panel.remove()
        existing = {panel.lane for panel in panels}
        self.mount_all([LanePanel(lane, self.clock) for lane in range(1, count + 1) if lane not in existing])
        self.count = max(count, max((p.lane for p in panels if p.view.task_id), default=0))
        self._layout(self.size.width)

    def show_lane(self, view: LaneView, truncated: bool = False, diff_changed: bool = True) -> None:
        if view.lane > self.count:
            self.set_lane_count(view.lane)
        panel = self.panel(view.lane)
        if panel is None:  # mounted on the next refresh
            panel = LanePanel(view.lane, self.clock)
            panel.view = view
            self.mount(panel)
            return
        panel.show_view(view, truncated, diff_changed)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        count = max(1, self.count)
        columns = max(1, min(count, width // MIN_LANE_WIDTH if width else count))
        if count == 4 and columns == 3:
            columns = 2  # 2x2 reads better than 3+1
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = math.ceil(count / columns)
