"""A lane's environment: ports, copied files and setup before its agent, the check after.

The engine makes one call before the agent starts (`prepare`) and one after it finishes
(`check`, which also gives the lane's ports back). Every child (setup, check, agent) gets
ORCH_LANE, ORCH_TASK_ID, ORCH_WORKTREE and, when ports are leased, ORCH_PORT (the first)
and ORCH_PORTS (all, comma-separated).
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.events import EventSink
from orch_tui.orchestration.lane_check import CheckResult
from orch_tui.orchestration.lanes.lane_commands import CommandRun, Throttled, run_lane_command
from orch_tui.orchestration.lanes.ports import PortBlock, PortLeases
from orch_tui.orchestration.lanes.setup import (copy_into_lane, expose_check, ignore_rules_key, last_setup_fingerprint, remember_setup,
                         setup_fingerprint)
from orch_tui.orchestration.infra.repo_paths import git_common_dir
from orch_tui.orchestration.lanes.worktrees import status_entries
from orch_tui.orchestration.states import LaneState

TAIL_IN_REASON = 12
TAIL_IN_CHECK = 20


@dataclass(frozen=True)
class PreparedLane:
    lane: int
    ports: PortBlock
    env: dict[str, str] = field(default_factory=dict)
    copied: tuple[str, ...] = ()
    setup: str = ""
    """What setup did: `ran in 1.2 s`, `skipped: uv.lock unchanged`, or empty (none configured)."""
    failure: str = ""
    """Why the lane cannot start (setup failed, a copy was refused); empty when it can."""


@dataclass(frozen=True)
class _OnDisk:
    """What `prepare` did on disk in one worker-thread trip."""

    block: PortBlock
    copied: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    fingerprint: str | None = None
    """setup's fingerprint when it must run; None when it may be skipped."""
    failure: str = ""
    leased: bool = True
    """False when the ports could not be leased (then nothing else was done)."""


def _untracked(worktree: Path) -> set[str]:
    """Untracked files git does not ignore (what a leftovers commit would add)."""
    return {entry[3:] for entry in status_entries(worktree, untracked_cache=True) if entry.startswith("??")}


def check_result(run: CommandRun, command: str) -> CheckResult:
    return CheckResult(run.ok, round(run.seconds, 3), run.tail_text(TAIL_IN_CHECK), command,
                       "passed" if run.ok else run.summary("the check"))


