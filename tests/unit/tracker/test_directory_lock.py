"""The `.beads/` writers' lock: one writer at a time, across threads and processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.tracker import directory_lock as lock_module
from orch_tui.orchestration.tracker.directory_lock import directory_lock
from tests.support.helpers import locked_by_another_process


def test_writers_in_one_process_are_handed_the_lock_without_polling(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Four lanes mark their tasks in progress at once: each waits for the one before it,
    never a polling sleep (a 20 ms sleep each held back the batch's last lanes)."""
    real_sleep = time.sleep
    polls: list[float] = []
    monkeypatch.setattr(lock_module.time, "sleep", lambda seconds: (polls.append(seconds), real_sleep(seconds)))
    inside, most_inside = 0, 0
    count = threading.Lock()

    def write() -> None:
        nonlocal inside, most_inside
        with directory_lock(tmp_path):
            with count:
                inside += 1
                most_inside = max(most_inside, inside)
            real_sleep(0.001)
            with count:
                inside -= 1

    with directory_lock(tmp_path):  # held while the writers start: they all queue behind it
        threads = [threading.Thread(target=write) for _ in range(4)]
        for thread in threads:
            thread.start()
        real_sleep(0.1)
    for thread in threads:
        thread.join()
    assert most_inside == 1
    assert polls == []


def test_a_writer_in_another_process_is_waited_for_and_then_named(tmp_path: Path) -> None:
    with locked_by_another_process(tmp_path):
        with pytest.raises(OrchError, match="stayed locked by another writer for 0 s; try again"):
            with directory_lock(tmp_path, timeout=0.1):
                pass
    with directory_lock(tmp_path, timeout=5):  # free again once the holder is gone
        pass
