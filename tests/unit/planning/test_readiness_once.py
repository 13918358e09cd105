"""Readiness is worked out once a graph: the proposal, `orch-tui plan`'s cycles and the
dashboard's task tree share it, and a reloaded graph (a new TaskGraph) gets its own."""

from __future__ import annotations

import pytest

from orch_tui.orchestration.planning import readiness
from orch_tui.orchestration.planning.planner import find_cycles, make_plan, propose_batch
from orch_tui.widgets.graph_index import GraphIndex
from tests.support.planner_graphs import graph, task


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many graphs `analyze_readiness` ran over."""
    calls: list[int] = []
    real = readiness.analyze_readiness

    def counted(tasks_graph):  # type: ignore[no-untyped-def]
        calls.append(len(tasks_graph))
        return real(tasks_graph)

    monkeypatch.setattr(readiness, "analyze_readiness", counted)
    return calls


def test_plan_cycles_and_the_task_tree_share_one_readiness(analyses: list[int]) -> None:
    tasks = graph(task("a"), task("b", deps=["a"]), task("c", deps=["b"]))
    proposal = make_plan(tasks).proposal
    assert find_cycles(tasks) == []
    index = GraphIndex.build(tasks)
    assert [choice.task_id for choice in proposal.picked] == ["a"]
    assert index.blockers == {"b": ["a"], "c": ["b"]} and index.ready == {"a"}
    assert analyses == [3]


def test_a_reloaded_graph_is_worked_out_afresh(analyses: list[int]) -> None:
    before = graph(task("a"), task("b", deps=["a"]))
    assert [choice.task_id for choice in propose_batch(before).picked] == ["a"]
    after = graph(task("a", "closed"), task("b", deps=["a"]))  # what a reload after closing a gives
    assert [choice.task_id for choice in propose_batch(after).picked] == ["b"]
    assert GraphIndex.build(after).ready == {"b"}
    assert analyses == [2, 2]
