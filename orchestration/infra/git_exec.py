"""The one way orch-tui runs git: an argv list (never a shell), one error type, timeouts.

Every git call of the core goes through `run_git` (or its byte, stdin and async variants),
which all end in `_execute`. It fixes what every caller wants: git's messages in English
(`LC_ALL=C`, what parsing code expects), no standard input unless given, stdout exactly as
git wrote it, and an unexpected failure raised as `GitFailed`, which carries the command,
its exit status, git's stderr and where it ran. A command that outlives its `timeout` is
killed and raised as `GitTimedOut` (a `GitFailed`), whatever `check` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orch_tui.orchestration.errors import OrchError

# Safety commits must never be blocked by a user's hook or signing setup: losing work to a
# failing pre-commit hook is exactly what they exist to prevent.
SAFE_COMMIT_OPTIONS = ("-c", "commit.gpgsign=false")

ORCH_NAME = "orch-tui"
ORCH_EMAIL = "orch-tui@localhost"
"""The identity of orch-tui's own commits where git knows none (a fresh machine, a container, CI)."""

_ENGLISH = {"LANGUAGE": "C", "LC_ALL": "C"}
"""git's messages in English whatever the person's locale: callers match some of them."""

NO_DIRECTORY_STATUS = 128
"""The status git itself gives when it cannot enter its directory (`git -C missing ...`)."""


class GitFailed(OrchError):
    """A git command failed in a way the caller did not expect."""

    def __init__(self, args: tuple[str, ...], status: int, stderr: str, where: Path) -> None:
        self.args_run = args
        self.status = status
        self.stderr = stderr.strip()
        self.where = where
        super().__init__(f"git {' '.join(args)} failed in {where} (exit {status}): {self.stderr}")


class GitTimedOut(GitFailed):
    """A git command ran longer than its timeout and was killed."""

    def __init__(self, args: tuple[str, ...], timeout: float, where: Path) -> None:
        self.timeout = timeout
        super().__init__(args, -1, f"did not finish within {timeout:g} s and was stopped", where)


@dataclass(frozen=True)
class GitResult:
    status: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.status == 0


def _execute(cwd: Path | str, args: tuple[str, ...], *, stdin: bytes | None = None,
             env: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int, bytes, str]:
    """(status, stdout bytes, stderr text) of `git *args` in `cwd`; raises only on a timeout."""
    if not os.path.isdir(cwd):
        # Never run in some other directory instead (a lane that was removed, say).
        return NO_DIRECTORY_STATUS, b"", f"fatal: cannot change to '{cwd}': No such file or directory"
    # With a timeout git gets its own process group, so a hook or helper it started dies
    # with it and cannot keep the pipes (and this call) open.
    with subprocess.Popen(["git", *args], cwd=cwd, env={**os.environ, **_ENGLISH, **(env or {})},
                          stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=timeout is not None) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise GitTimedOut(args, timeout or 0.0, Path(cwd)) from None
        except BaseException:
            process.kill()  # interrupted (KeyboardInterrupt...): leave no git behind
            raise
    return process.returncode, out, _text(err).removesuffix("\n")


def _text(data: bytes) -> str:
    # Paths are bytes to git: surrogateescape keeps any that are not UTF-8 round-trippable.
    return data.decode("utf-8", "surrogateescape")


def run_git(cwd: Path | str, *args: str, check: bool = True, env: dict[str, str] | None = None,
            timeout: float | None = None) -> GitResult:
    """Run `git *args` in `cwd`; stdout keeps its trailing newline so paths stay exact."""
    status, out, err = _execute(cwd, args, env=env, timeout=timeout)
    if check and status != 0:
        raise GitFailed(args, status, err, Path(cwd))
    return GitResult(status, _text(out), err)


async def run_git_async(cwd: Path | str, *args: str, check: bool = True,
                        env: dict[str, str] | None = None, timeout: float | None = None) -> GitResult:
    """`run_git` in a worker thread: git never blocks the event loop."""
    return await asyncio.to_thread(run_git, cwd, *args, check=check, env=env, timeout=timeout)


def run_git_with_input(cwd: Path | str, *args: str, text: str, env: dict[str, str] | None = None,
                       check: bool = False, timeout: float | None = None) -> GitResult:
    """Run `git *args` with `text` on its standard input (`update-ref --stdin`...)."""
    status, out, err = _execute(cwd, args, stdin=text.encode("utf-8", "surrogateescape"),
                                env=env, timeout=timeout)
    if check and status != 0:
        raise GitFailed(args, status, err, Path(cwd))
    return GitResult(status, _text(out), err)


def run_git_bytes(cwd: Path | str, *args: str, env: dict[str, str] | None = None,
                  timeout: float | None = None) -> tuple[int, bytes, str]:
    """(status, exact stdout bytes, stderr) of a git command."""
    return _execute(cwd, args, env=env, timeout=timeout)


def git_bytes(cwd: Path | str, *args: str, env: dict[str, str] | None = None,
              timeout: float | None = None) -> bytes:
    """Exact stdout of a git command that must succeed (blob contents, binary safe)."""
    status, out, err = run_git_bytes(cwd, *args, env=env, timeout=timeout)
    if status != 0:
        raise GitFailed(args, status, err, Path(cwd))
    return out


def git_version(cwd: Path | str = ".") -> tuple[int, int]:
    """The (major, minor) of the git on PATH, asked once per git binary."""
    return _version_of(shutil.which("git") or "git")


@functools.lru_cache(maxsize=8)
def _version_of(binary: str) -> tuple[int, int]:
    text = run_git(".", "version").out
    found = re.search(r"(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def nul_fields(text: str) -> list[str]:
    """Fields of `-z` output, without the empty one after the final NUL."""
    parts = text.split("\0")
    return parts[:-1] if parts and parts[-1] == "" else parts
