"""`robot_plan`: bv's `--robot-plan` "plan" object, field for field and in bv's order."""

from __future__ import annotations

import json

import pytest

from orch_tui.orchestration.planning.planner import robot_plan
from orch_tui.orchestration.planning.robot_plan import track_name

from tests.support.planner_graphs import graph, task


def track_ids(plan: dict) -> list[list[str]]:
    return [[item["id"] for item in track["items"]] for track in plan["tracks"]]


def test_fields_and_their_order_match_bv() -> None:
    plan = robot_plan(graph(task("a"), task("b", deps=["a"])))
    assert list(plan) == ["tracks", "total_actionable", "total_blocked", "summary"]
    assert list(plan["tracks"][0]) == ["track_id", "items", "reason"]
    assert list(plan["tracks"][0]["items"][0]) == ["id", "title", "priority", "status", "unblocks"]
    assert list(plan["summary"]) == ["highest_impact", "impact_reason", "unblocks_count"]


def test_a_chain_is_one_track_with_its_head() -> None:
    plan = robot_plan(graph(task("a", title="Head"), task("b", deps=["a"]), task("c", deps=["b"])))
    assert plan["tracks"] == [{
        "track_id": "track-A",
        "items": [{"id": "a", "title": "Head", "priority": 2, "status": "open", "unblocks": ["b"]}],
        "reason": "Single actionable item"}]
    assert (plan["total_actionable"], plan["total_blocked"]) == (1, 2)
    assert plan["summary"] == {"highest_impact": "a", "impact_reason": "Unblocks 1 task",
                               "unblocks_count": 1}


def test_tracks_follow_the_smallest_id_and_items_priority_then_id() -> None:
    # Component {b, z, y}: smallest id "b" (closed) still orders the track before {c}.
    built = graph(task("b", "closed"), task("z", priority=1, deps=["b"]), task("y", priority=1, deps=["b"]),
                  task("x", priority=0, deps=["b"]), task("c"))
    plan = robot_plan(built)
    assert track_ids(plan) == [["x", "y", "z"], ["c"]]
    assert [track["track_id"] for track in plan["tracks"]] == ["track-A", "track-B"]
    assert [track["reason"] for track in plan["tracks"]] == ["Independent work stream", "Single actionable item"]


def test_one_component_reads_all_issues_in_connected_graph() -> None:
    plan = robot_plan(graph(task("root", "closed"), task("a", deps=["root"]), task("b", deps=["root"])))
    assert plan["tracks"][0]["reason"] == "All issues in connected graph"


def test_unblocks_lists_issues_whose_only_open_blocker_it_is() -> None:
    built = graph(task("a"), task("b"), task("only_a", deps=["a"]), task("a_and_b", deps=["a", "b"]),
                  task("a_and_closed", deps=["a", "done"]), task("done", "closed"),
                  task("closed_one", "closed", deps=["a"]), task("a_and_gone", deps=["a", "missing"]))
    items = {item["id"]: item for track in robot_plan(built)["tracks"] for item in track["items"]}
    assert items["a"]["unblocks"] == ["a_and_closed", "a_and_gone", "only_a"]
    assert items["b"]["unblocks"] == []


def test_summary_prefers_most_unblocks_then_lowest_id() -> None:
    built = graph(task("m"), task("k"), task("x1", deps=["m"]), task("x2", deps=["m"]), task("y1", deps=["k"]))
    assert robot_plan(built)["summary"] == {"highest_impact": "m", "impact_reason": "Unblocks multiple tasks",
                                            "unblocks_count": 2}
    tie = graph(task("q"), task("p"))
    assert robot_plan(tie)["summary"] == {"highest_impact": "p", "impact_reason": "No downstream dependencies",
                                          "unblocks_count": 0}


def test_an_empty_or_finished_tracker_has_empty_lists_never_null() -> None:
    for built in (graph(), graph(task("a", "closed"), task("b", "tombstone"))):
        plan = robot_plan(built)
        assert plan == {"tracks": [], "total_actionable": 0, "total_blocked": 0,
                        "summary": {"highest_impact": "", "impact_reason": "", "unblocks_count": 0}}
        assert "null" not in json.dumps(plan)


def test_bv_lists_in_progress_hooked_and_deferred_work_when_unblocked() -> None:
    built = graph(task("a", "in_progress"), task("b", "hooked"), task("c", "deferred"), task("d", "pinned"),
                  task("e", "weird-custom"), task("f", "tombstone"), task("g", "closed"))
    plan = robot_plan(built)
    assert sorted(sum(track_ids(plan), [])) == ["a", "b", "c", "d", "e"]


def test_bv_ignores_parent_child_and_conditional_blocks() -> None:
    built = graph(task("gate"), task("epic", deps=["gate"]), task("child", deps=[("epic", "parent-child")]),
                  task("maybe", deps=[("gate", "conditional-blocks")]), task("later", deps=[("gate", "waits-for")]))
    plan = robot_plan(built)
    assert track_ids(plan) == [["child"], ["gate"], ["later"], ["maybe"]]  # {epic, gate} sorts as "epic"
    assert plan["total_blocked"] == 1


def test_every_isolated_task_is_its_own_track_as_in_bv() -> None:
    plan = robot_plan(graph(*(task(f"t{n}") for n in range(3))))
    assert track_ids(plan) == [["t0"], ["t1"], ["t2"]]


def test_a_cycle_is_blocked_and_does_not_hang() -> None:
    plan = robot_plan(graph(task("a", deps=["b"]), task("b", deps=["a"]), task("c")))
    assert track_ids(plan) == [["c"]]
    assert plan["total_blocked"] == 2


@pytest.mark.parametrize("number,name", [(1, "track-A"), (26, "track-Z"), (27, "track-AA"),
                                         (52, "track-AZ"), (53, "track-BA"), (702, "track-ZZ"),
                                         (703, "track-AAA")])
def test_track_names_count_like_spreadsheet_columns(number: int, name: str) -> None:
    assert track_name(number) == name
