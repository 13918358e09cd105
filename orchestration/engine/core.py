"""The engine: the asyncio state machine and the one place that decides.

    idle -> proposed -> (approve) -> running -> merging -> idle
                  \\-> (reject) -> idle          \\-> waiting_for_person (conflict or failed check)

Nothing is dispatched before `approve()`. Each transition is written to the journal first,
so a restarted engine knows what was in flight (see `reconcile`). Front ends subscribe to
typed events and send the commands of `EngineCommands`; blocking work (git, the Beads file)
runs in threads so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.agents.base import AgentRequest, AgentResult
from orch_tui.orchestration.planning.batch import BatchProposal, propose_batch
from orch_tui.orchestration.tracker.beads import BeadsStore
from orch_tui.orchestration.commands import EngineSnapshot, EngineState, HunkChoice, LaneView
from orch_tui.orchestration.settings.config import Config, check_batch_size
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import Event, EventSink, LaneOutcome, Mode
from orch_tui.orchestration.engine.journal import Journal, JournalState, LaneRecord, MergeRecord
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.merging.queue import MergeOutcome
from orch_tui.orchestration.model import Task, TaskGraph
from orch_tui.orchestration.engine.recovery import live_tasks, repair_at_start, resume_plan, settle_orphans
from orch_tui.orchestration.engine.snapshot_reducer import apply_event
from orch_tui.orchestration.engine.steps import (ASSIGN_WORKTREE, CLAIM_FILES, CLOSE_TASK, COMMIT_LEFTOVERS, CONFIRM_CLAIM, DROP_TRACKER_EDITS,
                    LIVE_DIFF, MARK_IN_PROGRESS, MERGE_BRANCH, PREDICT_MERGE, RELEASE_FILES, REOPEN_TASK,
                    RUN_AGENT, START_AGENT, Step, StepFailed, describe_cause, run_step)
from orch_tui.orchestration.engine.steps import CHECK_LANE, GUARD_COPIES, PREPARE_LANE, READ_CHECKOUT
from orch_tui.orchestration.tracker.task_refs import task_branch
from orch_tui.orchestration.tracker.tracker_guard import drop_tracker_changes
from orch_tui.orchestration.agents.usage import batch_usage_line
from orch_tui.orchestration.infra.waiting import wait_at_most
from orch_tui.orchestration.lanes.worktrees import branch_tip

HEALTH_INTERVAL_SECONDS = 2.0
SERVER_STEP_TIMEOUT_SECONDS = 120.0
"""A safety net for Agent Mail calls (the client has its own, shorter timeouts)."""
RETRY_MERGE = "retry"
TARGET_MOVED_RETRIES = 3
"""Merges tried again at once when the target moved under them, before a person is asked."""
"""A person's answer to a merge that failed with an error: try the merge again."""


@dataclass
class EngineParts:
    """What the engine drives; built by `wiring.build_engine` (or by tests)."""

    repo: Path
    config: Config
    store: BeadsStore
    pool: Any
    """WorktreePool (orchestration/lanes/worktrees.py)."""
    merges: Any
    """MergeQueue (orchestration/merging/queue.py)."""
    runner: Any
    """An agent runner (orchestration/agents/)."""
    journal: Journal
    reservations: Any | None = None
    """A ReservationBackend (orchestration/reservations/backend.py); None means sequential mode."""
    watcher_factory: Callable[..., Any] | None = None
    """Builds a live-diff watcher for a lane (orchestration/lanes/live_diff.py)."""
    lock: Any | None = None
    """InstanceLock: held from start() to close(), so one orchestrator runs per repository."""
    environments: LaneEnvironments | None = None
    """Ports, copied files, setup and check of each lane; None builds one from `config`."""


@dataclass
class _Batch:
    tasks: list[Task]
    base: str
    lanes: list[int] = field(default_factory=list)
    """The lane of each task (1, 2, ... unless resuming: a task reruns in its own lane)."""
    lane_tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    finished: asyncio.Queue[MergeRecord | None] = field(default_factory=asyncio.Queue)
    """Merges of lanes as they finish, for `_merge_while_running`; None ends it."""
    finishing: set[int] = field(default_factory=set)
    """Lanes past their agent, in `_finish_lane`: an abort would cut their bookkeeping short."""

    def lanes_running(self) -> bool:
        return any(not task.done() for task in self.lane_tasks.values())


class _LaneActivity:
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


async def _stop(task: asyncio.Future[Any]) -> BaseException | None:
    """Cancel `task` and wait until it has stopped; what it raised while stopping (None when
    it raised nothing, or had already ended: its caller has read that outcome)."""
    if task.done():
        return None
    task.cancel()
    await asyncio.wait([task])
    return None if task.cancelled() else task.exception()


