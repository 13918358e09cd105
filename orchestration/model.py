"""Plain data shared by every layer: tasks and the graph they form.

Modules that own richer records (lanes, reservations, merge items, conflicts) define them
beside the code that produces them; this module holds what nearly everything reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from orch_tui.orchestration.errors import InputProblem

DONE_STATUSES = frozenset({"closed", "tombstone"})
"""Statuses that count as finished work (bv counts only `closed`; see reference/beads.md)."""

BLOCKING_TYPES = frozenset({"blocks", "conditional-blocks", ""})
"""Dependency types that block readiness by the bd 1.x rule (empty is stored as `blocks`)."""

# A task declares the files it will touch with one line in its description:
#     Files: src/api/**, docs/api.md
# Patterns are gitignore-style, separated by commas or whitespace. This is the single place
# that defines the convention; the planner, reservations, agents and importers all use it.
_FILES_LINE = re.compile(r"^\s*files\s*:\s*(?P<patterns>.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_PATTERN_SEPARATOR = re.compile(r"[,\s]+")


def parse_declared_files(description: str | None) -> tuple[str, ...]:
    """Patterns from every `Files:` line of a description, in order, without duplicates."""
    if not description:
        return ()
    patterns: list[str] = []
    for match in _FILES_LINE.finditer(description):
        for pattern in _PATTERN_SEPARATOR.split(match.group("patterns")):
            pattern = pattern.strip().strip("`")
            if pattern and pattern not in patterns:
                patterns.append(pattern)
    return tuple(patterns)


# Task and Dependency are msgspec Structs rather than dataclasses: a tracker of 10k issues
# builds ~40k of them, and a Struct is built in C (about 10x faster than a frozen dataclass)
# and, with gc=False, is never tracked by the cyclic garbage collector, which otherwise
# rescans every one of them after each load. They hold only strings, numbers, datetimes and
# the line's own JSON values, so they can never be part of a reference cycle.
class Dependency(msgspec.Struct, frozen=True, gc=False):
    """`issue_id` depends on (is blocked by) `depends_on_id` when `type` blocks."""

    issue_id: str
    depends_on_id: str
    type: str = "blocks"

    @property
    def blocks(self) -> bool:
        return self.type in BLOCKING_TYPES


_decode_json = msgspec.json.Decoder().decode


def _decode_line(line: bytes) -> dict[str, Any]:
    """A JSONL line's object read as the loader read it: msgspec, and json for what msgspec
    refuses (NaN, numbers out of range). Only lines the loader accepted get here."""
    try:
        record = _decode_json(line)
    except (ValueError, RecursionError):
        record = json.loads(line.decode("utf-8"))
    return record if isinstance(record, dict) else {}


class Task(msgspec.Struct, gc=False):
    """One Beads issue, normalised. `raw` keeps the line's original object for round-trips.

    A task read from a JSONL line of the usual shape keeps the line's bytes
    (`source_line`) and decodes `raw` from them only when asked (writers, importers): the
    planner and the dashboard never need it, and a dict per issue is most of a big
    tracker's load time and memory."""

    id: str
    title: str
    status: str = "open"
    priority: int = 2
    issue_type: str = "task"
    description: str = ""
    acceptance_criteria: str = ""
    design: str = ""
    notes: str = ""
    assignee: str = ""
    labels: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    defer_until: datetime | None = None
    close_reason: str = ""
    metadata: Any = None
    source_line: bytes = b""
    """The JSONL line `raw` is still to be decoded from (b"" once decoded or when none)."""
    raw_object: dict[str, Any] | None = None
    """`raw` once known (given by the reader, or decoded from `source_line`)."""

    @property
    def raw(self) -> dict[str, Any]:
        if self.raw_object is None:
            self.raw_object = _decode_line(self.source_line) if self.source_line else {}
            self.source_line = b""
        return self.raw_object

    def _compared(self) -> tuple[Any, ...]:  # every field but the raw record's two forms
        return tuple(getattr(self, name) for name in _TASK_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return self._compared() == other._compared()

    def __repr__(self) -> str:  # every field but the raw record, which repeats them
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _TASK_FIELDS)
        return f"Task({shown})"

    @property
    def declared_files(self) -> tuple[str, ...]:
        return parse_declared_files(self.description)

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES


_TASK_FIELDS = tuple(name for name in Task.__struct_fields__
                    if name not in ("source_line", "raw_object"))


@dataclass
class TaskGraph:
    """Every task of one tracker, plus the problems met while reading it."""

    tasks: dict[str, Task] = field(default_factory=dict)
    problems: list[InputProblem] = field(default_factory=list)
    source: str = ""
    derived: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    """What the planner worked out from these tasks (readiness), kept so that the planner
    and the dashboard work it out once a graph. A graph is not changed once read: a reload
    makes a new graph, with nothing derived yet."""

    def __len__(self) -> int:
        return len(self.tasks)

    def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)


@dataclass(frozen=True)
class Reservation:
    """One file reservation as the ledger shows it (refreshed from Agent Mail)."""

    path_pattern: str
    agent: str
    lane: int | None
    """Our lane number (1-based) when the holder is one of our lane agents, else None."""
    exclusive: bool
    expires_at: datetime | None
    conflicts: bool = False
    """True when another holder's exclusive pattern overlaps this one."""
    reason: str = ""
    reservation_id: int | str | None = None
