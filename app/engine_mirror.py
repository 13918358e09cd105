"""The front end's copy of the engine's state, kept current by applying events to it.

Pure data and no Textual: the app draws from `EngineSnapshot` at start-up, then `apply`
folds each event in and says which parts of the screen changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot, EngineState, LaneView, MergeView
from orch_tui.orchestration.events import LaneOutcome, Mode


@dataclass
class Changes:
    """What an event changed; the screens redraw only those parts."""

    lanes: set[int] = field(default_factory=set)
    diff_lanes: set[int] = field(default_factory=set)
    truncated: dict[int, bool] = field(default_factory=dict)
    banner: bool = False
    reservations: bool = False
    merges: bool = False
    graph: bool = False
    proposal: bool = False
    conflict: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class EngineMirror:
    snapshot: EngineSnapshot
    clock: Callable[[], float]
    error: str = ""

    def lane(self, number: int) -> LaneView:
        for view in self.snapshot.lanes:
            if view.lane == number:
                return view
        view = LaneView(number)
        self.snapshot.lanes.append(view)
        self.snapshot.lanes.sort(key=lambda item: item.lane)
        return view

    def merge(self, task_id: str, branch: str) -> MergeView:
        for item in self.snapshot.merges:
            if item.task_id == task_id:
                return item
        item = MergeView(task_id, branch)
        self.snapshot.merges.append(item)
        return item

    @property
    def lane_count(self) -> int:
        return max([self.snapshot.batch_size] + [view.lane for view in self.snapshot.lanes if view.task_id])

    def apply(self, event: ev.Event) -> Changes:
        changes = Changes()
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event, changes)
        return changes

    # ----- engine -------------------------------------------------------------------------
    def _on_EngineStateChanged(self, event: ev.EngineStateChanged, changes: Changes) -> None:
        try:
            self.snapshot.state = EngineState(event.state)
        except ValueError:
            pass
        if self.snapshot.state != EngineState.WAITING_FOR_PERSON:
            self.error = ""
        changes.banner = True
        changes.log.append((f"engine {event.state}" + (f": {event.detail}" if event.detail else ""), "info"))

    def _on_BatchProposed(self, event: ev.BatchProposed, changes: Changes) -> None:
        self.snapshot.proposal = event.proposal
        self.snapshot.state = EngineState.PROPOSED
        size = getattr(event.proposal, "batch_size", None)
        if isinstance(size, int):
            self.snapshot.batch_size = size
        changes.proposal = changes.banner = True
        changes.lanes = set(range(1, self.lane_count + 1))
        picked = [getattr(c, "task_id", "?") for c in getattr(event.proposal, "picked", ())]
        changes.log.append((f"batch proposed: {', '.join(picked) or 'nothing ready'}", "info"))

    def _on_BatchApproved(self, event: ev.BatchApproved, changes: Changes) -> None:
        self.snapshot.proposal = None
        for view in self.snapshot.lanes:  # a new batch starts with clean lanes
            if view.outcome is not None:
                self.snapshot.lanes[self.snapshot.lanes.index(view)] = LaneView(view.lane)
                changes.lanes.add(view.lane)
                changes.diff_lanes.add(view.lane)
        changes.proposal = changes.banner = True
        changes.log.append((f"batch approved: {', '.join(event.task_ids)}", "info"))

    def _on_BatchRejected(self, event: ev.BatchRejected, changes: Changes) -> None:
        self.snapshot.proposal = None
        changes.proposal = changes.banner = True
        changes.log.append(("batch rejected" + (f": {event.reason}" if event.reason else ""), "warning"))

    def _on_ModeChanged(self, event: ev.ModeChanged, changes: Changes) -> None:
        self.snapshot.mode = Mode(event.mode)
        self.snapshot.mode_reason = event.reason
        changes.banner = True
        changes.log.append((f"{event.mode} mode: {event.reason}",
                            "warning" if event.mode == Mode.SEQUENTIAL else "info"))

    # ----- lanes --------------------------------------------------------------------------
    def _on_LaneStarted(self, event: ev.LaneStarted, changes: Changes) -> None:
        view = self.lane(event.lane)
        self.snapshot.lanes[self.snapshot.lanes.index(view)] = LaneView(
            event.lane, event.task_id, event.title, status="starting", started_at=self.clock())
        changes.lanes.add(event.lane)
        changes.diff_lanes.add(event.lane)
        changes.banner = True
        changes.log.append((f"lane {event.lane}: {event.task_id} started on {event.branch}", "info"))

    def _on_LaneProgress(self, event: ev.LaneProgress, changes: Changes) -> None:
        view = self.lane(event.lane)
        view.status, view.action = event.status, event.action or view.action
        changes.lanes.add(event.lane)

    def _on_LaneDiff(self, event: ev.LaneDiff, changes: Changes) -> None:
        view = self.lane(event.lane)
        view.diff, view.diff_files = event.diff, tuple(event.files)
        changes.lanes.add(event.lane)
        changes.diff_lanes.add(event.lane)
        changes.truncated[event.lane] = event.truncated

    def _on_LaneAlert(self, event: ev.LaneAlert, changes: Changes) -> None:
        view = self.lane(event.lane)
        view.alerts = (*view.alerts, event.message)
        changes.lanes.add(event.lane)
        changes.banner = True
        changes.log.append((f"lane {event.lane} ALERT: {event.message}", "alert"))

    def _on_LaneFinished(self, event: ev.LaneFinished, changes: Changes) -> None:
        view = self.lane(event.lane)
        view.outcome = str(event.outcome)
        view.status = str(event.outcome)
        if event.reason:
            view.action = event.reason
        changes.lanes.add(event.lane)
        changes.banner = True
        bad = event.outcome != LaneOutcome.SUCCEEDED
        changes.log.append((f"lane {event.lane}: {event.task_id} {event.outcome}"
                            + (f": {event.reason}" if event.reason else ""), "error" if bad else "info"))

    def _on_ReservationsChanged(self, event: ev.ReservationsChanged, changes: Changes) -> None:
        self.snapshot.reservations = tuple(event.reservations)
        changes.reservations = True

    # ----- merges -------------------------------------------------------------------------
    def _on_MergePredicted(self, event: ev.Event, changes: Changes) -> None:
        item = self.merge(getattr(event, "task_id", "?"), getattr(event, "branch", ""))
        item.predicted_conflicts = tuple(getattr(event, "conflicted_files", ()))
        item.state = "predicted-conflict" if item.predicted_conflicts else "predicted-clean"
        changes.merges = True

    def _on_MergeStarted(self, event: ev.MergeStarted, changes: Changes) -> None:
        self.merge(event.task_id, event.branch).state = "merging"
        self.snapshot.state = EngineState.MERGING
        changes.merges = changes.banner = True
        changes.log.append((f"merging {event.task_id} ({event.branch})", "info"))

    def _on_MergeConflict(self, event: ev.MergeConflict, changes: Changes) -> None:
        item = self.merge(event.task_id, event.branch)
        item.state = "conflict"
        self.snapshot.conflict = event.conflict if event.conflict is not None else event
        self.snapshot.state = EngineState.WAITING_FOR_PERSON
        changes.merges = changes.banner = changes.conflict = True
        changes.log.append((f"merge conflict in {event.task_id}: {', '.join(event.files)}", "error"))

    def _on_MergeCheckFailed(self, event: ev.MergeCheckFailed, changes: Changes) -> None:
        self.merge(event.task_id, event.branch).state = "check-failed"
        self.snapshot.state = EngineState.WAITING_FOR_PERSON
        self.error = f"check failed after merging {event.task_id}"
        changes.merges = changes.banner = True
        changes.log.append((f"check failed for {event.task_id}: {event.output}", "error"))

    def _on_MergeDone(self, event: ev.MergeDone, changes: Changes) -> None:
        item = self.merge(event.task_id, event.branch)
        item.state, item.commit = "merged", event.commit
        if self.snapshot.conflict is not None and conflict_task(self.snapshot.conflict) in (event.task_id, None):
            self.snapshot.conflict = None
            changes.conflict = True
        changes.merges = changes.banner = True
        changes.log.append((f"merged {event.task_id} at {event.commit[:10]}", "info"))

    # ----- messages -----------------------------------------------------------------------
    def _on_ErrorRaised(self, event: ev.ErrorRaised, changes: Changes) -> None:
        self.error = event.message
        changes.banner = True
        changes.log.append((event.message + (f": {event.detail}" if event.detail else ""), "error"))

    def _on_LogLine(self, event: ev.LogLine, changes: Changes) -> None:
        changes.log.append((event.text, event.level))

    def clear_conflict(self) -> None:
        self.snapshot.conflict = None


def conflict_task(conflict: object) -> str | None:
    return getattr(conflict, "task_id", None)


def copy_snapshot(snapshot: EngineSnapshot) -> EngineSnapshot:
    """A private copy, so the mirror never edits the engine's own lists."""
    return replace(snapshot, lanes=[replace(view) for view in snapshot.lanes],
                   merges=[replace(item) for item in snapshot.merges])
