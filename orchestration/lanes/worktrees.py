"""The pool of lane worktrees: created once, reused across batches, never losing work.

Layout (the default root is outside the main working tree, beside it)::

    <repo parent>/.<repo name>.orch-lanes/     default root; Config.worktree_dir overrides it
        lane-1/ ... lane-N/                     one worktree per lane (N = batch size)
        merge/                                  the merge queue's worktree (see merging/merge_worktree.py)

Giving a lane a task moves it to a fresh branch `orch/<task-id>` at the base commit with no
tracked change or untracked file left, while ignored files stay, so build caches and virtual
environments survive reuse. Untracked files are not cleaned away but committed: before a
lane is ever moved, any uncommitted work in it is committed to the branch it is on, with a
message that says so; a lane in the middle of
a merge, rebase or cherry-pick is never touched and is reported as needing attention.
Lane state lives in git itself (which branch each lane has checked out), so a restarted
orchestrator sees the same pool.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import git

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import run_git, run_git_with_input
from orch_tui.orchestration.infra.git_commits import run_commit_git
from orch_tui.orchestration.infra.stale_locks import describe_removed, remove_stale_locks
from orch_tui.orchestration.infra.repo_paths import head_commit, worktree_git_dir
from orch_tui.orchestration.tracker.task_refs import task_branch, task_id_from_branch

RESCUE_NAMESPACE = "orch-rescue/"
"""Uncommitted work found on a detached lane is committed to `orch-rescue/lane-<n>-<time>`."""
MERGE_DIR_NAME = "merge"
_IN_PROGRESS = {
    "MERGE_HEAD": "a merge", "rebase-merge": "a rebase", "rebase-apply": "a rebase or am",
    "CHERRY_PICK_HEAD": "a cherry-pick", "REVERT_HEAD": "a revert", "BISECT_LOG": "a bisect",
}


class LaneNeedsAttention(OrchError):
    """A lane holds something orch-tui must not decide about on its own."""


@dataclass
class WorktreeInfo:
    """One entry of `git worktree list --porcelain`."""

    path: str
    head: str | None
    branch: str | None
    """Full ref (`refs/heads/...`) or None when detached."""
    bare: bool = False
    locked: bool = False
    prunable: bool = False


@dataclass
class Lane:
    """A lane worktree as git sees it now."""

    index: int
    path: str
    exists: bool
    head: str | None = None
    branch: str | None = None
    """Short branch name (`orch/bd-1`), None when detached or missing."""
    task_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LaneProblem:
    """Something `recover()` found and did (or refused to do) about one lane."""

    lane_index: int
    path: str
    kind: str
    """`pruned` (directory was gone; recreated), `committed` (uncommitted work saved to
    `branch` as `commit`), `unlocked` (stale git locks removed), or `needs_attention`
    (left untouched; `message` says why)."""
    message: str
    branch: str | None = None
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_repo(repo: git.Repo | Path | str) -> git.Repo:
    return repo if isinstance(repo, git.Repo) else git.Repo(str(repo), search_parent_directories=True)


def same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def list_worktrees(cwd: Path | str) -> list[WorktreeInfo]:
    """Every worktree of the repository at `cwd`, the main one first."""
    entries: list[WorktreeInfo] = []
    for block in run_git(cwd, "worktree", "list", "--porcelain", "-z").out.split("\0\0"):
        fields = [item for item in block.split("\0") if item]
        if not fields:
            continue
        info = WorktreeInfo(path="", head=None, branch=None)
        for item in fields:
            key, _, value = item.partition(" ")
            if key == "worktree":
                info.path = value
            elif key == "HEAD":
                info.head = value
            elif key == "branch":
                info.branch = value
            elif key in ("bare", "locked", "prunable"):
                setattr(info, key, True)
        entries.append(info)
    return entries


def half_created(info: WorktreeInfo) -> bool:
    """A `git worktree add` that was killed: git locks the new worktree ("initializing")
    until its checkout is complete, so nothing but git has ever written there."""
    if info.bare:
        return False
    if not (info.head or "").strip("0"):
        return True
    if not (info.locked and Path(info.path, ".git").is_file()):
        return False
    reason = worktree_git_dir(Path(info.path)) / "locked"
    return reason.is_file() and reason.read_text(encoding="utf-8").strip() == "initializing"


def remove_half_created(main: Path, path: Path) -> None:
    """Remove a half-created worktree of orch-tui's (see `half_created`) and its entry."""
    run_git(main, "worktree", "unlock", str(path), check=False)
    run_git(main, "worktree", "remove", "--force", "--force", str(path), check=False)
    if path.exists():
        shutil.rmtree(path)
    run_git(main, "worktree", "prune")


