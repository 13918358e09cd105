"""What a restarted engine does with what the last orchestrator left: git's word is final.

orch-tui keeps state in four stores that no transaction spans: git (the target branch, the
task branches `orch/<id>`, their archives `refs/orch-archive/<id>`, the worktrees), the
journal (`<git dir>/orch-tui/journal.json`, plus the merge queue's state file and the
checkout-update record), Beads (task status) and Agent Mail (reservations). A kill -9 can
fall between any two writes, so every write that spans stores happens in this order, and
the start-up step named after each gap puts things right:

Running a task (engine/lanes.py `_run_lane`, `_lane_body`, `_finish_lane`)
  1. journal: lane record `dispatching`
  2. git: lane worktree on `orch/<id>` at the base; Agent Mail: the task's files claimed
  3. journal: lane record `running` (worktree path)
  4. Beads: `in_progress`, assignee `lane-<n>`
  5. git: leftovers committed on `orch/<id>` (the agent's edits), lane detached, the
     agent's edits to `.beads/` dropped by one more commit
  6. journal: lane `committed` with a pending merge record (failure: Beads `open` first)
  7. Agent Mail: the claim released
  Killed before 6: the lane reruns on its own branch (`resume_plan`; pool.recover has
  committed whatever the agent left). Killed before 7: the reservation manager releases
  what our lane agents hold for no running lane when it connects.

Merging a task (engine/merges.py `_merge_one`/`_merge_series`, merging/queue.py)
  1. journal: merge `merging`
  2. git: the merge commit, unreferenced, then the queue's state file (`advancing`)
  3. checkout-update record (only when the target is checked out), then the target moves
     (compare-and-swap `update-ref`, or `git merge --ff-only` in the person's checkout),
     then the record is removed
  4. git: `orch/<id>` archived to `refs/orch-archive/<id>` and deleted (one transaction)
  5. the queue's state file removed
  6. journal: merge `merged` with its commit
  7. Beads: `closed`, "merged by orch-tui in <commit>"
  8. journal: batch finished (cleared) once every merge of the batch is done
  (A merge that needs the merge worktree, for a conflict or `verify_command`, saves the
  state file `merging` first and then lets git merge there.)
  Killed before the state file: only an unreferenced object exists; the merge is redone.
  Killed in 3: MergeQueue.recover undoes a half-updated checkout (checkout_update.py).
  Killed before 5: the queue's state file makes `continue_merge` finish the move.
  Killed between 4 and 6: the branch is gone, so `settle_merges` finds the work in the
  archive (or the queue's state, or a lane's reflog) and, merged, records it as merged.
  Killed between 6 and 7: `settle_merges` closes every task the journal has merged.
  Any task still `in_progress` in one of our lanes that nothing resumes (the journal lost
  it) is closed when its archived work is on the target, else reopened with a note:
  `settle_orphans`. Nothing is left `in_progress` without a lane working on it.

Locks git leaves when killed are removed in orch-tui's own worktrees and refs, never in
the person's checkout on a guess (stale_locks.py, checkout_update.py). Beads and the
journal are replaced by a rename, so a kill leaves the old file or the new one, and at most
a temporary copy, which `remove_interrupted_tracker_writes` deletes.
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from orch_tui.orchestration.engine.parts import EngineParts

from orch_tui.orchestration.tracker.directory_lock import directory_lock
from orch_tui.orchestration.infra.git_exec import run_git
from orch_tui.orchestration.engine.journal import JournalState, LaneRecord, MergeRecord
from orch_tui.orchestration.model import TaskGraph
from orch_tui.orchestration.infra.processes import processes_working_in
from orch_tui.orchestration.tracker.task_refs import archive_ref, task_branch
from orch_tui.orchestration.lanes.worktrees import branch_tip, merged_by
from orch_tui.orchestration.states import LaneState, MergeStatus

_FINISHED = LaneState.COMMITTED
_OUR_ASSIGNEE = re.compile(r"lane-\d+")


def repair_at_start(parts: EngineParts) -> list[str]:
    """What a killed orchestrator left in git and in files, put right before anything else
    runs git: the merge queue's (locks, the person's checkout) and the tracker's."""
    return [*parts.merges.recover(), *remove_interrupted_tracker_writes(parts.repo)]


