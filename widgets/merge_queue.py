"""The merge queue: order, task, branch, state and the conflicts predicted by a dry run."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from orch_tui.orchestration.commands import MergeView
from orch_tui.orchestration.lane_check import CheckResult

from orch_tui.widgets.safe_text import one_line

STATE_STYLES = {
    "pending": "dim", "predicted-clean": "green", "predicted-conflict": "yellow",
    "merging": "bold cyan", "conflict": "bold red", "check-failed": "bold red", "merged": "green",
    "held": "bold red", "retry: not merged": "yellow", "drop: not merged": "dim",
}


class MergeQueueTable(DataTable[str | Text]):
    DEFAULT_CSS = """
    MergeQueueTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.merges: list[MergeView] = []

    def on_mount(self) -> None:
        for key, label in (("n", "#"), ("task", "Task"), ("state", "State"), ("check", "Lane check"),
                           ("conf", "Predicted conflicts"), ("branch", "Branch")):
            self.add_column(label, key=key)
        self.show_merges(self.merges)

    def show_merges(self, merges: list[MergeView]) -> None:
        self.merges = list(merges)
        if not self.columns:
            return
        self.clear()
        for position, item in enumerate(self.merges, start=1):
            conflicts = ", ".join(item.predicted_conflicts)
            self.add_row(str(position), Text(one_line(item.task_id, 40), "cyan"),
                         Text(one_line(item.state, 24), STATE_STYLES.get(item.state, "")),
                         check_cell(item.check),
                         Text(one_line(conflicts, 120) or "—", "yellow" if conflicts else "dim"),
                         Text(one_line(item.branch, 60), "dim"), key=str(position))


def check_cell(check: CheckResult | None) -> Text:
    """`passed 1.2 s` in green, `FAILED 0.4 s` in red, a dash without a lane check."""
    if check is None:
        return Text("—", "dim")
    return Text(check.short(), "green" if check.passed else "bold red")
