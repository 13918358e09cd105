"""Task ids turned into git branch names and directory names, only after validation.

A task id comes from the task store (and so, indirectly, from anyone who can write a task).
It becomes `orch/<task-id>` (a branch), `refs/orch-archive/<task-id>` (an archived branch)
and possibly a directory name, so it must obey git's ref rules and must never climb out of
the worktree pool. Rather than escaping odd characters (two ids could then map to one
branch), ids outside the safe alphabet are refused with a clear error.

The safe alphabet: ASCII letters, digits, `.`, `_`, `-`; first character a letter or digit;
no `..`; not ending in `.` or `.lock`; at most 100 characters. Beads ids (`bd-a1b2`,
`orch-tui-3.1`) all fit.
"""

from __future__ import annotations

import re

from orch_tui.orchestration.errors import BadInput

BRANCH_PREFIX = "orch/"
"""Task branches live under `refs/heads/orch/`."""
ARCHIVE_NAMESPACE = "refs/orch-archive/"
"""Merged task branches are kept (policy `archive`) as `refs/orch-archive/<task-id>`."""
MAX_TASK_ID_LENGTH = 100

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _problem(task_id: object) -> str | None:
    if not isinstance(task_id, str) or not task_id:
        return "is empty"
    if len(task_id) > MAX_TASK_ID_LENGTH:
        return f"is longer than {MAX_TASK_ID_LENGTH} characters"
    if not _SAFE_ID.fullmatch(task_id):
        odd = sorted({ch for ch in task_id if not (ch.isascii() and (ch.isalnum() or ch in "._-"))})
        if odd:
            shown = " ".join(repr(ch) for ch in odd)
            return f"contains characters not allowed in a branch or directory name: {shown}"
        return "must start with a letter or a digit"
    if ".." in task_id:
        return "contains '..'"
    if task_id.endswith(".") or task_id.endswith(".lock"):
        return "must not end with '.' or '.lock'"
    return None


def validate_task_id(task_id: str) -> str:
    """`task_id` itself when it can name a branch and a directory; BadInput otherwise."""
    problem = _problem(task_id)
    if problem:
        raise BadInput(f"task id {task_id!r} cannot be used as a git branch name: it {problem}",
                       fix="use letters, digits, '.', '_' and '-' only (for example bd-a1b2)")
    return task_id


def task_branch(task_id: str) -> str:
    """Short branch name for a task: `orch/<task-id>`."""
    return BRANCH_PREFIX + validate_task_id(task_id)


def archive_ref(task_id: str) -> str:
    """Full ref under which a merged task branch is archived."""
    return ARCHIVE_NAMESPACE + validate_task_id(task_id)


def task_dir_name(task_id: str) -> str:
    """A directory name for a task (one path component, never `.`/`..` or a separator)."""
    return validate_task_id(task_id)


def task_id_from_branch(branch: str) -> str | None:
    """The task id of `orch/<id>` or `refs/heads/orch/<id>`; None for any other branch."""
    name = branch.removeprefix("refs/heads/")
    if not name.startswith(BRANCH_PREFIX):
        return None
    candidate = name[len(BRANCH_PREFIX):]
    return candidate if _problem(candidate) is None else None


def task_id_problem(task_id: object) -> str | None:
    """Why `task_id` cannot name a branch (a phrase that follows "it"), or None when it can."""
    return _problem(task_id)
