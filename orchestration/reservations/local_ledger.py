"""The embedded reservation ledger: lanes run in parallel with nothing but git installed.

The ledger is one JSON file, `<git common dir>/orch-tui/reservations.json`, so every worktree
and every orch-tui command of the repository (`orch-tui status`, a restarted orchestrator)
sees the same reservations. Each change happens under an exclusive `flock` on
`reservations.lock` and replaces the file atomically (write, fsync, rename): a crash of
orch-tui, even by SIGKILL, leaves the last complete ledger, and the kernel drops the lock.

Entries carry a TTL like Agent Mail's: an entry past its expiry no longer counts, so the
reservations of an orchestrator that died and never came back lapse by themselves, and a
running lane's entries are renewed before they expire. A claim checks all of a lane's
patterns against every live entry of another agent and writes them all or none, so two
lanes can never both hold overlapping patterns.

Other agents (and people) cannot see this ledger: the dashboard says so, calmly. Agent Mail
is the shared backend (agent_mail_backend.py); backend.py chooses between the two.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from orch_tui.orchestration.infra.atomic import write_atomically
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink, Mode, ModeChanged
from orch_tui.orchestration.model import Reservation
from orch_tui.orchestration.infra.patterns import first_overlap
from orch_tui.orchestration.infra.repo_paths import state_dir
from orch_tui.orchestration.reservations.claims import REASON_PREFIX, Holder, ReserveOutcome, clean_patterns, with_conflicts
from orch_tui.orchestration.reservations.lane_holds import LaneHold, LaneReservations

LEDGER_NAME = "reservations.json"
LOCK_NAME = "reservations.lock"
FORMAT_VERSION = 1
LOCAL_MODE_REASON = "local reservations: other agents cannot see them"


class LedgerError(OrchError):
    """The local ledger file cannot be read or written."""


@dataclass(frozen=True)
class LedgerEntry:
    """One reservation in the local ledger."""

    id: str
    agent: str
    path_pattern: str
    expires_at: datetime
    exclusive: bool = True
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "agent": self.agent, "path_pattern": self.path_pattern,
                "exclusive": self.exclusive, "reason": self.reason,
                "expires_ts": self.expires_at.isoformat()}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> "LedgerEntry":
        return cls(id=str(row["id"]), agent=str(row["agent"]), path_pattern=str(row["path_pattern"]),
                   expires_at=datetime.fromisoformat(str(row["expires_ts"])),
                   exclusive=bool(row.get("exclusive", True)), reason=str(row.get("reason") or ""))


@dataclass(frozen=True)
class Refusal:
    """Our pattern `path` overlaps `entry`, held by another agent."""

    path: str
    entry: LedgerEntry


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LocalLedger:
    """The ledger file: synchronous, safe across threads and processes (call it in a thread)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LEDGER_NAME
        self.lock_path = directory / LOCK_NAME

    @classmethod
    def for_repo(cls, repo: Path) -> "LocalLedger":
        return cls(state_dir(repo))

    def active(self) -> tuple[LedgerEntry, ...]:
        """Every entry not yet expired."""
        with self._lock(fcntl.LOCK_SH):
            return self._read()

    def reserve(self, agent: str, patterns: Sequence[str], ttl_seconds: float,
                reason: str = "") -> tuple[tuple[LedgerEntry, ...], tuple[Refusal, ...]]:
        """All of `patterns` for `agent` (exclusive), or none of them and the refusals.

        The agent's own entries never refuse it; taking a pattern it holds extends its expiry.
        """
        with self._lock(fcntl.LOCK_EX):
            entries = list(self._read())
            refusals = tuple(Refusal(pair[0], entry) for entry in entries if entry.agent != agent
                             for pair in [first_overlap(patterns, (entry.path_pattern,))] if pair)
            if refusals:
                return (), refusals
            expires = _now() + timedelta(seconds=ttl_seconds)
            mine = {entry.path_pattern: entry for entry in entries if entry.agent == agent}
            granted = tuple(replace(mine[pattern], expires_at=expires, reason=reason or mine[pattern].reason)
                            if pattern in mine else
                            LedgerEntry(secrets.token_hex(6), agent, pattern, expires, reason=reason)
                            for pattern in patterns)
            kept = [entry for entry in entries if not (entry.agent == agent and entry.path_pattern in patterns)]
            self._write([*kept, *granted])
            return granted, ()

    def release(self, agent: str, patterns: Iterable[str] | None = None) -> int:
        """Drop the agent's entries (only those for `patterns` when given); how many went."""
        chosen = None if patterns is None else set(patterns)
        with self._lock(fcntl.LOCK_EX):
            entries = self._read()
            kept = [entry for entry in entries
                    if not (entry.agent == agent and (chosen is None or entry.path_pattern in chosen))]
            if len(kept) != len(entries):
                self._write(kept)
            return len(entries) - len(kept)

    def renew(self, agent: str, ttl_seconds: float) -> tuple[LedgerEntry, ...]:
        """Extend every live entry of `agent` to `ttl_seconds` from now; the renewed entries."""
        with self._lock(fcntl.LOCK_EX):
            entries = self._read()
            expires = _now() + timedelta(seconds=ttl_seconds)
            renewed = [replace(entry, expires_at=expires) if entry.agent == agent else entry
                       for entry in entries]
            self._write(renewed)
            return tuple(entry for entry in renewed if entry.agent == agent)

    @contextmanager
    def _lock(self, kind: int) -> Iterator[None]:
        try:
            stream = open(self.lock_path, "a+", encoding="utf-8")
        except OSError as error:
            raise self._error("cannot open", error) from error
        with stream:
            fcntl.flock(stream, kind)  # held for milliseconds by whoever has it
            try:
                yield
            finally:
                fcntl.flock(stream, fcntl.LOCK_UN)

    def _read(self) -> tuple[LedgerEntry, ...]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        except OSError as error:
            raise self._error("cannot read", error) from error
        try:
            rows = json.loads(text).get("reservations", [])
            entries = tuple(LedgerEntry.from_json(row) for row in rows)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise LedgerError(f"the local reservation ledger {self.path} is damaged ({error}); "
                              "fix: delete the file (running lanes reserve their files again)") from error
        now = _now()
        return tuple(entry for entry in entries if entry.expires_at > now)

    def _write(self, entries: Iterable[LedgerEntry]) -> None:
        document = {"version": FORMAT_VERSION, "reservations": [entry.to_json() for entry in entries]}
        try:
            write_atomically(self.path, (json.dumps(document, indent=1) + "\n").encode())
        except OSError as error:
            raise self._error("cannot write", error) from error

    def _error(self, what: str, error: OSError) -> LedgerError:
        return LedgerError(f"{what} the local reservation ledger {self.path}: {error}; "
                           "fix: check the permissions and free space of that directory")


