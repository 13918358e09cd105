"""Helpers shared by test modules: real tools, real git repositories."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "tests" / "data"
NODE_BIN = PROJECT_ROOT / "tests" / "tools" / "node" / "node_modules" / ".bin"
AGENT_MAIL_PYTHON = PROJECT_ROOT / ".tools" / "agent-mail" / "bin" / "python"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(path: Path, what: str) -> Path:
    """The tool at `path`; skipped locally when missing, a failure in CI (tests/run installs it)."""
    if path.exists():
        return path
    message = f"{what} is not installed at {path}: run ./tests/run, which installs it"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def opencode_binary() -> Path:
    return require_tool(NODE_BIN / "opencode", "opencode")


def openspec_binary() -> Path:
    return require_tool(NODE_BIN / "openspec", "openspec")


def agent_mail_python() -> Path:
    return require_tool(AGENT_MAIL_PYTHON, "the MCP Agent Mail server")


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in `repo` and return its stdout (stripped)."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A real git repository at `path` with one commit holding `files`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"README.md": "# sample\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial commit")
    return path


def copy_data(name: str, target: Path) -> Path:
    """Copy a file from tests/data to `target` (a file path) and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DATA_DIR / name, target)
    return target


@contextlib.contextmanager
def locked_by_another_process(directory: Path) -> Iterator[None]:
    """`directory` flock'd by another process (as bd holds `.beads/`) while the block runs."""
    holder = subprocess.Popen(["flock", "-x", str(directory), "-c", "echo held; sleep 60"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the sleep holds the lock too
        holder.wait()