class Engine:
    def __init__(self, parts: EngineParts) -> None:
        self.parts = parts
        self._sinks: list[EventSink] = []
        self._emitted = asyncio.Event()
        """Set by every event: `wait_until_settled` looks again at once."""
        self._view = EngineSnapshot(batch_size=parts.config.batch_size)
        self._journal_state = JournalState(batch_size=parts.config.batch_size)
        self._dropped: set[str] = set()
        self._held_back: dict[str, str] = {}
        """Tasks that failed in this session: not proposed again until a person retries them."""
        self._pinned: list[str] = []
        self._batch: _Batch | None = None
        self._batch_runner: asyncio.Task[None] | None = None
        self._person_done = asyncio.Event()
        self._wake = asyncio.Event()
        self._pause_requested = False
        self._background: list[asyncio.Task[None]] = []
        self._resume_state = EngineState.MERGING
        self._environments = parts.environments or LaneEnvironments(parts.repo, parts.config)
        self._follow_ups: dict[str, str] = {}
        """A failed lane check's output, for the next agent of a task a person sent back."""
        self._held_task: str | None = None
        self._check_answer: CheckAnswer | None = None
        self._waiting_on_error = False
        self._resolution: Any = None
        """A person's answer to the waiting merge: a MergeOutcome, RETRY_MERGE, or None (abort)."""
        self._started = False
        self._stopping = False
        """close() was called: lanes cancelled now are interrupted (resumed by the next start),
        not aborted by a person."""
        self._monitor_failed = False
        self._last_monitor_error = ""

    # ----- subscription and state -------------------------------------------------------
    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def snapshot(self) -> EngineSnapshot:
        return self._view

    @property
    def state(self) -> EngineState:
        return self._view.state

    def _emit(self, event: Event) -> None:
        if isinstance(event, ev.LaneProgress) and (event.tokens is not None or event.cost is not None):
            self._note_usage(event)
        apply_event(self._view, event)
        for sink in list(self._sinks):
            sink(event)
        self._emitted.set()

    def _note_usage(self, event: ev.LaneProgress) -> None:
        """Tokens and cost go into the lane's journal record (saved with its next change)."""
        record = self._journal_state.lane(event.lane)
        if record is not None and record.task_id == event.task_id:
            record.tokens = event.tokens or record.tokens
            record.cost = event.cost or record.cost

    def _set_state(self, state: EngineState, detail: str = "") -> None:
        self._journal_state.state = state.value
        self._save_journal()
        self._emit(ev.EngineStateChanged(state.value, detail))

    def _save_journal(self) -> None:
        try:
            self.parts.journal.save(self._journal_state)
        except OSError as error:  # a full disk must not end lanes unseen; git still holds the work
            self._emit(ev.ErrorRaised(f"saving the journal failed: {describe_cause(error)}",
                                      "free disk space: until the journal is saved, a crash loses track "
                                      "of the batch (the work stays on its branches)"))

    def _log(self, text: str, level: str = "info") -> None:
        self._emit(ev.LogLine(text, level))

    # ----- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Load the graph, set up the pool and the agents, reconcile with the journal."""
        if self.parts.lock is not None:
            self.parts.lock.acquire()
        self._started = True  # from here on this engine owns the journal
        self._view.lanes = [LaneView(lane) for lane in range(1, self.parts.config.batch_size + 1)]
        await self._reload_graph()
        for line in await asyncio.to_thread(repair_at_start, self.parts):  # before git is used
            self._log(line, "warning")
        problems = await asyncio.to_thread(self.parts.pool.recover)
        for problem in problems:
            named = problem.message.startswith(f"lane {problem.lane_index} ")
            self._log(problem.message if named else f"lane {problem.lane_index}: {problem.message}", "warning")
        await asyncio.to_thread(self.parts.pool.ensure)
        await run_step(START_AGENT, self.parts.runner.start())
        await self._start_reservations()
        await self._reconcile()

    async def close(self) -> None:
        """Stop everything: agents (and their process groups) stopped, journal saved.

        Lanes still running are interrupted, not failed: the journal keeps them as running,
        so the next start runs them again on their branches (see recovery.py).
        """
        self._stopping = True
        batch = self._batch
        lanes = [task for task in batch.lane_tasks.values() if not task.done()] if batch else []
        tasks = [*lanes, *self._background, *([self._batch_runner] if self._batch_runner else [])]
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
                self._save_journal()
            if self.parts.lock is not None:
                self.parts.lock.release()

    def interrupted_lanes(self) -> list[int]:
        """Lanes a `close()` interrupted (the next start resumes them)."""
        return [record.lane for record in self._journal_state.lanes if record.status == "running"]

    async def _start_reservations(self) -> None:
        manager = self.parts.reservations
        if manager is None:
            self._emit(ev.ModeChanged(Mode.SEQUENTIAL, "Agent Mail is not configured"))
            return
        mode = await manager.start()
        if (mode, manager.mode_reason) != (self._view.mode, self._view.mode_reason):
            self._emit(ev.ModeChanged(mode, manager.mode_reason))
        # Reservation trouble never stops the engine: the monitor says so in the log.
        self._supervise("the reservation monitor",
                        manager.run_monitor(HEALTH_INTERVAL_SECONDS, on_error=self._monitor_error),
                        on_death=self._monitor_died)

    def _monitor_error(self, error: Exception) -> None:
        text = f"reservations: {describe_cause(error)}"
        if text != self._last_monitor_error:  # said once, not every probe
            self._last_monitor_error = text
            self._log(text, "warning")

    def _monitor_died(self) -> None:
        # Without the monitor nothing renews reservations or reads other agents' ones.
        self._monitor_failed = True
        self._emit(ev.ModeChanged(Mode.SEQUENTIAL, "the reservation monitor stopped; restart orch-tui"))

    def _supervise(self, name: str, work: Awaitable[None], on_death: Callable[[], None] | None = None) -> None:
        """Run `work` in the background; if it dies, a person hears of it and the state says so."""
        task = asyncio.ensure_future(work)
        self._background.append(task)

        def reported(done: asyncio.Task[None]) -> None:
            if done.cancelled() or done.exception() is None:
                return
            error = done.exception()
            assert error is not None
            self._emit(ev.ErrorRaised(f"{name} stopped: {describe_cause(error)}",
                                      "restart orch-tui; the journal keeps the batch"))
            if on_death is not None:
                on_death()
        task.add_done_callback(reported)

    def forward(self, event: Event) -> None:
        """Entry for events from parts that emit on their own (the reservation manager)."""
        self._emit(event)
        if isinstance(event, ev.ModeChanged):
            self._wake.set()

    async def _reload_graph(self) -> TaskGraph:
        graph = await asyncio.to_thread(self.parts.store.load)
        self._emit(ev.GraphReloaded(graph))
        for problem in graph.problems:
            self._log(str(problem), "warning")
        return graph

    # ----- proposal and approval ----------------------------------------------------------
    async def propose(self) -> None:
        if self.state not in (EngineState.IDLE, EngineState.PROPOSED, EngineState.PAUSED):
            raise OrchError(f"cannot propose a batch while {self.state.value}")
        graph = await self._reload_graph()
        proposal = propose_batch(graph, self._view.batch_size, exclude=self._dropped,
                                 pinned=self._pinned, held_back=self._held_back)
        proposal.predicted_conflicts = await asyncio.to_thread(self._predict_kept_work, proposal)
        self._emit(ev.BatchProposed(proposal))
        self._set_state(EngineState.PROPOSED, f"{len(proposal.picked)} task(s) proposed")

    def _predict_kept_work(self, proposal: BatchProposal) -> dict[str, tuple[str, ...]]:
        """For tasks retried on work kept from an earlier attempt: would it merge as it is?
        (A task starting afresh has nothing to predict until its agent has worked.)"""
        try:  # (a task id unfit for a branch name fails later, with its own message)
            kept = [task_branch(choice.task_id) for choice in proposal.picked
                    if branch_tip(self.parts.repo, task_branch(choice.task_id))]
            predictions = self.parts.merges.predict(kept) if kept else []
        except OrchError as error:
            self._log(f"could not predict merges: {error}", "warning")
            return {}
        return {prediction.task_id: tuple(prediction.conflicted_files)
                for prediction in predictions if prediction.task_id}

    def _require_proposal(self) -> BatchProposal:
        if self.state is not EngineState.PROPOSED or self._view.proposal is None:
            raise OrchError("no batch is proposed: propose one first")
        return self._view.proposal

    async def drop_task(self, task_id: str) -> None:
        self._require_proposal()
        self._dropped.add(task_id)
        self._pinned = [pinned for pinned in self._pinned if pinned != task_id]
        await self.propose()

    async def swap_task(self, task_id: str) -> None:
        """Replace `task_id` by the next ready task, keeping the rest of the batch."""
        proposal = self._require_proposal()
        self._pinned = [choice.task_id for choice in proposal.picked if choice.task_id != task_id]
        self._dropped.add(task_id)
        await self.propose()

    async def set_batch_size(self, size: int) -> None:
        check_batch_size(size, origin="batch size")
        self._journal_state.batch_size = size
        self._emit(ev.BatchSizeChanged(size))
        if self.state is EngineState.PROPOSED:
            await self.propose()

    async def reject(self, reason: str = "") -> None:
        self._require_proposal()
        self._dropped.clear()
        self._pinned.clear()
        self._emit(ev.BatchRejected(reason))
        self._set_state(EngineState.IDLE, "batch rejected")

    async def approve(self) -> None:
        proposal = self._require_proposal()
        if not proposal.picked:
            raise OrchError("the proposed batch is empty: nothing is ready to run")
        graph = self._view.graph or TaskGraph()
        tasks = [graph.tasks[choice.task_id] for choice in proposal.picked]
        base = await asyncio.to_thread(self.parts.merges.pin_target)  # a checkout switched mid-batch does not redirect it
        self._journal_state.batch = [task.id for task in tasks]
        self._journal_state.lanes = []
        self._journal_state.merges = []
        self._dropped.clear()
        self._pinned.clear()
        self._emit(ev.BatchApproved(tuple(self._journal_state.batch)))
        self._set_state(EngineState.RUNNING, f"{len(tasks)} lane(s)")
        self._batch = _Batch(tasks, base)
        self._batch_runner = asyncio.create_task(self._run_batch(self._batch))

    async def pause(self) -> None:
        self._pause_requested = True
        self._log("will pause after the current batch")

    # ----- running lanes ------------------------------------------------------------------
    def _can_start_lane(self, running: int) -> bool:
        manager = self.parts.reservations
        if manager is None or self._monitor_failed:  # nothing keeps lanes apart: one at a time
            return running == 0
        return manager.can_start_lane(running)

    async def _run_batch(self, batch: _Batch, *, resume_merges: bool = False) -> None:
        try:
            if not resume_merges:
                await self._run_lanes(batch)
            await self._merge_finished()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the last resort: every lane and merge step has its own
            self._emit(ev.ErrorRaised(f"batch stopped: {describe_cause(error)}",
                                      "restart orch-tui (or run again): the journal keeps the batch"))
            self._set_state(EngineState.WAITING_FOR_PERSON, f"error: {describe_cause(error)}")

    async def _run_lanes(self, batch: _Batch) -> None:
        """Run the lanes, merging each finished one that merges cleanly while the rest work."""
        merger = asyncio.create_task(self._merge_while_running(batch))
        try:
            await self._dispatch_all(batch)
        except BaseException:
            merger.cancel()
            raise
        finally:
            batch.finished.put_nowait(None)
        await merger

    async def _dispatch_all(self, batch: _Batch) -> None:
        pending = list(zip(batch.lanes or range(1, len(batch.tasks) + 1), batch.tasks))
        said: dict[int, str] = {}
        while pending:
            running = [task for task in batch.lane_tasks.values() if not task.done()]
            if self._can_start_lane(len(running)):
                lane, task = pending.pop(0)
                batch.lane_tasks[lane] = asyncio.create_task(self._run_lane(lane, task, batch))
                await asyncio.sleep(0)
                continue
            lane, task = pending[0]
            self._say_waiting(said, lane, task.id, self._why_not_started(batch))
            await self._wait_for_change(running)
        # `_run_lane` ends every lane itself; anything it lets through is a bug to show.
        await asyncio.wait(batch.lane_tasks.values())
        for lane, done in batch.lane_tasks.items():
            if not done.cancelled() and done.exception() is not None:
                self._emit(ev.ErrorRaised(f"lane {lane} ended unexpectedly: {describe_cause(done.exception())}"))

    def _why_not_started(self, batch: _Batch) -> str:
        running = tuple(lane for lane, task in batch.lane_tasks.items() if not task.done())
        manager = self.parts.reservations
        reason = ("the reservation monitor stopped" if self._monitor_failed else
                  manager.mode_reason if manager is not None else "Agent Mail is not configured")
        return f"sequential mode ({reason}): starts when lane(s) {', '.join(map(str, running))} finish"

    def _say_waiting(self, said: dict[int, str], lane: int, task_id: str, reason: str) -> None:
        """A waiting lane says why once, and again only when the reason changes."""
        if said.get(lane) != reason:
            said[lane] = reason
            self._emit(ev.LaneProgress(lane, task_id, "waiting", reason))

    async def _wait_for_change(self, running: list[asyncio.Task[None]], timeout: float = 1.0) -> None:
        """Until a lane ends, something wakes the engine (a mode change, a lane's release) or
        `timeout` passes; leaves nothing behind."""
        self._wake.clear()
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([woken, *running], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def _run_lane(self, lane: int, task: Task, batch: _Batch) -> None:
        """Run one lane to its end, whatever fails: it ends exactly once, with a LaneFinished."""
        record = LaneRecord(lane, task.id, f"orch/{task.id}", "", batch.base)
        self._journal_state.lanes.append(record)
        self._save_journal()
        try:
            outcome, reason = await self._lane_body(lane, task, batch.base, record)
            if self._stopping:  # the runner turned the shutdown's cancellation into a result
                raise asyncio.CancelledError
        except asyncio.CancelledError:
            if self._stopping:  # shutting down: the journal keeps the lane running for the next start
                raise
            outcome, reason = LaneOutcome.ABORTED, "aborted by a person"
        except StepFailed as failure:
            outcome, reason = LaneOutcome.FAILED, str(failure)
        except Exception as error:  # a fault in the engine itself: the lane still ends, and says so
            outcome, reason = LaneOutcome.FAILED, f"unexpected error in the engine: {describe_cause(error)}"
        batch.finishing.add(lane)
        await self._finish_lane(lane, task, record, outcome, reason, batch)

    async def _lane_body(self, lane: int, task: Task, base: str,
                         record: LaneRecord) -> tuple[LaneOutcome, str]:
        reserved = task.declared_files
        # The worktree and the claim on the files do not depend on each other: get both at once.
        assigning = asyncio.ensure_future(run_step(ASSIGN_WORKTREE, asyncio.to_thread(
            self.parts.pool.assign, lane, task.id, base, keep_existing=True)))
        try:
            refusal = await run_step(CLAIM_FILES, self._claim(lane, task, reserved))
        finally:
            assigned = await assigning
        record.worktree = assigned.path
        record.branch = assigned.branch or record.branch
        record.status = "running"
        self._save_journal()
        if refusal:
            return LaneOutcome.FAILED, refusal
        await run_step(MARK_IN_PROGRESS, asyncio.to_thread(
            self.parts.store.update, task.id, status="in_progress", assignee=f"lane-{lane}"))
        self._emit(ev.LaneStarted(lane, task.id, task.title, record.branch, record.worktree))
        prepared = await run_step(PREPARE_LANE, self._environments.prepare(
            lane, task.id, Path(record.worktree), self._emit, head=assigned.head))
        if prepared.failure:
            return LaneOutcome.FAILED, prepared.failure
        watcher = self._start_watcher(lane, task, Path(record.worktree), base, reserved,
                                      starts_clean=assigned.head == base)
        activity = _LaneActivity(lane, task.id, self._emit)
        request = self._agent_request(lane, task, record, reserved)
        agent = asyncio.ensure_future(self._run_agent(request, activity.sink))
        helpers = [self._watch_for_stall(activity)]
        if watcher is not None:
            helpers.append(self._watch_diff(lane, watcher.run))
        watching = [asyncio.ensure_future(helper) for helper in helpers]
        try:
            # The agent works while the server confirms the claim; a refusal stops it.
            refusal = await run_step(CONFIRM_CLAIM, self._confirm(lane, task), timeout=SERVER_STEP_TIMEOUT_SECONDS)
            if refusal:
                return LaneOutcome.FAILED, refusal
            result = await agent
            if watcher is not None:  # the agent's last edit may not have been seen yet
                await self._watch_diff(lane, watcher.refresh)
        finally:
            for running in (agent, *watching):
                error = await _stop(running)
                if error is not None:
                    self._log(f"lane {lane}: while stopping: {describe_cause(error)}", "warning")
        return await self._check_lane(lane, task, record, result)

    async def _run_agent(self, request: AgentRequest, sink: EventSink) -> AgentResult:
        # The runner's coroutine is made here, when the task starts, so a lane stopped before
        # that leaves no coroutine unawaited.
        return await run_step(RUN_AGENT, self.parts.runner.run(request, sink))

    async def _watch_diff(self, lane: int, work: Callable[[], Awaitable[None]]) -> None:
        """The live diff is a view: when it fails the lane goes on without it, and says so."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported right here, with the step
            self._log(f"lane {lane}: {StepFailed(LIVE_DIFF, error)}; the lane goes on without a live diff",
                      "warning")

    async def _watch_for_stall(self, activity: _LaneActivity) -> None:
        """Say once when the agent has been silent for `agent_stall_seconds` (it keeps running)."""
        limit = self.parts.config.agent_stall_seconds
        while True:
            if activity.asks:  # waiting for a person (the lane says so), not stalled
                activity.last_event = time.monotonic()
            silent = time.monotonic() - activity.last_event
            if silent >= limit and not activity.stalled:
                activity.stalled = True
                self._emit(ev.LaneStalled(activity.lane, activity.task_id, round(silent, 1), activity.last_action))
            await asyncio.sleep(max(0.05, min(limit / 4, 5.0, limit - silent if silent < limit else limit / 4)))

    def _agent_request(self, lane: int, task: Task, record: LaneRecord, reserved: tuple[str, ...]) -> AgentRequest:
        manager = self.parts.reservations
        parallel = manager is not None and manager.mode is Mode.PARALLEL
        return AgentRequest(lane=lane, task=task, worktree=Path(record.worktree),
                            base_commit=record.base, reserved=reserved,
                            timeout=self.parts.config.agent_timeout_seconds,
                            report_files=self.parts.watcher_factory is None,
                            mail_agent=manager.agent_name(lane) if parallel else "",
                            mail_project=manager.project_key if parallel else "",
                            max_tokens=self.parts.config.max_tokens_per_task,
                            max_cost=self.parts.config.max_cost_per_task,
                            env=self._environments.env(lane), follow_up=self._follow_ups.pop(task.id, ""))

    async def _check_lane(self, lane: int, task: Task, record: LaneRecord, result: Any) -> tuple[LaneOutcome, str]:
        """After the agent: copied files kept out of commits, then the lane check (when it
        succeeded); the lane's ports go back either way. A failed check does not fail the
        lane: its merge waits for a person (`_hold_for_check`)."""
        try:
            exposed = await run_step(GUARD_COPIES, self._environments.guard_copies(
                lane, Path(record.worktree), record.base))
            if exposed:
                return LaneOutcome.FAILED, exposed
            if result.outcome is LaneOutcome.SUCCEEDED:
                check = await run_step(CHECK_LANE, self._environments.check(
                    lane, task.id, record.branch, Path(record.worktree), self._emit))
                if check is not None:
                    record.check = check.to_dict()
                    self._save_journal()
                    if not check.passed:
                        return result.outcome, f"{result.reason}; lane check failed: its merge waits for a person"
        finally:
            self._environments.release(lane)
        return result.outcome, result.reason

    def _start_watcher(self, lane: int, task: Task, worktree: Path, base: str, reserved: tuple[str, ...],
                       *, starts_clean: bool) -> Any:
        """The lane's live-diff watcher (None without one)."""
        if self.parts.watcher_factory is None:
            return None
        try:
            return self.parts.watcher_factory(lane, task.id, worktree, base, reserved, self._emit,
                                              starts_clean=starts_clean)
        except Exception as error:  # noqa: BLE001 - a view failing must not cost the lane
            self._log(f"lane {lane}: {StepFailed(LIVE_DIFF, error)}; the lane goes on without a live diff",
                      "warning")
            return None

    async def _claim(self, lane: int, task: Task, patterns: tuple[str, ...]) -> str | None:
        """Claim the task's files; a reason when someone else holds them, else None.

        A refusal caused only by our own lanes (sequential mode, or a running lane's
        patterns) means "not yet": the lane waits its turn instead of failing, and says so once.
        """
        manager = self.parts.reservations
        if manager is None:
            return None
        said: dict[int, str] = {}
        while True:
            outcome = await manager.claim(lane, task.id, patterns)
            if outcome.acquired:
                return None
            if any(holder.lane is None for holder in outcome.conflicts):
                return f"files reserved by someone else: {outcome.describe()}"
            self._say_waiting(said, lane, task.id, outcome.describe())
            await self._wait_for_wake(timeout=1.0)

    async def _confirm(self, lane: int, task: Task) -> str | None:
        """The server's answer to the lane's claim: a reason when it knows of another holder.
        A server that fails meanwhile means sequential mode; the lane, started, runs on."""
        manager = self.parts.reservations
        if manager is None or not manager.confirming(lane):
            return None
        outcome = await manager.confirm(lane)
        if outcome is None or outcome.acquired:
            return None
        if any(holder.lane is None for holder in outcome.conflicts):
            return f"files reserved by someone else: {outcome.describe()}"
        return f"the server sees an overlap with another lane: {outcome.describe()}"

    async def _wait_for_wake(self, timeout: float) -> None:
        self._wake.clear()
        await wait_at_most(self._wake.wait(), timeout)

    async def _finish_lane(self, lane: int, task: Task, record: LaneRecord,
                           outcome: LaneOutcome, reason: str, batch: _Batch) -> None:
        """End the lane exactly once. Each step here is named when it fails and none stops the
        rest: the work is committed on the branch (or left in the worktree, said so), the task
        merges or is reopened, LaneFinished is emitted, the files are given back."""
        commit = None
        if record.worktree:
            try:
                commit = await run_step(COMMIT_LEFTOVERS, asyncio.to_thread(
                    self.parts.pool.release, lane,
                    f"orch-tui: {task.id}: changes the agent left uncommitted ({outcome.value})"))
                await run_step(DROP_TRACKER_EDITS, asyncio.to_thread(self._drop_tracker_edits, lane, record))
            except StepFailed as failure:  # unsaved or unchecked work never merges
                reason = f"{reason}; then {failure}" if outcome is not LaneOutcome.SUCCEEDED else str(failure)
                outcome = LaneOutcome.FAILED
        record.status, record.outcome, record.reason, record.commit = "committed", outcome.value, reason, commit
        merge = MergeRecord(task.id, record.branch, check=record.check) if outcome is LaneOutcome.SUCCEEDED else None
        if merge is not None:
            self._journal_state.merges.append(merge)
        else:
            self._hold_back(task.id, f"{outcome.value} in lane {lane}")
            await self._say_if_fails(f"lane {lane}", REOPEN_TASK, asyncio.to_thread(
                self.parts.store.update, task.id, status="open", assignee="",
                note=f"orch-tui: lane {lane} {outcome.value}: {reason}; work kept on {record.branch}"))
        self._save_journal()
        self._emit(ev.LaneFinished(lane, task.id, outcome, reason, commit))
        if merge is not None:
            batch.finished.put_nowait(merge)
        # The work is committed: the merge need not wait for the files to be given back.
        if self.parts.reservations is not None:
            await self._say_if_fails(f"lane {lane}", RELEASE_FILES, self.parts.reservations.release(lane),
                                     timeout=SERVER_STEP_TIMEOUT_SECONDS, level="warning")
        self._wake.set()

    async def _say_if_fails(self, where: str, step: Step, work: Awaitable[Any], *,
                            timeout: float | None = None, level: str = "error") -> None:
        """Run a step whose failure must not stop what follows; say it, prefixed by `where`."""
        try:
            await run_step(step, work, timeout=timeout)
        except StepFailed as failure:
            if level == "error":
                self._emit(ev.ErrorRaised(f"{where}: {failure}"))
            else:
                self._log(f"{where}: {failure}", level)

    def _drop_tracker_edits(self, lane: int, record: LaneRecord) -> None:
        """The orchestrator is the only writer of `.beads/`: agents' edits there are dropped."""
        dropped = drop_tracker_changes(self.parts.repo, record.branch, record.base)
        if dropped:
            self._log(f"lane {lane}: dropped the agent's changes to {', '.join(dropped)} "
                      "(only the orchestrator writes the tracker)", "warning")

    async def abort_lane(self, lane: int) -> None:
        batch = self._batch
        task = batch.lane_tasks.get(lane) if batch else None
        if task is None or task.done():
            raise OrchError(f"lane {lane} is not running")
        if batch is not None and lane in batch.finishing:
            raise OrchError(f"lane {lane} has finished its work and is being wrapped up")
        task.cancel()

    async def answer_input(self, lane: int, request_id: str, answer: ev.InputAnswer,
                           by: str = "a person") -> None:
        """Answer what the agent of `lane` asked (a permission or a question)."""
        batch = self._batch
        task = batch.lane_tasks.get(lane) if batch else None
        if task is None or task.done():
            raise OrchError(f"lane {lane} is not running: nothing to answer")
        await self.parts.runner.answer(lane, request_id, answer, by)

    def follow_up_refusal(self, lane: int) -> str | None:
        """Why a follow-up message cannot reach lane `lane`'s agent now (None: it can)."""
        batch = self._batch
        task = batch.lane_tasks.get(lane) if batch else None
        if task is None or task.done():
            return f"lane {lane} is not running"
        return self.parts.runner.follow_up_refusal(lane)

    async def follow_up(self, lane: int, text: str) -> None:
        """Send the running agent of `lane` another message (the person's follow-up)."""
        refusal = self.follow_up_refusal(lane)
        if refusal:
            raise OrchError(f"cannot send lane {lane} a follow-up: {refusal}")
        await self.parts.runner.follow_up(lane, text)
        self._log(f"lane {lane}: follow-up sent to its agent")

    async def lane_transcript(self, lane: int) -> tuple[Any, ...]:
        """What the agent of `lane` said and did (orchestration/agents/transcript.py entries)."""
        return await self.parts.runner.transcript(lane)

    def _hold_back(self, task_id: str, what: str) -> None:
        """Without this, a task that fails at once would be proposed (and fail) forever."""
        self._held_back[task_id] = f"{what}: not proposed again until retried"
        self._log(f"{task_id} {what}; it is not proposed again until you retry it", "warning")

    async def retry_task(self, task_id: str) -> None:
        """Put a failed task first in the next proposal."""
        if task_id not in self._pinned:
            self._pinned.insert(0, task_id)
        self._dropped.discard(task_id)
        self._held_back.pop(task_id, None)
        self._log(f"{task_id} will be proposed first in the next batch")

    # ----- merging ------------------------------------------------------------------------
    def _merged_count(self) -> int:
        return sum(1 for merge in self._journal_state.merges if merge.state == "merged")

    async def _merge_while_running(self, batch: _Batch) -> None:
        """Merge each finished lane at once if it merges cleanly, while other lanes work.

        Lanes that finished together are merged as one series (`merge_series_if_clean`).
        A branch predicted to conflict waits for `_merge_finished`, which orders what is
        left once every lane is done; so does everything after a merge a person stopped,
        and everything when a merge from before a restart is still in the queue.
        """
        early = await asyncio.to_thread(self.parts.merges.merge_state) is None
        last = False
        while not last and (merge := await batch.finished.get()) is not None:
            ready = [merge]
            while not batch.finished.empty():
                more = batch.finished.get_nowait()
                if more is None:
                    last = True
                    break
                ready.append(more)
            if early:
                early = await self._merge_early([m for m in ready if m.state == "pending" and not m.held_for_check()])

    async def _merge_early(self, ready: list[MergeRecord]) -> bool:
        """Merge what merges cleanly now; False once a person stopped a merge."""
        if len(ready) > 1 and not self.parts.config.verify_command:
            ready = ready[len(await self._merge_series(ready)):]
        for merge in ready:
            deferred = not await self._merge_one(merge, only_if_clean=True)
            if not (deferred or merge.state == "merged"):  # a person aborted it: stop
                return False
        return True

    async def _merge_series(self, ready: list[MergeRecord]) -> list[MergeRecord]:
        """Merge the leading clean run of `ready` with one move of the target; the merged."""
        for merge in ready:
            merge.state = "merging"
            self._emit(ev.MergeStarted(merge.task_id, merge.branch))
        self._save_journal()
        try:
            outcomes = await run_step(MERGE_BRANCH, asyncio.to_thread(
                self.parts.merges.merge_series_if_clean, [merge.branch for merge in ready]))
        except StepFailed as failure:  # each branch is tried again on its own, which stops if need be
            self._log(f"merging {len(ready)} branches at once: {failure}; merging them one by one", "warning")
            outcomes = []
        for merge, outcome in zip(ready, outcomes):
            await self._record_merged(merge, outcome.commit)
        for merge in ready[len(outcomes):]:
            merge.state = "pending"
        self._save_journal()
        return ready[:len(outcomes)]

    async def _merge_finished(self) -> None:
        self._set_state(EngineState.MERGING)
        pending = [merge for merge in self._journal_state.merges if merge.state not in ("merged", "skipped")]
        for merge in await self._merge_order(pending):
            await self._merge_one(merge)
        await self._finish_batch()

    async def _merge_order(self, pending: list[MergeRecord]) -> list[MergeRecord]:
        """Predicted-clean branches first (`git merge-tree`), each prediction shown; a merge
        a restart interrupted comes before all of them."""
        if not pending:
            return []
        try:
            predictions, ordered, interrupted = await run_step(PREDICT_MERGE, asyncio.to_thread(
                self._predict_order, [merge.branch for merge in pending]))
        except StepFailed as failure:  # a prediction only orders the queue; each merge still checks
            self._log(f"{failure}; merging in the order the lanes finished", "warning")
            return pending
        if interrupted is not None and interrupted.branch in ordered:
            ordered.remove(interrupted.branch)
            ordered.insert(0, interrupted.branch)
        position = {branch: index for index, branch in enumerate(ordered)}
        by_branch = {prediction.branch: prediction for prediction in predictions}
        pending = sorted(pending, key=lambda merge: position.get(merge.branch, len(position)))
        first = self._merged_count() + 1
        for order, merge in enumerate(pending, start=first):
            prediction = by_branch.get(merge.branch)
            files = tuple(prediction.conflicted_files) if prediction else ()
            self._emit(ev.MergePredicted(merge.task_id, merge.branch, order, files))
        return pending

    def _predict_order(self, branches: list[str]) -> tuple[list[Any], list[str], Any]:
        queue = self.parts.merges
        predictions = queue.predict(branches)
        return predictions, queue.suggested_order(predictions), queue.merge_state()

    async def _merge_one(self, merge: MergeRecord, *, only_if_clean: bool = False) -> bool:
        """Merge a finished lane's branch, asking a person when it needs one (a conflict, a
        failed check, or an error in any merge step). With `only_if_clean` a branch that would
        conflict is left pending instead (False)."""
        if merge.held_for_check() and not await self._hold_for_check(merge):
            return True
        merge.state = "merging"
        self._save_journal()
        self._emit(ev.MergeStarted(merge.task_id, merge.branch))
        outcome = await self._again_if_target_moved(merge, await self._attempt_merge(merge, only_if_clean=only_if_clean),
                                                    only_if_clean)
        if outcome is None:
            await self._defer(merge)
            return False
        while isinstance(outcome, StepFailed) or not outcome.ok:
            answer = await self._wait_for_person(merge, outcome)
            if answer is None:  # aborted: the branch is kept for a later batch
                merge.state = "skipped"
                self._save_journal()
                self._hold_back(merge.task_id, "its merge was aborted")
                await self._say_if_fails(merge.task_id, REOPEN_TASK, asyncio.to_thread(
                    self.parts.store.update, merge.task_id, status="open", assignee="",
                    note=f"orch-tui: merge aborted by a person; work kept on {merge.branch}"))
                return True
            outcome = await self._attempt_merge(merge) if answer == RETRY_MERGE else answer
        await self._record_merged(merge, outcome.commit)
        return True

    async def _again_if_target_moved(self, merge: MergeRecord, outcome: Any, only_if_clean: bool) -> Any:
        """The target moved under the merge (a commit the person made meanwhile): nothing was
        changed, so the branch is merged again on top of it, a few times, before asking anyone."""
        for _ in range(TARGET_MOVED_RETRIES):
            if outcome is None or isinstance(outcome, StepFailed) or outcome.status != "target_moved":
                break
            self._log(f"{merge.task_id}: {outcome.message.split(';')[0]}; merging {merge.branch} again on top of it",
                      "warning")
            outcome = await self._attempt_merge(merge, only_if_clean=only_if_clean)
        return outcome

    async def _attempt_merge(self, merge: MergeRecord, *, only_if_clean: bool = False) -> Any:
        """A MergeOutcome; None when `only_if_clean` and it would conflict; StepFailed on error."""
        try:
            if only_if_clean:
                return await run_step(MERGE_BRANCH, asyncio.to_thread(self.parts.merges.merge_if_clean, merge.branch))
            return await run_step(MERGE_BRANCH, asyncio.to_thread(self._start_or_resume_merge, merge.branch))
        except StepFailed as failure:
            return failure

    async def _record_merged(self, merge: MergeRecord, commit: str | None) -> None:
        commit = commit or await asyncio.to_thread(self._target_commit)
        merge.state, merge.commit = "merged", commit
        self._save_journal()
        await self._say_if_fails(merge.task_id, CLOSE_TASK, asyncio.to_thread(
            self.parts.store.update, merge.task_id, status="closed",
            close_reason=f"merged by orch-tui in {commit[:12]}"))
        self._emit(ev.MergeDone(merge.task_id, merge.branch, commit))
        await self._say_if_fails(merge.task_id, READ_CHECKOUT, self._say_checkout_elsewhere(), level="warning")

    async def _say_checkout_elsewhere(self) -> None:
        note = await asyncio.to_thread(self.parts.merges.checkout_elsewhere_note)
        if note:
            self._log(note, "warning")

    async def _defer(self, merge: MergeRecord) -> None:
        """A branch that would conflict waits until the other lanes are done and merged."""
        merge.state = "pending"
        self._save_journal()
        try:
            [prediction] = await run_step(PREDICT_MERGE, asyncio.to_thread(self.parts.merges.predict, [merge.branch]))
            files = tuple(prediction.conflicted_files)
        except StepFailed as failure:
            self._log(str(failure), "warning")
            files = ()
        self._emit(ev.MergePredicted(merge.task_id, merge.branch, self._merged_count() + 1, files))

    def _start_or_resume_merge(self, branch: str) -> Any:
        """A merge of `branch` interrupted by a crash is picked up where git left it."""
        queue = self.parts.merges
        state = queue.merge_state()
        if state is None or state.branch != branch.removeprefix("refs/heads/"):
            return queue.merge(branch)
        if state.stage in ("merging", "verifying", "advancing", "checkout_dirty"):
            return queue.continue_merge()
        status = "conflict" if state.stage == "conflict" else state.stage
        return MergeOutcome(status, state.branch, state.task_id, state.target,
                            "waiting for a person since before the restart", conflict=state.conflict)

    def _target_commit(self) -> str:
        return self.parts.merges.target_commit()

    async def _wait_for_person(self, merge: MergeRecord, outcome: Any) -> Any:
        """Stop the queue until a person continues (the new outcome, or RETRY_MERGE after an
        error) or aborts (None)."""
        if isinstance(outcome, StepFailed):
            merge.state = "check-failed"
            self._emit(ev.MergeCheckFailed(merge.task_id, merge.branch, str(outcome)))
            summary = outcome.step.name + " failed"
        elif outcome.status == "conflict":
            merge.state = "conflict"
            self._emit(ev.MergeConflict(merge.task_id, merge.branch,
                                        tuple(file.path for file in outcome.conflict.files),
                                        outcome.conflict))
        else:
            merge.state = "check-failed"
            detail = outcome.verification.output if outcome.verification else ""
            self._emit(ev.MergeCheckFailed(merge.task_id, merge.branch,
                                           f"{outcome.message}\n{detail}".strip()))
        self._resume_state = self.state
        if not isinstance(outcome, StepFailed):
            summary = outcome.message
        self._set_state(EngineState.WAITING_FOR_PERSON, f"{merge.task_id}: {summary}")
        self._person_done.clear()
        self._resolution = None
        self._waiting_on_error = isinstance(outcome, StepFailed)
        await self._person_done.wait()
        return self._resolution

    def _person_answered(self) -> None:
        """Leave the waiting state before returning, so a caller never sees it stale."""
        self._set_state(self._resume_state)
        self._person_done.set()

    def _require_waiting(self) -> None:
        if self.state is not EngineState.WAITING_FOR_PERSON:
            raise OrchError("no merge is waiting for a person")

    async def _refresh_conflict(self, line: str) -> None:
        self._emit(ev.ConflictChanged(await asyncio.to_thread(self.parts.merges.conflict)))
        self._emit(ev.LogLine(line))

    async def resolve_hunk(self, path: str, hunk: int, choice: HunkChoice) -> None:
        self._require_waiting()
        await asyncio.to_thread(self.parts.merges.resolve_hunk, path, hunk, choice.value)
        await self._refresh_conflict(f"{path}: hunk {hunk + 1} takes {choice.value}")

    async def resolve_file(self, path: str, choice: HunkChoice) -> None:
        self._require_waiting()
        await asyncio.to_thread(self.parts.merges.resolve_file, path, choice.value)
        await self._refresh_conflict(f"{path}: takes {choice.value}")

    async def write_resolution(self, path: str, content: str) -> None:
        self._require_waiting()
        await asyncio.to_thread(self.parts.merges.write_resolution, path, content)
        await self._refresh_conflict(f"{path}: resolved by hand")

    async def continue_merge(self) -> None:
        """Commit the resolution and move on; raises (queue still waiting) while hunks remain."""
        self._require_waiting()
        if self._waiting_on_error:  # nothing of git's to continue: the merge is tried again
            self._resolution = RETRY_MERGE
            self._log("trying the merge again")
        else:
            self._resolution = await asyncio.to_thread(self.parts.merges.continue_merge)
            self._emit(ev.ConflictChanged(self._resolution.conflict))
        self._person_answered()

    async def abort_merge(self) -> None:
        self._require_waiting()
        await asyncio.to_thread(self.parts.merges.abort_merge)
        self._resolution = None
        self._emit(ev.ConflictChanged(None))
        self._person_answered()

    async def _hold_for_check(self, merge: MergeRecord) -> bool:
        """The lane's check failed: wait for a person. True to merge anyway; False when the
        task was sent back to an agent (retry) or dropped. Its work stays on its branch."""
        check = CheckResult.from_dict(merge.check) or CheckResult(False, 0.0, "", "", "failed")
        merge.state = "held"
        self._emit(ev.MergeHeldForCheck(merge.task_id, merge.branch, check))
        self._resume_state = self.state
        self._held_task, self._check_answer = merge.task_id, None
        self._set_state(EngineState.WAITING_FOR_PERSON,
                        f"{merge.task_id}: lane check failed; merge anyway, retry or drop")
        self._person_done.clear()
        await self._person_done.wait()
        self._held_task = None
        answer = self._check_answer or CheckAnswer.DROP  # abort_merge meanwhile: do not merge
        merge.check_answer = answer.value
        self._save_journal()
        self._emit(ev.CheckHoldAnswered(merge.task_id, merge.branch, answer.value))
        if answer is CheckAnswer.MERGE:
            self._log(f"{merge.task_id}: merging although its lane check failed (a person decided)", "warning")
            return True
        merge.state = "skipped"
        self._save_journal()
        if answer is CheckAnswer.RETRY:
            self._follow_ups[merge.task_id] = check.follow_up()
            await self.retry_task(merge.task_id)
            note = f"orch-tui: lane check failed; sent back to an agent with the failure; work kept on {merge.branch}"
        else:
            self._hold_back(merge.task_id, "was dropped after its lane check failed")
            note = f"orch-tui: lane check failed; dropped by a person; work kept on {merge.branch}"
        await self._say_if_fails(merge.task_id, REOPEN_TASK, asyncio.to_thread(
            self.parts.store.update, merge.task_id, status="open", assignee="", note=note))
        return False

    async def answer_check(self, task_id: str, answer: CheckAnswer) -> None:
        """A person's answer to the merge held by a failed lane check."""
        if self.state is not EngineState.WAITING_FOR_PERSON or self._held_task is None:
            raise OrchError("no merge is held for a failed lane check")
        if task_id != self._held_task:
            raise OrchError(f"the merge held for its lane check is {self._held_task}, not {task_id}")
        self._check_answer = CheckAnswer(answer)
        self._person_answered()

    async def _finish_batch(self) -> None:
        usage = batch_usage_line(self._journal_state.lanes)
        if usage:
            self._log(usage)
        self._journal_state.batches_done += 1
        self._journal_state.batch = []
        self._journal_state.lanes = []
        self._journal_state.merges = []
        self._batch = None
        await self._reload_graph()
        paused = self._pause_requested
        self._pause_requested = False
        self._set_state(EngineState.PAUSED if paused else EngineState.IDLE, "batch finished")

    # ----- recovery ----------------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Resume what the journal says was in flight when the last orchestrator stopped."""
        saved = self.parts.journal.load()
        if saved is None or saved.state in (EngineState.IDLE.value, EngineState.PROPOSED.value,
                                            EngineState.PAUSED.value):
            self._journal_state.batches_done = saved.batches_done if saved else 0
            await self._settle_orphans(set())
            self._set_state(EngineState.IDLE, "ready")
            return
        self._journal_state = saved
        self._journal_state.batch_size = self._view.batch_size
        lane_of = {record.task_id: record.lane for record in saved.lanes}
        plan = await asyncio.to_thread(resume_plan, self.parts, saved)
        for line in plan.messages:
            self._log(line, "warning")
        await self._settle_orphans(live_tasks(plan, saved))
        graph = self._view.graph or TaskGraph()
        rerun = [task_id for task_id in plan.rerun if task_id in graph.tasks]
        self._batch = _Batch([graph.tasks[task_id] for task_id in rerun],
                             saved.lanes[0].base if saved.lanes else
                             await asyncio.to_thread(self._target_commit),
                             lanes=[lane_of[task_id] for task_id in rerun])
        self._set_state(EngineState.RUNNING, "resuming after a restart")
        self._batch_runner = asyncio.create_task(self._run_batch(self._batch, resume_merges=not plan.rerun))

    async def _settle_orphans(self, live: set[str]) -> None:
        """Nothing stays in_progress without a lane working on it (recovery.settle_orphans)."""
        graph = await asyncio.to_thread(self.parts.store.load)
        lines = await asyncio.to_thread(settle_orphans, self.parts, graph, live)
        for line in lines:
            self._log(line, "warning")
        if lines:
            await self._reload_graph()

    # ----- waiting (for headless use and tests) --------------------------------------------
    async def wait_until_settled(self) -> EngineState:
        """Wait until the engine is idle, paused or waiting for a person."""
        settled = {EngineState.IDLE, EngineState.PAUSED, EngineState.WAITING_FOR_PERSON}
        while True:
            self._emitted.clear()
            if self.state in settled and not self._lanes_running():
                return self.state
            # Every state change is an event; a lane task ends just after its last one.
            await wait_at_most(self._emitted.wait(), 0.05)

    def _lanes_running(self) -> bool:
        """A person may be asked about a merge while other lanes still work."""
        return self._batch is not None and self._batch.lanes_running()
