"""One `opencode serve` on 127.0.0.1: its process group, its HTTP client and its global event
stream, whose events go to the queue of the session (or worktree) they belong to.

The runner (opencode_server.py) drives sessions through it; a server that dies is replaced
at the next `start()`, and every session still routed hears why (an `orch.server-exited`
event); a cut event stream reconnects and tells every session (`orch.reconcile`), so the
runner asks the server what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import httpx

from orch_tui.orchestration.agents.base import LaneLog
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.process_group import GroupProcess, child_env
from orch_tui.orchestration.infra.waiting import wait_at_most

OPENCODE_ENV_DEFAULTS = {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_SHARE": "1"}
"""Set for every OpenCode child (overridable); tests add their own isolation on top."""
_LISTENING = re.compile(r"listening on (http://[^\s]+)")
SERVER_EXITED_EVENT = {"type": "orch.server-exited", "properties": {}}
RECONCILE_EVENT = {"type": "orch.reconcile", "properties": {}}
"""Put in every session's queue when the event stream reconnects: events may have been lost."""
RECONCILE_SECONDS = 15.0
"""A session that sent nothing for this long is asked about (the stream may have gone quiet)."""
SERVER_USER = "opencode"
SERVER_EXIT_GRACE_SECONDS = 2.0
"""How long a refused connection waits to see whether the server process is exiting."""


def server_exit_reason(status: int | None, last_output: list[str]) -> str:
    """Why a lane ended when `opencode serve` died under it, and what to do."""
    if status is not None and status < 0:
        try:
            how = f"killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"killed by signal {-status}"
    else:
        how = "status unknown" if status is None else f"status {status}"
    said = f"; its last output: {' | '.join(last_output)}" if last_output else ""
    return (f"the OpenCode server (opencode serve) exited ({how}) while this lane's agent worked{said}. "
            "The work so far stays on the lane's branch; retry the task (a new server starts for the next "
            "lane); if it keeps exiting, run `orch-tui doctor` and look at OpenCode's own log")



SessionQueue = asyncio.Queue[dict[str, Any]]


