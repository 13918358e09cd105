"""The merge worktree: `<pool root>/merge`, a detached worktree orch-tui owns.

Merges that need a checkout (a verify command to run, a conflict for a person to resolve)
happen there; anything left there between merges is scratch and is discarded. Its git
directory holds the state file of the merge waiting for a person (state_file.py).
"""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.infra.git_exec import run_git
from orch_tui.orchestration.infra.repo_paths import git_common_dir, worktree_git_dir
from orch_tui.orchestration.infra.stale_locks import describe_removed, remove_stale_locks, remove_stale_ref_locks
from orch_tui.orchestration.lanes.worktrees import (MERGE_DIR_NAME, LaneNeedsAttention, half_created, list_worktrees,
                                                    remove_half_created, same_path)
from orch_tui.orchestration.tracker.task_refs import ARCHIVE_NAMESPACE, BRANCH_PREFIX


class MergeWorktree:
    """`root/merge`, a worktree of the repository whose main worktree is `main`."""

    def __init__(self, main: Path, root: Path) -> None:
        self.main = main
        self.root = root
        self.path = root / MERGE_DIR_NAME

    def exists(self) -> bool:
        return (self.path / ".git").exists()

    def git_dir(self) -> Path:
        """Its private git directory (MERGE_HEAD, the state file)."""
        return worktree_git_dir(self.path)

    def merge_in_progress(self) -> bool:
        """git stopped a merge there (conflicts): MERGE_HEAD exists."""
        return (self.git_dir() / "MERGE_HEAD").exists()

    def head(self) -> str:
        return run_git(self.path, "rev-parse", "HEAD").out.strip()

    def ensure(self, commit: str) -> None:
        """The worktree exists, clean and detached at `commit`."""
        registered = list_worktrees(self.main)
        entry = next((w for w in registered if same_path(w.path, self.path)), None)
        if entry is not None and not self.path.exists():
            run_git(self.main, "worktree", "prune")
            entry = None
        if entry is None:
            if self.path.exists():
                raise LaneNeedsAttention(f"{self.path} exists but is not a worktree of {self.main}; move it away")
            self.root.mkdir(parents=True, exist_ok=True)
            run_git(self.main, "worktree", "add", "--quiet", "--detach", str(self.path), commit)
            return
        self.reset(commit)

    def reset(self, commit: str) -> None:
        """Scratch space owned by orch-tui: discard leftovers, always stay detached."""
        if self.merge_in_progress():
            run_git(self.path, "merge", "--abort", check=False)
        run_git(self.path, "checkout", "--quiet", "--force", "--detach", commit)
        run_git(self.path, "clean", "-fd", "--quiet")

    def recover(self) -> list[str]:
        """What a killed orchestrator left here and on orch-tui's own refs: a half-created
        merge worktree is removed, stale locks in it and on the task and archive refs too."""
        messages = []
        entry = next((w for w in list_worktrees(self.main) if same_path(w.path, self.path)), None)
        if entry is not None and half_created(entry):
            remove_half_created(self.main, self.path)
            messages.append(f"{self.path} was being created when the previous orchestrator stopped: "
                            "removed (it is created again when needed)")
        if self.exists():
            removed, running = remove_stale_locks(self.path, self.git_dir())
            if removed:
                messages.append(describe_removed(self.path, removed))
            if running:
                messages.append(f"git (pid {', '.join(map(str, running))}) still runs in {self.path}; "
                                "its locks are left in place")
        places = [self.main, *(path for path in self.root.glob("*") if path.is_dir())]
        common = git_common_dir(self.main)
        refs, running = remove_stale_ref_locks(common, ("refs/heads/" + BRANCH_PREFIX, ARCHIVE_NAMESPACE), places)
        if refs:
            messages.append(describe_removed(self.main, refs, common))
        if running:
            messages.append(f"git (pid {', '.join(map(str, running))}) still runs in this repository and may hold "
                            f"the locks on orch-tui's branches or packed-refs in {common}: they are left in place "
                            "(a merge needing them waits for a person)")
        return messages
