"""The lane worktree pool on real repositories: reuse, cleaning, and never losing work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orch_tui.orchestration.settings.config import Config
from orch_tui.orchestration.errors import BadInput, OrchError
from orch_tui.orchestration.lanes.worktrees import WorktreePool, default_pool_root
from tests.support.helpers import git, make_repo

FILES = {".gitignore": ".venv/\nbuild/\n", "src/app.py": "print('hello')\n", "README.md": "# sample\n"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", FILES)


@pytest.fixture
def pool(project: Path, tmp_path: Path) -> WorktreePool:
    pool = WorktreePool(project, size=2, root=tmp_path / "lanes")
    pool.ensure()
    return pool


def lane_dir(pool: WorktreePool, index: int) -> Path:
    return Path(pool.lanes[index - 1].path)


def test_default_pool_lives_beside_the_repository_not_inside(project: Path) -> None:
    pool = WorktreePool(project, size=3)
    lanes = pool.ensure()
    assert pool.root == default_pool_root(project) == project.parent / ".project.orch-lanes"
    assert [Path(lane.path).name for lane in lanes] == ["lane-1", "lane-2", "lane-3"]
    assert all(lane.exists and lane.branch is None for lane in lanes)
    assert git(project, "status", "--porcelain") == ""  # the person's checkout sees nothing


def test_ensure_is_idempotent_and_keeps_existing_lanes(pool: WorktreePool) -> None:
    (lane_dir(pool, 1) / "build").mkdir()
    (lane_dir(pool, 1) / "build" / "cache.bin").write_text("warm")
    pool.ensure()
    assert (lane_dir(pool, 1) / "build" / "cache.bin").read_text() == "warm"
    assert len(pool.lanes) == 2


def test_assign_gives_a_fresh_task_branch_at_the_base(pool: WorktreePool, project: Path) -> None:
    base = git(project, "rev-parse", "HEAD")
    lane = pool.assign(1, "bd-a1", "main")
    assert (lane.branch, lane.task_id, lane.head) == ("orch/bd-a1", "bd-a1", base)
    assert git(Path(lane.path), "symbolic-ref", "--short", "HEAD") == "orch/bd-a1"


def test_reuse_cleans_the_lane_but_keeps_ignored_caches(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    path = Path(lane.path)
    (path / ".venv").mkdir()
    (path / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (path / "src" / "app.py").write_text("print('changed by agent')\n")
    (path / "notes.txt").write_text("agent scratch\n")
    leftovers = pool.release(1, "orch-tui: leftovers of bd-a1")
    assert leftovers is not None
    # Released: detached at the leftovers commit, clean, and git says so as after a switch.
    assert git(path, "rev-parse", "HEAD") == leftovers == git(project, "rev-parse", "orch/bd-a1")
    assert git(path, "symbolic-ref", "--quiet", "HEAD", check=False) == ""
    assert git(path, "status", "--short") == ""
    assert git(path, "status").startswith(f"HEAD detached at {leftovers[:7]}")

    lane = pool.assign(1, "bd-b2", "main")
    assert (path / "src" / "app.py").read_text() == "print('hello')\n"
    assert not (path / "notes.txt").exists()
    assert (path / ".venv" / "pyvenv.cfg").read_text() == "home = /usr\n"  # ignored cache survived
    # The first task's leftovers are on its branch, not lost.
    assert git(project, "show", "orch/bd-a1:notes.txt") == "agent scratch"
    assert git(project, "log", "-1", "--format=%s", "orch/bd-a1") == "orch-tui: leftovers of bd-a1"
    assert ".venv" not in git(project, "show", "--stat", "orch/bd-a1")


def test_commit_leftovers_commits_only_when_something_is_left(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(2, "bd-c3", "main")
    assert pool.commit_leftovers(lane, "nothing to save") is None
    (Path(lane.path) / "src" / "new.py").write_text("x = 1\n")
    commit = pool.commit_leftovers(lane, "orch-tui: the agent forgot to commit")
    assert commit == git(project, "rev-parse", "orch/bd-c3")
    assert git(project, "show", "orch/bd-c3:src/new.py") == "x = 1"


def test_reassigning_a_lane_with_uncommitted_work_commits_it_first(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    (Path(lane.path) / "README.md").write_text("# unsaved edit\n")
    pool.assign(1, "bd-b2", "main")
    assert git(project, "show", "orch/bd-a1:README.md") == "# unsaved edit"
    assert "save uncommitted work" in git(project, "log", "-1", "--format=%s", "orch/bd-a1")


def test_hostile_task_id_is_refused_and_the_lane_is_untouched(pool: WorktreePool, project: Path) -> None:
    before = git(project, "for-each-ref", "--format=%(refname)")
    for hostile in ("../../outside", "x;rm -rf ~", "..", "a..b", "-f"):
        with pytest.raises(BadInput, match="cannot be used as a git branch name"):
            pool.assign(1, hostile, "main")
    assert git(project, "for-each-ref", "--format=%(refname)") == before
    assert not (pool.root.parent / "outside").exists()


def test_branch_with_unmerged_work_is_never_reset(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    (Path(lane.path) / "work.txt").write_text("precious\n")
    pool.release(1)
    tip = git(project, "rev-parse", "orch/bd-a1")
    with pytest.raises(OrchError, match="already exists with commits not in main"):
        pool.assign(2, "bd-a1", "main")
    assert git(project, "rev-parse", "orch/bd-a1") == tip
    resumed = pool.assign(2, "bd-a1", "main", keep_existing=True)
    assert resumed.head == tip
    assert (Path(resumed.path) / "work.txt").read_text() == "precious\n"


def test_a_branch_is_worked_on_in_one_lane_only(pool: WorktreePool) -> None:
    pool.assign(1, "bd-a1", "main")
    with pytest.raises(OrchError, match="checked out in"):
        pool.assign(2, "bd-a1", "main")


def test_restarted_pool_reads_lane_state_from_git(pool: WorktreePool, project: Path) -> None:
    pool.assign(2, "bd-z9", "main")
    again = WorktreePool(project, size=2, root=pool.root)
    assert [lane.task_id for lane in again.lanes] == [None, "bd-z9"]


def test_recover_prunes_and_recreates_a_lane_deleted_by_hand(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    (Path(lane.path) / "done.txt").write_text("committed work\n")
    pool.commit_leftovers(lane, "work")
    shutil.rmtree(lane.path)

    problems = pool.recover()
    assert [(p.lane_index, p.kind, p.branch) for p in problems] == [(1, "pruned", "orch/bd-a1")]
    assert pool.lanes[0].exists
    assert git(project, "show", "orch/bd-a1:done.txt") == "committed work"  # branch kept
    pool.assign(1, "bd-b2", "main")  # the recreated lane is usable


def test_ensure_also_repairs_a_lane_deleted_by_hand(pool: WorktreePool) -> None:
    shutil.rmtree(lane_dir(pool, 2))
    assert all(lane.exists for lane in pool.ensure())


def test_recover_commits_uncommitted_work_instead_of_resetting(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    (Path(lane.path) / "src" / "app.py").write_text("print('half done')\n")
    (Path(lane.path) / "untracked.py").write_text("y = 2\n")

    problems = pool.recover()
    assert [(p.kind, p.branch) for p in problems] == [("committed", "orch/bd-a1")]
    message = git(project, "log", "-1", "--format=%B", "orch/bd-a1")
    assert "recovered uncommitted work in lane 1 (task bd-a1)" in message
    assert git(project, "show", "orch/bd-a1:untracked.py") == "y = 2"
    assert (Path(lane.path) / "src" / "app.py").read_text() == "print('half done')\n"


def test_recover_saves_work_on_a_detached_lane_to_a_rescue_branch(pool: WorktreePool, project: Path) -> None:
    (lane_dir(pool, 2) / "stray.txt").write_text("someone typed here\n")
    problems = pool.recover()
    assert len(problems) == 1 and problems[0].kind == "committed"
    assert problems[0].branch.startswith("orch-rescue/lane-2-")
    assert git(project, "show", f"{problems[0].branch}:stray.txt") == "someone typed here"


def test_recover_never_touches_a_lane_in_the_middle_of_a_merge(pool: WorktreePool, project: Path) -> None:
    lane = pool.assign(1, "bd-a1", "main")
    path = Path(lane.path)
    (path / "README.md").write_text("ours\n")
    pool.commit_leftovers(lane, "ours")
    git(project, "switch", "-q", "-c", "other")
    (project / "README.md").write_text("theirs\n")
    git(project, "commit", "-qam", "theirs")
    git(project, "switch", "-q", "main")
    git(path, "merge", "other", check=False)  # leaves a conflict in the lane
    conflicted = (path / "README.md").read_text()

    problems = pool.recover()
    assert [(p.kind, p.lane_index) for p in problems] == [("needs_attention", 1)]
    assert "in the middle of a merge" in problems[0].message
    assert (path / "README.md").read_text() == conflicted
    with pytest.raises(OrchError, match="in the middle of a merge"):
        pool.assign(1, "bd-b2", "main")


def test_recover_leaves_a_foreign_directory_alone(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "lanes"
    (root / "lane-1").mkdir(parents=True)
    (root / "lane-1" / "mine.txt").write_text("not a worktree\n")
    pool = WorktreePool(project, size=1, root=root)
    problems = pool.recover()
    assert [p.kind for p in problems] == ["needs_attention"]
    assert (root / "lane-1" / "mine.txt").read_text() == "not a worktree\n"
    with pytest.raises(OrchError, match="not a worktree"):
        pool.ensure()


def test_lane_numbers_outside_the_pool_are_refused(pool: WorktreePool) -> None:
    with pytest.raises(OrchError, match="lanes 1..2"):
        pool.assign(3, "bd-a1", "main")


def test_configured_pool_directory(project: Path, tmp_path: Path) -> None:
    outside = WorktreePool.from_config(project, Config(batch_size=2, worktree_dir="../elsewhere"))
    assert outside.root == tmp_path / "elsewhere" and outside.size == 2
    with pytest.raises(BadInput, match="inside the working tree"):
        WorktreePool.from_config(project, Config(worktree_dir=".lanes"))
    (project / ".gitignore").write_text(".venv/\nbuild/\n.lanes/\n")
    inside = WorktreePool.from_config(project, Config(worktree_dir=".lanes"))
    inside.ensure()
    assert git(project, "status", "--porcelain") == "M .gitignore"  # lanes stay invisible


def test_resuming_a_task_takes_its_branch_and_leftovers_from_the_lane_it_was_left_in(pool: WorktreePool) -> None:
    first = pool.assign(1, "bd-a1", "main")
    (Path(first.path) / "half.txt").write_text("left uncommitted when the lane's finish failed\n")
    moved = pool.assign(2, "bd-a1", "main", keep_existing=True)
    assert moved.branch == "orch/bd-a1" and (Path(moved.path) / "half.txt").is_file()
    assert pool.lane(1).branch is None  # lane 1 gave the branch up, detached
