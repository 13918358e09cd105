"""The proposed batch: which ready tasks run side by side, and why each one was or was not picked.

Rules, in the order they apply (each choice carries its reason in words):
1. Only ready work is proposed: status `open`, unblocked and not deferred by the bd 1.x rule
   (`readiness`). This is where bv's faults are fixed: `in_progress`, `hooked` and blocked
   issues are never proposed, whatever the bv-compatible plan lists.
2. Only coding work goes to coder agents. Epics are containers (their children are the
   work), and messages, gates, molecules, events, agents, rigs and similar bookkeeping types
   are not code changes (`NOT_CODER_WORK`).
3. Tasks the person dropped (`exclude`) and tasks already running in a lane (`busy`) are not
   picked. A busy task's declared files stay reserved: nothing overlapping them is picked.
4. No two tasks in a batch may have overlapping declared file patterns (the `Files:` line,
   see `model.parse_declared_files`; overlap by `patterns.first_overlap`). A task that
   declares no files could touch anything and its edits cannot be reserved, so it counts as
   overlapping everything: it runs only alone, as the first task of an otherwise empty
   batch, and the reason says to add a `Files:` line. (Batching it blindly risks a merge
   conflict per batch; leaving it out for good would starve it. Running alone is safe and
   still makes progress.)
5. Order: the person's pinned tasks first (if still eligible), then highest priority first.
   Within one priority, tasks are spread across bv tracks: a first pass takes at most one
   task per track not yet in the batch, a second pass fills the remaining slots from tracks
   already used. This is how the design's "one task per track unless the track has several
   independent ready tasks" reads here: any two ready tasks are independent (a ready task
   has no open blocker), so a track may contribute several, but never ahead of another
   track's task of the same priority, and priority always comes before spreading.
6. A task whose id cannot be a branch name, differs from another id only in case, or whose
   `Files:` reach outside the repository is never picked (`task_safety`); the reason says
   what to fix.
At most `batch_size` tasks (2..6) are picked; `busy` lanes do not use up slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping, Sequence

from orch_tui.orchestration.settings.config import check_batch_size
from orch_tui.orchestration.planning.cycles import cycles_in
from orch_tui.orchestration.model import DONE_STATUSES, Task, TaskGraph
from orch_tui.orchestration.infra.patterns import first_overlap
from orch_tui.orchestration.planning.readiness import Readiness, as_aware, is_deferred, readiness_of
from orch_tui.orchestration.planning.robot_plan import PlanAnalysis, analyze_plan
from orch_tui.orchestration.proposal import BatchChoice as BatchChoice, BatchProposal as BatchProposal
from orch_tui.orchestration.tracker.task_safety import case_twins, dispatch_problem

NOT_CODER_WORK = {
    "epic": "an epic groups other tasks; its children are dispatched, not the epic",
    "milestone": "a milestone marks progress; it is not a code change",
    "message": "a message is mail between agents, not a code change",
    "gate": "a gate waits for a condition or a person, not for code",
    "molecule": "a molecule is a workflow template, not a code change",
    "event": "an event is a log record, not a code change",
    "merge-request": "a merge request is handled by the merge queue, not by a coder",
    "agent": "an agent record describes a worker, not a code change",
    "role": "a role record describes a worker, not a code change",
    "rig": "a rig record describes a workspace, not a code change",
    "convoy": "a convoy groups other tasks; its members are dispatched",
    "decision": "a decision is for a person to make, not a coder agent",
}
"""Issue types never dispatched to coder agents, with the reason shown to the person."""

NO_FILES_HINT = "add a `Files:` line to its description to batch it with others"
NO_FILES_SHORT_HINT = "add a `Files:` line to batch it"
NO_FILES_PICKED = "declares no files, so its edits cannot be reserved: it runs alone"


@dataclass
class _Lane:
    """A slot that holds files: a picked task, or a task running in a lane (busy)."""

    task_id: str
    files: tuple[str, ...]
    running: bool = False

    def describe(self) -> str:
        return f"running {self.task_id}" if self.running else self.task_id


class _Selection:
    """The batch being built: its lanes, what they hold, and the reasons given so far."""

    def __init__(self, graph: TaskGraph, batch_size: int, track_of: Callable[[str], str | None],
                 busy: list[_Lane]) -> None:
        self.graph = graph
        self.batch_size = batch_size
        self.track_of = track_of
        self.held = list(busy)
        self.picked: list[BatchChoice] = []
        self.tracks_used: set[str] = set()
        self.reasons: dict[str, str] = {}
        self._files: dict[str, tuple[str, ...]] = {}

    def files_of(self, task: Task) -> tuple[str, ...]:
        """Declared files, parsed once per task (the description is parsed on every access)."""
        files = self._files.get(task.id)
        if files is None:
            files = self._files[task.id] = task.declared_files
        return files

    def choice(self, task: Task, picked: bool, reason: str) -> BatchChoice:
        return BatchChoice(task.id, task.title, task.priority, picked, reason,
                           self.files_of(task), self.track_of(task.id))

    def full(self) -> bool:
        return len(self.picked) >= self.batch_size

    def clash(self, task: Task) -> str | None:
        """Why `task` cannot join the lanes held so far because of files, or None."""
        files = self.files_of(task)
        for lane in self.held:
            if not files:
                return (f"declares no files (runs only alone) and {lane.describe()} is already "
                        f"in the batch; {NO_FILES_SHORT_HINT}")
            if not lane.files:
                return f"{lane.describe()} declares no files and runs alone"
            pair = first_overlap(files, lane.files)
            if pair is not None:
                ours, theirs = pair
                where = theirs if ours == theirs else f"{ours} / {theirs}"
                return f"overlaps {lane.describe()} on {where}"
        return None

    def take(self, task: Task, reason: str) -> None:
        if not self.files_of(task):
            reason += f"; {NO_FILES_PICKED} ({NO_FILES_HINT})"
        self.picked.append(self.choice(task, True, reason))
        self.held.append(_Lane(task.id, self.files_of(task)))
        track = self.track_of(task.id)
        if track is not None:
            self.tracks_used.add(track)


def _not_ready_reason(task: Task, readiness: Readiness, now: datetime) -> str | None:
    """Why an unfinished issue is not ready work, or None when it is ready."""
    found = readiness.direct_blockers.get(task.id)
    if found:
        return "blocked by " + _ids(found)
    parents = readiness.blocked_parents.get(task.id)
    if parents:
        return f"blocked: parent {_ids(parents)} is blocked"
    if task.status != "open":
        owner = f" ({task.assignee})" if task.assignee else ""
        return f"{task.status}{owner}: only open tasks are proposed"
    if is_deferred(task, now):
        return f"deferred until {as_aware(task.defer_until).isoformat()}"  # type: ignore[arg-type]
    return None


def _ids(ids: list[str], shown: int = 3) -> str:
    text = ", ".join(ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _pick_reason(task: Task, track: str | None, first_in_track: bool) -> str:
    if track is None:
        return f"P{task.priority}, ready"
    if first_in_track:
        return f"P{task.priority}, ready; first pick from {track}"
    return f"P{task.priority}, ready; {track} has several independent ready tasks"


def propose_batch(graph: TaskGraph, batch_size: int = 4, *, exclude: Iterable[str] = (),
                  pinned: Sequence[str] = (), busy: Iterable[str] = (),
                  held_back: Mapping[str, str] | None = None,
                  now: datetime | None = None) -> BatchProposal:
    """Up to `batch_size` ready tasks that can run side by side, with a reason for every choice.

    `exclude` are tasks the person dropped; `held_back` maps tasks the engine keeps out (a
    failure in this session, until a person retries it) to the reason shown.
    """
    return propose_with_plan(graph, analyze_plan(graph), batch_size, exclude=exclude,
                             pinned=pinned, busy=busy, held_back=held_back, now=now)


def propose_with_plan(graph: TaskGraph, plan: PlanAnalysis, batch_size: int = 4, *,
                      exclude: Iterable[str] = (), pinned: Sequence[str] = (),
                      busy: Iterable[str] = (), held_back: Mapping[str, str] | None = None,
                      now: datetime | None = None) -> BatchProposal:
    """`propose_batch` reusing a plan analysis already made (so the graph is read once)."""
    check_batch_size(batch_size)
    now = now or datetime.now(timezone.utc)
    readiness = readiness_of(graph)
    track_of = plan.track_of
    excluded, busy_ids = set(exclude), set(busy)
    busy_lanes = [_Lane(task_id, graph.tasks[task_id].declared_files, running=True)
                  for task_id in busy if task_id in graph.tasks]
    selection = _Selection(graph, batch_size, track_of, busy_lanes)
    twins = case_twins(graph.tasks)

    unfinished = sorted((task for task in graph.tasks.values() if task.status not in DONE_STATUSES),
                        key=lambda task: (task.priority, task.id))
    candidates: list[Task] = []
    others: list[tuple[Task, str]] = []
    for task in unfinished:
        reason = _gate_reason(task, readiness, now, excluded, busy_ids)
        if reason is None:  # task text must not steer a lane outside the repository
            reason = dispatch_problem(task, selection.files_of(task), twins)
        if reason is None and held_back and task.id in held_back and task.id not in pinned:
            reason = held_back[task.id]
        if reason is None:
            candidates.append(task)
        else:
            others.append((task, reason))

    _pick_pinned(selection, pinned, {task.id for task in candidates})
    _pick_spread(selection, candidates)
    left_out = [selection.choice(task, False, selection.reasons[task.id])
                for task in candidates if task.id in selection.reasons]
    kept = set(pinned)
    left_out += [selection.choice(task, False, f"kept by you, but {reason}" if task.id in kept else reason)
                 for task, reason in others]
    left_out += _pinned_gone(selection, pinned, graph)
    return BatchProposal(batch_size, selection.picked, left_out, cycles_in(readiness.depends_on))


def _gate_reason(task: Task, readiness: Readiness, now: datetime, excluded: set[str],
                 busy: set[str]) -> str | None:
    """Why an unfinished issue can never be picked in this batch, or None."""
    if task.id in busy:
        return "running in a lane"
    if task.status == "pinned":
        return "pinned: a standing issue, not work to dispatch"
    not_ready = _not_ready_reason(task, readiness, now)
    if not_ready:
        return not_ready
    if task.issue_type in NOT_CODER_WORK:
        return f"not for a coder agent: {NOT_CODER_WORK[task.issue_type]}"
    if task.id in excluded:
        return "dropped by you"
    return None


def _pick_pinned(selection: _Selection, pinned: Sequence[str], eligible: set[str]) -> None:
    for task_id in dict.fromkeys(pinned):
        if task_id not in eligible or task_id in selection.reasons:
            continue
        task = selection.graph.tasks[task_id]
        if selection.full():
            selection.reasons[task_id] = f"kept by you, but the batch is full ({selection.batch_size} tasks)"
            continue
        clash = selection.clash(task)
        if clash:
            selection.reasons[task_id] = f"kept by you, but {clash}"
            continue
        selection.take(task, f"kept by you (P{task.priority})")
        selection.reasons[task_id] = ""


def _pick_spread(selection: _Selection, candidates: list[Task]) -> None:
    """Priority levels in order; within one level, two passes: new tracks first, then fill."""
    for _, level in groupby(candidates, key=lambda task: task.priority):
        same_priority = list(level)
        for first_pass in (True, False):
            for task in same_priority:
                if task.id not in selection.reasons:
                    _consider(selection, task, first_pass)
    for choice in selection.picked:
        selection.reasons.pop(choice.task_id, None)


def _consider(selection: _Selection, task: Task, first_pass: bool) -> None:
    track = selection.track_of(task.id)
    if selection.full():
        selection.reasons[task.id] = f"batch full ({selection.batch_size} tasks)"
        return
    if first_pass and track is not None and track in selection.tracks_used:
        return  # second pass: tracks without a task of this priority go first
    clash = selection.clash(task)
    if clash:
        selection.reasons[task.id] = clash
        return
    selection.take(task, _pick_reason(task, track, track not in selection.tracks_used))
    selection.reasons[task.id] = ""


def _pinned_gone(selection: _Selection, pinned: Sequence[str], graph: TaskGraph) -> list[BatchChoice]:
    """Pinned ids that are no longer in the tracker or are finished get a reason too."""
    result = []
    for task_id in dict.fromkeys(pinned):
        task = graph.tasks.get(task_id)
        if task is None:
            result.append(BatchChoice(task_id, "", 0, False, "kept by you, but no such issue any more",
                                      (), None))
        elif task.status in DONE_STATUSES:
            result.append(selection.choice(task, False, f"kept by you, but it is {task.status}"))
    return result
