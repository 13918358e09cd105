"""Journal saves written off the event loop: in order, saves asked for together written once,
a failed write said and survived."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from orch_tui.orchestration.engine.journal import Journal, JournalState
from orch_tui.orchestration.engine.journal_writes import JournalWrites


class _CountingJournal(Journal):
    """The real journal file, with each write counted and held until the test lets it go."""

    def __init__(self, repo: Path) -> None:
        super().__init__(repo)
        self.writes = 0
        self.go_on = threading.Event()
        self.go_on.set()

    def write(self, data: bytes) -> None:
        self.go_on.wait(timeout=10)
        self.writes += 1
        super().write(data)


def test_saves_asked_for_during_a_write_are_written_once_with_the_newest_state(repo: Path) -> None:
    async def scenario() -> tuple[int, JournalState | None]:
        journal = _CountingJournal(repo)
        writes = JournalWrites(journal, on_failure=lambda error: None)
        state = JournalState()
        journal.go_on.clear()  # the first write waits on the disk, as a slow fsync does
        first = writes.save(state)
        await asyncio.sleep(0.05)
        waiting = []
        for batch in range(1, 5):  # four lanes ending together
            state.batches_done = batch
            waiting.append(writes.save(state))
        journal.go_on.set()
        await asyncio.gather(first, *waiting)
        return journal.writes, journal.load()

    writes, saved = asyncio.run(scenario())
    assert writes == 2  # the first save, then the four others as one write
    assert saved is not None and saved.batches_done == 4


def test_a_save_holds_the_state_as_it_was_when_asked(repo: Path) -> None:
    """Changes made after a save, without another save, are not on disk yet."""
    async def scenario() -> JournalState | None:
        journal = Journal(repo)
        writes = JournalWrites(journal, on_failure=lambda error: None)
        state = JournalState(state="running")
        saved = writes.save(state)
        state.state = "idle"
        await saved
        return journal.load()

    saved = asyncio.run(scenario())
    assert saved is not None and saved.state == "running"


def test_a_failed_write_is_said_and_the_next_save_still_lands(repo: Path) -> None:
    failures: list[Exception] = []

    async def scenario() -> JournalState | None:
        journal = Journal(repo)
        writes = JournalWrites(journal, on_failure=failures.append)
        journal.path.mkdir(parents=True)  # a directory where the file goes: the rename fails
        await writes.save(JournalState(batches_done=1))
        journal.path.rmdir()
        await writes.save(JournalState(batches_done=2))
        return journal.load()

    saved = asyncio.run(scenario())
    assert len(failures) == 1 and isinstance(failures[0], IsADirectoryError)
    assert saved is not None and saved.batches_done == 2


def test_a_waiter_cancelled_does_not_cancel_the_write_others_wait_for(repo: Path) -> None:
    async def scenario() -> JournalState | None:
        journal = _CountingJournal(repo)
        writes = JournalWrites(journal, on_failure=lambda error: None)
        journal.go_on.clear()
        aborted = asyncio.ensure_future(writes.save(JournalState(batches_done=7)))
        other = writes.save(JournalState(batches_done=7))
        await asyncio.sleep(0.02)
        aborted.cancel()  # a lane aborted while its record is written
        journal.go_on.set()
        await other
        return journal.load()

    saved = asyncio.run(scenario())
    assert saved is not None and saved.batches_done == 7
