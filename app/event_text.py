"""One line of plain text per engine event, for `orch-tui run` and the dashboard's log."""

from __future__ import annotations

from functools import singledispatch

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.engine.snapshot_reducer import stall_text


@singledispatch
def describe(event: ev.Event) -> str | None:
    """A person-readable line, or None for events too chatty for a log (diffs)."""
    return type(event).__name__


@describe.register
def _(event: ev.EngineStateChanged) -> str:
    return f"engine: {event.state.replace('_', ' ')}" + (f" ({event.detail})" if event.detail else "")


@describe.register
def _(event: ev.BatchProposed) -> str:
    picked = ", ".join(choice.task_id for choice in event.proposal.picked) or "nothing ready"
    return f"batch proposed: {picked}"


@describe.register
def _(event: ev.BatchApproved) -> str:
    return f"batch approved: {', '.join(event.task_ids)}"


@describe.register
def _(event: ev.BatchRejected) -> str:
    return "batch rejected" + (f": {event.reason}" if event.reason else "")


@describe.register
def _(event: ev.BatchSizeChanged) -> str:
    return f"batch size is now {event.size}"


@describe.register
def _(event: ev.LaneStarted) -> str:
    return f"lane {event.lane}: {event.task_id} started on {event.branch} ({event.title})"


@describe.register
def _(event: ev.LaneProgress) -> str | None:
    if event.heartbeat:
        return None
    return f"lane {event.lane}: {event.status}" + (f": {event.action}" if event.action else "")


@describe.register
def _(event: ev.LaneNeedsInput) -> str:
    request = event.request
    text = " | ".join(request.text.splitlines())
    options = f" [{' / '.join(request.options)}]" if request.options else ""
    return f"lane {event.lane}: {event.task_id} NEEDS INPUT ({request.kind.value} {request.tool}): {text}{options}"


@describe.register
def _(event: ev.LaneInputAnswered) -> str:
    return f"lane {event.lane}: {event.task_id} {event.answer} by {event.by}"


@describe.register
def _(event: ev.LaneDiff) -> None:
    return None


@describe.register
def _(event: ev.LaneAlert) -> str:
    return f"lane {event.lane}: ALERT {event.message}"


@describe.register
def _(event: ev.LaneStalled) -> str:
    return f"lane {event.lane}: {event.task_id} STALLED: {stall_text(event)}"


@describe.register
def _(event: ev.LaneFinished) -> str:
    text = f"lane {event.lane}: {event.task_id} {event.outcome.value.replace('_', ' ')}"
    return text + (f": {event.reason}" if event.reason else "")


@describe.register
def _(event: ev.ReservationsChanged) -> None:
    return None


@describe.register
def _(event: ev.ModeChanged) -> str:
    return f"mode: {event.mode.value} ({event.reason})"


@describe.register
def _(event: ev.MergePredicted) -> str:
    verdict = ("conflicts in " + ", ".join(event.conflicted_files)) if event.conflicted_files else "clean"
    return f"merge #{event.order}: {event.branch} predicted {verdict}"


@describe.register
def _(event: ev.MergeStarted) -> str:
    return f"merging {event.branch}"


@describe.register
def _(event: ev.MergeConflict) -> str:
    return f"CONFLICT merging {event.branch}: {', '.join(event.files)}"


@describe.register
def _(event: ev.ConflictChanged) -> None:
    return None  # the engine logs each resolution step in words (a LogLine) right after


@describe.register
def _(event: ev.GraphReloaded) -> None:
    return None  # the tracker is read at every proposal; nothing a person acts on


@describe.register
def _(event: ev.MergeCheckFailed) -> str:
    first = event.output.strip().splitlines()[0] if event.output.strip() else ""
    return f"merge of {event.branch} stopped: {first}"


@describe.register
def _(event: ev.MergeDone) -> str:
    return f"merged {event.branch} ({event.task_id}) as {event.commit[:12]}"


@describe.register
def _(event: ev.ErrorRaised) -> str:
    return f"ERROR {event.message}"


@describe.register
def _(event: ev.LogLine) -> str:
    return event.text


@describe.register
def _(event: ev.LaneEnvironmentReady) -> str | None:
    parts = []
    if event.ports:
        parts.append(f"ports {event.ports[0]}" + (f"-{event.ports[-1]}" if len(event.ports) > 1 else ""))
    if event.copied:
        parts.append(f"copied {', '.join(event.copied)}")
    if event.setup:
        parts.append(f"setup {event.setup}")
    return f"lane {event.lane}: {'; '.join(parts)}" if parts else None


@describe.register
def _(event: ev.LaneCheckFinished) -> str:
    check = event.check
    if check.passed:
        return f"lane {event.lane}: {event.task_id} check passed in {check.seconds:.1f} s"
    last = next((line for line in reversed(check.output_tail.splitlines()) if line.strip()), "")
    return f"lane {event.lane}: {event.task_id} check FAILED ({check.summary})" + (f": {last}" if last else "")


@describe.register
def _(event: ev.MergeHeldForCheck) -> str:
    return f"merge of {event.branch} held: its lane check failed; merge anyway, retry or drop"


@describe.register
def _(event: ev.CheckHoldAnswered) -> str:
    what = {"merge": "merge anyway", "retry": "send back to an agent with the failure", "drop": "drop"}
    return f"{event.task_id}: a person chose {what.get(event.answer, event.answer)}"


def severity(event: ev.Event) -> str:
    """info, good, warning or error: how loudly a front end should show the event."""
    if isinstance(event, (ev.ErrorRaised, ev.MergeConflict, ev.MergeCheckFailed, ev.LaneAlert)):
        return "error"
    if isinstance(event, ev.LaneNeedsInput):
        return "warning"
    if isinstance(event, ev.LaneFinished):
        return "good" if event.outcome is ev.LaneOutcome.SUCCEEDED else "error"
    if isinstance(event, ev.MergeDone):
        return "good"
    if isinstance(event, ev.LaneCheckFinished):
        return "good" if event.check.passed else "error"
    if isinstance(event, ev.MergeHeldForCheck):
        return "error"
    if isinstance(event, ev.LaneStalled):
        return "warning"
    if isinstance(event, ev.ModeChanged):
        return "warning" if event.mode is ev.Mode.SEQUENTIAL else "good"
    if isinstance(event, ev.LogLine):
        return event.level if event.level in ("warning", "error") else "info"
    return "info"
