"""The merge queue: only the orchestrator merges, one branch at a time, in its own worktree.

A branch that merges cleanly, with no verification command to run, is merged without any
checkout: `git merge-tree --write-tree` makes the tree and `git commit-tree` the merge
commit. Otherwise the merge happens in `<pool root>/merge` (a detached worktree orch-tui
owns; anything left there between merges is scratch and is discarded), where a person can
resolve conflicts. The target branch moves only by fast-forward to the finished,
conflict-free, verified commit:

* target checked out in some worktree (usually the person's main checkout): first our own
  check for local changes in the files the update touches (a clear message naming them),
  then `git merge --ff-only` run there, which git itself refuses when local changes would
  be overwritten. Either refusal changes nothing and keeps the merge ready to continue.
* target checked out nowhere: `git update-ref refs/heads/<target> <new> <old>` (compare and
  swap, so a concurrent move is detected, never overwritten).

A conflict or a failing verification stops the queue: the state is written to
`orch-tui-merge.json` in the merge worktree's git directory, so after a restart
`merge_state()` reports it and the person (or the engine) can resolve, continue or abort.
"Ours" is the target branch, "theirs" is the task branch.

The writes of one merge, in order: merge commit (unreferenced), state file (`advancing`),
checkout-update record, target moved, record removed, branch archived and deleted in one
ref transaction, state file removed; the engine then journals the merge and closes the
task in Beads. recovery.py says what the next start does after a crash between any two.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import git

from orch_tui.orchestration.merging import conflicts
from orch_tui.orchestration.merging.checkout_update import recorded_update, repair_interrupted_update
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.merging.conflicts import Conflict, ConflictFile
from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import ORCH_EMAIL, ORCH_NAME, SAFE_COMMIT_OPTIONS, GitFailed, git_version, nul_fields, run_commit_git, run_git, run_git_with_input
from orch_tui.orchestration.infra.git_locks import lock_refusal
from orch_tui.orchestration.infra.repo_paths import git_common_dir
from orch_tui.orchestration.infra.stale_locks import describe_removed, remove_stale_locks, remove_stale_ref_locks
from orch_tui.orchestration.tracker.task_refs import ARCHIVE_NAMESPACE, BRANCH_PREFIX, archive_ref, task_id_from_branch
from orch_tui.orchestration.lanes.worktrees import (MERGE_DIR_NAME, LaneNeedsAttention, open_repo, same_path, is_ancestor, merged_by,
                        half_created, remove_half_created,
                        list_worktrees, main_worktree, operation_in_progress, pool_root, status_entries,
                        worktree_git_dir, WorktreeInfo)

STATE_FILE = "orch-tui-merge.json"
MERGE_TREE_MIN_VERSION = (2, 38)
VERIFY_OUTPUT_LIMIT = 8000
# Identity for the throwaway commits that simulate a merge order (never on any branch).
_SIMULATION_ENV = {"GIT_AUTHOR_NAME": ORCH_NAME, "GIT_AUTHOR_EMAIL": ORCH_EMAIL,
                   "GIT_COMMITTER_NAME": ORCH_NAME, "GIT_COMMITTER_EMAIL": ORCH_EMAIL}


class MergeTreeUnavailable(OrchError):
    """git is older than 2.38, so `git merge-tree --write-tree` (conflict prediction) is missing."""


@dataclass
class Prediction:
    branch: str
    task_id: str | None
    clean: bool
    already_merged: bool
    conflicted_files: list[str]
    messages: list[str]
    branch_commit: str
    target_commit: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerificationResult:
    command: list[str]
    returncode: int | None
    """None when the command could not run or timed out."""
    output: str
    """The last VERIFY_OUTPUT_LIMIT characters of stdout and stderr."""

    @property
    def passed(self) -> bool:
        return self.returncode == 0


@dataclass
class MergeState:
    """A merge waiting for a person (or interrupted by a crash); persisted as JSON."""

    stage: str
    """merging (interrupted before git finished), conflict, verifying (merged, not yet
    verified), verify_failed, advancing (merged without a checkout, target not yet moved),
    or checkout_dirty (ready; the target's checkout refused)."""
    branch: str
    task_id: str | None
    target: str
    target_commit: str
    branch_commit: str
    message: str = ""
    resolutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    git_messages: list[str] = field(default_factory=list)
    conflict: Conflict | None = None
    """Filled in when reading a `conflict` state (rebuilt from the index, never stored)."""
    merged_commit: str = ""
    """The merge commit made without a checkout; empty when the merge worktree's HEAD is it."""
    merge_base: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conflict"] = self.conflict.to_dict() if self.conflict else None
        return data


@dataclass
class MergeOutcome:
    status: str
    """merged, already_merged, conflict, verify_failed, checkout_dirty or target_moved."""
    branch: str
    task_id: str | None
    target: str
    message: str
    commit: str | None = None
    """The target's new tip when merged."""
    previous_target: str | None = None
    conflict: Conflict | None = None
    verification: VerificationResult | None = None
    branch_disposition: str | None = None
    """What happened to the task branch after merging: archived, deleted, kept (and why)."""

    @property
    def ok(self) -> bool:
        return self.status in ("merged", "already_merged")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conflict"] = self.conflict.to_dict() if self.conflict else None
        data["ok"] = self.ok
        return data


def require_merge_tree(cwd: Path | str = ".") -> None:
    """MergeTreeUnavailable with a clear message on git older than 2.38."""
    found = git_version(cwd)
    if found < MERGE_TREE_MIN_VERSION:
        raise MergeTreeUnavailable(
            f"conflict prediction needs git 2.38 or newer (git merge-tree --write-tree); this is git "
            f"{found[0]}.{found[1]}. Upgrade git, or merge without prediction.")


def _merge_tree(cwd: Path, ours: str, theirs: str) -> tuple[bool, str, list[str], list[str]]:
    """(clean, tree, conflicted paths, CONFLICT messages) of merging `theirs` into `ours`."""
    result = run_git(cwd, "merge-tree", "--write-tree", "-z", "--name-only", ours, theirs, check=False)
    if result.status not in (0, 1):
        if result.status == 129:
            raise MergeTreeUnavailable(f"this git does not support merge-tree --write-tree: {result.err.strip()}")
        raise GitFailed(("merge-tree", "--write-tree", ours, theirs), result.status, result.err, cwd)
    fields = result.out.split("\0")
    tree, files, i = fields[0], [], 1
    while i < len(fields) and fields[i]:
        files.append(fields[i])
        i += 1
    messages: list[str] = []
    i += 1
    while i < len(fields) and fields[i].isdigit():
        count = int(fields[i])
        kind, text = fields[i + 1 + count], fields[i + 2 + count]
        if kind.startswith("CONFLICT"):
            messages.append(text.strip())
        i += count + 3
    return result.status == 0, tree, list(dict.fromkeys(files)), messages


class MergeQueue:
    """Serial merges into the target branch. Blocking; the engine calls it via to_thread."""

    def __init__(self, repo: git.Repo | Path | str, config: Config | None = None,
                 root: Path | str | None = None, verify_timeout_seconds: float = 3600.0) -> None:
        self.repo = open_repo(repo)
        self.config = config or Config()
        self.main = main_worktree(self.repo)
        self.root = Path(os.path.realpath(root)) if root else pool_root(self.repo, self.config.worktree_dir)
        self.path = self.root / MERGE_DIR_NAME
        self.verify_timeout_seconds = verify_timeout_seconds
        self._lock = threading.RLock()
        self.batch_target: str | None = None
        """The branch the running batch started from (`pin_target`): a person who switches
        their checkout to another branch mid-batch does not redirect the batch's merges."""
        self._elsewhere_said: str | None = None

    # ----- target ----------------------------------------------------------------------
    def target_branch(self) -> str:
        """Config.target_branch, else the batch's (`pin_target`), else the branch checked out
        in the main worktree."""
        return self._target_and_tip()[0]

    def pin_target(self) -> str:
        """Fix the target for a new batch and return its tip (where its lanes branch from)."""
        self.batch_target, self._elsewhere_said = None, None
        name, tip = self._target_and_tip()
        self.batch_target = name
        return tip

    def checkout_elsewhere_note(self) -> str | None:
        """What to tell the person, once, when their checkout is no longer on the batch's
        target (they switched branches mid-batch); None otherwise."""
        if self.config.target_branch or not self.batch_target:
            return None
        branch = (list_worktrees(self.main)[0].branch or "").removeprefix("refs/heads/") or "a detached HEAD"
        if branch in (self.batch_target, self._elsewhere_said):
            return None
        self._elsewhere_said = branch
        return (f"your checkout {self.main} is on {branch} now, not {self.batch_target}: this batch started "
                f"from {self.batch_target} and merges into it without touching your checkout; the next batch "
                "starts from the branch checked out then (or set target_branch)")

    def _target_and_tip(self) -> tuple[str, str]:
        """The target branch and its tip commit (one git call when the target is the branch
        checked out in the main worktree: `worktree list` names both)."""
        if self.config.target_branch or self.batch_target:
            name = self.config.target_branch or self.batch_target or ""
        else:
            main = list_worktrees(self.main)[0]
            if not main.branch:
                raise BadInput(f"{self.main} is not on a branch (detached HEAD)", path=self.main,
                               fix="check out the branch to merge into (git switch main), or set "
                                   "target_branch in the configuration")
            name = main.branch.removeprefix("refs/heads/")
            if main.head and main.head.strip("0"):
                return name, main.head
        tip = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False)
        if not tip.ok:
            raise BadInput(f"target branch {name!r} does not exist", path=self.main,
                           fix="create it (git branch NAME) or change target_branch")
        return name, tip.out.strip()

    def target_commit(self) -> str:
        """The target branch's tip now (where new lanes branch from)."""
        return self._target_and_tip()[1]

    def _target_tip(self, target: str) -> str:
        return run_git(self.main, "rev-parse", f"refs/heads/{target}").out.strip()

    # ----- prediction -------------------------------------------------------------------
    def predict(self, branches: list[str]) -> list[Prediction]:
        """For each branch: would it merge cleanly into the target as it is now?"""
        require_merge_tree(self.main)
        target_commit = self._target_and_tip()[1]
        predictions = []
        for branch in branches:
            short, tip = self._branch(branch)
            if is_ancestor(self.main, tip, target_commit):
                predictions.append(Prediction(short, task_id_from_branch(short), True, True, [], [], tip, target_commit))
                continue
            clean, _, files, messages = _merge_tree(self.main, target_commit, tip)
            predictions.append(Prediction(short, task_id_from_branch(short), clean, False, files, messages,
                                          tip, target_commit))
        return predictions

    def suggested_order(self, predictions: list[Prediction]) -> list[str]:
        """Clean branches first (in the given order, so old work is not starved), each
        re-checked against the simulated result of merging the ones before it; branches
        that only conflict with an earlier one come next, predicted conflicts last."""
        if not predictions:
            return []
        tip = predictions[0].target_commit
        order: list[str] = []
        deferred: list[str] = []
        for prediction in predictions:
            if not prediction.clean:
                continue
            if prediction.already_merged:
                order.append(prediction.branch)
                continue
            clean, tree, _, _ = _merge_tree(self.main, tip, prediction.branch_commit)
            if not clean:
                deferred.append(prediction.branch)
                continue
            tip = run_git(self.main, *SAFE_COMMIT_OPTIONS, "commit-tree", tree, "-p", tip, "-p", prediction.branch_commit,
                          "-m", "orch-tui simulated merge", env=_SIMULATION_ENV).out.strip()
            order.append(prediction.branch)
        return order + deferred + [p.branch for p in predictions if not p.clean]

    def _branch(self, branch: str) -> tuple[str, str]:
        short = branch.removeprefix("refs/heads/")
        result = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{short}^{{commit}}", check=False)
        if result.ok:
            return short, result.out.strip()
        archived = self._merged_archive(short)
        if archived is None:
            raise OrchError(f"branch {short!r} does not exist")
        return short, archived

    def _merged_archive(self, short: str) -> str | None:
        """The archived tip of a task branch already merged into the target, else None: a
        series merge disposes of every branch before the engine has journaled them all, so
        after a crash there the journal may still list a gone branch as pending."""
        task_id = task_id_from_branch(short)
        if task_id is None:
            return None
        archived = run_git(self.main, "rev-parse", "--verify", "--quiet",
                           f"{archive_ref(task_id)}^{{commit}}", check=False)
        if not archived.ok or not is_ancestor(self.main, archived.out.strip(), self._target_and_tip()[1]):
            return None
        return archived.out.strip()

    # ----- the merge worktree -------------------------------------------------------------
    def _ensure_worktree(self, commit: str) -> None:
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
        self._reset_worktree(commit)

    def _reset_worktree(self, commit: str) -> None:
        """Scratch space owned by orch-tui: discard leftovers, always stay detached."""
        if self._merge_head():
            run_git(self.path, "merge", "--abort", check=False)
        run_git(self.path, "checkout", "--quiet", "--force", "--detach", commit)
        run_git(self.path, "clean", "-fd", "--quiet")

    def recover(self) -> list[str]:
        """At start, before anything else touches git: what a killed orchestrator left.

        Stale locks in the merge worktree and on orch-tui's own refs are removed; an update
        of the person's checkout that a crash cut is undone (or found finished; see
        checkout_update.py), so the interrupted merge continues from a clean checkout.
        Raises CheckoutNeedsPerson when the person's checkout holds what only they can judge.
        """
        with self._lock:
            messages = []
            entry = next((w for w in list_worktrees(self.main) if same_path(w.path, self.path)), None)
            if entry is not None and half_created(entry):
                remove_half_created(self.main, self.path)
                messages.append(f"{self.path} was being created when the previous orchestrator stopped: "
                                "removed (it is created again when needed)")
            if (self.path / ".git").exists():
                removed, running = remove_stale_locks(self.path, worktree_git_dir(self.path))
                if removed:
                    messages.append(describe_removed(self.path, removed))
                if running:
                    messages.append(f"git (pid {', '.join(map(str, running))}) still runs in {self.path}; "
                                    "its locks are left in place")
            places = [self.main, *(path for path in self.root.glob("*") if path.is_dir())]
            common = git_common_dir(self.main)
            refs = remove_stale_ref_locks(common, ("refs/heads/" + BRANCH_PREFIX, ARCHIVE_NAMESPACE), places)
            if refs:
                messages.append(describe_removed(self.main, refs, common))
            return messages + repair_interrupted_update(self.main)

    def _state_file(self) -> Path:
        return worktree_git_dir(self.path) / STATE_FILE

    def _save(self, state: MergeState) -> None:
        data = state.to_dict()
        data.pop("conflict", None)
        path = self._state_file()
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temporary, path)

    def _load(self) -> MergeState | None:
        if not (self.path / ".git").exists():
            return None
        path = self._state_file()
        if not path.exists():
            return None
        return MergeState(**json.loads(path.read_text(encoding="utf-8")))

    def _clear(self) -> None:
        self._state_file().unlink(missing_ok=True)

    def _merge_head(self) -> bool:
        return (worktree_git_dir(self.path) / "MERGE_HEAD").exists()

    # ----- merging ------------------------------------------------------------------------
    def merge(self, branch: str) -> MergeOutcome:
        """Merge one branch into the target (see the module docstring for the guarantees)."""
        with self._lock:
            state = self._begin(branch)
            if isinstance(state, MergeOutcome):
                return state
            if not self.config.verify_command:
                merged = self._merge_without_checkout(state)
                if merged is not None:
                    return merged
            return self._merge_in_worktree(state)

    def merge_if_clean(self, branch: str) -> MergeOutcome | None:
        """Like `merge`, but a branch that would conflict is left alone: None, nothing changed,
        nobody asked (the engine merges such branches after the clean ones)."""
        with self._lock:
            state = self._begin(branch)
            if isinstance(state, MergeOutcome):
                return state
            if not self.config.verify_command:
                return self._merge_without_checkout(state)
            if not _merge_tree(self.main, state.target_commit, state.branch_commit)[0]:
                return None
            return self._merge_in_worktree(state)

    def merge_series_if_clean(self, branches: list[str]) -> list[MergeOutcome]:
        """Merge `branches` in order, each onto the merge of the ones before it, and move the
        target once for all of them.

        Every branch still gets its own merge commit, so the target's history is the one
        merging them one at a time would give; only the intermediate tips are skipped (lanes
        of a batch finish together, and each move of a checked-out target costs a checkout
        update). Stops before the first branch that would conflict. Returns the outcomes of
        the merged branches; empty when nothing changed (merge them one at a time: that is
        also the answer whenever moving the target needs a person). Only without a verify
        command, which must check each merge on its own.

        The saved state is the last branch's merge moving the target from its old tip to the
        series' end, so a crash is finished by `continue_merge`; the earlier branches are
        then found already merged.
        """
        if self.config.verify_command:
            raise OrchError("a series merge needs each merge verified: merge one at a time")
        with self._lock:
            self._refuse_if_waiting()
            target, old = self._target_and_tip()
            steps: list[MergeState] = []
            tip = old
            for branch in branches:
                step = self._new_state(branch, target, tip)
                merged = self._clean_merge_commit(step)
                if merged is None:
                    break
                step.stage, step.merged_commit, tip = "advancing", merged, merged
                steps.append(step)
            if not steps:
                return []
            if not (self.path / ".git").exists():
                self._ensure_worktree(old)  # it holds the state file
            whole = replace(steps[-1], target_commit=old)
            self._save(whole)
            last = self._advance(whole)
            if last.status != "merged":
                self._clear()  # the target did not move: nothing changed
                return []
            registered = list_worktrees(self.main)
            return [self._series_outcome(step, tip, registered) for step in steps[:-1]] + [last]

    def _series_outcome(self, step: MergeState, end: str, registered: list[WorktreeInfo]) -> MergeOutcome:
        already = step.merged_commit == step.target_commit
        return self._outcome(
            step, "already_merged" if already else "merged",
            f"{step.branch} is already in {step.target}" if already
            else f"{step.branch} merged into {step.target} at {step.merged_commit[:12]}",
            commit=step.merged_commit, branch_disposition=self._dispose_branch(step, end, registered))

    def _begin(self, branch: str) -> MergeState | MergeOutcome:
        """The state of a new merge of `branch`, or the outcome when there is nothing to do."""
        self._refuse_if_waiting()
        target, old = self._target_and_tip()
        state = self._new_state(branch, target, old)
        if state.merge_base == state.branch_commit:  # the commit that merged it, for the record
            merged_in = merged_by(self.main, state.branch_commit, old) or old
            return MergeOutcome("already_merged", state.branch, state.task_id, target,
                                f"{state.branch} is already in {target}", merged_in, old,
                                branch_disposition=self._dispose_branch(state, old))
        return state

    def _refuse_if_waiting(self) -> None:
        waiting = self._load()
        if waiting:
            raise OrchError(f"the merge of {waiting.branch} is waiting ({waiting.stage}): "
                            "continue or abort it first")

    def _new_state(self, branch: str, target: str, target_commit: str) -> MergeState:
        short, tip = self._branch(branch)
        task_id = task_id_from_branch(short)
        label = f"{short} (task {task_id})" if task_id else short
        state = MergeState("merging", short, task_id, target, target_commit, tip,
                           message=f"Merge {label} into {target}\n\nMerged by orch-tui.")
        state.merge_base = run_git(self.main, "merge-base", target_commit, tip, check=False).out.strip()
        return state

    def _clean_merge_commit(self, state: MergeState) -> str | None:
        """The commit merging the branch onto `state.target_commit`, made in the object store
        (the branch itself for a fast-forward); None when it would conflict."""
        if state.merge_base == state.branch_commit:
            return state.target_commit
        if state.merge_base == state.target_commit:
            return state.branch_commit
        clean, tree, _, _ = _merge_tree(self.main, state.target_commit, state.branch_commit)
        if not clean:
            return None
        return run_commit_git(self.main, "commit-tree", tree, "-p", state.target_commit,
                       "-p", state.branch_commit, "-m", state.message).out.strip()

    def _merge_in_worktree(self, state: MergeState) -> MergeOutcome:
        self._ensure_worktree(state.target_commit)
        self._save(state)
        return self._run_merge(state)

    def _merge_without_checkout(self, state: MergeState) -> MergeOutcome | None:
        """A clean merge made in the object store; None (nothing changed) when it would conflict.

        Until the state is saved nothing but an unreferenced object exists, so a crash before
        that point simply merges again; after it, `continue_merge` moves the target.
        """
        merged = self._clean_merge_commit(state)
        if merged is None:
            return None
        if not (self.path / ".git").exists():
            self._ensure_worktree(state.target_commit)  # it holds the state file
        state.stage, state.merged_commit = "advancing", merged
        self._save(state)
        return self._advance(state)

    def _run_merge(self, state: MergeState) -> MergeOutcome:
        if is_ancestor(self.main, state.target_commit, state.branch_commit):
            run_git(self.path, "merge", "--quiet", "--ff-only", state.branch_commit)
        else:
            result = run_commit_git(self.path, "merge", "--no-ff", "--no-verify", "--no-edit",
                             "-m", state.message, state.branch_commit, check=False)
            if not result.ok:
                if not self._merge_head():
                    self._clear()
                    raise GitFailed(("merge", state.branch), result.status, result.err or result.out, self.path)
                state.stage = "conflict"
                state.git_messages = conflicts.conflict_lines(result.out)
                self._save(state)
                record = self._conflict(state)
                return self._outcome(state, "conflict", f"{state.branch} conflicts with {state.target} in "
                                     f"{len(record.files)} file(s): {', '.join(f.path for f in record.files)}",
                                     conflict=record)
        state.stage = "verifying"
        self._save(state)
        return self._verify_and_advance(state)

    def _outcome(self, state: MergeState, status: str, message: str, **extra: Any) -> MergeOutcome:
        return MergeOutcome(status, state.branch, state.task_id, state.target, message,
                            previous_target=state.target_commit, **extra)

    def _verify_and_advance(self, state: MergeState) -> MergeOutcome:
        verification = self._verify()
        if verification is not None and not verification.passed:
            state.stage = "verify_failed"
            self._save(state)
            return self._outcome(state, "verify_failed",
                                 f"verification {' '.join(verification.command)} failed for {state.branch}; "
                                 f"the target was not moved (fix it in {self.path} and continue, or abort)",
                                 verification=verification)
        return self._advance(state, verification)

    def _verify(self) -> VerificationResult | None:
        command = list(self.config.verify_command)
        if not command:
            return None
        try:
            done = subprocess.run(command, cwd=self.path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=self.verify_timeout_seconds, check=False)
        except FileNotFoundError:
            return VerificationResult(command, None, f"command not found: {command[0]}")
        except subprocess.TimeoutExpired as expired:
            tail = (expired.output or b"").decode(errors="replace")[-VERIFY_OUTPUT_LIMIT:]
            return VerificationResult(command, None, f"{tail}\n(timed out after {self.verify_timeout_seconds:g} s)")
        return VerificationResult(command, done.returncode, done.stdout.decode(errors="replace")[-VERIFY_OUTPUT_LIMIT:])

    # ----- moving the target ------------------------------------------------------------------
    def _advance(self, state: MergeState, verification: VerificationResult | None = None) -> MergeOutcome:
        new = state.merged_commit or run_git(self.path, "rev-parse", "HEAD").out.strip()
        registered = list_worktrees(self.main)
        current = next((info.head for info in registered if info.branch == f"refs/heads/{state.target}"),
                       None) or self._target_tip(state.target)
        moved_before_a_crash = current == new != state.target_commit
        if current != state.target_commit and not moved_before_a_crash:
            return self._target_moved(state, current)
        if not moved_before_a_crash:
            stopped = self._move_target(state, new, self._checkout_of(state.target, registered), verification)
            if stopped is not None:
                return stopped
        disposition = self._dispose_branch(state, new, registered)
        self._clear()
        return self._outcome(state, "merged", f"{state.branch} merged into {state.target} at {new[:12]}",
                             commit=new, verification=verification, branch_disposition=disposition)

    def _move_target(self, state: MergeState, new: str, checkout: Path | None,
                     verification: VerificationResult | None) -> MergeOutcome | None:
        """Move the target from `state.target_commit` to `new`; the outcome when it did not."""
        if checkout is None:
            result = run_git(self.main, "update-ref", "-m", f"orch-tui: merge {state.branch}",
                             f"refs/heads/{state.target}", new, state.target_commit, check=False)
            return None if result.ok else self._target_moved(state, self._target_tip(state.target))
        refusal = self._busy(checkout) or lock_refusal(checkout, state.target)
        if refusal is None:
            # git itself refuses to touch local edits, untracked and (with
            # --no-overwrite-ignore) ignored files; the clearer reason is worked out only
            # then, which spares two git calls on every clean merge.
            with recorded_update(self.main, checkout, state.target, state.target_commit, new):
                result = run_git(checkout, "merge", "--quiet", "--ff-only", "--no-overwrite-ignore", new,
                                 check=False)
            if result.ok:
                return None
            if self._target_tip(state.target) != state.target_commit:
                return self._target_moved(state, self._target_tip(state.target))
            refusal = self._blocking_changes(checkout, state.target_commit, new) or (
                f"git refused to update {state.target} in {checkout}: {(result.err or result.out).strip()}")
        state.stage = "checkout_dirty"
        self._save(state)
        return self._outcome(state, "checkout_dirty", refusal + " Nothing was changed; the merged commit "
                             "waits in the merge worktree: continue the merge once that is done.",
                             verification=verification)

    def _target_moved(self, state: MergeState, current: str) -> MergeOutcome:
        self._abort_worktree(current)
        return self._outcome(state, "target_moved",
                             f"{state.target} moved from {state.target_commit[:12]} to {current[:12]} during the "
                             f"merge; nothing was changed and {state.branch} is kept: merge it again")

    def _checkout_of(self, target: str, registered: list[WorktreeInfo]) -> Path | None:
        """The worktree with `target` checked out (or being rebased/bisected there)."""
        for info in registered:
            if info.branch == f"refs/heads/{target}":
                return Path(info.path)
            git_dir = worktree_git_dir(Path(info.path)) if Path(info.path, ".git").exists() else None
            for name in ("rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"):
                marker = git_dir / name if git_dir else None
                if marker and marker.exists() and marker.read_text().strip() in (f"refs/heads/{target}", target):
                    return Path(info.path)
        return None

    @staticmethod
    def _busy(checkout: Path) -> str | None:
        busy = operation_in_progress(checkout)
        if busy:
            return f"{checkout} is in the middle of {busy}; finish or abort it there."
        return None  # lock files in the person's checkout: `lock_refusal` (git_locks.py) names them

    def _blocking_changes(self, checkout: Path, old: str, new: str) -> str | None:
        """A clear refusal when `checkout` has local work the update from old to new would touch."""
        fields = nul_fields(run_git(self.main, "diff", "--name-status", "--no-renames", "-z", old, new).out)
        pairs = list(zip(fields[::2], fields[1::2]))  # (status letter, path)
        changed = {path for _, path in pairs}
        added = [path for status, path in pairs if status == "A"]
        dirty = [entry[3:] for entry in status_entries(checkout)]
        blocked = {path for path in changed
                   if any(path == d or (d.endswith("/") and path.startswith(d)) for d in dirty)}
        blocked |= {path for path in added if os.path.lexists(checkout / path)}  # untracked or ignored files
        if not blocked:
            return None
        shown = ", ".join(sorted(blocked)[:10]) + (" ..." if len(blocked) > 10 else "")
        return (f"{checkout} has uncommitted changes in files this merge would update ({shown}); "
                f"commit or stash them there.")

    def _dispose_branch(self, state: MergeState, merged_into: str,
                        registered: list[WorktreeInfo] | None = None) -> str:
        policy = self.config.branch_after_merge
        if state.task_id is None or policy == "keep":
            return "kept"
        registered = registered or list_worktrees(self.main)
        quick = self._dispose_unmoved_branch(state, policy, registered)
        if quick is not None:
            return quick
        tip = run_git(self.main, "rev-parse", "--verify", "--quiet", f"refs/heads/{state.branch}", check=False)
        if not tip.ok:
            return "already gone"
        tip_commit = tip.out.strip()
        if tip_commit != state.branch_commit and not is_ancestor(self.main, tip_commit, merged_into):
            return f"kept: {state.branch} has commits that were not merged"
        done = []
        if policy == "archive":
            run_git(self.main, "update-ref", "-m", "orch-tui: archive merged task branch",
                    archive_ref(state.task_id), tip_commit)
            done.append(f"archived as {archive_ref(state.task_id)}")
        holder = next((w.path for w in registered if w.branch == f"refs/heads/{state.branch}"), None)
        if holder:
            done.append(f"branch kept: checked out in {holder}")
        else:
            run_git(self.main, "branch", "--quiet", "-D", state.branch)
            done.append("branch deleted")
        return "; ".join(done)

    def _dispose_unmoved_branch(self, state: MergeState, policy: str,
                                registered: list[WorktreeInfo]) -> str | None:
        """Archive and delete the branch in one ref transaction, which checks that it still
        points at the merged commit; None (nothing done) when it moved or is checked out."""
        branch_ref = f"refs/heads/{state.branch}"
        if state.task_id is None or any(info.branch == branch_ref for info in registered):
            return None
        commands = f"delete {branch_ref} {state.branch_commit}\n"
        done = ["branch deleted"]
        if policy == "archive":
            commands = f"update {archive_ref(state.task_id)} {state.branch_commit}\n" + commands
            done.insert(0, f"archived as {archive_ref(state.task_id)}")
        result = run_git_with_input(self.main, "update-ref", "--stdin", "-m",
                                    "orch-tui: archive merged task branch", text=commands)
        return "; ".join(done) if result.ok else None

    # ----- after a stop: inspect, resolve, continue, abort -----------------------------------------
    def merge_state(self) -> MergeState | None:
        """The merge waiting for a person, or interrupted by a crash; None when idle."""
        with self._lock:
            state = self._load()
            if state is None:
                return None
            if state.stage == "merging":  # crashed while git was merging: look at what git left
                if self._merge_head():
                    state.stage = "conflict"
                elif run_git(self.path, "rev-parse", "HEAD").out.strip() != state.target_commit:
                    state.stage = "verifying"
            if state.stage == "conflict":
                state.conflict = self._conflict(state)
            return state

    def conflict(self) -> Conflict | None:
        state = self.merge_state()
        return state.conflict if state else None

    def _conflict(self, state: MergeState) -> Conflict:
        files = [conflicts.describe_file(self.path, path, stages, state.resolutions.get(path, {}),
                                         state.git_messages)
                 for path, stages in sorted(conflicts.unmerged_stages(self.path).items())]
        return Conflict(state.branch, state.task_id, state.target, state.target_commit, state.branch_commit,
                        files, state.git_messages, worktree=str(self.path))

    def _conflict_state(self, path: str) -> tuple[MergeState, conflicts.Stages]:
        state = self._load()
        if state is None or state.stage != "conflict":
            raise OrchError("no merge conflict is waiting to be resolved")
        stages = conflicts.unmerged_stages(self.path).get(path)
        if stages is None:
            raise BadInput(f"{path!r} is not a conflicted file of the merge of {state.branch}",
                           fix="choose one of the files listed in the conflict")
        return state, stages

    def resolve_hunk(self, path: str, hunk_index: int, choice: str) -> ConflictFile:
        """Take ours, theirs or both for one hunk of a conflicted text file."""
        with self._lock:
            if choice not in conflicts.HUNK_CHOICES:
                raise BadInput(f"unknown choice {choice!r}", fix=f"use one of {', '.join(conflicts.HUNK_CHOICES)}")
            state, stages = self._conflict_state(path)
            count = conflicts.hunk_count(self.path, stages)
            if not 0 <= hunk_index < count:
                raise BadInput(f"{path} has hunks 0..{count - 1}, not {hunk_index}", fix="choose an existing hunk")
            previous = state.resolutions.get(path, {})
            hunks = previous.get("hunks", {}) if "whole" not in previous else {}
            hunks[str(hunk_index)] = choice
            state.resolutions[path] = {"hunks": hunks}
            conflicts.write_hunk_choices(self.path, path, stages, {int(k): v for k, v in hunks.items()})
            self._save(state)
            return conflicts.describe_file(self.path, path, stages, state.resolutions[path], state.git_messages)

    def resolve_file(self, path: str, choice: str) -> ConflictFile:
        """Take ours, theirs or both for a whole file (ours/theirs also settle delete and binary conflicts)."""
        with self._lock:
            state, stages = self._conflict_state(path)
            state.resolutions[path] = {"whole": conflicts.write_file_choice(self.path, path, stages, choice)}
            self._save(state)
            return conflicts.describe_file(self.path, path, stages, state.resolutions[path], state.git_messages)

    def write_resolution(self, path: str, content: str | bytes | None) -> None:
        """A person's own content for a conflicted file (None: the file is deleted). After a failed
        verification, any file of the merge worktree may be written this way."""
        with self._lock:
            state = self._load()
            if state is not None and state.stage in ("verify_failed", "verifying"):
                conflicts.write_content(self.path, path, content)
                return
            state, _ = self._conflict_state(path)
            state.resolutions[path] = {"whole": conflicts.write_content(self.path, path, content)}
            self._save(state)

    def continue_merge(self) -> MergeOutcome:
        """Finish the waiting merge: commit the resolution, verify, move the target."""
        with self._lock:
            state = self.merge_state()
            if state is None:
                raise OrchError("no merge is waiting to be continued")
            if state.stage == "merging":
                self._ensure_worktree(state.target_commit)
                return self._run_merge(state)
            if state.stage == "conflict":
                return self._commit_resolution(state)
            if state.stage in ("verify_failed", "verifying"):
                self._commit_fixes(state)
                return self._verify_and_advance(state)
            return self._advance(state)

    def _commit_resolution(self, state: MergeState) -> MergeOutcome:
        record = state.conflict or self._conflict(state)
        if record.unresolved:
            raise OrchError(f"still unresolved: {', '.join(record.unresolved)}; choose ours, theirs, both "
                            "or write the file for each")
        for item in record.files:
            conflicts.stage_resolved(self.path, item.path, item.resolution)
        run_commit_git(self.path, "commit", "--quiet", "--no-verify", "--no-edit")
        state.stage, state.resolutions = "verifying", {}
        self._save(state)
        return self._verify_and_advance(state)

    def _commit_fixes(self, state: MergeState) -> None:
        if status_entries(self.path, untracked_cache=True):
            run_git(self.path, "add", "--all")
            run_commit_git(self.path, "commit", "--quiet", "--no-verify", "-m",
                    f"Fix the merge of {state.branch} after verification failed")

    def abort_merge(self) -> MergeState | None:
        """Give up the waiting merge: merge worktree restored, target untouched, branch kept.
        Returns what was aborted (None when nothing was waiting)."""
        with self._lock:
            state = self._load()
            if not (self.path / ".git").exists():
                return state
            target = state.target if state else self.target_branch()
            self._abort_worktree(self._target_tip(target))
            return state

    def _abort_worktree(self, commit: str) -> None:
        self._reset_worktree(commit)
        self._clear()
