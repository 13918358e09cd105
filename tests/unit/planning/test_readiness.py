"""The bd 1.x ready rule on hand-built graphs: one test per rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orch_tui.orchestration.planning.planner import blockers, ready_tasks

from tests.support.planner_graphs import chain, graph, task

NOW = datetime(2026, 4, 18, 12, 0, tzinfo=timezone.utc)


def ready_ids(built, now=NOW) -> list[str]:
    return [one.id for one in ready_tasks(built, now)]


def test_a_chain_has_only_its_head_ready() -> None:
    built = graph(task("a"), task("b", deps=["a"]), task("c", deps=["b"]))
    assert ready_ids(built) == ["a"]
    assert blockers(built) == {"b": ["a"], "c": ["b"]}


def test_closing_the_head_readies_the_next_link() -> None:
    built = graph(task("a", "closed"), task("b", deps=["a"]), task("c", deps=["b"]))
    assert ready_ids(built) == ["b"]


def test_a_diamond_joins_only_when_both_sides_are_closed() -> None:
    top = task("top")
    left, right = task("left", deps=["top"]), task("right", deps=["top"])
    bottom = task("bottom", deps=["left", "right"])
    assert ready_ids(graph(top, left, right, bottom)) == ["top"]
    assert blockers(graph(top, left, right, bottom))["bottom"] == ["left", "right"]
    half_done = graph(task("top", "closed"), task("left", "closed"), task("right", deps=["top"]), bottom)
    assert ready_ids(half_done) == ["right"]
    assert blockers(half_done) == {"bottom": ["right"]}


def test_a_blocked_parent_blocks_its_children_and_grandchildren() -> None:
    built = graph(task("gate"), task("epic", deps=["gate"], issue_type="epic"),
                  task("child", deps=[("epic", "parent-child")]),
                  task("grandchild", deps=[("child", "parent-child")]))
    assert ready_ids(built) == ["gate"]
    assert blockers(built) == {"epic": ["gate"], "child": ["epic"], "grandchild": ["child"]}


def test_an_open_epic_does_not_block_its_children() -> None:
    built = graph(task("epic", issue_type="epic"), task("child", deps=[("epic", "parent-child")]))
    assert ready_ids(built) == ["child", "epic"]
    assert blockers(built) == {}


def test_a_closed_parent_stops_propagation() -> None:
    built = graph(task("gate"), task("grand", deps=["gate"]),
                  task("parent", "closed", deps=[("grand", "parent-child")]),
                  task("child", deps=[("parent", "parent-child")]))
    assert ready_ids(built) == ["child", "gate"]


def test_a_dependency_on_a_missing_issue_does_not_block() -> None:
    assert ready_ids(graph(task("a", deps=["bd-gone"]))) == ["a"]


@pytest.mark.parametrize("blocker_status", ["closed", "pinned", "tombstone"])
def test_finished_blockers_do_not_block(blocker_status: str) -> None:
    assert ready_ids(graph(task("a", blocker_status), task("b", deps=["a"]))) == ["b"]


@pytest.mark.parametrize("blocker_status", ["open", "in_progress", "blocked", "deferred", "hooked", "custom"])
def test_unfinished_blockers_block(blocker_status: str) -> None:
    assert "b" not in ready_ids(graph(task("a", blocker_status), task("b", deps=["a"])))


@pytest.mark.parametrize("kind,blocks", [
    ("blocks", True), ("conditional-blocks", True), ("", True),
    ("related", False), ("relates-to", False), ("discovered-from", False),
    ("waits-for", False), ("supersedes", False), ("some-custom-type", False)])
def test_only_blocking_types_block(kind: str, blocks: bool) -> None:
    built = graph(task("a"), task("b", deps=[("a", kind)]))
    assert ("b" in ready_ids(built)) is (not blocks)


@pytest.mark.parametrize("status", ["in_progress", "blocked", "deferred", "hooked", "pinned", "closed"])
def test_only_open_issues_are_ready(status: str) -> None:
    assert ready_ids(graph(task("a", status))) == []


def test_deferred_until_the_future_is_not_ready_until_then() -> None:
    later = graph(task("a", defer_until=NOW + timedelta(hours=1)))
    assert ready_ids(later) == []
    assert ready_ids(later, now=NOW + timedelta(hours=2)) == ["a"]
    assert ready_ids(graph(task("b", defer_until=NOW - timedelta(days=1)))) == ["b"]


def test_naive_defer_until_is_read_as_utc() -> None:
    naive = datetime(2026, 4, 18, 13, 0)
    assert ready_ids(graph(task("a", defer_until=naive))) == []


def test_ready_tasks_come_highest_priority_first_then_by_id() -> None:
    built = graph(task("z", priority=0), task("b", priority=2), task("a", priority=2), task("m", priority=1))
    assert ready_ids(built) == ["z", "m", "a", "b"]


def test_a_blocking_cycle_blocks_every_member_without_hanging() -> None:
    built = graph(task("a", deps=["c"]), task("b", deps=["a"]), task("c", deps=["b"]), task("free"))
    assert ready_ids(built) == ["free"]
    assert blockers(built) == {"a": ["c"], "b": ["a"], "c": ["b"]}


def test_a_parent_child_cycle_does_not_hang() -> None:
    built = graph(task("gate"), task("a", deps=[("b", "parent-child"), "gate"]),
                  task("b", deps=[("a", "parent-child")]))
    assert ready_ids(built) == ["gate"]
    assert set(blockers(built)) == {"a", "b"}


def test_a_twenty_thousand_long_chain_needs_no_recursion() -> None:
    built = chain(20_000)
    assert ready_ids(built) == ["c00000"]
    assert len(blockers(built)) == 19_999