class OpenCodeServe:
    """The server process and its event stream; sessions register a queue to hear their events."""

    def __init__(self, binary: str, env: dict[str, str], startup_timeout: float) -> None:
        self.binary = binary
        self.env = env
        self.startup_timeout = startup_timeout
        self.log = LaneLog()
        self.url: str | None = None
        self.client: httpx.AsyncClient | None = None
        self._process: GroupProcess | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._sessions: dict[str, SessionQueue] = {}
        self._directories: dict[str, SessionQueue] = {}
        self._cwd: Path | None = None
        self._start_lock = asyncio.Lock()

    @property
    def pgid(self) -> int | None:
        """Process group of the running server (None before start and after close)."""
        return self._process.pgid if self._process else None

    def route(self, session_id: str, directory: str, queue: SessionQueue) -> None:
        """Send a session's events (and `file.edited` in its directory) to `queue`."""
        self._sessions[session_id] = queue
        self._directories[directory] = queue

    def unroute(self, session_id: str, directory: str) -> None:
        self._sessions.pop(session_id, None)
        self._directories.pop(directory, None)

    def routes(self, session_id: str) -> bool:
        """Whether the session is still followed (its lane's agent is running)."""
        return session_id in self._sessions

    async def start(self) -> None:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return
            if self._process is not None:  # it died: its lanes hear it (if _watch_exit has not told them yet)
                self._tell_sessions_server_exited(self._process.returncode)
            await self.close()  # a server that died: drop its listeners before a new one
            await self._spawn()

    async def died(self) -> bool:
        """After a refused connection: whether the server process has ended (it may take a
        moment for its exit to be seen)."""
        process = self._process
        return process is None or await wait_at_most(asyncio.shield(process.wait()), SERVER_EXIT_GRACE_SECONDS)

    def _tell_sessions_server_exited(self, status: int | None) -> None:
        why = server_exit_reason(status, self.log.tail(3))
        exited = {"type": SERVER_EXITED_EVENT["type"], "properties": {"why": why}}
        self.log.add(f"[orch] {why}")
        for queue in list(self._sessions.values()):
            queue.put_nowait(exited)

    async def _spawn(self) -> None:
        self._cwd = Path(tempfile.mkdtemp(prefix="orch-tui-opencode-"))
        # A password keeps other local users from driving a server that can run bash as us.
        password = secrets.token_urlsafe(24)
        env = child_env(self._cwd, {**OPENCODE_ENV_DEFAULTS, **self.env,
                                    "OPENCODE_SERVER_USERNAME": SERVER_USER,
                                    "OPENCODE_SERVER_PASSWORD": password})
        argv = [self.binary, "serve", "--hostname", "127.0.0.1", "--port", "0"]
        try:
            self._process = await GroupProcess.spawn(argv, self._cwd, env)
        except OSError as error:
            raise OrchError(f"cannot start {self.binary}: {error.strerror or error}") from None
        try:
            self.url = await asyncio.wait_for(self._read_url(), self.startup_timeout)
        except (TimeoutError, OrchError) as error:
            await self._stop_process()
            detail = " | ".join(self.log.tail(5))
            raise OrchError(f"opencode serve did not start: {error or 'timed out'} {detail}".strip()) from None
        self.client = httpx.AsyncClient(base_url=self.url, auth=(SERVER_USER, password),
                                         timeout=httpx.Timeout(30.0))
        self._connected.clear()
        self._tasks = [asyncio.create_task(self._drain_output()), asyncio.create_task(self._listen()),
                       asyncio.create_task(self._watch_exit())]
        try:
            await asyncio.wait_for(self._connected.wait(), 30.0)
        except TimeoutError:
            await self.close()
            raise OrchError("opencode serve started but its event stream did not connect") from None

    async def _read_url(self) -> str:
        assert self._process is not None
        async for line in self._process.lines():
            self.log.add(line)
            found = _LISTENING.search(line)
            if found:
                return found.group(1).rstrip("/")
        raise OrchError(f"opencode serve exited (status {await self._process.wait()})")

    async def _drain_output(self) -> None:
        """Keep reading the server's output so a full pipe never blocks it."""
        assert self._process is not None
        async for line in self._process.lines():
            self.log.add(line)

    async def _watch_exit(self) -> None:
        assert self._process is not None
        self._tell_sessions_server_exited(await self._process.wait())

    async def _listen(self) -> None:
        """Follow the global event stream, reconnecting while the server lives."""
        assert self.client is not None and self._process is not None
        connections = 0
        cut = ""
        while self._process.returncode is None:
            if connections:  # a reconnect: what happened meanwhile is asked of the server
                self.log.add(f"[orch] event stream {cut}; reconnecting")
                reconnect = {"type": RECONCILE_EVENT["type"], "properties": {"cut": cut}}
                for queue in list(self._sessions.values()):
                    queue.put_nowait(reconnect)
            connections += 1
            try:
                async with self.client.stream("GET", "/global/event",
                                               timeout=httpx.Timeout(10.0, read=None)) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            self._dispatch(line[5:])
                cut = "ended by the server"
            except (httpx.HTTPError, OSError) as error:  # said at the reconnect, in every lane
                cut = f"cut ({type(error).__name__}: {error})"[:200]
            await asyncio.sleep(0.2)

    def _dispatch(self, data: str) -> None:
        try:
            envelope = json.loads(data)
        except json.JSONDecodeError:
            return
        payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else envelope
        kind = payload.get("type")
        if kind == "server.connected":
            self._connected.set()
            return
        properties = payload.get("properties") or {}
        queue = self._sessions.get(str(properties.get("sessionID", "")))
        if queue is None and kind == "file.edited":
            queue = self._directories.get(str(envelope.get("directory", "")))
        if queue is not None:
            queue.put_nowait(payload)

    async def _stop_process(self) -> None:
        if self._process is not None:
            await self._process.kill()
            self._process = None

    async def close(self) -> None:
        """Stop the event stream, the client and the server's whole process group."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        await self._stop_process()
        if self._cwd is not None:
            shutil.rmtree(self._cwd, ignore_errors=True)
            self._cwd = None
