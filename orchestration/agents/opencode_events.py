"""Reading OpenCode's events: lane progress while it works, and a verdict when it stops.

Both modes feed this: the server's event stream (`message.part.updated`, `session.status`,
`file.edited`, `session.error`) and `opencode run --format json` lines (`tool_use`,
`step_finish`, `error`), whose `part` objects are the same. OpenCode's exit status says
nothing about the task (a rejected permission or a failed edit still exits 0), so the
verdict comes from the tool calls and the worktree:

- a tool call that errored and was not later redone successfully (same tool, same file or
  command) fails the task, with OpenCode's own error text as the reason;
- a session error (model server refused, provider error) fails it;
- a permission or question a person (or the headless policy) rejected fails it, naming
  what was rejected;
- an agent that changed nothing in the worktree failed to do its task.

Agents that ask (verified against opencode 1.18.33, `GET /doc` and a live server): the
event `permission.asked` has `properties = {id: "per_...", sessionID, permission: "bash" |
"edit" | ..., patterns: [the command or relative paths], metadata: {command} for bash or
{filepath, diff} for edit, always: [patterns "always" would allow], tool: {messageID,
callID}}`; `question.asked` has `{id: "que_...", sessionID, questions: [{question, header,
options: [{label, description}], multiple?, custom?}], tool}`. Answers arrive as
`permission.replied {sessionID, requestID, reply}`, `question.replied {sessionID,
requestID, answers: [[label or text], ...]}` and `question.rejected {sessionID,
requestID}`. While it waits the session stays `busy` in `session.status`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch_tui.orchestration.events import (EventSink, InputKind, InputQuestion, InputRequest, LaneInputAnswered,
                      LaneNeedsInput, LaneOutcome, LaneProgress, Reply)
from orch_tui.orchestration.agents.transcript import error_text, short_path
from orch_tui.orchestration.agents.base import LaneLog
from orch_tui.orchestration.infra.json_shapes import member_dict


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def permission_request(properties: dict[str, Any], worktree: Path,
                       now: float | None = None) -> InputRequest:
    """A `permission.asked` event's properties as an InputRequest."""
    permission = str(properties.get("permission") or "tool")
    metadata = member_dict(properties, "metadata")
    patterns = _strings(properties.get("patterns"))
    if permission == "bash" and metadata.get("command"):
        text = f"run: {metadata['command']}"
    elif metadata.get("filepath"):
        text = f"{permission} {short_path(str(metadata['filepath']), worktree)}"
    else:
        text = f"{permission}: {', '.join(patterns) or '(no details)'}"
    always = _strings(properties.get("always"))
    detail = str(metadata.get("diff") or "")
    if always:
        detail = f"'always' allows from now on: {', '.join(always)}" + (f"\n{detail}" if detail else "")
    return InputRequest(str(properties.get("id", "")), InputKind.PERMISSION, permission, text,
                        detail=detail, asked_at=time.time() if now is None else now)


def question_request(properties: dict[str, Any], now: float | None = None) -> InputRequest:
    """A `question.asked` event's properties as an InputRequest."""
    questions = []
    for raw in properties.get("questions") or []:
        if not isinstance(raw, dict):
            continue
        options = [option for option in raw.get("options") or [] if isinstance(option, dict)]
        questions.append(InputQuestion(
            text=str(raw.get("question") or ""), header=str(raw.get("header") or ""),
            options=tuple(str(option.get("label", "")) for option in options),
            descriptions=tuple(str(option.get("description", "")) for option in options),
            multiple=bool(raw.get("multiple")), typed_allowed=raw.get("custom") is not False))
    text = "\n".join(question.text for question in questions) or "(an empty question)"
    return InputRequest(str(properties.get("id", "")), InputKind.QUESTION, "question", text,
                        questions=tuple(questions), asked_at=time.time() if now is None else now)


