"""Ready work by the bd 1.x rule (reference/beads.md, "Ready work").

An issue is blocked when its status is not finished and (a) it has a `blocks` or
`conditional-blocks` edge to an existing issue that is not finished, or (b) it has a
`parent-child` edge to a parent that is itself blocked (propagated to a fixed point).
Ready = status `open`, not blocked, and `defer_until` empty or in the past.

"Finished" here is `closed` or `pinned` (bd's rule) and also `tombstone`: a tombstone is a
deleted issue in old data, and a dependency on an issue that does not exist never blocks.
Everything is computed in one pass over the edges plus one breadth-first walk down the
parent-child edges, so it is linear in issues + edges and safe on cycles of any length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from orch_tui.orchestration.model import BLOCKING_TYPES, Task, TaskGraph

FINISHED_STATUSES = frozenset({"closed", "pinned", "tombstone"})
"""Statuses whose issues never block anything and are never blocked (bd 1.x, plus tombstone)."""

PARENT_CHILD = "parent-child"


@dataclass
class Readiness:
    """Who blocks whom in one graph: the facts behind `ready_tasks` and `blockers`."""

    direct_blockers: dict[str, list[str]] = field(default_factory=dict)
    """Issue id -> unfinished issues it depends on through a blocking edge (in edge order)."""
    blocked_parents: dict[str, list[str]] = field(default_factory=dict)
    """Issue id -> its blocked parents, for issues blocked only or also through a parent."""
    blocked: set[str] = field(default_factory=set)
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    """Issue id -> unfinished issues it depends on by a blocking or parent-child edge (the
    graph readiness walks, kept so cycle detection needs no second pass)."""

    def blockers_of(self, task_id: str) -> list[str]:
        """Open blocker ids, direct ones first, then blocked parents (no duplicates)."""
        found = self.direct_blockers.get(task_id, [])
        parents = [parent for parent in self.blocked_parents.get(task_id, []) if parent not in found]
        return [*found, *parents]


def is_finished(task: Task) -> bool:
    return task.status in FINISHED_STATUSES


def analyze_readiness(graph: TaskGraph) -> Readiness:
    """Direct blockers, then blocked parents propagated down to their children."""
    tasks = graph.tasks
    result = Readiness()
    children: dict[str, list[str]] = {}
    for task in tasks.values():
        if task.status in FINISHED_STATUSES:
            continue
        for dependency in task.dependencies:
            target = tasks.get(dependency.depends_on_id)
            if target is None or target.status in FINISHED_STATUSES:
                continue
            if dependency.type in BLOCKING_TYPES:
                found = result.direct_blockers.setdefault(task.id, [])
                if target.id not in found:
                    found.append(target.id)
            elif dependency.type == PARENT_CHILD:
                children.setdefault(target.id, []).append(task.id)
            else:
                continue
            result.depends_on.setdefault(task.id, []).append(target.id)
    result.blocked.update(result.direct_blockers)
    _propagate_to_children(result, children)
    return result


def readiness_of(graph: TaskGraph) -> Readiness:
    """`analyze_readiness(graph)`, worked out once a graph: the proposal, `orch-tui plan`
    and the dashboard's task tree all ask for it (kept in `graph.derived`)."""
    found = graph.derived.get("readiness")
    if not isinstance(found, Readiness):
        found = graph.derived["readiness"] = analyze_readiness(graph)
    return found


def _propagate_to_children(result: Readiness, children: dict[str, list[str]]) -> None:
    # Breadth-first from every directly blocked issue; the `blocked` set stops cycles.
    queue = deque(result.blocked)
    while queue:
        parent = queue.popleft()
        for child in children.get(parent, ()):
            result.blocked_parents.setdefault(child, []).append(parent)
            if child not in result.blocked:
                result.blocked.add(child)
                queue.append(child)


def as_aware(moment: datetime) -> datetime:
    """Naive timestamps are read as UTC, so comparisons never raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def is_deferred(task: Task, now: datetime) -> bool:
    return task.defer_until is not None and as_aware(task.defer_until) > as_aware(now)


def ready_tasks(graph: TaskGraph, now: datetime | None = None) -> list[Task]:
    """Open, unblocked, not deferred issues, highest priority first (then by id)."""
    now = now or datetime.now(timezone.utc)
    blocked = readiness_of(graph).blocked
    ready = [task for task in graph.tasks.values()
             if task.status == "open" and task.id not in blocked and not is_deferred(task, now)]
    ready.sort(key=lambda task: (task.priority, task.id))
    return ready


def blockers(graph: TaskGraph) -> dict[str, list[str]]:
    """Blocked issue id -> open blocker ids: direct blockers, then blocked parents."""
    readiness = readiness_of(graph)
    return {task_id: readiness.blockers_of(task_id) for task_id in sorted(readiness.blocked)}
