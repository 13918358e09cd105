"""The front end's copy of the engine's state, kept current by applying events to it.

Pure data and no Textual. State is folded by `orchestration.snapshot_reducer.apply_event`,
the same function the engine folds its own snapshot with, so the two never drift apart.
This module adds only what is the screen's business: which regions an event makes stale
(`REGIONS`), the log line it shows (`log_line`) and the error text of the banner.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot, EngineState
from orch_tui.orchestration.engine.snapshot_reducer import apply_event

from orch_tui.app.event_text import describe, severity


class Region(Enum):
    """A part of the dashboard that is redrawn on its own."""

    BANNER = auto()
    LANE = auto()
    """The lane the event names (`event.lane`)."""
    LANE_DIFF = auto()
    """That lane's diff (the costly part of a lane)."""
    ALL_LANES = auto()
    """Every lane's status line: a batch size (so a lane count) may have changed."""
    ALL_LANE_DIFFS = auto()
    """Every lane's diff too: a new batch starts on clean lanes."""
    RESERVATIONS = auto()
    MERGES = auto()
    GRAPH = auto()
    PROPOSAL = auto()
    CONFLICT = auto()


REGIONS: dict[type[ev.Event], frozenset[Region]] = {
    ev.EngineStateChanged: frozenset({Region.BANNER}),
    ev.BatchProposed: frozenset({Region.PROPOSAL, Region.BANNER, Region.ALL_LANES}),
    ev.BatchApproved: frozenset({Region.PROPOSAL, Region.BANNER, Region.ALL_LANES, Region.ALL_LANE_DIFFS,
                                 Region.MERGES, Region.CONFLICT}),
    ev.BatchRejected: frozenset({Region.PROPOSAL, Region.BANNER}),
    ev.BatchSizeChanged: frozenset({Region.BANNER, Region.ALL_LANES}),
    ev.ModeChanged: frozenset({Region.BANNER}),
    ev.LaneStarted: frozenset({Region.LANE, Region.LANE_DIFF, Region.BANNER}),
    ev.LaneProgress: frozenset({Region.LANE}),
    ev.LaneStalled: frozenset({Region.LANE, Region.BANNER}),
    ev.LaneDiff: frozenset({Region.LANE, Region.LANE_DIFF}),
    ev.LaneAlert: frozenset({Region.LANE, Region.BANNER}),
    ev.LaneFinished: frozenset({Region.LANE, Region.BANNER}),
    ev.ReservationsChanged: frozenset({Region.RESERVATIONS}),
    ev.MergePredicted: frozenset({Region.MERGES}),
    ev.MergeStarted: frozenset({Region.MERGES, Region.BANNER}),
    ev.MergeConflict: frozenset({Region.MERGES, Region.BANNER, Region.CONFLICT}),
    ev.ConflictChanged: frozenset({Region.BANNER, Region.CONFLICT}),
    ev.MergeCheckFailed: frozenset({Region.MERGES, Region.BANNER}),
    ev.MergeDone: frozenset({Region.MERGES, Region.BANNER, Region.CONFLICT}),
    ev.GraphReloaded: frozenset({Region.GRAPH}),
    ev.ErrorRaised: frozenset({Region.BANNER}),
    ev.LaneNeedsInput: frozenset({Region.LANE, Region.BANNER}),
    ev.LaneInputAnswered: frozenset({Region.LANE, Region.BANNER}),
    ev.LaneEnvironmentReady: frozenset({Region.LANE}),
    ev.LaneCheckFinished: frozenset({Region.LANE, Region.MERGES}),
    ev.MergeHeldForCheck: frozenset({Region.MERGES, Region.BANNER}),
    ev.CheckHoldAnswered: frozenset({Region.MERGES, Region.BANNER}),
}
"""What each event makes stale; an event missing here (LogLine) only adds its log line."""


