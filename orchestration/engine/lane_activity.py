"""When a lane's agent last said anything, and the watch that says when it went silent."""

from __future__ import annotations

import asyncio
import time

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.events import Event, EventSink


class LaneActivity:
    """When the lane's agent last said anything, and what it last did (for stall reports)."""

    def __init__(self, lane: int, task_id: str, emit: EventSink) -> None:
        self.lane = lane
        self.task_id = task_id
        self._emit = emit
        self.last_event = time.monotonic()
        self.last_action = ""
        self.stalled = False
        self.asks: set[str] = set()
        """Requests the agent waits on a person for: that silence is not a stall."""

    def sink(self, event: Event) -> None:
        """The sink the agent's runner emits into."""
        silent = time.monotonic() - self.last_event
        self.last_event = time.monotonic()
        if isinstance(event, ev.LaneNeedsInput):
            self.asks.add(event.request.id)
        elif isinstance(event, ev.LaneInputAnswered):
            self.asks.discard(event.request_id)
        if isinstance(event, ev.LaneProgress) and event.action:
            self.last_action = event.action
        if self.stalled:
            self.stalled = False
            if not isinstance(event, ev.LaneProgress):  # the lane view leaves "stalled" on progress
                self._emit(ev.LaneProgress(self.lane, self.task_id, "busy", f"active again after {silent:.0f} s"))
        self._emit(event)


async def watch_for_stall(activity: LaneActivity, limit: float, emit: EventSink) -> None:
    """Say once when the agent has been silent for `limit` seconds (it keeps running)."""
    while True:
        if activity.asks:  # waiting for a person (the lane says so), not stalled
            activity.last_event = time.monotonic()
        silent = time.monotonic() - activity.last_event
        if silent >= limit and not activity.stalled:
            activity.stalled = True
            emit(ev.LaneStalled(activity.lane, activity.task_id, round(silent, 1), activity.last_action))
        await asyncio.sleep(max(0.05, min(limit / 4, 5.0, limit - silent if silent < limit else limit / 4)))