def main_worktree(repo: git.Repo | Path | str) -> Path:
    """The main working tree, even when `repo` points into a linked worktree."""
    repo = open_repo(repo)
    first = list_worktrees(Path(repo.git_dir))[0]
    if first.bare:
        raise BadInput(f"{first.path} is a bare repository: orch-tui needs a working tree",
                       path=Path(first.path),
                       fix="run orch-tui in a clone with a working tree (`git clone` it, or "
                           "`git worktree add` one)")
    return Path(first.path)


def default_pool_root(main: Path) -> Path:
    """`<parent>/.<name>.orch-lanes`: beside the repository, never inside its working tree."""
    main = Path(os.path.realpath(main))
    return main.parent / f".{main.name}.orch-lanes"


def pool_root(repo: git.Repo | Path | str, configured: str | None = None) -> Path:
    """The pool directory: `configured` (Config.worktree_dir, relative to the main worktree)
    or the default. A directory inside the main working tree must be git-ignored there, or
    the lanes would show up (and could be committed) as nested repositories."""
    main = Path(os.path.realpath(main_worktree(repo)))
    if configured is None:
        return default_pool_root(main)
    root = Path(os.path.realpath(main / Path(configured).expanduser()))
    if root == main or (root.is_relative_to(main) and
                        run_git(main, "check-ignore", "-q", "--no-index", f"{root.relative_to(main)}/",
                                check=False).status != 0):
        raise BadInput(f"worktree_dir {configured!r} is inside the working tree {main} and not ignored by git",
                       fix="choose a directory outside the repository (the default is "
                           f"{default_pool_root(main)}), or add it to .gitignore")
    return root


def operation_in_progress(worktree: Path) -> str | None:
    """`a merge`, `a rebase`... when one is under way in `worktree`, else None."""
    git_dir = worktree_git_dir(worktree)
    for name, what in _IN_PROGRESS.items():
        if (git_dir / name).exists():
            return what
    return None


def status_entries(worktree: Path, *, untracked_cache: bool = False) -> list[str]:
    """`git status --porcelain` entries (tracked changes and untracked, non-ignored files).

    `untracked_cache` (for orch-tui's own worktrees only: it is stored in that worktree's
    index) spares a full directory scan on large trees."""
    return _status(worktree, untracked_cache, with_branch=False)[0]


def status_and_branch(worktree: Path, *, untracked_cache: bool = False) -> tuple[list[str], str | None]:
    """`status_entries` and the checked-out branch (None when detached), in one git call."""
    return _status(worktree, untracked_cache, with_branch=True)


def _status(worktree: Path, untracked_cache: bool, *, with_branch: bool) -> tuple[list[str], str | None]:
    # Without the untracked cache this may be the person's checkout: no index refresh
    # there, so a kill during this status never leaves an index.lock behind in it.
    options = ("-c", "core.untrackedCache=true") if untracked_cache else ("--no-optional-locks",)
    out = run_git(worktree, *options, "status", "--porcelain=v1", "-z", "--no-renames",
                  "--ignore-submodules=dirty", *(("--branch",) if with_branch else ())).out
    entries, fields, i = [], out.split("\0"), 0
    branch = None
    if with_branch and fields and fields[0].startswith("## "):
        branch = _branch_from_header(fields[0][3:])
        i = 1
    while i < len(fields):
        item = fields[i]
        if item:
            entries.append(item)
            if item[0] in "RC":  # a rename carries its source path in the next field
                i += 1
        i += 1
    return entries, branch


