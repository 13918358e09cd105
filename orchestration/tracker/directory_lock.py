"""The lock every writer of `.beads/` takes: an exclusive flock on the directory itself.

Writers in other processes (bd, another orch-tui) are waited for by polling, as flock has
no timeout. Writers in this process (four lanes marking their tasks in progress at once)
queue on a thread lock first and are handed the directory the moment the one before them
is done: polling them cost each a 20 ms sleep, which held back the batch's last lanes.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from orch_tui.orchestration.errors import OrchError

LOCK_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.02
"""Between two tries of a directory another process holds."""

_writers: dict[str, threading.Lock] = {}
_writers_guard = threading.Lock()


def _writers_in_this_process(directory: Path) -> threading.Lock:
    key = os.path.realpath(directory)
    with _writers_guard:
        return _writers.setdefault(key, threading.Lock())


def _timed_out(directory: Path, timeout: float) -> OrchError:
    return OrchError(f"{directory} stayed locked by another writer for {timeout:.0f} s; try again")


@contextmanager
def directory_lock(directory: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Held while `directory` is written; no lock file litters it."""
    deadline = time.monotonic() + timeout
    writers = _writers_in_this_process(directory)
    if not writers.acquire(timeout=timeout):
        raise _timed_out(directory, timeout)
    try:
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _timed_out(directory, timeout) from None
                    time.sleep(POLL_SECONDS)
            yield
        finally:
            os.close(descriptor)  # closing releases the flock
    finally:
        writers.release()
