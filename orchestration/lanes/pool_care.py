"""Pool care: what the lane worktrees hold and cost, pruning the surplus, resetting a lane.

Worktrees fill disks (caches and virtual environments live in each lane on purpose). This
module looks at every `lane-N` worktree under the pool root, removes the lanes a smaller
batch size no longer uses and the stale entries git still lists, and returns a lane to a
clean state. Nothing with uncommitted work is removed or reset without `force`; every
plan is said (`PoolAction.describe`) before it is carried out.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.infra.git_exec import run_git
from orch_tui.orchestration.lanes.setup import remember_setup
from orch_tui.orchestration.lanes.worktrees import (MERGE_DIR_NAME, list_worktrees, operation_in_progress, same_path,
                        status_and_branch)
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir

_LANE_NAME = re.compile(r"^lane-(\d+)$")


@dataclass
class PoolEntry:
    """One worktree of the pool, as it is on disk now."""

    name: str
    """`lane-3`, or `merge` for the merge queue's worktree."""
    path: str
    lane: int | None
    branch: str | None
    state: str
    """idle (detached, clean), assigned (on a task branch, clean), uncommitted, busy (a merge
    or rebase under way), missing (git lists it, the directory is gone), unregistered."""
    disk_bytes: int = 0
    last_used: float | None = None
    """When its checkout last moved (HEAD changed), as time.time()."""
    uncommitted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PoolReport:
    root: str
    batch_size: int
    entries: list[PoolEntry]

    @property
    def total_bytes(self) -> int:
        return sum(entry.disk_bytes for entry in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "batch_size": self.batch_size, "total_bytes": self.total_bytes,
                "entries": [entry.to_dict() for entry in self.entries]}


@dataclass
class PoolAction:
    """One thing prune or reset will do (or refuses to do without force)."""

    entry: PoolEntry
    what: str
    """remove, prune-entry, reset, or keep (refused: `reason` says why)."""
    reason: str = ""

    def describe(self) -> str:
        size = f" ({human_bytes(self.entry.disk_bytes)})" if self.entry.disk_bytes else ""
        text = {"remove": f"remove {self.entry.path}{size}",
                "prune-entry": f"forget stale worktree entry {self.entry.path} (its directory is gone)",
                "reset": f"reset {self.entry.name} to a clean detached checkout",
                "keep": f"keep {self.entry.path}"}[self.what]
        return text + (f": {self.reason}" if self.reason else "")

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "path": self.entry.path, "lane": self.entry.lane,
                "reason": self.reason, "disk_bytes": self.entry.disk_bytes}


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def disk_bytes(path: Path) -> int:
    """Bytes `path` takes on disk (like `du`): symlinks are not followed."""
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as listing:
                for item in listing:
                    try:
                        info = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += getattr(info, "st_blocks", 0) * 512 or info.st_size
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(Path(item.path))
        except OSError:
            continue  # vanished or unreadable while we looked: count what we could see
    return total


def pool_disk_bytes(root: Path) -> int:
    """Total disk use of the pool directory (0 when there is none yet)."""
    return disk_bytes(root) if root.is_dir() else 0


def pool_report(main: Path, root: Path, batch_size: int, *, with_disk: bool = True) -> PoolReport:
    """Every lane worktree (and the merge worktree) under `root`, registered or not."""
    registered = [info for info in list_worktrees(main)[1:] if _under(info.path, root)]
    entries: list[PoolEntry] = []
    seen: list[str] = []
    for info in registered:
        name = Path(info.path).name
        seen.append(info.path)
        branch = info.branch.removeprefix("refs/heads/") if info.branch else None
        entries.append(_entry(name, Path(info.path), branch, registered=True, with_disk=with_disk))
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir() and not any(same_path(child, path) for path in seen) and \
                    (_LANE_NAME.match(child.name) or child.name == MERGE_DIR_NAME):
                entries.append(_entry(child.name, child, None, registered=False, with_disk=with_disk))
    entries.sort(key=lambda entry: (entry.lane is None, entry.lane or 0, entry.name))
    return PoolReport(str(root), batch_size, entries)


def _under(path: str, root: Path) -> bool:
    return Path(os.path.realpath(path)).parent == Path(os.path.realpath(root))


def _entry(name: str, path: Path, branch: str | None, *, registered: bool, with_disk: bool) -> PoolEntry:
    match = _LANE_NAME.match(name)
    entry = PoolEntry(name, str(path), int(match.group(1)) if match else None, branch, "idle")
    if not path.exists():
        entry.state = "missing"
        return entry
    if not registered:
        entry.state = "unregistered"
    elif operation_in_progress(path):
        entry.state = "busy"
    else:
        entries, branch_now = status_and_branch(path)
        entry.branch = branch_now
        entry.uncommitted = [item[3:] for item in entries]
        entry.state = "uncommitted" if entries else ("assigned" if branch_now else "idle")
        head = worktree_git_dir(path) / "HEAD"
        entry.last_used = head.stat().st_mtime if head.exists() else None
    if with_disk:
        entry.disk_bytes = disk_bytes(path)
    return entry


