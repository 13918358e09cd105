"""Checks of the lane environment settings (`lane_*` in the config), each with its fix.

Kept apart from config.py so the lane environment's rules live in one place: paths copied
into or fingerprinted in a lane stay inside it, and every lane's port block fits below 65536.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Callable

from orch_tui.orchestration.errors import BadInput

MAX_PORTS_PER_LANE = 100
LOWEST_PORT = 1024
HIGHEST_PORT = 65535


def lane_path_problem(value: Any) -> str | None:
    """Why `value` cannot name a file inside a lane (None when it can)."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty path"
    pure = PurePosixPath(value)
    if pure.is_absolute() or value.startswith("~"):
        return f"{value!r} is absolute; give a path relative to the repository"
    if ".." in pure.parts:
        return f"{value!r} leaves the repository (..)"
    if pure.parts and pure.parts[0] == ".git":
        return f"{value!r} is inside .git"
    return None


def check_lane_paths(value: Any) -> str | None:
    if not isinstance(value, list):
        return 'must be a list of paths relative to the repository, e.g. [".env", "config/local.toml"]'
    for item in value:
        problem = lane_path_problem(item)
        if problem:
            return f"holds a bad path: {problem}"
    return None


def check_lane_ports(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PORTS_PER_LANE
    return None if ok else f"must be a whole number from 0 (no ports) to {MAX_PORTS_PER_LANE}"


def check_port_base(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and LOWEST_PORT <= value <= HIGHEST_PORT
    return None if ok else f"must be a port number from {LOWEST_PORT} to {HIGHEST_PORT}"


def check_together(values: dict[str, Any], path: Path, text: str,
                   line_of: Callable[[str, str], int | None], *, max_lanes: int) -> None:
    """Rules that involve two settings; BadInput naming the setting to change."""
    if values.get("lane_setup_when_changed") and not values.get("lane_setup_command"):
        raise BadInput("lane_setup_when_changed is set but lane_setup_command is not",
                       path=path, line=line_of(text, "lane_setup_when_changed"),
                       fix='add lane_setup_command (an argv list, e.g. ["uv", "sync"]) or remove '
                           "lane_setup_when_changed")
    ports = values.get("lane_ports", 10)
    base = values.get("lane_port_base", 42000)
    last = base + ports * max_lanes - 1
    if ports and last > HIGHEST_PORT:
        key = "lane_port_base" if "lane_port_base" in values else "lane_ports"
        raise BadInput(f"{max_lanes} lanes of {ports} ports from {base} end at {last}, above {HIGHEST_PORT}",
                       path=path, line=line_of(text, key),
                       fix=f"lower lane_port_base to at most {HIGHEST_PORT - ports * max_lanes + 1} "
                           "or lease fewer lane_ports")