def _branch_from_header(header: str) -> str | None:
    """`main...origin/main [ahead 1]`, `No commits yet on main`, `HEAD (no branch)`."""
    if header.startswith("HEAD (no branch)"):
        return None
    header = header.removeprefix("No commits yet on ").removeprefix("Initial commit on ")
    return header.split("...", 1)[0].split(" ", 1)[0] or None


def is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    return run_git(cwd, "merge-base", "--is-ancestor", older, newer, check=False).status == 0


def merged_by(cwd: Path, commit: str, target: str) -> str | None:
    """The commit on `target`'s first-parent line that brought `commit` in: the merge
    commit, or `commit` itself when the target fast-forwarded to it. None: not merged."""
    if not commit or not is_ancestor(cwd, commit, target):
        return None
    later = run_git(cwd, "rev-list", "--first-parent", "--ancestry-path", f"{commit}..{target}").out.split()
    if not later:
        return commit
    oldest = later[-1]
    first_parent = run_git(cwd, "rev-parse", "--verify", "--quiet", f"{oldest}^1", check=False).out.strip()
    return commit if first_parent == commit else oldest


def resolve_commit(cwd: Path, ref: str) -> str:
    result = run_git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if not result.ok:
        raise OrchError(f"{ref!r} does not name a commit in {cwd}")
    return result.out.strip()


def resolve_commit_and_branch(cwd: Path, ref: str, branch: str) -> tuple[str, str | None]:
    """`resolve_commit(cwd, ref)` and `branch_tip(cwd, branch)` from one git process."""
    if "\n" not in ref and "\n" not in branch:
        answer = run_git_with_input(cwd, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                                    text=f"{ref}^{{commit}}\nrefs/heads/{branch}\n")
        lines = answer.out.splitlines()
        if answer.ok and len(lines) == 2:
            commit, _, kind = lines[0].partition(" ")
            tip, _, tip_kind = lines[1].partition(" ")
            if kind == "commit":
                return commit, tip if tip_kind == "commit" else None
    return resolve_commit(cwd, ref), branch_tip(cwd, branch)  # says exactly what is wrong


