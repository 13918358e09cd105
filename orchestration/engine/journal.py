"""The orchestrator's durable state, rewritten atomically on every transition.

Lives at `<git dir>/orch-tui/journal.json`. After a crash the engine reads it back and
reconciles it with what git and the lanes show, so a batch or a merge in progress resumes.
Where a journal write falls among the writes to git, Beads and Agent Mail, and what a crash
between two of them leaves for the next start to put right: recovery.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.repo_paths import state_dir
from orch_tui.orchestration.states import LaneState, MergeStatus

JOURNAL_VERSION = 1


@dataclass
class LaneRecord:
    lane: int
    task_id: str
    branch: str
    worktree: str
    base: str
    status: LaneState = LaneState.DISPATCHING
    """dispatching, running, committed (ended: outcome set, leftovers committed)."""
    outcome: str | None = None
    reason: str = ""
    commit: str | None = None
    tokens: int = 0
    cost: float = 0.0
    check: dict[str, Any] | None = None
    """The lane check's result (lane_check.CheckResult.to_dict()); None without a check."""


@dataclass
class MergeRecord:
    task_id: str
    branch: str
    state: MergeStatus = MergeStatus.PENDING
    """pending, merging, conflict, verify_failed, held, merged, skipped."""
    commit: str | None = None
    check: dict[str, Any] | None = None
    """The lane check's result the merge carries; a failed one holds it for a person."""
    check_answer: str | None = None
    """The person's answer to a failed check (merge, retry, drop); None while unanswered."""

    def held_for_check(self) -> bool:
        return self.check is not None and bool(self.check) and not self.check.get("passed") and self.check_answer is None


@dataclass
class JournalState:
    state: str = "idle"
    batch_size: int = 4
    batch: list[str] = field(default_factory=list)
    lanes: list[LaneRecord] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)
    batches_done: int = 0
    pid: int | None = None
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"version": JOURNAL_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "JournalState":
        lanes = [LaneRecord(**{**lane, "status": LaneState.parse(lane.get("status", "dispatching"))})
                 for lane in data.get("lanes", [])]
        merges = [MergeRecord(**{**merge, "state": MergeStatus.parse(merge.get("state", "pending"))})
                  for merge in data.get("merges", [])]
        plain = {key: value for key, value in data.items()
                 if key in cls.__dataclass_fields__ and key not in ("lanes", "merges")}
        return cls(**plain, lanes=lanes, merges=merges)

    def lane(self, number: int) -> LaneRecord | None:
        return next((lane for lane in self.lanes if lane.lane == number), None)

    def merge_record(self, task_id: str) -> MergeRecord | None:
        return next((merge for merge in self.merges if merge.task_id == task_id), None)


class Journal:
    def __init__(self, repo: Path) -> None:
        self.path = state_dir(repo) / "journal.json"

    def load(self) -> JournalState | None:
        """The last saved state, or None when there is none."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != JOURNAL_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            return JournalState.from_json(data)
        except (OSError, ValueError, TypeError) as error:
            raise OrchError(f"{self.path}: cannot read the orchestrator journal ({error}); "
                            "move the file aside to start afresh (nothing in git is lost)") from None

    def save(self, state: JournalState) -> None:
        self.write(self.encode(state))

    def encode(self, state: JournalState) -> bytes:
        """The file's content for `state` as it is now (stamped with the time)."""
        state.updated_at = time.time()
        return json.dumps(state.to_json(), indent=2, sort_keys=True).encode()

    def write(self, data: bytes) -> None:
        """Replace the file with `data`, flushed to disk (blocks: call it off the event loop)."""
        write_atomically(self.path, data)
