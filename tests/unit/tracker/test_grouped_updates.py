"""Updates asked at once from several threads (four lanes starting, a series of merges
closing its tasks) are written to the Beads file together, each asker getting its own
outcome."""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Callable

import pytest

from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.tracker import beads_jsonl
from orch_tui.orchestration.tracker.beads_jsonl import JsonlStore
from orch_tui.orchestration.tracker.directory_lock import directory_lock
from tests.support.helpers import locked_by_another_process


def _store(tmp_path: Path, ids: list[str]) -> JsonlStore:
    beads = tmp_path / ".beads"
    beads.mkdir()
    path = beads / "issues.jsonl"
    path.write_text("".join(json.dumps({"id": i, "title": i, "status": "open"}) + "\n" for i in ids))
    return JsonlStore(path)


def _at_once(store: JsonlStore, calls: list[tuple[str, dict[str, str]]], monkeypatch: pytest.MonkeyPatch,
             write: Callable[[Path, bytes], None] = beads_jsonl.write_atomically,
             ) -> tuple[dict[str, BaseException], list[bytes]]:
    """Run `calls` from threads that all ask while the directory is held (as four lanes
    starting together do); the errors by task and the file's contents at each write."""
    writes: list[bytes] = []

    def recorded(path: Path, data: bytes) -> None:
        writes.append(data)
        write(path, data)

    monkeypatch.setattr(beads_jsonl, "write_atomically", recorded)
    errors: dict[str, BaseException] = {}
    asked = threading.Semaphore(0)

    def update(task_id: str, changes: dict[str, str]) -> None:
        asked.release()
        try:
            store.update(task_id, **changes)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 - looked at by the test
            errors[task_id] = error

    threads = [threading.Thread(target=update, args=call) for call in calls]
    with directory_lock(store.path.parent):
        for thread in threads:
            thread.start()
        for _ in threads:
            asked.acquire()
        threading.Event().wait(0.05)  # each is now queued behind the held lock
    for thread in threads:
        thread.join()
    return errors, writes


def _statuses(store: JsonlStore) -> dict[str, str]:
    return {task.id: task.status for task in store.load().tasks.values()}


def test_four_lanes_marking_their_tasks_at_once_write_the_file_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, ["a-1", "a-2", "a-3", "a-4", "a-5"])
    calls = [(f"a-{n}", {"status": "in_progress", "assignee": f"lane-{n}"}) for n in range(1, 5)]
    errors, writes = _at_once(store, calls, monkeypatch)
    assert errors == {}
    assert len(writes) == 1
    assert _statuses(store) == {"a-1": "in_progress", "a-2": "in_progress", "a-3": "in_progress",
                                "a-4": "in_progress", "a-5": "open"}


def test_an_update_that_fails_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, ["a-1", "a-2"])
    calls = [("a-1", {"status": "closed"}), ("gone-9", {"status": "closed"}), ("a-2", {"status": "closed"})]
    errors, writes = _at_once(store, calls, monkeypatch)
    assert list(errors) == ["gone-9"] and isinstance(errors["gone-9"], BadInput)
    assert "there is no issue gone-9" in str(errors["gone-9"])
    assert _statuses(store) == {"a-1": "closed", "a-2": "closed"}


def test_two_notes_to_one_task_at_once_are_both_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, ["a-1"])
    calls = [("a-1", {"note": "first note"}), ("a-1", {"note": "second note"})]
    errors, writes = _at_once(store, calls, monkeypatch)
    assert errors == {}
    notes = store.load().tasks["a-1"].notes
    assert "first note" in notes and "second note" in notes


def test_a_write_that_fails_fails_every_update_of_its_group(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, ["a-1", "a-2"])
    original = store.path.read_bytes()

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    calls = [("a-1", {"status": "closed"}), ("a-2", {"status": "closed"})]
    errors, writes = _at_once(store, calls, monkeypatch, write=disk_full)
    assert len(writes) == 1
    assert sorted(errors) == ["a-1", "a-2"] and all("No space left" in str(e) for e in errors.values())
    assert store.path.read_bytes() == original


def test_an_update_given_up_on_a_lock_held_elsewhere_is_never_written_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bd (another process) holds `.beads/` past the timeout: the update fails with the
    message, and the next writer does not apply it behind the asker's back."""
    store = _store(tmp_path, ["a-1", "a-2"])
    monkeypatch.setattr(beads_jsonl, "directory_lock", functools.partial(directory_lock, timeout=0.2))
    with locked_by_another_process(store.path.parent):
        with pytest.raises(OrchError, match="stayed locked by another writer"):
            store.update("a-1", status="closed")
    store.update("a-2", status="closed")
    assert _statuses(store) == {"a-1": "open", "a-2": "closed"}
