"""A stopped merge as plain data: per file, per hunk, base / ours / theirs with context and
the choices made so far. `merging/conflicts.py` builds it from git's index; events, the
snapshot and the conflict screen carry it.

"ours" is the target branch, "theirs" the task branch being merged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Hunk:
    index: int
    start_line: int
    """1-based line of the target's (ours) version of the file where this hunk begins."""
    base: str
    ours: str
    theirs: str
    context_before: str
    context_after: str
    resolution: str | None = None
    """ours, theirs, both, or None while undecided."""


@dataclass
class ConflictFile:
    path: str
    kind: str
    """content, add/add, binary, modified/deleted (target kept it, task deleted it),
    deleted/modified (target deleted it, task changed it), or git's own name for anything
    else (e.g. rename/rename), `other` when git gave none."""
    has_base: bool
    has_ours: bool
    has_theirs: bool
    hunks: list[Hunk] = field(default_factory=list)
    resolution: str | None = None
    """Whole-file choice: ours, theirs, both, custom (written content) or deleted; None
    when hunks were chosen one by one (or nothing yet)."""
    messages: list[str] = field(default_factory=list)
    """git's CONFLICT lines about this file."""

    @property
    def resolved(self) -> bool:
        if self.resolution is not None:
            return True
        return bool(self.hunks) and all(h.resolution is not None for h in self.hunks)


@dataclass
class Conflict:
    """Everything a person needs to resolve a stopped merge."""

    branch: str
    task_id: str | None
    target: str
    target_commit: str
    branch_commit: str
    files: list[ConflictFile]
    messages: list[str] = field(default_factory=list)
    worktree: str = ""
    """The merge worktree holding the conflicted files (where `$EDITOR` opens them)."""

    @property
    def unresolved(self) -> list[str]:
        return [f.path for f in self.files if not f.resolved]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for item, record in zip(data["files"], self.files):
            item["resolved"] = record.resolved
        data["unresolved"] = self.unresolved
        return data
