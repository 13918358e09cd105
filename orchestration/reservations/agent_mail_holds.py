"""Keeping the server's reservations in step with the running lanes' holds.

Requests a lane's patterns, renews them before they expire, takes again what the server
dropped early, and at start (after a crash) adopts what our lane agents still hold for a
running lane and releases the rest. Every call here may raise `AgentMailError`; the manager
decides what a failure means (sequential mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
from orch_tui.orchestration.reservations.agent_mail_agents import LaneAgents
from orch_tui.orchestration.reservations.agent_mail_ledger import LedgerReads
from orch_tui.orchestration.reservations.agent_mail_replies import ActiveReservation, Grant, ReservationId, earliest
from orch_tui.orchestration.reservations.claims import REASON_PREFIX, Holder
from orch_tui.orchestration.reservations.lane_holds import LaneHold


@dataclass
class ServerHold(LaneHold):
    """A running lane's hold and what the server holds for it."""

    ids: tuple[ReservationId, ...] = ()
    established: bool = False
    """True when the server holds the patterns for this lane (not in sequential mode)."""
    requesting: bool = False
    """The first request is in flight: renewal and reconciliation leave the hold alone."""

    def forget_server(self) -> None:
        """The server is gone (sequential mode): nothing of ours is known to be held there."""
        self.established, self.ids, self.expires_at = False, (), None


class HoldSync:
    """The server side of the lanes' holds, as the lanes' agents."""

    def __init__(self, client: AgentMailClient, agents: LaneAgents, reads: LedgerReads,
                 ttl_seconds: float) -> None:
        self.client = client
        self.agents = agents
        self.reads = reads
        self.ttl_seconds = ttl_seconds

    async def request(self, lane: int, hold: ServerHold, patterns: tuple[str, ...]
                      ) -> tuple[tuple[Grant, ...], tuple[Holder, ...]]:
        """Ask the server for `patterns` on behalf of `lane`; record grants in `hold`."""
        answer = await self.client.reserve_paths(self.agents.arguments(lane, "file_reservation_paths", {
            "paths": list(patterns), "ttl_seconds": self.ttl_seconds, "exclusive": True,
            "reason": f"{REASON_PREFIX}{hold.task_id}",
        }))
        hold.ids += tuple(grant.id for grant in answer.granted)
        hold.expires_at = earliest([hold.expires_at, *(grant.expires_at for grant in answer.granted)])
        hold.established = True
        lanes = self.agents.lanes_by_agent()
        conflicts = tuple(Holder(path=held.path, agent=held.agent, path_pattern=held.path_pattern,
                                 lane=lanes.get(held.agent), exclusive=held.exclusive,
                                 expires_at=held.expires_at) for held in answer.conflicts)
        return answer.granted, conflicts

    async def release_all(self, lane: int) -> None:
        await self.client.release_reservations(
            self.agents.arguments(lane, "release_file_reservations", {}))

    async def release_ids(self, lane: int, ids: Iterable[ReservationId]) -> None:
        chosen = list(ids)
        if chosen:
            await self.client.release_reservations(self.agents.arguments(
                lane, "release_file_reservations", {"file_reservation_ids": chosen}))

    async def renew(self, lane: int, hold: ServerHold) -> None:
        """Extend the hold's reservations; take again any the server dropped behind our back
        (expired, or judged inactive)."""
        if hold.ids:
            answer = await self.client.renew_reservations(self.agents.arguments(
                lane, "renew_file_reservations",
                {"extend_seconds": self.ttl_seconds, "file_reservation_ids": list(hold.ids)}))
            if len(answer.renewed) >= len(hold.ids):
                hold.expires_at = earliest([grant.expires_at for grant in answer.renewed])
                return
        rows = [row for row in await self.reads.active() if row.agent == self.agents.name(lane)]
        await self.reconcile_lane(lane, hold, rows)

    async def reconcile(self, holds: Mapping[int, ServerHold], lane_count: int) -> None:
        """Match the server to our holds: adopt what it has, take what is missing, and
        release what our lane agents hold for no running lane (a crashed run's leftovers)."""
        lanes = self.agents.lanes_by_agent()
        by_lane: dict[int, list[ActiveReservation]] = {}
        for row in await self.reads.active():
            lane = lanes.get(row.agent)
            if lane is not None:
                by_lane.setdefault(lane, []).append(row)
        for lane in range(1, lane_count + 1):
            await self.reconcile_lane(lane, holds.get(lane), by_lane.get(lane, []))

    async def reconcile_lane(self, lane: int, hold: ServerHold | None,
                             rows: list[ActiveReservation]) -> None:
        if hold is not None and hold.requesting:
            return
        wanted = set(hold.patterns) if hold else set()
        keep = [row for row in rows if row.path_pattern in wanted]
        await self.release_ids(lane, (row.id for row in rows if row not in keep))
        if hold is None:
            return
        hold.ids = tuple(row.id for row in keep)
        hold.expires_at = earliest([row.expires_at for row in keep])
        kept = {row.path_pattern for row in keep}
        missing = tuple(pattern for pattern in hold.patterns if pattern not in kept)
        if missing:
            await self.request(lane, hold, missing)  # running already: conflicts are shown
        hold.established = True
