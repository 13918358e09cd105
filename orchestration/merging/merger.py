"""Merging a task branch into the target, one at a time, and going on after a stop.

A branch that merges cleanly, with no verification command to run, is merged without any
checkout: `git merge-tree --write-tree` makes the tree and `git commit-tree` the merge
commit. Otherwise the merge happens in the merge worktree (merge_worktree.py), where a
person can resolve conflicts (resolution.py). The target moves only by fast-forward to the
finished, conflict-free, verified commit (advancing.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import GitFailed, GitResult, run_git
from orch_tui.orchestration.infra.git_commits import run_commit_git
from orch_tui.orchestration.lanes.worktrees import is_ancestor, merged_by
from orch_tui.orchestration.merging import conflicts
from orch_tui.orchestration.merging.advancing import TargetAdvancer
from orch_tui.orchestration.merging.prediction import TreeMerges
from orch_tui.orchestration.merging.records import MergeOutcome, MergeState
from orch_tui.orchestration.merging.refs import MergeRefs
from orch_tui.orchestration.merging.resolution import ConflictResolution
from orch_tui.orchestration.merging.verification import run_verification
from orch_tui.orchestration.tracker.task_refs import task_id_from_branch
from orch_tui.orchestration.states import MergeStatus


class Merger:
    """Runs merges from the first step (`merge...`) or from where one stopped (`resume`)."""

    def __init__(self, refs: MergeRefs, trees: TreeMerges, advancer: TargetAdvancer,
                 resolution: ConflictResolution, verify_timeout_seconds: float) -> None:
        self.refs = refs
        self.main = refs.main
        self.config = refs.config
        self.trees = trees
        self.advancer = advancer
        self.resolution = resolution
        self.state_file = advancer.state_file
        self.worktree = advancer.state_file.worktree
        self.verify_timeout_seconds = verify_timeout_seconds

    @property
    def path(self) -> Path:
        return self.worktree.path

    # ----- a new merge -----------------------------------------------------------------------
    def merge(self, branch: str) -> MergeOutcome:
        state = self._begin(branch)
        if isinstance(state, MergeOutcome):
            return state
        if not self.config.verify_command:
            merged = self._merge_without_checkout(state)
            if merged is not None:
                return merged
        return self._merge_in_worktree(state)

    def merge_if_clean(self, branch: str) -> MergeOutcome | None:
        state = self._begin(branch)
        if isinstance(state, MergeOutcome):
            return state
        if not self.config.verify_command:
            return self._merge_without_checkout(state)
        if not self.trees.merge(state.target_commit, state.branch_commit).clean:
            return None
        return self._merge_in_worktree(state)

    def merge_series_if_clean(self, branches: list[str]) -> list[MergeOutcome]:
        """See MergeQueue.merge_series_if_clean."""
        if self.config.verify_command:
            raise OrchError("a series merge needs each merge verified: merge one at a time")
        self._refuse_if_waiting()
        target, old = self.refs.target_and_tip()
        steps: list[MergeState] = []
        tip = old
        for branch in self.refs.task_branches(branches):
            step = self._new_state(branch, target, tip)
            merged = self._clean_merge_commit(step)
            if merged is None:
                break
            step.stage, step.merged_commit, tip = "advancing", merged, merged
            steps.append(step)
        if not steps:
            return []
        if not self.worktree.exists():
            self.worktree.ensure(old)  # it holds the state file
        whole = replace(steps[-1], target_commit=old)
        self.state_file.save(whole)
        last = self.advancer.advance(whole)
        if last.status != MergeStatus.MERGED:
            self.state_file.clear()  # the target did not move: nothing changed
            return []
        earlier = steps[:-1]
        # Which branch is checked out where did not change since the target moved.
        dispositions = self.advancer.disposal.dispose_all(earlier, tip, self.advancer.last_listing)
        return [self._series_outcome(step, disposition) for step, disposition in zip(earlier, dispositions)] + [last]

    @staticmethod
    def _series_outcome(step: MergeState, disposition: str) -> MergeOutcome:
        already = step.merged_commit == step.target_commit
        return step.outcome(MergeStatus.ALREADY_MERGED if already else MergeStatus.MERGED,
                            f"{step.branch} is already in {step.target}" if already
                            else f"{step.branch} merged into {step.target} at {step.merged_commit[:12]}",
                            commit=step.merged_commit, branch_disposition=disposition)

    def _begin(self, branch: str) -> MergeState | MergeOutcome:
        """The state of a new merge of `branch`, or the outcome when there is nothing to do."""
        self._refuse_if_waiting()
        target, old = self.refs.target_and_tip()
        state = self._new_state(branch, target, old)
        if state.merge_base == state.branch_commit:  # the commit that merged it, for the record
            merged_in = merged_by(self.main, state.branch_commit, old) or old
            return MergeOutcome(MergeStatus.ALREADY_MERGED, state.branch, state.task_id, target,
                                f"{state.branch} is already in {target}", merged_in, old,
                                branch_disposition=self.advancer.disposal.dispose(state, old))
        return state

    def _refuse_if_waiting(self) -> None:
        waiting = self.state_file.load()
        if waiting:
            raise OrchError(f"the merge of {waiting.branch} is waiting ({waiting.stage}): "
                            "continue or abort it first")

    def _new_state(self, branch: str | tuple[str, str], target: str, target_commit: str) -> MergeState:
        """`branch`: its name, or its short name and tip when they are known already."""
        short, tip = self.refs.task_branch(branch) if isinstance(branch, str) else branch
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
        def make(tree: str) -> GitResult:
            return run_commit_git(self.main, "commit-tree", tree, "-p", state.target_commit,
                                  "-p", state.branch_commit, "-m", state.message, check=False)
        return self.trees.commit(state.target_commit, state.branch_commit, make)

    def _merge_without_checkout(self, state: MergeState) -> MergeOutcome | None:
        """A clean merge made in the object store; None (nothing changed) when it would conflict.

        Until the state is saved nothing but an unreferenced object exists, so a crash before
        that point simply merges again; after it, `resume` moves the target.
        """
        merged = self._clean_merge_commit(state)
        if merged is None:
            return None
        if not self.worktree.exists():
            self.worktree.ensure(state.target_commit)  # it holds the state file
        state.stage, state.merged_commit = "advancing", merged
        self.state_file.save(state)
        return self.advancer.advance(state)

    def _merge_in_worktree(self, state: MergeState) -> MergeOutcome:
        self.worktree.ensure(state.target_commit)
        self.state_file.save(state)
        return self._run_merge(state)

    def _run_merge(self, state: MergeState) -> MergeOutcome:
        if is_ancestor(self.main, state.target_commit, state.branch_commit):
            run_git(self.path, "merge", "--quiet", "--ff-only", state.branch_commit)
        else:
            result = run_commit_git(self.path, "merge", "--no-ff", "--no-verify", "--no-edit",
                                    "-m", state.message, state.branch_commit, check=False)
            if not result.ok:
                if not self.worktree.merge_in_progress():
                    self.state_file.clear()
                    raise GitFailed(("merge", state.branch), result.status, result.err or result.out, self.path)
                state.stage = "conflict"
                state.git_messages = conflicts.conflict_lines(result.out)
                self.state_file.save(state)
                record = self.resolution.describe(state)
                return state.outcome(MergeStatus.CONFLICT, f"{state.branch} conflicts with {state.target} in "
                                     f"{len(record.files)} file(s): {', '.join(f.path for f in record.files)}",
                                     conflict=record)
        state.stage = "verifying"
        self.state_file.save(state)
        return self.verify_and_advance(state)

    # ----- after a stop ----------------------------------------------------------------------
    def resume(self, state: MergeState) -> MergeOutcome:
        """Finish the merge `state` describes: commit the resolution, verify, move the target."""
        if state.stage == "merging":
            self.worktree.ensure(state.target_commit)
            return self._run_merge(state)
        if state.stage == "conflict":
            self.resolution.commit_resolution(state)
            return self.verify_and_advance(state)
        if state.stage in ("verify_failed", "verifying"):
            self.resolution.commit_fixes(state)
            return self.verify_and_advance(state)
        return self.advancer.advance(state)

    def verify_and_advance(self, state: MergeState) -> MergeOutcome:
        verification = run_verification(list(self.config.verify_command), self.path, self.verify_timeout_seconds)
        if verification is not None and not verification.passed:
            state.stage = "verify_failed"
            self.state_file.save(state)
            return state.outcome(MergeStatus.VERIFY_FAILED,
                                 f"verification {' '.join(verification.command)} failed for {state.branch}; "
                                 f"the target was not moved (fix it in {self.path} and continue, or abort)",
                                 verification=verification)
        return self.advancer.advance(state, verification)
