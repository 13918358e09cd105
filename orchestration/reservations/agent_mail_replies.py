"""Agent Mail's replies as typed records, checked where they enter (the client).

Each tool orch-tui calls answers a JSON object whose shape tests/data/agent_mail/ records for
both server builds. `from_reply` reads one into a frozen record and raises
`AgentMailReplyError` naming the tool and what was wrong when the shape is not the one
expected: past the client, nothing reads a server dict. Fields a build may leave out
(`slug`, `reason`, `registration_token`, timestamps) are optional; the rest are required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Sequence

from orch_tui.orchestration.reservations.agent_mail_errors import AgentMailProtocolError

ReservationId = int | str
"""The server's id of one reservation (an integer on both builds; kept as given)."""


class AgentMailReplyError(AgentMailProtocolError):
    """A tool answered, but not in the shape orch-tui knows (a different server version?)."""


# ----------------------------------------------------------------------------- reading

def _object(tool: str, value: object, what: str = "the reply") -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise AgentMailReplyError(f"{what} is not a JSON object but {_shown(value)}", tool=tool)
    return value


def _objects(tool: str, reply: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    """The objects listed under `key` (absent or null: none)."""
    value = reply.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AgentMailReplyError(f"{key!r} is not a list but {_shown(value)}", tool=tool)
    return [_object(tool, item, f"an item of {key!r}") for item in value]


def _text(tool: str, row: Mapping[str, object], key: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise AgentMailReplyError(f"{key!r} should be a non-empty string, got {_shown(value)}", tool=tool)
    return value


def _flag(tool: str, row: Mapping[str, object], key: str, default: bool) -> bool:
    value = row.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise AgentMailReplyError(f"{key!r} should be true or false, got {_shown(value)}", tool=tool)
    return value


def _id(tool: str, row: Mapping[str, object]) -> ReservationId:
    value = row.get("id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise AgentMailReplyError(f"'id' should be a reservation id, got {_shown(value)}", tool=tool)
    return value


def _time(tool: str, row: Mapping[str, object], key: str) -> datetime | None:
    """A timestamp (ISO 8601; no zone means UTC), or None when the server gave none."""
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    raise AgentMailReplyError(f"{key!r} should be an ISO 8601 time, got {_shown(value)}", tool=tool)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# ----------------------------------------------------------------------------- records

@dataclass(frozen=True)
class ProjectReply:
    """`ensure_project`: the project's slug names its resources (empty: use the key)."""

    slug: str

    @classmethod
    def from_reply(cls, tool: str, value: object) -> ProjectReply:
        return cls(_text(tool, _object(tool, value), "slug", required=False))


@dataclass(frozen=True)
class AgentReply:
    """`register_agent`: the name the server gave (the fork may rewrite it) and, upstream,
    the token later calls as that agent must carry."""

    name: str
    registration_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_reply(cls, tool: str, value: object) -> AgentReply:
        reply = _object(tool, value)
        try:
            name = _text(tool, reply, "name")
        except AgentMailReplyError:
            raise AgentMailReplyError(f"no agent name in the reply (got {_shown(value)})", tool=tool) from None
        return cls(name, _text(tool, reply, "registration_token", required=False) or None)


@dataclass(frozen=True)
class Grant:
    """One reservation the server granted."""

    id: ReservationId
    path_pattern: str
    expires_at: datetime | None


@dataclass(frozen=True)
class ConflictHolder:
    """Who holds a pattern that conflicts with `path`, one of the patterns we asked for."""

    path: str
    agent: str
    path_pattern: str
    exclusive: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class ReserveReply:
    """`file_reservation_paths`: what was granted and who else holds what we asked for
    (the server grants conflicting paths anyway: a conflict means "not acquired")."""

    granted: tuple[Grant, ...]
    conflicts: tuple[ConflictHolder, ...]

    @classmethod
    def from_reply(cls, tool: str, value: object) -> ReserveReply:
        reply = _object(tool, value)
        granted = tuple(Grant(_id(tool, row), _text(tool, row, "path_pattern"), _time(tool, row, "expires_ts"))
                        for row in _objects(tool, reply, "granted"))
        conflicts = tuple(
            ConflictHolder(path=_text(tool, conflict, "path"), agent=_text(tool, holder, "agent"),
                           path_pattern=_text(tool, holder, "path_pattern"),
                           exclusive=_flag(tool, holder, "exclusive", True),
                           expires_at=_time(tool, holder, "expires_ts"))
            for conflict in _objects(tool, reply, "conflicts")
            for holder in _objects(tool, conflict, "holders"))
        return cls(granted, conflicts)


@dataclass(frozen=True)
class RenewReply:
    """`renew_file_reservations`: the new expiry of each renewed reservation."""

    renewed: tuple[Grant, ...]

    @classmethod
    def from_reply(cls, tool: str, value: object) -> RenewReply:
        rows = _objects(tool, _object(tool, value), "file_reservations")
        return cls(tuple(Grant(_id(tool, row), _text(tool, row, "path_pattern", required=False),
                               _time(tool, row, "new_expires_ts")) for row in rows))


@dataclass(frozen=True)
class ReleaseReply:
    """`release_file_reservations`: how many were released."""

    released: int

    @classmethod
    def from_reply(cls, tool: str, value: object) -> ReleaseReply:
        count = _object(tool, value).get("released", 0)
        if isinstance(count, bool) or not isinstance(count, int):
            raise AgentMailReplyError(f"'released' should be a count, got {_shown(count)}", tool=tool)
        return cls(count)


@dataclass(frozen=True)
class ActiveReservation:
    """One row of the project's `file_reservations` resource."""

    id: ReservationId
    agent: str
    path_pattern: str
    exclusive: bool
    reason: str
    expires_at: datetime | None
    released: bool

    def active_at(self, now: datetime) -> bool:
        # The fork ignores `active_only`: released and expired rows come back too.
        return not self.released and (self.expires_at is None or self.expires_at >= now)


def active_reservations_from(resource: str, value: object) -> tuple[ActiveReservation, ...]:
    """The rows of a `file_reservations` resource: a list, or one wrapped in an object
    (`{"result": [...]}` or `{"file_reservations": [...]}`)."""
    rows: object = value
    if isinstance(value, dict):
        rows = value.get("result") or value.get("file_reservations") or []
    if not isinstance(rows, list):
        raise AgentMailReplyError(f"the reservations are not a list but {_shown(rows)}", tool=resource)
    return tuple(_active_row(resource, _object(resource, row, "a reservation")) for row in rows)


def _active_row(resource: str, row: Mapping[str, object]) -> ActiveReservation:
    return ActiveReservation(
        id=_id(resource, row), agent=_text(resource, row, "agent"),
        path_pattern=_text(resource, row, "path_pattern"),
        exclusive=_flag(resource, row, "exclusive", True),
        reason=_text(resource, row, "reason", required=False),
        expires_at=_time(resource, row, "expires_ts"),
        released=row.get("released_ts") not in (None, ""))


def earliest(moments: Sequence[datetime | None]) -> datetime | None:
    """The soonest of the known moments (None when none is known)."""
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None
