"""When Python's full garbage collections run while the dashboard is up: on a timer of their
own, between two frames, never inside one.

A full collection walks every object the collector tracks and has not frozen: with the
dashboard's render caches (a few thousand strips, each with its little caches) and a
thousand reservations in their table, some 75,000 objects, 15-25 ms. Left to Python, it
starts wherever an allocation crosses the threshold, which is nearly always in the middle
of a repaint: the loop then stalled for the repaint and the collection together. Here the
collector keeps collecting the young generations on its own and the app runs the full
collections itself, on the same schedule Python would (once ten young collections have
added up), each as its own short callback.
"""

from __future__ import annotations

import gc

CHECK_SECONDS = 0.5
"""How often the app looks whether a full collection is due."""
NEVER = 2**30
"""A threshold the oldest generation's counter never reaches."""


class FullCollections:
    """Owned by the app: `take_over` when it starts, `collect_if_due` every CHECK_SECONDS,
    `give_back` when it stops."""

    def __init__(self) -> None:
        self._given: tuple[int, int, int] | None = None
        """Python's thresholds while the app runs the full collections; None otherwise."""

    def take_over(self) -> None:
        """Stop Python's automatic full collections; the young generations go on as before."""
        if self._given is None:
            self._given = gc.get_threshold()
            young, middle, _ = self._given
            gc.set_threshold(young, middle, NEVER)

    def collect_if_due(self) -> bool:
        """A full collection if Python's own rule says one is due (the middle generation
        collected `full` times since the last one); True if it ran."""
        if self._given is None or gc.get_count()[2] < self._given[2]:
            return False
        gc.collect(2)
        return True

    def give_back(self) -> None:
        """Python collects on its own again, with the thresholds it had."""
        if self._given is not None:
            gc.set_threshold(*self._given)
            self._given = None