@dataclass
class Changes:
    """What an event changed; the screens redraw only those parts."""

    lanes: set[int] = field(default_factory=set)
    diff_lanes: set[int] = field(default_factory=set)
    truncated: dict[int, bool] = field(default_factory=dict)
    banner: bool = False
    reservations: bool = False
    merges: bool = False
    graph: bool = False
    proposal: bool = False
    conflict: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class EngineMirror:
    snapshot: EngineSnapshot
    clock: Callable[[], float]
    error: str = ""
    """The banner's error line: the last error or failed check, until the engine moves on."""
    pool_bytes: int | None = None
    """Disk use of the lane pool (measured by the app off the event loop); None: not measured."""

    @property
    def lane_count(self) -> int:
        return max([self.snapshot.batch_size] + [view.lane for view in self.snapshot.lanes if view.task_id])

    def apply(self, event: ev.Event) -> Changes:
        regions = REGIONS.get(type(event), frozenset())
        lanes_before = {view.lane for view in self.snapshot.lanes}
        ends_stall = isinstance(event, ev.LaneProgress) and self._lane_status(event.lane) == "stalled"
        spent_before = _spent(self.snapshot)
        apply_event(self.snapshot, event, clock=self.clock)
        changes = _changes_for(event, regions)
        # The banner lists stalled lanes and shows the batch's usage.
        changes.banner |= ends_stall or _spent(self.snapshot) != spent_before
        if Region.ALL_LANES in regions:
            # Lanes that are gone are redrawn empty too, so their panels can be removed.
            every = lanes_before | {view.lane for view in self.snapshot.lanes} | set(range(1, self.lane_count + 1))
            changes.lanes |= every
            if Region.ALL_LANE_DIFFS in regions:
                changes.diff_lanes |= every
        self._note_error(event)
        line = log_line(event)
        if line is not None:
            changes.log.append(line)
        return changes

    def _lane_status(self, lane: int) -> str:
        return next((view.status for view in self.snapshot.lanes if view.lane == lane), "")

    def _note_error(self, event: ev.Event) -> None:
        if isinstance(event, ev.ErrorRaised):
            self.error = event.message
        elif isinstance(event, ev.MergeCheckFailed):
            self.error = describe(event) or f"merge of {event.task_id} stopped"
        elif isinstance(event, ev.EngineStateChanged) and event.state != EngineState.WAITING_FOR_PERSON:
            self.error = ""


def _spent(snapshot: EngineSnapshot) -> tuple[int, float]:
    return sum(view.tokens for view in snapshot.lanes), sum(view.cost for view in snapshot.lanes)


def _changes_for(event: ev.Event, regions: frozenset[Region]) -> Changes:
    changes = Changes(banner=Region.BANNER in regions, reservations=Region.RESERVATIONS in regions,
                      merges=Region.MERGES in regions, graph=Region.GRAPH in regions,
                      proposal=Region.PROPOSAL in regions, conflict=Region.CONFLICT in regions)
    lane = getattr(event, "lane", None)
    if isinstance(lane, int):
        if Region.LANE in regions:
            changes.lanes.add(lane)
        if Region.LANE_DIFF in regions:
            changes.diff_lanes.add(lane)
    if isinstance(event, ev.LaneDiff):
        changes.truncated[event.lane] = event.truncated
    return changes


# ----- log lines: (text, level) for the dashboard's log -----------------------------------
def log_line(event: ev.Event) -> tuple[str, str] | None:
    """The dashboard's log line for an event: the same words `orch-tui run` prints, or None
    (agent progress shows in its lane, diffs and reservations in their panels)."""
    if isinstance(event, ev.LaneProgress) and event.status != "waiting":
        return None  # said in the lane; waiting is said once, and belongs in the log too
    text = describe(event)
    return None if text is None else (text, severity(event))


def copy_snapshot(snapshot: EngineSnapshot) -> EngineSnapshot:
    """A private copy, so the mirror never edits the engine's own lists."""
    return replace(snapshot, lanes=[replace(view) for view in snapshot.lanes],
                   merges=[replace(item) for item in snapshot.merges], checks=dict(snapshot.checks))
