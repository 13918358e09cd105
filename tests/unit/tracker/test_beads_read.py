"""Reading Beads JSONL: the two real trackers and every dialect the reference describes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from orch_tui.orchestration.tracker.beads import load_jsonl
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import Dependency
from tests.support.helpers import DATA_DIR

PACIFIC_DST = timezone(timedelta(hours=-7))
PACIFIC = timezone(timedelta(hours=-8))


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_beads_v047_real_tracker_counts() -> None:
    graph = load_jsonl(DATA_DIR / "beads-v0.47.0.issues.jsonl")

    assert len(graph) == 1955
    assert graph.problems == []
    assert Counter(task.status for task in graph.tasks.values()) == {
        "closed": 1566, "tombstone": 338, "open": 34, "hooked": 17}
    edges = [dep for task in graph.tasks.values() for dep in task.dependencies]
    assert len(edges) == 906
    assert Counter(dep.type for dep in edges)["blocks"] == 429
    assert Counter(dep.type for dep in edges)["parent-child"] == 394


def test_beads_v047_specific_issues() -> None:
    graph = load_jsonl(DATA_DIR / "beads-v0.47.0.issues.jsonl")

    first = graph.tasks["bd-0088"]
    assert first.title == "Create npm package structure for bd-wasm"
    assert (first.status, first.priority, first.issue_type) == ("closed", 1, "task")
    assert first.created_at == datetime(2025, 11, 2, 21, 58, 7, 295058, tzinfo=PACIFIC)
    assert first.dependencies == (Dependency("bd-0088", "bd-44d0", "parent-child"),)

    # A tombstone keeps its gate-only fields in raw; int comment ids survive.
    gate = graph.tasks["bd-mol-pjc"]
    assert gate.status == "tombstone" and gate.is_done
    assert gate.raw["await_type"] == "gh:run" and gate.raw["timeout"] == 1800000000000
    comments = graph.tasks["bd-6df0"].raw["comments"]
    assert comments[0]["id"] == 1 and comments[0]["author"] == "stevey"


def test_beads_v0911_older_dialect() -> None:
    graph = load_jsonl(DATA_DIR / "beads-v0.9.11.issues.jsonl")

    assert len(graph) == 168
    assert graph.problems == []
    assert Counter(task.status for task in graph.tasks.values()) == {
        "closed": 163, "open": 3, "in_progress": 2}
    assert Counter(task.issue_type for task in graph.tasks.values()) == {
        "task": 81, "feature": 40, "bug": 33, "epic": 8, "chore": 6}
    assert sum(len(task.dependencies) for task in graph.tasks.values()) == 0

    in_progress = graph.tasks["bd-108"]
    assert in_progress.status == "in_progress" and in_progress.priority == 1
    assert in_progress.design.startswith("Options:")
    assert in_progress.acceptance_criteria.startswith("Creating an issue with wrong prefix")
    assert graph.tasks["bd-160"].labels == ("feature", "working")
    assert graph.tasks["bd-90"].raw["external_ref"] == "gh-62"
    assert graph.tasks["bd-1"].closed_at == datetime(2025, 10, 16, 10, 7, 34, 129516,
                                                     tzinfo=PACIFIC_DST)


def test_every_dialect_in_one_file() -> None:
    graph = load_jsonl(DATA_DIR / "beads-dialects.jsonl")

    assert graph.problems == []
    # `_type: memory` is not an issue; `_type: issue` is.
    assert set(graph.tasks) == {"dx-old", "dx-new", "dx-alias", "dx-gone", "dx-custom",
                                "dx-bare"}
    old, new = graph.tasks["dx-old"], graph.tasks["dx-new"]
    # 9-digit fractions are cut to microseconds; `Z` is UTC.
    assert old.created_at == datetime(2025, 12, 25, 12, 5, 48, 588283, tzinfo=PACIFIC)
    assert new.created_at == datetime(2026, 4, 18, 16, 19, 12, tzinfo=timezone.utc)
    assert old.raw["comments"][0]["id"] == 1 and new.raw["comments"][0]["id"] == "c-9f2"
    # Duplicate edges collapse to one.
    assert old.dependencies == (Dependency("dx-old", "dx-new", "blocks"),)
    # `depends_on` / `target_id` are aliases; an empty type is stored as `blocks`.
    assert graph.tasks["dx-alias"].dependencies == (
        Dependency("dx-alias", "dx-old", "blocks"), Dependency("dx-alias", "dx-new", "waits-for"))
    assert graph.tasks["dx-gone"].is_done
    custom = graph.tasks["dx-custom"]
    assert (custom.status, custom.issue_type) == ("needs-review", "spike")
    assert custom.dependencies[0].type == "implements" and not custom.dependencies[0].blocks
    assert custom.metadata == {"estimate": {"points": 3}}
    assert custom.raw["x_unknown"] == [1, 2, {"a": None}]
    bare = graph.tasks["dx-bare"]
    assert (bare.status, bare.priority, bare.issue_type, bare.description) == (
        "open", 2, "task", "")
    assert bare.created_at is None and bare.dependencies == ()


def test_odd_values_are_tolerated(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "issues.jsonl",
        '{"id":"t-1","title":"P-style priority","priority":"P1","status":null,'
        '"labels":null,"created_at":"yesterday","description":null}',
        '{"id":"t-2","title":"bare id list","dependencies":["t-1"],"defer_until":"2030-01-01T00:00:00Z"}',
    )
    graph = load_jsonl(path)

    first = graph.tasks["t-1"]
    assert (first.priority, first.status, first.labels, first.created_at) == (1, "open", (), None)
    assert first.description == ""
    second = graph.tasks["t-2"]
    assert second.dependencies == (Dependency("t-2", "t-1", "blocks"),)
    assert second.defer_until == datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_malformed_lines_are_reported_with_path_and_line(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "issues.jsonl",
        '{"id":"ok-1","title":"first"}',
        '{"id":"broken","title":"cut off',
        "",
        '["not", "an", "object"]',
        '{"title":"no id"}',
        '{"id":"ok-2","title":"last"}',
    )
    graph = load_jsonl(path)

    assert set(graph.tasks) == {"ok-1", "ok-2"}
    assert [(problem.path, problem.line) for problem in graph.problems] == [
        (path, 2), (path, 4), (path, 5)]
    assert str(graph.problems[0]).startswith(f"{path}:2: not valid JSON")
    assert "fix:" in str(graph.problems[0])
    assert "no \"id\"" in graph.problems[2].message


def test_invalid_utf8_line_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b'{"id":"a-1","title":"\xff\xfe"}\n{"id":"a-2","title":"fine"}\n')
    graph = load_jsonl(path)

    assert set(graph.tasks) == {"a-2"}
    assert graph.problems[0].line == 1 and "UTF-8" in graph.problems[0].message


def test_duplicate_ids_keep_the_newest_copy(tmp_path: Path) -> None:
    # What a `merge=union` git merge of two branches leaves behind.
    path = write_lines(
        tmp_path / "issues.jsonl",
        '{"id":"d-1","title":"t","status":"closed","updated_at":"2026-01-02T00:00:00Z"}',
        '{"id":"d-1","title":"t","status":"open","updated_at":"2026-01-01T00:00:00Z"}',
    )
    graph = load_jsonl(path)

    assert graph.tasks["d-1"].status == "closed"
    assert len(graph.problems) == 1 and graph.problems[0].line == 2
    assert "appears again on line 1" in graph.problems[0].message


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b'{"id":"w-1","title":"a"}\r\n{"id":"w-2","title":"b"}')
    graph = load_jsonl(path)

    assert set(graph.tasks) == {"w-1", "w-2"} and graph.problems == []


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist") as caught:
        load_jsonl(tmp_path / "nothing.jsonl")
    assert "bd init" in str(caught.value)
