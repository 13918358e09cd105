"""Whether a task can be dispatched without reaching outside its lane, and why not.

A task's id becomes a branch and a directory name, and its `Files:` patterns become
reservations and tell the coder agent where to write. Both come from task text, which anyone
who can write a task controls, so the planner never proposes a task that fails these checks
(the reason says what to fix) and the JSONL reader reports them as problems with the line:

- the id must be a safe branch and directory name (`task_refs`);
- no two ids may differ only in case: their branches `orch/bd-A` and `orch/bd-a` are one
  file on a case-insensitive file system (macOS, Windows), so one would overwrite the other;
- a `Files:` pattern stays inside the repository: not absolute (`/etc/passwd`), not from a
  home directory (`~/`), no drive letter (`C:`), no backslash, no `..` segment, and not in
  git's own directory (`.git`, any case, at any depth).
"""

from __future__ import annotations

import re
from typing import Iterable

from orch_tui.orchestration.model import Task
from orch_tui.orchestration.tracker.task_refs import task_id_problem

PATTERN_FIX = "declare paths relative to the repository root, e.g. `Files: src/api/**, docs/api.md`"
ID_FIX = "use letters, digits, '.', '_' and '-' only (for example bd-a1b2)"
CASE_FIX = "rename one of the two issues so their ids differ in more than case"
_DRIVE = re.compile(r"^[A-Za-z]:")
# Anything `pattern_problem` could object to; text without any of it needs no closer look
# (reading every description's Files: line would slow loading a big tracker by a tenth).
# One regex of six alternatives tried at every character cost a 10k-issue load 25 ms, so
# each kind is looked for on its own, the plain substrings first (same answers).
_GIT_DIR = re.compile(r"\.git", re.IGNORECASE)
_ROOTED_AFTER_SEPARATOR = re.compile(r"[\s,:`]/")
_DRIVE_AFTER_SEPARATOR = re.compile(r"[\s,`][A-Za-z]:", re.IGNORECASE)
_DRIVE_AT_START = re.compile(r"[A-Za-z]:", re.IGNORECASE)


def might_escape(description: str) -> bool:
    """A cheap first look: False when no `Files:` pattern in `description` can leave the repository."""
    if "~" in description or "\\" in description or ".." in description:
        return True
    if "." in description and _GIT_DIR.search(description):
        return True
    if "/" in description and (description[0] == "/" or _ROOTED_AFTER_SEPARATOR.search(description)):
        return True
    return ":" in description and (_DRIVE_AT_START.match(description) is not None
                                   or _DRIVE_AFTER_SEPARATOR.search(description) is not None)


def pattern_problem(pattern: str) -> str | None:
    """Why a `Files:` pattern reaches outside the repository, or None when it stays inside."""
    text = pattern.strip()
    if text.startswith("/"):
        return f"{pattern!r} is an absolute path"
    if text.startswith("~"):
        return f"{pattern!r} points into a home directory"
    if _DRIVE.match(text) or "\\" in text:
        return f"{pattern!r} is a Windows path (write it with / relative to the repository)"
    segments = text.split("/")
    if ".." in segments:
        return f"{pattern!r} climbs out of the repository with '..'"
    if any(segment.casefold() == ".git" for segment in segments):
        return f"{pattern!r} points into git's own directory (.git)"
    return None


def files_problem(patterns: Iterable[str]) -> str | None:
    """The first pattern that reaches outside the repository, described; None when all stay in."""
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            return f"its Files: pattern {problem}"
    return None


def id_problem(task_id: str) -> str | None:
    problem = task_id_problem(task_id)
    return f"its id cannot be a git branch name: it {problem}" if problem else None


def case_twins(task_ids: Iterable[str]) -> dict[str, str]:
    """Each id that differs from another id only in case, mapped to the first (in sorted
    order) of the others."""
    task_ids = list(task_ids)
    if len({task_id.casefold() for task_id in task_ids}) == len(set(task_ids)):
        return {}  # the usual case, found without building groups
    groups: dict[str, list[str]] = {}
    for task_id in task_ids:
        groups.setdefault(task_id.casefold(), []).append(task_id)
    twins: dict[str, str] = {}
    for found in groups.values():
        members = sorted(set(found))
        if len(members) > 1:
            for task_id in members:
                twins[task_id] = next(other for other in members if other != task_id)
    return twins


def dispatch_problem(task: Task, files: tuple[str, ...], twins: dict[str, str]) -> str | None:
    """Why `task` must not be handed to a lane, with the fix; None when it is safe."""
    problem = id_problem(task.id)
    if problem:
        return f"{problem} ({ID_FIX})"
    twin = twins.get(task.id)
    if twin is not None:
        return (f"its id differs from {twin} only in case: their branches would collide on a "
                f"case-insensitive file system ({CASE_FIX})")
    problem = files_problem(files)
    if problem:
        return f"{problem} ({PATTERN_FIX})"
    return None