# ----- prune ---------------------------------------------------------------------------------
def plan_prune(report: PoolReport, *, force: bool) -> list[PoolAction]:
    """Lanes beyond the batch size and stale entries go; nothing with uncommitted work
    (or a merge under way) goes without `force`. Lanes within the batch size stay."""
    actions = []
    for entry in report.entries:
        if entry.state == "missing":
            actions.append(PoolAction(entry, "prune-entry"))
        elif entry.lane is None or entry.lane <= report.batch_size:
            continue  # in use by the pool (or the merge worktree): never pruned
        elif entry.state == "unregistered":
            actions.append(PoolAction(entry, "keep", "not a git worktree of this repository; move it away by hand"))
        elif entry.state in ("uncommitted", "busy") and not force:
            what = ("uncommitted work: " + ", ".join(entry.uncommitted[:5])
                    + (" ..." if len(entry.uncommitted) > 5 else "")) if entry.state == "uncommitted" \
                else "a merge or rebase is under way there"
            actions.append(PoolAction(entry, "keep", f"{what} (commit it, or use --force to discard it)"))
        else:
            actions.append(PoolAction(entry, "remove", f"lane {entry.lane} is beyond the batch size "
                                                       f"{report.batch_size}" + (
                                          "; its uncommitted work is DISCARDED (--force)"
                                          if entry.state in ("uncommitted", "busy") else "")))
    return actions


def carry_out_prune(main: Path, actions: list[PoolAction]) -> list[str]:
    """Do the removals of `plan_prune`; one line per thing done."""
    done = []
    for action in actions:
        if action.what == "remove":
            run_git(main, "worktree", "remove", "--force", action.entry.path)
            done.append(f"removed {action.entry.path}")
    if any(action.what == "prune-entry" for action in actions):
        run_git(main, "worktree", "prune")
        done.append("pruned stale worktree entries")
    return done


# ----- reset ---------------------------------------------------------------------------------
def plan_reset(report: PoolReport, lane: int, *, force: bool) -> PoolAction:
    entry = next((item for item in report.entries if item.lane == lane), None)
    if entry is None:
        known = ", ".join(str(item.lane) for item in report.entries if item.lane) or "none"
        raise BadInput(f"lane {lane} is not in the pool at {report.root} (lanes: {known})",
                       fix="give a lane number `orch-tui pool status` lists")
    if entry.state in ("missing", "unregistered"):
        return PoolAction(entry, "keep", f"lane {lane} is {entry.state}; `orch-tui pool prune` "
                                         "forgets a missing one, the next run recreates it")
    if entry.state in ("uncommitted", "busy") and not force:
        what = "uncommitted work: " + ", ".join(entry.uncommitted[:5]) if entry.state == "uncommitted" \
            else "a merge or rebase is under way there"
        return PoolAction(entry, "keep", f"{what} (commit it, or use --force to discard it)")
    note = "; its uncommitted work is DISCARDED (--force)" if entry.state in ("uncommitted", "busy") else ""
    branch = f"; branch {entry.branch} keeps its commits" if entry.branch else ""
    return PoolAction(entry, "reset", f"detached at the main checkout's HEAD, untracked files removed, "
                                      f"ignored caches kept, setup runs again next time{branch}{note}")


def carry_out_reset(main: Path, action: PoolAction) -> list[str]:
    if action.what != "reset":
        return []
    path = Path(action.entry.path)
    if action.entry.state == "busy":
        for args in (("merge", "--abort"), ("rebase", "--abort"), ("cherry-pick", "--abort")):
            run_git(path, *args, check=False)
    head = run_git(main, "rev-parse", "HEAD").out.strip()
    run_git(path, "reset", "--hard", "--quiet")
    run_git(path, "clean", "-fdq")  # untracked only: ignored caches stay (as in the pool)
    run_git(path, "switch", "--quiet", "--detach", head)
    remember_setup(path, None)
    return [f"reset {action.entry.name} to {head[:12]} (detached, clean)"]


def age_text(last_used: float | None, now: float | None = None) -> str:
    if last_used is None:
        return "-"
    seconds = max(0, int((now or time.time()) - last_used))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


__all__ = ["PoolAction", "PoolEntry", "PoolReport", "age_text", "carry_out_prune", "carry_out_reset",
           "disk_bytes", "human_bytes", "plan_prune", "plan_reset", "pool_disk_bytes", "pool_report"]
