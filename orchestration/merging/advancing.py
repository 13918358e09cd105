"""Moving the target branch to a finished merge, only ever by fast-forward.

* target checked out in some worktree (usually the person's main checkout): first our own
  check for a git operation or lock there, then `git merge --ff-only` run there (recorded by
  checkout_update.py, so a crash can be undone), which git itself refuses when local changes
  would be overwritten. Either refusal changes nothing and keeps the merge ready to continue.
* target checked out nowhere: `git update-ref refs/heads/<target> <new> <old>` (compare and
  swap, so a concurrent move is detected, never overwritten).

Once the target moved the task branch is disposed of (disposal.py) and the state file cleared.
"""

from __future__ import annotations

import os
from pathlib import Path

from orch_tui.orchestration.infra.git_exec import nul_fields, run_git
from orch_tui.orchestration.infra.git_locks import lock_refusal
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir
from orch_tui.orchestration.lanes.worktrees import (WorktreeInfo, list_worktrees, operation_in_progress,
                                                    status_entries)
from orch_tui.orchestration.merging.checkout_update import recorded_update
from orch_tui.orchestration.merging.disposal import BranchDisposal
from orch_tui.orchestration.merging.records import MergeOutcome, MergeState
from orch_tui.orchestration.merging.refs import MergeRefs
from orch_tui.orchestration.merging.state_file import MergeStateFile
from orch_tui.orchestration.merging.verification import VerificationResult


class TargetAdvancer:
    """Moves the target to a merge that is finished, conflict-free and verified."""

    def __init__(self, refs: MergeRefs, state_file: MergeStateFile, disposal: BranchDisposal) -> None:
        self.refs = refs
        self.main = refs.main
        self.state_file = state_file
        self.disposal = disposal
        self.last_listing: list[WorktreeInfo] = []
        """The worktrees as the last `advance` saw them (which branch is checked out where)."""

    def advance(self, state: MergeState, verification: VerificationResult | None = None) -> MergeOutcome:
        """Move `state.target` from `state.target_commit` to the merge, dispose of the branch,
        clear the state file; or the outcome saying why the target did not move."""
        new = state.merged_commit or self.state_file.worktree.head()
        registered = self.last_listing = list_worktrees(self.main)
        current = next((info.head for info in registered if info.branch == f"refs/heads/{state.target}"),
                       None) or self.refs.tip_of(state.target)
        moved_before_a_crash = current == new != state.target_commit
        if current != state.target_commit and not moved_before_a_crash:
            return self.target_moved(state, current)
        if not moved_before_a_crash:
            stopped = self._move_target(state, new, _checkout_of(state.target, registered), verification)
            if stopped is not None:
                return stopped
        disposition = self.disposal.dispose(state, new, registered)
        self.state_file.clear()
        return state.outcome("merged", f"{state.branch} merged into {state.target} at {new[:12]}",
                             commit=new, verification=verification, branch_disposition=disposition)

    def target_moved(self, state: MergeState, current: str) -> MergeOutcome:
        self.state_file.discard_merge(current)
        return state.outcome("target_moved",
                             f"{state.target} moved from {state.target_commit[:12]} to {current[:12]} during the "
                             f"merge; nothing was changed and {state.branch} is kept: merge it again")

    def _move_target(self, state: MergeState, new: str, checkout: Path | None,
                     verification: VerificationResult | None) -> MergeOutcome | None:
        """Move the target from `state.target_commit` to `new`; the outcome when it did not."""
        if checkout is None:
            result = run_git(self.main, "update-ref", "-m", f"orch-tui: merge {state.branch}",
                             f"refs/heads/{state.target}", new, state.target_commit, check=False)
            return None if result.ok else self.target_moved(state, self.refs.tip_of(state.target))
        refusal = _busy(checkout) or lock_refusal(checkout, state.target)
        if refusal is None:
            # git itself refuses to touch local edits, untracked and (with
            # --no-overwrite-ignore) ignored files; the clearer reason is worked out only
            # then, which spares two git calls on every clean merge.
            with recorded_update(self.main, checkout, state.target, state.target_commit, new):
                result = run_git(checkout, "merge", "--quiet", "--ff-only", "--no-overwrite-ignore", new,
                                 check=False)
            if result.ok:
                return None
            current = self.refs.tip_of(state.target)
            if current != state.target_commit:
                return self.target_moved(state, current)
            refusal = self._blocking_changes(checkout, state.target_commit, new) or (
                f"git refused to update {state.target} in {checkout}: {(result.err or result.out).strip()}")
        state.stage = "checkout_dirty"
        self.state_file.save(state)
        return state.outcome("checkout_dirty", refusal + " Nothing was changed; the merged commit "
                             "waits in the merge worktree: continue the merge once that is done.",
                             verification=verification)

    def _blocking_changes(self, checkout: Path, old: str, new: str) -> str | None:
        """A clear refusal when `checkout` has local work the update from old to new would touch."""
        fields = nul_fields(run_git(self.main, "diff", "--name-status", "--no-renames", "-z", old, new).out)
        pairs = list(zip(fields[::2], fields[1::2]))  # (status letter, path)
        changed = {path for _, path in pairs}
        added = [path for status, path in pairs if status == "A"]
        dirty = [entry[3:] for entry in status_entries(checkout)]
        blocked = {path for path in changed
                   if any(path == d or (d.endswith("/") and path.startswith(d)) for d in dirty)}
        blocked |= {path for path in added if os.path.lexists(checkout / path)}  # untracked or ignored files
        if not blocked:
            return None
        shown = ", ".join(sorted(blocked)[:10]) + (" ..." if len(blocked) > 10 else "")
        return (f"{checkout} has uncommitted changes in files this merge would update ({shown}); "
                f"commit or stash them there.")


def _checkout_of(target: str, registered: list[WorktreeInfo]) -> Path | None:
    """The worktree with `target` checked out (or being rebased/bisected there)."""
    for info in registered:
        if info.branch == f"refs/heads/{target}":
            return Path(info.path)
        git_dir = worktree_git_dir(Path(info.path)) if Path(info.path, ".git").exists() else None
        for name in ("rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"):
            marker = git_dir / name if git_dir else None
            if marker and marker.exists() and marker.read_text().strip() in (f"refs/heads/{target}", target):
                return Path(info.path)
    return None


def _busy(checkout: Path) -> str | None:
    busy = operation_in_progress(checkout)
    if busy:
        return f"{checkout} is in the middle of {busy}; finish or abort it there."
    return None  # lock files in the person's checkout: `lock_refusal` (git_locks.py) names them
