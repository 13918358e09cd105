"""Running a configured command (lane setup, lane check) in a lane's worktree.

An argv list from the config, never a shell string: task text cannot become a command.
The child leads its own process group (agents/process.py), so a timeout stops everything it
started; its output (stdout and stderr merged) goes line by line to `on_line` and the last
lines are kept for the person who has to read why it failed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from orch_tui.orchestration.infra.process_group import GroupProcess, child_env

TAIL_LINES = 40
TAIL_LINE_CHARS = 500


@dataclass(frozen=True)
class CommandRun:
    """How one run of a lane command ended."""

    status: int | None
    """Exit status; None when it could not start or was stopped at its timeout."""
    seconds: float
    tail: tuple[str, ...]
    problem: str = ""
    """Why it did not run to an exit status (cannot start, timed out); empty otherwise."""

    @property
    def ok(self) -> bool:
        return self.status == 0

    def summary(self, what: str) -> str:
        """`lane setup exited with status 1 after 0.4 s` and the like."""
        if self.problem:
            return f"{what} {self.problem}"
        return f"{what} exited with status {self.status} after {self.seconds:.1f} s"

    def tail_text(self, lines: int = 12) -> str:
        return "\n".join(self.tail[-lines:])


async def run_lane_command(argv: Sequence[str], worktree: Path, env: Mapping[str, str], *,
                           timeout: float, on_line: Callable[[str], None] | None = None) -> CommandRun:
    """Run `argv` in `worktree` with `env` added to the environment; never raises for the
    command's own failure (a missing program or a timeout is a CommandRun with `problem`)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    try:
        child = await GroupProcess.spawn(list(argv), worktree, child_env(worktree, env))
    except OSError as error:
        return CommandRun(None, 0.0, (), f"could not start {argv[0]!r}: {error.strerror or error}")
    try:
        async with asyncio.timeout(timeout):
            async for line in child.lines():
                tail.append(line[:TAIL_LINE_CHARS])
                if on_line is not None and line.strip():
                    on_line(line)
            status = await child.wait()
    except TimeoutError:
        await child.kill()
        return CommandRun(None, time.monotonic() - started, tuple(tail),
                          f"did not finish within {timeout:g} s and was stopped")
    except asyncio.CancelledError:
        await child.kill()
        raise
    await child.reap_group()
    return CommandRun(status, time.monotonic() - started, tuple(tail))


class Throttled:
    """Passes at most one line every `interval` seconds on (a chatty setup must not flood the UI)."""

    def __init__(self, forward: Callable[[str], None], interval: float = 0.25) -> None:
        self.forward = forward
        self.interval = interval
        self._last = 0.0

    def __call__(self, line: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.forward(line)
