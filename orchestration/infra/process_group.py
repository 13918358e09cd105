"""Child processes in their own process group, so stopping an agent stops everything it began.

An agent spawns shells, test runners and language servers; killing only the agent's own pid
would leave those running. Each child starts a new session (its pid is its process group id)
and `kill()` signals the whole group: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import AsyncIterator, Mapping, Sequence

from orch_tui.orchestration.infra.waiting import wait_at_most

STREAM_LIMIT = 16 * 1024 * 1024
"""Longest line read from a child (OpenCode's JSON lines carry whole tool outputs)."""


def child_env(cwd: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment plus `overrides`, with PWD set to the child's directory.

    OpenCode resolves its directory from PWD before the real cwd, so a child inheriting the
    parent's PWD would work in the wrong place.
    """
    env = {**os.environ, **(overrides or {})}
    env["PWD"] = str(cwd)
    return env


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until no process of the group is left (orphans are reaped by init, not by us)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class GroupProcess:
    """One child process leading its own process group; stdout and stderr merged."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid
        self.pgid = process.pid

    @classmethod
    async def spawn(cls, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                    stdin_data: bytes | None = None) -> "GroupProcess":
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=str(cwd), env=dict(env), start_new_session=True,
            stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, limit=STREAM_LIMIT)
        child = cls(process)
        if stdin_data is not None and process.stdin is not None:
            try:
                process.stdin.write(stdin_data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                process.stdin.close()
        return child

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def lines(self) -> AsyncIterator[str]:
        """Output lines (decoded leniently) until the child closes its output."""
        stream = self._process.stdout
        assert stream is not None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than STREAM_LIMIT: take what is buffered
                raw = await stream.read(STREAM_LIMIT)
            if not raw:
                return
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def wait(self) -> int:
        return await self._process.wait()

    async def kill(self, grace: float = 3.0) -> None:
        """Stop the whole group: SIGTERM, then SIGKILL for whatever outlives `grace` seconds."""
        _signal_group(self.pgid, signal.SIGTERM)
        await wait_at_most(asyncio.shield(self._process.wait()), grace)
        # Descendants may outlive the leader (or ignore SIGTERM): finish the group off.
        _signal_group(self.pgid, signal.SIGKILL)
        await wait_at_most(asyncio.shield(self._process.wait()), grace)
        await wait_group_gone(self.pgid, grace)

    async def reap_group(self) -> None:
        """After a normal exit: make sure nothing the child started lives on."""
        if group_alive(self.pgid):
            await self.kill(grace=1.0)
