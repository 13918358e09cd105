"""Keeps an EngineSnapshot true by folding every event into it, so a front end that starts
late (or redraws) reads the same picture the events described.

The one place that turns events into state: the engine folds its own snapshot with it and
the dashboard folds its copy with it (app/engine_mirror.py adds only what to redraw)."""

from __future__ import annotations

import time
from functools import singledispatch
from typing import Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot, EngineState, HeldMerge, LaneView, MergeView

Clock = Callable[[], float]


def _lane(view: EngineSnapshot, number: int) -> LaneView:
    while len(view.lanes) < number:
        view.lanes.append(LaneView(len(view.lanes) + 1))
    return view.lanes[number - 1]


def _merge(view: EngineSnapshot, task_id: str, branch: str) -> MergeView:
    found = next((merge for merge in view.merges if merge.task_id == task_id), None)
    if found is None:
        found = MergeView(task_id, branch, check=view.checks.get(task_id))
        view.merges.append(found)
    return found


def apply_event(view: EngineSnapshot, event: ev.Event, *, clock: Clock = time.time) -> None:
    """Fold `event` into `view`; `clock` stamps when a lane started (tests freeze it)."""
    _apply(event, view, clock)


@singledispatch
def _apply(event: ev.Event, view: EngineSnapshot, clock: Clock) -> None:
    """Events that change nothing a snapshot shows."""


@_apply.register
def _(event: ev.EngineStateChanged, view: EngineSnapshot, clock: Clock) -> None:
    view.state = EngineState(event.state)


@_apply.register
def _(event: ev.BatchProposed, view: EngineSnapshot, clock: Clock) -> None:
    view.proposal = event.proposal
    view.batch_size = event.proposal.batch_size  # +/- on the approval screen re-proposes at the new size


@_apply.register
def _(event: ev.BatchSizeChanged, view: EngineSnapshot, clock: Clock) -> None:
    view.batch_size = event.size


@_apply.register
def _(event: ev.BatchApproved, view: EngineSnapshot, clock: Clock) -> None:
    view.proposal = None
    view.merges = []
    view.conflict = None
    # A new batch starts on clean lanes, as many as the batch size (or the batch, if larger).
    count = max(len(event.task_ids), view.batch_size)
    view.lanes = [LaneView(number) for number in range(1, count + 1)]


@_apply.register
def _(event: ev.BatchRejected, view: EngineSnapshot, clock: Clock) -> None:
    view.proposal = None