def remove_interrupted_tracker_writes(repo: Path) -> list[str]:
    """A kill while the tracker was being rewritten leaves the temporary copy beside it in
    `.beads/` (the tracker itself is whole: it is replaced by a rename). Removed under the
    tracker's lock, which every writer of ours takes."""
    beads = repo / ".beads"
    if not beads.is_dir():
        return []
    with directory_lock(beads):
        leftovers = [path for path in beads.glob(".*.jsonl.*.tmp") if path.is_file()]
        for path in leftovers:
            path.unlink(missing_ok=True)
    if not leftovers:
        return []
    return [f"removed {', '.join(path.name for path in leftovers)} from {beads}: a half-written copy of the "
            "tracker, left by the killed orchestrator (the tracker itself is whole)"]


@dataclass
class ResumePlan:
    rerun: list[str] = field(default_factory=list)
    """Task ids whose agents were interrupted: they run again on their existing branches."""
    messages: list[str] = field(default_factory=list)


def stop_leftover_agents(directory: Path) -> list[int]:
    """Kill agents a crashed orchestrator left running in a lane; the pids killed."""
    killed = []
    for pid in processes_working_in(directory):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        killed.append(pid)
    return killed


def resume_plan(parts: EngineParts, saved: JournalState) -> ResumePlan:
    """Lanes to rerun and merges to settle. Blocking (git, Beads): run it in a thread.

    Interrupted lane records stay in the journal (the rerun appends a newer one), so a
    crash before the rerun has started finds them again; the newest record of a task wins.
    """
    plan = ResumePlan()
    newest: dict[str, LaneRecord] = {}
    for lane in saved.lanes:
        newest[lane.task_id] = lane
    for lane in newest.values():
        if lane.status == _FINISHED:
            continue
        if lane.worktree:
            killed = stop_leftover_agents(Path(lane.worktree))
            if killed:
                plan.messages.append(f"lane {lane.lane}: stopped {len(killed)} agent process(es) "
                                     "left running by the previous orchestrator")
        plan.rerun.append(lane.task_id)
        plan.messages.append(f"lane {lane.lane}: {lane.task_id} was interrupted; it runs again on "
                             f"{lane.branch}, keeping the commits already there")
    saved.lanes = list(newest.values())
    plan.messages += settle_merges(parts, saved)
    waiting = [merge for merge in saved.merges if merge.state not in (MergeStatus.MERGED, MergeStatus.SKIPPED)]
    if waiting:
        plan.messages.append(f"{len(waiting)} finished task(s) still to merge: "
                             + ", ".join(merge.task_id for merge in waiting))
    return plan


def live_tasks(plan: ResumePlan, saved: JournalState | None) -> set[str]:
    """Tasks the resumed batch works on: rerun lanes and merges still to do."""
    pending = {merge.task_id for merge in saved.merges
               if merge.state not in (MergeStatus.MERGED, MergeStatus.SKIPPED)} if saved else set()
    return set(plan.rerun) | pending


# ----- merges: the journal against git ----------------------------------------------------
def settle_merges(parts: EngineParts, saved: JournalState) -> list[str]:
    """Make the journal's merges agree with git and Beads (see the module docstring)."""
    messages: list[str] = []
    for merge in saved.merges:
        if merge.state == MergeStatus.MERGED:
            messages += close_merged(parts, merge.task_id, merge.commit)
        elif merge.state != MergeStatus.SKIPPED and branch_tip(parts.repo, merge.branch) is None:
            messages += _settle_lost_branch(parts, saved, merge)
    return messages


def close_merged(parts: EngineParts, task_id: str, commit: str | None) -> list[str]:
    """Close a merged task in Beads unless it already is (idempotent)."""
    task = parts.store.load().tasks.get(task_id)
    if task is None or task.status == "closed":
        return []
    commit = commit or parts.merges.target_commit()
    parts.store.update(task_id, status="closed", close_reason=f"merged by orch-tui in {commit[:12]}")
    return [f"{task_id}: merged in {commit[:12]} before the previous orchestrator stopped, but not yet "
            "closed in Beads: closed now"]


