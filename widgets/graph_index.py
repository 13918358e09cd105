"""What the graph widget needs to know about a TaskGraph, computed once per graph.

Parents (epics) and children come from `parent-child` edges; readiness and blockers come
from the planner's bd 1.x rule (orchestration/planning/readiness.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from orch_tui.orchestration.model import Task, TaskGraph
from orch_tui.orchestration.planning.readiness import blockers, is_deferred


@dataclass
class GraphIndex:
    graph: TaskGraph
    children: dict[str | None, list[str]] = field(default_factory=dict)
    """Parent id (None for the top level) -> child ids, sorted by priority then id."""
    parent: dict[str, str] = field(default_factory=dict)
    blockers: dict[str, list[str]] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, graph: TaskGraph, now: datetime | None = None) -> GraphIndex:
        index = cls(graph)
        for task in graph.tasks.values():
            for dep in task.dependencies:
                if dep.type == "parent-child" and dep.depends_on_id in graph.tasks \
                        and dep.depends_on_id != task.id:
                    index.parent[task.id] = dep.depends_on_id
                    break
        index._break_parent_cycles()
        for task_id in graph.tasks:
            index.children.setdefault(index.parent.get(task_id), []).append(task_id)
        # unfinished work first (most trackers are mostly closed issues), then priority, id
        order = {tid: (t.is_done, t.priority, tid) for tid, t in graph.tasks.items()}
        for ids in index.children.values():
            ids.sort(key=order.__getitem__)
        index.blockers = blockers(graph)
        now = now or datetime.now(timezone.utc)
        index.ready = {tid for tid, task in graph.tasks.items()
                       if task.status == "open" and tid not in index.blockers and not is_deferred(task, now)}
        return index

    def _break_parent_cycles(self) -> None:
        """A parent chain that loops would hide its tasks from the tree: cut it."""
        for start in list(self.parent):
            seen = {start}
            node = self.parent.get(start)
            while node is not None:
                if node in seen:
                    self.parent.pop(start, None)
                    break
                seen.add(node)
                node = self.parent.get(node)

    def task(self, task_id: str) -> Task:
        return self.graph.tasks[task_id]
