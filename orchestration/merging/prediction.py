"""Would a branch merge cleanly, and in which order should a batch merge: `git merge-tree`.

Nothing here touches a worktree or a ref: `git merge-tree --write-tree` merges in the object
store, and the order is simulated with throwaway commits that no branch points at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import (ORCH_EMAIL, ORCH_NAME, SAFE_COMMIT_OPTIONS, GitFailed,
                                                   GitResult, git_version, run_git)
from orch_tui.orchestration.lanes.worktrees import is_ancestor
from orch_tui.orchestration.merging.records import Prediction
from orch_tui.orchestration.merging.refs import MergeRefs
from orch_tui.orchestration.tracker.task_refs import task_id_from_branch

MERGE_TREE_MIN_VERSION = (2, 38)
# Identity for the throwaway commits that simulate a merge order (never on any branch).
_SIMULATION_ENV = {"GIT_AUTHOR_NAME": ORCH_NAME, "GIT_AUTHOR_EMAIL": ORCH_EMAIL,
                   "GIT_COMMITTER_NAME": ORCH_NAME, "GIT_COMMITTER_EMAIL": ORCH_EMAIL}


class MergeTreeUnavailable(OrchError):
    """git is older than 2.38, so `git merge-tree --write-tree` (conflict prediction) is missing."""


@dataclass(frozen=True)
class TreeMerge:
    """What `git merge-tree --write-tree` answered for merging `theirs` into `ours`."""

    clean: bool
    tree: str
    conflicted_files: list[str]
    messages: list[str]
    """git's CONFLICT lines."""


def require_merge_tree(cwd: Path | str = ".") -> None:
    """MergeTreeUnavailable with a clear message on git older than 2.38."""
    found = git_version(cwd)
    if found < MERGE_TREE_MIN_VERSION:
        raise MergeTreeUnavailable(
            f"conflict prediction needs git 2.38 or newer (git merge-tree --write-tree); this is git "
            f"{found[0]}.{found[1]}. Upgrade git, or merge without prediction.")


def merge_tree(cwd: Path, ours: str, theirs: str) -> TreeMerge:
    """Merge `theirs` into `ours` in the object store (no worktree, no ref changes)."""
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
    return TreeMerge(result.status == 0, tree, list(dict.fromkeys(files)), messages)


class TreeMerges:
    """`merge_tree` remembered per pair of commits: commits never change, so neither does the
    merge of two (the engine predicts a branch, orders the batch, then merges it)."""

    LIMIT = 256

    def __init__(self, main: Path) -> None:
        self.main = main
        self._seen: dict[tuple[str, str], TreeMerge] = {}

    def merge(self, ours: str, theirs: str) -> TreeMerge:
        """`merge_tree(main, ours, theirs)`; `ours` and `theirs` are commit ids."""
        found = self._seen.get((ours, theirs))
        if found is None:
            found = merge_tree(self.main, ours, theirs)
            if len(self._seen) >= self.LIMIT:
                self._seen.pop(next(iter(self._seen)))
            self._seen[(ours, theirs)] = found
        return found

    def commit(self, ours: str, theirs: str, make: Callable[[str], GitResult]) -> str | None:
        """The commit `make(tree)` makes of the clean merge of `theirs` into `ours`; None when
        it conflicts. A remembered tree git no longer has (`git gc --prune=now` removes
        unreferenced objects) is merged again rather than failing every time."""
        remembered = (ours, theirs) in self._seen
        merged = self.merge(ours, theirs)
        if not merged.clean:
            return None
        made = make(merged.tree)
        if not made.ok and remembered:
            self._seen.pop((ours, theirs), None)
            merged = self.merge(ours, theirs)
            made = make(merged.tree)
        if not made.ok:
            raise GitFailed(("commit-tree", merged.tree), made.status, made.err, self.main)
        return made.out.strip()


class MergePredictor:
    """Predictions against the target as it is now, and the order that merges the most cleanly."""

    def __init__(self, refs: MergeRefs, trees: TreeMerges) -> None:
        self.refs = refs
        self.main = refs.main
        self.trees = trees

    def predict(self, branches: list[str]) -> list[Prediction]:
        """For each branch: would it merge cleanly into the target as it is now?"""
        require_merge_tree(self.main)
        target_commit = self.refs.target_and_tip()[1]
        predictions = []
        for branch in branches:
            short, tip = self.refs.task_branch(branch)
            task_id = task_id_from_branch(short)
            if is_ancestor(self.main, tip, target_commit):
                predictions.append(Prediction(short, task_id, True, True, [], [], tip, target_commit))
                continue
            merged = self.trees.merge(target_commit, tip)
            predictions.append(Prediction(short, task_id, merged.clean, False, merged.conflicted_files,
                                          merged.messages, tip, target_commit))
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
        # The last branch ordered, whose simulated merge commit is made only when a later
        # branch needs it as its base (the last one's never is).
        pending: Prediction | None = None
        for prediction in predictions:
            if not prediction.clean:
                continue
            if prediction.already_merged:
                order.append(prediction.branch)
                continue
            if pending is not None:
                tip = self._simulated_merge(tip, pending)
                pending = None
            if not self.trees.merge(tip, prediction.branch_commit).clean:  # the first: as predicted
                deferred.append(prediction.branch)
                continue
            pending = prediction
            order.append(prediction.branch)
        return order + deferred + [p.branch for p in predictions if not p.clean]

    def _simulated_merge(self, tip: str, prediction: Prediction) -> str:
        """The throwaway commit merging `prediction`'s branch onto `tip` (known to be clean)."""
        def make(tree: str) -> GitResult:
            return run_git(self.main, *SAFE_COMMIT_OPTIONS, "commit-tree", tree, "-p", tip,
                           "-p", prediction.branch_commit, "-m", "orch-tui simulated merge",
                           env=_SIMULATION_ENV, check=False)
        made = self.trees.commit(tip, prediction.branch_commit, make)
        if made is None:
            raise GitFailed(("merge-tree", tip, prediction.branch_commit), 1,
                            "merged cleanly a moment ago, conflicts now", self.main)
        return made
