"""OpenCode in server mode: one `opencode serve` on 127.0.0.1 for every lane.

One server is far cheaper than one `opencode run` per lane (an idle server holds ~315 MB,
each `run` peaks above 500 MB). Each lane gets its own session, created with
`?directory=<worktree>` so OpenCode works in that lane's worktree; the prompt goes in with
`prompt_async`. Lane status comes from the server's global event stream (`GET
/global/event`): `session.status` (busy, idle, retry), tool parts (started, finished,
failed), `file.edited`, and tokens and cost from `step-finish` parts. The lane is done when
its session goes idle after having been busy. Timeout or abort: `POST
/session/{id}/abort` (OpenCode itself would retry a dead model server for a long time).
`close()` stops the server's whole process group.

Agents that ask (opencode 1.18.33, checked against `GET /doc`): `permission.asked` and
`question.asked` events put the lane in needs-input (see opencode_events.py for their
shapes); `answer()` replies with `POST /permission/{requestID}/reply {"reply": "once" |
"always" | "reject"}`, `POST /question/{requestID}/reply {"answers": [[label or text], ...]}`
(one list a question) or `POST /question/{requestID}/reject`; each returns `true`. The
older `POST /session/{id}/permissions/{permissionID} {"response": ...}` still exists; the
`/api/...` v2 routes exist too but list nothing this build asks. `GET /permission` and
`GET /question` list what is waiting.

A lost event stream never strands a lane: when the stream reconnects, or a session has
been silent for `reconcile_seconds`, the runner asks the server (`GET /session/status`,
the waiting permissions and questions, and the session's messages once it is idle), so a
lane that finished or started waiting meanwhile is seen; parts seen twice count once.
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
from typing import Any, Mapping

import httpx

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink, InputAnswer, InputKind, LaneOutcome, Reply
from orch_tui.orchestration.agents.transcript import TranscriptEntry, from_opencode_messages
from orch_tui.orchestration.agents.base import AgentRequest, LaneLog, RunnerBase, build_prompt, changed_files
from orch_tui.orchestration.agents.opencode_events import OpenCodeVerdict, permission_request, question_request
from orch_tui.orchestration.infra.process_group import GroupProcess, child_env
from orch_tui.orchestration.infra.waiting import wait_at_most

OPENCODE_ENV_DEFAULTS = {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_SHARE": "1"}
"""Set for every OpenCode child (overridable); tests add their own isolation on top."""
_LISTENING = re.compile(r"listening on (http://[^\s]+)")
_SERVER_EXITED = {"type": "orch.server-exited", "properties": {}}
_RECONCILE = {"type": "orch.reconcile", "properties": {}}
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


def split_model(model: str | None) -> dict[str, str] | None:
    """`provider/model` as OpenCode's `{providerID, modelID}`, None for the default model."""
    if not model:
        return None
    provider, _, model_id = model.partition("/")
    if not provider or not model_id:
        raise OrchError(f"opencode_model {model!r} must look like provider/model")
    return {"providerID": provider, "modelID": model_id}


class _Ask:
    """A request an agent waits on: which lane, session and verdict it belongs to."""

    def __init__(self, lane: int, session_id: str, params: dict[str, str], verdict: OpenCodeVerdict) -> None:
        self.lane, self.session_id, self.params, self.verdict = lane, session_id, params, verdict


