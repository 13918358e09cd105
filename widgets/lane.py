"""One lane: its task, the agent's status and last action, elapsed time, alerts and the
live diff of its worktree."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from orch_tui.orchestration.commands import LaneView
from orch_tui.orchestration.events import InputRequest
from orch_tui.orchestration.agents.usage import usage_text
from orch_tui.orchestration.lanes.ports import PortBlock
from orch_tui.orchestration.states import LaneState

from orch_tui.widgets.diff_view import DiffView
from orch_tui.widgets.file_diffs import compact_diff
from orch_tui.widgets.safe_text import one_line

STATUS_STYLES: dict[str, str] = {
    LaneState.IDLE: "dim", LaneState.BUSY: "bold yellow", LaneState.RUNNING: "bold yellow",
    LaneState.STARTING: "yellow", LaneState.RETRY: "bold magenta", LaneState.SUCCEEDED: "bold green",
    LaneState.FAILED: "bold red", LaneState.TIMED_OUT: "bold red", LaneState.ABORTED: "bold red",
    LaneState.ERROR: "bold red", LaneState.SETUP: "cyan", LaneState.CHECKING: "cyan",
    LaneState.STALLED: "bold black on yellow", LaneState.WAITING: "magenta",
    LaneState.NEEDS_INPUT: "bold black on cyan",
}
"""Keyed by a lane's state (or its outcome: events.LaneOutcome has the same values)."""
NEEDS_INPUT = LaneState.NEEDS_INPUT


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes:02}:{secs:02}"


