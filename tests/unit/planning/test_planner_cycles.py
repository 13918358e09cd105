"""Dependency cycles: reported with the ids on the cycle; never a hang, a crash or a deep recursion."""

from __future__ import annotations

from orch_tui.orchestration.planning.planner import find_cycles, make_plan, propose_batch, ready_tasks, robot_plan

from tests.support.planner_graphs import chain, graph, task


def test_no_cycles_in_a_dag() -> None:
    built = graph(task("a"), task("b", deps=["a"]), task("c", deps=["a", "b"]))
    assert find_cycles(built) == []


def test_a_three_cycle_starts_at_its_smallest_id_and_follows_depends_on() -> None:
    # b depends on a, c on b, a on c: read as a -> c -> b -> a ("a waits for c ...").
    built = graph(task("b", deps=["a"]), task("c", deps=["b"]), task("a", deps=["c"]))
    assert find_cycles(built) == [["a", "c", "b"]]


def test_a_self_dependency_is_a_cycle_of_one() -> None:
    assert find_cycles(graph(task("a", deps=["a"]), task("b"))) == [["a"]]


def test_separate_cycles_are_each_reported_in_id_order() -> None:
    built = graph(task("x", deps=["y"]), task("y", deps=["x"]), task("b", deps=["a"]), task("a", deps=["b"]),
                  task("free"))
    assert find_cycles(built) == [["a", "b"], ["x", "y"]]


def test_parent_child_edges_count_toward_cycles() -> None:
    built = graph(task("child", deps=[("epic", "parent-child")]), task("epic", deps=["child"]))
    assert find_cycles(built) == [["child", "epic"]]


def test_a_cycle_through_a_closed_issue_blocks_nothing_and_is_not_reported() -> None:
    built = graph(task("a", deps=["b"]), task("b", "closed", deps=["a"]))
    assert find_cycles(built) == []
    assert [one.id for one in ready_tasks(built)] == ["a"]


def test_related_edges_never_make_a_cycle() -> None:
    assert find_cycles(graph(task("a", deps=[("b", "related")]), task("b", deps=[("a", "related")]))) == []


def test_a_cycle_with_a_tail_reports_only_the_loop() -> None:
    built = graph(task("tail", deps=["a"]), task("a", deps=["b"]), task("b", deps=["c"]), task("c", deps=["a"]))
    assert find_cycles(built) == [["a", "b", "c"]]


def test_a_twenty_thousand_long_cycle_is_found_without_recursion() -> None:
    built = chain(20_000)
    built.tasks["c00000"] = task("c00000", deps=["c19999"])
    cycles = find_cycles(built)
    assert len(cycles) == 1 and len(cycles[0]) == 20_000 and cycles[0][0] == "c00000"
    assert cycles[0][1] == "c19999"  # c00000 depends on c19999
    assert ready_tasks(built) == []
    assert robot_plan(built)["total_actionable"] == 0


def test_a_twenty_thousand_deep_parent_chain_propagates_without_recursion() -> None:
    tasks = [task("gate"), task("p00000", deps=["gate"])]
    tasks += [task(f"p{n:05d}", deps=[(f"p{n - 1:05d}", "parent-child")]) for n in range(1, 20_000)]
    assert [one.id for one in ready_tasks(graph(*tasks))] == ["gate"]


def test_the_planner_survives_cycles_everywhere() -> None:
    tasks = [task(f"n{n}", deps=[f"n{(n + 1) % 50}", f"n{(n * 7) % 50}"], files=[f"f{n}"]) for n in range(50)]
    result = make_plan(graph(*tasks, task("free", files=["free/**"])))
    assert [choice.task_id for choice in result.proposal.picked] == ["free"]
    assert len(result.proposal.cycles) == 1
    assert set(result.proposal.cycles[0]) <= {f"n{n}" for n in range(50)}
    assert propose_batch(graph(*tasks), 2).picked == []