class LaneEnvironments:
    """Environments of all lanes of one engine (ports are leased across them)."""

    def __init__(self, main: Path, config: Config, extra_env: Mapping[str, str] | None = None) -> None:
        self.main = main
        self.config = config
        self.extra_env = dict(extra_env or {})
        self.ports = PortLeases(config.lane_port_base, config.lane_ports)
        self._env: dict[int, dict[str, str]] = {}
        self._copies_verified: dict[int, tuple[str, frozenset[str]]] = {}
        """Per lane: the ignore-rules key and the copied paths git was asked about under it."""
        self._common_dir: Path | None = None
        self._copied: dict[int, tuple[str, ...]] = {}

    def env(self, lane: int) -> dict[str, str]:
        """The ORCH_* variables of `lane` (empty before `prepare`)."""
        return dict(self._env.get(lane, {}))

    async def prepare(self, lane: int, task_id: str, worktree: Path, sink: EventSink,
                      head: str | None = None) -> PreparedLane:
        """Lease ports, copy files, run setup (unless its inputs are unchanged); report it.
        `head` (the lane's commit) lets a warm lane skip asking git again about its copies."""
        try:
            return await self._prepare(lane, task_id, worktree, sink, head)
        except BaseException:  # raised on (run_step names the fault; an abort stays one): ports go back first
            self.release(lane)
            raise

    async def _prepare(self, lane: int, task_id: str, worktree: Path, sink: EventSink,
                       head: str | None) -> PreparedLane:
        # One trip to a worker thread for everything on disk: a warm lane needs no other.
        ready = await asyncio.to_thread(self._lease_and_copy, lane, worktree, head)
        if not ready.leased:
            return PreparedLane(lane, ready.block, failure=ready.failure)
        env = {"ORCH_LANE": str(lane), "ORCH_TASK_ID": task_id, "ORCH_WORKTREE": str(worktree), **ready.block.env()}
        self._env[lane] = env
        if ready.missing:
            sink(ev.LogLine(f"lane {lane}: lane_copy: {', '.join(ready.missing)} not in the main "
                            f"checkout {self.main}; nothing copied for it", "warning"))
        setup, failure = "", ready.failure
        if not failure:
            try:
                setup, failure = await self._setup(lane, task_id, worktree, ready.fingerprint, sink)
            except OrchError as error:
                failure = str(error)
        if failure:
            self.release(lane)
        sink(ev.LaneEnvironmentReady(lane, task_id, ready.block.ports, ready.copied, setup or
                                     ("failed" if failure else "")))
        return PreparedLane(lane, ready.block, env, ready.copied, setup, failure)

    def _lease_and_copy(self, lane: int, worktree: Path, head: str | None) -> _OnDisk:
        """Ports leased, files copied, and whether setup's inputs changed (blocks)."""
        try:
            block = self.ports.lease(lane)
        except OrchError as error:
            return _OnDisk(PortBlock(lane, ()), failure=str(error), leased=False)
        try:
            copied, missing = self._copy(lane, worktree, head)
        except OrchError as error:
            return _OnDisk(block, failure=str(error))
        return _OnDisk(block, copied, missing, self._setup_fingerprint_if_changed(worktree))

    def _copy(self, lane: int, worktree: Path, head: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(copied, missing from the main checkout)."""
        if not self.config.lane_copy:
            return (), ()
        key = self._ignore_rules_key(head)
        known_key, known = self._copies_verified.get(lane, ("", frozenset()))
        verified = known if key is not None and key == known_key else frozenset()
        report = copy_into_lane(self.main, worktree, self.config.lane_copy, verified)
        if key is not None:
            self._copies_verified[lane] = (key, verified | frozenset(report.copied))
        self._copied[lane] = report.copied
        return report.copied, report.missing

    def _ignore_rules_key(self, head: str | None) -> str | None:
        if self._common_dir is None:
            self._common_dir = git_common_dir(self.main)
        return ignore_rules_key(self._common_dir, head)

    def _setup_fingerprint_if_changed(self, worktree: Path) -> str | None:
        """The fingerprint setup would record, or None when setup may be skipped (none
        configured, or its inputs are what they were at the last successful setup)."""
        argv, inputs = self.config.lane_setup_command, self.config.lane_setup_when_changed
        if not argv:
            return None
        fingerprint = setup_fingerprint(worktree, argv, inputs)
        if inputs and last_setup_fingerprint(worktree) == fingerprint:
            return None
        return fingerprint

    async def _setup(self, lane: int, task_id: str, worktree: Path, fingerprint: str | None,
                     sink: EventSink) -> tuple[str, str]:
        """(what setup did, why it failed or empty); `fingerprint` None: nothing to run."""
        argv = self.config.lane_setup_command
        if not argv:
            return "", ""
        if fingerprint is None:
            return f"skipped: {', '.join(self.config.lane_setup_when_changed)} unchanged", ""
        sink(ev.LaneProgress(lane, task_id, LaneState.SETUP, action=f"setup: {shlex.join(argv)}"))
        stream = Throttled(lambda line: sink(ev.LaneProgress(lane, task_id, LaneState.SETUP, action=line)))
        before = await asyncio.to_thread(_untracked, worktree)
        run = await run_lane_command(argv, worktree, {**self.extra_env, **self.env(lane)},
                                     timeout=self.config.agent_timeout_seconds, on_line=stream)
        await self._warn_new_files("lane setup", lane, worktree, before, sink)
        await asyncio.to_thread(remember_setup, worktree, fingerprint if run.ok else None)
        if run.ok:
            return f"ran in {run.seconds:.1f} s", ""
        tail = run.tail_text(TAIL_IN_REASON)
        return "failed", (f"{run.summary('lane setup')} in {worktree} (kept for inspection)"
                          + (f"; its output ended with:\n{tail}" if tail else ""))

    async def guard_copies(self, lane: int, worktree: Path, base: str) -> str:
        """After the agent: why the lane must fail because of its copied files (empty: fine)."""
        copied = self._copied.get(lane, ())
        if not copied:
            return ""
        return await asyncio.to_thread(expose_check, worktree, base, copied)

    async def check(self, lane: int, task_id: str, branch: str, worktree: Path,
                    sink: EventSink) -> CheckResult | None:
        """Run lane_check_command in the lane (None when none is configured); report it."""
        argv = self.config.lane_check_command
        if not argv:
            return None
        sink(ev.LaneProgress(lane, task_id, LaneState.CHECKING, action=f"check: {shlex.join(argv)}"))
        stream = Throttled(lambda line: sink(ev.LaneProgress(lane, task_id, LaneState.CHECKING, action=line)))
        before = await asyncio.to_thread(_untracked, worktree)
        run = await run_lane_command(argv, worktree, {**self.extra_env, **self.env(lane)},
                                     timeout=self.config.agent_timeout_seconds, on_line=stream)
        await self._warn_new_files("lane check", lane, worktree, before, sink)
        result = check_result(run, shlex.join(argv))
        sink(ev.LaneCheckFinished(lane, task_id, branch, result))
        return result

    async def _warn_new_files(self, what: str, lane: int, worktree: Path, before: set[str],
                              sink: EventSink) -> None:
        """Files a setup or check leaves that git does not ignore would be committed with the
        lane's work: say so (they are not deleted; they may be wanted)."""
        new = sorted(await asyncio.to_thread(_untracked, worktree) - before)
        if new:
            shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            sink(ev.LogLine(f"lane {lane}: {what} left {shown}, not ignored by git: it will be committed "
                            "with the lane's work; add it to .gitignore if it is an artifact", "warning"))

    def release(self, lane: int) -> None:
        """The lane is done: its ports go back to the pool."""
        self.ports.release(lane)
        self._env.pop(lane, None)
        self._copied.pop(lane, None)
