"""The engine: the asyncio state machine and the one place that decides.

    idle -> proposed -> (approve) -> running -> merging -> idle
                  \\-> (reject) -> idle          \\-> waiting_for_person (conflict or failed check)

Nothing is dispatched before `approve()`. Each transition is written to the journal first,
so a restarted engine knows what was in flight (see `_reconcile`). Front ends subscribe to
typed events and send the commands of `EngineCommands`; blocking work (git, the Beads file)
runs in threads so the event loop never stalls.

The engine decides (state, proposals, the batch, recovery at start); it hands a lane's life
to its `LaneSupervisor` (lanes.py), merges to its `MergeCoordinator` (merges.py), the
questions a merge asks a person to its `PersonHandOff` (person.py) and work beside the
batches to `BackgroundWork` (supervision.py). All of them share one `EngineContext`.
"""

from __future__ import annotations

import asyncio

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.usage import batch_usage_line
from orch_tui.orchestration.commands import EngineSnapshot, EngineState, HunkChoice, LaneView
from orch_tui.orchestration.engine.batch import Batch
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.lanes import LaneSupervisor
from orch_tui.orchestration.engine.merges import MergeCoordinator
from orch_tui.orchestration.engine.parts import EngineParts
from orch_tui.orchestration.engine.person import PersonHandOff
from orch_tui.orchestration.engine.recovery import live_tasks, repair_at_start, resume_plan, settle_orphans
from orch_tui.orchestration.engine.steps import PREPARE_MERGE_WORKTREE, START_AGENT, describe_cause, run_step
from orch_tui.orchestration.engine.supervision import BackgroundWork
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import Event, EventSink
from orch_tui.orchestration.infra.waiting import wait_at_most
from orch_tui.orchestration.lane_check import CheckAnswer
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.transcript_entry import TranscriptEntry
from orch_tui.orchestration.lanes.worktrees import branch_tip
from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.planning.batch import BatchProposal, propose_batch
from orch_tui.orchestration.settings.config import check_batch_size
from orch_tui.orchestration.tracker.task_refs import task_branch
from orch_tui.orchestration.states import LaneState

__all__ = ["Engine", "EngineParts"]


