"""Agent Mail dies mid-batch and comes back: sequential fallback and recovery (real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient
from orch_tui.orchestration.events import Mode, ModeChanged
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from tests.support.agent_mail_server import running_agent_mail

pytestmark = [pytest.mark.agent_mail, pytest.mark.slow]


def mode_changes(events: list[Any]) -> list[Mode]:
    return [event.mode for event in events if isinstance(event, ModeChanged)]


async def test_server_killed_mid_batch_then_restarted(tmp_path: Path):
    events: list[Any] = []
    with running_agent_mail(tmp_path / "server") as server:
        async with AgentMailClient(server.url, timeout=2.0) as client:
            manager = ReservationManager(client, "/work/fallback", 4, 600, events.append)
            assert await manager.start() is Mode.PARALLEL
            assert (await manager.reserve(1, "T-1", ["one/**"])).acquired
            assert (await manager.reserve(2, "T-2", ["two/**"])).acquired
            await manager.published()

            server.kill()
            # Found by the health probe: running lanes keep running, no new lane starts.
            assert await manager.check_health() is Mode.SEQUENTIAL
            assert "stopped answering" in manager.mode_reason
            assert manager.ledger == ()
            assert not manager.can_start_lane(running_count=2)
            blocked = await manager.reserve(3, "T-3", ["three/**"])
            assert not blocked.acquired and blocked.mode is Mode.SEQUENTIAL

            # Lanes finish while the server is away; then one lane runs alone, unreserved.
            await manager.release(1)
            await manager.release(2)
            alone = await manager.reserve(3, "T-3", ["three/**"])
            assert alone.acquired and alone.granted == ()
            assert await manager.check_health() is Mode.SEQUENTIAL  # still down

            server.start()  # same port and storage: the old reservations are still there
            assert await manager.check_health() is Mode.PARALLEL

            # Lane 3's patterns are re-established; lanes 1 and 2's leftovers are released.
            assert {(r.lane, r.path_pattern) for r in manager.ledger} == {(3, "three/**")}
            assert (await manager.reserve(4, "T-4", ["four/**"])).acquired
            await manager.release(3)
            await manager.release(4)
            assert await manager.refresh_ledger() == ()

            # Lost during a reservation call (before any probe notices): sequential at once.
            assert (await manager.reserve(1, "T-5", ["five/**"])).acquired
            server.kill()
            lost = await manager.reserve(2, "T-6", ["six/**"])
            assert not lost.acquired and lost.mode is Mode.SEQUENTIAL
            assert "Agent Mail failed" in manager.mode_reason

    assert mode_changes(events) == [Mode.PARALLEL, Mode.SEQUENTIAL, Mode.PARALLEL,
                                    Mode.SEQUENTIAL]

