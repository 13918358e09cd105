"""Evidence before merge: the result of `lane_check_command` run in a lane after its agent.

Pass or fail, how long it took and the tail of its output travel with the lane and its merge
item (events, snapshot, journal), so the merge queue, the approval of the next batch and a
person deciding about a held merge all see the same evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

TAIL_SHOWN = 20


class CheckAnswer(StrEnum):
    """What a person decides about a lane whose check failed."""

    MERGE = "merge"
    """Merge anyway (verify_command in the merge worktree still runs last)."""
    RETRY = "retry"
    """Give the task back to an agent, with the failure as a follow-up, first in the next batch."""
    DROP = "drop"
    """Do not merge; the task is reopened and its work stays on its branch."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    seconds: float
    output_tail: str
    command: str
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "CheckResult | None":
        if not isinstance(data, dict):
            return None
        return cls(bool(data.get("passed")), float(data.get("seconds", 0.0)),
                   str(data.get("output_tail", "")), str(data.get("command", "")),
                   str(data.get("summary", "")))

    def short(self) -> str:
        """`passed 1.2 s` / `FAILED 0.4 s`: the merge queue's cell."""
        return f"{'passed' if self.passed else 'FAILED'} {self.seconds:.1f} s"

    def follow_up(self) -> str:
        """What the next agent is told when a person sends the task back after this check."""
        return (f"The lane check `{self.command}` failed on your previous attempt ({self.summary}). "
                "Your earlier work is on this branch. Make the check pass. Its output ended with:\n\n"
                f"{self.output_tail}")

