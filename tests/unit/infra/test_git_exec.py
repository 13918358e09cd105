"""The one git runner: what a failure, a hung command or a missing directory looks like."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.infra.git_exec import (
    GitFailed,
    GitTimedOut,
    git_bytes,
    run_git,
    run_git_async,
    run_git_with_input,
)
from orch_tui.orchestration.infra.repo_paths import git_common_dir


def test_a_failure_names_the_command_its_exit_status_and_gits_words(repo: Path) -> None:
    with pytest.raises(GitFailed) as caught:
        run_git(repo, "rev-parse", "--verify", "no-such-branch")
    error = caught.value
    assert error.args_run == ("rev-parse", "--verify", "no-such-branch")
    assert error.status == 128
    assert "Needed a single revision" in error.stderr
    assert str(error).startswith(f"git rev-parse --verify no-such-branch failed in {repo} (exit 128): ")


def test_an_expected_failure_is_an_answer_not_an_error(repo: Path) -> None:
    result = run_git(repo, "rev-parse", "--verify", "--quiet", "no-such-branch", check=False)
    assert not result.ok and result.status == 1 and result.out == ""


def test_gits_messages_are_in_english_whatever_the_locale(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")
    assert "unknown revision" in run_git(repo, "log", "nowhere", check=False).err


def test_a_hung_command_is_stopped_with_everything_it_started(repo: Path) -> None:
    # The alias runs a shell whose child would keep the pipes open after git itself died.
    with pytest.raises(GitTimedOut) as caught:
        run_git(repo, "-c", "alias.hang=!sleep 30 & sleep 30", "hang", timeout=0.5)
    assert caught.value.args_run[-1] == "hang"
    assert "did not finish within 0.5 s" in str(caught.value)
    assert isinstance(caught.value, GitFailed)


def test_a_missing_directory_fails_there_and_never_runs_elsewhere(tmp_path: Path) -> None:
    gone = tmp_path / "removed-lane"
    result = run_git(gone, "status", check=False)
    assert result.status == 128 and f"cannot change to '{gone}'" in result.err
    with pytest.raises(GitFailed, match="removed-lane"):
        run_git(gone, "status")


def test_standard_input_and_exact_bytes(repo: Path) -> None:
    blob = run_git_with_input(repo, "hash-object", "-w", "--stdin", text="line\n", check=True).out.strip()
    assert git_bytes(repo, "cat-file", "blob", blob) == b"line\n"


def test_the_async_variant_runs_in_a_thread(repo: Path) -> None:
    result = asyncio.run(run_git_async(repo, "rev-parse", "--abbrev-ref", "HEAD"))
    assert result.out == "main\n"


def test_the_common_directory_is_the_same_from_a_worktree_and_a_non_repository_is_named(
        repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    run_git(repo, "worktree", "add", "--detach", str(linked))
    assert git_common_dir(linked) == git_common_dir(repo) == (repo / ".git").resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(BadInput, match="plain is not a git repository"):
        git_common_dir(plain)
