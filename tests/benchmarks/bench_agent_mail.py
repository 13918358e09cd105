"""Agent Mail against the real PyPI server: reserving a batch, and how fast the fallback acts.

- reserve 4 lanes x 5 patterns (exclusive), median of several batches (each released after);
- fallback after the server dies: from SIGKILL until the health monitor (2 s interval, the
  engine's suggested cadence) emits ModeChanged(sequential), and the probe alone;
- fallback when the server hangs (SIGSTOP): the probe waits for its liveness timeout;
- recovery: from the restarted server answering until parallel mode is back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
from orch_tui.orchestration.events import Mode, ModeChanged
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from tests.support.agent_mail_server import AgentMailServer, running_agent_mail
from tests.benchmarks.harness import Result

LANES, PATTERNS, BATCHES = 4, 5, 5
MONITOR_INTERVAL = 2.0


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder, running_agent_mail(Path(folder)) as server:
        return asyncio.run(_measure(server))


async def _measure(server: AgentMailServer) -> list[Result]:
    events: list[Any] = []
    async with AgentMailClient(server.url, liveness_timeout=1.0) as client:
        manager = ReservationManager(client, "/bench/repo", LANES, 3600, events.append)
        started = time.perf_counter()
        await manager.start()
        start_seconds = time.perf_counter() - started
        batch = await _reserve_batches(manager)
        probe_dead, monitored = await _fallback_after_kill(server, manager, events)
        recovery = await _recovery(server, manager)
        hung = await _fallback_when_hung(server, manager)
    return [
        Result("start: detect build, project, register 4 lanes", start_seconds, "s"),
        Result(f"reserve {LANES} lanes x {PATTERNS} patterns (median of {BATCHES})", batch, "s",
               "< 2 s", batch < 2.0),
        Result("fallback: kill -> probe says sequential", probe_dead, "s", "< 1 s",
               probe_dead < 1.0),
        Result(f"fallback: kill -> ModeChanged via monitor ({MONITOR_INTERVAL:g} s interval)",
               monitored, "s", f"<= {MONITOR_INTERVAL + 1:g} s",
               monitored <= MONITOR_INTERVAL + 1),
        Result("fallback: hung server (SIGSTOP) -> probe says sequential", hung, "s",
               "~ liveness timeout 1 s"),
        Result("recovery: server answering -> parallel again", recovery, "s"),
    ]


async def _reserve_batches(manager: ReservationManager) -> float:
    times = []
    for batch in range(BATCHES):
        started = time.perf_counter()
        for lane in range(1, LANES + 1):
            patterns = [f"b{batch}/lane{lane}/part{n}/**" for n in range(PATTERNS)]
            outcome = await manager.reserve(lane, f"T-{batch}-{lane}", patterns)
            assert outcome.acquired, outcome.describe()
        times.append(time.perf_counter() - started)
        for lane in range(1, LANES + 1):
            await manager.release(lane)
    return statistics.median(times)


async def _fallback_after_kill(server: AgentMailServer, manager: ReservationManager,
                               events: list[Any]) -> tuple[float, float]:
    await manager.reserve(1, "T-running", ["running/**"])
    monitor = asyncio.create_task(manager.run_monitor(MONITOR_INTERVAL))
    await asyncio.sleep(0.7)  # the kill lands somewhere inside an interval
    seen = len(events)
    killed = time.perf_counter()
    server.kill()
    while not any(isinstance(e, ModeChanged) and e.mode is Mode.SEQUENTIAL
                  for e in events[seen:]):
        await asyncio.sleep(0.01)
    monitored = time.perf_counter() - killed
    monitor.cancel()
    started = time.perf_counter()
    await manager.client.liveness()
    return time.perf_counter() - started, monitored


async def _recovery(server: AgentMailServer, manager: ReservationManager) -> float:
    server.start()  # returns once /health/liveness answers
    started = time.perf_counter()
    mode = await manager.check_health()
    assert mode is Mode.PARALLEL, manager.mode_reason
    return time.perf_counter() - started


async def _fallback_when_hung(server: AgentMailServer, manager: ReservationManager) -> float:
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        mode = await manager.check_health()
        elapsed = time.perf_counter() - started
        assert mode is Mode.SEQUENTIAL
    finally:
        os.killpg(server.process.pid, signal.SIGCONT)
    await manager.check_health()
    await manager.release(1)
    return elapsed
