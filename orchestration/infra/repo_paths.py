"""Where orch-tui keeps its own files for a repository: under the git directory, so they are
never committed and are shared by every worktree of the repository."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import run_git


def git_common_dir(repo: Path) -> Path:
    """The repository's common git directory (the same for the main tree and all worktrees).

    Asked of git once per directory: it never changes while orch-tui runs, and the lock
    checks, the journal and the ledger all ask for it."""
    try:
        return _common_dir_of(os.path.realpath(repo))
    except _NotARepository:
        raise BadInput(f"{repo} is not a git repository", path=repo,
                       fix="run orch-tui inside a git repository or pass --repo PATH") from None


class _NotARepository(Exception):
    """Raised (never cached) when git finds no repository: one may be created later."""


@functools.lru_cache(maxsize=64)
def _common_dir_of(real_path: str) -> Path:
    result = run_git(real_path, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    if not result.ok:
        raise _NotARepository(real_path)
    return Path(result.out.strip())


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
