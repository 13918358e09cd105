"""What becomes of a task branch once merged: archived under refs/orch-archive/ and deleted,
deleted, or kept (Config.branch_after_merge), never losing a commit that was not merged."""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.infra.git_exec import run_git, run_git_with_input
from orch_tui.orchestration.lanes.worktrees import WorktreeInfo, is_ancestor, list_worktrees
from orch_tui.orchestration.merging.records import MergeState
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.tracker.task_refs import archive_ref

_ARCHIVE_MESSAGE = "orch-tui: archive merged task branch"


class BranchDisposal:
    """Disposes of merged task branches in the repository whose main worktree is `main`."""

    def __init__(self, main: Path, config: Config) -> None:
        self.main = main
        self.config = config

    def dispose(self, state: MergeState, merged_into: str, registered: list[WorktreeInfo] | None = None) -> str:
        """Dispose of the branch `state` merged into `merged_into`; what was done, in words.
        `registered`: the worktree listing, when the caller has a fresh one."""
        task_id = state.task_id
        if task_id is None or self.config.branch_after_merge == "keep":
            return "kept"
        registered = registered or list_worktrees(self.main)
        if self._unmoved_in_one_transaction([state], registered):
            return self._quick_words(task_id)
        return self._dispose_checked(state, task_id, merged_into, registered)

    def dispose_all(self, states: list[MergeState], merged_into: str, registered: list[WorktreeInfo]) -> list[str]:
        """`dispose` for the earlier branches of a series: one ref transaction for all of them
        when none moved and none is checked out (else one at a time)."""
        if self.config.branch_after_merge == "keep" or not states:
            return [self.dispose(state, merged_into, registered) for state in states]
        if self._unmoved_in_one_transaction(states, registered):
            return [self._quick_words(state.task_id or "") for state in states]  # (all have one)
        return [self.dispose(state, merged_into, registered) for state in states]

    def _dispose_checked(self, state: MergeState, task_id: str, merged_into: str,
                         registered: list[WorktreeInfo]) -> str:
        """The slow path: the branch moved since the merge, or is checked out somewhere."""
        tip = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{state.branch}", check=False)
        if not tip.ok:
            return "already gone"
        tip_commit = tip.out.strip()
        if tip_commit != state.branch_commit and not is_ancestor(self.main, tip_commit, merged_into):
            return f"kept: {state.branch} has commits that were not merged"
        done = []
        if self.config.branch_after_merge == "archive":
            run_git(self.main, "update-ref", "-m", _ARCHIVE_MESSAGE, archive_ref(task_id), tip_commit)
            done.append(f"archived as {archive_ref(task_id)}")
        holder = next((w.path for w in registered if w.branch == f"refs/heads/{state.branch}"), None)
        if holder:
            done.append(f"branch kept: checked out in {holder}")
        else:
            run_git(self.main, "branch", "--quiet", "-D", state.branch)
            done.append("branch deleted")
        return "; ".join(done)

    def _unmoved_in_one_transaction(self, states: list[MergeState], registered: list[WorktreeInfo]) -> bool:
        """Archive and delete every branch in one ref transaction, which checks that each still
        points at its merged commit; False (nothing done) when one moved or is checked out."""
        checked_out = {info.branch for info in registered}
        commands = []
        for state in states:
            if state.task_id is None or f"refs/heads/{state.branch}" in checked_out:
                return False
            if self.config.branch_after_merge == "archive":
                commands.append(f"update {archive_ref(state.task_id)} {state.branch_commit}\n")
            commands.append(f"delete refs/heads/{state.branch} {state.branch_commit}\n")
        return run_git_with_input(self.main, "update-ref", "--stdin", "-m", _ARCHIVE_MESSAGE,
                                  text="".join(commands)).ok

    def _quick_words(self, task_id: str) -> str:
        if self.config.branch_after_merge == "archive":
            return f"archived as {archive_ref(task_id)}; branch deleted"
        return "branch deleted"
