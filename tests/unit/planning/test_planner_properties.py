"""The planner on generated graphs (hypothesis): never a blocked, in_progress or overlapping
pick, the same answer every time, and a bv-compatible plan.

The checks are written independently of the planner: readiness is recomputed here from the
bd 1.x rule (reference/beads.md), overlap is checked on concrete paths.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from orch_tui.orchestration.planning.batch import propose_batch
from orch_tui.orchestration.model import Dependency, Task, TaskGraph
from orch_tui.orchestration.infra.patterns import path_matches
from orch_tui.orchestration.planning.robot_plan import robot_plan

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
STATUSES = ["open", "open", "open", "in_progress", "blocked", "closed", "hooked", "deferred",
            "pinned", "tombstone"]
FINISHED = {"closed", "pinned", "tombstone"}
PATTERNS = ["src/a.py", "src/**", "src/*.py", "docs", "docs/*.md", "lib/x.py", "*.md", "**/*.py",
            "tests/[ab]*.py", "tests/b?.py"]
PATHS = ["src/a.py", "src/b.py", "src/sub/c.py", "docs/x.md", "docs/sub/y.md", "lib/x.py",
         "README.md", "tests/a1.py", "tests/bx.py", "tests/c.py", "x.py"]
DEP_TYPES = ["blocks", "blocks", "", "parent-child", "related", "conditional-blocks", "waits-for"]


@st.composite
def graphs(draw: st.DrawFn) -> TaskGraph:
    count = draw(st.integers(1, 10))
    ids = [f"bd-{index}" for index in range(count)]
    graph = TaskGraph()
    for task_id in ids:
        files = draw(st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True))
        deps = draw(st.lists(st.tuples(st.sampled_from(ids + ["bd-ghost"]), st.sampled_from(DEP_TYPES)),
                             max_size=3))
        graph.tasks[task_id] = Task(
            id=task_id, title=f"task {task_id}", status=draw(st.sampled_from(STATUSES)),
            priority=draw(st.integers(0, 4)),
            issue_type=draw(st.sampled_from(["task", "task", "bug", "feature", "epic"])),
            description=("Files: " + ", ".join(files)) if files else "",
            dependencies=tuple(Dependency(task_id, target, kind) for target, kind in deps))
    return graph


def _blocked(graph: TaskGraph) -> set[str]:
    """bd 1.x: a blocking edge to an existing unfinished issue, or a blocked parent."""
    blocked = set()
    for task in graph.tasks.values():
        for dep in task.dependencies:
            target = graph.tasks.get(dep.depends_on_id)
            if dep.type in ("blocks", "", "conditional-blocks") and target and target.status not in FINISHED:
                blocked.add(task.id)
    changed = True
    while changed:
        changed = False
        for task in graph.tasks.values():
            if task.id in blocked or task.status in FINISHED:
                continue
            parents = [dep.depends_on_id for dep in task.dependencies if dep.type == "parent-child"]
            if any(parent in blocked and graph.tasks[parent].status not in FINISHED
                   for parent in parents if parent in graph.tasks):
                blocked.add(task.id)
                changed = True
    return blocked


def _files(task: Task) -> list[str]:
    return list(task.declared_files)


@given(graphs(), st.integers(2, 6))
def test_picks_are_ready_and_never_share_a_file(graph: TaskGraph, batch_size: int) -> None:
    proposal = propose_batch(graph, batch_size, now=NOW)
    picked = [graph.tasks[choice.task_id] for choice in proposal.picked]
    blocked = _blocked(graph)
    assert len(picked) <= batch_size
    assert len({task.id for task in picked}) == len(picked)
    for task in picked:
        assert task.status == "open", f"{task.id} is {task.status}"
        assert task.id not in blocked, f"{task.id} is blocked"
        assert task.issue_type != "epic"
    if any(not _files(task) for task in picked):
        assert len(picked) == 1, "a task without Files: runs alone"
    for index, first in enumerate(picked):
        for second in picked[index + 1:]:
            shared = [path for path in PATHS
                      if any(path_matches(path, p) for p in _files(first))
                      and any(path_matches(path, p) for p in _files(second))]
            assert not shared, f"{first.id} and {second.id} both touch {shared}"
    considered = {choice.task_id for choice in [*proposal.picked, *proposal.left_out]}
    not_done = {task.id for task in graph.tasks.values() if task.status not in ("closed", "tombstone")}
    assert considered == not_done, "every unfinished task is picked or left out with a reason"
    assert all(choice.reason for choice in proposal.left_out)


@given(graphs(), st.integers(2, 6), st.randoms(use_true_random=False))
def test_the_same_graph_in_any_order_gives_the_same_batch(graph: TaskGraph, batch_size: int,
                                                          shuffler: random.Random) -> None:
    first = propose_batch(graph, batch_size, now=NOW)
    items = list(graph.tasks.items())
    shuffler.shuffle(items)
    shuffled = TaskGraph(tasks=dict(items))
    again = propose_batch(shuffled, batch_size, now=NOW)
    assert [c.task_id for c in again.picked] == [c.task_id for c in first.picked]
    assert [(c.task_id, c.reason) for c in again.left_out] == [(c.task_id, c.reason) for c in first.left_out]
    assert robot_plan(shuffled) == robot_plan(graph)


@given(graphs())
def test_the_plan_keeps_bv_invariants(graph: TaskGraph) -> None:
    plan = robot_plan(graph)
    items = [item["id"] for track in plan["tracks"] for item in track["items"]]
    assert len(items) == len(set(items)), "each actionable issue is in exactly one track"
    assert len(items) == plan["total_actionable"]
    not_done = [task for task in graph.tasks.values() if task.status not in ("closed", "tombstone")]
    assert plan["total_actionable"] + plan["total_blocked"] == len(not_done)
    for task_id in items:
        task = graph.tasks[task_id]
        assert task.status not in ("closed", "tombstone")
        for dep in task.dependencies:
            target = graph.tasks.get(dep.depends_on_id)
            if dep.type in ("blocks", "") and target is not None:
                assert target.status in ("closed", "tombstone"), f"{task_id} waits for {target.id}"
    for track in plan["tracks"]:
        keys = [(item["priority"], item["id"]) for item in track["items"]]
        assert keys == sorted(keys)
    assert [t["track_id"] for t in plan["tracks"]] == [f"track-{chr(65 + n)}" for n in range(len(plan["tracks"]))]
    if items:
        assert plan["summary"]["highest_impact"] in items
    else:
        assert plan["summary"]["highest_impact"] == ""


@given(st.lists(st.tuples(st.sampled_from(["bd-a", "bd-A", "bd-b", "../x", "bd c", "-rf", "bd-c"]),
                          st.sampled_from(["src/a.py", "../out", "/etc/passwd", ".git/**", "~/x", "lib/*.py"])),
                min_size=1, max_size=6, unique_by=lambda pair: pair[0]), st.integers(2, 6))
def test_unsafe_ids_and_escaping_files_are_never_picked(pairs: list[tuple[str, str]], batch_size: int) -> None:
    graph = TaskGraph(tasks={task_id: Task(id=task_id, title=task_id, description=f"Files: {pattern}")
                             for task_id, pattern in pairs})
    picked = [choice.task_id for choice in propose_batch(graph, batch_size, now=NOW).picked]
    lowered = [task_id.casefold() for task_id in graph.tasks]
    for task_id in picked:
        assert task_id in ("bd-a", "bd-A", "bd-b", "bd-c")
        assert lowered.count(task_id.casefold()) == 1, "a case twin is never picked"
        pattern = graph.tasks[task_id].declared_files[0]
        assert pattern in ("src/a.py", "lib/*.py"), f"{task_id} writes {pattern}"
