"""Counting the git processes a piece of work starts: when, where and for how long.

git writes one trace2 event file per process into the folder named by GIT_TRACE2_EVENT
(inherited by everything started while `traced` is active). Only top-level processes are
counted: a git that git itself started (a hook, `git gc --auto`) belongs to its parent.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class GitCall:
    started: float
    """Wall-clock seconds since the epoch (comparable with time.time())."""
    seconds: float
    command: str
    """The git subcommand (`status`, `switch`, ...)."""
    worktree: str
    """The worktree it ran in ('' outside a repository)."""


@contextmanager
def traced(folder: Path) -> Iterator[Path]:
    """Every git started inside the block leaves its trace in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("GIT_TRACE2_EVENT")
    os.environ["GIT_TRACE2_EVENT"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("GIT_TRACE2_EVENT", None)
        else:
            os.environ["GIT_TRACE2_EVENT"] = saved


def read_calls(folder: Path) -> list[GitCall]:
    """The top-level git processes traced in `folder`, oldest first."""
    calls = []
    for trace in folder.iterdir():
        started, seconds, command, worktree = None, 0.0, "", ""
        for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
            event = json.loads(line)
            if "/" in event.get("sid", ""):
                continue  # a child of this git (hooks, auto gc)
            kind = event.get("event")
            if kind == "start":
                started = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
                command = next((word for word in event.get("argv", [])[1:] if not word.startswith("-")
                                and "=" not in word), "")
            elif kind == "cmd_name":
                command = event.get("name", command)
            elif kind == "def_repo":
                worktree = event.get("worktree", "")
            elif kind == "exit":
                seconds = float(event.get("t_abs", 0.0))
        if started is not None:
            calls.append(GitCall(started, seconds, command, worktree))
    return sorted(calls, key=lambda call: call.started)
