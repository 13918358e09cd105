"""A merge held because its lane's check failed: the evidence, and the person's three answers.

Merge anyway (verify_command in the merge worktree still runs last), retry (the task goes
back to an agent, first in the next batch, with the check's output as a follow-up), or drop
(the task is reopened and not proposed again until retried; its branch keeps the work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from orch_tui.orchestration.commands import HeldMerge
from orch_tui.orchestration.lane_check import CheckAnswer
from orch_tui.widgets.safe_text import clean, one_line
from orch_tui.app.engine_requests import ask_engine, AnswerCheck

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp


class CheckHoldScreen(ModalScreen[None]):
    BINDINGS = [
        # Shift+M, not m: m on the dashboard opens this screen, and a second m must not merge.
        Binding("M", "answer('merge')", "Merge anyway",
                tooltip="Merge this branch although its lane check failed (verify_command still runs last)"),
        Binding("r", "answer('retry')", "Retry agent",
                tooltip="Send the task back to an agent with the check's failure, first in the next batch"),
        Binding("d", "answer('drop')", "Drop",
                tooltip="Do not merge: reopen the task (not proposed again until retried); its branch keeps the work"),
        Binding("escape", "back", "Back", tooltip="Back to the dashboard; the merge keeps waiting"),
    ]
    DEFAULT_CSS = """
    CheckHoldScreen { align: center middle; }
    CheckHoldScreen > Vertical { width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 0 1; }
    CheckHoldScreen #check-facts { height: auto; }
    CheckHoldScreen #check-output { height: auto; max-height: 20; border: round $panel-lighten-2;
        border-title-color: $text-accent; }
    CheckHoldScreen #check-hint { height: auto; margin-top: 1; color: $text-muted; }
    """

    def __init__(self, held: HeldMerge) -> None:
        super().__init__()
        self.held = held

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"lane check failed · {one_line(self.held.task_id, 40)}"
            yield Static(id="check-facts")
            with VerticalScroll(id="check-output") as output:
                output.border_title = "output (last lines)"
                yield Static(id="check-tail")
            yield Static(Text("M merge anyway · r retry the agent with this failure · d drop · escape back"),
                         id="check-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_held(self.held)

    def show_held(self, held: HeldMerge) -> None:
        self.held = held
        check = held.check
        facts = Text()
        facts.append("branch  ", "dim")
        facts.append(one_line(held.branch, 80) + "\n", "cyan")
        facts.append("check   ", "dim")
        facts.append(one_line(check.command, 200) + "\n")
        facts.append("result  ", "dim")
        facts.append(one_line(check.summary or check.short(), 200), "bold red")
        self.query_one("#check-facts", Static).update(facts)
        # Output is untrusted: shown literally, escapes and control characters removed.
        self.query_one("#check-tail", Static).update(Text(clean(check.output_tail) or "(no output)"))

    def action_answer(self, answer: str) -> None:
        ask_engine(self, AnswerCheck(self.held.task_id, CheckAnswer(answer)))
        self.dismiss()

    def action_back(self) -> None:
        self.dismiss()