def environment_line(view: LaneView) -> Text:
    """Setup, copied files and the lane check of a lane (empty when none is configured)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    if not view.task_id:
        return line
    parts: list[tuple[str, str]] = []
    if view.check is not None:  # first: the evidence matters most when the line is cut
        parts.append((f"check {view.check.short()}", "bold green" if view.check.passed else "bold red"))
    if view.setup:
        parts.append((f"setup {one_line(view.setup, 60)}", "bold red" if view.setup == "failed" else "dim"))
    if view.copied:
        parts.append((f"copied {one_line(', '.join(view.copied), 80)}", "dim"))
    for index, (text, style) in enumerate(parts):
        line.append(" · " if index else "", "dim")
        line.append(text, style)
    return line


class LaneStatus(Widget):
    """One line that changes with every event: repainted in place, never re-laid out."""

    DEFAULT_CSS = "LaneStatus { height: 1; padding: 0 1; }"

    def __init__(self) -> None:
        super().__init__()
        self.line = Text()

    def show(self, line: Text) -> None:
        if line != self.line:
            self.line = line
            self.refresh()

    def render(self) -> Text:
        return self.line


class LanePanel(Vertical):
    DEFAULT_CSS = """
    LanePanel { border: round $panel-lighten-2; height: 1fr; min-height: 6; }
    LanePanel.-active { border: round $accent; }
    LanePanel.-alert { border: heavy $error; }
    LanePanel.-failed { border: round $error; }
    LanePanel.-needs-input { border: heavy $warning; border-title-color: $warning; }
    LanePanel .lane-alert { height: auto; max-height: 2; padding: 0 1; background: $error 30%; display: none; }
    LanePanel.-alert .lane-alert { display: block; }
    LanePanel .lane-ask { height: auto; max-height: 3; padding: 0 1; background: $warning 25%; display: none; }
    LanePanel.-needs-input .lane-ask { display: block; }
    LanePanel .lane-env { height: 1; padding: 0 1; display: none; }
    LanePanel.-env .lane-env { display: block; }
    """

    def __init__(self, lane: int, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lane = lane
        self.clock = clock
        self.view = LaneView(lane)
        self.border_title = f"lane {lane}"
        self._title = f"lane {lane}"
        self._ready = False
        self._shown_alerts: tuple[str, ...] = ()
        self._shown_inputs: tuple[InputRequest, ...] = ()
        self._shown_env: Text | None = None

    def compose(self) -> ComposeResult:
        yield LaneStatus()
        yield Static("", classes="lane-alert")
        yield Static("", classes="lane-ask")
        yield Static("", classes="lane-env")
        yield DiffView(classes="lane-diff", prepare=compact_diff)

    def on_mount(self) -> None:
        self._ready = True
        self.show_view(self.view)
        self.set_interval(1.0, self._tick)

    def show_view(self, view: LaneView, truncated: bool = False, diff_changed: bool = True) -> None:
        self.view = view
        if not self._ready:  # drawn by on_mount
            return
        # Ports come first: a long title is cut at the end, and the ports are what a person types.
        ports = f" {PortBlock(self.lane, view.ports).describe()}" if view.task_id and view.ports else ""
        title = f"lane {self.lane}{ports} · {view.task_id} {one_line(view.title, 80)}" if view.task_id \
            else f"lane {self.lane} · free"
        if title != self._title:
            self._title = title
            self.border_title = Text(title)  # a str would be read as markup: a task title is not
        elapsed = self._elapsed_text()
        if elapsed != self.border_subtitle:
            self.border_subtitle = elapsed
        self.set_class(bool(view.task_id) and view.outcome is None, "-active")
        self.set_class(bool(view.alerts), "-alert")
        self.set_class(view.outcome in ("failed", "timed_out", "aborted"), "-failed")
        self.set_class(bool(view.inputs) and view.outcome is None, "-needs-input")
        if view.inputs != self._shown_inputs:
            self._shown_inputs = view.inputs
            self.query_one(".lane-ask", Static).update(self._request_text())
        self.query_one(LaneStatus).show(self._status_line())
        if view.alerts != self._shown_alerts:
            self._shown_alerts = view.alerts
            alerts = Text(no_wrap=True, overflow="ellipsis")
            if view.alerts:
                alerts.append("⚠ ", "bold")
                alerts.append(one_line(view.alerts[-1], 200))
                if len(view.alerts) > 1:
                    alerts.append(f"  (+{len(view.alerts) - 1} more)", "dim")
            self.query_one(".lane-alert", Static).update(alerts)
        env = environment_line(view)
        if env != self._shown_env:
            self._shown_env = env
            self.set_class(bool(env.plain), "-env")
            self.query_one(".lane-env", Static).update(env)
        diff = self.query_one(DiffView)
        if diff_changed:
            diff.show_diff(view.diff, truncated)
        diff.set_placeholder("waiting for a task" if not view.task_id else "no changes yet")

    def _status_line(self) -> Text:
        view = self.view
        if view.inputs and view.outcome is None:
            return self._needs_input_line()
        status = view.outcome or view.status or "idle"
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"● {one_line(status, 20)}", STATUS_STYLES.get(status, "bold"))
        if view.diff_files:
            line.append(f"  {len(view.diff_files)} file{'s' if len(view.diff_files) != 1 else ''}", "cyan")
        if view.action:
            line.append("  " + one_line(view.action, 200))
        return line

    def _needs_input_line(self) -> Text:
        """It is not busy: it waits for a person, this long (the request is on the next row)."""
        request = self.view.inputs[0]
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" ? NEEDS INPUT ", STATUS_STYLES[NEEDS_INPUT])
        line.append(f" {format_elapsed(self.clock() - request.asked_at)}", "bold")
        line.append(f"  {request.kind.value}: {one_line(request.tool, 20)}", "bold")
        if len(self.view.inputs) > 1:
            line.append(f"  (+{len(self.view.inputs) - 1} more)", "dim")
        line.append("  n: answer", "dim")
        return line

    def _request_text(self) -> Text:
        """The oldest request, literally (agent output may hold markup or escapes)."""
        if not self.view.inputs:
            return Text()
        text = Text(overflow="ellipsis")
        text.append(one_line(self.view.inputs[0].text, 300))
        return text

    def _elapsed_text(self) -> str:
        """The bottom border: tokens and cost so far, and how long the agent has worked."""
        if self.view.started_at is None or not self.view.task_id:
            return ""
        usage = usage_text(self.view.tokens, self.view.cost)
        elapsed = format_elapsed(self.clock() - self.view.started_at)
        return f"{usage} · {elapsed}" if usage else elapsed

    def _tick(self) -> None:
        elapsed = self._elapsed_text()
        if self.view.outcome is None and elapsed != self.border_subtitle:
            self.border_subtitle = elapsed
        if self.view.inputs and self.view.outcome is None:  # how long it has waited
            self.query_one(LaneStatus).show(self._status_line())
