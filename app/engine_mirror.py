"""The front end's copy of the engine's state, kept current by applying events to it.

Pure data and no Textual. State is folded by `orchestration.snapshot_reducer.apply_event`,
the same function the engine folds its own snapshot with, so the two never drift apart.
This module adds only what is the screen's business: which regions an event makes stale
(`event_presentation.regions`), the log line it shows (`log_line`) and the error text of
the banner.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot, EngineState
from orch_tui.orchestration.engine.snapshot_reducer import apply_event
from orch_tui.orchestration.states import LaneState

from orch_tui.app.event_presentation import Region, describe, regions, severity


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

    def merge(self, later: Changes) -> None:
        """Add what a later event changed (its truncation note wins)."""
        self.lanes |= later.lanes
        self.diff_lanes |= later.diff_lanes
        self.truncated.update(later.truncated)
        self.banner |= later.banner
        self.reservations |= later.reservations
        self.merges |= later.merges
        self.graph |= later.graph
        self.proposal |= later.proposal
        self.conflict |= later.conflict
        self.log.extend(later.log)


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
        stale = regions(event)
        lanes_before = {view.lane for view in self.snapshot.lanes}
        ends_stall = isinstance(event, ev.LaneProgress) and self._lane_status(event.lane) == "stalled"
        spent_before = _spent(self.snapshot)
        apply_event(self.snapshot, event, clock=self.clock)
        changes = _changes_for(event, stale)
        # The banner lists stalled lanes and shows the batch's usage.
        changes.banner |= ends_stall or _spent(self.snapshot) != spent_before
        if Region.ALL_LANES in stale:
            # Lanes that are gone are redrawn empty too, so their panels can be removed.
            every = lanes_before | {view.lane for view in self.snapshot.lanes} | set(range(1, self.lane_count + 1))
            changes.lanes |= every
            if Region.ALL_LANE_DIFFS in stale:
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


def _changes_for(event: ev.Event, stale: frozenset[Region]) -> Changes:
    changes = Changes(banner=Region.BANNER in stale, reservations=Region.RESERVATIONS in stale,
                      merges=Region.MERGES in stale, graph=Region.GRAPH in stale,
                      proposal=Region.PROPOSAL in stale, conflict=Region.CONFLICT in stale)
    lane = getattr(event, "lane", None)  # the lane events (LaneStarted, LaneDiff...) have no common base
    if isinstance(lane, int):
        if Region.LANE in stale:
            changes.lanes.add(lane)
        if Region.LANE_DIFF in stale:
            changes.diff_lanes.add(lane)
    if isinstance(event, ev.LaneDiff):
        changes.truncated[event.lane] = event.truncated
    return changes


# ----- log lines: (text, level) for the dashboard's log -----------------------------------
def log_line(event: ev.Event) -> tuple[str, str] | None:
    """The dashboard's log line for an event: the same words `orch-tui run` prints, or None
    (agent progress shows in its lane, diffs and reservations in their panels)."""
    if isinstance(event, ev.LaneProgress) and event.status != LaneState.WAITING:
        return None  # said in the lane; waiting is said once, and belongs in the log too
    text = describe(event)
    return None if text is None else (text, severity(event))


def copy_snapshot(snapshot: EngineSnapshot) -> EngineSnapshot:
    """A private copy, so the mirror never edits the engine's own lists."""
    return replace(snapshot, lanes=[replace(view) for view in snapshot.lanes],
                   merges=[replace(item) for item in snapshot.merges], checks=dict(snapshot.checks))
