"""Processes working in a directory (Linux /proc): leftovers of a killed orchestrator."""

from __future__ import annotations

import functools
import os
from pathlib import Path


def processes_working_in(directory: Path) -> list[int]:
    """Pids of processes whose current directory is `directory` or below (Linux /proc)."""
    root = os.path.realpath(directory)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(int(entry.name))
    return found


def git_processes_in(directory: Path) -> list[int]:
    """Pids of git processes whose current directory is `directory` or below."""
    found = []
    for pid in processes_working_in(directory):
        try:
            name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if name == "git" or name.startswith("git-"):
            found.append(pid)
    return found


def process_started_at(pid: int) -> float | None:
    """When `pid` started, in seconds since the epoch, to within a second (the kernel gives
    the boot time in whole seconds); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    boot = _boot_time()
    if boot is None:
        return None
    # Field 22 is the start time in clock ticks after boot; the name (field 2) may hold spaces.
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


@functools.cache
def _boot_time() -> int | None:
    try:
        lines = Path("/proc/stat").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith("btime ")), None)
