"""A merge that stopped for a reason other than a conflict (a failed check, a failed merge
step): what it said, shown literally, and the two ways on: try again, or abort the merge."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from orch_tui.orchestration.commands import MergeView


class MergeStoppedScreen(ModalScreen[str | None]):
    """Dismisses with "continue", "abort", or None (escape: the merge keeps waiting)."""

    BINDINGS = [
        Binding("c", "answer('continue')", "Try again", tooltip="Run the stopped step again"),
        Binding("A", "answer('abort')", "Abort merge",
                tooltip="Give up this merge: the target stays, the branch is kept, the task reopens"),
        Binding("escape", "answer(None)", "Back", tooltip="Back to the dashboard; the merge keeps waiting"),
    ]
    DEFAULT_CSS = """
    MergeStoppedScreen { align: center middle; }
    MergeStoppedScreen > Vertical { width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 1 2; }
    MergeStoppedScreen VerticalScroll { height: auto; max-height: 20; }
    MergeStoppedScreen #merge-stopped-hint { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, merge: MergeView) -> None:
        super().__init__()
        self.merge = merge

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"merge of {self.merge.task_id} stopped"
            with VerticalScroll():
                # Text, not markup: the output comes from git, a check command or an agent.
                yield Static(Text(self.merge.output or "(no output)"), id="merge-stopped-output")
            yield Static(Text("c try again · A abort the merge (branch kept, task reopened) · escape back"),
                         id="merge-stopped-hint")
        yield Footer(compact=True)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)
