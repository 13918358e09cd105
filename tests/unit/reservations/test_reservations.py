"""Lane reservations against the real PyPI Agent Mail server (one server for the module).

Tests keep apart by project key and agent prefix: the server's agent names are global, and
registering a name in one project retires it (and its reservations) in every other.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from orch_tui.orchestration.reservations.agent_mail import AgentMailClient, AgentMailToolError
from orch_tui.orchestration.events import Mode, ModeChanged, ReservationsChanged
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from tests.support.agent_mail_server import AgentMailServer, free_port, running_agent_mail

pytestmark = pytest.mark.agent_mail

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentMailServer]:
    with running_agent_mail(tmp_path_factory.mktemp("agent-mail-reservations")) as running:
        yield running


class Setup:
    """A fresh project key and agent prefix on the shared server, and the events seen."""

    def __init__(self, url: str) -> None:
        number = next(_names)
        self.url = url
        self.project = f"/work/repo-{number}"
        self.prefix = f"r{number}-lane"
        self.events: list[Any] = []
        self.clients: list[AgentMailClient] = []

    def manager(self, lanes: int = 2, ttl: int = 600, prefix: str | None = None,
                **options: Any) -> ReservationManager:
        client = AgentMailClient(self.url)
        self.clients.append(client)
        return ReservationManager(client, self.project, lanes, ttl, self.events.append,
                                  agent_prefix=prefix or self.prefix, **options)

    async def foreign_agent(self, name: str) -> AgentMailClient:
        """Another agent in the same project (a person's agent, another tool)."""
        client = AgentMailClient(self.url)
        self.clients.append(client)
        await client.call_tool("register_agent", {"project_key": self.project,
                                                  "program": "other", "model": "x", "name": name})
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def setup(server: AgentMailServer) -> Any:
    state = Setup(server.url)
    yield state
    await state.close()


async def held(manager: ReservationManager) -> set[tuple[int | None, str]]:
    """What the reservation table shows once the manager's ledger reads have answered."""
    return {(record.lane, record.path_pattern) for record in await manager.published()}


async def test_pypi_build_is_detected_and_hidden_tools_are_reachable(server):
    async with AgentMailClient(server.url) as client:
        assert await client.liveness()
        build = await client.detect_build()
        assert build.name == "pypi"
        assert build.routes_through_proxy("file_reservation_paths")
        await client.call_tool("register_agent", {"project_key": "/work/detect", "program": "t",
                                                  "model": "m", "name": "detect-1"})
        answer = await client.call_tool("file_reservation_paths", {
            "project_key": "/work/detect", "agent_name": "detect1", "paths": ["a.txt"],
            "ttl_seconds": 120})
    assert [item["path_pattern"] for item in answer["granted"]] == ["a.txt"]


async def test_a_failing_tool_is_a_typed_error_with_the_servers_message(server):
    async with AgentMailClient(server.url) as client:
        await client.call_tool("ensure_project", {"human_key": "/work/errors"})
        with pytest.raises(AgentMailToolError, match="nobody.*not registered") as caught:
            await client.call_tool("release_file_reservations",
                                   {"project_key": "/work/errors", "agent_name": "nobody"})
    assert caught.value.tool == "release_file_reservations"


async def test_register_reserve_and_release_show_in_the_ledger(setup):
    manager = setup.manager()
    assert await manager.start() is Mode.PARALLEL
    assert "pypi" in manager.mode_reason
    assert manager.agent_name(1) != manager.agent_name(2)

    outcome = await manager.reserve(1, "T-1", ["src/api/**", "docs/api.md"])
    assert outcome.acquired and outcome.granted == ("src/api/**", "docs/api.md")
    assert await held(manager) == {(1, "src/api/**"), (1, "docs/api.md")}
    record = manager.ledger[0]
    assert record.exclusive and record.agent == manager.agent_name(1)
    assert record.expires_at is not None and record.expires_at > datetime.now(timezone.utc)
    assert not record.conflicts

    await manager.release(1)
    assert await manager.published() == ()
    assert isinstance(setup.events[-1], ReservationsChanged)
    assert ModeChanged(Mode.PARALLEL, manager.mode_reason) in setup.events


async def test_a_conflict_is_not_acquired_names_the_holder_and_gives_back_the_rest(setup):
    other = await setup.foreign_agent("person-agent")
    await other.call_tool("file_reservation_paths", {
        "project_key": setup.project, "agent_name": "personagent", "paths": ["src/**"],
        "ttl_seconds": 600})
    manager = setup.manager()
    await manager.start()

    outcome = await manager.reserve(1, "T-1", ["docs/a.md", "src/api/x.py"])

    assert not outcome.acquired
    assert [(c.path, c.agent, c.path_pattern) for c in outcome.conflicts] == [
        ("src/api/x.py", "personagent", "src/**")]
    assert "personagent" in outcome.describe()
    assert await held(manager) == {(None, "src/**")}  # docs/a.md was granted, then released
    assert manager.can_start_lane(running_count=1)  # parallel mode: other lanes may start


async def test_a_claim_is_refused_at_once_when_the_ledger_shows_another_agents_hold(setup):
    manager = setup.manager()
    await manager.start()
    other = await setup.foreign_agent("ledger-agent")
    await other.call_tool("file_reservation_paths", {
        "project_key": setup.project, "agent_name": "ledgeragent", "paths": ["src/**"],
        "ttl_seconds": 600})
    await manager.refresh_ledger()

    outcome = await manager.claim(1, "T-1", ["src/api/x.py"])

    assert not outcome.acquired
    assert [(c.agent, c.path_pattern, c.lane) for c in outcome.conflicts] == [
        ("ledgeragent", "src/**", None)]
    assert manager.running_lanes() == () and not manager.confirming(1)


async def test_a_claim_the_server_refuses_is_given_back_on_confirm(setup):
    manager = setup.manager()
    await manager.start()
    other = await setup.foreign_agent("late-agent")  # reserves after our last ledger read
    await other.call_tool("file_reservation_paths", {
        "project_key": setup.project, "agent_name": "lateagent", "paths": ["src/**"],
        "ttl_seconds": 600})

    claimed = await manager.claim(1, "T-1", ["docs/a.md", "src/api/x.py"])
    assert claimed.acquired and manager.confirming(1) and manager.running_lanes() == (1,)
    confirmed = await manager.confirm(1)

    assert confirmed is not None and not confirmed.acquired
    assert [(c.path, c.agent) for c in confirmed.conflicts] == [("src/api/x.py", "lateagent")]
    assert manager.running_lanes() == ()
    assert await held(manager) == {(None, "src/**")}  # docs/a.md was granted, then released


@pytest.mark.parametrize(("first", "second", "overlap"), [
    ("src/**", "src/a.py", True),           # the server sees this one too
    ("pkg/*/b.py", "pkg/a/*.py", True),     # the server's known false negative
    ("docs", "docs/guide.md", True),        # a bare directory covers its contents
    ("pkg/a/*.py", "pkg/b/*.py", False),
    ("SRC/a.py", "src/a.py", False),        # case-sensitive
])
async def test_glob_overlap_between_lanes(setup, first, second, overlap):
    manager = setup.manager()
    await manager.start()
    assert (await manager.reserve(1, "T-1", [first])).acquired

    outcome = await manager.reserve(2, "T-2", [second])

    assert outcome.acquired is not overlap
    if overlap:
        assert outcome.conflicts[0].lane == 1
        assert (2, second) not in await held(manager)
    else:
        assert await held(manager) == {(1, first), (2, second)}


async def test_ledger_is_refreshed_from_the_server_and_marks_conflicts(setup):
    manager = setup.manager()
    await manager.start()
    await manager.reserve(1, "T-1", ["lib/**"])
    other = await setup.foreign_agent("advisory-agent")
    # The server's reservations are advisory: a conflicting request is granted anyway.
    await other.call_tool("file_reservation_paths", {
        "project_key": setup.project, "agent_name": "advisoryagent", "paths": ["lib/x.py"],
        "ttl_seconds": 600})

    ledger = await manager.refresh_ledger()

    by_pattern = {record.path_pattern: record for record in ledger}
    assert set(by_pattern) == {"lib/**", "lib/x.py"}
    assert by_pattern["lib/x.py"].lane is None and by_pattern["lib/x.py"].conflicts
    assert by_pattern["lib/**"].lane == 1 and by_pattern["lib/**"].conflicts
    assert setup.events[-1] == ReservationsChanged(ledger)

    # A release updates the table from what was given back, without asking the server;
    # it must still show what the server would say.
    await manager.release(1)
    shown = manager.ledger
    assert [(record.path_pattern, record.conflicts) for record in shown] == [("lib/x.py", False)]
    assert setup.events[-1] == ReservationsChanged(shown)
    assert await manager.refresh_ledger() == shown


async def test_renewal_extends_expiry_and_retakes_reservations_released_behind_our_back(setup):
    manager = setup.manager(ttl=120, renew_margin_seconds=10_000)
    await manager.start()
    await manager.reserve(1, "T-1", ["app/**", "tests/app/**"])
    before = {record.path_pattern: record.expires_at for record in await manager.published()}

    assert await manager.renew_due() == 1
    after = {record.path_pattern: record.expires_at for record in manager.ledger}
    assert all(after[pattern] > before[pattern] for pattern in before)

    lane_agent = await setup.foreign_agent("cleaner")  # any client can call as the lane
    await lane_agent.call_tool("release_file_reservations", {
        "project_key": setup.project, "agent_name": manager.agent_name(1)})
    assert await manager.refresh_ledger() == ()

    assert await manager.renew_due() == 1
    assert await held(manager) == {(1, "app/**"), (1, "tests/app/**")}


async def test_a_crashed_runs_reservations_are_released_or_adopted_at_start(setup):
    crashed = setup.manager()
    await crashed.start()
    await crashed.reserve(1, "T-1", ["one/**"])
    await crashed.reserve(2, "T-2", ["two/**"])
    ids_before = {record.path_pattern: record.reservation_id for record in await crashed.published()}

    restarted = setup.manager()
    await restarted.start(adopt={1: ("T-1", ["one/**"])})

    assert await held(restarted) == {(1, "one/**")}
    assert restarted.ledger[0].reservation_id == ids_before["one/**"]  # adopted, not doubled
    assert restarted.running_lanes() == (1,)
    await restarted.release(1)
    assert await restarted.published() == ()


async def test_unreachable_at_start_means_sequential_mode(tmp_path: Path):
    events: list[Any] = []
    async with AgentMailClient(f"http://127.0.0.1:{free_port()}/mcp/") as client:
        manager = ReservationManager(client, "/work/down", 4, 600, events.append)
        assert await manager.start() is Mode.SEQUENTIAL

        first = await manager.reserve(1, "T-1", ["a/**"])
        second = await manager.reserve(2, "T-2", ["b/**"])

    assert "not answering" in manager.mode_reason
    assert events == [ModeChanged(Mode.SEQUENTIAL, manager.mode_reason)]
    assert first.acquired and first.mode is Mode.SEQUENTIAL and first.granted == ()
    assert not second.acquired and "still running" in second.reason
    assert manager.can_start_lane(0) and not manager.can_start_lane(1)
