"""OpenCode in server mode: one `opencode serve` on 127.0.0.1 for every lane.

One server is far cheaper than one `opencode run` per lane (an idle server holds ~315 MB,
each `run` peaks above 500 MB). Each lane gets its own session, created with
`?directory=<worktree>` so OpenCode works in that lane's worktree; the prompt goes in with
`prompt_async`. Lane status comes from the server's global event stream (`GET
/global/event`): `session.status` (busy, idle, retry), tool parts (started, finished,
failed), `file.edited`, and tokens and cost from `step-finish` parts. The lane is done when
its session goes idle after having been busy. Timeout or abort: `POST
/session/{id}/abort` (OpenCode itself would retry a dead model server for a long time).
`close()` stops the server's whole process group. The server process and its event stream
are opencode_serve.py; this module is what a lane does with them.

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
from pathlib import Path
from typing import Any, Mapping

import httpx

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink, InputAnswer, InputKind, LaneOutcome, Reply
from orch_tui.orchestration.agents.transcript import TranscriptEntry, from_opencode_messages
from orch_tui.orchestration.agents.base import AgentRequest, LaneLog, RunnerBase, build_prompt, changed_files
from orch_tui.orchestration.agents.opencode_events import OpenCodeVerdict, permission_request, question_request
from orch_tui.orchestration.agents.opencode_serve import (RECONCILE_SECONDS, RECONCILE_EVENT, SERVER_EXITED_EVENT, OpenCodeServe,
                                                         server_exit_reason)
from orch_tui.orchestration.states import LaneState

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
        self.serve = OpenCodeServe(binary, self.env, startup_timeout)
        self._asks: dict[str, _Ask] = {}
        self._lane_sessions: dict[int, tuple[str, dict[str, str]]] = {}
        """Each lane's last session (kept after it ends, for its transcript)."""

    # -- the server ----------------------------------------------------------------------
    @property
    def url(self) -> str | None:
        return self.serve.url

    @property
    def server_log(self) -> LaneLog:
        return self.serve.log

    @property
    def pgid(self) -> int | None:
        """Process group of the running server (None before start and after close)."""
        return self.serve.pgid

    @property
    def _client(self) -> httpx.AsyncClient | None:
        return self.serve.client

    async def start(self) -> None:
        await self.serve.start()

    async def close(self) -> None:
        await super().close()
        await self.serve.close()

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
        self.serve.route(session_id, str(request.worktree), queue)
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
            self.serve.unroute(session_id, str(request.worktree))
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
                if attempt == 2 or not await self.serve.died():
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
                payload = RECONCILE_EVENT  # quiet for a while: ask rather than trust the stream
            kind = payload.get("type")
            properties = payload.get("properties") or {}
            if kind == SERVER_EXITED_EVENT["type"]:
                return str(properties.get("why") or server_exit_reason(None, []))
            if kind == RECONCILE_EVENT["type"]:
                if properties.get("cut"):
                    verdict.progress(LaneState.BUSY, f"OpenCode's event stream {properties['cut']}; reconnected, "
                                             "asking the server what was missed")
                if await self._reconcile(session, verdict, worktree):
                    verdict.progress(LaneState.IDLE)
                    return None
                continue
            if kind == "message.part.updated":
                busy = True
                verdict.on_part(properties.get("part") or {})
            elif kind == "session.status":
                status = properties.get("status") or {}
                busy = busy or status.get("type") in ("busy", "retry")
                if status.get("type") == "idle" and busy:
                    verdict.progress(LaneState.IDLE)
                    return None
                verdict.on_status(status)
            elif kind == "session.idle" and busy:
                verdict.progress(LaneState.IDLE)
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
            verdict.progress(LaneState.BUSY, f"could not reconcile with the opencode server: {error}"[:200])
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
        verdict.progress(LaneState.BUSY, "finished while the event stream was silent (reconciled)")
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
        if session is None or not self.serve.routes(session[0]):
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
