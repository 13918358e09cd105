"""The planner on Beads' own real trackers (tests/data) and on each JSONL dialect.

Expected values were derived by hand from the files (grep and reading the lines):
- v0.47.0: 1,955 issues; unfinished are 34 open + 17 hooked. The only open issue with an
  unfinished blocker is the epic bd-bvec (`blocks` on bd-llfl, hooked); every other open or
  hooked issue depends only on closed issues. bd-4sxh and bd-g6m5 are both blocked by the
  closed bd-ox1o, so they share a component; no other pair of unfinished issues does.
  The only open P1 task is bd-ee1; no open issue has a `Files:` line.
- v0.9.11 (old dialect, no dependencies at all): bd-102 (P3), bd-103 (P4), bd-29 (P3) open,
  bd-108 and bd-20 in_progress.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from orch_tui.orchestration.tracker.beads import load_jsonl
from orch_tui.orchestration.planning.planner import blockers, find_cycles, make_plan, ready_tasks, robot_plan

DATA = Path(__file__).resolve().parents[2] / "data"
NOW = datetime(2026, 4, 18, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def beads_047():
    return load_jsonl(DATA / "beads-v0.47.0.issues.jsonl")


@pytest.fixture(scope="module")
def beads_0911():
    return load_jsonl(DATA / "beads-v0.9.11.issues.jsonl")


def test_v047_ready_and_blocked_counts(beads_047) -> None:
    ready = ready_tasks(beads_047, NOW)
    assert len(ready) == 33
    assert all(task.status == "open" for task in ready)
    assert "bd-bvec" not in {task.id for task in ready}
    assert blockers(beads_047) == {"bd-bvec": ["bd-llfl"]}
    assert find_cycles(beads_047) == []


def test_v047_robot_plan_tracks_and_totals(beads_047) -> None:
    plan = robot_plan(beads_047)
    assert (plan["total_actionable"], plan["total_blocked"]) == (50, 1)
    assert len(plan["tracks"]) == 49
    by_id = {item["id"]: (track, item) for track in plan["tracks"] for item in track["items"]}
    shared, _ = by_id["bd-4sxh"]
    assert [item["id"] for item in shared["items"]] == ["bd-4sxh", "bd-g6m5"]
    assert shared["reason"] == "Independent work stream"
    assert by_id["bd-llfl"][1]["unblocks"] == ["bd-bvec"]
    assert by_id["bd-llfl"][1]["status"] == "hooked"  # bv lists hooked work; the batch will not
    assert plan["summary"] == {"highest_impact": "bd-llfl", "impact_reason": "Unblocks 1 task",
                               "unblocks_count": 1}
    assert plan["tracks"][0]["track_id"] == "track-A" and plan["tracks"][-1]["track_id"] == "track-AW"


def test_v047_batch_proposes_only_open_coding_work(beads_047) -> None:
    proposal = make_plan(beads_047, 4, now=NOW).proposal
    # No open issue declares files, so the highest-priority one runs alone.
    assert [choice.task_id for choice in proposal.picked] == ["bd-ee1"]
    reasons = {choice.task_id: choice.reason for choice in proposal.left_out}
    assert len(reasons) == 50
    assert reasons["bd-bvec"] == "blocked by bd-llfl"
    assert reasons["bd-4f43s"].startswith("hooked")
    assert reasons["bd-beads-crew-dave"].startswith("not for a coder agent: an agent record")
    assert reasons["bd-7ujdi"].startswith("not for a coder agent: a molecule")
    assert reasons["bd-1e12"].startswith("declares no files")


def test_v0911_old_dialect(beads_0911) -> None:
    assert [task.id for task in ready_tasks(beads_0911, NOW)] == ["bd-102", "bd-29", "bd-103"]
    plan = robot_plan(beads_0911)
    assert [[item["id"] for item in track["items"]] for track in plan["tracks"]] == [
        ["bd-102"], ["bd-103"], ["bd-108"], ["bd-20"], ["bd-29"]]
    assert (plan["total_actionable"], plan["total_blocked"]) == (5, 0)
    assert {track["reason"] for track in plan["tracks"]} == {"Single actionable item"}
    proposal = make_plan(beads_0911, 4, now=NOW).proposal
    assert [choice.task_id for choice in proposal.picked] == ["bd-102"]


def write_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_dependency_dialects_all_block(tmp_path: Path) -> None:
    records = [
        {"id": "p-1", "title": "Blocker", "status": "open", "priority": 1, "issue_type": "task",
         "created_at": "2025-12-25T12:05:48.588283-08:00"},
        {"id": "p-2", "title": "Canonical", "status": "open", "dependencies": [
            {"issue_id": "p-2", "depends_on_id": "p-1", "type": "blocks", "created_at": "2026-04-18T16:19:12Z"}]},
        {"id": "p-3", "title": "depends_on alias", "status": "open",
         "dependencies": [{"issue_id": "p-3", "depends_on": "p-1", "type": "blocks"}]},
        {"id": "p-4", "title": "target_id alias, empty type", "status": "open",
         "dependencies": [{"issue_id": "p-4", "target_id": "p-1", "type": ""}]},
        {"id": "p-5", "title": "child by parent field", "status": "open", "parent": "p-2"},
        {"id": "p-6", "title": "priority as text", "status": "open", "priority": "P0",
         "dependencies": [{"issue_id": "p-6", "depends_on_id": "p-1", "type": "related"}]},
        {"_type": "memory", "id": "m-1", "content": "not an issue"},
        {"_type": "issue", "id": "p-7", "title": "1.x export line", "status": "open", "priority": 2,
         "dependency_count": 1, "dependent_count": 0, "comment_count": 0,
         "dependencies": [{"issue_id": "p-7", "depends_on_id": "p-1", "type": "conditional-blocks"}]},
    ]
    built = load_jsonl(write_lines(tmp_path / "issues.jsonl", records))
    assert [task.id for task in ready_tasks(built, NOW)] == ["p-6", "p-1"]
    assert blockers(built) == {"p-2": ["p-1"], "p-3": ["p-1"], "p-4": ["p-1"], "p-5": ["p-2"], "p-7": ["p-1"]}
    plan = robot_plan(built)
    # bv: conditional-blocks and parent-child do not block, so p-5 and p-7 are actionable.
    assert sorted(item["id"] for track in plan["tracks"] for item in track["items"]) == ["p-1", "p-5", "p-6", "p-7"]
    assert plan["summary"]["highest_impact"] == "p-1" and plan["summary"]["unblocks_count"] == 3


def test_malformed_lines_are_problems_and_planning_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text('{"id":"ok-1","title":"Fine","status":"open"}\n{broken\n', encoding="utf-8")
    built = load_jsonl(path)
    assert [problem.line for problem in built.problems] == [2]
    assert [choice.task_id for choice in make_plan(built, now=NOW).proposal.picked] == ["ok-1"]
