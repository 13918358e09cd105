"""Which tasks the next proposal may pick: a person's drops and pins, and tasks held back."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TaskChoices:
    """What the engine remembers between proposals (for this session only)."""

    dropped: set[str] = field(default_factory=set)
    """Dropped from the proposal by a person: not proposed again in this round of proposals."""
    pinned: list[str] = field(default_factory=list)
    """Proposed first, in this order (kept by a swap, or retried)."""
    held_back: dict[str, str] = field(default_factory=dict)
    """Tasks that failed in this session, and why: not proposed again until a person retries them."""
    follow_ups: dict[str, str] = field(default_factory=dict)
    """A failed lane check's output, for the next agent of a task a person sent back."""

    def drop(self, task_id: str) -> None:
        self.dropped.add(task_id)
        self.pinned = [pinned for pinned in self.pinned if pinned != task_id]

    def swap(self, task_id: str, picked: list[str]) -> None:
        """Keep the rest of the batch (`picked`), replace `task_id` by the next ready task."""
        self.pinned = [other for other in picked if other != task_id]
        self.dropped.add(task_id)

    def forget_proposal(self) -> None:
        """A batch was approved or rejected: its drops and pins are done with."""
        self.dropped.clear()
        self.pinned.clear()

    def hold_back(self, task_id: str, what: str) -> None:
        self.held_back[task_id] = f"{what}: not proposed again until retried"

    def retry(self, task_id: str) -> None:
        if task_id not in self.pinned:
            self.pinned.insert(0, task_id)
        self.dropped.discard(task_id)
        self.held_back.pop(task_id, None)
