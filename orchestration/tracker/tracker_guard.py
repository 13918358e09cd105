"""The orchestrator is the only writer of `.beads/` during a run.

Agents work in worktrees that hold a copy of the tracker and sometimes edit it (running
`bd close` themselves, say). Merging those edits blindly would fight the orchestrator's own
writes, so the task branch gets one more commit that restores `.beads/` to the base: the
agent's tracker edits are dropped, and the commit says so. Their code changes are untouched.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from orch_tui.orchestration.infra.git_exec import run_git, run_git_with_input
from orch_tui.orchestration.infra.git_commits import run_commit_git

TRACKER_DIR = ".beads"


def _git(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args).out


def drop_tracker_changes(repo: Path, branch: str, base: str) -> list[str]:
    """Restore `.beads/` on `branch` to `base` with a commit; the paths that were dropped.

    Works on the branch ref alone (a temporary index, no checkout), so it needs no worktree.
    """
    changed = [line for line in _git(repo, "diff", "--name-only", base, branch, "--", TRACKER_DIR).splitlines() if line]
    if not changed:
        return []
    with _temporary_index() as env:
        run_git(repo, "read-tree", branch, env=env)
        # --force: rm compares the index with the main checkout's files, which orch-tui itself
        # has changed (the tracker), and refuses; only the private index is touched here.
        run_git(repo, "rm", "-r", "--cached", "--force", "--quiet", "--ignore-unmatch", "--", TRACKER_DIR, env=env)
        base_entries = _git(repo, "ls-tree", "-r", "-z", base, "--", TRACKER_DIR)
        if base_entries:
            run_git_with_input(repo, "update-index", "-z", "--index-info", text=_index_info(base_entries),
                               env=env, check=True)
        tree = run_git(repo, "write-tree", env=env).out.strip()
    message = ("orch-tui: drop the agent's changes to .beads/\n\n"
               "Only the orchestrator writes the tracker during a run; dropped: " + ", ".join(changed))
    commit = run_commit_git(repo, "commit-tree", tree, "-p", branch, "-m", message).out.strip()
    _git(repo, "update-ref", f"refs/heads/{branch}", commit)
    return changed


def _index_info(ls_tree_z: str) -> str:
    # ls-tree prints "<mode> <type> <object>\t<path>"; update-index wants "<mode> <object>\t<path>".
    entries = []
    for entry in ls_tree_z.split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            mode, _, obj = meta.split(" ")
            entries.append(f"{mode} {obj}\t{path}")
    return "\0".join(entries) + "\0"


@contextmanager
def _temporary_index() -> Iterator[dict[str, str]]:
    """An environment whose GIT_INDEX_FILE is a fresh, private index (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="orch-index-") as directory:
        yield {"GIT_INDEX_FILE": str(Path(directory) / "index")}
