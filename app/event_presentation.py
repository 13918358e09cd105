"""How a front end presents each engine event, one entry per event type: its one line of
plain text (for `orch-tui run` and the dashboard's log), how loudly to show it, and which
parts of the dashboard it makes stale.

An event's state change lives in the core (`engine/snapshot_reducer.py`, shared by the engine
and the dashboard's mirror); everything else a screen needs to know about it is here, so a
new event is one entry (tests/ui/test_engine_mirror.py fails for an event without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Callable, Generic, Literal, TypeVar

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.engine.snapshot_reducer import stall_text

Severity = Literal["info", "good", "warning", "error"]


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


E = TypeVar("E", bound=ev.Event)


@dataclass(frozen=True)
class Presentation(Generic[E]):
    text: Callable[[E], str | None]
    """The log line, or None for events too chatty for a log (diffs, heartbeats)."""
    severity: Callable[[E], Severity]
    regions: frozenset[Region]


PRESENTATIONS: dict[type[ev.Event], Presentation[Any]] = {}


def _present(kind: type[E], text: Callable[[E], str | None], severity: Severity | Callable[[E], Severity],
             *regions: Region) -> None:
    """Register how `kind` is shown; the type checker holds `text` and `severity` to it."""
    assert kind not in PRESENTATIONS, f"{kind.__name__} is presented twice"
    if callable(severity):
        PRESENTATIONS[kind] = Presentation(text, severity, frozenset(regions))
        return
    level: Severity = severity

    def fixed(_event: E) -> Severity:
        return level

    PRESENTATIONS[kind] = Presentation(text, fixed, frozenset(regions))


def _silent(_event: ev.Event) -> None:
    return None


B, L, LD = Region.BANNER, Region.LANE, Region.LANE_DIFF
ALL_LANES, ALL_DIFFS = Region.ALL_LANES, Region.ALL_LANE_DIFFS
MERGES, CONFLICT, PROPOSAL = Region.MERGES, Region.CONFLICT, Region.PROPOSAL


# ----- the engine and batches ---------------------------------------------------------------
_present(ev.EngineStateChanged,
         lambda e: f"engine: {e.state.replace('_', ' ')}" + (f" ({e.detail})" if e.detail else ""), "info", B)
_present(ev.BatchProposed,
         lambda e: "batch proposed: " + (", ".join(choice.task_id for choice in e.proposal.picked) or "nothing ready"),
         "info", PROPOSAL, B, ALL_LANES)
_present(ev.BatchApproved, lambda e: f"batch approved: {', '.join(e.task_ids)}", "info",
         PROPOSAL, B, ALL_LANES, ALL_DIFFS, MERGES, CONFLICT)
_present(ev.BatchRejected, lambda e: "batch rejected" + (f": {e.reason}" if e.reason else ""), "info", PROPOSAL, B)
_present(ev.BatchSizeChanged, lambda e: f"batch size is now {e.size}", "info", B, ALL_LANES)
_present(ev.ModeChanged, lambda e: f"mode: {e.mode.value} ({e.reason})",
         lambda e: "warning" if e.mode is ev.Mode.SEQUENTIAL else "good", B)
_present(ev.GraphReloaded, _silent, "info", Region.GRAPH)  # read at every proposal; nothing to act on
_present(ev.ErrorRaised, lambda e: f"ERROR {e.message}", "error", B)
_present(ev.LogLine, lambda e: e.text, lambda e: "warning" if e.level == "warning" else
         "error" if e.level == "error" else "info")  # only a log line
_present(ev.ReservationsChanged, _silent, "info", Region.RESERVATIONS)  # shown in their table


# ----- lanes --------------------------------------------------------------------------------
def _progress(event: ev.LaneProgress) -> str | None:
    if event.heartbeat:
        return None
    return f"lane {event.lane}: {event.status}" + (f": {event.action}" if event.action else "")


def _needs_input(event: ev.LaneNeedsInput) -> str:
    request = event.request
    text = " | ".join(request.text.splitlines())
    options = f" [{' / '.join(request.options)}]" if request.options else ""
    return f"lane {event.lane}: {event.task_id} NEEDS INPUT ({request.kind.value} {request.tool}): {text}{options}"


def _finished(event: ev.LaneFinished) -> str:
    text = f"lane {event.lane}: {event.task_id} {event.outcome.value.replace('_', ' ')}"
    return text + (f": {event.reason}" if event.reason else "")


def _environment(event: ev.LaneEnvironmentReady) -> str | None:
    parts = []
    if event.ports:
        parts.append(f"ports {event.ports[0]}" + (f"-{event.ports[-1]}" if len(event.ports) > 1 else ""))
    if event.copied:
        parts.append(f"copied {', '.join(event.copied)}")
    if event.setup:
        parts.append(f"setup {event.setup}")
    return f"lane {event.lane}: {'; '.join(parts)}" if parts else None


def _check_finished(event: ev.LaneCheckFinished) -> str:
    check = event.check
    if check.passed:
        return f"lane {event.lane}: {event.task_id} check passed in {check.seconds:.1f} s"
    last = next((line for line in reversed(check.output_tail.splitlines()) if line.strip()), "")
    return f"lane {event.lane}: {event.task_id} check FAILED ({check.summary})" + (f": {last}" if last else "")


_present(ev.LaneStarted, lambda e: f"lane {e.lane}: {e.task_id} started on {e.branch} ({e.title})", "info", L, LD, B)
_present(ev.LaneProgress, _progress, "info", L)
_present(ev.LaneNeedsInput, _needs_input, "warning", L, B)
_present(ev.LaneInputAnswered, lambda e: f"lane {e.lane}: {e.task_id} {e.answer} by {e.by}", "info", L, B)
_present(ev.LaneDiff, _silent, "info", L, LD)  # shown in the lane
_present(ev.LaneAlert, lambda e: f"lane {e.lane}: ALERT {e.message}", "error", L, B)
_present(ev.LaneStalled, lambda e: f"lane {e.lane}: {e.task_id} STALLED: {stall_text(e)}", "warning", L, B)
_present(ev.LaneFinished, _finished, lambda e: "good" if e.outcome is ev.LaneOutcome.SUCCEEDED else "error", L, B)
_present(ev.LaneEnvironmentReady, _environment, "info", L)
_present(ev.LaneCheckFinished, _check_finished, lambda e: "good" if e.check.passed else "error", L, MERGES)


# ----- merges -------------------------------------------------------------------------------
def _predicted(event: ev.MergePredicted) -> str:
    verdict = ("conflicts in " + ", ".join(event.conflicted_files)) if event.conflicted_files else "clean"
    return f"merge #{event.order}: {event.branch} predicted {verdict}"


def _check_failed(event: ev.MergeCheckFailed) -> str:
    first = event.output.strip().splitlines()[0] if event.output.strip() else ""
    return f"merge of {event.branch} stopped: {first}"


CHECK_ANSWERS = {"merge": "merge anyway", "retry": "send back to an agent with the failure", "drop": "drop"}

_present(ev.MergePredicted, _predicted, "info", MERGES)
_present(ev.MergeStarted, lambda e: f"merging {e.branch}", "info", MERGES, B)
_present(ev.MergeConflict, lambda e: f"CONFLICT merging {e.branch}: {', '.join(e.files)}", "error", MERGES, B, CONFLICT)
# The engine logs each resolution step in words (a LogLine) right after.
_present(ev.ConflictChanged, _silent, "info", B, CONFLICT)
_present(ev.MergeCheckFailed, _check_failed, "error", MERGES, B)
_present(ev.MergeDone, lambda e: f"merged {e.branch} ({e.task_id}) as {e.commit[:12]}", "good", MERGES, B, CONFLICT)
_present(ev.MergeHeldForCheck,
         lambda e: f"merge of {e.branch} held: its lane check failed; merge anyway, retry or drop", "error", MERGES, B)
_present(ev.CheckHoldAnswered,
         lambda e: f"{e.task_id}: a person chose {CHECK_ANSWERS.get(e.answer, e.answer)}", "info", MERGES, B)


# ----- lookups ------------------------------------------------------------------------------
def presentation(event: ev.Event) -> Presentation[Any]:
    found = PRESENTATIONS.get(type(event))
    if found is None:  # tests/ui/test_engine_mirror.py keeps this from happening
        return Presentation(lambda e: type(e).__name__, lambda e: "info", frozenset())
    return found


def describe(event: ev.Event) -> str | None:
    """A person-readable line, or None for events too chatty for a log (diffs)."""
    return presentation(event).text(event)


def severity(event: ev.Event) -> Severity:
    """info, good, warning or error: how loudly a front end should show the event."""
    return presentation(event).severity(event)


def regions(event: ev.Event) -> frozenset[Region]:
    """What the event makes stale on the dashboard."""
    return presentation(event).regions
