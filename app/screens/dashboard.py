"""The dashboard: graph and task detail on the left; lanes, reservations, merge queue and
log on the right; a banner above that says what needs attention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from orch_tui.orchestration.commands import EngineState
from orch_tui.widgets.event_log import EventLog
from orch_tui.widgets.lane_grid import LaneGrid
from orch_tui.widgets.merge_queue import MergeQueueTable
from orch_tui.widgets.reservations import ReservationTable
from orch_tui.widgets.status_banner import BannerFacts, StatusBanner
from orch_tui.widgets.task_detail import TaskDetail
from orch_tui.widgets.task_graph import TaskGraphView

if TYPE_CHECKING:
    from ..app import OrchApp
    from ..engine_mirror import Changes, EngineMirror


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
    if snap.conflict is not None:
        facts.waiting = "merge conflict waits for you: press m"
    elif snap.state == EngineState.PROPOSED and snap.proposal is not None:
        facts.waiting = "batch proposed: press v to review"
    return facts


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("p", "propose", "Propose batch", tooltip="Ask the planner for the next batch"),
        Binding("v", "review", "Review batch", tooltip="Open the approval screen"),
        Binding("m", "resolve", "Resolve merge", tooltip="Open the conflict screen"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter tasks by text"),
        Binding("f", "status_filter", "Status", tooltip="Cycle the task status filter"),
        Binding("P", "pause", "Pause", tooltip="Pause after the current batch"),
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
        graph = self.orch.mirror.snapshot.graph
        if graph is not None:
            source = f" from {graph.source}" if graph.source else ""
            self.log_line(f"{len(graph)} tasks{source}; engine {self.orch.mirror.snapshot.state}")
        self.query_one("#graph-tree").focus()

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
            grid = self.query_one(LaneGrid)
            if grid.count != mirror.lane_count:
                grid.set_lane_count(mirror.lane_count)
            for view in snap.lanes:
                if view.lane in changes.lanes or view.lane in changes.diff_lanes:
                    grid.show_lane(view, changes.truncated.get(view.lane, False),
                                   diff_changed=view.lane in changes.diff_lanes)
        if changes.reservations:
            self.query_one(ReservationTable).show_reservations(snap.reservations)
        if changes.merges:
            self.query_one(MergeQueueTable).show_merges(snap.merges)
        if changes.banner:
            self.query_one(StatusBanner).show_facts(banner_facts(mirror))
        if changes.graph:
            self.query_one(TaskGraphView).show_graph(snap.graph)
        for text, level in changes.log:
            self.log_line(text, level)

    def redraw_banner(self, mirror: EngineMirror) -> None:
        if self._drawn:
            self.query_one(StatusBanner).show_facts(banner_facts(mirror))

    def log_line(self, text: str, level: str = "info") -> None:
        if self._drawn:
            self.query_one(EventLog).add(text, level)

    @on(TaskGraphView.TaskSelected)
    def _task_selected(self, message: TaskGraphView.TaskSelected) -> None:
        self.query_one(TaskDetail).show_task(self.query_one(TaskGraphView).index, message.task_id)

    # ----- actions ------------------------------------------------------------------------
    def action_propose(self) -> None:
        self.orch.send("propose")

    def action_review(self) -> None:
        if self.orch.mirror.snapshot.proposal is None:
            self.notify("No batch is proposed: press p to propose one.")
        else:
            self.orch.show_proposal()

    def action_resolve(self) -> None:
        if self.orch.mirror.snapshot.conflict is None:
            self.notify("No merge conflict is waiting.")
        else:
            self.orch.show_conflict()

    def action_filter(self) -> None:
        self.query_one(TaskGraphView).action_focus_filter()

    def action_status_filter(self) -> None:
        self.query_one(TaskGraphView).action_cycle_status()

    def action_pause(self) -> None:
        self.orch.send("pause")
