"""The state of the merge waiting for a person: `orch-tui-merge.json` in the merge worktree's
git directory, so that after a restart the merge can be resolved, continued or aborted."""

from __future__ import annotations

import json
from pathlib import Path

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.merging.merge_worktree import MergeWorktree
from orch_tui.orchestration.merging.records import MergeState

STATE_FILE = "orch-tui-merge.json"


class MergeStateFile:
    """Save, load and clear the one waiting merge's state (at most one merge waits)."""

    def __init__(self, worktree: MergeWorktree) -> None:
        self.worktree = worktree

    def path(self) -> Path:
        return self.worktree.git_dir() / STATE_FILE

    def save(self, state: MergeState) -> None:
        data = state.to_dict()
        data.pop("conflict", None)  # rebuilt from the index when read
        write_atomically(self.path(), json.dumps(data, indent=2).encode())

    def load(self) -> MergeState | None:
        if not self.worktree.exists():
            return None
        path = self.path()
        if not path.exists():
            return None
        return MergeState(**json.loads(path.read_text(encoding="utf-8")))

    def clear(self) -> None:
        self.path().unlink(missing_ok=True)

    def discard_merge(self, commit: str) -> None:
        """Give up the merge under way: the worktree back at `commit`, no state left."""
        self.worktree.reset(commit)
        self.clear()
