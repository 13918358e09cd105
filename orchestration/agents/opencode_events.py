"""Reading OpenCode's events: lane progress while it works, and a verdict when it stops.

Both modes feed this: the server's event stream (`message.part.updated`, `session.status`,
`file.edited`, `session.error`) and `opencode run --format json` lines (`tool_use`,
`step_finish`, `error`), whose `part` objects are the same. OpenCode's exit status says
nothing about the task (a rejected permission or a failed edit still exits 0), so the
verdict comes from the tool calls and the worktree:

- a tool call that errored and was not later redone successfully (same tool, same file or
  command) fails the task, with OpenCode's own error text as the reason;
- a session error (model server refused, provider error) fails it;
- an agent that changed nothing in the worktree failed to do its task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import EventSink, LaneOutcome, LaneProgress
from .base import LaneLog


def _short_path(path: str, worktree: Path) -> str:
    try:
        return str(Path(path).relative_to(worktree))
    except ValueError:
        return path


def _error_text(error: Any) -> str:
    """OpenCode errors are `{name, data: {message}}` objects or plain strings."""
    if isinstance(error, dict):
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        return str(data.get("message") or error.get("message") or error.get("name") or error)
    return str(error)


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
        label = f"{tool} {_short_path(subject, self.worktree)}".strip()
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
            message = f"{label} failed: {_error_text(state.get('error', 'error'))}"
            self._tool_errors[key] = message
            self.progress("busy", message[:200])

    def on_file_edited(self, path: str) -> None:
        self.progress("busy", f"edited {_short_path(path, self.worktree)}")

    def on_status(self, status: dict[str, Any]) -> None:
        kind = str(status.get("type", ""))
        if kind == "retry":
            attempt = status.get("attempt")
            message = str(status.get("message") or "model request failed")
            self.progress("retry", f"retry {attempt}: {message}"[:200])
        elif kind:
            self.progress(kind, heartbeat=kind == "busy")

    def on_error(self, error: Any) -> None:
        self.session_error = _error_text(error)
        self.progress("error", self.session_error[:200])

    # -- verdict -------------------------------------------------------------------------
    def judge(self, files_changed: tuple[str, ...]) -> tuple[LaneOutcome, str]:
        if self.session_error:
            return LaneOutcome.FAILED, f"opencode error: {self.session_error}"
        if self._tool_errors:
            return LaneOutcome.FAILED, "; ".join(self._tool_errors.values())
        if not files_changed:
            return LaneOutcome.FAILED, "the agent changed no files"
        return LaneOutcome.SUCCEEDED, f"{len(files_changed)} file(s) changed"
