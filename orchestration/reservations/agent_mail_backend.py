"""File reservations for lanes through Agent Mail, with a sequential fallback.

One project key (the main repository's absolute path) and one agent per lane. A lane takes
its task's declared patterns exclusively in two steps: `claim()` checks them at once against
our own lanes' patterns and the other agents' reservations in the last ledger read, and
`confirm()` asks the server, which may know of a newer holder; any conflict means "not
acquired", and whatever was granted is given back. The engine starts the lane's agent after
the claim and stops it if the server refuses: the server serializes reservations (a git
commit each, ~60 ms), so waiting for it would start the last of four lanes ~0.2 s late,
while an agent in its own worktree touches nobody else's files in the meantime.
`reserve()` does both steps for callers that wait. The server's overlap check misses some
wildcard pairs, so the patterns our own lanes hold are also compared locally
(`patterns.first_overlap`).

Agent Mail unreachable (at start or mid-batch) or refusing us puts the manager in sequential
mode: lanes already running keep running, `can_start_lane()` lets a new lane start only when
none runs, and the ledger is empty (unknown). When the server answers again, the running
lanes' reservations are re-established (adopting what the server still holds) and parallel
mode resumes. Each switch is a `ModeChanged` event; each ledger change a
`ReservationsChanged` event.

The engine runs `run_monitor()`, which calls `check_health()`, `renew_due()` and
`refresh_ledger()` periodically: renewal keeps running lanes' reservations from expiring,
re-registering the lane agent keeps it visibly active (the servers release inactive agents'
reservations early), and the ledger read shows `claim()` other agents' new reservations.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from orch_tui.orchestration.events import EventSink, Mode, ModeChanged, ReservationsChanged
from orch_tui.orchestration.model import Reservation
from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailError, AgentMailToolError
from orch_tui.orchestration.reservations.agent_mail_agents import LaneAgents
from orch_tui.orchestration.reservations.agent_mail_holds import HoldSync, ServerHold
from orch_tui.orchestration.reservations.agent_mail_ledger import LedgerReads
from orch_tui.orchestration.reservations.claims import (REASON_PREFIX, Holder, ReserveOutcome, clean_patterns, lane_conflicts,
                                                       ledger_conflicts, without_agent)
from orch_tui.orchestration.reservations.lane_holds import LaneReservations

__all__ = ["REASON_PREFIX", "Holder", "ReservationManager", "ReserveOutcome"]

CONNECT_ATTEMPTS = 2


class ReservationManager(LaneReservations[ServerHold]):
    """Reservations, ledger and parallel/sequential mode for `lane_count` lanes (async)."""

    MINIMUM_TTL_SECONDS = 60

    def __init__(self, client: AgentMailClient, project_key: str, lane_count: int,
                 ttl_seconds: int, on_event: EventSink | None = None, *,
                 agent_prefix: str = "lane", activity_interval_seconds: float = 600.0,
                 renew_margin_seconds: float | None = None) -> None:
        super().__init__(project_key, lane_count, ttl_seconds, on_event, agent_prefix=agent_prefix,
                         renew_margin_seconds=renew_margin_seconds)
        self.client = client
        self._mode = Mode.SEQUENTIAL
        self._mode_reason = "not started"
        self._announced = False
        """The first mode `start()` settles on is announced even when it is sequential."""
        self._agents = LaneAgents(client, project_key, self._requested_name, activity_interval_seconds)
        self._reads = LedgerReads(client, project_key, self._agents.lanes_by_agent, self._publish, self._lost)
        self._server = HoldSync(client, self._agents, self._reads, self.ttl_seconds)

    def _normal_ttl(self, ttl_seconds: float) -> float:
        return max(60, int(ttl_seconds))  # whole seconds, the servers' 60 s minimum

    # ------------------------------------------------------------------ state

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def mode_reason(self) -> str:
        return self._mode_reason

    @property
    def server_build(self) -> str | None:
        build = self.client.build
        return build.name if build else None

    def agent_name(self, lane: int) -> str:
        """The lane's agent name as the server knows it (the requested name before start)."""
        return self._agents.name(lane)

    def can_start_lane(self, running_count: int) -> bool:
        """Parallel: always (reservations keep lanes apart). Sequential: only when none runs."""
        return self._mode is Mode.PARALLEL or running_count == 0

    # ------------------------------------------------------------------ start

    async def start(self, adopt: Mapping[int, tuple[str, Sequence[str]]] | None = None) -> Mode:
        """Connect, register the lane agents and clean up after a crashed run.

        `adopt` names lanes still running from a previous run (lane -> task id, patterns):
        their reservations on the server are kept and renewed; every other reservation our
        lane agents hold is released. Never raises: trouble means sequential mode.
        """
        async with self._lock:
            for lane, (task_id, patterns) in (adopt or {}).items():
                self._check_lane(lane)
                self._holds[lane] = ServerHold(task_id, clean_patterns(patterns))
            if not await self.client.liveness():
                self._switch(Mode.SEQUENTIAL, f"Agent Mail at {self.client.base_url} "
                                              "is not answering")
                return self._mode
            await self._try_connect()
            return self._mode

    async def _try_connect(self) -> bool:
        ledger = await self._connect_with_retry()
        if ledger is None:
            return False
        build = self.client.build.name if self.client.build else "unknown"
        self._switch(Mode.PARALLEL, f"Agent Mail ({build} build) at {self.client.base_url}")
        self._publish(ledger)
        return True

    async def _connect_with_retry(self) -> tuple[Reservation, ...] | None:
        """Connect and read the ledger; None (now sequential) when that fails."""
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                await self._connect()
                return await self._reads.fetch()
            except AgentMailToolError as exc:  # a server-side hiccup: worth another try
                error: AgentMailError = exc
                await asyncio.sleep(0.2 * (attempt + 1))
            except AgentMailError as exc:
                error = exc
                break
        self._switch(Mode.SEQUENTIAL, f"Agent Mail unusable: {error}")
        return None

    async def _connect(self) -> None:
        await self.client.detect_build(refresh=True)
        self._reads.slug = (await self.client.ensure_project(self.project_key)).slug
        for lane in range(1, self.lane_count + 1):
            await self._agents.register(lane, self._task_description(lane))
        await self._server.reconcile(self._holds, self.lane_count)

    def _task_description(self, lane: int) -> str:
        hold = self._holds.get(lane)
        return f"{REASON_PREFIX}{hold.task_id}" if hold else "idle lane"

    # ------------------------------------------------------------------ reserve / release

    async def reserve(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        """Reserve a task's patterns (exclusive) for `lane`, waiting for the server's answer.

        `claim()` then `confirm()`; a server that fails on the way puts the manager in
        sequential mode and the lane is answered as a sequential-mode lane.
        """
        claimed = await self.claim(lane, task_id, patterns)
        if not claimed.acquired or not self.confirming(lane):
            return claimed
        outcome = await self.confirm(lane)
        if outcome is not None:
            return outcome
        async with self._lock:  # the server failed: we are sequential now
            self._holds.pop(lane, None)
            return self._reserve_sequential(lane, task_id, claimed.granted)

    async def claim(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        """Claim a task's patterns for `lane` from what is known here, without the server.

        Refused when they overlap a pattern one of our lanes holds, or one another agent held
        at the last ledger read. In parallel mode an acquired claim still awaits `confirm()`
        (the server may know of a newer holder); `granted` lists the claimed patterns.
        """
        self._check_lane(lane)
        wanted = clean_patterns(patterns)
        async with self._lock:
            self._refuse_second_claim(lane)
            local = lane_conflicts(self._holds, lane, wanted, self.agent_name)
            if local:
                return ReserveOutcome(lane, task_id, False, self._mode, conflicts=local,
                                      reason="overlaps a running lane's patterns")
            if self._mode is not Mode.PARALLEL:
                return self._reserve_sequential(lane, task_id, wanted)
            known = ledger_conflicts(self._ledger, wanted)
            if known:
                return ReserveOutcome(lane, task_id, False, self._mode, conflicts=known,
                                      reason="held by another agent")
            self._holds[lane] = ServerHold(task_id, wanted, requesting=bool(wanted), established=not wanted)
            reason = (f"lane {lane}: {len(wanted)} pattern(s) claimed" if wanted
                      else "the task declares no files: nothing to reserve")
            return ReserveOutcome(lane, task_id, True, self._mode, granted=wanted, reason=reason)

    def confirming(self, lane: int) -> bool:
        """True while the lane's claim waits for the server's answer."""
        hold = self._holds.get(lane)
        return hold is not None and hold.requesting

    async def confirm(self, lane: int) -> ReserveOutcome | None:
        """The server's answer to the lane's claim: acquired, or refused with the holders the
        server knows (the claim is then given back). None when the server failed: the
        manager is sequential now and the claim stays, like any running lane's."""
        hold = self._holds.get(lane)
        if hold is None:
            raise ValueError(f"lane {lane} has no claim to confirm")
        if not hold.requesting:
            return ReserveOutcome(lane, hold.task_id, True, self._mode, granted=hold.patterns,
                                  reason=self._mode_reason if self._mode is not Mode.PARALLEL else "")
        return await self._reserve_on_server(lane, hold)

    def _reserve_sequential(self, lane: int, task_id: str,
                            wanted: tuple[str, ...]) -> ReserveOutcome:
        if self._holds:
            return ReserveOutcome(lane, task_id, False, self._mode,
                                  reason=f"sequential mode ({self._mode_reason}): "
                                         f"lane(s) {self.running_lanes()} still running")
        self._holds[lane] = ServerHold(task_id, wanted)
        return ReserveOutcome(lane, task_id, True, self._mode,
                              reason=f"sequential mode, no reservations: {self._mode_reason}")

    async def _reserve_on_server(self, lane: int, hold: ServerHold) -> ReserveOutcome | None:
        """Parallel-mode reservation of a claimed hold; None when the server failed."""
        try:
            granted, conflicts = await self._server.request(lane, hold, hold.patterns)
            if conflicts:
                self._holds.pop(lane, None)
                await self._server.release_ids(lane, (grant.id for grant in granted))
        except AgentMailError as exc:
            self._lost(exc)
            return None
        finally:
            hold.requesting = False
        self._refresh_soon()
        if conflicts:
            return ReserveOutcome(lane, hold.task_id, False, self._mode, conflicts=conflicts,
                                  reason="held by another agent")
        return ReserveOutcome(lane, hold.task_id, True, self._mode, granted=hold.patterns)

    async def release(self, lane: int) -> None:
        """Give back the lane's reservations (finish, failure or abort). Never raises."""
        self._check_lane(lane)
        async with self._lock:
            hold = self._holds.pop(lane, None)
            if hold is None or self._mode is not Mode.PARALLEL:
                return
            try:
                await self._server.release_all(lane)
            except AgentMailError as exc:
                self._lost(exc)
                return
            # What the server gave back is known: no read needed (a batch's lanes finish
            # together, and the server's reads compete with their merges for the CPU).
            self._publish(without_agent(self._ledger, self.agent_name(lane)))
            if self._reads.reading():
                self._refresh_soon()  # a read begun before the release: read again after it

    # ------------------------------------------------------------------ renew

    async def renew_due(self) -> int:
        """Renew reservations close to expiry and keep busy lane agents visibly active.

        Reservations the server dropped early are taken again. Returns how many lanes were
        renewed or re-established. Never raises.
        """
        async with self._lock:
            if self._mode is not Mode.PARALLEL:
                return 0
            done = 0
            now = datetime.now(timezone.utc)
            try:
                for lane, hold in sorted(self._holds.items()):
                    await self._agents.keep_active(lane, self._task_description(lane))
                    if hold.patterns and not hold.requesting and (
                            not hold.established or self._expiring(hold.expires_at, now)):
                        await self._server.renew(lane, hold)
                        done += 1
            except AgentMailError as exc:
                self._lost(exc)
                return done
            if done:
                await self._reads.refresh()
            return done

    # ------------------------------------------------------------------ ledger

    async def refresh_ledger(self) -> tuple[Reservation, ...]:
        """The server's active reservations for the project (empty in sequential mode)."""
        async with self._lock:
            if self._mode is Mode.PARALLEL:
                try:
                    await self._reads.refresh()
                except AgentMailError as exc:
                    self._lost(exc)
            return self._ledger

    def _refresh_soon(self) -> None:
        """Read the ledger in the background: a lane starts without waiting for the
        reservation table to be redrawn (`published()` waits for it)."""
        self._reads.refresh_soon(claims_waiting=any(hold.requesting for hold in self._holds.values()))

    async def published(self) -> tuple[Reservation, ...]:
        """The ledger once the reads that reserve() and release() started have answered."""
        await self._reads.settled()
        return self._ledger

    async def aclose(self) -> None:
        """Stop background reads and close the client."""
        await self._reads.aclose()
        await self.client.aclose()

    # ------------------------------------------------------------------ health

    async def check_health(self) -> Mode:
        """Probe the server; switch to sequential when it is gone, back when it returns."""
        alive = await self.client.liveness()
        async with self._lock:
            if self._mode is Mode.PARALLEL and not alive:
                self._switch(Mode.SEQUENTIAL,
                             f"Agent Mail at {self.client.base_url} stopped answering (no health answer "
                             f"within {self.client.liveness_timeout:g} s: down, or too slow)")
            elif self._mode is Mode.SEQUENTIAL and alive:
                await self._try_connect()
            return self._mode

    async def _watch_once(self) -> None:
        """Probe health, renew, and read the ledger, which `claim()` checks other agents'
        reservations against."""
        await self.check_health()
        if self._mode is Mode.PARALLEL:
            await self.renew_due()
            await self.refresh_ledger()

    def _lost(self, error: AgentMailError) -> None:
        self._switch(Mode.SEQUENTIAL, f"Agent Mail failed: {error}")

    def _switch(self, mode: Mode, reason: str) -> None:
        changed = mode is not self._mode or not self._announced
        self._mode, self._mode_reason, self._announced = mode, reason, True
        if mode is Mode.SEQUENTIAL:
            for hold in self._holds.values():
                hold.forget_server()
            if self._ledger:
                self._ledger = ()
                self._emit(ReservationsChanged(()))
        if changed:
            self._emit(ModeChanged(mode, reason))
