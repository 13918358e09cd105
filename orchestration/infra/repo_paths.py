"""Where orch-tui keeps its own files for a repository: under the git directory, so they are
never committed and are shared by every worktree of the repository."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import run_git


def git_common_dir(repo: Path) -> Path:
    """The repository's common git directory (the same for the main tree and all worktrees).

    Asked of git once per directory and `.git` link: the journal, the lock, the merge queue
    and every lane ask again and again, and the answer only changes when `.git` does."""
    try:
        return _common_dir(os.path.realpath(repo), _dot_git_signature(Path(repo)))
    except _NotARepository:  # never cached: an exception is not remembered
        raise BadInput(f"{repo} is not a git repository", path=repo,
                       fix="run orch-tui inside a git repository or pass --repo PATH") from None


class _NotARepository(Exception):
    """Raised (never cached) when git finds no repository: one may be created later."""


def _dot_git_signature(repo: Path) -> str:
    """What says which repository `repo` belongs to: the text of its `.git` link, `dir` for a
    `.git` directory, '' when there is none here (the repository is further up)."""
    dot_git = repo / ".git"
    try:
        return dot_git.read_text(encoding="utf-8", errors="replace") if dot_git.is_file() else \
            "dir" if dot_git.is_dir() else ""
    except OSError:
        return ""


@functools.lru_cache(maxsize=128)
def _common_dir(repo: str, _signature: str) -> Path:
    result = run_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    if not result.ok:
        raise _NotARepository(repo)
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


def checked_out_ref(worktree: Path) -> str | None:
    """The ref `worktree`'s HEAD names (`refs/heads/main`), None when HEAD is detached.

    Read from the HEAD file (gitrepository-layout: `ref: <name>` or a commit id) rather than
    by starting git: the merge queue asks after every merge."""
    head = (worktree_git_dir(worktree) / "HEAD").read_text(encoding="utf-8").strip()
    return head.removeprefix("ref:").strip() if head.startswith("ref:") else None


_COMMIT_ID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def head_commit(worktree: Path) -> str | None:
    """The commit `worktree`'s HEAD is at, read from its files (a detached HEAD, or a branch
    git keeps as a loose ref file, as it does right after a commit moved it); None when only
    git can say (a packed or reftable ref): then ask `git rev-parse HEAD`."""
    try:
        head = (worktree_git_dir(worktree) / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref:"):
            ref = head.removeprefix("ref:").strip()
            if not ref.startswith("refs/heads/") or ".." in ref:
                return None
            head = (git_common_dir(worktree) / ref).read_text(encoding="utf-8").strip()
    except (OSError, OrchError):
        return None
    return head if _COMMIT_ID.fullmatch(head) else None
