"""The dashboard's mirror folds state with the engine's reducer and only adds what to redraw."""

from __future__ import annotations

import inspect

from orch_tui.app.engine_mirror import EngineMirror, copy_snapshot
from orch_tui.app.event_presentation import PRESENTATIONS
from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineSnapshot
from orch_tui.orchestration.events import LaneOutcome
from orch_tui.orchestration.engine import snapshot_reducer
from orch_tui.orchestration.engine.snapshot_reducer import apply_event
from tests.ui.scenario_engine import FROZEN_NOW, ScenarioEngine, two_file_conflict

EVENT_TYPES = {kind for _, kind in inspect.getmembers(ev, inspect.isclass)
               if issubclass(kind, ev.Event) and kind is not ev.Event}
STATELESS = {ev.ErrorRaised, ev.LogLine}
"""Events that change nothing the snapshot holds (the banner's error is the mirror's)."""


def _mirror(batch_size: int = 4) -> EngineMirror:
    return EngineMirror(EngineSnapshot(batch_size=batch_size), lambda: FROZEN_NOW)


def test_every_event_type_has_its_text_severity_and_regions() -> None:
    missing = sorted(kind.__name__ for kind in EVENT_TYPES - set(PRESENTATIONS))
    assert missing == [], "add each new event to app/event_presentation.py"
    assert len(EVENT_TYPES) > 20


def test_every_event_type_that_changes_state_is_folded_by_the_reducer() -> None:
    folded = set(snapshot_reducer._apply.registry)
    missing = sorted(kind.__name__ for kind in EVENT_TYPES - STATELESS - folded)
    assert missing == [], "fold each new event in orchestration/engine/snapshot_reducer.py"
    assert not STATELESS & folded


def test_the_mirror_ends_where_the_engine_reducer_ends() -> None:
    """The scenario engine folds with the reducer; the app's mirror must read the same."""
    engine = ScenarioEngine()
    mirror = EngineMirror(copy_snapshot(engine.snapshot()), engine.clock)
    engine.subscribe(mirror.apply)
    engine.run_lanes()
    engine.alert(lane=2)
    engine.fail(3, LaneOutcome.TIMED_OUT, "no answer")
    engine.queue_merges()
    engine.conflict()
    for view in engine.view.lanes:  # run_lanes back-dates the engine's start times for the scenes
        view.started_at = FROZEN_NOW
    assert mirror.snapshot == engine.view


def test_lane_events_redraw_their_lane_only() -> None:
    mirror = _mirror()
    started = mirror.apply(ev.LaneStarted(2, "t-1", "Title", "orch/t-1", "/w"))
    assert started.lanes == {2} and started.diff_lanes == {2} and started.banner
    assert mirror.snapshot.lanes[1].started_at == FROZEN_NOW  # the mirror's clock, not the wall
    progress = mirror.apply(ev.LaneProgress(2, "t-1", "busy", "editing"))
    assert progress.lanes == {2} and not progress.diff_lanes and not progress.banner
    diff = mirror.apply(ev.LaneDiff(2, "t-1", "diff --git", ("a.py",), truncated=True))
    assert diff.diff_lanes == {2} and diff.truncated == {2: True}


def test_a_new_batch_redraws_every_lane_including_ones_it_no_longer_uses() -> None:
    mirror = _mirror(batch_size=6)
    for lane in range(1, 7):
        mirror.apply(ev.LaneStarted(lane, f"t-{lane}", "", f"orch/t-{lane}", "/w"))
    mirror.snapshot.batch_size = 2
    changes = mirror.apply(ev.BatchApproved(("a", "b")))
    assert changes.lanes == changes.diff_lanes == set(range(1, 7))
    assert [view.lane for view in mirror.snapshot.lanes] == [1, 2]
    assert mirror.lane_count == 2


def test_conflict_and_graph_events() -> None:
    mirror = _mirror()
    record = two_file_conflict()
    assert mirror.apply(ev.MergeConflict("orch-c1", "orch/orch-c1", ("a",), record)).conflict
    assert mirror.snapshot.conflict is record
    changed = mirror.apply(ev.ConflictChanged(None))
    assert changed.conflict and changed.banner and mirror.snapshot.conflict is None
    graph = ScenarioEngine().view.graph
    reloaded = mirror.apply(ev.GraphReloaded(graph))
    assert reloaded.graph and not reloaded.banner and mirror.snapshot.graph is graph


