"""Lock files another git process holds in a checkout orch-tui is about to update.

git takes `index.lock` (the index), `HEAD.lock` (the checkout's HEAD) and
`refs/heads/<branch>.lock` (a branch) while it works, and a crashed git leaves them behind.
Updating a checkout while one is held is worse than failing: `git merge --ff-only` can rewrite
the index and the files and then fail to move the branch, leaving the person's checkout
half-updated. So orch-tui looks first, never removes a lock in the person's checkout (only
the person can know no git process is running), and says which file it is and what to do.
"""

from __future__ import annotations

from pathlib import Path

from orch_tui.orchestration.infra.repo_paths import git_common_dir
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir


def held_locks(checkout: Path, branch: str) -> list[Path]:
    """The lock files present now that would make updating `branch` in `checkout` unsafe."""
    own = worktree_git_dir(checkout)
    candidates = [own / "index.lock", own / "HEAD.lock",
                  git_common_dir(checkout) / "refs" / "heads" / f"{branch}.lock"]
    return [path for path in candidates if path.exists()]


def lock_refusal(checkout: Path, branch: str) -> str | None:
    """Why `branch` cannot be moved in `checkout` now (a held lock), or None."""
    locks = held_locks(checkout, branch)
    if not locks:
        return None
    shown = ", ".join(str(path) for path in locks)
    return (f"another git process holds {shown} in {checkout}; wait for it to finish, or, if no "
            f"git process is running there (one crashed), remove {'them' if len(locks) > 1 else 'it'} "
            f"yourself.")
