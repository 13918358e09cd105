"""How orch-tui makes its own commits (leftovers, merges, tracker fixes): never blocked by the
user's setup, and never without an identity.

Signing is off, and where git knows no identity (`git var` fails: a fresh machine, a
container, CI) the commit is made as `orch-tui <orch-tui@localhost>`; where it knows one
(config or GIT_* variables), that identity is used. Which identity git knows is asked once
per repository, not once per worktree: the lanes and the merge worktree share their
repository's configuration. It is asked again when the environment or a configuration file
that decides it changes (a person who sets `user.name` while orch-tui runs gets their name
on the next commit).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from orch_tui.orchestration.errors import OrchError
from orch_tui.orchestration.infra.git_exec import (ORCH_EMAIL, ORCH_NAME, SAFE_COMMIT_OPTIONS, GitResult,
                                                   run_git)
from orch_tui.orchestration.infra.repo_paths import git_common_dir

_ASKING = threading.Lock()
"""Lanes ending together commit at once: one of them asks git, the others get its answer."""

_IDENTITY_ENV = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                 "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "HOME", "XDG_CONFIG_HOME", "EMAIL")


def run_commit_git(cwd: Path | str, *args: str, check: bool = True) -> GitResult:
    """Run a git command that makes a commit (commit, merge, commit-tree) for orch-tui itself.
    Callers pass `--no-verify` where the command runs hooks that could block."""
    return run_git(cwd, *SAFE_COMMIT_OPTIONS, *args, check=check, env=commit_identity_env(cwd) or None)


def commit_identity_env(cwd: Path | str) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for the roles git knows no identity for (empty: it knows both)."""
    environment = tuple(os.environ.get(name) for name in _IDENTITY_ENV)
    repository = _repository(Path(cwd))
    with _ASKING:
        return dict(_identity_env(str(repository), environment, _config_stamps(repository, environment)))


def _repository(cwd: Path) -> Path:
    """The directory whose configuration decides: the repository's common git directory
    (the worktree itself when git cannot say: then git var will fail the same way)."""
    try:
        return git_common_dir(cwd)
    except OrchError:
        return cwd.resolve()


def _config_stamps(repository: Path, environment: tuple[str | None, ...]) -> tuple[float, ...]:
    """When each configuration file that may hold an identity last changed (0: absent)."""
    env = dict(zip(_IDENTITY_ENV, environment))
    home = Path(env["HOME"] or Path.home())
    files = [repository / "config", Path(env["XDG_CONFIG_HOME"] or home / ".config") / "git" / "config",
             Path(env["GIT_CONFIG_GLOBAL"]) if env["GIT_CONFIG_GLOBAL"] else home / ".gitconfig"]
    return tuple(_modified(path) for path in files)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=64)
def _identity_env(repository: str, _environment: tuple[str | None, ...],
                  _stamps: tuple[float, ...]) -> tuple[tuple[str, str], ...]:
    # Keyed on what decides the answer, so a changed environment or configuration asks again.
    missing: list[tuple[str, str]] = []
    for role in ("AUTHOR", "COMMITTER"):
        if not run_git(repository, "var", f"GIT_{role}_IDENT", check=False).ok:
            missing += [(f"GIT_{role}_NAME", ORCH_NAME), (f"GIT_{role}_EMAIL", ORCH_EMAIL)]
    return tuple(missing)
