"""What the engine and its helpers share, so every change is journaled and announced one way.

The engine (core.py), its lane supervisor (lanes.py) and its merge coordinator (merges.py)
each hold the one `EngineContext`: the parts, the journal's state, the snapshot every event
is folded into, and the tasks set aside for the next proposal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot, EngineState
from orch_tui.orchestration.engine.choices import TaskChoices
from orch_tui.orchestration.engine.journal import JournalState
from orch_tui.orchestration.engine.journal_writes import JournalWrites
from orch_tui.orchestration.engine.parts import EngineParts
from orch_tui.orchestration.engine.snapshot_reducer import apply_event
from orch_tui.orchestration.engine.steps import REOPEN_TASK, Step, StepFailed, describe_cause, run_step
from orch_tui.orchestration.events import Event, EventSink
from orch_tui.orchestration.model import TaskGraph


class EngineContext:
    def __init__(self, parts: EngineParts) -> None:
        self.parts = parts
        self.view = EngineSnapshot(batch_size=parts.config.batch_size)
        """What front ends see: every event folded in (`snapshot_reducer.apply_event`)."""
        self.journal_state = JournalState(batch_size=parts.config.batch_size)
        """What a restart needs: `save_journal` takes it; awaiting that is the write-ahead point."""
        self.choices = TaskChoices()
        self.wake = asyncio.Event()
        """Set when a waiting lane may start now: a mode change, a lane's end."""
        self.emitted = asyncio.Event()
        """Set by every event: `Engine.wait_until_settled` looks again at once."""
        self.stopping = False
        """close() was called: lanes cancelled now are interrupted (resumed by the next start),
        not aborted by a person."""
        self._sinks: list[EventSink] = []
        self._journal_writes = JournalWrites(parts.journal, self._journal_not_saved)

    @property
    def state(self) -> EngineState:
        return self.view.state

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        if isinstance(event, ev.LaneProgress) and (event.tokens is not None or event.cost is not None):
            self._note_usage(event)
        apply_event(self.view, event)
        for sink in list(self._sinks):
            sink(event)
        self.emitted.set()

    def _note_usage(self, event: ev.LaneProgress) -> None:
        """Tokens and cost go into the lane's journal record (saved with its next change)."""
        record = self.journal_state.lane(event.lane)
        if record is not None and record.task_id == event.task_id:
            record.tokens = event.tokens or record.tokens
            record.cost = event.cost or record.cost

    def log(self, text: str, level: str = "info") -> None:
        self.emit(ev.LogLine(text, level))

    async def set_state(self, state: EngineState, detail: str = "") -> None:
        """Journaled, then announced."""
        self.journal_state.state = state.value
        await self.save_journal()
        self.emit(ev.EngineStateChanged(state, detail))

    def save_journal(self) -> Awaitable[None]:
        """Take the journal's state now; await the result before a step the journal must
        precede (recovery.py's order). Written off the event loop (journal_writes.py)."""
        return self._journal_writes.save(self.journal_state)

    def _journal_not_saved(self, error: Exception) -> None:
        # A full disk must not end lanes unseen; git still holds the work.
        self.emit(ev.ErrorRaised(f"saving the journal failed: {describe_cause(error)}",
                                 "free disk space: until the journal is saved, a crash loses track "
                                 "of the batch (the work stays on its branches)"))

    async def say_if_fails(self, where: str, step: Step, work: Awaitable[object], *,
                           timeout: float | None = None, level: str = "error") -> None:
        """Run a step whose failure must not stop what follows; say it, prefixed by `where`."""
        try:
            await run_step(step, work, timeout=timeout)
        except StepFailed as failure:
            if level == "error":
                self.emit(ev.ErrorRaised(f"{where}: {failure}"))
            else:
                self.log(f"{where}: {failure}", level)

    async def reopen_task(self, where: str, task_id: str, note: str) -> None:
        """Give the task back to the tracker (open, nobody's), saying why in its notes."""
        await self.say_if_fails(where, REOPEN_TASK, asyncio.to_thread(
            self.parts.store.update, task_id, status="open", assignee="", note=note))

    def hold_back(self, task_id: str, what: str) -> None:
        """Without this, a task that fails at once would be proposed (and fail) forever."""
        self.choices.hold_back(task_id, what)
        self.log(f"{task_id} {what}; it is not proposed again until you retry it", "warning")

    def retry(self, task_id: str) -> None:
        """Put a failed task first in the next proposal."""
        self.choices.retry(task_id)
        self.log(f"{task_id} will be proposed first in the next batch")

    async def reload_graph(self) -> TaskGraph:
        graph = await asyncio.to_thread(self.parts.store.load)
        self.emit(ev.GraphReloaded(graph))
        for problem in graph.problems:
            self.log(str(problem), "warning")
        return graph

    async def target_commit(self) -> str:
        return await asyncio.to_thread(self.parts.merges.target_commit)
