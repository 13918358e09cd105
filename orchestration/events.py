"""Typed events the engine and its parts emit; any front end subscribes to them.

Events are immutable facts about something that already happened. Lanes are numbered from
1. Producers call a plain `EventSink` (a callable), so the pieces stay independent of the
engine that collects and forwards their events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

from orch_tui.orchestration.conflict_record import Conflict
from orch_tui.orchestration.lane_check import CheckAnswer, CheckResult
from orch_tui.orchestration.model import Reservation, TaskGraph
from orch_tui.orchestration.proposal import BatchProposal
from orch_tui.orchestration.states import EngineState, LaneState


class Mode(StrEnum):
    PARALLEL = "parallel"
    """Lanes run at once; their reservations live in Agent Mail, where other agents see them."""
    SEQUENTIAL = "sequential"
    """Agent Mail in use stopped answering: one lane at a time until it is back."""
    LOCAL = "local"
    """Lanes run at once; their reservations live in orch-tui's own ledger (no Agent Mail)."""


class LaneOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Event:
    """Base of every event."""


EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class EngineStateChanged(Event):
    state: EngineState
    detail: str = ""


@dataclass(frozen=True)
class BatchProposed(Event):
    proposal: BatchProposal


@dataclass(frozen=True)
class BatchApproved(Event):
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class BatchRejected(Event):
    reason: str = ""


@dataclass(frozen=True)
class BatchSizeChanged(Event):
    size: int
    """The most lanes the next batches use."""


@dataclass(frozen=True)
class LaneStarted(Event):
    lane: int
    task_id: str
    title: str
    branch: str
    worktree: str


@dataclass(frozen=True)
class LaneProgress(Event):
    """What the agent is doing now: `status` (busy, idle, retry...) and its last action."""

    lane: int
    task_id: str
    status: LaneState
    action: str = ""
    tokens: int | None = None
    cost: float | None = None
    heartbeat: bool = False
    """A sign of life that says nothing new (a model step began or ended): the lane shows it,
    a log skips it, the stall watch counts it."""


@dataclass(frozen=True)
class LaneDiff(Event):
    """The lane's diff against its base: tracked and untracked files."""

    lane: int
    task_id: str
    diff: str
    files: tuple[str, ...] = ()
    truncated: bool = False


@dataclass(frozen=True)
class LaneAlert(Event):
    """The agent edited files outside the lane's reserved patterns."""

    lane: int
    task_id: str
    paths: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class LaneStalled(Event):
    """The lane's agent has sent no event for `silent_seconds`; it keeps running. The next
    event from the agent (a LaneProgress) ends the stall."""

    lane: int
    task_id: str
    silent_seconds: float
    last_action: str = ""


@dataclass(frozen=True)
class LaneFinished(Event):
    lane: int
    task_id: str
    outcome: LaneOutcome
    reason: str = ""
    commit: str | None = None


@dataclass(frozen=True)
class ReservationsChanged(Event):
    reservations: tuple[Reservation, ...]


@dataclass(frozen=True)
class ModeChanged(Event):
    mode: Mode
    reason: str


@dataclass(frozen=True)
class MergePredicted(Event):
    """`git merge-tree` says whether the branch would merge cleanly into the target now."""

    task_id: str
    branch: str
    order: int
    conflicted_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class MergeStarted(Event):
    task_id: str
    branch: str


@dataclass(frozen=True)
class MergeConflict(Event):
    task_id: str
    branch: str
    files: tuple[str, ...]
    conflict: Conflict | None = None
    """The merge queue's conflict record (base/ours/theirs per hunk)."""


@dataclass(frozen=True)
class ConflictChanged(Event):
    """A person resolved part of the waiting conflict (or all of it: `conflict` is None)."""

    conflict: Conflict | None = None


@dataclass(frozen=True)
class MergeCheckFailed(Event):
    task_id: str
    branch: str
    output: str


@dataclass(frozen=True)
class MergeDone(Event):
    task_id: str
    branch: str
    commit: str


@dataclass(frozen=True)
class GraphReloaded(Event):
    """The Beads graph was read again (a proposal, a finished batch, a change on disk)."""

    graph: TaskGraph


