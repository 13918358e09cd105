"""The Agent Mail client against the real PyPI server: build detection, errors, bearer token."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest

from orch_tui.orchestration.agent_mail import (
    AgentMailClient,
    AgentMailTimeout,
    AgentMailToolError,
    AgentMailUnauthorized,
    AgentMailUnavailable,
)
from orch_tui.orchestration.events import Mode
from orch_tui.orchestration.reservations import ReservationManager
from tests.agent_mail_server import AgentMailServer, free_port, running_agent_mail

pytestmark = pytest.mark.agent_mail

BEARER = "s3cret-bearer-for-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentMailServer]:
    with running_agent_mail(tmp_path_factory.mktemp("agent-mail-client")) as running:
        yield running


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


async def test_unreachable_server_is_a_typed_error_and_not_alive():
    async with AgentMailClient(f"http://127.0.0.1:{free_port()}/mcp/") as client:
        assert not await client.liveness()
        with pytest.raises(AgentMailUnavailable):
            await client.call_tool("health_check", {})


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A socket that accepts connections and never answers."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp/"
    listener.close()


async def test_a_server_that_does_not_answer_times_out(silent_server):
    async with AgentMailClient(silent_server, timeout=0.3, liveness_timeout=0.3) as client:
        assert not await client.liveness()
        with pytest.raises(AgentMailTimeout):
            await client.rpc("tools/list", {})


def non_local_client(url: str, token: str | None) -> AgentMailClient:
    """Seen by the server as coming from 127.0.0.2, which its localhost bypass does not cover."""
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    return AgentMailClient(url, token=token, transport=transport)


async def test_bearer_token_for_a_non_local_client(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    events: list[Any] = []
    # Remote writes need a writer role: the fork's RBAC gives bearer-token callers "reader".
    env = {"HTTP_BEARER_TOKEN": BEARER, "HTTP_RBAC_DEFAULT_ROLE": "writer"}
    with running_agent_mail(tmp_path / "server", env=env) as server:
        async with non_local_client(server.url, None) as anonymous:
            with pytest.raises(AgentMailUnauthorized) as refused:
                await anonymous.detect_build()
            denied = ReservationManager(anonymous, "/work/bearer", 1, 600, events.append)
            assert await denied.start() is Mode.SEQUENTIAL
            assert "401" in denied.mode_reason
        async with non_local_client(server.url, BEARER) as client:
            manager = ReservationManager(client, "/work/bearer", 1, 600, events.append,
                                         agent_prefix="bearer")
            assert await manager.start() is Mode.PARALLEL
            outcome = await manager.reserve(1, "T-1", ["src/**"])
            assert outcome.acquired
            await manager.release(1)
            shown = [repr(client), repr(manager.__dict__), str(refused.value), repr(events),
                     caplog.text, outcome.describe()]
    assert all(BEARER not in text for text in shown)
