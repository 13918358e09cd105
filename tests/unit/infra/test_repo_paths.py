"""Where orch-tui keeps its files: the answer is remembered, yet follows the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orch_tui.orchestration.errors import BadInput
from orch_tui.orchestration.infra.repo_paths import checked_out_ref, git_common_dir, head_commit
from tests.support.helpers import git, make_repo


def test_a_worktree_path_reused_by_another_repository_gets_that_repository(tmp_path: Path) -> None:
    first, second = make_repo(tmp_path / "first"), make_repo(tmp_path / "second")
    lane = tmp_path / "lane"
    git(first, "worktree", "add", "-q", "--detach", str(lane))
    assert git_common_dir(lane) == (first / ".git").resolve()
    git(first, "worktree", "remove", "--force", str(lane))
    git(second, "worktree", "add", "-q", "--detach", str(lane))
    assert git_common_dir(lane) == (second / ".git").resolve()


def test_a_folder_that_becomes_a_repository_is_one_from_then_on(tmp_path: Path) -> None:
    folder = tmp_path / "later"
    folder.mkdir()
    with pytest.raises(BadInput, match="is not a git repository"):
        git_common_dir(folder)
    make_repo(folder)
    assert git_common_dir(folder) == (folder / ".git").resolve()
    shutil.rmtree(folder / ".git")
    with pytest.raises(BadInput, match="is not a git repository"):
        git_common_dir(folder)


def test_the_branch_checked_out_is_what_git_says_in_a_checkout_and_in_a_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    lane = tmp_path / "lane"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(lane))
    assert checked_out_ref(repo) == git(repo, "symbolic-ref", "HEAD")
    assert checked_out_ref(lane) == "refs/heads/feature"
    git(lane, "switch", "-q", "--detach")
    assert checked_out_ref(lane) is None


def test_the_commit_read_from_head_files_is_what_git_says_or_none_when_only_git_knows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    lane = tmp_path / "lane"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(lane))
    (lane / "new.txt").write_text("new\n")
    git(lane, "add", "new.txt")
    git(lane, "commit", "-q", "-m", "new")
    assert head_commit(lane) == git(lane, "rev-parse", "HEAD")  # a loose ref in the common dir
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD")
    git(lane, "switch", "-q", "--detach")
    assert head_commit(lane) == git(lane, "rev-parse", "HEAD")  # HEAD holds the commit
    git(lane, "switch", "-q", "feature")
    git(repo, "pack-refs", "--all")  # the branch now lives in packed-refs: git must be asked
    assert head_commit(lane) is None