@dataclass(frozen=True)
class ErrorRaised(Event):
    message: str
    detail: str = ""


@dataclass(frozen=True)
class LogLine(Event):
    text: str
    level: str = "info"
    extra: dict[str, str] = field(default_factory=dict)


# ----- agents that ask (permissions and questions) ------------------------------------------
class InputKind(StrEnum):
    PERMISSION = "permission"
    """A tool call waits for `once`, `always` or `reject`."""
    QUESTION = "question"
    """The agent's question tool waits for an option, a typed answer or a dismissal."""


class Reply(StrEnum):
    ONCE = "once"
    ALWAYS = "always"
    REJECT = "reject"
    ANSWER = "answer"
    """A question answered with `InputAnswer.answers`."""


PERMISSION_REPLIES = (Reply.ONCE, Reply.ALWAYS, Reply.REJECT)


@dataclass(frozen=True)
class InputQuestion:
    """One question of a question request (OpenCode may ask several at once)."""

    text: str
    header: str = ""
    options: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = ()
    """One line explaining each option (same order as `options`)."""
    multiple: bool = False
    typed_allowed: bool = True
    """The person may type an answer of their own instead of picking an option."""


@dataclass(frozen=True)
class InputRequest:
    """What an agent waits for, as plain text (agent output: render it literally)."""

    id: str
    kind: InputKind
    tool: str
    """bash, edit, question... (for a permission: the permission OpenCode asks about)."""
    text: str
    """What is asked: the command, the paths, or the question(s), one per line."""
    questions: tuple[InputQuestion, ...] = ()
    detail: str = ""
    """More to show when there is room (the diff an edit would make)."""
    asked_at: float = 0.0
    """time.time() when the agent asked."""

    @property
    def options(self) -> tuple[str, ...]:
        if self.kind is InputKind.PERMISSION:
            return tuple(reply.value for reply in PERMISSION_REPLIES)
        return self.questions[0].options if self.questions else ()

    @property
    def typed_allowed(self) -> bool:
        return self.kind is InputKind.QUESTION and all(q.typed_allowed for q in self.questions)


@dataclass(frozen=True)
class InputAnswer:
    """A person's (or the headless policy's) answer to an `InputRequest`."""

    reply: Reply
    answers: tuple[str, ...] = ()
    """For `Reply.ANSWER`: one answer a question (an option's label or typed text)."""

    def describe(self) -> str:
        if self.reply is Reply.ANSWER:
            return "answered " + "; ".join(repr(answer) for answer in self.answers)
        if self.reply is Reply.REJECT:
            return "rejected"
        return f"allowed {self.reply.value}"


@dataclass(frozen=True)
class LaneNeedsInput(Event):
    """The lane's agent waits for a person: it is not busy until someone answers."""

    lane: int
    task_id: str
    request: InputRequest


@dataclass(frozen=True)
class LaneInputAnswered(Event):
    lane: int
    task_id: str
    request_id: str
    answer: str
    """What was answered, in words ("allowed once", "rejected", "answered 'Blue'")."""
    by: str = "a person"
# ----- lane environments (orchestration/lanes/environment.py) --------------------------------
@dataclass(frozen=True)
class LaneEnvironmentReady(Event):
    """A lane's ports, copied files and setup, before its agent starts (setup may have failed)."""

    lane: int
    task_id: str
    ports: tuple[int, ...] = ()
    copied: tuple[str, ...] = ()
    setup: str = ""
    """`ran in 1.2 s`, `skipped: uv.lock unchanged`, `failed`, or empty (no setup configured)."""


@dataclass(frozen=True)
class LaneCheckFinished(Event):
    """`lane_check_command` ran in the lane after its agent: the evidence its merge carries."""

    lane: int
    task_id: str
    branch: str
    check: CheckResult


@dataclass(frozen=True)
class MergeHeldForCheck(Event):
    """A lane's check failed: its merge waits for a person (merge anyway, retry, drop)."""

    task_id: str
    branch: str
    check: CheckResult


@dataclass(frozen=True)
class CheckHoldAnswered(Event):
    task_id: str
    branch: str
    answer: CheckAnswer
