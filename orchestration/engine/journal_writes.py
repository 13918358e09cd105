"""Journal saves off the event loop, in order, the ones asked for meanwhile written as one.

Each save is taken (encoded) at once, on the loop, so it holds the state as it was when
asked; the disk write and its two fsyncs run in a worker thread while lanes go on. A save
asked for while a write is under way joins the next write, which carries the newest state:
four lanes ending together cost one write, not four (a group commit). Awaiting a save waits
until a write holding it is on disk, which keeps the write-ahead order of recovery.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from orch_tui.orchestration.engine.journal import Journal, JournalState


class JournalWrites:
    def __init__(self, journal: Journal, on_failure: Callable[[Exception], None]) -> None:
        self._journal = journal
        self._on_failure = on_failure
        self._newest: bytes | None = None
        self._next_write: asyncio.Future[None] | None = None
        """Resolved when the write that will carry `_newest` is on disk."""
        self._writer: asyncio.Task[None] | None = None

    def save(self, state: JournalState) -> Awaitable[None]:
        """Take `state` now; the result resolves once it is on disk (or its write failed and
        `on_failure` said so). Need not be awaited: writes keep the order they were asked in."""
        self._newest = self._journal.encode(state)
        if self._next_write is None:
            self._next_write = asyncio.get_running_loop().create_future()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_until_none_asked(), name="journal writes")
        # Shielded: a waiter cancelled (a lane aborted) must not cancel the write others await.
        return asyncio.shield(self._next_write)

    async def _write_until_none_asked(self) -> None:
        try:
            while self._next_write is not None and self._newest is not None:
                done, data = self._next_write, self._newest
                self._next_write, self._newest = None, None
                try:
                    await asyncio.to_thread(self._journal.write, data)
                except Exception as error:  # noqa: BLE001 - said by on_failure; the lanes go on
                    self._on_failure(error)
                finally:
                    done.set_result(None)
        finally:
            self._writer = None
            if self._next_write is not None:  # cancelled (the loop is closing): nobody will write it
                self._next_write.cancel()
                self._next_write = None
