"""Updates of the Beads file asked at once, from several threads, written together.

Four lanes mark their tasks in progress at the same moment; a series of merges closes its
tasks together. Each update used to be a read-modify-write of the whole file with an fsync
(15 ms on a 2,000-issue tracker), one after the other. Now whoever holds the directory lock
applies every update waiting at that moment, writes the file once, and each asker returns
when its own update is on disk, with its own error if it failed (a task deleted meanwhile
fails alone). One update per task in a group: a second one to the same task waits for the
next, since an edit reads the task as the file held it (two notes would keep only one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

Parsed = TypeVar("Parsed")


@dataclass
class PendingUpdate(Generic[Parsed]):
    task_id: str
    edit: Callable[[Parsed], None]
    error: Exception | None = None
    written: threading.Event = field(default_factory=threading.Event)
    """Set once a writer applied it (with `error` if it failed)."""

    @property
    def done(self) -> bool:
        return self.written.is_set()


class UpdateQueue(Generic[Parsed]):
    def __init__(self) -> None:
        self._waiting: list[PendingUpdate[Parsed]] = []
        self._guard = threading.Lock()

    def add(self, update: PendingUpdate[Parsed]) -> None:
        with self._guard:
            self._waiting.append(update)

    def take_group(self) -> list[PendingUpdate[Parsed]]:
        """The waiting updates to write together: the oldest one for each task. Called
        with the directory lock held, so one group is taken at a time."""
        with self._guard:
            group: list[PendingUpdate[Parsed]] = []
            tasks: set[str] = set()
            for update in self._waiting:
                if update.task_id not in tasks:
                    tasks.add(update.task_id)
                    group.append(update)
            self._waiting = [update for update in self._waiting if update not in group]
            return group

    def withdraw(self, update: PendingUpdate[Parsed]) -> bool:
        """Take `update` back (its asker gave up waiting for the lock); False when a writer
        has it already."""
        with self._guard:
            if update in self._waiting:
                self._waiting.remove(update)
                return True
            return False
