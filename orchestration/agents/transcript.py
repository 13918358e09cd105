"""What an agent said and did, for the lane detail screen: its messages, its tool calls
(with state and output) and its errors, as plain text entries (render them literally).

OpenCode's server gives the whole session (`GET /session/{id}/message`: a list of `{info:
{role, error?}, parts: [...]}`, parts as in its events); other agents give their output lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable
from orch_tui.orchestration.infra.json_shapes import member_dict

from orch_tui.orchestration.transcript_entry import TranscriptEntry as TranscriptEntry

ENTRY_CHARS = 4000
"""Of one entry's text (a tool's output can be huge); the rest is cut with a note."""


def _cut(text: str) -> str:
    return text if len(text) <= ENTRY_CHARS else text[:ENTRY_CHARS] + f"\n[... {len(text) - ENTRY_CHARS} more characters]"


def short_path(path: str, worktree: Path | None) -> str:
    """`path` relative to the agent's worktree where it lies inside it, else as it is."""
    if worktree is None:
        return path
    try:
        return str(Path(path).relative_to(worktree))
    except ValueError:
        return path


def error_text(error: Any) -> str:
    """OpenCode errors are `{name, data: {message}}` objects or plain strings."""
    if isinstance(error, dict):
        data = member_dict(error, "data")
        return str(data.get("message") or error.get("message") or error.get("name") or error)
    return str(error)


def from_opencode_messages(messages: Iterable[Any], worktree: Path | None = None) -> tuple[TranscriptEntry, ...]:
    entries: list[TranscriptEntry] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        info = member_dict(message, "info")
        role = "user" if info.get("role") == "user" else "assistant"
        for part in message.get("parts") or []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and str(part.get("text") or "").strip() and not part.get("synthetic"):
                entries.append(TranscriptEntry(role, _cut(str(part["text"]))))
            elif kind == "tool":
                state = member_dict(part, "state")
                inputs = member_dict(state, "input")
                subject = str(inputs.get("filePath") or inputs.get("command") or inputs.get("pattern") or "")
                title = f"{part.get('tool', 'tool')} {short_path(subject, worktree)}".strip()
                status = str(state.get("status") or "")
                body = error_text(state["error"]) if status == "error" and "error" in state else str(state.get("output") or "")
                entries.append(TranscriptEntry("tool", _cut(body), title, status))
        if info.get("error"):
            entries.append(TranscriptEntry("error", _cut(error_text(info["error"]))))
    return tuple(entries)


def from_output_lines(lines: Iterable[str]) -> tuple[TranscriptEntry, ...]:
    return tuple(TranscriptEntry("output", line) for line in lines)
