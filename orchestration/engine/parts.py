"""What the engine drives, as Protocols: the engine depends on what it calls, not on a class.

`wiring.build_engine` fills `EngineParts` with the real ones (WorktreePool, MergeQueue, an
agent runner, a reservation backend, a Beads store); tests fill it with real parts or fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orch_tui.orchestration.agents.base import AgentRequest, AgentResult
from orch_tui.orchestration.agents.transcript import TranscriptEntry
from orch_tui.orchestration.engine.instance_lock import InstanceLock
from orch_tui.orchestration.engine.journal import Journal
from orch_tui.orchestration.events import EventSink, InputAnswer
from orch_tui.orchestration.lanes.environment import LaneEnvironments
from orch_tui.orchestration.lanes.worktrees import Lane, LaneProblem
from orch_tui.orchestration.merging.conflicts import Conflict, ConflictFile
from orch_tui.orchestration.merging.queue import MergeOutcome, MergeState, Prediction
from orch_tui.orchestration.reservations.backend import ReservationBackend
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.tracker.beads import BeadsStore


class LanePool(Protocol):
    """The lanes' worktrees (orchestration/lanes/worktrees.py `WorktreePool`)."""

    def recover(self) -> list[LaneProblem]: ...

    def ensure(self) -> list[Lane]: ...

    def assign(self, lane_index: int, task_id: str, base_ref: str, *, keep_existing: bool = False) -> Lane: ...

    def release(self, lane: Lane | int, message: str = ...) -> str | None:
        """Commit what the agent left and detach the lane; the commit, or None (nothing left)."""


class MergeParts(Protocol):
    """The merge queue (orchestration/merging/queue.py `MergeQueue`)."""

    def recover(self) -> list[str]: ...

    def prepare(self) -> None: ...

    def target_commit(self) -> str: ...

    def pin_target(self) -> str: ...

    def checkout_elsewhere_note(self) -> str | None: ...

    def predict(self, branches: list[str]) -> list[Prediction]: ...

    def suggested_order(self, predictions: list[Prediction]) -> list[str]: ...

    def merge_state(self) -> MergeState | None: ...

    def merge(self, branch: str) -> MergeOutcome: ...

    def merge_if_clean(self, branch: str) -> MergeOutcome | None: ...

    def merge_series_if_clean(self, branches: list[str]) -> list[MergeOutcome]: ...

    def continue_merge(self) -> MergeOutcome: ...

    def abort_merge(self) -> MergeState | None: ...

    def conflict(self) -> Conflict | None: ...

    def resolve_hunk(self, path: str, hunk_index: int, choice: str) -> ConflictFile: ...

    def resolve_file(self, path: str, choice: str) -> ConflictFile: ...

    def write_resolution(self, path: str, content: str | bytes | None) -> None: ...


class AgentRunner(Protocol):
    """Runs a lane's coder agent (orchestration/agents/, `RunnerBase` and its subclasses)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, request: AgentRequest, sink: EventSink) -> AgentResult: ...

    async def answer(self, lane: int, request_id: str, answer: InputAnswer, by: str = "a person") -> None: ...

    def follow_up_refusal(self, lane: int) -> str | None: ...

    async def follow_up(self, lane: int, text: str) -> None: ...

    async def transcript(self, lane: int) -> tuple[TranscriptEntry, ...]: ...


class DiffWatcher(Protocol):
    """A lane's live diff (orchestration/lanes/live_diff.py `LaneDiffWatcher`)."""

    async def run(self) -> None: ...

    async def refresh(self) -> object: ...


class DiffWatcherFactory(Protocol):
    def __call__(self, lane: int, task_id: str, worktree: Path, base_commit: str,
                 reserved: tuple[str, ...], sink: EventSink, *, starts_clean: bool = False) -> DiffWatcher: ...


@dataclass
class EngineParts:
    """What the engine drives; built by `wiring.build_engine` (or by tests)."""

    repo: Path
    config: Config
    store: BeadsStore
    pool: LanePool
    merges: MergeParts
    runner: AgentRunner
    journal: Journal
    reservations: ReservationBackend | None = None
    """None means sequential mode."""
    watcher_factory: DiffWatcherFactory | None = None
    """Builds a live-diff watcher for a lane; None: no live diff."""
    lock: InstanceLock | None = None
    """Held from start() to close(), so one orchestrator runs per repository."""
    environments: LaneEnvironments | None = None
    """Ports, copied files, setup and check of each lane; None builds one from `config`."""
