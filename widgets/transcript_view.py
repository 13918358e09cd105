"""An agent's transcript: its messages, tool calls (state and output) and errors, each drawn
literally (agent output may hold markup or escapes)."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from orch_tui.orchestration.agents.transcript import TranscriptEntry

from orch_tui.widgets.safe_text import clean, one_line

_STATE_STYLES = {"completed": "green", "error": "bold red", "running": "yellow", "pending": "dim"}
_WHO = {"user": ("you / orch-tui", "bold cyan"), "assistant": ("agent", "bold magenta"),
        "error": ("error", "bold red"), "output": ("", "")}


def entry_text(entry: TranscriptEntry) -> Text:
    text = Text()
    if entry.kind == "tool":
        text.append("⚙ ", "bold")
        text.append(one_line(entry.title, 200), "bold")
        text.append(f"  {entry.state}", _STATE_STYLES.get(entry.state, ""))
        if entry.text.strip():
            text.append("\n" + clean(entry.text.rstrip()), "dim" if entry.state != "error" else "red")
        return text
    who, style = _WHO.get(entry.kind, (entry.kind, "bold"))
    if who:
        text.append(f"{who}: ", style)
    text.append(clean(entry.text.rstrip()), "red" if entry.kind == "error" else "")
    return text


class TranscriptView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    TranscriptView { height: 1fr; padding: 0 1; }
    TranscriptView > Static { margin-bottom: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: tuple[TranscriptEntry, ...] = ()

    def show_entries(self, entries: Iterable[TranscriptEntry]) -> None:
        entries = tuple(entries)
        if entries == self.entries and self.children:
            return
        at_end = self.scroll_y >= self.max_scroll_y - 1
        self.entries = entries
        self.remove_children()
        if not entries:
            self.mount(Static(Text("nothing yet", style="dim italic")))
            return
        self.mount(*[Static(entry_text(entry)) for entry in entries])
        if at_end:  # follow the conversation unless the person scrolled back
            self.call_after_refresh(self.scroll_end, animate=False)
