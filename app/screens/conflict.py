"""The conflict screen: the files of a stopped merge and their hunks with base / ours /
theirs. Take ours, theirs or both per hunk or per file, or edit the file in `$EDITOR`;
continue once every hunk is resolved, or abort the merge."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from orch_tui.orchestration.commands import HunkChoice
from orch_tui.orchestration.conflict_record import Conflict, ConflictFile
from orch_tui.widgets.conflict_hunk import HunkView
from orch_tui.widgets.safe_text import one_line
from orch_tui.app.engine_requests import ask_engine, AbortMerge, ContinueMerge, ResolveFile, ResolveHunk, WriteResolution

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp

_MARKERS = re.compile(r"^(<{7}|>{7})", re.MULTILINE)


def file_resolved(record: ConflictFile, chosen: dict[int, str], whole: str | None) -> bool:
    if whole is not None or record.resolution is not None:
        return True
    return bool(record.hunks) and all(chosen.get(h.index) or h.resolution for h in record.hunks)


def default_editor(argv: list[str]) -> int:
    return subprocess.run(argv, check=False).returncode


class ConflictScreen(Screen[None]):
    BINDINGS = [
        Binding("o", "hunk('ours')", "Ours", tooltip="Take ours (the target branch) for this hunk"),
        Binding("t", "hunk('theirs')", "Theirs", tooltip="Take theirs (the task branch) for this hunk"),
        Binding("b", "hunk('both')", "Both", tooltip="Take ours then theirs for this hunk"),
        Binding("O", "file('ours')", "All ours", tooltip="Take ours for the whole file"),
        Binding("T", "file('theirs')", "All theirs", tooltip="Take theirs for the whole file"),
        Binding("B", "file('both')", "All both", tooltip="Take both for every hunk of the file"),
        Binding("e", "editor", "Edit", tooltip="Open the file in $EDITOR"),
        Binding("c", "continue_merge", "Continue", tooltip="Commit the resolution and go on"),
        Binding("A", "abort", "Abort", tooltip="Abort this merge; the target stays as it was"),
        Binding("j", "next_hunk", "Next hunk", show=False),
        Binding("k", "previous_hunk", "Previous hunk", show=False),
        Binding("escape", "back", "Back", tooltip="Back to the dashboard; the merge keeps waiting"),
    ]

    def __init__(self, conflict: Conflict) -> None:
        super().__init__()
        self.conflict = conflict
        self.hunk_choices: dict[str, dict[int, str]] = {}
        """Choices sent to the engine and not yet confirmed by a refreshed record."""
        self.file_choices: dict[str, str] = {}
        self.selected_file = 0
        self.selected_hunk = 0

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    @property
    def files(self) -> list[ConflictFile]:
        return self.conflict.files

    def compose(self) -> ComposeResult:
        yield Static(id="conflict-title")
        with Horizontal(id="conflict-body"):
            yield OptionList(id="conflict-files")
            yield VerticalScroll(id="conflict-hunks")
        yield Static(Text("j/k next/previous hunk · up/down choose a file · O/T/B decide a whole file",
                          "dim"), id="conflict-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#conflict-files").border_title = "files in conflict"
        self.show_conflict(self.conflict)
        self.query_one("#conflict-files").focus()

    # ----- drawing ------------------------------------------------------------------------
    def show_conflict(self, conflict: Conflict) -> None:
        self.conflict = conflict
        for record in self.files:  # the engine's record wins over what we assumed
            confirmed = {h.index for h in record.hunks if h.resolution}
            pending = self.hunk_choices.get(record.path, {})
            for index in confirmed:
                pending.pop(index, None)
            if record.resolution is not None:
                self.file_choices.pop(record.path, None)
        self.selected_file = min(self.selected_file, max(0, len(self.files) - 1))
        self._draw_title()
        self._draw_files()
        self._draw_hunks()

    def _draw_title(self) -> None:
        task = self.conflict.task_id or "?"
        branch, target = self.conflict.branch, self.conflict.target
        title = Text(" Merge conflict: ", "bold")
        title.append(one_line(f"{task} ({branch})", 80), "cyan")
        if target:
            title.append(f" into {one_line(target, 40)}")
        left = len(self.unresolved())
        title.append(f"   {left} file{'s' if left != 1 else ''} unresolved" if left else "   all resolved: press c",
                     "bold red" if left else "bold green")
        self.query_one("#conflict-title", Static).update(title)

    def _draw_files(self) -> None:
        options = self.query_one("#conflict-files", OptionList)
        options.clear_options()
        for record in self.files:
            done = self._resolved(record)
            label = Text("✓ " if done else "✗ ", "green" if done else "red")
            label.append(one_line(record.path, 60))
            hunks = len(record.hunks)
            label.append(f"  {record.kind} · {hunks} hunk{'s' if hunks != 1 else ''}", "dim")
            options.add_option(Option(label))
        if self.files:
            options.highlighted = self.selected_file

    def _draw_hunks(self) -> None:
        container = self.query_one("#conflict-hunks", VerticalScroll)
        container.remove_children()
        record = self.current_file()
        if record is None:
            return
        container.border_title = one_line(record.path, 80)
        whole = self.file_choices.get(record.path) or record.resolution
        notes = [one_line(m, 200) for m in record.messages]
        if whole is not None:
            notes.insert(0, f"whole file: {whole}")
        if not record.hunks:
            notes.append(f"{record.kind}: no text hunks; take ours (O) or theirs (T) for the file, or edit it (e)")
        widgets: list[Static | HunkView] = [Static(Text("\n".join(notes), "bold" if whole else "yellow"))] if notes else []
        chosen = self.hunk_choices.get(record.path, {})
        for hunk in record.hunks:
            widgets.append(HunkView(record.path, hunk, whole or chosen.get(hunk.index) or hunk.resolution))
        container.mount_all(widgets)
        self.selected_hunk = min(self.selected_hunk, max(0, len(record.hunks) - 1))
        self.call_after_refresh(self._mark_selected)

    def _mark_selected(self) -> None:
        views = list(self.query(HunkView))
        for position, view in enumerate(views):
            view.set_class(position == self.selected_hunk, "-selected")
        if views and self.selected_hunk < len(views):
            views[self.selected_hunk].scroll_visible(animate=False)

    # ----- state --------------------------------------------------------------------------
    def current_file(self) -> ConflictFile | None:
        files = self.files
        return files[self.selected_file] if 0 <= self.selected_file < len(files) else None

    def _resolved(self, record: ConflictFile) -> bool:
        return file_resolved(record, self.hunk_choices.get(record.path, {}), self.file_choices.get(record.path))

    def unresolved(self) -> list[str]:
        return [record.path for record in self.files if not self._resolved(record)]

    @on(OptionList.OptionHighlighted, "#conflict-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.selected_file:
            self.selected_file = event.option_index
            self.selected_hunk = 0
            self._draw_hunks()

    # ----- actions ------------------------------------------------------------------------
    def action_hunk(self, choice: str) -> None:
        record = self.current_file()
        if record is None:
            return
        if not record.hunks:
            self.notify(f"{record.path} has no text hunks: choose for the whole file (O / T).", markup=False)
            return
        hunk = record.hunks[self.selected_hunk]
        ask_engine(self, ResolveHunk(record.path, hunk.index, HunkChoice(choice)))
        self.hunk_choices.setdefault(record.path, {})[hunk.index] = choice
        self._after_choice(record, advance=True)

    def action_file(self, choice: str) -> None:
        record = self.current_file()
        if record is None:
            return
        ask_engine(self, ResolveFile(record.path, HunkChoice(choice)))
        self.file_choices[record.path] = choice
        self._after_choice(record, advance=False)

    def _after_choice(self, record: ConflictFile, advance: bool) -> None:
        chosen = self.hunk_choices.get(record.path, {})
        if advance:  # move to the next undecided hunk of this file
            for position, hunk in enumerate(record.hunks):
                if position > self.selected_hunk and not (chosen.get(hunk.index) or hunk.resolution):
                    self.selected_hunk = position
                    break
        self._draw_title()
        self._draw_files()
        self._draw_hunks()

    def action_next_hunk(self) -> None:
        self._move_hunk(+1)

    def action_previous_hunk(self) -> None:
        self._move_hunk(-1)

    def _move_hunk(self, step: int) -> None:
        record = self.current_file()
        if record is not None and record.hunks:
            self.selected_hunk = max(0, min(len(record.hunks) - 1, self.selected_hunk + step))
            self._mark_selected()

    def action_continue_merge(self) -> None:
        left = self.unresolved()
        if left:
            self.notify(f"Resolve every hunk first: {', '.join(left)} still in conflict.", severity="warning", markup=False)
            return
        ask_engine(self, ContinueMerge())

    def action_abort(self) -> None:
        ask_engine(self, AbortMerge())

    def action_back(self) -> None:
        self.dismiss()

    def action_editor(self) -> None:
        record = self.current_file()
        if record is None:
            return
        worktree = self.conflict.worktree
        if not worktree:
            self.notify("The engine did not say where the merge worktree is; cannot open an editor.",
                        severity="error")
            return
        target = (Path(worktree) / record.path).resolve()
        if not target.is_relative_to(Path(worktree).resolve()):
            self.notify(f"{record.path} is outside the merge worktree.", severity="error", markup=False)
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        argv = [*shlex.split(editor), str(target)]
        run = self.orch.run_editor or default_editor
        try:
            with self.app.suspend():
                status = run(argv)
        except SuspendNotSupported:  # headless (tests): run it without suspending
            status = run(argv)
        except OSError as error:
            self.notify(f"Could not start {argv[0]}: {error}", severity="error", markup=False)
            return
        self._after_editor(record, target, status)

    def _after_editor(self, record: ConflictFile, target: Path, status: int) -> None:
        if status != 0:
            self.notify(f"The editor exited with status {status}; nothing changed.", severity="warning")
            return
        content = target.read_text(encoding="utf-8", errors="replace") if target.exists() else ""
        if _MARKERS.search(content):
            self.notify(f"{record.path} still has conflict markers: edit again or choose per hunk.",
                        severity="warning", markup=False)
            return
        ask_engine(self, WriteResolution(record.path, content))
        self.file_choices[record.path] = "custom"
        self._after_choice(record, advance=False)
