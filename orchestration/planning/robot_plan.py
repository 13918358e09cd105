"""The `plan` object of `bv --robot-plan`, field for field and in bv's order.

Rules (reference/beads.md, "bv --robot-plan"), reproduced on purpose, faults included:
- actionable: status not done (`closed`, `tombstone`) and no `blocks` edge (empty type is
  stored as `blocks`) to an existing issue that is not done. `in_progress`, `hooked`,
  `deferred`, `pinned` and custom statuses are actionable when unblocked; `parent-child`,
  `conditional-blocks` and `waits-for` are ignored here. (The batch choice, not this
  section, is where bv's faults are fixed.)
- `unblocks` of X: sorted ids of not-done issues whose only remaining open blocker is X.
- tracks: undirected connected components over blocking edges, of all issues; each
  component's actionable members form one track. Tracks in order of the component's
  smallest id, items by priority then id; ids track-A..track-Z, track-AA, ...
- total_blocked = not-done issues minus actionable; summary names the actionable item
  that unblocks most (ties: lowest id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orch_tui.orchestration.model import DONE_STATUSES, TaskGraph

PLAN_BLOCKING_TYPES = frozenset({"blocks", ""})
"""The only dependency types bv's plan treats as blocking."""


@dataclass
class PlanAnalysis:
    """The plan object plus the lookups the batch choice reuses."""

    plan: dict[str, Any]
    components: _Components | None = None
    track_by_root: dict[int, str] = field(default_factory=dict)
    """Component root (see `_Components`) -> track id, for components with actionable members."""
    actionable: set[str] = field(default_factory=set)

    def track_of(self, task_id: str) -> str | None:
        """The track of the issue's component, or None when that component has none."""
        root = None if self.components is None else self.components.root_of(task_id)
        return None if root is None else self.track_by_root.get(root)


def track_name(number: int) -> str:
    """1 -> track-A, 26 -> track-Z, 27 -> track-AA (bijective base 26)."""
    letters = []
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters.append(chr(ord("A") + remainder))
    return "track-" + "".join(reversed(letters))


class _Components:
    """Union-find over the issues' positions in the graph, joined by blocking edges
    (undirected). Joining keeps the smaller id as the root, so every root is the position of
    its component's smallest id. Path halving keeps the trees shallow; no recursion."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.position = dict(zip(ids, range(len(ids))))
        self.parent = list(range(len(ids)))
        self.count = len(ids)

    def find(self, node: int) -> int:
        parent = self.parent
        while parent[node] != node:
            parent[node] = node = parent[parent[node]]
        return node

    def root_of(self, task_id: str) -> int | None:
        node = self.position.get(task_id)
        return None if node is None else self.find(node)


@dataclass
class _BlockingEdges:
    """One pass over the blocking edges: open blockers, and the components they form."""

    open_blockers: dict[str, list[str]]
    """Not-done issue id -> existing not-done issues it is blocked by (bv's rule)."""
    components: _Components
    not_done: list[str]
    """Ids of issues that are not done, in the graph's order."""


def _blocking_edges(graph: TaskGraph) -> _BlockingEdges:
    tasks = graph.tasks
    components = _Components(list(tasks))
    ids, position, parent = components.ids, components.position, components.parent
    unfinished = [task.status not in DONE_STATUSES for task in tasks.values()]
    open_blockers: dict[str, list[str]] = {}
    not_done: list[str] = []
    joined = 0
    for here, task in enumerate(tasks.values()):
        if unfinished[here]:
            not_done.append(task.id)
        for dependency in task.dependencies:
            if dependency.type not in PLAN_BLOCKING_TYPES:
                continue
            target = dependency.depends_on_id
            there = position.get(target)
            if there is None:
                continue
            # `_Components.join`, inlined: this loop runs once an edge
            a = here
            while parent[a] != a:
                parent[a] = a = parent[parent[a]]
            b = there
            while parent[b] != b:
                parent[b] = b = parent[parent[b]]
            if a != b:
                if ids[a] < ids[b]:
                    parent[b] = a
                else:
                    parent[a] = b
                joined += 1
            if unfinished[here] and unfinished[there]:
                found = open_blockers.setdefault(task.id, [])
                if target not in found:
                    found.append(target)
    components.count -= joined
    return _BlockingEdges(open_blockers, components, not_done)


def _unblocks(open_blockers: dict[str, list[str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for task_id, found in open_blockers.items():
        if len(found) == 1:
            result.setdefault(found[0], []).append(task_id)
    for ids in result.values():
        ids.sort()
    return result


def _summary(actionable: set[str], unblocks: dict[str, list[str]]) -> dict[str, Any]:
    if not actionable:
        return {"highest_impact": "", "impact_reason": "", "unblocks_count": 0}
    best = min(actionable, key=lambda task_id: (-len(unblocks.get(task_id, ())), task_id))
    count = len(unblocks.get(best, ()))
    reason = {0: "No downstream dependencies", 1: "Unblocks 1 task"}.get(count, "Unblocks multiple tasks")
    return {"highest_impact": best, "impact_reason": reason, "unblocks_count": count}


def analyze_plan(graph: TaskGraph) -> PlanAnalysis:
    tasks = graph.tasks
    edges = _blocking_edges(graph)
    open_blockers, components = edges.open_blockers, edges.components
    actionable = {task_id for task_id in edges.not_done if task_id not in open_blockers}
    unblocks = _unblocks(open_blockers)
    members: dict[int, list[str]] = {}
    find, position = components.find, components.position
    for task_id in actionable:
        members.setdefault(find(position[task_id]), []).append(task_id)
    single_component = components.count == 1
    tracks, track_by_root = [], {}
    smallest_id = components.ids.__getitem__  # a root is its component's smallest id
    for number, root in enumerate(sorted(members, key=smallest_id), start=1):
        ids = sorted(members[root], key=lambda task_id: (tasks[task_id].priority, task_id))
        track_by_root[root] = track_name(number)
        tracks.append({
            "track_id": track_by_root[root],
            "items": [_item(graph, task_id, unblocks) for task_id in ids],
            "reason": _track_reason(len(ids), single_component),
        })
    plan = {
        "tracks": tracks,
        "total_actionable": len(actionable),
        "total_blocked": len(edges.not_done) - len(actionable),
        "summary": _summary(actionable, unblocks),
    }
    return PlanAnalysis(plan, components, track_by_root, actionable)


def _item(graph: TaskGraph, task_id: str, unblocks: dict[str, list[str]]) -> dict[str, Any]:
    task = graph.tasks[task_id]
    return {"id": task.id, "title": task.title, "priority": task.priority,
            "status": task.status, "unblocks": list(unblocks.get(task_id, []))}


def _track_reason(item_count: int, single_component: bool) -> str:
    if item_count == 1:
        return "Single actionable item"
    if single_component:
        return "All issues in connected graph"
    return "Independent work stream"


def robot_plan(graph: TaskGraph) -> dict[str, Any]:
    """Exactly bv's `plan` object: tracks, total_actionable, total_blocked, summary."""
    return analyze_plan(graph).plan
