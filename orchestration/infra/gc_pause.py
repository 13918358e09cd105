"""Pausing Python's cyclic garbage collector around bulk work that builds many long-lived,
acyclic objects (parsing a tracker, planning a graph): otherwise the collector rescans the
whole growing heap again and again (30-40% of a large load)."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