@dataclass
class OpenCodeVerdict:
    """Accumulates what an OpenCode session did; `judge()` gives the outcome."""

    lane: int
    task_id: str
    worktree: Path
    sink: EventSink
    log: LaneLog | None = None
    tokens: int = 0
    cost: float = 0.0
    session_error: str | None = None
    finished: bool = False
    """The model ended its turn (a final step) rather than being cut off."""
    _tool_errors: dict[tuple[str, str], str] = field(default_factory=dict)
    _tools_seen: set[str] = field(default_factory=set)
    _steps_seen: set[str] = field(default_factory=set)
    pending: dict[str, InputRequest] = field(default_factory=dict)
    """Requests the agent waits on, by id."""
    rejections: list[str] = field(default_factory=list)

    def progress(self, status: str, action: str = "", *, heartbeat: bool = False) -> None:
        if self.log is not None:
            self.log.add(f"{status}: {action}" if action else status)
        self.sink(LaneProgress(self.lane, self.task_id, status, action=action,
                               tokens=self.tokens or None, cost=self.cost or None, heartbeat=heartbeat))

    # -- parts (both modes) ---------------------------------------------------------------
    def on_part(self, part: dict[str, Any]) -> None:
        kind = part.get("type")
        if kind == "tool":
            self._on_tool(part)
        elif kind == "step-finish":
            step = str(part.get("id") or "")
            if step and step in self._steps_seen:  # seen again when reconciling: counted once
                return
            self._steps_seen.add(step)
            tokens = part.get("tokens") or {}
            self.tokens += int(tokens.get("total") or (tokens.get("input", 0) + tokens.get("output", 0)) or 0)
            self.cost += float(part.get("cost") or 0.0)
            if part.get("reason") not in ("tool-calls", None):
                self.finished = True
            self.progress("busy", "step finished", heartbeat=True)
        elif kind == "step-start":
            self.progress("busy", "thinking", heartbeat=True)

    def _on_tool(self, part: dict[str, Any]) -> None:
        tool = str(part.get("tool", "tool"))
        state = part.get("state") or {}
        status = state.get("status")
        inputs = state.get("input") or {}
        subject = str(inputs.get("filePath") or inputs.get("command") or inputs.get("pattern") or "")
        label = f"{tool} {short_path(subject, self.worktree)}".strip()
        key = (tool, subject)
        call = str(part.get("callID") or part.get("id") or "")
        if status == "running" and call not in self._tools_seen:
            self._tools_seen.add(call)
            self.progress("busy", f"{label} (started)")
        elif status == "completed":
            self._tool_errors.pop(key, None)
            exit_code = (state.get("metadata") or {}).get("exit")
            if tool == "bash" and isinstance(exit_code, int) and exit_code != 0:
                self._tool_errors[key] = f"{label} exited with status {exit_code}"
            self.progress("busy", f"{label} (done)")
        elif status == "error":
            message = f"{label} failed: {error_text(state.get('error', 'error'))}"
            self._tool_errors[key] = message
            self.progress("busy", message[:200])

    def on_file_edited(self, path: str) -> None:
        self.progress("busy", f"edited {short_path(path, self.worktree)}")

    def on_status(self, status: dict[str, Any]) -> None:
        kind = str(status.get("type", ""))
        if kind == "retry":
            attempt = status.get("attempt")
            message = str(status.get("message") or "model request failed")
            self.progress("retry", f"retry {attempt}: {message}"[:200])
        elif kind:
            self.progress(kind, heartbeat=kind == "busy")

    def on_error(self, error: Any) -> None:
        self.session_error = error_text(error)
        self.progress("error", self.session_error[:200])

    # -- agents that ask --------------------------------------------------------------------
    def on_input_asked(self, request: InputRequest) -> None:
        if not request.id or request.id in self.pending:
            return
        self.pending[request.id] = request
        if self.log is not None:
            self.log.add(f"needs input ({request.kind.value} {request.id}): {request.text}")
        self.sink(LaneNeedsInput(self.lane, self.task_id, request))

    def on_input_answered(self, request_id: str, reply: Reply, words: str, by: str) -> None:
        """Said once a request, whether we answered it or the server tells us someone did."""
        request = self.pending.pop(request_id, None)
        if request is None:
            return
        if reply is Reply.REJECT:
            self.rejections.append(f"{request.kind.value} rejected by {by}: {request.text}")
        if self.log is not None:
            self.log.add(f"{request.kind.value} {request_id} {words} by {by}")
        self.sink(LaneInputAnswered(self.lane, self.task_id, request_id, words, by))

    def on_server_answer(self, kind: str, properties: dict[str, Any]) -> None:
        """`permission.replied`, `question.replied` or `question.rejected` from the server."""
        request_id = str(properties.get("requestID", ""))
        if kind == "permission.replied":
            reply = Reply(str(properties.get("reply"))) if properties.get("reply") in set(Reply) else Reply.ONCE
            words = "rejected" if reply is Reply.REJECT else f"allowed {reply.value}"
            self.on_input_answered(request_id, reply, words, "another OpenCode client")
        elif kind == "question.replied":
            answers = ["/".join(_strings(answer)) for answer in properties.get("answers") or []]
            self.on_input_answered(request_id, Reply.ANSWER,
                                   "answered " + "; ".join(repr(a) for a in answers), "another OpenCode client")
        elif kind == "question.rejected":
            self.on_input_answered(request_id, Reply.REJECT, "rejected", "another OpenCode client")

    # -- verdict -------------------------------------------------------------------------
    def judge(self, files_changed: tuple[str, ...]) -> tuple[LaneOutcome, str]:
        if self.rejections and (self._tool_errors or not files_changed):
            return LaneOutcome.FAILED, "; ".join(self.rejections)  # the agent stopped there
        if self.session_error:
            return LaneOutcome.FAILED, f"opencode error: {self.session_error}"
        if self._tool_errors:
            return LaneOutcome.FAILED, "; ".join(self._tool_errors.values())
        if not files_changed:
            return LaneOutcome.FAILED, "the agent changed no files"
        return LaneOutcome.SUCCEEDED, f"{len(files_changed)} file(s) changed"
