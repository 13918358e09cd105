"""What both reservation backends keep about their lanes: each running lane's hold, the ledger
last shown, the settings, and the watch that keeps reservations alive.

`ReservationManager` (Agent Mail, agent_mail_backend.py) and `LocalReservations`
(local_ledger.py) subclass `LaneReservations`; each adds how it claims, renews and reads its
ledger (`_watch_once` is one round of the monitor).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Generic, TypeVar

from orch_tui.orchestration.events import EventSink, ReservationsChanged
from orch_tui.orchestration.model import Reservation


@dataclass
class LaneHold:
    """A running lane's reservations as this process knows them."""

    task_id: str
    patterns: tuple[str, ...]
    expires_at: datetime | None = None


HoldT = TypeVar("HoldT", bound=LaneHold)


class LaneReservations(Generic[HoldT]):
    """The bookkeeping of `lane_count` lanes' reservations (lanes are numbered from 1)."""

    MINIMUM_TTL_SECONDS: float = 1.0

    def __init__(self, project_key: str, lane_count: int, ttl_seconds: float,
                 on_event: EventSink | None = None, *, agent_prefix: str = "lane",
                 renew_margin_seconds: float | None = None) -> None:
        if lane_count < 1:
            raise ValueError("lane_count must be at least 1")
        self.project_key = project_key
        self.lane_count = lane_count
        self.ttl_seconds = self._normal_ttl(ttl_seconds)
        self.agent_prefix = agent_prefix
        self.renew_margin_seconds = (renew_margin_seconds if renew_margin_seconds is not None
                                     else max(self.MINIMUM_TTL_SECONDS, self.ttl_seconds / 3))
        self._emit: EventSink = on_event or (lambda event: None)
        self._holds: dict[int, HoldT] = {}
        self._ledger: tuple[Reservation, ...] = ()
        self._lock = asyncio.Lock()
        """Claims, releases, renewals and reads of one backend happen one at a time."""

    def _normal_ttl(self, ttl_seconds: float) -> float:
        return max(self.MINIMUM_TTL_SECONDS, float(ttl_seconds))

    @property
    def ledger(self) -> tuple[Reservation, ...]:
        return self._ledger

    def agent_name(self, lane: int) -> str:
        return self._requested_name(lane)

    def _requested_name(self, lane: int) -> str:
        return f"{self.agent_prefix}-{lane}"

    def running_lanes(self) -> tuple[int, ...]:
        return tuple(sorted(self._holds))

    def _check_lane(self, lane: int) -> None:
        if not 1 <= lane <= self.lane_count:
            raise ValueError(f"lane must be 1..{self.lane_count}, got {lane}")

    def _refuse_second_claim(self, lane: int) -> None:
        if lane in self._holds:
            raise ValueError(f"lane {lane} already holds task {self._holds[lane].task_id}")

    def _publish(self, ledger: tuple[Reservation, ...]) -> None:
        """Show `ledger` (a `ReservationsChanged` event) when it differs from the last one."""
        if ledger != self._ledger:
            self._ledger = ledger
            self._emit(ReservationsChanged(ledger))

    def _expiring(self, expires_at: datetime | None, now: datetime) -> bool:
        """Unknown or within the renewal margin of its expiry: time to renew."""
        if expires_at is None:
            return True
        return (expires_at - now).total_seconds() <= self.renew_margin_seconds

    async def _watch_once(self) -> None:
        raise NotImplementedError

    async def run_monitor(self, interval_seconds: float = 2.0,
                          on_error: Callable[[Exception], None] | None = None) -> None:
        """Every `interval_seconds` until cancelled (an engine task), one `_watch_once()`:
        renewal, and the ledger read that shows other agents' reservations. An error goes
        to `on_error` (when given) and the watch goes on."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self._watch_once()
            except Exception as error:
                if on_error is None:
                    raise
                on_error(error)