class Engine:
    """The commands front ends call (`commands.EngineCommands`) and the decisions behind them."""

    def __init__(self, parts: EngineParts) -> None:
        self.parts = parts
        self._ctx = EngineContext(parts)
        self._lanes = LaneSupervisor(self._ctx, parts.environments or LaneEnvironments(parts.repo, parts.config))
        self._person = PersonHandOff(self._ctx)
        self._merges = MergeCoordinator(self._ctx, self._person)
        self._background = BackgroundWork(self._ctx)
        self._proposal: BatchProposal | None = None
        self._batch: Batch | None = None
        self._batch_runner: asyncio.Task[None] | None = None
        self._pause_requested = False
        self._started = False

    # ----- subscription and state -------------------------------------------------------
    def subscribe(self, sink: EventSink) -> None:
        self._ctx.subscribe(sink)

    def snapshot(self) -> EngineSnapshot:
        return self._ctx.view

    @property
    def state(self) -> EngineState:
        return self._ctx.state

    def forward(self, event: Event) -> None:
        """Entry for events from parts that emit on their own (the reservation manager)."""
        self._ctx.emit(event)
        if isinstance(event, ev.ModeChanged):
            self._ctx.wake.set()

    # ----- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Load the graph, set up the pool and the agents, reconcile with the journal."""
        if self.parts.lock is not None:
            self.parts.lock.acquire()
        self._started = True  # from here on this engine owns the journal
        self._ctx.view.lanes = [LaneView(lane) for lane in range(1, self.parts.config.batch_size + 1)]
        await self._ctx.reload_graph()
        for line in await asyncio.to_thread(repair_at_start, self.parts):  # before git is used
            self._ctx.log(line, "warning")
        for problem in await asyncio.to_thread(self.parts.pool.recover):
            named = problem.message.startswith(f"lane {problem.lane_index} ")
            self._ctx.log(problem.message if named else f"lane {problem.lane_index}: {problem.message}", "warning")
        await asyncio.to_thread(self.parts.pool.ensure)
        # The merge worktree too: the first merge of the session need not check out the repository.
        await self._ctx.say_if_fails("merge queue", PREPARE_MERGE_WORKTREE,
                                     asyncio.to_thread(self.parts.merges.prepare), level="warning")
        await run_step(START_AGENT, self.parts.runner.start())
        await self._background.start_reservations(on_monitor_death=self._lanes.claims.monitor_stopped)
        await self._reconcile()

    async def close(self) -> None:
        """Stop everything: agents (and their process groups) stopped, journal saved.

        Lanes still running are interrupted, not failed: the journal keeps them as running,
        so the next start runs them again on their branches (see recovery.py).
        """
        self._ctx.stopping = True
        batch = self._batch
        lanes = [task for task in batch.lane_tasks.values() if not task.done()] if batch else []
        tasks = [*lanes, *self._background.tasks, *([self._batch_runner] if self._batch_runner else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        try:
            await self.parts.runner.close()
            if self.parts.reservations is not None:
                await self.parts.reservations.aclose()
        finally:
            if self._started:  # an engine that never got the lock must not touch another's journal
                await self._ctx.save_journal()
            if self.parts.lock is not None:
                self.parts.lock.release()

    def interrupted_lanes(self) -> list[int]:
        """Lanes a `close()` interrupted (the next start resumes them)."""
        return [record.lane for record in self._ctx.journal_state.lanes if record.status == LaneState.RUNNING]

    # ----- proposal and approval ----------------------------------------------------------
    async def propose(self) -> None:
        if self.state not in (EngineState.IDLE, EngineState.PROPOSED, EngineState.PAUSED):
            raise OrchError(f"cannot propose a batch while {self.state.value}")
        graph = await self._ctx.reload_graph()
        choices = self._ctx.choices
        proposal = propose_batch(graph, self._ctx.view.batch_size, exclude=choices.dropped,
                                 pinned=choices.pinned, held_back=choices.held_back)
        proposal.predicted_conflicts = await asyncio.to_thread(self._predict_kept_work, proposal)
        self._proposal = proposal
        self._ctx.emit(ev.BatchProposed(proposal))
        await self._ctx.set_state(EngineState.PROPOSED, f"{len(proposal.picked)} task(s) proposed")

    def _predict_kept_work(self, proposal: BatchProposal) -> dict[str, tuple[str, ...]]:
        """For tasks retried on work kept from an earlier attempt: would it merge as it is?
        (A task starting afresh has nothing to predict until its agent has worked.)"""
        try:  # (a task id unfit for a branch name fails later, with its own message)
            kept = [task_branch(choice.task_id) for choice in proposal.picked
                    if branch_tip(self.parts.repo, task_branch(choice.task_id))]
            predictions = self.parts.merges.predict(kept) if kept else []
        except OrchError as error:
            self._ctx.log(f"could not predict merges: {error}", "warning")
            return {}
        return {prediction.task_id: tuple(prediction.conflicted_files)
                for prediction in predictions if prediction.task_id}

    def _require_proposal(self) -> BatchProposal:
        if self.state is not EngineState.PROPOSED or self._proposal is None:
            raise OrchError("no batch is proposed: propose one first")
        return self._proposal

    async def drop_task(self, task_id: str) -> None:
        self._require_proposal()
        self._ctx.choices.drop(task_id)
        await self.propose()

    async def swap_task(self, task_id: str) -> None:
        """Replace `task_id` by the next ready task, keeping the rest of the batch."""
        proposal = self._require_proposal()
        self._ctx.choices.swap(task_id, [choice.task_id for choice in proposal.picked])
        await self.propose()

    async def set_batch_size(self, size: int) -> None:
        check_batch_size(size, origin="batch size")
        self._ctx.journal_state.batch_size = size
        self._ctx.emit(ev.BatchSizeChanged(size))
        if self.state is EngineState.PROPOSED:
            await self.propose()

    async def reject(self, reason: str = "") -> None:
        self._require_proposal()
        self._ctx.choices.forget_proposal()
        self._ctx.emit(ev.BatchRejected(reason))
        await self._ctx.set_state(EngineState.IDLE, "batch rejected")

    async def approve(self) -> None:
        proposal = self._require_proposal()
        if not proposal.picked:
            raise OrchError("the proposed batch is empty: nothing is ready to run")
        graph = self._ctx.view.graph or TaskGraph()
        tasks = [graph.tasks[choice.task_id] for choice in proposal.picked]
        # The batch's target is fixed now: a checkout switched mid-batch does not redirect it.
        base = await asyncio.to_thread(self._ctx.parts.merges.pin_target)
        journal = self._ctx.journal_state
        journal.batch, journal.lanes, journal.merges = [task.id for task in tasks], [], []
        self._ctx.choices.forget_proposal()
        self._ctx.emit(ev.BatchApproved(tuple(journal.batch)))
        await self._ctx.set_state(EngineState.RUNNING, f"{len(tasks)} lane(s)")
        self._run(Batch(tasks, base))

    async def pause(self) -> None:
        self._pause_requested = True
        self._ctx.log("will pause after the current batch")

    async def retry_task(self, task_id: str) -> None:
        """Put a failed task first in the next proposal."""
        self._ctx.retry(task_id)

    # ----- the batch ----------------------------------------------------------------------
    def _run(self, batch: Batch, *, resume_merges: bool = False) -> None:
        self._batch = batch
        self._batch_runner = asyncio.create_task(self._run_batch(batch, resume_merges=resume_merges))

    async def _run_batch(self, batch: Batch, *, resume_merges: bool = False) -> None:
        try:
            if not resume_merges:
                await self._run_lanes(batch)
            await self._merges.merge_finished()
            await self._finish_batch()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the last resort: every lane and merge step has its own
            self._ctx.emit(ev.ErrorRaised(f"batch stopped: {describe_cause(error)}",
                                          "restart orch-tui (or run again): the journal keeps the batch"))
            await self._ctx.set_state(EngineState.WAITING_FOR_PERSON, f"error: {describe_cause(error)}")

    async def _run_lanes(self, batch: Batch) -> None:
        """Run the lanes, merging each finished one that merges cleanly while the rest work."""
        merger = asyncio.create_task(self._merges.merge_while_running(batch))
        try:
            await self._lanes.dispatch_all(batch)
        except BaseException:
            merger.cancel()
            raise
        finally:
            batch.finished.put_nowait(None)
        await merger

    async def _finish_batch(self) -> None:
        journal = self._ctx.journal_state
        usage = batch_usage_line(journal.lanes)
        if usage:
            self._ctx.log(usage)
        journal.batches_done += 1
        journal.batch, journal.lanes, journal.merges = [], [], []
        self._batch = None
        await self._ctx.reload_graph()
        paused, self._pause_requested = self._pause_requested, False
        await self._ctx.set_state(EngineState.PAUSED if paused else EngineState.IDLE, "batch finished")

    # ----- a person's commands to lanes and merges ------------------------------------------
    async def abort_lane(self, lane: int) -> None:
        await self._lanes.abort(self._batch, lane)

    async def answer_input(self, lane: int, request_id: str, answer: ev.InputAnswer,
                           by: str = "a person") -> None:
        """Answer what the agent of `lane` asked (a permission or a question)."""
        await self._lanes.answer_input(self._batch, lane, request_id, answer, by)

    def follow_up_refusal(self, lane: int) -> str | None:
        """Why a follow-up message cannot reach lane `lane`'s agent now (None: it can)."""
        return self._lanes.follow_up_refusal(self._batch, lane)

    async def follow_up(self, lane: int, text: str) -> None:
        """Send the running agent of `lane` another message (the person's follow-up)."""
        await self._lanes.follow_up(self._batch, lane, text)

    async def lane_transcript(self, lane: int) -> tuple[TranscriptEntry, ...]:
        """What the agent of `lane` said and did (orchestration/agents/transcript.py entries)."""
        return await self._lanes.transcript(lane)

    async def resolve_hunk(self, path: str, hunk: int, choice: HunkChoice) -> None:
        await self._person.resolve_hunk(path, hunk, choice)

    async def resolve_file(self, path: str, choice: HunkChoice) -> None:
        await self._person.resolve_file(path, choice)

    async def write_resolution(self, path: str, content: str) -> None:
        await self._person.write_resolution(path, content)

    async def continue_merge(self) -> None:
        """Commit the resolution and move on; raises (queue still waiting) while hunks remain."""
        await self._person.continue_merge()

    async def abort_merge(self) -> None:
        await self._person.abort_merge()

    async def answer_check(self, task_id: str, answer: CheckAnswer) -> None:
        """A person's answer to the merge held by a failed lane check."""
        await self._person.answer_check(task_id, answer)

    # ----- recovery ----------------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Resume what the journal says was in flight when the last orchestrator stopped."""
        saved = self.parts.journal.load()
        if saved is None or saved.state in (EngineState.IDLE.value, EngineState.PROPOSED.value,
                                            EngineState.PAUSED.value):
            self._ctx.journal_state.batches_done = saved.batches_done if saved else 0
            await self._settle_orphans(set())
            await self._ctx.set_state(EngineState.IDLE, "ready")
            return
        self._ctx.journal_state = saved
        saved.batch_size = self._ctx.view.batch_size
        lane_of = {record.task_id: record.lane for record in saved.lanes}
        plan = await asyncio.to_thread(resume_plan, self.parts, saved)
        for line in plan.messages:
            self._ctx.log(line, "warning")
        await self._settle_orphans(live_tasks(plan, saved))
        graph = self._ctx.view.graph or TaskGraph()
        rerun = [task_id for task_id in plan.rerun if task_id in graph.tasks]
        base = saved.lanes[0].base if saved.lanes else await self._ctx.target_commit()
        batch = Batch([graph.tasks[task_id] for task_id in rerun], base, lanes=[lane_of[task_id] for task_id in rerun])
        await self._ctx.set_state(EngineState.RUNNING, "resuming after a restart")
        self._run(batch, resume_merges=not plan.rerun)

    async def _settle_orphans(self, live: set[str]) -> None:
        """Nothing stays in_progress without a lane working on it (recovery.settle_orphans)."""
        graph = await asyncio.to_thread(self.parts.store.load)
        lines = await asyncio.to_thread(settle_orphans, self.parts, graph, live)
        for line in lines:
            self._ctx.log(line, "warning")
        if lines:
            await self._ctx.reload_graph()

    # ----- waiting (for headless use and tests) --------------------------------------------
    async def wait_until_settled(self) -> EngineState:
        """Wait until the engine is idle, paused or waiting for a person."""
        settled = {EngineState.IDLE, EngineState.PAUSED, EngineState.WAITING_FOR_PERSON}
        while True:
            self._ctx.emitted.clear()
            # A person may be asked about a merge while other lanes still work.
            if self.state in settled and not (self._batch is not None and self._batch.lanes_running()):
                return self.state
            # Every state change is an event; a lane task ends just after its last one.
            await wait_at_most(self._ctx.emitted.wait(), 0.05)
