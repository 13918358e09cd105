"""An async MCP Agent Mail client: JSON-RPC over streamable HTTP, both server builds.

The client speaks stateless MCP (`tools/call`, `tools/list`, `resources/read`) to the `/mcp/`
endpoint (or whatever URL it is given, such as upstream's `/api/`). Which server build is on
the other end is detected from `tools/list`, never configured:
- the PyPI fork (`mcp-agent-mail` 0.1.0) hides the file reservation tools behind
  `call_extended_tool` (unless started with `MCP_TOOLS_MODE=extended`) and has no tokens;
- the upstream build lists every tool directly and advertises a `registration_token`
  argument on the tools that act as a named agent.

Every failure becomes an `AgentMailError` subclass carrying the server's message; none leaks
the bearer token, which is kept out of repr, messages and logs.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_PATH = "/mcp/"
LIVENESS_PATH = "/health/liveness"
PROXY_TOOL = "call_extended_tool"
TOKEN_ARGUMENT = "registration_token"


# ----------------------------------------------------------------------------- errors

class AgentMailError(Exception):
    """Something went wrong talking to Agent Mail; `message` is what the server said."""

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tool = tool

    def __str__(self) -> str:
        return f"{self.tool}: {self.message}" if self.tool else self.message


class AgentMailUnavailable(AgentMailError):
    """The server could not be reached (refused, reset, DNS...)."""


class AgentMailTimeout(AgentMailUnavailable):
    """The server did not answer within the client's timeout."""


class AgentMailHTTPError(AgentMailError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int, tool: str | None = None) -> None:
        super().__init__(message, tool=tool)
        self.status = status


class AgentMailUnauthorized(AgentMailHTTPError):
    """401: a bearer token is needed (remote client) or the one sent is wrong."""


class AgentMailForbidden(AgentMailHTTPError):
    """403: the token's role may not call this tool (upstream RBAC: remote writes)."""


class AgentMailRateLimited(AgentMailHTTPError):
    """429: too many calls; try again later."""


class AgentMailProtocolError(AgentMailError):
    """The answer was not the JSON-RPC we expect (bad JSON, JSON-RPC `error`, odd shape)."""

    def __init__(self, message: str, *, code: int | None = None, tool: str | None = None) -> None:
        super().__init__(message, tool=tool)
        self.code = code


class AgentMailToolError(AgentMailError):
    """The tool ran and failed (`result.isError`); the message is the server's text."""


_STATUS_ERRORS: dict[int, type[AgentMailHTTPError]] = {
    401: AgentMailUnauthorized,
    403: AgentMailForbidden,
    429: AgentMailRateLimited,
}


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
            error_type = _STATUS_ERRORS.get(response.status_code, AgentMailHTTPError)
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
