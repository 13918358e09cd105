"""The lane supervisor: a lane's life from dispatch to its one `LaneFinished`.

A lane claims its files and its worktree, marks its task in progress, prepares its
environment, runs the agent (watched for stalls and by the live diff), hands its work to the
lane check, and ends in `_finish_lane`: work committed on its branch, a merge for the merge
coordinator (`Batch.finished`) or the task reopened, its files given back. Every step goes
through `steps.run_step`, so whatever fails is named and the lane still ends, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Sequence, TypeVar

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.base import AgentRequest, AgentResult
from orch_tui.orchestration.agents.transcript import TranscriptEntry
from orch_tui.orchestration.engine.batch import Batch
from orch_tui.orchestration.engine.context import EngineContext
from orch_tui.orchestration.engine.journal import LaneRecord, MergeRecord
from orch_tui.orchestration.engine.lane_activity import LaneActivity, watch_for_stall
from orch_tui.orchestration.engine.lane_claims import LaneClaims
from orch_tui.orchestration.engine.parts import DiffWatcher
from orch_tui.orchestration.engine.steps import (ASSIGN_WORKTREE, CHECK_LANE, COMMIT_LEFTOVERS, DROP_TRACKER_EDITS,
                                                 GUARD_COPIES, LIVE_DIFF, MARK_IN_PROGRESS, PREPARE_LANE, RUN_AGENT,
                                                 StepFailed, describe_cause, run_step)
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink, LaneOutcome, Mode
from orch_tui.orchestration.infra.waiting import wait_at_most
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.model import Task
from orch_tui.orchestration.tracker.tracker_guard import drop_tracker_changes
from orch_tui.orchestration.states import LaneState

T = TypeVar("T")

CONFIRM_WAITS_FOR_STARTS_SECONDS = 1.0
"""At most this long a lane's claim waits to be confirmed while other lanes still start."""


async def _stop(task: asyncio.Future[T]) -> BaseException | None:
    """Cancel `task` and wait until it has stopped; what it raised while stopping (None when
    it raised nothing, or had already ended: its caller has read that outcome)."""
    if task.done():
        return None
    task.cancel()
    await asyncio.wait([task])
    return None if task.cancelled() else task.exception()