class LocalReservations(LaneReservations[LaneHold]):
    """The reservation backend on the local ledger: always parallel (`Mode.LOCAL`)."""

    def __init__(self, ledger: LocalLedger, project_key: str, lane_count: int, ttl_seconds: float,
                 on_event: EventSink | None = None, *, agent_prefix: str = "lane",
                 renew_margin_seconds: float | None = None) -> None:
        super().__init__(project_key, lane_count, ttl_seconds, on_event, agent_prefix=agent_prefix,
                         renew_margin_seconds=renew_margin_seconds)
        self.local_ledger = ledger
        self.note = ""
        """Why the local ledger is in use (set by `auto`), shown after the mode's reason."""

    # ------------------------------------------------------------------ state

    @property
    def mode(self) -> Mode:
        return Mode.LOCAL

    @property
    def mode_reason(self) -> str:
        return f"{LOCAL_MODE_REASON}; {self.note}" if self.note else LOCAL_MODE_REASON

    def can_start_lane(self, running_count: int) -> bool:
        return True  # the ledger keeps lanes apart, whatever runs

    # ------------------------------------------------------------------ start

    async def start(self, adopt: Mapping[int, tuple[str, Sequence[str]]] | None = None) -> Mode:
        """Adopt the lanes still running from a previous run (lane -> task id, patterns) and
        release whatever else our lane agents hold (a crashed run's leftovers)."""
        async with self._lock:
            for lane, (task_id, patterns) in (adopt or {}).items():
                self._check_lane(lane)
                self._holds[lane] = LaneHold(task_id, clean_patterns(patterns))
            await asyncio.to_thread(self._reconcile)
            self._emit(ModeChanged(Mode.LOCAL, self.mode_reason))
            await self._refresh()
        return Mode.LOCAL

    def _reconcile(self) -> None:
        for lane in range(1, self.lane_count + 1):
            agent, hold = self.agent_name(lane), self._holds.get(lane)
            if hold is None:
                self.local_ledger.release(agent)
                continue
            held = {entry.path_pattern for entry in self.local_ledger.active() if entry.agent == agent}
            self.local_ledger.release(agent, held - set(hold.patterns))
            # Running already: a refusal cannot stop the lane; the table shows the overlap.
            granted, _ = self.local_ledger.reserve(agent, hold.patterns, self.ttl_seconds,
                                                   f"{REASON_PREFIX}{hold.task_id}")
            hold.expires_at = min((entry.expires_at for entry in granted), default=None)

    # ------------------------------------------------------------------ claim / release

    async def claim(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        """All of the task's patterns for `lane`, at once, or a refusal naming the holders
        (a holder with a lane number is one of ours: the lane waits its turn)."""
        self._check_lane(lane)
        wanted = clean_patterns(patterns)
        async with self._lock:
            self._refuse_second_claim(lane)
            if not wanted:
                self._holds[lane] = LaneHold(task_id, ())
                return ReserveOutcome(lane, task_id, True, Mode.LOCAL,
                                      reason="the task declares no files: nothing to reserve")
            granted, refusals = await asyncio.to_thread(
                self.local_ledger.reserve, self.agent_name(lane), wanted, self.ttl_seconds,
                f"{REASON_PREFIX}{task_id}")
            if refusals:
                holders = self._holders(refusals)
                ours = all(holder.lane is not None for holder in holders)
                return ReserveOutcome(lane, task_id, False, Mode.LOCAL, conflicts=holders,
                                      reason="overlaps a running lane's patterns" if ours
                                      else "held by another agent")
            self._holds[lane] = LaneHold(task_id, wanted, min(entry.expires_at for entry in granted))
            await self._refresh()
            return ReserveOutcome(lane, task_id, True, Mode.LOCAL, granted=wanted,
                                  reason=f"lane {lane}: {len(wanted)} pattern(s) reserved locally")

    def confirming(self, lane: int) -> bool:
        return False  # a local claim is final

    async def confirm(self, lane: int) -> ReserveOutcome | None:
        hold = self._holds.get(lane)
        if hold is None:
            raise ValueError(f"lane {lane} has no claim to confirm")
        return ReserveOutcome(lane, hold.task_id, True, Mode.LOCAL, granted=hold.patterns)

    async def reserve(self, lane: int, task_id: str, patterns: Iterable[str]) -> ReserveOutcome:
        return await self.claim(lane, task_id, patterns)

    async def release(self, lane: int) -> None:
        """Give back the lane's reservations (finish, failure or abort)."""
        self._check_lane(lane)
        async with self._lock:
            hold = self._holds.pop(lane, None)
            if hold is None:
                return
            if hold.patterns:
                await asyncio.to_thread(self.local_ledger.release, self.agent_name(lane))
            await self._refresh()

    def _holders(self, refusals: Iterable[Refusal]) -> tuple[Holder, ...]:
        lanes = {self.agent_name(lane): lane for lane in range(1, self.lane_count + 1)}
        return tuple(Holder(path=refusal.path, agent=refusal.entry.agent,
                            path_pattern=refusal.entry.path_pattern, lane=lanes.get(refusal.entry.agent),
                            exclusive=refusal.entry.exclusive, expires_at=refusal.entry.expires_at)
                     for refusal in refusals)

    # ------------------------------------------------------------------ renew / ledger

    async def renew_due(self) -> int:
        """Renew the running lanes' entries close to expiry (long tasks); retake any that
        lapsed. Returns how many lanes were renewed."""
        async with self._lock:
            due = [(lane, hold) for lane, hold in sorted(self._holds.items())
                   if hold.patterns and self._expiring(hold.expires_at, _now())]
            for lane, hold in due:
                await asyncio.to_thread(self._renew, lane, hold)
            if due:
                await self._refresh()
            return len(due)

    def _renew(self, lane: int, hold: LaneHold) -> None:
        agent = self.agent_name(lane)
        renewed = self.local_ledger.renew(agent, self.ttl_seconds)
        if {entry.path_pattern for entry in renewed} >= set(hold.patterns):
            hold.expires_at = min(entry.expires_at for entry in renewed)
            return
        granted, _ = self.local_ledger.reserve(agent, hold.patterns, self.ttl_seconds,
                                               f"{REASON_PREFIX}{hold.task_id}")
        hold.expires_at = min((entry.expires_at for entry in granted), default=None)

    async def refresh_ledger(self) -> tuple[Reservation, ...]:
        async with self._lock:
            await self._refresh()
            return self._ledger

    async def published(self) -> tuple[Reservation, ...]:
        return self._ledger

    async def _refresh(self) -> None:
        entries = await asyncio.to_thread(self.local_ledger.active)
        lanes = {self.agent_name(lane): lane for lane in range(1, self.lane_count + 1)}
        records = [Reservation(path_pattern=entry.path_pattern, agent=entry.agent,
                               lane=lanes.get(entry.agent), exclusive=entry.exclusive,
                               expires_at=entry.expires_at, reason=entry.reason,
                               reservation_id=entry.id) for entry in entries]
        self._publish(with_conflicts(records))

    async def _watch_once(self) -> None:
        """Renew what is due and reread the ledger (expired entries leave the table)."""
        await self.renew_due()
        await self.refresh_ledger()

    async def aclose(self) -> None:
        """Nothing to close: the ledger file is opened per change."""
