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
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailError, AgentMailToolError
from orch_tui.orchestration.events import EventSink, Mode, ModeChanged, ReservationsChanged
from orch_tui.orchestration.model import Reservation
from orch_tui.orchestration.infra.patterns import first_overlap, patterns_overlap

PROGRAM = "orch-tui"
MODEL = "orchestrator"
REASON_PREFIX = "orch-tui task "
CONNECT_ATTEMPTS = 2


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


@dataclass
class _Hold:
    """A running lane's reservations as we know them."""

    task_id: str
    patterns: tuple[str, ...]
    ids: tuple[Any, ...] = ()
    expires_at: datetime | None = None
    established: bool = False
    """True when the server holds the patterns for this lane (not in sequential mode)."""
    requesting: bool = False
    """The first request is in flight: renewal and reconciliation leave the hold alone."""


@dataclass
class _Agent:
    name: str
    registration_token: str | None = field(default=None, repr=False)
    last_active: float = 0.0


class ReservationManager:
    """Reservations, ledger and parallel/sequential mode for `lane_count` lanes (async)."""

    def __init__(self, client: AgentMailClient, project_key: str, lane_count: int,
                 ttl_seconds: int, on_event: EventSink | None = None, *,
                 agent_prefix: str = "lane", activity_interval_seconds: float = 600.0,
                 renew_margin_seconds: float | None = None) -> None:
        if lane_count < 1:
            raise ValueError("lane_count must be at least 1")
        self.client = client
        self.project_key = project_key
        self.lane_count = lane_count
        self.ttl_seconds = max(60, int(ttl_seconds))
        self.agent_prefix = agent_prefix
        self.activity_interval_seconds = activity_interval_seconds
        self.renew_margin_seconds = (renew_margin_seconds if renew_margin_seconds is not None
                                     else max(60.0, self.ttl_seconds / 3))
        self._emit = on_event or (lambda event: None)
        self._mode = Mode.SEQUENTIAL
        self._mode_reason = "not started"
        self._announced = False
        """The first mode `start()` settles on is announced even when it is sequential."""
        self._slug: str | None = None
        self._agents: dict[int, _Agent] = {}
        self._holds: dict[int, _Hold] = {}
        self._ledger: tuple[Reservation, ...] = ()
        self._lock = asyncio.Lock()
        self._ledger_lock = asyncio.Lock()
        self._ledger_asked = 0
        self._ledger_served = 0
        self._publishing: asyncio.Task[None] | None = None
        self._publish_again = False

    # ------------------------------------------------------------------ state

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def mode_reason(self) -> str:
        return self._mode_reason

    @property
    def ledger(self) -> tuple[Reservation, ...]:
        return self._ledger

    @property
    def server_build(self) -> str | None:
        build = self.client.build
        return build.name if build else None

    def agent_name(self, lane: int) -> str:
        """The lane's agent name as the server knows it (the requested name before start)."""
        agent = self._agents.get(lane)
        return agent.name if agent else self._requested_name(lane)

    def running_lanes(self) -> tuple[int, ...]:
        return tuple(sorted(self._holds))

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
                self._holds[lane] = _Hold(task_id, _clean(patterns))
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
                return await self._fetch_ledger()
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
        project = await self.client.call_tool("ensure_project", {"human_key": self.project_key})
        self._slug = str(project.get("slug") or "") if isinstance(project, dict) else ""
        for lane in range(1, self.lane_count + 1):
            await self._register(lane)
        await self._reconcile()

    async def _register(self, lane: int) -> _Agent:
        known = self._agents.get(lane)
        hold = self._holds.get(lane)
        arguments: dict[str, Any] = {
            "project_key": self.project_key, "program": PROGRAM, "model": MODEL,
            "name": known.name if known else self._requested_name(lane),
            "task_description": f"{REASON_PREFIX}{hold.task_id}" if hold else "idle lane",
        }
        if known and known.registration_token and self._takes_token("register_agent"):
            arguments["registration_token"] = known.registration_token
        answer = await self.client.call_tool("register_agent", arguments)
        if not isinstance(answer, dict) or not answer.get("name"):
            raise AgentMailError("register_agent returned no agent name", tool="register_agent")
        token = answer.get("registration_token") or (known.registration_token if known else None)
        agent = _Agent(str(answer["name"]), token, time.monotonic())
        self._agents[lane] = agent
        return agent

    def _requested_name(self, lane: int) -> str:
        return f"{self.agent_prefix}-{lane}"

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
        wanted = _clean(patterns)
        async with self._lock:
            if lane in self._holds:
                raise ValueError(f"lane {lane} already holds task {self._holds[lane].task_id}")
            local = self._local_conflicts(lane, wanted)
            if local:
                return ReserveOutcome(lane, task_id, False, self._mode, conflicts=local,
                                      reason="overlaps a running lane's patterns")
            if self._mode is not Mode.PARALLEL:
                return self._reserve_sequential(lane, task_id, wanted)
            known = self._known_conflicts(wanted)
            if known:
                return ReserveOutcome(lane, task_id, False, self._mode, conflicts=known,
                                      reason="held by another agent")
            self._holds[lane] = _Hold(task_id, wanted, requesting=bool(wanted), established=not wanted)
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
        self._holds[lane] = _Hold(task_id, wanted)
        return ReserveOutcome(lane, task_id, True, self._mode,
                              reason=f"sequential mode, no reservations: {self._mode_reason}")

    async def _reserve_on_server(self, lane: int, hold: _Hold) -> ReserveOutcome | None:
        """Parallel-mode reservation of a claimed hold; None when the server failed."""
        try:
            granted, conflicts = await self._request(lane, hold, hold.patterns)
            if conflicts:
                self._holds.pop(lane, None)
                await self._release_ids(lane, tuple(item.get("id") for item in granted))
        except AgentMailError as exc:
            self._lost(exc)
            return None
        finally:
            hold.requesting = False
        self._publish_soon()
        if conflicts:
            return ReserveOutcome(lane, hold.task_id, False, self._mode, conflicts=conflicts,
                                  reason="held by another agent")
        return ReserveOutcome(lane, hold.task_id, True, self._mode, granted=hold.patterns)

    async def _request(self, lane: int, hold: _Hold, patterns: tuple[str, ...]
                       ) -> tuple[list[dict[str, Any]], tuple[Holder, ...]]:
        """Ask the server for `patterns` on behalf of `lane`; record grants in `hold`."""
        answer = await self._agent_call(lane, "file_reservation_paths", {
            "paths": list(patterns), "ttl_seconds": self.ttl_seconds, "exclusive": True,
            "reason": f"{REASON_PREFIX}{hold.task_id}",
        })
        granted = [item for item in (answer.get("granted") or []) if isinstance(item, dict)]
        hold.ids += tuple(item.get("id") for item in granted)
        hold.expires_at = _earliest(hold.expires_at,
                                    *(_parse_time(item.get("expires_ts")) for item in granted))
        hold.established = True
        return granted, self._server_conflicts(answer.get("conflicts") or [])

    def _server_conflicts(self, conflicts: list[Any]) -> tuple[Holder, ...]:
        lanes = self._lanes_by_agent()
        return tuple(
            Holder(path=str(conflict.get("path", "")), agent=str(holder.get("agent", "")),
                   path_pattern=str(holder.get("path_pattern", "")),
                   lane=lanes.get(str(holder.get("agent", ""))),
                   exclusive=bool(holder.get("exclusive", True)),
                   expires_at=_parse_time(holder.get("expires_ts")))
            for conflict in conflicts if isinstance(conflict, dict)
            for holder in conflict.get("holders") or [] if isinstance(holder, dict)
        )

    def _known_conflicts(self, wanted: tuple[str, ...]) -> tuple[Holder, ...]:
        """Other agents' exclusive reservations in the last ledger read that overlap `wanted`."""
        found = []
        for record in self._ledger:
            if record.lane is not None or not record.exclusive:
                continue
            pair = first_overlap(wanted, (record.path_pattern,))
            if pair:
                found.append(Holder(path=pair[0], agent=record.agent, path_pattern=record.path_pattern,
                                    expires_at=record.expires_at))
        return tuple(found)

    def _local_conflicts(self, lane: int, wanted: tuple[str, ...]) -> tuple[Holder, ...]:
        found = []
        for other, hold in sorted(self._holds.items()):
            pair = first_overlap(wanted, hold.patterns) if other != lane else None
            if pair:
                found.append(Holder(path=pair[0], agent=self.agent_name(other),
                                    path_pattern=pair[1], lane=other,
                                    expires_at=hold.expires_at))
        return tuple(found)

    async def release(self, lane: int) -> None:
        """Give back the lane's reservations (finish, failure or abort). Never raises."""
        self._check_lane(lane)
        async with self._lock:
            hold = self._holds.pop(lane, None)
            if hold is None or self._mode is not Mode.PARALLEL:
                return
            try:
                await self._agent_call(lane, "release_file_reservations", {})
            except AgentMailError as exc:
                self._lost(exc)
                return
            # What the server gave back is known: no read needed (a batch's lanes finish
            # together, and the server's reads compete with their merges for the CPU).
            self._publish(_without_agent(self._ledger, self.agent_name(lane)))
            if self._publishing is not None and not self._publishing.done():
                self._publish_soon()  # a read begun before the release: read again after it

    async def _release_ids(self, lane: int, ids: tuple[Any, ...]) -> None:
        ids = tuple(item for item in ids if item is not None)
        if ids:
            await self._agent_call(lane, "release_file_reservations",
                                   {"file_reservation_ids": list(ids)})

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
            try:
                for lane, hold in sorted(self._holds.items()):
                    await self._keep_active(lane)
                    if hold.patterns and not hold.requesting and self._due(hold):
                        await self._renew(lane, hold)
                        done += 1
            except AgentMailError as exc:
                self._lost(exc)
                return done
            if done:
                await self._refresh_and_publish()
            return done

    def _due(self, hold: _Hold) -> bool:
        if not hold.established or hold.expires_at is None:
            return True
        left = (hold.expires_at - datetime.now(timezone.utc)).total_seconds()
        return left <= self.renew_margin_seconds

    async def _renew(self, lane: int, hold: _Hold) -> None:
        if hold.ids:
            answer = await self._agent_call(lane, "renew_file_reservations", {
                "extend_seconds": self.ttl_seconds,
                "file_reservation_ids": [item for item in hold.ids if item is not None],
            })
            renewed = [item for item in (answer.get("file_reservations") or [])
                       if isinstance(item, dict)]
            if len(renewed) >= len(hold.ids):
                hold.expires_at = _earliest(None, *(_parse_time(item.get("new_expires_ts"))
                                                    for item in renewed))
                return
        # Some were released behind our back (expired, judged inactive): take them again.
        await self._reestablish(lane, hold)

    async def _keep_active(self, lane: int) -> None:
        agent = self._agents.get(lane)
        if agent and time.monotonic() - agent.last_active >= self.activity_interval_seconds:
            await self._register(lane)

    # ------------------------------------------------------------------ ledger

    async def refresh_ledger(self) -> tuple[Reservation, ...]:
        """The server's active reservations for the project (empty in sequential mode)."""
        async with self._lock:
            if self._mode is Mode.PARALLEL:
                try:
                    await self._refresh_and_publish()
                except AgentMailError as exc:
                    self._lost(exc)
            return self._ledger

    def _publish_soon(self) -> None:
        """Read the ledger in the background: a lane starts without waiting for the
        reservation table to be redrawn (`published()` waits for it). While claims await
        the server, the read waits for the last answer: the server serializes its work."""
        self._publish_again = True
        if any(hold.requesting for hold in self._holds.values()):
            return
        if self._publishing is None or self._publishing.done():
            self._publishing = asyncio.create_task(self._publish_in_background())

    async def _publish_in_background(self) -> None:
        while self._publish_again:
            self._publish_again = False
            try:
                await self._refresh_and_publish()
            except AgentMailError as exc:
                self._lost(exc)
                return

    async def published(self) -> tuple[Reservation, ...]:
        """The ledger once the reads that reserve() and release() started have answered."""
        while self._publishing is not None and not self._publishing.done():
            await asyncio.wait([self._publishing])
        return self._ledger

    async def aclose(self) -> None:
        """Stop background reads and close the client."""
        if self._publishing is not None:
            self._publishing.cancel()
            await asyncio.gather(self._publishing, return_exceptions=True)
        await self.client.aclose()

    async def _refresh_and_publish(self) -> None:
        """Read and publish the ledger; callers that asked while a read was already on its
        way share the next read instead of each making one."""
        self._ledger_asked += 1
        asked = self._ledger_asked
        async with self._ledger_lock:
            if self._ledger_served >= asked:
                return
            covers = self._ledger_asked
            ledger = await self._fetch_ledger()
            self._ledger_served = covers
            self._publish(ledger)

    def _publish(self, ledger: tuple[Reservation, ...]) -> None:
        if ledger != self._ledger:
            self._ledger = ledger
            self._emit(ReservationsChanged(ledger))

    async def _fetch_ledger(self) -> tuple[Reservation, ...]:
        rows = await self._active_rows()
        lanes = self._lanes_by_agent()
        records = [Reservation(
            path_pattern=str(row.get("path_pattern", "")), agent=str(row.get("agent", "")),
            lane=lanes.get(str(row.get("agent", ""))), exclusive=bool(row.get("exclusive", True)),
            expires_at=_parse_time(row.get("expires_ts")), reason=str(row.get("reason") or ""),
            reservation_id=row.get("id"),
        ) for row in rows]
        return tuple(replace(record, conflicts=_conflicts_with_others(record, records))
                     for record in records)

    async def _active_rows(self) -> list[dict[str, Any]]:
        slug = self._slug or self.project_key
        rows = await self.client.read_resource(
            f"resource://file_reservations/{quote(slug, safe='')}?active_only=true")
        if isinstance(rows, dict):
            rows = rows.get("result") or rows.get("file_reservations") or []
        now = datetime.now(timezone.utc)
        return [row for row in rows if isinstance(row, dict) and not row.get("released_ts")
                and (_parse_time(row.get("expires_ts")) or now) >= now]

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

    async def run_monitor(self, interval_seconds: float = 2.0,
                          on_error: Callable[[Exception], None] | None = None) -> None:
        """Every `interval_seconds` until cancelled (an engine task): probe health, renew, and
        read the ledger, which `claim()` checks other agents' reservations against. An error
        goes to `on_error` (when given) and the watch goes on."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.check_health()
                if self._mode is Mode.PARALLEL:
                    await self.renew_due()
                    await self.refresh_ledger()
            except Exception as error:
                if on_error is None:
                    raise
                on_error(error)

    def _lost(self, error: AgentMailError) -> None:
        self._switch(Mode.SEQUENTIAL, f"Agent Mail failed: {error}")

    def _switch(self, mode: Mode, reason: str) -> None:
        changed = mode is not self._mode or not self._announced
        self._mode, self._mode_reason, self._announced = mode, reason, True
        if mode is Mode.SEQUENTIAL:
            for hold in self._holds.values():
                hold.established, hold.ids, hold.expires_at = False, (), None
            if self._ledger:
                self._ledger = ()
                self._emit(ReservationsChanged(()))
        if changed:
            self._emit(ModeChanged(mode, reason))

    # ------------------------------------------------------------------ reconcile

    async def _reconcile(self) -> None:
        """Match the server to our holds: adopt what it has, take what is missing, and
        release what our lane agents hold for no running lane (a crashed run's leftovers)."""
        rows = await self._active_rows()
        lanes = self._lanes_by_agent()
        by_lane: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            lane = lanes.get(str(row.get("agent", "")))
            if lane is not None:
                by_lane.setdefault(lane, []).append(row)
        for lane in range(1, self.lane_count + 1):
            await self._reconcile_lane(lane, by_lane.get(lane, []))

    async def _reconcile_lane(self, lane: int, rows: list[dict[str, Any]]) -> None:
        hold = self._holds.get(lane)
        if hold is not None and hold.requesting:
            return
        wanted = set(hold.patterns) if hold else set()
        keep = [row for row in rows if row.get("path_pattern") in wanted]
        stray = tuple(row.get("id") for row in rows if row not in keep)
        await self._release_ids(lane, stray)
        if hold is None:
            return
        hold.ids = tuple(row.get("id") for row in keep)
        hold.expires_at = _earliest(None, *(_parse_time(row.get("expires_ts")) for row in keep))
        missing = tuple(p for p in hold.patterns if p not in {r.get("path_pattern") for r in keep})
        if missing:
            await self._request(lane, hold, missing)  # running already: conflicts are shown
        hold.established = True

    async def _reestablish(self, lane: int, hold: _Hold) -> None:
        rows = [row for row in await self._active_rows()
                if row.get("agent") == self.agent_name(lane)]
        await self._reconcile_lane(lane, rows)

    # ------------------------------------------------------------------ helpers

    async def _agent_call(self, lane: int, tool: str, arguments: Mapping[str, Any]) -> Any:
        agent = self._agents.get(lane)
        if agent is None:
            raise AgentMailError(f"lane {lane} has no registered agent", tool=tool)
        full = {"project_key": self.project_key, "agent_name": agent.name, **arguments}
        if agent.registration_token and self._takes_token(tool):
            full["registration_token"] = agent.registration_token
        answer = await self.client.call_tool(tool, full)
        if not isinstance(answer, dict):
            raise AgentMailError(f"unexpected answer: {str(answer)[:200]}", tool=tool)
        return answer

    def _takes_token(self, tool: str) -> bool:
        build = self.client.build
        return bool(build and build.takes_token(tool))

    def _lanes_by_agent(self) -> dict[str, int]:
        return {agent.name: lane for lane, agent in self._agents.items()}

    def _check_lane(self, lane: int) -> None:
        if not 1 <= lane <= self.lane_count:
            raise ValueError(f"lane must be 1..{self.lane_count}, got {lane}")


def _clean(patterns: Iterable[str]) -> tuple[str, ...]:
    """Patterns stripped, without empties or duplicates, in order."""
    return tuple(dict.fromkeys(p.strip() for p in patterns if p and p.strip()))


def _without_agent(ledger: tuple[Reservation, ...], agent: str) -> tuple[Reservation, ...]:
    rest = [record for record in ledger if record.agent != agent]
    return tuple(replace(record, conflicts=_conflicts_with_others(record, rest)) for record in rest)


def _conflicts_with_others(record: Reservation, records: list[Reservation]) -> bool:
    return any(other.agent != record.agent and (other.exclusive or record.exclusive)
               and patterns_overlap(other.path_pattern, record.path_pattern)
               for other in records)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _earliest(current: datetime | None, *moments: datetime | None) -> datetime | None:
    known = [moment for moment in (current, *moments) if moment is not None]
    return min(known) if known else None
