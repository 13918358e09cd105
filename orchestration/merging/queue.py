"""The merge queue: only the orchestrator merges, one branch at a time, in its own worktree.

`MergeQueue` is what the engine (and `orch-tui status`) talks to: it holds the lock that
keeps merges serial and hands each call to the part that does it:

* refs.py: where the target and the task branches point;
* prediction.py: would a branch merge cleanly (`git merge-tree`), and in which order;
* merger.py: a merge without a checkout when it is clean and nothing is to be verified,
  else in the merge worktree (merge_worktree.py), verified (verification.py);
* advancing.py: the target moves only by fast-forward (in the person's checkout through
  checkout_update.py, so a crash there can be undone), then disposal.py archives and
  deletes the task branch;
* resolution.py and conflicts.py: a person resolving a stopped merge.

A conflict or a failing verification stops the queue: the state is written to
`orch-tui-merge.json` in the merge worktree's git directory (state_file.py), so after a
restart `merge_state()` reports it and the person (or the engine) can resolve, continue or
abort. "Ours" is the target branch, "theirs" is the task branch.

The writes of one merge, in order: merge commit (unreferenced), state file (`advancing`),
checkout-update record, target moved, record removed, branch archived and deleted in one
ref transaction, state file removed; the engine then journals the merge and closes the
task in Beads. recovery.py says what the next start does after a crash between any two.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import git

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.lanes.worktrees import main_worktree, open_repo, pool_root
from orch_tui.orchestration.merging.advancing import TargetAdvancer
from orch_tui.orchestration.merging.checkout_update import repair_interrupted_update
from orch_tui.orchestration.merging.conflicts import Conflict, ConflictFile
from orch_tui.orchestration.merging.disposal import BranchDisposal
from orch_tui.orchestration.merging.merge_worktree import MergeWorktree
from orch_tui.orchestration.merging.merger import Merger
from orch_tui.orchestration.merging.prediction import (MERGE_TREE_MIN_VERSION, MergePredictor, MergeTreeUnavailable,
                                                       TreeMerges, require_merge_tree)
from orch_tui.orchestration.merging.records import MergeOutcome, MergeState, Prediction
from orch_tui.orchestration.merging.refs import MergeRefs
from orch_tui.orchestration.merging.resolution import ConflictResolution
from orch_tui.orchestration.merging.state_file import STATE_FILE, MergeStateFile
from orch_tui.orchestration.merging.verification import VERIFY_OUTPUT_LIMIT, VerificationResult
from orch_tui.orchestration.settings.config import Config

__all__ = ["MERGE_TREE_MIN_VERSION", "STATE_FILE", "VERIFY_OUTPUT_LIMIT", "MergeOutcome", "MergeQueue", "MergeState",
           "MergeTreeUnavailable", "Prediction", "VerificationResult", "require_merge_tree"]


class MergeQueue:
    """Serial merges into the target branch. Blocking; the engine calls it via to_thread."""

    def __init__(self, repo: git.Repo | Path | str, config: Config | None = None,
                 root: Path | str | None = None, verify_timeout_seconds: float = 3600.0) -> None:
        self.repo = open_repo(repo)
        self.config = config or Config()
        self.main = main_worktree(self.repo)
        self.root = Path(os.path.realpath(root)) if root else pool_root(self.repo, self.config.worktree_dir)
        self.worktree = MergeWorktree(self.main, self.root)
        self.path = self.worktree.path
        self.refs = MergeRefs(self.main, self.config)
        trees = TreeMerges(self.main)
        self.predictor = MergePredictor(self.refs, trees)
        self.state_file = MergeStateFile(self.worktree)
        self.advancer = TargetAdvancer(self.refs, self.state_file, BranchDisposal(self.main, self.config))
        self.resolution = ConflictResolution(self.state_file)
        self.merger = Merger(self.refs, trees, self.advancer, self.resolution, verify_timeout_seconds)
        self._lock = threading.RLock()

    # ----- the target and predictions -----------------------------------------------------
    def target_branch(self) -> str:
        """Config.target_branch, else the batch's (`pin_target`), else the branch checked out
        in the main worktree."""
        return self.refs.target_and_tip()[0]

    def pin_target(self) -> str:
        """Fix the target for a new batch and return its tip (where its lanes branch from)."""
        return self.refs.pin_target()

    def checkout_elsewhere_note(self) -> str | None:
        """Once, when the person's checkout left the batch's target mid-batch: what to tell them."""
        return self.refs.checkout_elsewhere_note()

    def target_commit(self) -> str:
        """The target branch's tip now (where new lanes branch from)."""
        return self.refs.target_and_tip()[1]

    def predict(self, branches: list[str]) -> list[Prediction]:
        """For each branch: would it merge cleanly into the target as it is now?"""
        return self.predictor.predict(branches)

    def suggested_order(self, predictions: list[Prediction]) -> list[str]:
        """Clean branches first, each checked against the ones before it (prediction.py)."""
        return self.predictor.suggested_order(predictions)

    def prepare(self) -> None:
        """Create the merge worktree now if it is missing (detached at the main worktree's
        HEAD; it is reset to the target whenever a merge uses it), so that the first merge
        of a session does not wait for a checkout of the whole repository."""
        with self._lock:
            if not self.worktree.exists():
                self.worktree.ensure("HEAD")

    # ----- merging ------------------------------------------------------------------------
    def merge(self, branch: str) -> MergeOutcome:
        """Merge one branch into the target (see the module docstring for the guarantees)."""
        with self._lock:
            return self.merger.merge(branch)

    def merge_if_clean(self, branch: str) -> MergeOutcome | None:
        """Like `merge`, but a branch that would conflict is left alone: None, nothing changed,
        nobody asked (the engine merges such branches after the clean ones)."""
        with self._lock:
            return self.merger.merge_if_clean(branch)

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
        with self._lock:
            return self.merger.merge_series_if_clean(branches)

    # ----- after a stop: inspect, resolve, continue, abort ---------------------------------
    def recover(self) -> list[str]:
        """At start, before anything else touches git: what a killed orchestrator left.

        Stale locks in the merge worktree and on orch-tui's own refs are removed; an update
        of the person's checkout that a crash cut is undone (or found finished; see
        checkout_update.py), so the interrupted merge continues from a clean checkout.
        Raises CheckoutNeedsPerson when the person's checkout holds what only they can judge.
        """
        with self._lock:
            return self.worktree.recover() + repair_interrupted_update(self.main)

    def merge_state(self) -> MergeState | None:
        """The merge waiting for a person, or interrupted by a crash; None when idle."""
        with self._lock:
            state = self.state_file.load()
            if state is None:
                return None
            if state.stage == "merging":  # crashed while git was merging: look at what git left
                if self.worktree.merge_in_progress():
                    state.stage = "conflict"
                elif self.worktree.head() != state.target_commit:
                    state.stage = "verifying"
            if state.stage == "conflict":
                state.conflict = self.resolution.describe(state)
            return state

    def conflict(self) -> Conflict | None:
        state = self.merge_state()
        return state.conflict if state else None

    def resolve_hunk(self, path: str, hunk_index: int, choice: str) -> ConflictFile:
        """Take ours, theirs or both for one hunk of a conflicted text file."""
        with self._lock:
            return self.resolution.resolve_hunk(path, hunk_index, choice)

    def resolve_file(self, path: str, choice: str) -> ConflictFile:
        """Take ours, theirs or both for a whole file (ours/theirs also settle delete and binary conflicts)."""
        with self._lock:
            return self.resolution.resolve_file(path, choice)

    def write_resolution(self, path: str, content: str | bytes | None) -> None:
        """A person's own content for a conflicted file (None: the file is deleted). After a failed
        verification, any file of the merge worktree may be written this way."""
        with self._lock:
            self.resolution.write_resolution(path, content)

    def continue_merge(self) -> MergeOutcome:
        """Finish the waiting merge: commit the resolution, verify, move the target."""
        with self._lock:
            state = self.merge_state()
            if state is None:
                raise OrchError("no merge is waiting to be continued")
            return self.merger.resume(state)

    def abort_merge(self) -> MergeState | None:
        """Give up the waiting merge: merge worktree restored, target untouched, branch kept.
        Returns what was aborted (None when nothing was waiting)."""
        with self._lock:
            state = self.state_file.load()
            if not self.worktree.exists():
                return state
            target = state.target if state else self.target_branch()
            self.state_file.discard_merge(self.refs.tip_of(target))
            return state