class OpenCodeServerRunner(RunnerBase):
    can_answer = True

    def __init__(self, binary: str = "opencode", model: str | None = None,
                 env: Mapping[str, str] | None = None, agent: str | None = None,
                 startup_timeout: float = 90.0, reconcile_seconds: float = RECONCILE_SECONDS) -> None:
        super().__init__()
        self.reconcile_seconds = reconcile_seconds
        self.binary = binary
        self.model = split_model(model)
        self.env = dict(env or {})
        self.agent = agent
        self.startup_timeout = startup_timeout
        self.server_log = LaneLog()
        self.url: str | None = None
        self._process: GroupProcess | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._sessions: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._directories: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._asks: dict[str, _Ask] = {}
        self._lane_sessions: dict[int, tuple[str, dict[str, str]]] = {}
        """Each lane's last session (kept after it ends, for its transcript)."""
        self._cwd: Path | None = None
        self._start_lock = asyncio.Lock()

    @property
    def pgid(self) -> int | None:
        """Process group of the running server (None before start and after close)."""
        return self._process.pgid if self._process else None

    # -- server lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return
            if self._process is not None:  # it died: its lanes hear it (if _watch_exit has not told them yet)
                self._tell_sessions_server_exited(self._process.returncode)
            await self._teardown()  # a server that died: drop its listeners before a new one
            await self._spawn()

    async def _server_died(self) -> bool:
        """After a refused connection: whether the server process has ended (it may take a
        moment for its exit to be seen)."""
        process = self._process
        return process is None or await wait_at_most(asyncio.shield(process.wait()), SERVER_EXIT_GRACE_SECONDS)

    def _tell_sessions_server_exited(self, status: int | None) -> None:
        why = server_exit_reason(status, self.server_log.tail(3))
        exited = {"type": _SERVER_EXITED["type"], "properties": {"why": why}}
        self.server_log.add(f"[orch] {why}")
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
            detail = " | ".join(self.server_log.tail(5))
            raise OrchError(f"opencode serve did not start: {error or 'timed out'} {detail}".strip()) from None
        self._client = httpx.AsyncClient(base_url=self.url, auth=(SERVER_USER, password),
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
            self.server_log.add(line)
            found = _LISTENING.search(line)
            if found:
                return found.group(1).rstrip("/")
        raise OrchError(f"opencode serve exited (status {await self._process.wait()})")

    async def _drain_output(self) -> None:
        """Keep reading the server's output so a full pipe never blocks it."""
        assert self._process is not None
        async for line in self._process.lines():
            self.server_log.add(line)

    async def _watch_exit(self) -> None:
        assert self._process is not None
        self._tell_sessions_server_exited(await self._process.wait())

    async def _listen(self) -> None:
        """Follow the global event stream, reconnecting while the server lives."""
        assert self._client is not None and self._process is not None
        connections = 0
        cut = ""
        while self._process.returncode is None:
            if connections:  # a reconnect: what happened meanwhile is asked of the server
                self.server_log.add(f"[orch] event stream {cut}; reconnecting")
                reconnect = {"type": _RECONCILE["type"], "properties": {"cut": cut}}
                for queue in list(self._sessions.values()):
                    queue.put_nowait(reconnect)
            connections += 1
            try:
                async with self._client.stream("GET", "/global/event",
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
        await super().close()
        await self._teardown()

    async def _teardown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._stop_process()
        if self._cwd is not None:
            shutil.rmtree(self._cwd, ignore_errors=True)
            self._cwd = None

    # -- one lane ------------------------------------------------------------------------
    async def _execute(self, request: AgentRequest, sink: EventSink,
                       log: LaneLog) -> tuple[LaneOutcome, str]:
        params = {"directory": str(request.worktree)}
        title = f"{request.task.id}: {request.task.title}"[:120]
        try:
            session_id = await self._open_session(params, title)
        except OrchError as error:
            return LaneOutcome.FAILED, str(error)
        assert self._client is not None
        log.add(f"session {session_id} in {request.worktree}")
        self._lane_sessions[request.lane] = (session_id, params)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sessions[session_id] = queue
        self._directories[str(request.worktree)] = queue
        verdict = OpenCodeVerdict(request.lane, request.task.id, request.worktree, sink, log)
        try:
            problem = await self._prompt(session_id, params, build_prompt(request))
            if problem:
                return LaneOutcome.FAILED, problem
            problem = await self._follow(queue, verdict, _Ask(request.lane, session_id, params, verdict))
            if problem:
                return LaneOutcome.FAILED, problem
        except asyncio.CancelledError:
            await self._abort_session(session_id, params, log)
            raise
        finally:
            self._sessions.pop(session_id, None)
            self._directories.pop(str(request.worktree), None)
            for request_id in list(verdict.pending):
                self._asks.pop(request_id, None)
        files = await asyncio.to_thread(changed_files, request.worktree, request.base_commit)
        return verdict.judge(files)

    async def _open_session(self, params: dict[str, str], title: str) -> str:
        """A new session on a running server; a server found dead is replaced once."""
        for attempt in (1, 2):
            await self.start()
            assert self._client is not None
            try:
                created = await self._client.post("/session", params=params, json={"title": title})
                created.raise_for_status()
                return str(created.json()["id"])
            except httpx.TransportError as error:
                if attempt == 2 or not await self._server_died():
                    raise OrchError(f"opencode server refused a new session: {type(error).__name__}: {error}") from None
            except (httpx.HTTPError, KeyError, ValueError) as error:
                raise OrchError(f"opencode server refused a new session: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    async def _prompt(self, session_id: str, params: dict[str, str], text: str) -> str | None:
        assert self._client is not None
        body: dict[str, Any] = {"parts": [{"type": "text", "text": text}]}
        if self.model:
            body["model"] = self.model
        if self.agent:
            body["agent"] = self.agent
        try:
            response = await self._client.post(f"/session/{session_id}/prompt_async", params=params, json=body)
            response.raise_for_status()
        except httpx.HTTPError as error:
            return f"opencode server refused the prompt: {error}"
        return None

    async def _follow(self, queue: asyncio.Queue[dict[str, Any]], verdict: OpenCodeVerdict,
                      session: _Ask) -> str | None:
        """Feed the session's events to the verdict until it goes idle after being busy."""
        busy = False
        worktree = Path(session.params["directory"])
        while True:
            try:  # (not wait_for: on 3.11 it can swallow a cancellation, e.g. a budget stop)
                async with asyncio.timeout(self.reconcile_seconds):
                    payload = await queue.get()
            except TimeoutError:
                payload = _RECONCILE  # quiet for a while: ask rather than trust the stream
            kind = payload.get("type")
            properties = payload.get("properties") or {}
            if kind == _SERVER_EXITED["type"]:
                return str(properties.get("why") or server_exit_reason(None, []))
            if kind == _RECONCILE["type"]:
                if properties.get("cut"):
                    verdict.progress("busy", f"OpenCode's event stream {properties['cut']}; reconnected, "
                                             "asking the server what was missed")
                if await self._reconcile(session, verdict, worktree):
                    verdict.progress("idle")
                    return None
                continue
            if kind == "message.part.updated":
                busy = True
                verdict.on_part(properties.get("part") or {})
            elif kind == "session.status":
                status = properties.get("status") or {}
                busy = busy or status.get("type") in ("busy", "retry")
                if status.get("type") == "idle" and busy:
                    verdict.progress("idle")
                    return None
                verdict.on_status(status)
            elif kind == "session.idle" and busy:
                verdict.progress("idle")
                return None
            elif kind == "session.error":
                verdict.on_error(properties.get("error"))
            elif kind == "file.edited":
                verdict.on_file_edited(str(properties.get("file", "")))
            elif kind in ("permission.asked", "question.asked"):
                request = (permission_request(properties, worktree) if kind == "permission.asked"
                           else question_request(properties))
                self._asks[request.id] = session
                verdict.on_input_asked(request)
            elif kind in ("permission.replied", "question.replied", "question.rejected"):
                self._asks.pop(str(properties.get("requestID", "")), None)
                verdict.on_server_answer(kind, properties)

    async def _reconcile(self, session: _Ask, verdict: OpenCodeVerdict, worktree: Path) -> bool:
        """Ask the server what the event stream may not have said: requests waiting for a
        person (`GET /permission`, `GET /question`) and whether the session is done
        (`GET /session/status`, then its messages). True when the session finished."""
        assert self._client is not None
        try:
            statuses = await self._get_json("/session/status", session.params)
            for route, kind, parse in (("/permission", InputKind.PERMISSION, lambda r: permission_request(r, worktree)),
                                       ("/question", InputKind.QUESTION, question_request)):
                listed = [item for item in await self._get_json(route, session.params) or []
                          if isinstance(item, dict) and item.get("sessionID") == session.session_id]
                for item in listed:
                    if str(item.get("id", "")) not in verdict.pending:
                        request = parse(item)
                        self._asks[request.id] = session
                        verdict.on_input_asked(request)
                waiting = {str(item.get("id", "")) for item in listed}
                for request_id, request in list(verdict.pending.items()):
                    if request.kind is kind and request_id not in waiting:
                        self._asks.pop(request_id, None)
                        verdict.on_input_answered(request_id, Reply.ANSWER, "no longer waits (seen when reconciling)",
                                                  "someone else")
            status = (statuses or {}).get(session.session_id) if isinstance(statuses, dict) else None
            if status and status.get("type") != "idle":
                return False
            messages = await self._get_json(f"/session/{session.session_id}/message", session.params) or []
        except (httpx.HTTPError, ValueError) as error:
            verdict.progress("busy", f"could not reconcile with the opencode server: {error}"[:200])
            return False
        replies = [message for message in messages if isinstance(message, dict)
                   and (message.get("info") or {}).get("role") == "assistant"]
        if not replies or not ((replies[-1].get("info") or {}).get("time") or {}).get("completed"):
            return False  # not started yet, or still writing its reply
        for message in replies:  # what the stream did not deliver (parts are idempotent)
            for part in message.get("parts") or []:
                if isinstance(part, dict):
                    verdict.on_part(part)
            if (message.get("info") or {}).get("error"):
                verdict.on_error(message["info"]["error"])
        verdict.progress("busy", "finished while the event stream was silent (reconciled)")
        return True

    async def _get_json(self, path: str, params: dict[str, str]) -> Any:
        assert self._client is not None
        response = await self._client.get(path, params=params, timeout=10.0)
        response.raise_for_status()
        return response.json()

    async def answer(self, lane: int, request_id: str, answer: InputAnswer, by: str = "a person") -> None:
        ask = self._asks.get(request_id)
        request = ask.verdict.pending.get(request_id) if ask else None
        if ask is None or request is None or ask.lane != lane:
            raise OrchError(f"lane {lane}: its agent is not waiting on request {request_id} "
                            "(already answered, or the lane ended)")
        assert self._client is not None
        body: dict[str, Any] | None
        if request.kind is InputKind.PERMISSION:
            if answer.reply is Reply.ANSWER:
                raise OrchError(f"lane {lane}: a permission takes once, always or reject, not a typed answer")
            path, body = f"/permission/{request_id}/reply", {"reply": answer.reply.value}
        elif answer.reply is Reply.REJECT:
            path, body = f"/question/{request_id}/reject", None
        else:
            if len(answer.answers) != len(request.questions):
                raise OrchError(f"lane {lane}: the agent asked {len(request.questions)} question(s); "
                                f"{len(answer.answers)} answer(s) given")
            path, body = f"/question/{request_id}/reply", {"answers": [[text] for text in answer.answers]}
        try:
            response = await self._client.post(path, params=ask.params, json=body)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise OrchError(f"lane {lane}: OpenCode refused the answer to {request_id} ({error}); "
                            "the agent still waits: answer again or abort the lane") from None
        self._asks.pop(request_id, None)
        ask.verdict.on_input_answered(request_id, answer.reply, answer.describe(), by)

    def follow_up_refusal(self, lane: int) -> str | None:
        session = self._lane_sessions.get(lane)
        if session is None or session[0] not in self._sessions:
            return f"lane {lane}'s agent is not running: a follow-up goes to a running session"
        return None

    async def follow_up(self, lane: int, text: str) -> None:
        """A new prompt in the lane's session: OpenCode queues it after the current step."""
        refusal = self.follow_up_refusal(lane)
        if refusal:
            raise OrchError(refusal)
        session_id, params = self._lane_sessions[lane]
        problem = await self._prompt(session_id, params, text)
        if problem:
            raise OrchError(f"lane {lane}: {problem}")
        if lane in self._logs:
            self._logs[lane].add(f"follow-up sent: {text}")

    async def transcript(self, lane: int) -> tuple[TranscriptEntry, ...]:
        session = self._lane_sessions.get(lane)
        if session is None or self._client is None:
            return await super().transcript(lane)
        session_id, params = session
        try:
            response = await self._client.get(f"/session/{session_id}/message", params=params)
            response.raise_for_status()
            messages = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return (TranscriptEntry("error", f"could not read session {session_id} from OpenCode: {error}"),
                    *await super().transcript(lane))
        return from_opencode_messages(messages if isinstance(messages, list) else [], Path(params["directory"]))

    async def _abort_session(self, session_id: str, params: dict[str, str], log: LaneLog) -> None:
        if self._client is None:
            return
        try:
            await self._client.post(f"/session/{session_id}/abort", params=params, timeout=10.0)
            log.add(f"session {session_id} aborted")
        except httpx.HTTPError as error:
            log.add(f"abort of session {session_id} failed: {error}")
