"""The vocabulary both reservation backends answer in: a lane's claim, its outcome, the
holders that refuse it, and the ledger records the dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable, Mapping, Sequence

from orch_tui.orchestration.events import Mode
from orch_tui.orchestration.infra.patterns import first_overlap, patterns_overlap
from orch_tui.orchestration.reservations.lane_holds import LaneHold
from orch_tui.orchestration.model import Reservation

REASON_PREFIX = "orch-tui task "
"""A lane's reservations say which task holds them: `orch-tui task <id>`."""


@dataclass(frozen=True)
class Holder:
    """Who holds a pattern that conflicts with one we asked for."""

    path: str
    """Our pattern that conflicts."""
    agent: str
    path_pattern: str
    """The holder's pattern."""
    lane: int | None = None
    exclusive: bool = True
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ReserveOutcome:
    """The answer to `reserve()`: `acquired` means the lane may start now."""

    lane: int
    task_id: str
    acquired: bool
    mode: Mode
    granted: tuple[str, ...] = ()
    """Patterns the server holds for the lane (empty in sequential mode)."""
    conflicts: tuple[Holder, ...] = ()
    reason: str = ""

    def describe(self) -> str:
        if self.acquired:
            return self.reason or f"lane {self.lane}: {len(self.granted)} pattern(s) reserved"
        held = "; ".join(f"{c.path} held by {c.agent} ({c.path_pattern})" for c in self.conflicts)
        return f"lane {self.lane} not started: {held or self.reason}"


def clean_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Patterns stripped, without empties or duplicates, in order."""
    return tuple(dict.fromkeys(p.strip() for p in patterns if p and p.strip()))


def with_conflicts(records: Sequence[Reservation]) -> tuple[Reservation, ...]:
    """The records, each marked when another agent's record overlaps it (the table's flag)."""
    return tuple(replace(record, conflicts=conflicts_with_others(record, records)) for record in records)


def conflicts_with_others(record: Reservation, records: Sequence[Reservation]) -> bool:
    return any(other.agent != record.agent and (other.exclusive or record.exclusive)
               and patterns_overlap(other.path_pattern, record.path_pattern)
               for other in records)


def without_agent(ledger: Sequence[Reservation], agent: str) -> tuple[Reservation, ...]:
    return with_conflicts([record for record in ledger if record.agent != agent])


def lane_conflicts(holds: Mapping[int, LaneHold], lane: int, wanted: tuple[str, ...],
                   agent_name: Callable[[int], str]) -> tuple[Holder, ...]:
    """Our other lanes' patterns that overlap `wanted` (the server misses some wildcard pairs)."""
    found = []
    for other, hold in sorted(holds.items()):
        pair = first_overlap(wanted, hold.patterns) if other != lane else None
        if pair:
            found.append(Holder(path=pair[0], agent=agent_name(other), path_pattern=pair[1], lane=other,
                                expires_at=hold.expires_at))
    return tuple(found)


def ledger_conflicts(ledger: Sequence[Reservation], wanted: tuple[str, ...]) -> tuple[Holder, ...]:
    """Other agents' exclusive reservations in the last ledger read that overlap `wanted`."""
    found = []
    for record in ledger:
        if record.lane is not None or not record.exclusive:
            continue
        pair = first_overlap(wanted, (record.path_pattern,))
        if pair:
            found.append(Holder(path=pair[0], agent=record.agent, path_pattern=record.path_pattern,
                                expires_at=record.expires_at))
    return tuple(found)
