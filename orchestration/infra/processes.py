"""Processes working in a directory (Linux /proc): leftovers of a killed orchestrator."""

from __future__ import annotations

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
