"""Where the target branch and the task branches point (read only)."""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import run_git
from orch_tui.orchestration.infra.repo_paths import checked_out_ref
from orch_tui.orchestration.lanes.worktrees import is_ancestor, list_worktrees
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.tracker.task_refs import archive_ref, task_id_from_branch


class MergeRefs:
    """The target (Config.target_branch, else the batch's pinned target, else the branch
    checked out in the main worktree) and the task branches merged into it, read in the main
    worktree `main`."""

    def __init__(self, main: Path, config: Config) -> None:
        self.main = main
        self.config = config
        self.batch_target: str | None = None
        """The branch the running batch started from (`pin_target`): a person who switches
        their checkout to another branch mid-batch does not redirect the batch's merges."""
        self._elsewhere_said: str | None = None

    def pin_target(self) -> str:
        """Fix the target for a new batch and return its tip (where its lanes branch from)."""
        self.batch_target, self._elsewhere_said = None, None
        name, tip = self.target_and_tip()
        self.batch_target = name
        return tip

    def checkout_elsewhere_note(self) -> str | None:
        """What to tell the person, once, when their checkout is no longer on the batch's
        target (they switched branches mid-batch); None otherwise."""
        if self.config.target_branch or not self.batch_target:
            return None
        branch = (checked_out_ref(self.main) or "").removeprefix("refs/heads/") or "a detached HEAD"
        if branch in (self.batch_target, self._elsewhere_said):
            return None
        self._elsewhere_said = branch
        return (f"your checkout {self.main} is on {branch} now, not {self.batch_target}: this batch started "
                f"from {self.batch_target} and merges into it without touching your checkout; the next batch "
                "starts from the branch checked out then (or set target_branch)")

    def target_and_tip(self) -> tuple[str, str]:
        """The target branch and its tip commit (one git call when the target is the branch
        checked out in the main worktree: `worktree list` names both)."""
        if self.config.target_branch or self.batch_target:
            name = self.config.target_branch or self.batch_target or ""
        else:
            main = list_worktrees(self.main)[0]
            if not main.branch:
                raise BadInput(f"{self.main} is not on a branch (detached HEAD)", path=self.main,
                               fix="check out the branch to merge into (git switch main), or set "
                                   "target_branch in the configuration")
            name = main.branch.removeprefix("refs/heads/")
            if main.head and main.head.strip("0"):
                return name, main.head
        tip = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False)
        if not tip.ok:
            raise BadInput(f"target branch {name!r} does not exist", path=self.main,
                           fix="create it (git branch NAME) or change target_branch")
        return name, tip.out.strip()

    def tip_of(self, target: str) -> str:
        """Where `target` points now."""
        return run_git(self.main, "rev-parse", f"refs/heads/{target}").out.strip()

    def task_branch(self, branch: str) -> tuple[str, str]:
        """The short name of `branch` and its tip (its archived tip once merged and disposed of)."""
        short = branch.removeprefix("refs/heads/")
        result = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{short}^{{commit}}", check=False)
        if result.ok:
            return short, result.out.strip()
        archived = self._merged_archive(short)
        if archived is None:
            raise OrchError(f"branch {short!r} does not exist")
        return short, archived

    def task_branches(self, branches: list[str]) -> list[tuple[str, str]]:
        """`task_branch` of each, asked of git in one call when they all exist."""
        shorts = [branch.removeprefix("refs/heads/") for branch in branches]
        result = run_git(self.main, "rev-parse", *(f"refs/heads/{short}^{{commit}}" for short in shorts),
                         check=False)
        tips = result.out.split()
        if result.ok and len(tips) == len(shorts):
            return list(zip(shorts, tips))
        return [self.task_branch(branch) for branch in branches]  # one is gone: each on its own

    def _merged_archive(self, short: str) -> str | None:
        """The archived tip of a task branch already merged into the target, else None: a
        series merge disposes of every branch before the engine has journaled them all, so
        after a crash there the journal may still list a gone branch as pending."""
        task_id = task_id_from_branch(short)
        if task_id is None:
            return None
        archived = run_git(self.main, "rev-parse", "--verify", "--quiet",
                           f"{archive_ref(task_id)}^{{commit}}", check=False)
        if not archived.ok or not is_ancestor(self.main, archived.out.strip(), self.target_and_tip()[1]):
            return None
        return archived.out.strip()
