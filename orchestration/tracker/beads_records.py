"""Beads issue records (one JSON object each) to Task, tolerant of every dialect.

Shared by the JSONL store and the bd store: both see the same record shape (bd 1.x
`list --json` prints the same fields the JSONL export holds). Dialects handled here:
old local-offset nanosecond and 1.x UTC timestamps, int or string comment ids (comments
stay in `raw`), `depends_on` / `target_id` aliases, custom statuses and dependency types,
missing optional fields.
"""

from __future__ import annotations

from datetime import datetime
from sys import intern
from typing import Any

import msgspec

from orch_tui.orchestration.model import Dependency, Task

DEPENDS_ON_KEYS = ("depends_on_id", "depends_on", "target_id")
"""Keys different tools use for the issue a dependency points at (canonical first)."""


class RecordError(ValueError):
    """A record that cannot become a Task (no usable id); the message says what is wrong."""


def parse_timestamp(value: Any) -> datetime | None:
    """RFC 3339 text to datetime; None for missing or unreadable values.

    Python 3.11's fromisoformat reads both `2025-12-25T12:05:48.588283-08:00` and
    `2026-04-18T16:19:12Z`, and truncates 9-digit fractions to microseconds.
    """
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def is_issue_record(record: dict[str, Any]) -> bool:
    """1.x exports may interleave other record kinds (`"_type":"memory"`); skip those."""
    kind = record.get("_type")
    return kind is None or kind == "issue"


def depends_on_of(entry: dict[str, Any]) -> str:
    for key in DEPENDS_ON_KEYS:
        value = entry.get(key)
        if value:
            return str(value)
    if "dependency_type" in entry and entry.get("id"):  # `bd show --json` nests the target issue
        return str(entry["id"])
    return ""


def dependency_type_of(entry: dict[str, Any]) -> str:
    """The entry's type; Beads stores an empty type as `blocks`."""
    return _text(entry.get("type") or entry.get("dependency_type")) or "blocks"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _priority(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip().upper().removeprefix("P"))
    except ValueError:
        return 2


def _dependencies(task_id: str, entries: Any, parent: Any = None) -> tuple[Dependency, ...]:
    if not isinstance(entries, list):
        entries = []
    seen: dict[tuple[str, str], Dependency] = {}
    if parent and isinstance(parent, str):  # bd's `parent` field is a parent-child edge
        entries = [*entries, {"depends_on_id": parent, "type": "parent-child"}]
    for entry in entries:
        if entry.__class__ is dict:
            # Fast path for the canonical shape; aliases and odd values take the slow one.
            target = entry.get("depends_on_id")
            if target.__class__ is not str or not target:
                target = depends_on_of(entry)
            dep_type = entry.get("type")
            if dep_type.__class__ is not str or not dep_type:
                dep_type = dependency_type_of(entry)
        elif isinstance(entry, str):  # some tools list bare ids
            target, dep_type = entry, "blocks"
        else:
            continue
        if not target:
            continue
        key = (target, dep_type)
        if key not in seen:
            seen[key] = Dependency(task_id, target, dep_type)
    return tuple(seen.values())


_TEXT_FIELDS = ("title", "status", "issue_type", "description", "acceptance_criteria", "design",
                "notes", "assignee", "close_reason")


