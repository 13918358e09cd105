"""The batch the engine runs now: its tasks, their lanes, and the lanes' merges as they finish."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from orch_tui.orchestration.engine.journal import MergeRecord
from orch_tui.orchestration.model import Task


@dataclass
class Batch:
    tasks: list[Task]
    base: str
    lanes: list[int] = field(default_factory=list)
    """The lane of each task (1, 2, ... unless resuming: a task reruns in its own lane)."""
    lane_tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    finished: asyncio.Queue[MergeRecord | None] = field(default_factory=asyncio.Queue)
    """Merges of lanes as they finish, for the merge coordinator; None ends them."""
    finishing: set[int] = field(default_factory=set)
    """Lanes past their agent, wrapping up: an abort would cut their bookkeeping short."""

    def lanes_running(self) -> bool:
        return any(not task.done() for task in self.lane_tasks.values())

    def running(self, lane: int) -> asyncio.Task[None] | None:
        """The task running `lane`, None when it is not running."""
        task = self.lane_tasks.get(lane)
        return task if task is not None and not task.done() else None
