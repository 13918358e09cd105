"""The batch the engine runs now: its tasks, their lanes, and the lanes' merges as they finish."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from orch_tui.orchestration.engine.journal import MergeRecord
from orch_tui.orchestration.model import Task


class LaneGroup:
    """Lanes in a step that others wait for: a set whose emptiness can be awaited."""

    def __init__(self) -> None:
        self._lanes: set[int] = set()
        self._changed = asyncio.Event()

    def __contains__(self, lane: object) -> bool:
        return lane in self._lanes

    def add(self, lane: int) -> None:
        self._lanes.add(lane)

    def discard(self, lane: int) -> None:
        self._lanes.discard(lane)
        self._changed.set()

    async def empty(self) -> None:
        """Returns once no lane is in the group."""
        while self._lanes:
            self._changed.clear()
            await self._changed.wait()


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
    starting: LaneGroup = field(default_factory=LaneGroup)
    """Lanes started but not working yet (worktree, claim, tracker): the server's
    confirmations of the others' claims wait for them, so that bookkeeping with Agent Mail
    does not take the CPU from lanes still starting."""
    handing_over: LaneGroup = field(default_factory=LaneGroup)
    """Lanes past their agent whose merge (or the news that there is none) is not in
    `finished` yet. Lanes that end together merge as one series: the merge coordinator
    waits for these before it merges what it has."""

    def wrapping_up(self, lane: int) -> None:
        """`lane`'s agent is done: it commits its work and then hands its merge over."""
        self.finishing.add(lane)
        self.handing_over.add(lane)

    def hand_over(self, lane: int, merge: MergeRecord | None) -> None:
        """`lane`'s merge (None: it has none) goes to the merge coordinator (idempotent)."""
        if merge is not None:
            self.finished.put_nowait(merge)
        self.handing_over.discard(lane)

    def lanes_running(self) -> bool:
        return any(not task.done() for task in self.lane_tasks.values())

    def running(self, lane: int) -> asyncio.Task[None] | None:
        """The task running `lane`, None when it is not running."""
        task = self.lane_tasks.get(lane)
        return task if task is not None and not task.done() else None
