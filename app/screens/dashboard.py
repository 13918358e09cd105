"""The dashboard: graph and task detail on the left; lanes, reservations, merge queue and
log on the right; a banner above that says what needs attention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from orch_tui.orchestration.commands import EngineState, LaneView, MergeView
from orch_tui.orchestration.agents.usage import usage_text
from orch_tui.orchestration.lanes.pool_care import human_bytes
from orch_tui.widgets.event_log import EventLog
from orch_tui.widgets.lane import LanePanel
from orch_tui.widgets.lane_grid import LaneGrid
from orch_tui.widgets.merge_queue import MergeQueueTable
from orch_tui.widgets.reservations import ReservationTable
from orch_tui.widgets.status_banner import BannerFacts, StatusBanner
from orch_tui.widgets.task_detail import TaskDetail
from orch_tui.widgets.safe_text import one_line
from orch_tui.widgets.task_graph import TaskGraphView

from orch_tui.app.screens.confirm import ConfirmScreen
from orch_tui.app.screens.input_request import InputRequestScreen, waiting_requests
from orch_tui.app.screens.lane_detail import LaneDetailScreen
from orch_tui.app.screens.merge_stopped import MergeStoppedScreen
from orch_tui.app.engine_requests import ask_engine, AbortLane, AbortMerge, ContinueMerge, Pause, Propose, RetryTask

if TYPE_CHECKING:
    from orch_tui.app.app import OrchApp
    from orch_tui.app.engine_mirror import Changes, EngineMirror


FAILED_OUTCOMES = ("failed", "timed_out", "aborted")
"""Lane outcomes a task can be retried after."""


def banner_facts(mirror: EngineMirror) -> BannerFacts:
    snap = mirror.snapshot
    facts = BannerFacts(state=str(snap.state), mode=str(snap.mode), mode_reason=snap.mode_reason,
                        batch_size=snap.batch_size, error=mirror.error)
    for view in snap.lanes:
        label = f"lane {view.lane} {view.task_id or ''}".strip()
        if view.outcome in ("failed", "aborted"):
            facts.failures.append(label)
        elif view.outcome == "timed_out":
            facts.timeouts.append(label)
        if view.alerts:
            facts.alerts.append(label)
        if view.inputs and view.outcome is None:
            facts.needs_input += 1
        if view.status == "stalled" and view.outcome is None:
            facts.stalled.append(label)
    facts.usage = usage_text(sum(view.tokens for view in snap.lanes), sum(view.cost for view in snap.lanes))
    if mirror.pool_bytes is not None:
        facts.pool = human_bytes(mirror.pool_bytes)
    stopped = _stopped_merge(mirror)
    if snap.conflict is not None:
        facts.waiting = "merge conflict waits for you: press m"
    elif snap.held is not None:
        facts.waiting = f"lane check of {snap.held.task_id} failed; its merge waits for you: press m"
    elif stopped is not None:
        facts.waiting = f"merge of {stopped.task_id} stopped: press m"
    elif snap.state == EngineState.PROPOSED and snap.proposal is not None:
        facts.waiting = "batch proposed: press v to review"
    return facts


def _stopped_merge(mirror: EngineMirror) -> MergeView | None:
    """The merge waiting for a person for a reason other than a conflict, if any."""
    snap = mirror.snapshot
    if snap.state != EngineState.WAITING_FOR_PERSON:
        return None
    return next((merge for merge in snap.merges if merge.state == "check-failed"), None)


class DashboardScreen(Screen[None]):
    # Descriptions stay short so every key fits the footer at 100 columns; the tooltips
    # say more (help and the command palette show them).
    BINDINGS = [
        Binding("p", "propose", "Propose", tooltip="Ask the planner for the next batch"),
        Binding("v", "review", "Review", tooltip="Open the approval screen for the proposed batch"),
        Binding("m", "resolve", "Resolve",
                tooltip="Open the waiting merge: its conflict, the merge held by a failed lane check "
                        "(merge anyway, retry the agent, drop), or a merge stopped by a failed step or "
                        "verify check (try again, abort)"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter tasks by text"),
        Binding("f", "status_filter", "Status", tooltip="Cycle the task status filter"),
        Binding("P", "pause", "Pause", tooltip="Pause after the current batch"),
        Binding("k", "abort_lane", "Abort",
                tooltip="Stop the agent of the focused lane (or of the selected task); asks first, "
                        "its work stays on its branch"),
        Binding("n", "answer", "Answer",
                tooltip="Answer the agents waiting for you (permissions, questions) in turn"),
        Binding("enter", "lane_detail", "Lane", show=False,
                tooltip="Open the focused lane (or the selected task's): whole diff, transcript, follow-up"),
        Binding("R", "retry", "Retry",
                tooltip="Propose the failed task of the focused lane (or the selected one) first "
                        "in the next batch"),
    ]

    @property
    def orch(self) -> OrchApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        clock = self.orch.clock
        yield StatusBanner(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield TaskGraphView(id="graph")
                yield TaskDetail(id="detail")
            with Vertical(id="right"):
                yield LaneGrid(clock, id="lanes")
                with Horizontal(id="tables"):
                    yield ReservationTable(clock, id="reservations")
                    yield MergeQueueTable(id="merges")
                yield EventLog(clock, id="log")
        yield Footer(compact=True)

    _drawn = False

    def on_mount(self) -> None:
        self._drawn = True
        self.query_one("#graph").border_title = "tasks"
        self.query_one("#detail").border_title = "task"
        self.query_one("#reservations").border_title = "reservations"
        self.query_one("#merges").border_title = "merge queue"
        self.query_one("#log").border_title = "log"
        self.redraw()
        if self.orch.mirror.snapshot.graph is not None:
            self.log_summary()
        self.query_one("#graph-tree").focus()

    def log_summary(self) -> None:
        """One log line: how many tasks from where, and the engine's state."""
        snap = self.orch.mirror.snapshot
        if snap.graph is not None:
            source = f" from {snap.graph.source}" if snap.graph.source else ""
            self.log_line(f"{len(snap.graph)} tasks{source}; engine {snap.state}")

    def redraw(self) -> None:
        mirror = self.orch.mirror
        snap = mirror.snapshot
        self.query_one(TaskGraphView).show_graph(snap.graph)
        grid = self.query_one(LaneGrid)
        grid.set_lane_count(mirror.lane_count)
        for view in snap.lanes:
            grid.show_lane(view)
        self.query_one(ReservationTable).show_reservations(snap.reservations)
        self.query_one(MergeQueueTable).show_merges(snap.merges)
        self.query_one(StatusBanner).show_facts(banner_facts(mirror))

    def apply_changes(self, mirror: EngineMirror, changes: Changes) -> None:
        if not self._drawn:  # on_mount draws everything from the mirror
            return
        snap = mirror.snapshot
        if changes.lanes or changes.diff_lanes:
            self._redraw_lanes(mirror, changes)
        if changes.reservations:
            self.query_one(ReservationTable).show_reservations(snap.reservations)
        if changes.merges:
            self.query_one(MergeQueueTable).show_merges(snap.merges)
        if changes.banner:
            self.query_one(StatusBanner).show_facts(banner_facts(mirror))
            self.refresh_bindings()  # `n` comes and goes with the lanes that wait
        if changes.graph:
            self.query_one(TaskGraphView).show_graph(snap.graph)
        for text, level in changes.log:
            self.log_line(text, level)

    def _redraw_lanes(self, mirror: EngineMirror, changes: Changes) -> None:
        grid = self.query_one(LaneGrid)
        if grid.count < mirror.lane_count:
            grid.set_lane_count(mirror.lane_count)
        views = {view.lane: view for view in mirror.snapshot.lanes}
        for number in sorted(changes.lanes | changes.diff_lanes):
            truncated, diff_changed = changes.truncated.get(number, False), number in changes.diff_lanes
            if number in views:
                grid.show_lane(views[number], truncated, diff_changed=diff_changed)
            elif (panel := grid.panel(number)) is not None:  # a lane the new batch does not use
                panel.show_view(LaneView(number))
        if grid.count != mirror.lane_count:  # drops the panels emptied above
            grid.set_lane_count(mirror.lane_count)

    def show_banner(self) -> None:
        if self._drawn:
            self.query_one(StatusBanner).show_facts(banner_facts(self.orch.mirror))

    def log_line(self, text: str, level: str = "info") -> None:
        if self._drawn:
            self.query_one(EventLog).add(text, level)

    @on(TaskGraphView.TaskSelected)
    def _task_selected(self, message: TaskGraphView.TaskSelected) -> None:
        self.query_one(TaskDetail).show_task(self.query_one(TaskGraphView).index, message.task_id)

    # ----- actions ------------------------------------------------------------------------
    def action_propose(self) -> None:
        ask_engine(self, Propose())

    def action_review(self) -> None:
        if self.orch.mirror.snapshot.proposal is None:
            self.notify("No batch is proposed: press p to propose one.")
        else:
            self.orch.show_proposal()

    def action_resolve(self) -> None:
        stopped = _stopped_merge(self.orch.mirror)
        if self.orch.mirror.snapshot.conflict is not None:
            self.orch.show_conflict()
        elif self.orch.mirror.snapshot.held is not None:
            self.orch.show_held()
        elif stopped is not None:
            def answered(answer: str | None) -> None:
                if answer == "continue":
                    ask_engine(self, ContinueMerge())
                elif answer == "abort":
                    ask_engine(self, AbortMerge())
            self.app.push_screen(MergeStoppedScreen(stopped), answered)
        else:
            self.notify("No merge is waiting for you.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`n` shows in the footer (and works) only while an agent waits for an answer."""
        if action == "answer":
            return bool(waiting_requests(self.orch.mirror.snapshot))
        return True

    def action_answer(self) -> None:
        if not waiting_requests(self.orch.mirror.snapshot):
            self.notify("No agent is waiting for an answer.")
        elif not any(isinstance(screen, InputRequestScreen) for screen in self.app.screen_stack):
            self.app.push_screen(InputRequestScreen())

    def action_lane_detail(self) -> None:
        lane = self._focused_lane()
        if lane is None:
            selected = self.query_one(TaskGraphView).selected_task_id()
            lane = next((view.lane for view in self.orch.mirror.snapshot.lanes
                         if selected and view.task_id == selected), None)
        if lane is None:
            self.notify("Focus a lane first (tab to its diff), or select a task that has a lane.",
                        severity="warning")
            return
        self.app.push_screen(LaneDetailScreen(lane))

    def action_filter(self) -> None:
        self.query_one(TaskGraphView).action_focus_filter()

    def action_status_filter(self) -> None:
        self.query_one(TaskGraphView).action_cycle_status()

    def action_pause(self) -> None:
        ask_engine(self, Pause())

    def action_abort_lane(self) -> None:
        view = self._lane_for_key(running=True)
        if view is None:
            return
        question = (f"Stop the agent of lane {view.lane}: {view.task_id} {one_line(view.title, 60)}?\n\n"
                    "Nothing is lost: its work so far is committed on its branch and the task is "
                    "reopened in Beads (R then proposes it first in the next batch).")

        def answered(yes: bool | None) -> None:
            if yes:
                ask_engine(self, AbortLane(view.lane))
                self.log_line(f"aborting lane {view.lane} ({view.task_id})", "warning")

        self.app.push_screen(ConfirmScreen(f"abort lane {view.lane}?", question), answered)

    def action_retry(self) -> None:
        view = self._lane_for_key(running=False)
        if view is None or view.task_id is None:
            return
        ask_engine(self, RetryTask(view.task_id))
        self.notify(f"{view.task_id} will be proposed first in the next batch: press p to propose it.", markup=False)

    # ----- which lane a key means -----------------------------------------------------------
    def _lane_for_key(self, *, running: bool) -> LaneView | None:
        """The lane `k` (running lanes) or `R` (failed lanes) acts on: the focused lane, else
        the lane of the task selected in the tree, else the only candidate; None (with a
        notice saying why) when that is not clear."""
        lanes = self.orch.mirror.snapshot.lanes
        wanted = [view for view in lanes if view.task_id and (
            view.outcome is None if running else view.outcome in FAILED_OUTCOMES)]
        what = "running" if running else "failed"
        focused = self._focused_lane()
        if focused is not None:
            found = next((view for view in wanted if view.lane == focused), None)
            if found is None:
                self.notify(f"Lane {focused} has no {what} task.", severity="warning", markup=False)
            return found
        selected = self.query_one(TaskGraphView).selected_task_id()
        found = next((view for view in wanted if view.task_id == selected), None)
        if found is None and len(wanted) == 1:
            found = wanted[0]
        if found is None:
            self.notify(f"No {what} lane." if not wanted else
                        f"{len(wanted)} lanes are {what}: focus one (tab to its diff) or select its "
                        "task in the tree first.", severity="warning", markup=False)
        return found

    def _focused_lane(self) -> int | None:
        node: DOMNode | None = self.app.focused
        while node is not None and not isinstance(node, LanePanel):
            node = node.parent
        return node.lane if isinstance(node, LanePanel) else None
