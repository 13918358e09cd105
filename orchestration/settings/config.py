"""Settings from `[tool.orch-tui]` in pyproject.toml or from `.orch-tui.toml`.

Every knob has a default; a bad value is a BadInput naming the file, the line and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from orch_tui.orchestration.settings import lanes as lane_settings
from orch_tui.orchestration.errors import BadInput

MIN_BATCH_SIZE = 2
MAX_BATCH_SIZE = 6
AGENT_KINDS = ("opencode", "scripted", "command")
BRANCH_POLICIES = ("archive", "delete", "keep")
RESERVATION_BACKENDS = ("auto", "agent-mail", "local")
AGENT_PERMISSION_POLICIES = ("reject", "allow")
INPUT_ALERTS = ("notify", "bell", "off")


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
    agent_permissions: str = "reject"
    """What headless `orch-tui run` answers when an agent asks with nobody at a terminal:
    reject, or allow (once). Questions are dismissed either way."""
    max_tokens_per_task: int | None = None
    """A lane whose agent spends more tokens is stopped (its work kept); None: no limit."""
    max_cost_per_task: float | None = None
    """The same for cost, in the currency of the model's price table (OpenCode's `cost`)."""
    input_alert: str = "notify"
    """When a lane starts waiting for a person: notify (terminal bell and an OSC 9 desktop
    notification where the terminal supports it), bell (the bell only), or off."""
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
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
          and math.isfinite(value))
    return None if ok else "must be a finite number greater than 0"


# git's ref rules (git-check-ref-format), plus no leading '-' so a branch name can never
# be read as an option by a git command it is passed to.
_BAD_REF_TEXT = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def branch_name_problem(value: Any) -> str | None:
    """Why `value` cannot be a branch name (git's rules), or None when it can."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if (_BAD_REF_TEXT.search(value) or value.startswith(("-", "/")) or value.endswith(("/", ".", ".lock"))
            or value == "@" or any(part.startswith(".") for part in value.split("/"))):
        return f"{value!r} is not a valid branch name"
    return None


def _optional_branch(value: Any) -> str | None:
    return None if value is None else branch_name_problem(value)


def agent_mail_url_problem(value: Any) -> str | None:
    """Why `value` is not an Agent Mail endpoint (http(s)://host:port[/path]), or None."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"{value!r} is not a URL; use http://host:port/mcp/"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} must start with http:// or https:// and name a host, e.g. http://127.0.0.1:8765/mcp/"
    return None


def _positive_whole_number(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a whole number greater than 0"


def _optional_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, str) and value) else "must be a non-empty string"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _argv(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(word, str) for word in value)
    return None if ok else 'must be a list of strings (an argv list, e.g. ["make", "test"])'


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "batch_size": _check_batch_size,
    "target_branch": _optional_branch,
    "worktree_dir": _optional_text,
    "branch_after_merge": _one_of(BRANCH_POLICIES),
    "verify_command": _argv,
    "agent": _one_of(AGENT_KINDS),
    "agent_timeout_seconds": _positive_number,
    "agent_stall_seconds": _positive_number,
    "agent_command": _argv,
    "opencode_binary": _text,
    "opencode_model": _optional_text,
    "agent_mail_url": agent_mail_url_problem,
    "agent_mail_token_env": _text,
    "reservation_ttl_seconds": _positive_number,
    "lane_setup_command": _argv,
    "lane_setup_when_changed": lane_settings.check_lane_paths,
    "lane_copy": lane_settings.check_lane_paths,
    "lane_ports": lane_settings.check_lane_ports,
    "lane_port_base": lane_settings.check_port_base,
    "lane_check_command": _argv,
    "reservations": _one_of(RESERVATION_BACKENDS),
    "agent_permissions": _one_of(AGENT_PERMISSION_POLICIES),
    "input_alert": _one_of(INPUT_ALERTS),
    "max_tokens_per_task": _positive_whole_number,
    "max_cost_per_task": _positive_number,
}


def check_batch_size(value: int, *, origin: str = "--batch-size") -> int:
    """The batch size, or BadInput saying what is allowed."""
    problem = _check_batch_size(value)
    if problem:
        raise BadInput(f"{origin} {problem}", fix=f"choose a batch size from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}")
    return value


def check_agent_mail_url(value: str, *, origin: str = "--agent-mail") -> str:
    """The URL, or BadInput saying what an Agent Mail endpoint looks like."""
    problem = agent_mail_url_problem(value)
    if problem:
        raise BadInput(f"{origin} {problem}", fix="pass the server's endpoint, e.g. http://127.0.0.1:8765/mcp/")
    return value


def _line_of(text: str, key: str) -> int | None:
    match = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", text, re.MULTILINE)
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
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise BadInput("[tool] must be a table", path=path, line=_line_of(text, "tool"),
                       fix="write the settings as a [tool.orch-tui] section")
    table = tool.get("orch-tui", {})
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
                           fix=_unknown_key_fix(name, known))
        problem = _CHECKS[name](value)
        if problem:
            raise BadInput(f"{key} {problem}", path=path, line=_line_of(text, key),
                           fix=f"change {key} or remove it to use the default")
        values[name] = tuple(value) if isinstance(value, list) else value
    if values.get("agent") == "command" and not values.get("agent_command"):
        raise BadInput('agent = "command" needs agent_command', path=path, line=_line_of(text, "agent"),
                       fix='add agent_command = ["your-agent", "--prompt-file", "{prompt_file}"]')
    lane_settings.check_together(values, path, text, _line_of, max_lanes=MAX_BATCH_SIZE)
    return values


def _unknown_key_fix(name: str, known: set[str]) -> str:
    """Names the closest valid setting (a typo is the usual cause), else lists them all."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}? (or remove the line)"
    return f"remove it; valid settings: {', '.join(sorted(known))}"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"not UTF-8 text (byte {error.start})", path=path,
                       fix="save the file as UTF-8") from None
    except OSError as error:
        raise BadInput(f"cannot read the configuration: {error.strerror}", path=path,
                       fix="make it readable by you (check its permissions and owner)") from None


def load_config(repo: Path) -> Config:
    """Config for the repository at `repo`: `.orch-tui.toml` wins over pyproject.toml."""
    for name, in_pyproject in ((".orch-tui.toml", False), ("pyproject.toml", True)):
        path = repo / name
        if not path.exists():
            continue
        if not path.is_file():
            raise BadInput("the configuration is not a file", path=path,
                           fix=f"move it away; {name} must be a TOML file")
        text = _read_text(path)
        table = _read_table(path, text, in_pyproject)
        if not table and in_pyproject:
            continue
        return Config(**_validated(path, text, table), source=str(path))
    return Config()
