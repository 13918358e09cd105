"""What can go wrong talking to Agent Mail: one error type each, all `AgentMailError`s that
carry the server's message and the tool that was called (never the bearer token)."""

from __future__ import annotations


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


STATUS_ERRORS: dict[int, type[AgentMailHTTPError]] = {
    401: AgentMailUnauthorized,
    403: AgentMailForbidden,
    429: AgentMailRateLimited,
}
