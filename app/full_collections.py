"""When Python's full garbage collections run while the dashboard is up: on a timer of their
own, between two frames, never inside one, and only as often as Python's own rules allow.

A full collection walks every object the collector tracks and has not frozen: with the
dashboard's render caches (a few thousand strips, each with its little caches) and a
thousand reservations in their table, some 60,000 objects, 15-25 ms. Left to Python, it
starts wherever an allocation crosses the threshold, which is nearly always in the middle
of a repaint: the loop then stalled for the repaint and the collection together. Here the
collector keeps collecting the young generations on its own and the app runs the full
collections itself, each as its own short callback, when both of Python's conditions hold
(CPython 3.11 `gc_collect_main`'s schedule): ten middle collections since the last full
one, and the objects moved into the oldest generation since then more than a quarter of
those the last one left there. Without the second rule a busy dashboard collected in full
about once a second, each time walking the whole live heap to free a few thousand strips.
"""

from __future__ import annotations

import gc
from typing import Literal

CHECK_SECONDS = 0.5
"""How often the app looks whether a full collection is due."""
NEVER = 2**30
"""A threshold the oldest generation's counter never reaches."""
MIDDLE = 1
"""The generation whose survivors move into the oldest one."""


class FullCollections:
    """Owned by the app: `take_over` when it starts, `collect_if_due` every CHECK_SECONDS,
    `give_back` when it stops."""

    def __init__(self) -> None:
        self._given: tuple[int, int, int] | None = None
        """Python's thresholds while the app runs the full collections; None otherwise."""
        self.long_lived_total = 0
        """Objects the last full collection left in the oldest generation (Python's
        `long_lived_total`); counted at the check after that collection, not inside it."""
        self.long_lived_pending = 0
        """Objects moved into the oldest generation since the last full collection."""
        self._count_total = False
        self._young = 0
        """Objects in the generations a middle collection is about to walk."""

    def take_over(self) -> None:
        """Stop Python's automatic full collections; the young generations go on as before."""
        if self._given is None:
            self._given = gc.get_threshold()
            young, middle, _ = self._given
            gc.set_threshold(young, middle, NEVER)
            gc.callbacks.append(self._count_moved)

    def collect_if_due(self) -> bool:
        """A full collection if Python's own rules say one is due; True if it ran."""
        if self._given is None:
            return False
        if self._count_total:
            # The oldest generation now: what the collection left and what moved in since.
            self.long_lived_total = max(0, len(gc.get_objects(2)) - self.long_lived_pending)
            self._count_total = False
        if gc.get_count()[2] < self._given[2] or self.long_lived_pending <= self.long_lived_total // 4:
            return False
        gc.collect(2)
        self.long_lived_pending = 0
        self._count_total = True
        return True

    def _count_moved(self, phase: Literal["start", "stop"], info: dict[str, int]) -> None:
        """gc.callbacks: what a middle collection moves into the oldest generation is what
        it walked less what it freed (the young generations are small: counting them takes
        microseconds)."""
        if info["generation"] != MIDDLE:
            return
        if phase == "start":
            self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
        else:
            self.long_lived_pending += max(0, self._young - info["collected"] - info["uncollectable"])

    def give_back(self) -> None:
        """Python collects on its own again, with the thresholds it had."""
        if self._given is not None:
            gc.set_threshold(*self._given)
            gc.callbacks.remove(self._count_moved)
            self._given = None