def _settle_lost_branch(parts: EngineParts, saved: JournalState, merge: MergeRecord) -> list[str]:
    """A finished task whose branch git no longer has: find its work, or reopen it."""
    found = find_lost_work(parts, saved, merge)
    if found is None:
        merge.state = MergeStatus.SKIPPED
        parts.store.update(merge.task_id, status="open", assignee="",
                           note=f"orch-tui: branch {merge.branch} was lost after a crash and its work was "
                                f"found neither in {archive_ref(merge.task_id)} nor in any lane's reflog; "
                                "the task runs again from the start")
        return [f"{merge.task_id}: {merge.branch} is gone and its work cannot be found; the task is "
                "reopened (its note says what was lost)"]
    commit, where = found
    target_tip = parts.merges.target_commit()
    merged_in = merged_by(parts.repo, commit, target_tip)
    if merged_in is None:
        run_git(parts.repo, "branch", "--quiet", merge.branch, commit)
        return [f"{merge.task_id}: {merge.branch} was missing; recreated at {commit[:12]} from {where}; "
                "it merges as planned"]
    state = parts.merges.merge_state()
    if state is not None and state.branch == merge.branch:
        parts.merges.continue_merge()  # the queue's own record of this merge: let it finish
    merge.state, merge.commit = MergeStatus.MERGED, merged_in
    return [f"{merge.task_id}: {merge.branch} had been merged in {merged_in[:12]} before the previous "
            f"orchestrator stopped (found in {where})", *close_merged(parts, merge.task_id, merged_in)]


def find_lost_work(parts: EngineParts, saved: JournalState, merge: MergeRecord) -> tuple[str, str] | None:
    """(commit, where it was found) of a task branch git no longer has, or None."""
    archived = run_git(parts.repo, "rev-parse", "--verify", "--quiet", archive_ref(merge.task_id),
                       check=False)
    if archived.ok:
        return archived.out.strip(), archive_ref(merge.task_id)
    state = parts.merges.merge_state()
    if state is not None and state.branch == merge.branch:
        return state.branch_commit, "the merge queue's state"
    for lane in reversed(saved.lanes):
        if lane.task_id == merge.task_id and lane.worktree and Path(lane.worktree).exists():
            tip = _tip_in_reflog(Path(lane.worktree), merge.branch)
            if tip:
                return tip, f"the reflog of lane {lane.lane}"
    return None


def _tip_in_reflog(worktree: Path, branch: str) -> str | None:
    """Where `branch` was when the lane last left it (the lane detaches at the branch's tip)."""
    result = run_git(worktree, "reflog", "show", "--format=%H%x00%gs", "HEAD", check=False)
    for line in result.out.splitlines() if result.ok else []:
        commit, _, subject = line.partition("\0")
        if subject.startswith(f"checkout: moving from {branch} to "):
            return commit
    return None


# ----- Beads: tasks of ours nothing works on ------------------------------------------------
def settle_orphans(parts: EngineParts, graph: TaskGraph, live: set[str]) -> list[str]:
    """Tasks `in_progress` in one of our lanes that no lane or merge of the resumed batch
    holds: closed when their archived work is on the target, else reopened with a note."""
    messages: list[str] = []
    target_tip: str | None = None
    for task in graph.tasks.values():
        if task.status != "in_progress" or task.id in live or not _OUR_ASSIGNEE.fullmatch(task.assignee):
            continue
        target_tip = target_tip or parts.merges.target_commit()
        archived = run_git(parts.repo, "rev-parse", "--verify", "--quiet", archive_ref(task.id), check=False)
        merged_in = merged_by(parts.repo, archived.out.strip(), target_tip) if archived.ok else None
        if merged_in is not None:
            messages += close_merged(parts, task.id, merged_in)
            continue
        branch = task_branch(task.id)
        kept = f"work kept on {branch}" if branch_tip(parts.repo, branch) else "no branch of it was found"
        parts.store.update(task.id, status="open", assignee="",
                           note=f"orch-tui: found in_progress after a restart with no lane working on it; "
                                f"reopened ({kept})")
        messages.append(f"{task.id} was in_progress with no lane working on it after the restart: "
                        f"reopened ({kept})")
    return messages
