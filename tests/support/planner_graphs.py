"""Tiny hand-built TaskGraphs for the planner tests: `graph(task("a"), task("b", deps=["a"]))`."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from orch_tui.orchestration.model import Dependency, Task, TaskGraph


def task(task_id: str, status: str = "open", priority: int = 2, *,
         deps: Iterable[str | tuple[str, str]] = (), files: Iterable[str] = (),
         issue_type: str = "task", title: str = "", defer_until: datetime | None = None,
         assignee: str = "") -> Task:
    """`deps` holds ids (a `blocks` edge) or (id, type) pairs."""
    dependencies = tuple(
        Dependency(task_id, dep, "blocks") if isinstance(dep, str) else Dependency(task_id, dep[0], dep[1])
        for dep in deps)
    files = tuple(files)
    description = f"Do {task_id}.\n\nFiles: {', '.join(files)}\n" if files else f"Do {task_id}."
    return Task(id=task_id, title=title or f"Task {task_id}", status=status, priority=priority,
                issue_type=issue_type, description=description, dependencies=dependencies,
                defer_until=defer_until, assignee=assignee)


def graph(*tasks: Task) -> TaskGraph:
    return TaskGraph(tasks={one.id: one for one in tasks}, source="hand-built")


def chain(length: int, status: str = "open") -> TaskGraph:
    """c00000 <- c00001 <- ... : each issue blocked by the one before it."""
    ids = [f"c{number:05d}" for number in range(length)]
    return graph(*(task(task_id, status, deps=[ids[n - 1]] if n else [])
                   for n, task_id in enumerate(ids)))