@_apply.register
def _(event: ev.LaneStarted, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.task_id, lane.title, lane.status = event.task_id, event.title, "starting"
    lane.started_at, lane.action, lane.diff, lane.diff_files = clock(), "", "", ()
    lane.alerts, lane.outcome, lane.inputs = (), None, ()
    lane.tokens, lane.cost = 0, 0.0
    lane.ports, lane.copied, lane.setup, lane.check = (), (), "", None


@_apply.register
def _(event: ev.LaneProgress, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    # A tool part arriving while the agent waits (its own "running" update) keeps it waiting.
    lane.status = NEEDS_INPUT if lane.inputs and event.status == "busy" else event.status
    if event.tokens is not None:
        lane.tokens = event.tokens
    if event.cost is not None:
        lane.cost = event.cost
    if event.action:
        lane.action = event.action


NEEDS_INPUT = "needs-input"
"""A lane's status while its agent waits for a person (a permission or a question)."""


@_apply.register
def _(event: ev.LaneNeedsInput, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    if all(request.id != event.request.id for request in lane.inputs):
        lane.inputs = (*lane.inputs, event.request)
    lane.status = NEEDS_INPUT


@_apply.register
def _(event: ev.LaneInputAnswered, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.inputs = tuple(request for request in lane.inputs if request.id != event.request_id)
    if not lane.inputs and lane.status == NEEDS_INPUT:
        lane.status = "busy"
    lane.action = f"{event.answer} by {event.by}"


@_apply.register
def _(event: ev.LaneDiff, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.diff, lane.diff_files = event.diff, event.files


@_apply.register
def _(event: ev.LaneAlert, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.alerts = (*lane.alerts, event.message)


@_apply.register
def _(event: ev.LaneStalled, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    if lane.inputs:  # waiting for a person is said as that, never as a stall
        return
    lane.status = "stalled"
    lane.action = stall_text(event)


def stall_text(event: ev.LaneStalled) -> str:
    """What a stalled lane shows: how long its agent has been silent and what it last did."""
    seconds = round(event.silent_seconds)
    silent = f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
    return f"silent for {silent}" + (f"; last: {event.last_action}" if event.last_action else "")


@_apply.register
def _(event: ev.LaneFinished, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.status, lane.outcome, lane.inputs = event.outcome.value, event.outcome.value, ()
    if event.reason:
        lane.action = event.reason


@_apply.register
def _(event: ev.ReservationsChanged, view: EngineSnapshot, clock: Clock) -> None:
    view.reservations = event.reservations


@_apply.register
def _(event: ev.ModeChanged, view: EngineSnapshot, clock: Clock) -> None:
    view.mode, view.mode_reason = event.mode, event.reason


@_apply.register
def _(event: ev.MergePredicted, view: EngineSnapshot, clock: Clock) -> None:
    merge = _merge(view, event.task_id, event.branch)
    merge.predicted_conflicts = event.conflicted_files
    merge.state = "predicted-conflict" if event.conflicted_files else "predicted-clean"
    view.merges.sort(key=lambda item: item.state == "merged" and -1 or 0)


@_apply.register
def _(event: ev.MergeStarted, view: EngineSnapshot, clock: Clock) -> None:
    _merge(view, event.task_id, event.branch).state = "merging"


@_apply.register
def _(event: ev.MergeConflict, view: EngineSnapshot, clock: Clock) -> None:
    _merge(view, event.task_id, event.branch).state = "conflict"
    view.conflict = event.conflict


@_apply.register
def _(event: ev.MergeCheckFailed, view: EngineSnapshot, clock: Clock) -> None:
    merge = _merge(view, event.task_id, event.branch)
    merge.state, merge.output = "check-failed", event.output


@_apply.register
def _(event: ev.MergeDone, view: EngineSnapshot, clock: Clock) -> None:
    merge = _merge(view, event.task_id, event.branch)
    merge.state, merge.commit = "merged", event.commit
    view.conflict = None


@_apply.register
def _(event: ev.ConflictChanged, view: EngineSnapshot, clock: Clock) -> None:
    view.conflict = event.conflict


@_apply.register
def _(event: ev.GraphReloaded, view: EngineSnapshot, clock: Clock) -> None:
    view.graph = event.graph


@_apply.register
def _(event: ev.LaneEnvironmentReady, view: EngineSnapshot, clock: Clock) -> None:
    lane = _lane(view, event.lane)
    lane.ports, lane.copied, lane.setup = event.ports, event.copied, event.setup


@_apply.register
def _(event: ev.LaneCheckFinished, view: EngineSnapshot, clock: Clock) -> None:
    _lane(view, event.lane).check = event.check
    view.checks[event.task_id] = event.check
    found = next((merge for merge in view.merges if merge.task_id == event.task_id), None)
    if found is not None:
        found.check = event.check


@_apply.register
def _(event: ev.MergeHeldForCheck, view: EngineSnapshot, clock: Clock) -> None:
    merge = _merge(view, event.task_id, event.branch)
    merge.state, merge.check = "held", event.check
    view.held = HeldMerge(event.task_id, event.branch, event.check)


@_apply.register
def _(event: ev.CheckHoldAnswered, view: EngineSnapshot, clock: Clock) -> None:
    view.held = None
    if event.answer != "merge":
        _merge(view, event.task_id, event.branch).state = f"{event.answer}: not merged"
