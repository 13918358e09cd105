"""The selected task in full: status, priority, declared files, blockers, description."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from orch_tui.widgets.graph_index import GraphIndex
from orch_tui.widgets.safe_text import clean, one_line

DESCRIPTION_LINES = 40


def describe(index: GraphIndex, task_id: str) -> Group:
    task = index.task(task_id)
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append(task.id, "bold cyan")
    head.append("  " + one_line(task.title, 200), "bold")
    facts = Text(no_wrap=True, overflow="ellipsis", style="dim")
    facts.append(f"{one_line(task.status, 30)} · P{task.priority} · {one_line(task.issue_type, 30)}")
    if task.assignee:
        facts.append(f" · @{one_line(task.assignee, 40)}")
    if parent := index.parent.get(task.id):
        facts.append(f" · in {parent}")
    lines = [head, facts]
    if task.issue_type == "epic":
        lines.append(Text("epic: its children are the work", "dim"))
    elif task.id in index.ready:
        lines.append(Text("ready to start", "green"))
    if blockers := index.blockers.get(task.id):
        lines.append(Text("blocked by " + ", ".join(blockers), "red"))
    files = task.declared_files
    lines.append(Text("files: " + (one_line(", ".join(files), 300) if files else "none declared"),
                      "" if files else "yellow"))
    body = [line for line in clean(task.description or "", 300).split("\n")
            if not line.strip().lower().startswith("files:")]  # shown above
    while body and not body[0].strip():
        body.pop(0)
    if len(body) > DESCRIPTION_LINES:
        body = body[:DESCRIPTION_LINES] + [f"… {len(body) - DESCRIPTION_LINES} more lines"]
    lines.append(Text("\n".join(body), "italic" if not task.description else ""))
    return Group(*lines)


class TaskDetail(VerticalScroll):
    DEFAULT_CSS = """
    TaskDetail { height: auto; max-height: 12; min-height: 4; }
    TaskDetail > Static { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("select a task", "dim"), id="task-detail-body")

    def show_task(self, index: GraphIndex | None, task_id: str | None) -> None:
        body = self.query_one("#task-detail-body", Static)
        if index is None or task_id is None or task_id not in index.graph.tasks:
            body.update(Text("select a task", "dim"))
        else:
            body.update(describe(index, task_id))
        self.scroll_home(animate=False)
