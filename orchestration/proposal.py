"""A proposed batch as plain data: which tasks were picked for lanes, which were left out,
and why. `planning/batch.py` builds it; events, the snapshot and front ends carry it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchChoice:
    task_id: str
    title: str
    priority: int
    picked: bool
    reason: str
    files: tuple[str, ...]
    track_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "title": self.title, "priority": self.priority,
                "picked": self.picked, "reason": self.reason, "files": list(self.files),
                "track_id": self.track_id}


@dataclass
class BatchProposal:
    batch_size: int
    picked: list[BatchChoice] = field(default_factory=list)
    """Lane order: lane 1 first."""
    left_out: list[BatchChoice] = field(default_factory=list)
    """Ready tasks not picked first, then every other unfinished issue, each by priority."""
    cycles: list[list[str]] = field(default_factory=list)
    predicted_conflicts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Task id -> files its kept branch (work from an earlier attempt) would conflict on."""

    def to_json(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size,
                "picked": [choice.to_json() for choice in self.picked],
                "left_out": [choice.to_json() for choice in self.left_out],
                "cycles": [list(cycle) for cycle in self.cycles]}

    @property
    def task_ids(self) -> list[str]:
        return [choice.task_id for choice in self.picked]
