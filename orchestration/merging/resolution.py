"""A person resolving a stopped merge: the conflict record, choices per hunk or file, their
own content, and committing the result in the merge worktree.

The choices are kept in the state file (state_file.py) and the conflict record is rebuilt
from the merge worktree's index each time (conflicts.py), so both survive a restart.
"""

from __future__ import annotations

from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.infra.git_exec import run_git
from orch_tui.orchestration.infra.git_commits import run_commit_git
from orch_tui.orchestration.lanes.worktrees import status_entries
from orch_tui.orchestration.merging import conflicts
from orch_tui.orchestration.merging.conflicts import Conflict, ConflictFile
from orch_tui.orchestration.merging.records import MergeState
from orch_tui.orchestration.merging.state_file import MergeStateFile


class ConflictResolution:
    """Resolving the merge waiting in the merge worktree (which the state file belongs to)."""

    def __init__(self, state_file: MergeStateFile) -> None:
        self.state_file = state_file
        self.path = state_file.worktree.path

    def describe(self, state: MergeState) -> Conflict:
        """The conflict record of a merge stopped by conflicts, with the choices made so far."""
        files = [conflicts.describe_file(self.path, path, stages, state.resolutions.get(path, {}),
                                         state.git_messages)
                 for path, stages in sorted(conflicts.unmerged_stages(self.path).items())]
        return Conflict(state.branch, state.task_id, state.target, state.target_commit, state.branch_commit,
                        files, state.git_messages, worktree=str(self.path))

    def resolve_hunk(self, path: str, hunk_index: int, choice: str) -> ConflictFile:
        """Take ours, theirs or both for one hunk of a conflicted text file."""
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
        self.state_file.save(state)
        return conflicts.describe_file(self.path, path, stages, state.resolutions[path], state.git_messages)

    def resolve_file(self, path: str, choice: str) -> ConflictFile:
        """Take ours, theirs or both for a whole file (ours/theirs also settle delete and binary conflicts)."""
        state, stages = self._conflict_state(path)
        state.resolutions[path] = {"whole": conflicts.write_file_choice(self.path, path, stages, choice)}
        self.state_file.save(state)
        return conflicts.describe_file(self.path, path, stages, state.resolutions[path], state.git_messages)

    def write_resolution(self, path: str, content: str | bytes | None) -> None:
        """A person's own content for a conflicted file (None: the file is deleted). After a failed
        verification, any file of the merge worktree may be written this way."""
        state = self.state_file.load()
        if state is not None and state.stage in ("verify_failed", "verifying"):
            conflicts.write_content(self.path, path, content)
            return
        state, _ = self._conflict_state(path)
        state.resolutions[path] = {"whole": conflicts.write_content(self.path, path, content)}
        self.state_file.save(state)

    def commit_resolution(self, state: MergeState) -> None:
        """Commit the resolved merge; the merge is then `verifying`. OrchError naming the files
        still unresolved."""
        record = state.conflict or self.describe(state)
        if record.unresolved:
            raise OrchError(f"still unresolved: {', '.join(record.unresolved)}; choose ours, theirs, both "
                            "or write the file for each")
        for item in record.files:
            conflicts.stage_resolved(self.path, item.path, item.resolution)
        run_commit_git(self.path, "commit", "--quiet", "--no-verify", "--no-edit")
        state.stage, state.resolutions = "verifying", {}
        self.state_file.save(state)

    def commit_fixes(self, state: MergeState) -> None:
        """Commit what a person changed in the merge worktree after a failed verification."""
        if status_entries(self.path, untracked_cache=True):
            run_git(self.path, "add", "--all")
            run_commit_git(self.path, "commit", "--quiet", "--no-verify", "-m",
                           f"Fix the merge of {state.branch} after verification failed")

    def _conflict_state(self, path: str) -> tuple[MergeState, conflicts.Stages]:
        state = self.state_file.load()
        if state is None or state.stage != "conflict":
            raise OrchError("no merge conflict is waiting to be resolved")
        stages = conflicts.unmerged_stages(self.path).get(path)
        if stages is None:
            raise BadInput(f"{path!r} is not a conflicted file of the merge of {state.branch}",
                           fix="choose one of the files listed in the conflict")
        return state, stages
