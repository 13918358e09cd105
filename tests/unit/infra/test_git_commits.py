"""orch-tui's own commits on a machine with no git identity: made as orch-tui, asked of git
once per repository (not once per lane), and the person's identity as soon as they set one."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_tui.orchestration.infra import git_commits
from orch_tui.orchestration.infra.git_exec import ORCH_EMAIL, ORCH_NAME, GitResult
from tests.support.helpers import git, make_repo

_IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL")


@pytest.fixture
def no_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, ...]]:
    """`tmp_path/repo` (made with the tests' identity); then a HOME and global config with
    none; the `git var` questions asked from then on, recorded."""
    make_repo(tmp_path / "repo")
    for name in _IDENTITY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "home" / ".gitconfig"))
    (tmp_path / "home").mkdir()
    asked: list[tuple[str, ...]] = []
    real = git_commits.run_git

    def recording(cwd: Path | str, *args: str, **options: object) -> GitResult:
        if args[:1] == ("var",):
            asked.append(args)
        return real(cwd, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(git_commits, "run_git", recording)
    git_commits._identity_env.cache_clear()
    return asked


def _commit(where: Path, name: str) -> None:
    (where / name).write_text(f"{name}\n")
    git(where, "add", name)
    git_commits.run_commit_git(where, "commit", "-q", "--no-verify", "-m", name)


def test_commits_in_every_worktree_of_a_repository_ask_git_for_an_identity_once(
        tmp_path: Path, no_identity: list[tuple[str, ...]]) -> None:
    repo = tmp_path / "repo"
    lanes = [tmp_path / f"lane-{n}" for n in (1, 2, 3)]
    for number, lane in enumerate(lanes, start=1):
        git(repo, "worktree", "add", "-q", "-b", f"orch/t-{number}", str(lane))
    for lane in lanes:
        _commit(lane, "work.txt")
    _commit(repo, "main.txt")
    assert no_identity == [("var", "GIT_AUTHOR_IDENT"), ("var", "GIT_COMMITTER_IDENT")]
    for where in (*lanes, repo):
        assert git(where, "log", "-1", "--format=%an <%ae> / %cn <%ce>") == \
            f"{ORCH_NAME} <{ORCH_EMAIL}> / {ORCH_NAME} <{ORCH_EMAIL}>"


def test_an_identity_the_person_sets_while_orch_tui_runs_is_used_for_the_next_commit(
        tmp_path: Path, no_identity: list[tuple[str, ...]]) -> None:
    repo = tmp_path / "repo"
    _commit(repo, "before.txt")
    assert git(repo, "log", "-1", "--format=%an") == ORCH_NAME
    (tmp_path / "home" / ".gitconfig").write_text("[user]\n\tname = Ada Person\n\temail = ada@example.com\n")
    _commit(repo, "after.txt")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Ada Person <ada@example.com>"
