"""What the merge queue reports and remembers: predictions, a waiting merge's state, outcomes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from orch_tui.orchestration.merging.conflicts import Conflict, FileResolution
from orch_tui.orchestration.merging.verification import VerificationResult


@dataclass
class Prediction:
    branch: str
    task_id: str | None
    clean: bool
    already_merged: bool
    conflicted_files: list[str]
    messages: list[str]
    branch_commit: str
    target_commit: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class MergeOutcome:
    status: str
    """merged, already_merged, conflict, verify_failed, checkout_dirty or target_moved."""
    branch: str
    task_id: str | None
    target: str
    message: str
    commit: str | None = None
    """The target's new tip when merged."""
    previous_target: str | None = None
    conflict: Conflict | None = None
    verification: VerificationResult | None = None
    branch_disposition: str | None = None
    """What happened to the task branch after merging: archived, deleted, kept (and why)."""

    @property
    def ok(self) -> bool:
        return self.status in ("merged", "already_merged")

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["conflict"] = self.conflict.to_dict() if self.conflict else None
        data["ok"] = self.ok
        return data


@dataclass
class MergeState:
    """A merge waiting for a person (or interrupted by a crash); persisted as JSON."""

    stage: str
    """merging (interrupted before git finished), conflict, verifying (merged, not yet
    verified), verify_failed, advancing (merged without a checkout, target not yet moved),
    or checkout_dirty (ready; the target's checkout refused)."""
    branch: str
    task_id: str | None
    target: str
    target_commit: str
    branch_commit: str
    message: str = ""
    resolutions: dict[str, FileResolution] = field(default_factory=dict)
    git_messages: list[str] = field(default_factory=list)
    conflict: Conflict | None = None
    """Filled in when reading a `conflict` state (rebuilt from the index, never stored)."""
    merged_commit: str = ""
    """The merge commit made without a checkout; empty when the merge worktree's HEAD is it."""
    merge_base: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["conflict"] = self.conflict.to_dict() if self.conflict else None
        return data

    def outcome(self, status: str, message: str, *, commit: str | None = None,
                conflict: Conflict | None = None, verification: VerificationResult | None = None,
                branch_disposition: str | None = None) -> MergeOutcome:
        """The outcome of this merge, moving the target from `target_commit` (or not)."""
        return MergeOutcome(status, self.branch, self.task_id, self.target, message, commit=commit,
                            previous_target=self.target_commit, conflict=conflict,
                            verification=verification, branch_disposition=branch_disposition)
