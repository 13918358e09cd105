"""The client's transport failures and the bearer token, against real sockets and the real
PyPI server. Build detection and tool errors are in test_reservations.py (its server)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from orch_tui.orchestration.reservations.agent_mail import (
    AgentMailClient,
    AgentMailTimeout,
    AgentMailUnauthorized,
    AgentMailUnavailable,
)
from orch_tui.orchestration.events import Mode
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from tests.support.agent_mail_server import free_port, running_agent_mail

BEARER = "s3cret-bearer-for-tests"


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


@pytest.mark.agent_mail
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
