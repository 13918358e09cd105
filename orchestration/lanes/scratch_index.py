"""A lane's private index that mirrors its worktree, so `git diff --cached <base>` is its diff.

`stage()` brings the index up to date: in full (`git add -A`, which scans the whole tree:
~50 ms on a 20,000-file repository) or, when the caller knows which paths changed since the
last staging (the file watcher does), only those (`git add -A` limited to them, a few ms).
A limited staging is exact only when every change was reported and the index was staged
before, so it falls back to a full one when the index is new, when the set is large, when a
`.gitignore` changed (which files count may change anywhere) and when git refuses it.

Each git command is timed (`StagingCost`): the benchmark says where a refresh's time goes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from orch_tui.orchestration.infra.git_exec import GitFailed, git_bytes, run_git_with_input

MAX_LIMITED_PATHS = 64
"""More changed paths than this and one scan of the tree is cheaper: git matches every index
entry against every path (measured on 20,000 files: 1 path 17 ms of CPU, 50 paths 33 ms,
100 paths 72 ms, a full scan 57 ms)."""

ASKED_FOR_FULL = "asked for a full refresh"

_IGNORED_HEADER = "The following paths are ignored by one of your .gitignore files:"
_IGNORE_FILE = ".gitignore"


@dataclass(frozen=True)
class GitStep:
    """One git process of a refresh and how long it took."""

    command: str
    seconds: float


@dataclass
class StagingCost:
    """How a refresh staged (in full, and why; or limited to N paths) and its git processes."""

    full_reason: str = ""
    """Empty for a staging limited to the changed paths; else why the whole tree was scanned."""
    limited_paths: int = 0
    steps: list[GitStep] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return bool(self.full_reason)

    def timed(self, command: str, worktree: Path, args: list[str], *, env: dict[str, str],
              paths: Collection[str] = ()) -> bytes:
        """Run `git args` (with `paths` as a NUL-separated pathspec on stdin when given), timed."""
        start = time.perf_counter()
        try:
            return _run(worktree, args, env, paths)
        finally:
            self.steps.append(GitStep(command, time.perf_counter() - start))


def stage(worktree: Path, index: Path, changed: Collection[str] | None, *, fresh: bool,
          cost: StagingCost, why_full: str = ASKED_FOR_FULL) -> None:
    """Stage the worktree into `index` (GIT_INDEX_FILE): everything, or only `changed`.

    `changed`: paths relative to the worktree reported changed since the last staging (None:
    not known, `why_full` says why); `fresh`: the index was just copied from the lane's, so
    never staged here.
    """
    env = {"GIT_INDEX_FILE": str(index)}
    reason = _why_full(changed, fresh, why_full)
    if not reason and changed is not None:
        try:
            _stage_paths(worktree, sorted(changed), env, cost)
            cost.limited_paths = len(changed)
            return
        except GitFailed as error:  # a path git will not take (a nested repository...): scan all
            reason = f"limited staging refused: {error.stderr.splitlines()[-1] if error.stderr else error}"
    cost.full_reason = reason
    cost.timed("add -A", worktree, ["add", "-A", "--ignore-errors"], env=env)


def _why_full(changed: Collection[str] | None, fresh: bool, asked: str) -> str:
    if fresh:
        return "first refresh"
    if changed is None:
        return asked
    if not changed:
        return "no changed path reported"
    if len(changed) > MAX_LIMITED_PATHS:
        return f"{len(changed)} changed paths"
    if any(os.path.basename(path) == _IGNORE_FILE for path in changed):
        return f"a {_IGNORE_FILE} changed"
    return ""


def _stage_paths(worktree: Path, paths: list[str], env: dict[str, str], cost: StagingCost) -> None:
    """`git add -A` limited to `paths`. A path gone from disk is taken out of the index first:
    git refuses a pathspec that matches nothing (a temporary file created and removed)."""
    present = [path for path in paths if os.path.lexists(worktree / path)]
    missing = sorted(set(paths) - set(present))
    if missing:
        cost.timed("rm --cached", worktree, ["rm", "--cached", "-r", "-q", "--ignore-unmatch"],
                   env=env, paths=missing)
    if present:
        try:
            cost.timed("add -A paths", worktree, ["-c", "advice.addIgnoredFile=false", "add", "-A"],
                       env=env, paths=present)
        except GitFailed as error:
            if not _only_ignored_paths(error, present):
                raise


def _only_ignored_paths(error: GitFailed, paths: list[str]) -> bool:
    """Whether git only said some of the paths are ignored (it staged the others): a file the
    project ignores is no part of the diff, as with a full `git add -A`."""
    lines = error.stderr.splitlines()
    # git names the ignored path, or the ignored folder a path is in (`build` for build/out.o).
    named = set(paths) | {parent for path in paths for parent in _parents(path)}
    return (error.status == 1 and bool(lines) and lines[0] == _IGNORED_HEADER
            and all(line in named for line in lines[1:]))


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


def _run(worktree: Path, args: list[str], env: dict[str, str], paths: Collection[str]) -> bytes:
    # Literal pathspecs: a file named `*.py` or `[x]` means that file, not a pattern.
    command = ["--literal-pathspecs", "-c", "core.quotepath=off", *args]
    if not paths:
        return git_bytes(worktree, *command, env=env)
    result = run_git_with_input(worktree, *command, "--pathspec-from-file=-", "--pathspec-file-nul",
                                text="\0".join(paths), env=env)
    if result.status != 0:
        raise GitFailed(tuple(command), result.status, result.err, worktree)
    return result.out.encode("utf-8", "surrogateescape")
