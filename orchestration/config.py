"""Settings from `[tool.orch-tui]` in pyproject.toml or from `.orch-tui.toml`.

Every knob has a default; a bad value is a BadInput naming the file, the line and the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from . import lane_settings
from .errors import BadInput

MIN_BATCH_SIZE = 2
MAX_BATCH_SIZE = 6
AGENT_KINDS = ("opencode", "scripted", "command")
BRANCH_POLICIES = ("archive", "delete", "keep")
RESERVATION_BACKENDS = ("auto", "agent-mail", "local")


@dataclass(frozen=True)
class Config:
    batch_size: int = 4
    target_branch: str | None = None
    """Branch the merge queue moves; None means the branch checked out in the main worktree."""
    worktree_dir: str | None = None
    """Where lane worktrees live; None means beside the repository, outside its working tree."""
    branch_after_merge: str = "archive"
    """archive (keep under refs/orch-archive/), delete, or keep the task branch as it is."""
    verify_command: tuple[str, ...] = ()
    """argv run in the merge worktree before the target moves; empty means no check."""
    agent: str = "opencode"
    agent_timeout_seconds: float = 1800.0
    agent_stall_seconds: float = 120.0
    """A lane whose agent sends no event for this long is shown as stalled (it keeps running)."""
    agent_command: tuple[str, ...] = ()
    """argv template for the command agent: {worktree} {task_id} {prompt_file} are filled in."""
    opencode_binary: str = "opencode"
    opencode_model: str | None = None
    agent_mail_url: str = "http://127.0.0.1:8765/mcp/"
    agent_mail_token_env: str = "AGENT_MAIL_TOKEN"
    """Name of the environment variable holding the bearer token (the token never sits in a file)."""
    reservation_ttl_seconds: int = 3600
    lane_setup_command: tuple[str, ...] = ()
    """argv run in a lane's worktree after it is assigned, before its agent starts; empty: none."""
    lane_setup_when_changed: tuple[str, ...] = ()
    """Files (relative to the lane) whose content decides whether setup runs again; empty: always."""
    lane_copy: tuple[str, ...] = ()
    """Git-ignored files or folders copied from the main checkout into each lane on assignment."""
    lane_ports: int = 10
    """Free ports leased to each lane (ORCH_PORT, ORCH_PORTS); 0 leases none."""
    lane_port_base: int = 42000
    """The first port of lane 1's block; lane N starts lane_ports * (N - 1) above it."""
    lane_check_command: tuple[str, ...] = ()
    """argv run in the lane when its agent succeeds; a failure holds the lane's merge for a person."""
    reservations: str = "auto"
    """auto (Agent Mail when it answers at start, else the local ledger), agent-mail or local."""
    source: str = field(default="defaults", compare=False)


def _check_batch_size(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}"
    if not MIN_BATCH_SIZE <= value <= MAX_BATCH_SIZE:
        return f"is {value}; allowed {MIN_BATCH_SIZE}..{MAX_BATCH_SIZE}"
    return None


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return check


def _positive_number(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a number greater than 0"


def _optional_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, str) and value) else "must be a non-empty string"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _argv(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(word, str) for word in value)
    return None if ok else 'must be a list of strings (an argv list, e.g. ["make", "test"])'


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "batch_size": _check_batch_size,
    "target_branch": _optional_text,
    "worktree_dir": _optional_text,
    "branch_after_merge": _one_of(BRANCH_POLICIES),
    "verify_command": _argv,
    "agent": _one_of(AGENT_KINDS),
    "agent_timeout_seconds": _positive_number,
    "agent_stall_seconds": _positive_number,
    "agent_command": _argv,
    "opencode_binary": _text,
    "opencode_model": _optional_text,
    "agent_mail_url": _text,
    "agent_mail_token_env": _text,
    "reservation_ttl_seconds": _positive_number,
    "lane_setup_command": _argv,
    "lane_setup_when_changed": lane_settings.check_lane_paths,
    "lane_copy": lane_settings.check_lane_paths,
    "lane_ports": lane_settings.check_lane_ports,
    "lane_port_base": lane_settings.check_port_base,
    "lane_check_command": _argv,
    "reservations": _one_of(RESERVATION_BACKENDS),
}


def check_batch_size(value: int, *, origin: str = "--batch-size") -> int:
    """The batch size, or BadInput saying what is allowed."""
    problem = _check_batch_size(value)
    if problem:
        raise BadInput(f"{origin} {problem}", fix=f"choose a batch size from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}")
    return value


def _line_of(text: str, key: str) -> int | None:
    match = re.search(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _read_table(path: Path, text: str, in_pyproject: bool) -> dict[str, Any]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's error has no lineno attribute; its message ends "(at line N, column M)".
        found = re.search(r"at line (\d+)", str(error))
        line = int(found.group(1)) if found else None
        raise BadInput(f"not valid TOML: {error}", path=path, line=line,
                       fix="correct the TOML syntax at that line") from None
    if not in_pyproject:
        return document
    table = document.get("tool", {}).get("orch-tui", {})
    if not isinstance(table, dict):
        raise BadInput("[tool.orch-tui] must be a table", path=path, line=_line_of(text, "orch-tui"),
                       fix="write it as a [tool.orch-tui] section")
    return table


def _validated(path: Path, text: str, table: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(Config)} - {"source"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise BadInput(f"unknown setting {key!r}", path=path, line=_line_of(text, key),
                           fix=f"remove it or use one of: {', '.join(sorted(known))}")
        problem = _CHECKS[name](value)
        if problem:
            raise BadInput(f"{key} {problem}", path=path, line=_line_of(text, key),
                           fix=f"change {key} or remove it to use the default")
        values[name] = tuple(value) if isinstance(value, list) else value
    lane_settings.check_together(values, path, text, _line_of, max_lanes=MAX_BATCH_SIZE)
    return values


def load_config(repo: Path) -> Config:
    """Config for the repository at `repo`: `.orch-tui.toml` wins over pyproject.toml."""
    for name, in_pyproject in ((".orch-tui.toml", False), ("pyproject.toml", True)):
        path = repo / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        table = _read_table(path, text, in_pyproject)
        if not table and in_pyproject:
            continue
        return Config(**_validated(path, text, table), source=str(path))
    return Config()
