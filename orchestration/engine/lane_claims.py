"""Keeping lanes apart: whether a lane may start, its claim on its task's files, the server's
confirmation, and giving the files back. Without a reservation backend (or once its monitor
died) nothing keeps lanes apart, so they go one at a time."""

from __future__ import annotations

import asyncio

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.steps import CLAIM_FILES, CONFIRM_CLAIM, RELEASE_FILES, run_step
from orch_tui.orchestration.infra.waiting import wait_at_most
from orch_tui.orchestration.model import Task
from orch_tui.orchestration.states import LaneState

SERVER_STEP_TIMEOUT_SECONDS = 120.0
"""A safety net for Agent Mail calls (the client has its own, shorter timeouts)."""


class LaneClaims:
    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self.monitor_failed = False
        """The reservation monitor died: nothing renews reservations, so lanes go one at a time."""

    def monitor_stopped(self) -> None:
        self.monitor_failed = True

    def can_start(self, running: int) -> bool:
        backend = self._ctx.parts.reservations
        if backend is None or self.monitor_failed:
            return running == 0
        return backend.can_start_lane(running)

    def why_not_started(self, running: tuple[int, ...]) -> str:
        backend = self._ctx.parts.reservations
        reason = ("the reservation monitor stopped" if self.monitor_failed else
                  backend.mode_reason if backend is not None else "Agent Mail is not configured")
        return f"sequential mode ({reason}): starts when lane(s) {', '.join(map(str, running))} finish"

    def say_waiting(self, said: dict[int, str], lane: int, task_id: str, reason: str) -> None:
        """A waiting lane says why once, and again only when the reason changes."""
        if said.get(lane) != reason:
            said[lane] = reason
            self._ctx.emit(ev.LaneProgress(lane, task_id, LaneState.WAITING, reason))

    async def wait_for_change(self, running: list[asyncio.Task[None]], timeout: float = 1.0) -> None:
        """Until a lane ends, something wakes the engine (a mode change, a lane's release) or
        `timeout` passes; leaves nothing behind."""
        self._ctx.wake.clear()
        woken = asyncio.ensure_future(self._ctx.wake.wait())
        try:
            await asyncio.wait([woken, *running], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def claim(self, lane: int, task: Task) -> str | None:
        """Claim the task's files (the CLAIM_FILES step); a reason when someone else holds them."""
        return await run_step(CLAIM_FILES, self._claim(lane, task))

    async def _claim(self, lane: int, task: Task) -> str | None:
        """A refusal caused only by our own lanes (sequential mode, or a running lane's
        patterns) means "not yet": the lane waits its turn instead of failing, and says so once."""
        backend = self._ctx.parts.reservations
        if backend is None:
            return None
        said: dict[int, str] = {}
        while True:
            outcome = await backend.claim(lane, task.id, task.declared_files)
            if outcome.acquired:
                return None
            if any(holder.lane is None for holder in outcome.conflicts):
                return f"files reserved by someone else: {outcome.describe()}"
            self.say_waiting(said, lane, task.id, outcome.describe())
            self._ctx.wake.clear()
            await wait_at_most(self._ctx.wake.wait(), 1.0)

    def confirming(self, lane: int) -> bool:
        """The lane's claim waits for the server's confirmation."""
        backend = self._ctx.parts.reservations
        return backend is not None and backend.confirming(lane)

    async def confirm(self, lane: int, task: Task) -> str | None:
        """The server's answer to the lane's claim (the CONFIRM_CLAIM step): a reason when it
        knows of another holder. A server that fails meanwhile means sequential mode; the
        lane, started, runs on."""
        return await run_step(CONFIRM_CLAIM, self._confirm(lane), timeout=SERVER_STEP_TIMEOUT_SECONDS)

    async def _confirm(self, lane: int) -> str | None:
        backend = self._ctx.parts.reservations
        if backend is None or not self.confirming(lane):
            return None
        outcome = await backend.confirm(lane)
        if outcome is None or outcome.acquired:
            return None
        if any(holder.lane is None for holder in outcome.conflicts):
            return f"files reserved by someone else: {outcome.describe()}"
        return f"the server sees an overlap with another lane: {outcome.describe()}"

    async def release(self, lane: int) -> None:
        """Give the lane's files back; a failure is said (they expire by themselves)."""
        backend = self._ctx.parts.reservations
        if backend is not None:
            await self._ctx.say_if_fails(f"lane {lane}", RELEASE_FILES, backend.release(lane),
                                         timeout=SERVER_STEP_TIMEOUT_SECONDS, level="warning")
