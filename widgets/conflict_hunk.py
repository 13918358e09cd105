"""One conflict hunk: context, then base / ours / theirs side by side, and its resolution."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from orch_tui.orchestration.conflict_record import Hunk

from orch_tui.widgets.safe_text import clean

MAX_HUNK_LINES = 60


def _block(text: str, style: str = "") -> Text:
    lines = clean(text or "", 200).rstrip("\n").split("\n")
    if len(lines) > MAX_HUNK_LINES:
        lines = lines[:MAX_HUNK_LINES] + [f"… {len(lines) - MAX_HUNK_LINES} more lines"]
    if lines == [""]:
        return Text("(empty)", "dim italic")
    return Text("\n".join(lines), style, no_wrap=True, overflow="ellipsis")


def resolution_label(choice: str | None) -> Text:
    if choice is None:
        return Text("unresolved", "bold red")
    return Text(f"✓ {choice}", "bold green")


class HunkView(Vertical):
    DEFAULT_CSS = """
    HunkView { height: auto; border: round $panel-lighten-2; margin: 0 0 1 0; }
    HunkView.-selected { border: heavy $accent; }
    HunkView.-resolved { border: round $success; }
    HunkView.-resolved.-selected { border: heavy $success; }
    HunkView .hunk-context { color: $text-muted; height: auto; padding: 0 1; }
    HunkView .hunk-sides { height: auto; }
    HunkView .hunk-side { width: 1fr; height: auto; padding: 0 1; border-top: solid $panel-lighten-2;
        text-wrap: nowrap; text-overflow: ellipsis; }
    HunkView .hunk-context { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, path: str, hunk: Hunk, choice: str | None) -> None:
        super().__init__()
        self.path = path
        self.hunk = hunk
        self.choice = choice

    def compose(self) -> ComposeResult:
        hunk = self.hunk
        if hunk.context_before:
            yield Static(_block(hunk.context_before), classes="hunk-context")
        with Horizontal(classes="hunk-sides"):
            for label, text, style in (("base", hunk.base, "dim"), ("ours (target)", hunk.ours, "green"),
                                       ("theirs (task)", hunk.theirs, "cyan")):
                side = Static(_block(text, style), classes="hunk-side")
                side.border_title = label
                yield side
        if hunk.context_after:
            yield Static(_block(hunk.context_after), classes="hunk-context")

    def on_mount(self) -> None:
        self.show_choice(self.choice)

    def show_choice(self, choice: str | None) -> None:
        self.choice = choice
        line = self.hunk.start_line
        where = f" · line {line}" if line else ""
        self.border_title = f"hunk {self.hunk.index + 1}{where}"
        self.border_subtitle = resolution_label(choice).plain
        self.set_class(choice is not None, "-resolved")
