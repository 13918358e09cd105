"""What the engine asks of a reservation backend, and `auto`'s choice between the two.

Two backends keep lanes apart:
- `ReservationManager` (agent_mail_backend.py): MCP Agent Mail, the shared ledger other agents and
  people see. When it stops answering the lanes go sequential until it is back.
- `LocalReservations` (local_ledger.py): orch-tui's own ledger under the repository's
  git directory. Every orch-tui command of the repository sees it; other agents do not.

`reservations = "auto"` (the default) asks Agent Mail at start: when it answers and accepts
us, Agent Mail it is; otherwise the local ledger, so lanes run in parallel with nothing but
git installed. The choice holds for the life of the engine.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Protocol, Sequence

from orch_tui.orchestration.events import EventSink, Mode
from orch_tui.orchestration.reservations.local_ledger import LocalReservations
from orch_tui.orchestration.model import Reservation
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager, ReserveOutcome

class ReservationBackend(Protocol):
    """File reservations for lanes, the ledger the UI shows, and parallel/sequential mode."""

    project_key: str

    @property
    def mode(self) -> Mode: ...

    @property
    def mode_reason(self) -> str: ...

    @property
    def ledger(self) -> tuple[Reservation, ...]: ...

    def agent_name(self, lane: int) -> str: ...

    def can_start_lane(self, running_count: int) -> bool: ...

    async def start(self, adopt: Mapping[int, tuple[str, Sequence[str]]] | None = None) -> Mode: ...

    async def claim(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome: ...

    def confirming(self, lane: int) -> bool: ...

    async def confirm(self, lane: int) -> ReserveOutcome | None: ...

    async def reserve(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome: ...

    async def release(self, lane: int) -> None: ...

    async def renew_due(self) -> int: ...

    async def refresh_ledger(self) -> tuple[Reservation, ...]: ...

    async def published(self) -> tuple[Reservation, ...]: ...

    async def run_monitor(self, interval_seconds: float = 2.0,
                          on_error: Callable[[Exception], None] | None = None) -> None: ...

    async def aclose(self) -> None: ...


class AutoReservations:
    """Agent Mail when it answers at start, else the local ledger (`reservations = "auto"`)."""

    def __init__(self, agent_mail: ReservationManager, local: LocalReservations,
                 on_event: EventSink | None = None) -> None:
        self.agent_mail = agent_mail
        self.local = local
        self.project_key = local.project_key
        self._emit = on_event or (lambda event: None)
        self.chosen: ReservationBackend = local
        """The backend in use; the local ledger until `start()` has asked Agent Mail."""

    @property
    def mode(self) -> Mode:
        return self.chosen.mode

    @property
    def mode_reason(self) -> str:
        return self.chosen.mode_reason

    @property
    def ledger(self) -> tuple[Reservation, ...]:
        return self.chosen.ledger

    def agent_name(self, lane: int) -> str:
        return self.chosen.agent_name(lane)

    def can_start_lane(self, running_count: int) -> bool:
        return self.chosen.can_start_lane(running_count)

    async def start(self, adopt: Mapping[int, tuple[str, Sequence[str]]] | None = None) -> Mode:
        client = self.agent_mail.client
        if await client.liveness():
            if await self.agent_mail.start(adopt) is Mode.PARALLEL:
                self.chosen = self.agent_mail
                return Mode.PARALLEL
            why = f"Agent Mail at {client.base_url} answers but is unusable ({self.agent_mail.mode_reason})"
        else:
            why = f"no Agent Mail at {client.base_url}"
        await self.agent_mail.aclose()
        self.local.note = why
        self.chosen = self.local
        return await self.local.start(adopt)

    async def claim(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        return await self.chosen.claim(lane, task_id, patterns)

    def confirming(self, lane: int) -> bool:
        return self.chosen.confirming(lane)

    async def confirm(self, lane: int) -> ReserveOutcome | None:
        return await self.chosen.confirm(lane)

    async def reserve(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        return await self.chosen.reserve(lane, task_id, patterns)

    async def release(self, lane: int) -> None:
        await self.chosen.release(lane)

    async def renew_due(self) -> int:
        return await self.chosen.renew_due()

    async def refresh_ledger(self) -> tuple[Reservation, ...]:
        return await self.chosen.refresh_ledger()

    async def published(self) -> tuple[Reservation, ...]:
        return await self.chosen.published()

    async def run_monitor(self, interval_seconds: float = 2.0,
                          on_error: Callable[[Exception], None] | None = None) -> None:
        await self.chosen.run_monitor(interval_seconds, on_error)

    async def aclose(self) -> None:
        await self.agent_mail.aclose()
        await self.local.aclose()
