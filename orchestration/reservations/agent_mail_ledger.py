"""Reading Agent Mail's reservation ledger for the dashboard and for `claim()`.

The server serializes its work (a git commit per reservation), so reads are shared: callers
that ask while a read is on its way share the next one, and reads a claim or a release
starts run in the background (`published()` waits for them).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Callable

from orch_tui.orchestration.model import Reservation
from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailError
from orch_tui.orchestration.reservations.agent_mail_replies import ActiveReservation
from orch_tui.orchestration.reservations.claims import with_conflicts


class LedgerReads:
    """Reads of one project's active reservations, published through `publish`."""

    def __init__(self, client: AgentMailClient, project_key: str,
                 lanes_by_agent: Callable[[], dict[str, int]],
                 publish: Callable[[tuple[Reservation, ...]], None],
                 lost: Callable[[AgentMailError], None]) -> None:
        self.client = client
        self.project_key = project_key
        self.slug = ""
        """The project's slug once `ensure_project` named it (the key until then)."""
        self._lanes_by_agent = lanes_by_agent
        self._publish = publish
        self._lost = lost
        self._lock = asyncio.Lock()
        self._asked = 0
        self._served = 0
        self._reading: asyncio.Task[None] | None = None
        self._again = False

    async def active(self) -> tuple[ActiveReservation, ...]:
        """The project's reservations that are neither released nor expired."""
        now = datetime.now(timezone.utc)
        rows = await self.client.active_reservations(self.slug or self.project_key)
        return tuple(row for row in rows if row.active_at(now))

    async def fetch(self) -> tuple[Reservation, ...]:
        """The ledger as the dashboard shows it (each record's lane, when it is ours)."""
        lanes = self._lanes_by_agent()
        return with_conflicts([Reservation(
            path_pattern=row.path_pattern, agent=row.agent, lane=lanes.get(row.agent),
            exclusive=row.exclusive, expires_at=row.expires_at, reason=row.reason,
            reservation_id=row.id) for row in await self.active()])

    async def refresh(self) -> None:
        """Read and publish the ledger; callers that asked while a read was already on its
        way share the next read instead of each making one."""
        self._asked += 1
        asked = self._asked
        async with self._lock:
            if self._served >= asked:
                return
            covers = self._asked
            ledger = await self.fetch()
            self._served = covers
            self._publish(ledger)

    def reading(self) -> bool:
        return self._reading is not None and not self._reading.done()

    def refresh_soon(self, claims_waiting: bool) -> None:
        """Read the ledger in the background: a lane starts without waiting for the
        reservation table to be redrawn. While claims await the server, the read waits for
        the last answer (its `refresh_soon`): the server serializes its work."""
        self._again = True
        if claims_waiting:
            return
        if not self.reading():
            self._reading = asyncio.create_task(self._read_in_background())

    async def _read_in_background(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.refresh()
            except AgentMailError as exc:
                self._lost(exc)
                return

    async def settled(self) -> None:
        """Returns once the background reads begun so far have answered."""
        while self._reading is not None and not self._reading.done():
            await asyncio.wait([self._reading])

    async def aclose(self) -> None:
        """Stop a background read."""
        reading = self._reading
        if reading is None:
            return
        reading.cancel()
        await asyncio.wait([reading])  # its own failures went to `lost`; anything else is a bug
        failure = None if reading.cancelled() else reading.exception()
        if failure is not None:
            raise failure
