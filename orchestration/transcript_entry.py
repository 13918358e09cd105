"""One entry of what a lane's agent said and did, as plain text (render it literally).
`agents/transcript.py` builds them; the lane detail screen shows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TranscriptEntry:
    kind: str
    """user, assistant, tool, error or output (a line a non-OpenCode agent printed)."""
    text: str
    title: str = ""
    """For a tool call: the tool and what it worked on (`bash ls`, `edit src/a.py`)."""
    state: str = ""
    """For a tool call: pending, running, completed or error."""