class LaneSupervisor:
    def __init__(self, ctx: EngineContext, environments: LaneEnvironments) -> None:
        self._ctx = ctx
        self._parts = ctx.parts
        self.environments = environments
        self.claims = LaneClaims(ctx)

    # ----- dispatch ------------------------------------------------------------------------
    async def dispatch_all(self, batch: Batch) -> None:
        """Start each lane as soon as the reservations allow; return when every lane ended."""
        pending = list(zip(batch.lanes or range(1, len(batch.tasks) + 1), batch.tasks))
        said: dict[int, str] = {}
        while pending:
            running = [task for task in batch.lane_tasks.values() if not task.done()]
            if self.claims.can_start(len(running)):
                lane, task = pending.pop(0)
                batch.starting.add(lane)
                batch.lane_tasks[lane] = asyncio.create_task(self._run_lane(lane, task, batch))
                await asyncio.sleep(0)
                continue
            lane, task = pending[0]
            busy = tuple(lane for lane, task in batch.lane_tasks.items() if not task.done())
            self.claims.say_waiting(said, lane, task.id, self.claims.why_not_started(busy))
            await self.claims.wait_for_change(running)
        # `_run_lane` ends every lane itself; anything it lets through is a bug to show.
        await asyncio.wait(batch.lane_tasks.values())
        for lane, done in batch.lane_tasks.items():
            error = None if done.cancelled() else done.exception()
            if error is not None:
                self._ctx.emit(ev.ErrorRaised(f"lane {lane} ended unexpectedly: {describe_cause(error)}"))

    # ----- one lane ------------------------------------------------------------------------
    async def _run_lane(self, lane: int, task: Task, batch: Batch) -> None:
        """Run one lane to its end, whatever fails: it ends exactly once, with a LaneFinished."""
        record = LaneRecord(lane, task.id, f"orch/{task.id}", "", batch.base)
        self._ctx.journal_state.lanes.append(record)
        try:
            await self._ctx.save_journal()  # inside: an abort while it is written still ends the lane
            outcome, reason = await self._lane_body(lane, task, batch, record)
            if self._ctx.stopping:  # the runner turned the shutdown's cancellation into a result
                raise asyncio.CancelledError
        except asyncio.CancelledError:
            if self._ctx.stopping:  # shutting down: the journal keeps the lane running for the next start
                raise
            outcome, reason = LaneOutcome.ABORTED, "aborted by a person"
        except StepFailed as failure:
            outcome, reason = LaneOutcome.FAILED, str(failure)
        except Exception as error:  # a fault in the engine itself: the lane still ends, and says so
            outcome, reason = LaneOutcome.FAILED, f"unexpected error in the engine: {describe_cause(error)}"
        batch.starting.discard(lane)  # (a lane that never got to work)
        batch.wrapping_up(lane)
        try:
            await self._finish_lane(lane, task, record, outcome, reason, batch)
        finally:  # whatever happened, the merge coordinator no longer waits for this lane
            batch.hand_over(lane, None)

    async def _lane_body(self, lane: int, task: Task, batch: Batch,
                         record: LaneRecord) -> tuple[LaneOutcome, str]:
        base = batch.base
        # The worktree and the claim on the files do not depend on each other: get both at once.
        assigning = asyncio.ensure_future(run_step(ASSIGN_WORKTREE, asyncio.to_thread(
            self._parts.pool.assign, lane, task.id, base, keep_existing=True)))
        try:
            refusal = await self.claims.claim(lane, task)
        finally:
            assigned = await assigning
        record.worktree = assigned.path
        record.branch = assigned.branch or record.branch
        record.status = LaneState.RUNNING
        await self._ctx.save_journal()
        if refusal:
            return LaneOutcome.FAILED, refusal
        await run_step(MARK_IN_PROGRESS, asyncio.to_thread(
            self._parts.store.update, task.id, status="in_progress", assignee=f"lane-{lane}"))
        self._ctx.emit(ev.LaneStarted(lane, task.id, task.title, record.branch, record.worktree))
        prepared = await run_step(PREPARE_LANE, self.environments.prepare(
            lane, task.id, Path(record.worktree), self._ctx.emit, head=assigned.head))
        if prepared.failure:
            return LaneOutcome.FAILED, prepared.failure
        watcher = self._start_watcher(lane, task, Path(record.worktree), base, starts_clean=assigned.head == base)
        activity = LaneActivity(lane, task.id, self._ctx.emit)
        request = self._agent_request(lane, task, record)
        agent = asyncio.ensure_future(self._run_agent(request, activity.sink))
        helpers = [watch_for_stall(activity, self._parts.config.agent_stall_seconds, self._ctx.emit)]
        if watcher is not None:
            helpers.append(self._watch_diff(lane, watcher.run))
        watching = [asyncio.ensure_future(helper) for helper in helpers]
        try:
            # The agent works while the server confirms the claim; a refusal stops it. The
            # confirmation waits (briefly) for the batch's other lanes to start: the server's
            # work would take the CPU from them.
            batch.starting.discard(lane)
            if self.claims.confirming(lane):
                await wait_at_most(batch.starting.empty(), CONFIRM_WAITS_FOR_STARTS_SECONDS)
            refusal = await self.claims.confirm(lane, task)
            if refusal:
                return LaneOutcome.FAILED, refusal
            result = await agent
            # The watcher stops first: its own refresh would only repeat the last one.
            await self._stop_all(lane, watching)
            if watcher is not None:  # the agent's last edit may not have been seen yet
                await self._watch_diff(lane, watcher.refresh)
        finally:
            await self._stop_all(lane, [agent, *watching])
        return await self._check_lane(lane, task, record, result)

    async def _stop_all(self, lane: int, running: Sequence[asyncio.Future[Any]]) -> None:
        for task in running:
            error = await _stop(task)
            if error is not None:
                self._ctx.log(f"lane {lane}: while stopping: {describe_cause(error)}", "warning")

    async def _run_agent(self, request: AgentRequest, sink: EventSink) -> AgentResult:
        # The runner's coroutine is made here, when the task starts, so a lane stopped before
        # that leaves no coroutine unawaited.
        return await run_step(RUN_AGENT, self._parts.runner.run(request, sink))

    def _agent_request(self, lane: int, task: Task, record: LaneRecord) -> AgentRequest:
        backend = self._parts.reservations
        parallel = backend is not None and backend.mode is Mode.PARALLEL
        config = self._parts.config
        return AgentRequest(lane=lane, task=task, worktree=Path(record.worktree),
                            base_commit=record.base, reserved=task.declared_files,
                            timeout=config.agent_timeout_seconds,
                            report_files=self._parts.watcher_factory is None,
                            mail_agent=backend.agent_name(lane) if backend is not None and parallel else "",
                            mail_project=backend.project_key if backend is not None and parallel else "",
                            max_tokens=config.max_tokens_per_task, max_cost=config.max_cost_per_task,
                            env=self.environments.env(lane),
                            follow_up=self._ctx.choices.follow_ups.pop(task.id, ""))

    def _start_watcher(self, lane: int, task: Task, worktree: Path, base: str, *,
                       starts_clean: bool) -> DiffWatcher | None:
        """The lane's live-diff watcher (None without one)."""
        if self._parts.watcher_factory is None:
            return None
        try:
            return self._parts.watcher_factory(lane, task.id, worktree, base, task.declared_files, self._ctx.emit,
                                               starts_clean=starts_clean)
        except Exception as error:  # noqa: BLE001 - a view failing must not cost the lane
            self._say_no_live_diff(lane, error)
            return None

    async def _watch_diff(self, lane: int, work: Callable[[], Awaitable[object]]) -> None:
        """The live diff is a view: when it fails the lane goes on without it, and says so."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported right here, with the step
            self._say_no_live_diff(lane, error)

    def _say_no_live_diff(self, lane: int, error: Exception) -> None:
        self._ctx.log(f"lane {lane}: {StepFailed(LIVE_DIFF, error)}; the lane goes on without a live diff",
                      "warning")

    async def _check_lane(self, lane: int, task: Task, record: LaneRecord,
                          result: AgentResult) -> tuple[LaneOutcome, str]:
        """After the agent: copied files kept out of commits, then the lane check (when it
        succeeded); the lane's ports go back either way. A failed check does not fail the
        lane: its merge waits for a person (`PersonHandOff.ask_about_check`)."""
        try:
            exposed = await run_step(GUARD_COPIES, self.environments.guard_copies(
                lane, Path(record.worktree), record.base))
            if exposed:
                return LaneOutcome.FAILED, exposed
            if result.outcome is LaneOutcome.SUCCEEDED:
                check = await run_step(CHECK_LANE, self.environments.check(
                    lane, task.id, record.branch, Path(record.worktree), self._ctx.emit))
                if check is not None:
                    record.check = check.to_dict()
                    await self._ctx.save_journal()
                    if not check.passed:
                        return result.outcome, f"{result.reason}; lane check failed: its merge waits for a person"
        finally:
            self.environments.release(lane)
        return result.outcome, result.reason

    async def _finish_lane(self, lane: int, task: Task, record: LaneRecord,
                           outcome: LaneOutcome, reason: str, batch: Batch) -> None:
        """End the lane exactly once. Each step here is named when it fails and none stops the
        rest: the work is committed on the branch (or left in the worktree, said so), the task
        merges or is reopened, LaneFinished is emitted, the files are given back."""
        commit = None
        if record.worktree:
            try:
                commit = await run_step(COMMIT_LEFTOVERS, asyncio.to_thread(
                    self._parts.pool.release, lane,
                    f"orch-tui: {task.id}: changes the agent left uncommitted ({outcome.value})"))
                await run_step(DROP_TRACKER_EDITS, asyncio.to_thread(self._drop_tracker_edits, lane, record))
            except StepFailed as failure:  # unsaved or unchecked work never merges
                reason = f"{reason}; then {failure}" if outcome is not LaneOutcome.SUCCEEDED else str(failure)
                outcome = LaneOutcome.FAILED
        record.status, record.outcome, record.reason, record.commit = LaneState.COMMITTED, outcome.value, reason, commit
        merge = MergeRecord(task.id, record.branch, check=record.check) if outcome is LaneOutcome.SUCCEEDED else None
        if merge is not None:
            self._ctx.journal_state.merges.append(merge)
        else:
            self._ctx.hold_back(task.id, f"{outcome.value} in lane {lane}")
            await self._ctx.reopen_task(f"lane {lane}", task.id,
                                        f"orch-tui: lane {lane} {outcome.value}: {reason}; work kept on {record.branch}")
        await self._ctx.save_journal()
        self._ctx.emit(ev.LaneFinished(lane, task.id, outcome, reason, commit))
        batch.hand_over(lane, merge)
        # The work is committed: the merge need not wait for the files to be given back.
        await self.claims.release(lane)
        self._ctx.wake.set()

    def _drop_tracker_edits(self, lane: int, record: LaneRecord) -> None:
        """The orchestrator is the only writer of `.beads/`: agents' edits there are dropped."""
        dropped = drop_tracker_changes(self._parts.repo, record.branch, record.base)
        if dropped:
            self._ctx.log(f"lane {lane}: dropped the agent's changes to {', '.join(dropped)} "
                          "(only the orchestrator writes the tracker)", "warning")

    # ----- a person's commands to a running lane --------------------------------------------
    async def abort(self, batch: Batch | None, lane: int) -> None:
        task = batch.running(lane) if batch else None
        if batch is None or task is None:
            raise OrchError(f"lane {lane} is not running")
        if lane in batch.finishing:
            raise OrchError(f"lane {lane} has finished its work and is being wrapped up")
        task.cancel()

    async def answer_input(self, batch: Batch | None, lane: int, request_id: str, answer: ev.InputAnswer,
                           by: str) -> None:
        if batch is None or batch.running(lane) is None:
            raise OrchError(f"lane {lane} is not running: nothing to answer")
        await self._parts.runner.answer(lane, request_id, answer, by)

    def follow_up_refusal(self, batch: Batch | None, lane: int) -> str | None:
        if batch is None or batch.running(lane) is None:
            return f"lane {lane} is not running"
        return self._parts.runner.follow_up_refusal(lane)

    async def follow_up(self, batch: Batch | None, lane: int, text: str) -> None:
        refusal = self.follow_up_refusal(batch, lane)
        if refusal:
            raise OrchError(f"cannot send lane {lane} a follow-up: {refusal}")
        await self._parts.runner.follow_up(lane, text)
        self._ctx.log(f"lane {lane}: follow-up sent to its agent")

    async def transcript(self, lane: int) -> tuple[TranscriptEntry, ...]:
        return await self._parts.runner.transcript(lane)
