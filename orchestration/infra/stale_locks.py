"""Git lock files a crash leaves behind, and who may remove them.

git guards a worktree's index and HEAD with `index.lock` / `HEAD.lock` while it writes them
and removes them when it ends, except when it is killed: a SIGKILL of orch-tui's process
group kills the git it was running and leaves the lock, and every later git command in
that worktree fails with "Another git process seems to be running".

In orch-tui's own worktrees (the lanes and the merge worktree) such a lock is stale as soon
as no git process that could hold it works there: orch-tui holds the one-orchestrator lock,
so no other orchestrator runs git in them, and a git that started after the lock was last
written (an agent's, the person's) cannot have taken it. Those locks are removed, and the
caller says so. In the person's own checkout a lock is never removed on a guess: it may be
their git at work.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from orch_tui.orchestration.infra.processes import git_processes_in, process_started_at

WORKTREE_LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "MERGE_HEAD.lock", "AUTO_MERGE.lock",
                  "FETCH_HEAD.lock", "MERGE_MSG.lock")
"""Locks git takes in a worktree's private git directory."""
GIT_EXIT_WAIT_SECONDS = 3.0
"""A git command of a killed orchestrator may still be finishing: it is given this long."""


def lock_files(git_dir: Path) -> list[Path]:
    """The lock files present in a worktree's private git directory."""
    return [git_dir / name for name in WORKTREE_LOCKS if (git_dir / name).exists()]


STARTED_SLACK_SECONDS = 1.5
"""Process start times are known to within a second: a git counts as a possible holder of a
lock unless it started this much after the lock was last written."""


def wait_for_git_to_end(worktree: Path, seconds: float = GIT_EXIT_WAIT_SECONDS,
                        locks: Sequence[Path] = ()) -> list[int]:
    """Wait (briefly) until no git process works in `worktree` (with `locks`: none that could
    hold one of them); the pids still there."""
    deadline = time.monotonic() + seconds
    while (running := _possible_holders(git_processes_in(worktree), locks)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def _possible_holders(pids: list[int], locks: Sequence[Path]) -> list[int]:
    """The processes of `pids` that could hold one of `locks` (all of them without locks). A
    process that started after a lock was last written cannot have taken it: an agent's git,
    or the person's, running at a restart does not keep a killed git's locks in place."""
    if not locks or not pids:
        return pids
    changed = []
    for lock in locks:
        try:
            changed.append(lock.stat().st_mtime)
        except FileNotFoundError:  # its git ended and removed it
            continue
    if not changed:
        return []
    newest = max(changed)
    return [pid for pid in pids
            if (started := process_started_at(pid)) is None or started <= newest + STARTED_SLACK_SECONDS]


def remove_stale_locks(worktree: Path, git_dir: Path) -> tuple[list[Path], list[int]]:
    """Remove the lock files in one of orch-tui's OWN worktrees once no git works there.

    Returns (removed locks, pids of git processes still running there: then nothing is
    removed). Never call this for the person's checkout.
    """
    locks = lock_files(git_dir)
    if not locks:
        return [], []
    running = wait_for_git_to_end(worktree, locks=locks)
    if running:
        return [], running
    removed = []
    for lock in locks:
        try:
            os.unlink(lock)
        except FileNotFoundError:  # its git ended meanwhile and removed it itself
            continue
        removed.append(lock)
    return removed, []


def describe_removed(worktree: Path, removed: list[Path], git_dir: Path | None = None) -> str:
    """One line for the log; locks are named relative to `git_dir` when given."""
    names = ", ".join(path.relative_to(git_dir).as_posix() if git_dir else path.name for path in removed)
    return (f"removed stale git lock(s) {names} in {worktree} (left by a git command that was "
            "killed with the previous orchestrator; no git process working there started before them)")


def remove_stale_ref_locks(common_dir: Path, namespaces: tuple[str, ...],
                           busy_places: list[Path]) -> tuple[list[Path], list[int]]:
    """Remove `<ref>.lock` files under orch-tui's own ref namespaces (`refs/heads/orch/`,
    `refs/orch-archive/`), and `packed-refs.lock`, once no git that could hold them works in
    `busy_places` (every worktree of the repository, the person's checkout included).
    Returns (the removed, the pids of git processes that may hold them: then none is removed).

    Only orch-tui and the agents in its lanes write those refs, and both are gone when this
    runs at start (the one-orchestrator lock is held, leftover agents are stopped).
    `packed-refs.lock` is shared: git holds it only while a command runs (deleting a ref
    takes it, so orch-tui's own branch deletions leave it when killed), so with no git
    process anywhere in the repository it is stale whoever took it.
    """
    found = [lock for namespace in namespaces if (common_dir / namespace).is_dir()
             for lock in (common_dir / namespace).rglob("*.lock") if lock.is_file()]
    if (common_dir / "packed-refs.lock").is_file():
        found.append(common_dir / "packed-refs.lock")
    if not found:
        return [], []
    for place in busy_places:
        if place.exists() and (running := wait_for_git_to_end(place, locks=found)):
            return [], running
    removed = []
    for lock in found:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            continue
        removed.append(lock)
    return removed, []

