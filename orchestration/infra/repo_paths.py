"""Where orch-tui keeps its own files for a repository: under the git directory, so they are
never committed and are shared by every worktree of the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orch_tui.orchestration.errors import BadInput, OrchError


def git_common_dir(repo: Path) -> Path:
    """The repository's common git directory (the same for the main tree and all worktrees)."""
    result = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BadInput(f"{repo} is not a git repository", path=repo,
                       fix="run orch-tui inside a git repository or pass --repo PATH")
    return Path(result.stdout.strip())


def state_dir(repo: Path) -> Path:
    """`<git dir>/orch-tui/`, created on first use."""
    directory = git_common_dir(repo) / "orch-tui"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def worktree_git_dir(worktree: Path) -> Path:
    """The private git directory of a worktree (where MERGE_HEAD and friends live)."""
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return dot_git
    text = dot_git.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        raise OrchError(f"{dot_git} is not a git worktree link")
    target = Path(text.removeprefix("gitdir:").strip())
    return target if target.is_absolute() else (worktree / target).resolve()
