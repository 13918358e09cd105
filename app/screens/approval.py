"""The approval gate: the proposed batch, lane by lane, with declared files, predicted
overlaps and merge conflicts and why each task was chosen. Nothing runs until `a`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from orch_tui.orchestration.commands import EngineSnapshot
from orch_tui.orchestration.infra.patterns import first_overlap
from orch_tui.orchestration.proposal import BatchChoice, BatchProposal
from orch_tui.widgets.merge_queue import check_cell
from orch_tui.widgets.safe_text import one_line
from orch_tui.app.engine_requests import ask_engine, Approve, DropTask, Reject, SetBatchSize, SwapTask

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp

MIN_BATCH, MAX_BATCH = 2, 6


def overlaps(choice: BatchChoice, picked: Iterable[BatchChoice], snapshot: EngineSnapshot) -> list[str]:
    """Declared files of `choice` that meet another picked task's files or a held reservation."""
    found: list[str] = []
    for other in picked:
        if other is choice:
            continue
        pair = first_overlap(choice.files, other.files)
        if pair:
            found.append(f"{pair[0]} ~ {other.task_id}")
    for held in snapshot.reservations:
        if held.exclusive and held.agent != choice.task_id:
            pair = first_overlap(choice.files, (held.path_pattern,))
            if pair:
                found.append(f"{pair[0]} reserved by {held.agent}")
    return found


def predicted_conflicts(choice: BatchChoice, proposal: BatchProposal, snapshot: EngineSnapshot) -> list[str]:
    """Merge conflicts predicted for this task: from the planner if it says, else files that
    the merges waiting in the queue are predicted to conflict on."""
    own = proposal.predicted_conflicts.get(choice.task_id)
    if own is not None:
        return list(own)
    pending = [path for merge in snapshot.merges if merge.state != "merged"
               for path in merge.predicted_conflicts]
    pair = first_overlap(choice.files, pending) if pending else None
    return [pair[1]] if pair else []


