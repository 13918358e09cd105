"""The JSONL reader's two paths give the same tasks.

Lines of the usual shape are decoded straight into typed fields (`IssueLine`) and keep their
bytes for `Task.raw`; every other line is read into a dict first (`task_from_record`). A
person must never see a difference: same Task, same `raw` (keys in order), same problems.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orch_tui.orchestration.model import Dependency, Task
from orch_tui.orchestration.tracker.beads import load_jsonl
from orch_tui.orchestration.tracker.beads_records import decode_issue_line, task_from_line, task_from_record
from tests.support.helpers import DATA_DIR
from tests.support.synthetic_graphs import synthetic_records


def _by_dict(line: bytes) -> Task:
    return task_from_record(json.loads(line))


def _by_fields(line: bytes) -> Task | None:
    return task_from_line(decode_issue_line(line), line)


def _lines(name: str) -> list[bytes]:
    return [line for line in (DATA_DIR / name).read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["beads-v0.47.0.issues.jsonl", "beads-v0.9.11.issues.jsonl"])
def test_real_trackers_read_the_same_either_way(name: str) -> None:
    typed = 0
    for line in _lines(name):
        try:
            task = _by_fields(line)
        except ValueError:
            continue  # not the usual shape: only the dict path reads it
        if task is None:
            continue
        typed += 1
        expected = _by_dict(line)
        assert task == expected
        assert task.raw == expected.raw and list(task.raw) == list(expected.raw)
    assert typed > 0


def test_synthetic_records_read_the_same_either_way() -> None:
    for record in synthetic_records(300, 900):
        line = json.dumps(record).encode()
        task = _by_fields(line)
        assert task is not None and task == _by_dict(line) and task.raw == record


ODD_LINES = [
    b'{"id":"a","title":null}',                                     # null text
    b'{"id":"a","priority":"P1"}',                                  # string priority
    b'{"id":"a","priority":true}',                                  # bool priority
    b'{"id":"a","labels":["x",3]}',                                 # non-string label
    b'{"id":"a","dependencies":[{"depends_on":"b"}]}',              # alias, no type
    b'{"id":"a","dependencies":[{"depends_on_id":"b","type":""}]}',  # empty type is blocks
    b'{"id":"a","dependencies":["b"]}',                             # bare id
    b'{"id":"a","parent":"p"}',                                     # bd's parent field
    b'{"id":"  "}',                                                 # blank id
    b'{"id":"a","x":NaN}',                                          # json only
]


@pytest.mark.parametrize("line", ODD_LINES)
def test_odd_lines_take_the_dict_path(tmp_path: Path, line: bytes) -> None:
    try:
        assert _by_fields(line) is None
    except ValueError:
        pass  # refused by the typed decoder: the dict path reads it
    path = tmp_path / "issues.jsonl"
    path.write_bytes(line + b"\n")
    graph = load_jsonl(path)
    if line == b'{"id":"  "}':
        assert [problem.message for problem in graph.problems] == [
            'not a Beads issue (the issue has no "id" string)']
    else:
        assert graph.tasks["a"] == _by_dict(line)


def test_aliases_and_defaults_in_dependencies(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b'{"id":"a","dependencies":[{"depends_on":"b"},{"depends_on_id":"c","type":""},'
                     b'{"depends_on_id":"d","type":"related"}]}\n')
    assert load_jsonl(path).tasks["a"].dependencies == (
        Dependency("a", "b", "blocks"), Dependency("a", "c", "blocks"), Dependency("a", "d", "related"))


def test_bad_utf8_in_a_field_nobody_reads_is_still_reported(tmp_path: Path) -> None:
    """The typed decoder skips unknown fields without checking their UTF-8; the reader must
    still name the line, as json does."""
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b'{"id":"a","title":"ok"}\n{"id":"b","x_custom":"\xff\xfe"}\n')
    graph = load_jsonl(path)
    assert list(graph.tasks) == ["a"]
    assert [(problem.line, problem.message) for problem in graph.problems] == [
        (2, "not valid UTF-8 text")]


def test_other_record_kinds_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b'{"_type":"memory","id":"m-1"}\n{"_type":"issue","id":"a"}\n')
    graph = load_jsonl(path)
    assert list(graph.tasks) == ["a"] and not graph.problems


texts = st.text(max_size=12)


@given(st.fixed_dictionaries({"id": st.from_regex(r"[a-z]{1,4}-[0-9]{1,3}", fullmatch=True)}, optional={
    "title": texts, "status": st.sampled_from(["", "open", "closed", "in_progress"]),
    "priority": st.integers(-3, 9), "issue_type": st.sampled_from(["", "task", "epic"]),
    "description": texts, "notes": texts, "assignee": texts, "labels": st.lists(texts, max_size=3),
    "created_at": st.sampled_from(["", "2025-11-02T21:58:07.295058-08:00", "2026-04-18T16:19:12Z",
                                   "not a date", "2025-12-25T12:05:48.588283123-08:00"]),
    "closed_at": st.none() | st.just("2026-04-18T16:19:12Z"),
    "metadata": st.none() | st.dictionaries(texts, st.integers(), max_size=2),
    "dependencies": st.lists(st.fixed_dictionaries({
        "depends_on_id": st.sampled_from(["x-1", "x-2", ""]),
        "type": st.sampled_from(["blocks", "parent-child", "related", ""])}), max_size=4),
}))
def test_generated_records_read_the_same_either_way(record: dict) -> None:
    line = json.dumps(record).encode()
    try:
        task = _by_fields(line)
    except ValueError:
        return
    if task is not None:
        expected = _by_dict(line)
        assert task == expected and task.raw == expected.raw


def test_repeated_edges_are_kept_once_either_way() -> None:
    line = (b'{"id":"a","dependencies":[{"depends_on_id":"b","type":"blocks"},'
            b'{"depends_on_id":"c","type":"related"},{"depends_on_id":"b","type":"blocks"}]}')
    task = _by_fields(line)
    assert task is not None and task == _by_dict(line)
    assert task.dependencies == (Dependency("a", "b", "blocks"), Dependency("a", "c", "related"))
