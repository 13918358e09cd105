"""The Beads JSONL reader and writer lose nothing (hypothesis).

Generated trackers: records with the fields Beads knows plus unknown ones, keys in any order,
values of every JSON type, text with escapes, bidi marks and non-ASCII, written compactly or
with spaces, ASCII-escaped or not, with `\\n` or `\\r\\n` line endings. Reading gives back
every record as it was (keys in order); an update rewrites one line and keeps the members it
does not change byte for byte, in order; every other line stays byte for byte; writers that
run at the same time never drop each other's lines.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orch_tui.orchestration.tracker.beads import JsonlStore, load_jsonl
from orch_tui.orchestration.tracker.beads_line_edit import member_spans

KNOWN = ["title", "status", "priority", "issue_type", "description", "assignee", "labels",
         "created_at", "updated_at", "notes", "metadata"]
UNKNOWN = ["x_custom", "score", "owner_team", "_rev", "ζ-field", "estimate"]
hostile_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20) | \
    st.sampled_from(["\x1b[2J", "[bold]x[/]", "\u202eevil", "<&>", "\u2028", "a\nb\r\nc", ""])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6)


@st.composite
def records(draw: st.DrawFn, task_id: str) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(KNOWN + UNKNOWN), unique=True, max_size=6))
    record: dict[str, Any] = {key: draw(json_values) for key in keys}
    record["status"] = draw(st.sampled_from(["open", "in_progress", "closed", "blocked"]))
    position = draw(st.integers(0, len(record)))
    items = list(record.items())
    items.insert(position, ("id", task_id))  # the id need not come first
    return dict(items)


@st.composite
def trackers(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bytes]:
    count = draw(st.integers(1, 6))
    chosen = [draw(records(f"bd-{index}")) for index in range(count)]
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines = []
    for record in chosen:
        separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
        text = json.dumps(record, ensure_ascii=draw(st.booleans()), separators=separators)
        lines.append(text.encode("utf-8") + ending)
    if draw(st.booleans()):
        lines[-1] = lines[-1].rstrip(b"\r\n")  # no final newline
    return chosen, b"".join(lines)


def _store(tmp_path: Path, data: bytes) -> tuple[JsonlStore, Path]:
    beads = tmp_path / ".beads"
    beads.mkdir(exist_ok=True)
    path = beads / "issues.jsonl"
    path.write_bytes(data)
    return JsonlStore(path), path


@given(trackers())
def test_reading_gives_back_every_record_with_its_key_order(tmp_path_factory, tracker) -> None:
    chosen, data = tracker
    _, path = _store(tmp_path_factory.mktemp("read"), data)
    graph = load_jsonl(path)
    assert not graph.problems
    assert [task.raw for task in graph.tasks.values()] == chosen
    assert [list(task.raw) for task in graph.tasks.values()] == [list(record) for record in chosen]


@given(trackers(), st.data())
def test_an_update_changes_one_line_and_keeps_unknown_members_in_order(
        tmp_path_factory, tracker, data: st.DataObject) -> None:
    chosen, before = tracker
    store, path = _store(tmp_path_factory.mktemp("update"), before)
    target = data.draw(st.integers(0, len(chosen) - 1))
    task_id = chosen[target]["id"]
    note = data.draw(hostile_text.filter(str.strip))
    store.update(task_id, status="in_progress", assignee="lane-1", note=note)

    old_lines = before.splitlines(keepends=True)
    new_lines = path.read_bytes().splitlines(keepends=True)
    assert len(new_lines) == len(old_lines)
    for index, (old, new) in enumerate(zip(old_lines, new_lines)):
        if index != target:
            assert new == old
    edited = json.loads(new_lines[target])
    original = chosen[target]
    kept = [key for key in original if key not in ("status", "assignee", "updated_at", "notes")]
    assert [key for key in edited if key in kept] == kept  # order of untouched members
    for key in kept:
        assert edited[key] == original[key]
    assert edited["status"] == "in_progress" and edited["assignee"] == "lane-1"
    assert note.strip() in edited["notes"]
    old_text = old_lines[target].rstrip(b"\r\n").decode("utf-8")
    new_text = new_lines[target].rstrip(b"\r\n").decode("utf-8")
    old_spans = {key: old_text[start:end] for key, _, start, end in member_spans(old_text)[0]}
    new_spans = {key: new_text[start:end] for key, _, start, end in member_spans(new_text)[0]}
    for key in kept:
        assert new_spans[key] == old_spans[key]  # byte for byte, whatever wrote them
    assert new_lines[target].endswith(old_lines[target][len(old_lines[target].rstrip(b"\r\n")):])


@given(trackers(), st.lists(st.sampled_from(["create", "update"]), min_size=2, max_size=6))
def test_writers_at_the_same_time_never_drop_each_others_lines(tmp_path_factory, tracker,
                                                               operations: list[str]) -> None:
    chosen, before = tracker
    directory = tmp_path_factory.mktemp("concurrent")
    _, path = _store(directory, before)
    created: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(operations))

    def write(number: int, operation: str) -> None:
        store = JsonlStore(path)  # each writer its own store, as two processes would have
        try:
            start.wait()
            if operation == "create":
                created.append(store.create(f"created by writer {number}"))
            else:
                store.update(chosen[number % len(chosen)]["id"], note=f"writer {number}")
        except BaseException as error:  # noqa: BLE001 - reported below, in the test thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n, op)) for n, op in enumerate(operations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    graph = load_jsonl(path)
    assert not graph.problems
    assert set(graph.tasks) == {record["id"] for record in chosen} | set(created)
    notes = "".join(task.notes for task in graph.tasks.values())
    for number, operation in enumerate(operations):
        if operation == "update":
            assert f"writer {number}" in notes