class ApprovalScreen(Screen[None]):
    BINDINGS = [
        Binding("a", "approve", "Approve", tooltip="Dispatch this batch"),
        Binding("x", "drop", "Drop task", tooltip="Leave the selected task out of this batch"),
        Binding("s", "swap", "Swap task", tooltip="Replace the selected task with the next ready one"),
        Binding("plus,equals_sign", "bigger", "Batch +", key_display="+"),
        Binding("minus", "smaller", "Batch -", key_display="-"),
        Binding("r", "reject", "Reject", tooltip="Reject the batch; nothing runs"),
        Binding("escape", "back", "Dashboard", tooltip="Back to the dashboard; the batch waits"),
    ]

    def __init__(self, proposal: BatchProposal, snapshot: EngineSnapshot) -> None:
        super().__init__()
        self.proposal = proposal
        self.snapshot = snapshot

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(id="approval-title")
        with Vertical(id="approval-body"):
            yield DataTable(id="batch-table", cursor_type="row")
            yield Static(id="choice-reason")
            yield DataTable(id="left-out-table", cursor_type="row")
        yield Static(id="approval-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        batch = self.query_one("#batch-table", DataTable)
        batch.border_title = "proposed batch"
        for label in ("Lane", "Task", "P", "Title", "Declared files", "Overlaps", "Merge conflicts", "Last check"):
            batch.add_column(label, key=label)
        left = self.query_one("#left-out-table", DataTable)
        left.border_title = "left out"
        for label in ("Task", "P", "Title", "Why not"):
            left.add_column(label, key=label)
        self.show_proposal(self.proposal, self.snapshot)
        batch.focus()

    def show_proposal(self, proposal: BatchProposal, snapshot: EngineSnapshot) -> None:
        self.proposal, self.snapshot = proposal, snapshot
        picked, left_out, size = proposal.picked, proposal.left_out, proposal.batch_size
        title = Text(f" Approve batch · {len(picked)} of {size} lanes", "bold")
        if str(snapshot.mode) == "sequential":
            title.append("  SEQUENTIAL MODE: one task at a time", "bold reverse")
        self.query_one("#approval-title", Static).update(title)

        table = self.query_one("#batch-table", DataTable)
        row = table.cursor_row
        table.clear()
        for lane, choice in enumerate(picked, start=1):
            files = choice.files
            meets = overlaps(choice, picked, snapshot)
            conflicts = predicted_conflicts(choice, proposal, snapshot)
            table.add_row(str(lane), Text(one_line(choice.task_id, 30), "cyan"),
                          f"P{choice.priority}", Text(one_line(choice.title, 60)),
                          Text(one_line(", ".join(files), 60) or "none: runs alone", "" if files else "yellow"),
                          Text(one_line("; ".join(meets), 50) or "none", "bold red" if meets else "dim"),
                          Text(one_line(", ".join(conflicts), 50) or "none", "bold red" if conflicts else "dim"),
                          check_cell(snapshot.checks.get(choice.task_id)), key=choice.task_id)
        if picked:
            table.move_cursor(row=min(row, len(picked) - 1))
        self._show_reason()

        left = self.query_one("#left-out-table", DataTable)
        left.clear()
        for choice in left_out[:200]:
            left.add_row(Text(one_line(choice.task_id, 30), "cyan"), f"P{choice.priority}",
                         Text(one_line(choice.title, 50)), Text(one_line(choice.reason, 120), "dim"))
        hint = Text()
        cycles = proposal.cycles
        if cycles:
            hint.append("dependency cycles: " + "; ".join(" → ".join(c) for c in cycles[:3]) + "  ", "bold red")
        if not picked:
            hint.append("Nothing is ready to run: reject (r) or go back (escape).", "yellow")
        self.query_one("#approval-hint", Static).update(hint)

    def selected_task(self) -> str | None:
        table = self.query_one("#batch-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value)

    @on(DataTable.RowHighlighted, "#batch-table")
    def _show_reason(self, event: DataTable.RowHighlighted | None = None) -> None:
        task_id = self.selected_task()
        picked = {c.task_id: c for c in self.proposal.picked}
        choice = picked.get(task_id) if task_id else None
        text = Text()
        if choice is not None:
            text.append(f"why {choice.task_id}: ", "bold")
            text.append(one_line(choice.reason or "no reason given", 300))
            if track := choice.track_id:
                text.append(f"  (track {track})", "dim")
            check = self.snapshot.checks.get(choice.task_id)
            if check is not None and not check.passed:
                last = next((line for line in reversed(check.output_tail.splitlines()) if line.strip()), "")
                text.append(f"\nlast lane check {check.short()}: ", "bold red")
                text.append(one_line(last or check.summary, 200))
        self.query_one("#choice-reason", Static).update(text)

    # ----- actions ------------------------------------------------------------------------
    def action_approve(self) -> None:
        if not self.proposal.picked:
            self.notify("The batch is empty: nothing to approve.", severity="warning")
            return
        ask_engine(self, Approve())

    def action_drop(self) -> None:
        if task_id := self.selected_task():
            ask_engine(self, DropTask(task_id))

    def action_swap(self) -> None:
        if task_id := self.selected_task():
            ask_engine(self, SwapTask(task_id))

    def _resize(self, step: int) -> None:
        size = self.proposal.batch_size + step
        if MIN_BATCH <= size <= MAX_BATCH:
            ask_engine(self, SetBatchSize(size))
        else:
            self.notify(f"Batch size stays between {MIN_BATCH} and {MAX_BATCH}.", severity="warning")

    def action_bigger(self) -> None:
        self._resize(+1)

    def action_smaller(self) -> None:
        self._resize(-1)

    def action_reject(self) -> None:
        ask_engine(self, Reject("rejected by a person"))

    def action_back(self) -> None:
        self.dismiss()
