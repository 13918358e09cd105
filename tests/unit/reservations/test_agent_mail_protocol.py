"""The client against recorded response shapes: upstream's protocol differences and errors.

Upstream Agent Mail cannot run here (Python 3.12+, not on PyPI), so its answers are replayed
from tests/data/agent_mail/upstream.json through httpx's mock transport; the PyPI build's
shapes in pypi-0.1.0.json were captured from the real server. The real server is exercised
in test_agent_mail_client.py and test_reservations*.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from orch_tui.orchestration.reservations.agent_mail import (
    AgentMailClient,
    AgentMailForbidden,
    AgentMailProtocolError,
    AgentMailRateLimited,
    AgentMailToolError,
    AgentMailUnauthorized,
    endpoint_url,
)
from orch_tui.orchestration.events import Mode, ModeChanged
from orch_tui.orchestration.reservations.agent_mail_replies import AgentMailReplyError
from orch_tui.orchestration.reservations.agent_mail_backend import ReservationManager
from tests.support.helpers import DATA_DIR

UPSTREAM = json.loads((DATA_DIR / "agent_mail" / "upstream.json").read_text())
PYPI = json.loads((DATA_DIR / "agent_mail" / "pypi-0.1.0.json").read_text())
UPSTREAM_TOKEN = UPSTREAM["register_agent"]["result"]["structuredContent"]["registration_token"]


class RecordedServer:
    """Answers MCP requests from recorded shapes and remembers what it was sent."""

    def __init__(self, shapes: dict[str, Any], overrides: dict[str, httpx.Response] | None = None):
        self.shapes = shapes
        self.overrides = overrides or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/liveness":
            return httpx.Response(200, json={"status": "alive"})
        self.headers.append(request.headers)
        body = json.loads(request.content)
        method, params = body["method"], body["params"]
        key = method if method != "tools/call" else params["name"]
        if method == "resources/read":
            key = "resources/read file_reservations"
        self.calls.append((key, params.get("arguments", params)))
        if key in self.overrides:
            return self.overrides[key]
        return httpx.Response(200, json=self.shapes[key])

    def tools_called(self) -> list[str]:
        return [name for name, _ in self.calls]


def client_for(server: RecordedServer, url: str = "http://agent-mail.test:8765/mcp/",
               token: str | None = None) -> AgentMailClient:
    return AgentMailClient(url, token=token, transport=httpx.MockTransport(server))


async def test_upstream_build_is_detected_from_its_tool_list():
    async with client_for(RecordedServer(UPSTREAM)) as client:
        build = await client.detect_build()
    assert build.name == "upstream"
    assert build.uses_registration_tokens
    assert not build.routes_through_proxy("file_reservation_paths")
    assert build.takes_token("renew_file_reservations")


async def test_pypi_build_routes_hidden_tools_through_call_extended_tool():
    server = RecordedServer(PYPI, overrides={"call_extended_tool": httpx.Response(
        200, json=PYPI["file_reservation_paths"])})
    async with client_for(server) as client:
        build = await client.detect_build()
        answer = await client.call_tool("file_reservation_paths", {"paths": ["src/**"]})
    assert build.name == "pypi" and not build.uses_registration_tokens
    assert answer["granted"][0]["path_pattern"] == "src/**"
    name, arguments = server.calls[-1]
    assert name == "call_extended_tool"
    assert arguments == {"tool_name": "file_reservation_paths", "arguments": {"paths": ["src/**"]}}


async def test_manager_on_upstream_passes_registration_tokens_and_calls_tools_directly():
    server = RecordedServer(UPSTREAM)
    events: list[Any] = []
    async with client_for(server) as client:
        manager = ReservationManager(client, "/work/repo", 1, 3600, events.append)
        assert await manager.start() is Mode.PARALLEL
        outcome = await manager.reserve(1, "T-1", ["src/**"])
        await manager.release(1)
    assert outcome.acquired and outcome.granted == ("src/**",)
    assert manager.agent_name(1) == "lane-1"
    assert "call_extended_tool" not in server.tools_called()
    for name, arguments in server.calls:
        if name in ("file_reservation_paths", "release_file_reservations"):
            assert arguments["registration_token"] == UPSTREAM_TOKEN
            assert arguments["agent_name"] == "lane-1"
    assert ModeChanged(Mode.PARALLEL, manager.mode_reason) in events
    assert UPSTREAM_TOKEN not in repr(events) + repr(manager.__dict__)


@pytest.mark.parametrize(("status", "error_type", "message"), [
    (401, AgentMailUnauthorized, "Unauthorized"),
    (403, AgentMailForbidden, "Forbidden"),
    (429, AgentMailRateLimited, "Rate limit exceeded"),
])
async def test_http_errors_become_typed_errors_with_the_servers_message(status, error_type, message):
    recorded = UPSTREAM[f"http_{status}"]
    server = RecordedServer(UPSTREAM, overrides={"health_check": httpx.Response(
        recorded["status"], json=recorded["body"])})
    async with client_for(server, token="bearer-secret-123") as client:
        with pytest.raises(error_type) as caught:
            await client.call_tool("health_check", {})
    assert caught.value.status == status
    assert message in str(caught.value)
    assert "bearer-secret-123" not in str(caught.value) + repr(client)


async def test_tool_failure_and_protocol_errors_are_typed():
    server = RecordedServer(UPSTREAM, overrides={
        "file_reservation_paths": httpx.Response(
            200, json=UPSTREAM["file_reservation_paths_empty_paths"]),
        "whois": httpx.Response(200, json=UPSTREAM["unknown_method"]),
        "health_check": httpx.Response(200, content=b"<html>proxy error</html>"),
    })
    async with client_for(server) as client:
        with pytest.raises(AgentMailToolError, match="paths must not be empty"):
            await client.call_tool("file_reservation_paths", {"paths": []})
        with pytest.raises(AgentMailProtocolError) as caught:
            await client.call_tool("whois", {})
        assert caught.value.code == -32602
        with pytest.raises(AgentMailProtocolError, match="not a JSON-RPC answer"):
            await client.call_tool("health_check", {})


async def test_event_stream_answers_are_read():
    server = RecordedServer(UPSTREAM, overrides={"health_check": httpx.Response(
        200, text=UPSTREAM["sse_health_check"], headers={"content-type": "text/event-stream"})})
    async with client_for(server) as client:
        assert await client.call_tool("health_check", {}) == {"status": "ok"}


async def test_bearer_token_is_sent_but_never_shown():
    server = RecordedServer(UPSTREAM)
    async with client_for(server, token="bearer-secret-123") as client:
        await client.call_tool("ensure_project", {"human_key": "/work/repo"})
        assert server.headers[-1]["authorization"] == "Bearer bearer-secret-123"
        assert "bearer-secret-123" not in repr(client) + str(vars(client).get("url"))


def test_endpoint_url_keeps_upstream_api_path_and_defaults_to_mcp():
    assert endpoint_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765/mcp/"
    assert endpoint_url("http://127.0.0.1:8765/api/") == "http://127.0.0.1:8765/api/"
    with pytest.raises(ValueError):
        endpoint_url("127.0.0.1:8765")


# ----- replies read into typed records at the client ------------------------------------------

@pytest.mark.parametrize("shapes", [UPSTREAM, PYPI], ids=["upstream", "pypi"])
async def test_recorded_replies_are_read_into_typed_records(shapes):
    server = RecordedServer(shapes, overrides={"call_extended_tool": httpx.Response(
        200, json=shapes["file_reservation_paths"])})
    async with client_for(server) as client:
        project = await client.ensure_project("/work/repo")
        agent = await client.register_agent({"project_key": "/work/repo", "name": "lane-1"})
        granted = await client.reserve_paths({"paths": ["src/**"]})
        rows = await client.active_reservations(project.slug)
    assert project.slug == shapes["ensure_project"]["result"]["structuredContent"]["slug"]
    assert agent.name in ("lane-1", "lane1")
    assert (agent.registration_token is not None) is (shapes is UPSTREAM)
    assert "secret" not in repr(agent)
    assert [grant.path_pattern for grant in granted.granted] == ["src/**"]
    assert granted.granted[0].expires_at is not None and granted.conflicts == ()
    assert rows[0].agent in ("lane-1", "lane1") and rows[0].path_pattern == "src/**"
    assert not rows[0].released


async def test_a_conflict_names_the_holder():
    server = RecordedServer(PYPI, overrides={"call_extended_tool": httpx.Response(
        200, json=PYPI["file_reservation_paths_conflict"])})
    async with client_for(server) as client:
        answer = await client.reserve_paths({"paths": ["src/api.py"]})
    (holder,) = answer.conflicts
    assert (holder.path, holder.agent, holder.path_pattern, holder.exclusive) == ("src/api.py", "lane1", "src/**", True)


def _reply(structured: Any) -> httpx.Response:
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {
        "content": [{"type": "text", "text": "{}"}], "structuredContent": structured, "isError": False}})


@pytest.mark.parametrize(("tool", "structured", "complaint"), [
    ("register_agent", {"id": 3}, "register_agent: no agent name in the reply"),
    ("file_reservation_paths", {"granted": {"id": 1}}, "file_reservation_paths: 'granted' is not a list"),
    ("file_reservation_paths", {"granted": [{"id": 1, "path_pattern": "src/**", "expires_ts": "soon"}]},
     "file_reservation_paths: 'expires_ts' should be an ISO 8601 time, got 'soon'"),
    ("file_reservation_paths", {"granted": [], "conflicts": [{"path": "a", "holders": ["lane-2"]}]},
     "file_reservation_paths: an item of 'holders' is not a JSON object but 'lane-2'"),
    ("renew_file_reservations", ["renewed"], "renew_file_reservations: the reply is not a JSON object"),
    ("release_file_reservations", {"released": "all"}, "release_file_reservations: 'released' should be a count"),
])
async def test_a_reply_of_the_wrong_shape_names_the_tool_and_what_was_wrong(tool, structured, complaint):
    server = RecordedServer(UPSTREAM, overrides={tool: _reply(structured)})
    calls = {"register_agent": "register_agent", "file_reservation_paths": "reserve_paths",
             "renew_file_reservations": "renew_reservations", "release_file_reservations": "release_reservations"}
    async with client_for(server) as client:
        with pytest.raises(AgentMailReplyError) as caught:
            await getattr(client, calls[tool])({"project_key": "/work/repo"})
    assert str(caught.value).startswith(complaint)
    assert isinstance(caught.value, AgentMailProtocolError)


async def test_a_ledger_row_without_an_agent_is_named():
    rows = [{"id": 1, "path_pattern": "src/**", "exclusive": True}]
    server = RecordedServer(UPSTREAM, overrides={"resources/read file_reservations": httpx.Response(
        200, json={"jsonrpc": "2.0", "id": 1, "result": {"contents": [{"text": json.dumps(rows)}]}})})
    async with client_for(server) as client:
        with pytest.raises(AgentMailReplyError, match="file_reservations resource: 'agent' should be a non-empty string"):
            await client.active_reservations("work-repo")


async def test_a_server_answering_in_an_unknown_shape_leaves_the_manager_sequential_and_says_why():
    server = RecordedServer(UPSTREAM, overrides={"register_agent": _reply({"agent": "lane-1"})})
    events: list[Any] = []
    async with client_for(server) as client:
        manager = ReservationManager(client, "/work/repo", 1, 3600, events.append)
        assert await manager.start() is Mode.SEQUENTIAL
    assert "Agent Mail unusable: register_agent: no agent name in the reply" in manager.mode_reason
    assert ModeChanged(Mode.SEQUENTIAL, manager.mode_reason) in events
