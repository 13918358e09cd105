"""What a restarted engine does with the batch the journal says was in flight.

Lanes that had finished keep their committed work and go on to the merge queue. Lanes whose
agent was still running are stopped for good (any agent process still working in the lane
is killed; the pool has already committed what it left) and their tasks run again on the
same branch, so no commit is lost. A merge in progress is picked up by the merge queue from
its own state file (see merge.py).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal import JournalState

_FINISHED = "committed"


@dataclass
class ResumePlan:
    rerun: list[str] = field(default_factory=list)
    """Task ids whose agents were interrupted: they run again on their existing branches."""
    messages: list[str] = field(default_factory=list)


def processes_working_in(directory: Path) -> list[int]:
    """Pids of processes whose current directory is `directory` or below (Linux /proc)."""
    root = os.path.realpath(directory)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(int(entry.name))
    return found


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


def resume_plan(parts: Any, saved: JournalState) -> ResumePlan:
    plan = ResumePlan()
    for lane in saved.lanes:
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
    saved.lanes = [lane for lane in saved.lanes if lane.status == _FINISHED]
    waiting = [merge for merge in saved.merges if merge.state not in ("merged", "skipped")]
    if waiting:
        plan.messages.append(f"{len(waiting)} finished task(s) still to merge: "
                             + ", ".join(merge.task_id for merge in waiting))
    return plan
