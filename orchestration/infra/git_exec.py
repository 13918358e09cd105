"""Running git with an argv list (never a shell) and reading its answer.

GitPython's `Git.execute` does the process handling; this module only fixes the options every
caller wants (no exceptions for expected non-zero exits, exact bytes when asked) and turns
an unexpected failure into an OrchError that names the command and git's own words.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from git.cmd import Git

from orch_tui.orchestration.errors import OrchError

# Safety commits must never be blocked by a user's hook or signing setup: losing work to a
# failing pre-commit hook is exactly what they exist to prevent.
SAFE_COMMIT_OPTIONS = ("-c", "commit.gpgsign=false")

ORCH_NAME = "orch-tui"
ORCH_EMAIL = "orch-tui@localhost"
"""The identity of orch-tui's own commits where git knows none (a fresh machine, a container, CI)."""

_IDENTITY_ENV = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                 "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "HOME", "XDG_CONFIG_HOME", "EMAIL")


class GitFailed(OrchError):
    """A git command failed in a way the caller did not expect."""

    def __init__(self, args: tuple[str, ...], status: int, stderr: str, where: Path) -> None:
        self.args_run = args
        self.status = status
        self.stderr = stderr.strip()
        super().__init__(f"git {' '.join(args)} failed in {where} (exit {status}): {self.stderr}")


@dataclass
class GitResult:
    status: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.status == 0


def run_git(cwd: Path | str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> GitResult:
    """Run `git *args` in `cwd`; stdout keeps its trailing newline so paths stay exact."""
    full_env = {**os.environ, **env} if env else None
    status, out, err = Git(str(cwd)).execute(
        ["git", *args], with_extended_output=True, with_exceptions=False,
        strip_newline_in_stdout=False, env=full_env)
    if check and status != 0:
        raise GitFailed(args, status, err, Path(cwd))
    return GitResult(status, out, err)


def run_commit_git(cwd: Path | str, *args: str, check: bool = True) -> GitResult:
    """Run a git command that makes a commit (commit, merge, commit-tree) for orch-tui itself.

    It never depends on the user's setup: signing is off, and where git knows no identity
    (`git var` fails) the commit is made as `orch-tui <orch-tui@localhost>`; where it knows
    one (config or GIT_* variables), that identity is used. Callers pass `--no-verify` where
    the command runs hooks that could block.
    """
    return run_git(cwd, *SAFE_COMMIT_OPTIONS, *args, check=check, env=commit_identity_env(cwd) or None)


def commit_identity_env(cwd: Path | str) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for the roles git knows no identity for (empty: it knows both)."""
    return dict(_identity_env(str(Path(cwd).resolve()), tuple(os.environ.get(name) for name in _IDENTITY_ENV)))


@functools.lru_cache(maxsize=64)
def _identity_env(cwd: str, _environment: tuple[str | None, ...]) -> tuple[tuple[str, str], ...]:
    # Keyed on the variables that decide the answer, so a changed environment asks again.
    missing: list[tuple[str, str]] = []
    for role in ("AUTHOR", "COMMITTER"):
        if not run_git(cwd, "var", f"GIT_{role}_IDENT", check=False).ok:
            missing += [(f"GIT_{role}_NAME", ORCH_NAME), (f"GIT_{role}_EMAIL", ORCH_EMAIL)]
    return tuple(missing)


def run_git_with_input(cwd: Path | str, *args: str, text: str, env: dict[str, str] | None = None,
                       check: bool = False) -> GitResult:
    """Run `git *args` with `text` on its standard input (`update-ref --stdin`...)."""
    done = subprocess.run(["git", *args], cwd=str(cwd), input=text, capture_output=True,
                          text=True, check=False, env={**os.environ, **env} if env else None)
    if check and done.returncode != 0:
        raise GitFailed(args, done.returncode, done.stderr, Path(cwd))
    return GitResult(done.returncode, done.stdout, done.stderr)


def run_git_bytes(cwd: Path | str, *args: str) -> tuple[int, bytes, str]:
    """(status, exact stdout bytes, stderr) of a git command."""
    status, out, err = Git(str(cwd)).execute(
        ["git", *args], with_extended_output=True, with_exceptions=False,
        stdout_as_string=False, strip_newline_in_stdout=False)
    return status, out, err.decode(errors="replace") if isinstance(err, bytes) else err


def git_bytes(cwd: Path | str, *args: str) -> bytes:
    """Exact stdout of a git command that must succeed (blob contents, binary safe)."""
    status, out, err = run_git_bytes(cwd, *args)
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
