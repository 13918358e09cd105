"""A lane's private index that mirrors its worktree, so `git diff --cached <base>` is its diff.

`ScratchIndex.stage()` brings it up to date in one of two ways:
- in full: the scratch index (a copy of the lane's index at first, then kept between
  refreshes, so git trusts its stat data) takes every change (`git add -A`, which scans the
  whole tree: ~50 ms on a 20,000-file repository);
- limited to the paths the caller knows changed (the file watcher does): a tiny index, new
  each time, takes only those paths (`git add -A -- <paths>`, ~2 ms), and the caller diffs
  against it only those paths (`git diff --cached <base> -- <paths>`) and splices their
  diffs into the last full one (`lanes/file_diffs.py`). The scratch index is not touched:
  git reads and rewrites all of a 20,000-entry index (~2 MB, hashed) even to stage one path.
  The next full staging still catches everything: `git add -A` checks every file's stat
  data against the index, so what changed since it was last staged in full is staged then.
  What the tiny index cannot learn from the tree alone is seeded into it: files tracked in
  the scratch index though the project ignores them (listed at each full staging).
A limited staging is exact only when every change was reported and a full one ran before, so
it falls back to a full one when the index is new, when the set is large, when a
`.gitignore` changed (which files count may change anywhere) and when git refuses it.

Each git command is timed (`StagingCost`): the benchmark says where a refresh's time goes.
"""
from __future__ import annotations

import bisect
import os
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import GitFailed, git_bytes, run_git_with_input
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir

MAX_LIMITED_PATHS = 64
"""More changed paths than this and one scan of the tree is about as cheap: git matches what
it walks against every path (measured on 20,000 files, the tiny index's `add` and `diff`
together: 1 path 5 ms of CPU, 64 paths 10 ms, 256 paths 48 ms; a full scan's `add -A` alone
57 ms). A full scan also keeps the scratch index's stat data fresh for the next one."""

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
              paths: Collection[str] = (), stdin: str = "") -> bytes:
        """Run `git args` (with `paths` as a NUL-separated pathspec on stdin when given, else
        `stdin`), timed."""
        start = time.perf_counter()
        try:
            return _run(worktree, args, env, paths, stdin)
        finally:
            self.steps.append(GitStep(command, time.perf_counter() - start))


@dataclass(frozen=True)
class Staged:
    """Where the worktree was staged: the index to diff, and the paths to limit the diff to
    (None: everything, the index mirrors the whole tree)."""

    index: Path
    paths: tuple[str, ...] | None


