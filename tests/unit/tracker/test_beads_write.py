"""Writing Beads JSONL: atomic, byte-preserving, never losing a line."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from orch_tui.orchestration.tracker.beads import JsonlStore, load_jsonl, open_store
from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.model import Dependency
from tests.support.helpers import copy_data

ALIEN = '{ "id" : "al-1",  "title":"spaced out",   "status":"open", "score": 1.50, "x": "<&>" }'


@pytest.fixture
def real_repo(tmp_path: Path) -> Path:
    copy_data("beads-v0.47.0.issues.jsonl", tmp_path / ".beads" / "issues.jsonl").chmod(0o644)
    return tmp_path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def small_store(tmp_path: Path, *lines: str) -> JsonlStore:
    beads = tmp_path / ".beads"
    beads.mkdir(exist_ok=True)
    path = beads / "issues.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return JsonlStore(path)


def test_update_changes_one_line_and_keeps_every_other_byte(real_repo: Path) -> None:
    path = real_repo / ".beads" / "issues.jsonl"
    before = lines_of(path)
    store = open_store(real_repo, prefer="jsonl")
    index = next(i for i, line in enumerate(before) if b'"id":"bd-1e12"' in line)

    store.update("bd-1e12", status="in_progress", assignee="lane-1",
                 note="Started <by> orch & co")

    after = lines_of(path)
    assert len(after) == len(before)
    assert [line for i, line in enumerate(after) if i != index] == \
        [line for i, line in enumerate(before) if i != index]
    changed = json.loads(after[index])
    original = json.loads(before[index])
    assert changed["status"] == "in_progress" and changed["assignee"] == "lane-1"
    assert changed["notes"].endswith("orch-tui\nStarted <by> orch & co")
    assert changed["updated_at"] != original["updated_at"]
    for key in original.keys() - {"status", "updated_at"}:
        assert changed[key] == original[key]
    # Go's escaping, like bd's own writer; untouched members keep their bytes in place.
    assert b"\\u003cby\\u003e orch \\u0026 co" in after[index]
    assert after[index].startswith(before[index].split(b'"status"')[0])


def test_closing_sets_closed_at_and_reason_reopening_clears_closed_at(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"c-1","title":"t","status":"open"}')

    store.update("c-1", status="closed", close_reason="merged in abc123")
    closed = store.load().tasks["c-1"]
    assert closed.status == "closed" and closed.close_reason == "merged in abc123"
    assert closed.closed_at is not None and closed.updated_at is not None

    store.update("c-1", status="open", assignee="")
    reopened = store.load().tasks["c-1"]
    assert reopened.status == "open" and reopened.closed_at is None
    assert "closed_at" not in reopened.raw and "assignee" not in reopened.raw


def test_notes_accumulate_with_timestamp_lines(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"n-1","title":"t","notes":"by hand"}')
    store.update("n-1", note="first run failed")
    store.update("n-1", note="second run merged")

    notes = store.load().tasks["n-1"].notes
    assert notes.startswith("by hand\n\n[")
    assert notes.count("] orch-tui\n") == 2 and notes.endswith("second run merged")


def test_unknown_fields_and_foreign_formatting_survive(tmp_path: Path) -> None:
    store = small_store(tmp_path, ALIEN)
    store.update("al-1", status="in_progress")

    text = store.path.read_text(encoding="utf-8")
    # Spacing, the float's spelling and the raw <&> of the other members are untouched.
    assert text.startswith('{ "id" : "al-1",  "title":"spaced out",   "status":"in_progress",')
    assert '"score": 1.50, "x": "<&>"' in text
    assert json.loads(text)["updated_at"]


def test_malformed_line_is_kept_verbatim_after_writes(tmp_path: Path) -> None:
    broken = '{"id":"bad-1","title":"cut off'
    store = small_store(tmp_path, '{"id":"m-1","title":"ok"}', broken, "", '{"id":"m-2","title":"ok"}')

    store.update("m-2", status="closed")
    store.create("A new one")
    store.add_dependency("m-1", "m-2")

    lines = store.path.read_text(encoding="utf-8").split("\n")
    assert lines[1] == broken and lines[2] == ""
    graph = store.load()
    assert [problem.line for problem in graph.problems] == [2]
    assert len(graph) == 3


def test_create_appends_with_repository_prefix_and_fields(real_repo: Path) -> None:
    store = open_store(real_repo, prefer="jsonl")
    before = (real_repo / ".beads" / "issues.jsonl").read_bytes()

    new_id = store.create("Write the planner", description="Files: orchestration/planning/planner.py",
                          priority=1, issue_type="feature", labels=["orch"],
                          external_ref="openspec:add-planner")

    after = (real_repo / ".beads" / "issues.jsonl").read_bytes()
    assert after.startswith(before)
    assert new_id.startswith("bd-") and new_id not in load_jsonl(
        Path(__file__).resolve().parents[2] / "data" / "beads-v0.47.0.issues.jsonl").tasks
    task = store.load().tasks[new_id]
    assert (task.title, task.priority, task.issue_type, task.status) == (
        "Write the planner", 1, "feature", "open")
    assert task.declared_files == ("orchestration/planning/planner.py",)
    assert task.labels == ("orch",) and task.raw["external_ref"] == "openspec:add-planner"
    assert task.created_at is not None


def test_create_child_numbers_under_parent_with_parent_child_edge(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"my-app-x1","title":"epic","issue_type":"epic"}',
                        '{"id":"my-app-x1.1","title":"first child"}')

    child = store.create("second child", parent="my-app-x1")
    loose = store.create("no parent")

    assert child == "my-app-x1.2"
    assert store.load().tasks[child].dependencies == (
        Dependency(child, "my-app-x1", "parent-child"),)
    assert loose.startswith("my-app-") and len(loose) == len("my-app-") + 4


def test_create_uses_configured_prefix_and_bd_when_empty(tmp_path: Path) -> None:
    empty = small_store(tmp_path)
    assert empty.create("first ever").startswith("bd-")
    (tmp_path / ".beads" / "config.yaml").write_text("issue-prefix: \"web\"\n")
    assert empty.create("second").startswith("web-")


def test_create_and_update_refuse_bad_input(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"v-1","title":"t"}')
    with pytest.raises(BadInput, match="title"):
        store.create("  ")
    with pytest.raises(BadInput, match="priority"):
        store.create("x", priority=7)
    with pytest.raises(BadInput, match="no issue v-9"):
        store.update("v-9", status="closed")
    with pytest.raises(BadInput, match="no issue nope"):
        store.create("x", parent="nope")


def test_add_dependency_dedupes_and_refuses_cycles_and_unknown_ids(tmp_path: Path) -> None:
    store = small_store(
        tmp_path, '{"id":"a-1","title":"a"}',
        '{"id":"a-2","title":"b","dependencies":[{"issue_id":"a-2","depends_on":"a-1","type":"blocks"}]}')

    store.add_dependency("a-2", "a-1")  # already there under the `depends_on` alias
    assert store.load().tasks["a-2"].raw["dependencies"] == [
        {"issue_id": "a-2", "depends_on": "a-1", "type": "blocks"}]
    with pytest.raises(BadInput, match="cycle"):
        store.add_dependency("a-1", "a-2")
    with pytest.raises(BadInput, match="itself"):
        store.add_dependency("a-1", "a-1")
    with pytest.raises(BadInput, match="no issue zz-1"):
        store.add_dependency("a-1", "zz-1")

    store.add_dependency("a-1", "a-2", type="related")  # non-blocking: no cycle
    assert store.load().tasks["a-1"].dependencies == (Dependency("a-1", "a-2", "related"),)


def test_failed_write_leaves_the_original_file_intact(tmp_path: Path, monkeypatch) -> None:
    store = small_store(tmp_path, '{"id":"f-1","title":"t"}')
    original = store.path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.update("f-1", status="closed")

    assert store.path.read_bytes() == original
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["issues.jsonl"]


def test_write_keeps_file_mode(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"p-1","title":"t"}')
    store.path.chmod(0o600)
    store.update("p-1", status="closed")
    assert store.path.stat().st_mode & 0o777 == 0o600


def test_external_edit_between_load_and_write_is_not_lost(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"e-1","title":"t"}', '{"id":"e-2","title":"u"}')
    store.load()
    with store.path.open("a", encoding="utf-8") as handle:  # another tool appends
        handle.write('{"id":"e-3","title":"added by bd"}\n')

    store.update("e-1", status="in_progress")

    graph = store.load()
    assert set(graph.tasks) == {"e-1", "e-2", "e-3"}
    assert graph.tasks["e-1"].status == "in_progress"


def test_concurrent_writers_do_not_lose_updates(tmp_path: Path) -> None:
    ids = [f"k-{n}" for n in range(8)]
    store = small_store(tmp_path, *(json.dumps({"id": i, "title": i}) for i in ids))
    errors: list[BaseException] = []

    def close(task_id: str) -> None:
        try:
            JsonlStore(store.path).update(task_id, status="closed")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=close, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert {task.status for task in store.load().tasks.values()} == {"closed"}


def test_duplicate_id_update_goes_to_the_copy_in_use(tmp_path: Path) -> None:
    older = '{"id":"d-1","title":"t","status":"open","updated_at":"2026-01-01T00:00:00Z"}'
    newer = '{"id":"d-1","title":"t","status":"in_progress","updated_at":"2026-01-02T00:00:00Z"}'
    store = small_store(tmp_path, newer, older)

    store.update("d-1", status="closed")

    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == older and json.loads(lines[0])["status"] == "closed"
    assert store.load().tasks["d-1"].status == "closed"


def test_legacy_beads_jsonl_is_read_and_written(tmp_path: Path) -> None:
    legacy = tmp_path / ".beads" / "beads.jsonl"
    copy_data("beads-v0.9.11.issues.jsonl", legacy).chmod(0o644)

    store = open_store(tmp_path, prefer="jsonl")
    assert store.kind == "jsonl" and store.description == "Beads JSONL file .beads/beads.jsonl"
    assert len(store.load()) == 168
    store.update("bd-102", status="in_progress")
    assert load_jsonl(legacy).tasks["bd-102"].status == "in_progress"
    assert not (tmp_path / ".beads" / "issues.jsonl").exists()


def test_fresh_beads_dir_without_file_starts_empty(tmp_path: Path) -> None:
    (tmp_path / ".beads").mkdir()
    store = open_store(tmp_path, prefer="jsonl")
    assert len(store.load()) == 0
    new_id = store.create("first task")
    assert list(store.load().tasks) == [new_id]
    assert (tmp_path / ".beads" / "issues.jsonl").read_text().count("\n") == 1


def test_missing_beads_dir_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        open_store(tmp_path)
    message = str(caught.value)
    assert ".beads" in message and "bd init" in message and "issues.jsonl" in message
    assert caught.value.exit_code == 2


def test_dolt_only_tracker_says_to_use_bd_or_export(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    (tmp_path / ".beads" / "embeddeddolt").mkdir(parents=True)
    with pytest.raises(BadInput, match="bd export -o .beads/issues.jsonl"):
        open_store(tmp_path)


def test_no_line_ending_on_last_line_is_fixed_before_append(tmp_path: Path) -> None:
    store = small_store(tmp_path)
    store.path.write_bytes(b'{"id":"z-1","title":"t"}')
    store.create("second")
    lines = store.path.read_bytes().split(b"\n")
    assert lines[0] == b'{"id":"z-1","title":"t"}' and len(lines) == 3 and lines[2] == b""


def test_crlf_file_gets_crlf_lines(tmp_path: Path) -> None:
    store = small_store(tmp_path)
    store.path.write_bytes(b'{"id":"r-1","title":"t"}\r\n')
    store.update("r-1", status="closed")
    store.create("second")
    data = store.path.read_bytes()
    assert data.count(b"\r\n") == 2 and data.count(b"\n") == 2


def test_no_write_when_nothing_changes(tmp_path: Path) -> None:
    store = small_store(tmp_path, '{"id":"s-1","title":"t"}',
                        '{"id":"s-2","title":"u","dependencies":[{"depends_on_id":"s-1"}]}')
    inode = os.stat(store.path).st_ino
    store.update("s-1")
    store.add_dependency("s-2", "s-1")  # already there (an empty type means blocks)
    assert os.stat(store.path).st_ino == inode


def test_symlinked_file_keeps_its_link(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.jsonl"
    real.write_text('{"id":"l-1","title":"t"}\n')
    (tmp_path / ".beads").mkdir()
    link = tmp_path / ".beads" / "issues.jsonl"
    link.symlink_to(real)

    open_store(tmp_path, prefer="jsonl").update("l-1", status="closed")

    assert link.is_symlink() and load_jsonl(real).tasks["l-1"].status == "closed"