def branch_tip(cwd: Path, branch: str) -> str | None:
    result = run_git(cwd, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return result.out.strip() if result.ok else None


def save_uncommitted(worktree: Path, message: str, rescue_name: str) -> tuple[str | None, str | None]:
    """Commit every uncommitted change in orch-tui's own `worktree` (ignored files excepted).

    Returns (branch, commit), or (None, None) when there was nothing to save. A detached
    worktree first gets a branch `orch-rescue/<rescue_name>` so the commit is reachable.
    Hooks and signing are skipped on purpose: this commit exists so nothing is lost.
    Raises LaneNeedsAttention when a merge/rebase/... is under way or files are conflicted.
    """
    busy = operation_in_progress(worktree)
    if busy:
        raise LaneNeedsAttention(f"{worktree} is in the middle of {busy}; finish or abort it there "
                                 "(orch-tui never touches it)")
    entries, branch = status_and_branch(worktree, untracked_cache=True)
    if not entries:
        return None, None
    if any(entry[:2] in ("DD", "AU", "UD", "UA", "DU", "AA", "UU") for entry in entries):
        raise LaneNeedsAttention(f"{worktree} has files with unresolved conflicts; resolve them there")
    if branch is None:
        branch = RESCUE_NAMESPACE + rescue_name
        run_git(worktree, "switch", "--quiet", "-c", branch)
    run_git(worktree, "add", "--all")
    run_commit_git(worktree, "commit", "--quiet", "--no-verify", "-m", message)
    return branch, head_commit(worktree) or run_git(worktree, "rev-parse", "HEAD").out.strip()


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


class WorktreePool:
    """`size` lane worktrees under `root` (default: see `default_pool_root`).

    All methods block (they run git); the engine calls them through asyncio.to_thread, one
    call per lane at a time. Lanes are numbered from 1.
    """

    @classmethod
    def from_config(cls, repo: git.Repo | Path | str, config: Config) -> WorktreePool:
        """The pool for `config`: batch_size lanes under worktree_dir (or the default)."""
        return cls(repo, config.batch_size, pool_root(repo, config.worktree_dir))

    def __init__(self, repo: git.Repo | Path | str, size: int, root: Path | str | None = None) -> None:
        self.repo = open_repo(repo)
        self.main = main_worktree(self.repo)
        self.size = size
        self.root = Path(os.path.realpath(root)) if root is not None else default_pool_root(self.main)

    # ----- reading the pool -------------------------------------------------------------
    def lane_path(self, lane_index: int) -> Path:
        if not 1 <= lane_index <= self.size:
            raise OrchError(f"lane {lane_index} does not exist (the pool has lanes 1..{self.size})")
        return self.root / f"lane-{lane_index}"

    @property
    def lanes(self) -> list[Lane]:
        registered = list_worktrees(self.main)
        return [self._describe(index, registered) for index in range(1, self.size + 1)]

    def lane(self, lane_index: int) -> Lane:
        return self._describe(lane_index, list_worktrees(self.main))

    def _describe(self, index: int, registered: list[WorktreeInfo]) -> Lane:
        path = self.lane_path(index)
        info = next((w for w in registered if same_path(w.path, path)), None)
        if info is None or not path.exists():
            return Lane(index, str(path), exists=False)
        branch = info.branch.removeprefix("refs/heads/") if info.branch else None
        return Lane(index, str(path), True, info.head, branch,
                    task_id_from_branch(branch) if branch else None)

    # ----- creating and repairing ---------------------------------------------------------
    def ensure(self) -> list[Lane]:
        """Create every missing lane (detached at HEAD of the main worktree); keep the rest."""
        self._prune_if_lane_vanished()
        registered = list_worktrees(self.main)
        self.root.mkdir(parents=True, exist_ok=True)
        for index in range(1, self.size + 1):
            path = self.lane_path(index)
            if any(same_path(w.path, path) for w in registered):
                continue
            if path.exists():
                raise LaneNeedsAttention(f"{path} exists but is not a worktree of {self.main}; "
                                         "move it away or choose another worktree_dir")
            self._create(path)
        return self.lanes

    def _create(self, path: Path) -> None:
        if run_git(self.main, "rev-parse", "--verify", "--quiet", "HEAD", check=False).status != 0:
            raise BadInput(f"{self.main} has no commit yet: lanes branch from a commit",
                           path=self.main, fix="make a first commit (git add -A && git commit)")
        run_git(self.main, "worktree", "add", "--quiet", "--detach", str(path), "HEAD")

    def _prune_if_lane_vanished(self) -> list[WorktreeInfo]:
        """`git worktree prune` when a lane's directory was deleted by hand; returns those lanes."""
        vanished = [w for w in list_worktrees(self.main)
                    if not Path(w.path).exists() and any(same_path(w.path, self.lane_path(i))
                                                         for i in range(1, self.size + 1))]
        if vanished:
            run_git(self.main, "worktree", "prune")
        return vanished

    def recover(self) -> list[LaneProblem]:
        """Repair the pool after a crash or a person's meddling; never discards work.

        Vanished lane directories are pruned and recreated (their branches stay), and so are
        lanes whose creation was killed. Stale git locks a killed git left in a lane are
        removed (stale_locks.py). A lane with uncommitted work gets it committed to its
        branch ("orch-tui: recovered ..."). A lane mid-merge/rebase, or a directory that is
        not our worktree, is left alone and reported.
        """
        problems: list[LaneProblem] = []
        for info in self._prune_if_lane_vanished():
            index = next(i for i in range(1, self.size + 1) if same_path(info.path, self.lane_path(i)))
            branch = info.branch.removeprefix("refs/heads/") if info.branch else None
            kept = f"; branch {branch} is kept" if branch else ""
            problems.append(LaneProblem(index, str(self.lane_path(index)), "pruned",
                                        f"lane {index} directory was gone: pruned and recreated{kept}", branch))
        problems += self._remove_half_created_lanes()
        registered = list_worktrees(self.main)
        for index in range(1, self.size + 1):
            path = self.lane_path(index)
            known = any(same_path(w.path, path) for w in registered)
            if path.exists() and not known:
                problems.append(LaneProblem(index, str(path), "needs_attention",
                                            f"{path} exists but is not a worktree of {self.main}; left untouched"))
            elif known:
                unlocked = self._unlock(index, path)
                if unlocked:
                    problems.append(unlocked)
                    if unlocked.kind == "needs_attention":
                        continue
                problem = self._save_at_recovery(index, path)
                if problem:
                    problems.append(problem)
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                self._create(path)
        return problems

    def _remove_half_created_lanes(self) -> list[LaneProblem]:
        """Lanes whose `git worktree add` was killed: removed (recreated after)."""
        problems = []
        for info in list_worktrees(self.main):
            index = next((i for i in range(1, self.size + 1) if same_path(info.path, self.lane_path(i))), None)
            if index is not None and half_created(info):
                remove_half_created(self.main, self.lane_path(index))
                problems.append(LaneProblem(index, info.path, "pruned", f"lane {index} was being created when "
                                            "the previous orchestrator stopped: removed and created again"))
        return problems

    def _unlock(self, index: int, path: Path) -> LaneProblem | None:
        """Remove the git locks a killed git left in the lane (none when git still works there)."""
        removed, running = remove_stale_locks(path, worktree_git_dir(path))
        if running:
            return LaneProblem(index, str(path), "needs_attention",
                               f"git (pid {', '.join(map(str, running))}) is still running in {path}; "
                               "left untouched: run orch-tui again once it has ended")
        if removed:
            return LaneProblem(index, str(path), "unlocked", describe_removed(path, removed))
        return None

    def _save_at_recovery(self, index: int, path: Path) -> LaneProblem | None:
        lane = self.lane(index)
        what = f" (task {lane.task_id})" if lane.task_id else ""
        message = (f"orch-tui: recovered uncommitted work in lane {index}{what}\n\n"
                   "Found uncommitted when orch-tui restarted; committed as-is so nothing is lost.")
        try:
            branch, commit = save_uncommitted(path, message, f"lane-{index}-{_stamp()}")
        except LaneNeedsAttention as problem:
            return LaneProblem(index, str(path), "needs_attention", str(problem), lane.branch)
        if commit is None:
            return None
        return LaneProblem(index, str(path), "committed",
                           f"lane {index}: uncommitted work committed to {branch} as {commit[:12]}", branch, commit)

    # ----- giving out and taking back lanes ----------------------------------------------
    def assign(self, lane_index: int, task_id: str, base_ref: str, *, keep_existing: bool = False) -> Lane:
        """Put `task_id` on lane `lane_index`: branch `orch/<task-id>` at `base_ref`, cleaned.

        Uncommitted work already in the lane is committed to the branch it was on first. An
        existing `orch/<task-id>` with commits not in the base is refused (it holds someone's
        work) unless `keep_existing`, which checks that branch out as it is (resuming a task;
        a branch with nothing the base lacks starts afresh from the base either way), taking
        it from another lane of the pool where it was left checked out.
        """
        branch = task_branch(task_id)
        path = self.lane_path(lane_index)
        registered = list_worktrees(self.main)
        lane = self._describe(lane_index, registered)
        if not lane.exists:
            raise OrchError(f"lane {lane_index} ({path}) is missing: call ensure() or recover() first")
        base, existing = resolve_commit_and_branch(self.main, base_ref, branch)
        _, saved = save_uncommitted(path, f"orch-tui: save uncommitted work found in lane {lane_index} "
                                    "before reuse", f"lane-{lane_index}-{_stamp()}")
        moved = keep_existing and self._take_branch_from_other_lanes(branch, path, registered)
        self._check_branch_free(branch, path, registered)
        if saved or moved:  # a commit made just now may have moved the branch
            existing = branch_tip(self.main, branch)
        kept_work = existing is not None and not is_ancestor(self.main, existing, base)
        if kept_work and not keep_existing:
            raise OrchError(f"branch {branch} already exists with commits not in {base_ref}; "
                            "merge, archive or delete it first, or resume it (keep_existing)")
        if kept_work:
            if lane.branch != branch:
                run_git(path, "switch", "--quiet", branch)
            head = existing
        else:  # new, or nothing on it that the base lacks: start afresh from the base
            run_git(path, "switch", "--quiet", "--no-track", "-C", branch, base)
            head = base
        # No `git clean` pass is needed: every tracked change and untracked file was committed
        # to the previous branch above (saved, never deleted), so the switch leaves the lane
        # clean; ignored files (caches, virtual environments) are never touched.
        return Lane(lane_index, str(path), True, head, branch, task_id)

    def _take_branch_from_other_lanes(self, branch: str, lane_path: Path, registered: list[WorktreeInfo]) -> bool:
        """A task retried in another lane finds its branch still checked out where it last ran
        (that lane's finish failed half-way): its leftovers are committed there and the lane
        is detached, so the branch, with all its work, moves to the new lane. True when it did."""
        taken = False
        for index in range(1, self.size + 1):
            other = self.lane_path(index)
            if same_path(other, lane_path):
                continue
            info = next((w for w in registered if same_path(w.path, other)), None)
            if info is not None and info.branch == f"refs/heads/{branch}" and other.exists():
                save_uncommitted(other, f"orch-tui: save work left in lane {index} before {branch} moves lanes",
                                 f"lane-{index}-{_stamp()}")
                run_git(other, "switch", "--quiet", "--detach")
                registered[registered.index(info)] = replace(info, branch=None)
                taken = True
        return taken

    def _check_branch_free(self, branch: str, lane_path: Path, registered: list[WorktreeInfo]) -> None:
        for info in registered:
            if info.branch == f"refs/heads/{branch}" and not same_path(info.path, lane_path):
                raise OrchError(f"branch {branch} is checked out in {info.path}; "
                                "a branch can be worked on in one place only")

    def commit_leftovers(self, lane: Lane | int, message: str) -> str | None:
        """Commit whatever the agent left uncommitted on the lane's branch; the new commit or None."""
        index = lane if isinstance(lane, int) else lane.index
        _, commit = save_uncommitted(self.lane_path(index), message, f"lane-{index}-{_stamp()}")
        return commit

    def release(self, lane: Lane | int, message: str = "orch-tui: leftover changes at end of task") -> str | None:
        """After a task: commit leftovers, then detach the lane so its branch can be merged,
        archived or deleted. Returns the leftovers commit, if one was made."""
        index = lane if isinstance(lane, int) else lane.index
        path = self.lane_path(index)
        branch, commit = save_uncommitted(path, message, f"lane-{index}-{_stamp()}")
        if commit is not None and branch is not None:
            # HEAD is that commit and the tree is clean: detaching only rewrites HEAD, so no
            # `git switch` (which would stat every file of a large tree again) is needed. The
            # reflog line is switch's own, so `git status` says "HEAD detached at ...".
            run_git(path, "update-ref", "--no-deref", "-m", f"checkout: moving from {branch} to {commit}",
                    "HEAD", commit)
        else:
            run_git(path, "switch", "--quiet", "--detach")
        return commit