class ScratchIndex:
    """A lane's private index, kept in `folder` between refreshes (and the tiny ones beside it)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "index"
        self._tiny = folder / "tiny-index"
        self._tracked_ignored: dict[str, str] = {}
        """`ls-files -s` records (the input of `update-index --index-info`) by path, of the
        files the index tracks though a .gitignore matches them: `add -A` never adds those
        to a new index, so a tiny one is seeded with them."""
        self._tracked_ignored_sorted: list[str] = []
        self._tracked_ignored_read = False
        """Read (one `ls-files`) by the first limited refresh after a full one, not by every
        full scan: a lane's last refresh is a full one and nothing would use its answer."""

    def stage(self, worktree: Path, changed: Collection[str] | None, *, cost: StagingCost,
              why_full: str = ASKED_FOR_FULL) -> Staged:
        """Stage the worktree: everything into the scratch index, or only `changed` into a
        tiny one.

        `changed`: paths relative to the worktree reported changed since the last staging (None:
        not known, `why_full` says why).
        """
        fresh = not self.path.is_file()
        if fresh:
            source = _index_path(worktree)
            if source.is_file():
                shutil.copyfile(source, self.path)  # its stat cache makes `add -A` cheap
        reason = _why_full(changed, fresh, why_full)
        if not reason and changed is not None:
            paths = tuple(sorted(changed))
            try:
                self._stage_tiny(worktree, paths, cost)
                cost.limited_paths = len(paths)
                return Staged(self._tiny, paths)
            except GitFailed as error:  # a path git will not take alone: scan all
                reason = f"limited staging refused: {error.stderr.splitlines()[-1] if error.stderr else error}"
        cost.full_reason = reason
        env = {"GIT_INDEX_FILE": str(self.path)}
        cost.timed("add -A", worktree, ["add", "-A", "--ignore-errors"], env=env)
        self._tracked_ignored_read = False
        return Staged(self.path, None)

    def _read_tracked_ignored(self, worktree: Path, cost: StagingCost) -> None:
        """The tracked ignored files of the scratch index (as the last full scan left it)."""
        self._tracked_ignored = _records_by_path(cost.timed("ls-files ignored", worktree, [
            "ls-files", "-z", "-s", "-c", "-i", "--exclude-standard"], env={"GIT_INDEX_FILE": str(self.path)}))
        self._tracked_ignored_sorted = sorted(self._tracked_ignored)
        self._tracked_ignored_read = True

    def _tracked_ignored_under(self, paths: list[str]) -> list[str]:
        """The tracked ignored files at or under `paths` (a bisection each: a project may
        track thousands of them)."""
        names, found = self._tracked_ignored_sorted, []
        for path in paths:
            # Names starting with `path` sort together, from where `path` itself would be.
            position = bisect.bisect_left(names, path)
            while position < len(names) and names[position].startswith(path):
                if names[position] == path or names[position].startswith(path + "/"):
                    found.append(names[position])
                position += 1
        return found

    def _stage_tiny(self, worktree: Path, paths: tuple[str, ...], cost: StagingCost) -> None:
        """A new index holding only `paths` as they are on disk. A path gone from disk is left
        out (git refuses a pathspec that matches nothing: a temporary file created and removed)."""
        self._tiny.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": str(self._tiny)}
        present = [path for path in paths if os.path.lexists(worktree / path)]
        if not self._tracked_ignored_read:
            self._read_tracked_ignored(worktree, cost)
        seeds = [self._tracked_ignored[tracked] for tracked in self._tracked_ignored_under(present)
                 if os.path.lexists(worktree / tracked)]
        if seeds:
            cost.timed("update-index seed", worktree, ["update-index", "-z", "--index-info"],
                       env=env, stdin="".join(f"{record}\0" for record in seeds))
        if present:
            try:
                cost.timed("add -A paths", worktree, ["-c", "advice.addIgnoredFile=false", "add", "-A"],
                           env=env, paths=present)
            except GitFailed as error:
                if not _only_ignored_paths(error, present):
                    raise


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


def _index_path(worktree: Path) -> Path:
    """The lane's index file, read from its `.git` link (a git process only when that fails)."""
    try:
        return worktree_git_dir(worktree) / "index"
    except (OrchError, OSError):
        text = git_bytes(worktree, "rev-parse", "--git-path", "index").decode().strip()
        path = Path(text)
        return path if path.is_absolute() else worktree / path


def _records_by_path(listing: bytes) -> dict[str, str]:
    """`git ls-files -z -s` output (`<mode> <id> <stage>` TAB `<path>` NUL each) by path."""
    records = listing.decode("utf-8", "surrogateescape").split("\0")
    return {record.partition("\t")[2]: record for record in records if record}


def _run(worktree: Path, args: list[str], env: dict[str, str], paths: Collection[str],
         stdin: str = "") -> bytes:
    # Literal pathspecs: a file named `*.py` or `[x]` means that file, not a pattern.
    command = ["--literal-pathspecs", "-c", "core.quotepath=off", *args]
    if paths:
        command += ["--pathspec-from-file=-", "--pathspec-file-nul"]
        stdin = "\0".join(paths)
    if not stdin:
        return git_bytes(worktree, *command, env=env)
    result = run_git_with_input(worktree, *command, text=stdin, env=env)
    if result.status != 0:
        raise GitFailed(tuple(command), result.status, result.err, worktree)
    return result.out.encode("utf-8", "surrogateescape")