def test_a_new_batch_size_while_idle_resizes_the_lanes() -> None:
    mirror = _mirror()
    changed = mirror.apply(ev.BatchSizeChanged(6))
    assert mirror.lane_count == 6 and set(range(1, 7)) <= changed.lanes
    assert changed.log == [("batch size is now 6", "info")]


def test_log_lines_and_the_banner_error() -> None:
    mirror = _mirror()
    failed = mirror.apply(ev.MergeCheckFailed("t-1", "orch/t-1", "pytest: 2 failed"))
    assert failed.log == [("merge of orch/t-1 stopped: pytest: 2 failed", "error")]
    assert mirror.error == "merge of orch/t-1 stopped: pytest: 2 failed"
    mirror.apply(ev.EngineStateChanged("waiting_for_person"))
    assert mirror.error
    moved = mirror.apply(ev.EngineStateChanged("merging"))
    assert mirror.error == "" and moved.log == [("engine: merging", "info")]
    assert mirror.apply(ev.LaneProgress(1, "t", "busy", "x")).log == []
    # Waiting is said once by the engine, so it belongs in the log as well as in the lane.
    assert mirror.apply(ev.LaneProgress(2, "u", "waiting", "sequential mode")).log == [
        ("lane 2: waiting: sequential mode", "info")]


def test_a_stall_shows_in_the_lane_and_the_banner_until_the_agent_speaks_again() -> None:
    mirror = _mirror()
    mirror.apply(ev.LaneStarted(1, "t-1", "Title", "orch/t-1", "/w"))
    stalled = mirror.apply(ev.LaneStalled(1, "t-1", 120.0, "bash: pytest"))
    assert stalled.lanes == {1} and stalled.banner
    assert stalled.log == [("lane 1: t-1 STALLED: silent for 2 min 00 s; last: bash: pytest", "warning")]
    assert mirror.snapshot.lanes[0].status == "stalled"
    resumed = mirror.apply(ev.LaneProgress(1, "t-1", "busy", "active again after 130 s"))
    assert resumed.banner and mirror.snapshot.lanes[0].status == "busy"
    assert not mirror.apply(ev.LaneProgress(1, "t-1", "busy", "edit")).banner
    assert mirror.apply(ev.LogLine("hello", "warning")).log == [("hello", "warning")]


def test_reducer_clock_defaults_to_the_wall() -> None:
    view = EngineSnapshot()
    apply_event(view, ev.LaneStarted(1, "t", "", "orch/t", "/w"))
    assert view.lanes[0].started_at is not None and view.lanes[0].started_at > FROZEN_NOW - 10 ** 9


def test_usage_that_changes_redraws_the_banner_too() -> None:
    mirror = _mirror()
    mirror.apply(ev.LaneStarted(2, "t-1", "Title", "orch/t-1", "/w"))
    spent = mirror.apply(ev.LaneProgress(2, "t-1", "busy", "step finished", tokens=120, cost=0.14))
    assert spent.banner and (mirror.snapshot.lanes[1].tokens, mirror.snapshot.lanes[1].cost) == (120, 0.14)
    same = mirror.apply(ev.LaneProgress(2, "t-1", "busy", "thinking", tokens=120, cost=0.14))
    assert not same.banner


def test_a_burst_of_events_redraws_once_with_everything_it_changed() -> None:
    """The app folds each event into the mirror and merges what they changed; the dashboard
    redraws once a burst (app.OrchApp._redraw_soon)."""
    mirror = _mirror(4)
    mirror.apply(ev.LaneStarted(1, "t1", "one", "orch/t1", "/tmp/l1"))
    burst = mirror.apply(ev.LaneDiff(1, "t1", "diff --git a/x b/x\n", ("x",), truncated=True))
    for event in (ev.LaneProgress(2, "t2", "busy", "editing"), ev.LaneDiff(1, "t1", "diff --git a/y b/y\n", ("y",)),
                  ev.ReservationsChanged(())):
        burst.merge(mirror.apply(event))
    assert burst.lanes == {1, 2} and burst.diff_lanes == {1}
    assert burst.truncated == {1: False}, "the latest diff's truncation note wins"
    assert burst.reservations and not burst.merges
