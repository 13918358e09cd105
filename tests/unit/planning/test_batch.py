"""The proposed batch: every rule on a hand-built graph, and the reason given for each choice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.planning.planner import BatchProposal, propose_batch

from tests.support.planner_graphs import graph, task

NOW = datetime(2026, 4, 18, 12, 0, tzinfo=timezone.utc)


def picked(proposal: BatchProposal) -> list[str]:
    return [choice.task_id for choice in proposal.picked]


def reason_of(proposal: BatchProposal, task_id: str) -> str:
    return next(choice.reason for choice in proposal.left_out + proposal.picked if choice.task_id == task_id)


def separate(count: int, priority: int = 2, prefix: str = "t") -> list:
    return [task(f"{prefix}{n}", priority=priority, files=[f"area{n}/**"]) for n in range(count)]


def test_highest_priority_first_up_to_the_batch_size() -> None:
    tasks = [task("low", priority=3, files=["low/**"]), task("urgent", priority=0, files=["u/**"]),
             *separate(4, priority=2)]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["urgent", "t0", "t1", "t2"]
    assert reason_of(proposal, "urgent").startswith("P0, ready")
    assert reason_of(proposal, "t3") == "batch full (4 tasks)"
    assert reason_of(proposal, "low") == "batch full (4 tasks)"


@pytest.mark.parametrize("size", [2, 3, 6])
def test_batch_size_is_a_maximum(size: int) -> None:
    assert len(propose_batch(graph(*separate(8)), size, now=NOW).picked) == size


@pytest.mark.parametrize("size", [0, 1, 7, -4, True, 4.0, "4"])
def test_a_batch_size_outside_two_to_six_is_a_clear_error(size) -> None:
    with pytest.raises(BadInput, match="2 to 6|2..6"):
        propose_batch(graph(*separate(3)), size)


def test_overlapping_files_keep_the_lower_priority_task_out_and_say_where() -> None:
    tasks = [task("bd-7", priority=1, files=["src/api/**"]), task("bd-8", priority=2, files=["src/api/users.py"]),
             task("bd-9", priority=2, files=["docs/**"]), task("bd-10", priority=3, files=["src/api/**", "x.md"])]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["bd-7", "bd-9"]
    assert reason_of(proposal, "bd-8") == "overlaps bd-7 on src/api/users.py / src/api/**"
    assert reason_of(proposal, "bd-10") == "overlaps bd-7 on src/api/**"
    assert all(not choice.picked for choice in proposal.left_out)


def test_directory_and_glob_patterns_overlap_as_gitignore_does() -> None:
    proposal = propose_batch(graph(task("a", priority=1, files=["docs"]), task("b", files=["docs/guide/*.md"]),
                                   task("c", files=["docsite/**"])), 4, now=NOW)
    assert picked(proposal) == ["a", "c"]
    assert reason_of(proposal, "b").startswith("overlaps a on")


def test_a_task_without_files_runs_alone_when_it_comes_first() -> None:
    proposal = propose_batch(graph(task("vague", priority=0), *separate(3)), 4, now=NOW)
    assert picked(proposal) == ["vague"]
    assert proposal.picked[0].files == ()
    assert "declares no files" in reason_of(proposal, "vague")
    assert "Files:" in reason_of(proposal, "vague")
    assert reason_of(proposal, "t0") == "vague declares no files and runs alone"


def test_a_task_without_files_waits_when_a_declared_task_is_picked() -> None:
    proposal = propose_batch(graph(task("vague", priority=3), *separate(2)), 4, now=NOW)
    assert picked(proposal) == ["t0", "t1"]
    assert reason_of(proposal, "vague").startswith("declares no files (runs only alone) and t0")


def test_in_progress_hooked_and_blocked_work_is_never_proposed() -> None:
    # bv's plan lists in_progress and hooked work; the batch must not.
    tasks = [task("busy", "in_progress", priority=0, files=["a/**"], assignee="alice"),
             task("hooked", "hooked", priority=0, files=["b/**"]),
             task("blocker", "in_progress", priority=4, files=["c/**"]),
             task("bd-12", priority=3, files=["d/**"]),
             task("waiting", priority=0, files=["e/**"], deps=["bd-12"]),
             task("status-blocked", "blocked", priority=0, files=["f/**"])]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["bd-12"]
    assert reason_of(proposal, "waiting") == "blocked by bd-12"
    assert reason_of(proposal, "busy") == "in_progress (alice): only open tasks are proposed"
    assert reason_of(proposal, "hooked") == "hooked: only open tasks are proposed"
    assert reason_of(proposal, "status-blocked") == "blocked: only open tasks are proposed"


def test_children_of_a_blocked_epic_say_which_parent_blocks_them() -> None:
    tasks = [task("gate", files=["g/**"]), task("epic", deps=["gate"], issue_type="epic"),
             task("child", deps=[("epic", "parent-child")], files=["c/**"])]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["gate"]
    assert reason_of(proposal, "child") == "blocked: parent epic is blocked"
    assert reason_of(proposal, "epic") == "blocked by gate"


@pytest.mark.parametrize("issue_type", ["epic", "message", "gate", "molecule", "event", "merge-request",
                                        "agent", "milestone"])
def test_epics_and_bookkeeping_types_are_not_sent_to_coder_agents(issue_type: str) -> None:
    proposal = propose_batch(graph(task("x", priority=0, issue_type=issue_type, files=["x/**"]),
                                   task("work", files=["w/**"])), 4, now=NOW)
    assert picked(proposal) == ["work"]
    assert reason_of(proposal, "x").startswith("not for a coder agent: ")


@pytest.mark.parametrize("issue_type", ["bug", "feature", "chore", "spike", "story", "refactor"])
def test_coding_types_are_dispatched(issue_type: str) -> None:
    assert picked(propose_batch(graph(task("x", issue_type=issue_type, files=["x"])), now=NOW)) == ["x"]


def test_deferred_tasks_wait_until_their_date() -> None:
    later = NOW + timedelta(days=2)
    built = graph(task("later", priority=0, files=["l/**"], defer_until=later), task("now", files=["n/**"]))
    proposal = propose_batch(built, 4, now=NOW)
    assert picked(proposal) == ["now"]
    assert reason_of(proposal, "later") == f"deferred until {later.isoformat()}"
    assert picked(propose_batch(built, 4, now=later + timedelta(seconds=1))) == ["later", "now"]


def test_excluded_tasks_are_dropped_by_the_person() -> None:
    proposal = propose_batch(graph(*separate(3)), 4, exclude=["t1"], now=NOW)
    assert picked(proposal) == ["t0", "t2"]
    assert reason_of(proposal, "t1") == "dropped by you"


def test_pinned_tasks_come_first_in_the_given_order_when_still_eligible() -> None:
    tasks = [*separate(4, priority=1), task("late", priority=4, files=["late/**"]),
             task("gone", "closed", files=["z/**"]), task("stuck", deps=["t0"], files=["s/**"])]
    proposal = propose_batch(graph(*tasks), 3, pinned=["late", "t2", "gone", "stuck", "nope"], now=NOW)
    assert picked(proposal) == ["late", "t2", "t0"]
    assert reason_of(proposal, "late") == "kept by you (P4)"
    assert reason_of(proposal, "gone") == "kept by you, but it is closed"
    assert reason_of(proposal, "stuck") == "kept by you, but blocked by t0"
    assert reason_of(proposal, "nope") == "kept by you, but no such issue any more"


def test_a_pinned_task_still_respects_overlap() -> None:
    tasks = [task("a", priority=0, files=["src/**"]), task("b", priority=1, files=["src/x.py"])]
    proposal = propose_batch(graph(*tasks), 4, pinned=["b", "a"], now=NOW)
    assert picked(proposal) == ["b"]
    assert reason_of(proposal, "a") == "kept by you, but overlaps b on src/** / src/x.py"


def test_busy_tasks_are_not_proposed_and_keep_their_files_reserved() -> None:
    tasks = [task("bd-5", "in_progress", files=["src/api/**"]), task("clash", priority=0, files=["src/api/v2.py"]),
             task("free", files=["docs/**"])]
    proposal = propose_batch(graph(*tasks), 4, busy=["bd-5"], now=NOW)
    assert picked(proposal) == ["free"]
    assert reason_of(proposal, "clash") == "overlaps running bd-5 on src/api/v2.py / src/api/**"
    assert reason_of(proposal, "bd-5") == "running in a lane"


def test_within_one_priority_tracks_are_spread_first_then_filled() -> None:
    # Track {root, a1, a2, a3} has three ready tasks; b and c are tracks of their own.
    tasks = [task("root", "closed"), *(task(f"a{n}", priority=1, deps=["root"], files=[f"a{n}/**"]) for n in range(1, 4)),
             task("b", priority=1, files=["b/**"]), task("c", priority=3, files=["c/**"])]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["a1", "b", "a2", "a3"]
    tracks = [choice.track_id for choice in proposal.picked]
    assert tracks[0] == tracks[2] == tracks[3] != tracks[1]
    assert "first pick from" in proposal.picked[0].reason
    assert "several independent ready tasks" in proposal.picked[2].reason
    assert reason_of(proposal, "c") == "batch full (4 tasks)"


def test_priority_comes_before_spreading_across_tracks() -> None:
    tasks = [task("root", "closed"), task("a1", priority=1, deps=["root"], files=["a1/**"]),
             task("a2", priority=1, deps=["root"], files=["a2/**"]), task("c", priority=3, files=["c/**"])]
    assert picked(propose_batch(graph(*tasks), 2, now=NOW)) == ["a1", "a2"]


def test_a_single_track_with_independent_ready_tasks_fills_the_batch() -> None:
    tasks = [task("root", "closed"), *(task(f"a{n}", deps=["root"], files=[f"a{n}/**"]) for n in range(5))]
    assert picked(propose_batch(graph(*tasks), 4, now=NOW)) == ["a0", "a1", "a2", "a3"]


def test_cycles_are_reported_and_their_members_left_out() -> None:
    tasks = [task("bd-3", deps=["bd-1"], files=["x/**"]), task("bd-1", deps=["bd-2"], files=["y/**"]),
             task("bd-2", deps=["bd-3"], files=["z/**"]), task("free", files=["f/**"])]
    proposal = propose_batch(graph(*tasks), 4, now=NOW)
    assert picked(proposal) == ["free"]
    assert proposal.cycles == [["bd-1", "bd-2", "bd-3"]]
    assert reason_of(proposal, "bd-1") == "blocked by bd-2"


def test_left_out_lists_ready_tasks_first_then_the_rest_by_priority() -> None:
    tasks = [*separate(3), task("blocked", priority=0, deps=["t0"], files=["q/**"]),
             task("done", "closed"), task("deleted", "tombstone")]
    proposal = propose_batch(graph(*tasks), 2, now=NOW)
    assert [choice.task_id for choice in proposal.left_out] == ["t2", "blocked"]


def test_to_json_has_the_documented_shape() -> None:
    proposal = propose_batch(graph(task("a", files=["a/**"], title="A \x1b[31mred\x1b[0m"), task("b", deps=["a"])),
                             4, now=NOW)
    document = json.loads(json.dumps(proposal.to_json()))
    assert list(document) == ["batch_size", "picked", "left_out", "cycles"]
    assert document["picked"] == [{"task_id": "a", "title": "A \x1b[31mred\x1b[0m", "priority": 2,
                                   "picked": True, "reason": "P2, ready; first pick from track-A",
                                   "files": ["a/**"], "track_id": "track-A"}]
    assert document["left_out"][0]["reason"] == "blocked by a"
    assert document["cycles"] == []


def test_nothing_ready_gives_an_empty_batch() -> None:
    proposal = propose_batch(graph(task("a", "closed"), task("b", "in_progress")), 4, now=NOW)
    assert proposal.picked == [] and [choice.task_id for choice in proposal.left_out] == ["b"]
