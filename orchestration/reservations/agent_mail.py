"""An async MCP Agent Mail client: JSON-RPC over streamable HTTP, both server builds.

The client speaks stateless MCP (`tools/call`, `tools/list`, `resources/read`) to the `/mcp/`
endpoint (or whatever URL it is given, such as upstream's `/api/`). Which server build is on
the other end is detected from `tools/list`, never configured:
- the PyPI fork (`mcp-agent-mail` 0.1.0) hides the file reservation tools behind
  `call_extended_tool` (unless started with `MCP_TOOLS_MODE=extended`) and has no tokens;
- the upstream build lists every tool directly and advertises a `registration_token`
  argument on the tools that act as a named agent.

The tools orch-tui uses each have a method (`register_agent`, `reserve_paths`...) that returns
the reply as a typed record (agent_mail_replies.py); `call_tool` stays for any other tool.
Every failure becomes an `AgentMailError` subclass (agent_mail_errors.py) carrying the
server's message; none leaks the bearer token, which is kept out of repr, messages and logs.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from orch_tui.orchestration.reservations.agent_mail_errors import (
    STATUS_ERRORS,
    AgentMailError,
    AgentMailForbidden,
    AgentMailHTTPError,
    AgentMailProtocolError,
    AgentMailRateLimited,
    AgentMailTimeout,
    AgentMailToolError,
    AgentMailUnauthorized,
    AgentMailUnavailable,
)
from orch_tui.orchestration.reservations.agent_mail_replies import (
    ActiveReservation,
    AgentReply,
    ProjectReply,
    ReleaseReply,
    RenewReply,
    ReserveReply,
    active_reservations_from,
)

__all__ = [  # the errors live in agent_mail_errors.py; callers import them from here too
    "AgentMailClient", "AgentMailError", "AgentMailForbidden", "AgentMailHTTPError",
    "AgentMailProtocolError", "AgentMailRateLimited", "AgentMailTimeout", "AgentMailToolError",
    "AgentMailUnauthorized", "AgentMailUnavailable", "ServerBuild", "build_from_tool_list",
    "endpoint_url",
]

DEFAULT_PATH = "/mcp/"
LIVENESS_PATH = "/health/liveness"
PROXY_TOOL = "call_extended_tool"
TOKEN_ARGUMENT = "registration_token"


# ----------------------------------------------------------------------------- build

@dataclass(frozen=True)
class ServerBuild:
    """What the server on the other end can do, as `tools/list` shows it."""

    name: str
    """"upstream" (registration tokens) or "pypi" (the fork: no tokens)."""
    tools: frozenset[str]
    """Tools listed directly."""
    proxied: bool
    """Unlisted tools are reached through `call_extended_tool` (the fork's core mode)."""
    token_tools: frozenset[str]
    """Tools that take a `registration_token` argument (upstream)."""

    @property
    def uses_registration_tokens(self) -> bool:
        return bool(self.token_tools)

    def routes_through_proxy(self, tool: str) -> bool:
        return self.proxied and tool not in self.tools

    def takes_token(self, tool: str) -> bool:
        return tool in self.token_tools


def build_from_tool_list(tools: list[Mapping[str, Any]]) -> ServerBuild:
    """Classify a server from its `tools/list` result."""
    names = frozenset(str(tool.get("name", "")) for tool in tools)
    token_tools = frozenset(
        str(tool.get("name", "")) for tool in tools
        if TOKEN_ARGUMENT in ((tool.get("inputSchema") or {}).get("properties") or {})
    )
    return ServerBuild(
        name="upstream" if token_tools else "pypi",
        tools=names,
        proxied=PROXY_TOOL in names,
        token_tools=token_tools,
    )


# ----------------------------------------------------------------------------- client

def endpoint_url(url: str) -> str:
    """The MCP endpoint: a bare `http://host:port` gets `/mcp/`; other paths are kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Agent Mail URL must be http(s)://host:port[/path], got {url!r}")
    path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class AgentMailClient:
    """Async client for one Agent Mail server. Use as `async with` or call `aclose()`."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0, *,
                 liveness_timeout: float = 1.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = endpoint_url(url)
        parts = urlsplit(self.url)
        self.base_url = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self.timeout = timeout
        self.liveness_timeout = liveness_timeout
        self._token = token or None
        self._ids = itertools.count(1)
        self._build: ServerBuild | None = None
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout,
                                       follow_redirects=True)

    def __repr__(self) -> str:
        auth = "bearer token set" if self._token else "no token"
        return f"AgentMailClient({self.url!r}, {auth})"

    async def __aenter__(self) -> AgentMailClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def build(self) -> ServerBuild | None:
        """The build found by the last `detect_build()`, if any."""
        return self._build

    # -- health

    async def liveness(self) -> bool:
        """True when `/health/liveness` answers "alive" within the short liveness timeout."""
        try:
            response = await self._http.get(self.base_url + LIVENESS_PATH,
                                            timeout=self.liveness_timeout)
            return response.status_code == 200 and response.json().get("status") == "alive"
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    # -- MCP

    async def detect_build(self, refresh: bool = False) -> ServerBuild:
        if self._build is None or refresh:
            result = await self.rpc("tools/list", {})
            tools = result.get("tools") if isinstance(result, dict) else None
            if not isinstance(tools, list):
                raise AgentMailProtocolError("tools/list returned no tool list")
            self._build = build_from_tool_list(tools)
        return self._build

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Call a tool by its upstream name and return its structured result.

        On the fork, tools it hides are sent through `call_extended_tool`. List results
        wrapped as `{"result": [...]}` are unwrapped.
        """
        build = await self.detect_build()
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments)}
        if build.routes_through_proxy(name):
            params = {"name": PROXY_TOOL,
                      "arguments": {"tool_name": name, "arguments": dict(arguments)}}
        result = await self.rpc("tools/call", params, tool=name)
        return _tool_result(result, name)

    # -- the tools orch-tui uses, their replies read into typed records

    async def ensure_project(self, human_key: str) -> ProjectReply:
        tool = "ensure_project"
        return ProjectReply.from_reply(tool, await self.call_tool(tool, {"human_key": human_key}))

    async def register_agent(self, arguments: Mapping[str, Any]) -> AgentReply:
        tool = "register_agent"
        return AgentReply.from_reply(tool, await self.call_tool(tool, arguments))

    async def reserve_paths(self, arguments: Mapping[str, Any]) -> ReserveReply:
        tool = "file_reservation_paths"
        return ReserveReply.from_reply(tool, await self.call_tool(tool, arguments))

    async def renew_reservations(self, arguments: Mapping[str, Any]) -> RenewReply:
        tool = "renew_file_reservations"
        return RenewReply.from_reply(tool, await self.call_tool(tool, arguments))

    async def release_reservations(self, arguments: Mapping[str, Any]) -> ReleaseReply:
        tool = "release_file_reservations"
        return ReleaseReply.from_reply(tool, await self.call_tool(tool, arguments))

    async def active_reservations(self, project_slug: str) -> tuple[ActiveReservation, ...]:
        """The project's reservations the server calls active (the fork returns all: filter
        with `ActiveReservation.active_at`)."""
        uri = f"resource://file_reservations/{quote(project_slug, safe='')}?active_only=true"
        return active_reservations_from("file_reservations resource", await self.read_resource(uri))

    async def read_resource(self, uri: str) -> Any:
        """Read a resource and return its first content parsed as JSON (or the text)."""
        result = await self.rpc("resources/read", {"uri": uri})
        contents = result.get("contents") if isinstance(result, dict) else None
        if not contents:
            raise AgentMailProtocolError(f"resource {uri} returned no contents")
        return _json_or_text(contents[0].get("text", ""))

    async def rpc(self, method: str, params: Mapping[str, Any], *,
                  tool: str | None = None) -> Any:
        """One JSON-RPC request; returns `result` or raises a typed error."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": dict(params)}
        headers = {"Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = await self._http.post(self.url, content=json.dumps(body), headers=headers)
        except httpx.TimeoutException:
            raise AgentMailTimeout(f"no answer from {self.url} within {self.timeout:g} s",
                                   tool=tool) from None
        except httpx.HTTPError as exc:
            raise AgentMailUnavailable(
                self._redact(f"cannot reach {self.url}: {type(exc).__name__}: {exc}"),
                tool=tool) from None
        return self._rpc_result(response, tool)

    # -- decoding

    def _rpc_result(self, response: httpx.Response, tool: str | None) -> Any:
        payload = _decode_body(response)
        if response.status_code >= 400 and not (isinstance(payload, dict) and "error" in payload):
            error_type = STATUS_ERRORS.get(response.status_code, AgentMailHTTPError)
            raise error_type(self._redact(_detail(payload, response)),
                             status=response.status_code, tool=tool)
        if not isinstance(payload, dict):
            raise AgentMailProtocolError(
                self._redact(f"HTTP {response.status_code}: not a JSON-RPC answer: "
                             f"{response.text[:200]!r}"), tool=tool)
        if "error" in payload:
            error = payload.get("error") or {}
            raise AgentMailProtocolError(self._redact(str(error.get("message", error))),
                                         code=error.get("code"), tool=tool)
        if "result" not in payload:
            raise AgentMailProtocolError("JSON-RPC answer without result", tool=tool)
        return payload["result"]

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _decode_body(response: httpx.Response) -> Any:
    """JSON body, or the last `data:` event of an SSE body; None when neither parses."""
    text = response.text
    if "text/event-stream" in response.headers.get("content-type", ""):
        events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = events[-1] if events else ""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _detail(payload: Any, response: httpx.Response) -> str:
    if isinstance(payload, dict) and "detail" in payload:
        return f"HTTP {response.status_code}: {payload['detail']}"
    return f"HTTP {response.status_code}: {response.reason_phrase or response.text[:200]}"


def _tool_result(result: Any, tool: str) -> Any:
    if not isinstance(result, dict):
        raise AgentMailProtocolError("tool result is not an object", tool=tool)
    texts = [item.get("text", "") for item in result.get("content") or []
             if isinstance(item, dict)]
    if result.get("isError"):
        raise AgentMailToolError("; ".join(texts) or "the tool failed without a message",
                                 tool=tool)
    structured = result.get("structuredContent")
    if structured is None:
        structured = _json_or_text(texts[0]) if texts else None
    if isinstance(structured, dict) and set(structured) == {"result"}:
        return structured["result"]
    return structured


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
