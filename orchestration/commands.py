"""The commands a front end sends to the engine, and the snapshot it reads back.

The engine is the one place that decides; the dashboard and the headless runner only call
these methods and render the events the engine emits (orchestration/events.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from orch_tui.orchestration.events import EventSink, InputAnswer, InputRequest, LaneOutcome, Mode
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.conflict_record import Conflict
from orch_tui.orchestration.model import Reservation, TaskGraph
from orch_tui.orchestration.proposal import BatchProposal
from orch_tui.orchestration.states import EngineState as EngineState, LaneState, MergeStatus
from orch_tui.orchestration.transcript_entry import TranscriptEntry


class HunkChoice(StrEnum):
    OURS = "ours"
    THEIRS = "theirs"
    BOTH = "both"


@dataclass
class LaneView:
    lane: int
    task_id: str | None = None
    title: str = ""
    status: LaneState = LaneState.IDLE
    action: str = ""
    started_at: float | None = None
    """time.time() when the agent started; the UI shows elapsed time from it."""
    diff: str = ""
    diff_files: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    outcome: LaneOutcome | None = None
    inputs: tuple[InputRequest, ...] = ()
    """What the lane's agent waits for a person to answer, oldest first."""
    tokens: int = 0
    cost: float = 0.0
    """What the lane's agent spent so far (OpenCode says; other agents leave 0)."""
    ports: tuple[int, ...] = ()
    copied: tuple[str, ...] = ()
    """Files copied from the main checkout into the lane (lane_copy)."""
    setup: str = ""
    check: CheckResult | None = None


@dataclass
class MergeView:
    task_id: str
    branch: str
    state: MergeStatus = MergeStatus.PENDING
    """pending, predicted_clean, predicted_conflict, merging, conflict, verify_failed, held,
    merged, then sent_back or dropped when a person answered a held merge."""
    predicted_conflicts: tuple[str, ...] = ()
    commit: str | None = None
    output: str = ""
    """Why the merge stopped for a person (a failed check's output, a failed step), else empty."""
    check: CheckResult | None = None
    """The lane check's evidence (None: no lane_check_command)."""


@dataclass
class HeldMerge:
    """A merge held because its lane's check failed, until a person answers."""

    task_id: str
    branch: str
    check: CheckResult


@dataclass
class EngineSnapshot:
    """Everything a front end needs to draw the whole screen at once (e.g. after start-up)."""

    state: EngineState = EngineState.IDLE
    mode: Mode = Mode.PARALLEL
    mode_reason: str = ""
    batch_size: int = 4
    graph: TaskGraph | None = None
    proposal: BatchProposal | None = None
    lanes: list[LaneView] = field(default_factory=list)
    reservations: tuple[Reservation, ...] = ()
    merges: list[MergeView] = field(default_factory=list)
    conflict: Conflict | None = None
    held: HeldMerge | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    """The last lane check of each task, kept across batches (the next approval shows them)."""


class EngineCommands(Protocol):
    """What a person (through the UI) or `orch-tui run --yes` can ask of the engine."""

    def subscribe(self, sink: EventSink) -> None: ...
    def snapshot(self) -> EngineSnapshot: ...
    async def propose(self) -> None: ...
    async def approve(self) -> None: ...
    async def reject(self, reason: str = "") -> None: ...
    async def drop_task(self, task_id: str) -> None: ...
    async def swap_task(self, task_id: str) -> None: ...
    async def set_batch_size(self, size: int) -> None: ...
    async def abort_lane(self, lane: int) -> None: ...
    async def retry_task(self, task_id: str) -> None: ...
    async def resolve_hunk(self, path: str, hunk: int, choice: HunkChoice) -> None: ...
    async def resolve_file(self, path: str, choice: HunkChoice) -> None: ...
    async def write_resolution(self, path: str, content: str) -> None: ...
    async def continue_merge(self) -> None: ...
    async def abort_merge(self) -> None: ...
    async def pause(self) -> None: ...
    async def answer_input(self, lane: int, request_id: str, answer: InputAnswer,
                           by: str = "a person") -> None: ...
    def follow_up_refusal(self, lane: int) -> str | None: ...
    async def follow_up(self, lane: int, text: str) -> None: ...
    async def lane_transcript(self, lane: int) -> tuple[TranscriptEntry, ...]: ...
    async def answer_check(self, task_id: str, answer: CheckAnswer) -> None: ...


@runtime_checkable
class ManagedEngine(EngineCommands, Protocol):
    """An engine its front end starts and stops (`orch-tui` does; tests may drive their own)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