def task_from_record(record: Any) -> Task:
    """One issue record to a Task (the record itself is kept as `task.raw`)."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, found {type(record).__name__}")
    task_id = record.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise RecordError("the issue has no \"id\" string")
    get = record.get
    # Missing fields are the common case: the "" default skips `_text` for them.
    texts = [value if value.__class__ is str else _text(value)
             for value in [get(name, "") for name in _TEXT_FIELDS]]
    title, status, issue_type, description, acceptance, design, notes, assignee, reason = texts
    labels = get("labels")
    priority = get("priority", 2)
    dependencies = get("dependencies")
    parent = get("parent")
    closed_at, defer_until = get("closed_at"), get("defer_until")
    return Task(
        id=task_id,
        title=title,
        status=status or "open",
        priority=priority if priority.__class__ is int else _priority(priority),
        issue_type=issue_type or "task",
        description=description,
        acceptance_criteria=acceptance,
        design=design,
        notes=notes,
        assignee=assignee,
        labels=tuple(str(label) for label in labels) if isinstance(labels, list) else (),
        dependencies=_dependencies(task_id, dependencies, parent) if dependencies or parent else (),
        created_at=parse_timestamp(get("created_at")),
        updated_at=parse_timestamp(get("updated_at")),
        closed_at=parse_timestamp(closed_at) if closed_at else None,
        defer_until=parse_timestamp(defer_until) if defer_until else None,
        close_reason=reason,
        metadata=get("metadata"),
        raw_object=record,
    )


# --- The usual shape, read without a dict --------------------------------------------------
# A JSONL line whose fields all have their usual types decodes straight into `IssueLine`
# (about twice as fast as a dict, and no dict per issue is kept: `Task.raw` is decoded from
# the line only when asked). Any other line - null or numeric text, a string priority,
# aliased or bare-string dependencies, a `parent` field, no id - fails to decode or is
# refused by `task_from_line`, and takes the dict path (`task_from_record`), which reads
# every dialect; both paths give the same Task for a line they both read.


class _DependencyEntry(msgspec.Struct, gc=False):
    depends_on_id: str = ""
    type: str = ""


class IssueLine(msgspec.Struct, gc=False):
    """The fields of an issue line a Task is made of, with their usual JSON types."""

    id: str = ""
    title: str = ""
    status: str = ""
    priority: int = 2
    issue_type: str = ""
    description: str = ""
    acceptance_criteria: str = ""
    design: str = ""
    notes: str = ""
    assignee: str = ""
    close_reason: str = ""
    labels: list[str] = []
    dependencies: list[_DependencyEntry] = []
    created_at: Any = None
    updated_at: Any = None
    closed_at: Any = None
    defer_until: Any = None
    metadata: Any = None
    parent: Any = None
    kind: Any = msgspec.field(default=None, name="_type")

    @property
    def is_issue(self) -> bool:
        """Like `is_issue_record`: other record kinds (`"_type":"memory"`) are skipped."""
        return self.kind is None or self.kind == "issue"


decode_issue_line = msgspec.json.Decoder(IssueLine).decode
"""bytes -> IssueLine; raises msgspec's errors (ValueError) for any other shape."""


def task_from_line(fields: IssueLine, line: bytes) -> Task | None:
    """The Task of a line of the usual shape (keeping `line` for `raw`), or None when the
    line needs the dict path: no usable id, a `parent` field, or a dependency whose target
    or type is empty (those take aliases or defaults)."""
    task_id = fields.id
    if not task_id.strip() or fields.parent is not None:
        return None
    # Ids, statuses and dependency types are interned: an edge's target is then the very
    # string the graph is keyed by (the planner's lookups compare pointers, not text), and
    # 30k copies of "blocks" are one string.
    task_id = intern(task_id)
    dependencies: tuple[Dependency, ...] = ()
    entries = fields.dependencies
    if entries:
        for entry in entries:
            if not entry.depends_on_id or not entry.type:
                return None
        found = [Dependency(task_id, intern(entry.depends_on_id), intern(entry.type))
                 for entry in entries]
        # The same edge twice is kept once, the first (as `_dependencies` does).
        unique = len(found) == 1 or len(set(found)) == len(found)
        dependencies = tuple(found) if unique else tuple(dict.fromkeys(found))
    created, updated, closed, defer = (fields.created_at, fields.updated_at, fields.closed_at,
                                       fields.defer_until)
    # Positional, in Task's field order: a Struct takes 19 keywords ~4x slower, and this
    # runs once an issue (tests/unit/tracker/test_beads_typed_lines.py compares every field
    # with task_from_record's keyword-built Task).
    return Task(
        task_id,
        fields.title,
        intern(fields.status) if fields.status else "open",
        fields.priority,
        intern(fields.issue_type) if fields.issue_type else "task",
        fields.description,
        fields.acceptance_criteria,
        fields.design,
        fields.notes,
        fields.assignee,
        tuple(fields.labels),
        dependencies,
        parse_timestamp(created) if created else None,
        parse_timestamp(updated) if updated else None,
        parse_timestamp(closed) if closed else None,
        parse_timestamp(defer) if defer else None,
        fields.close_reason,
        fields.metadata,
        line,
    )
