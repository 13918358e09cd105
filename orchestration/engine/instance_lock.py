"""One orchestrator per repository.

An exclusive `flock` on `<git dir>/orch-tui/lock`, held for the life of the process: the
kernel drops it when the process dies, even by SIGKILL, so a crash never leaves a stale lock.
The file records the holder's pid so a second orchestrator can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.repo_paths import state_dir


class AlreadyRunning(OrchError):
    """Another orchestrator holds this repository."""


class InstanceLock:
    def __init__(self, repo: Path) -> None:
        self.path = state_dir(repo) / "lock"
        self._stream: IO[str] | None = None

    def acquire(self) -> None:
        stream = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            stream.close()
            who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "another process"
            raise AlreadyRunning(
                f"another orch-tui orchestrator ({who}) is running on this repository; "
                "only one may run at a time: use that one, or stop it first") from None
        stream.seek(0)
        stream.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}, stream)
        stream.flush()
        self._stream = stream

    def is_held(self) -> bool:
        """True when some orchestrator holds the lock now (checked without taking it for long)."""
        if not self.path.exists():
            return False
        with open(self.path, encoding="utf-8") as stream:
            try:
                fcntl.flock(stream, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(stream, fcntl.LOCK_UN)
            return False

    def holder(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self.path.read_text(encoding="utf-8") or "null")
            return found if isinstance(found, dict) else None
        except (OSError, json.JSONDecodeError):
            return None

    def release(self) -> None:
        if self._stream is not None:
            fcntl.flock(self._stream, fcntl.LOCK_UN)
            self._stream.close()
            self._stream = None

    def __enter__(self) -> "InstanceLock":
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
