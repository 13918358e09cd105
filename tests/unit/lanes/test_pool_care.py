"""`orch-tui pool`: status, prune and reset on a real pool, never losing uncommitted work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orch_tui.app.cli import main
from orch_tui.orchestration.engine.instance_lock import InstanceLock
from orch_tui.orchestration.lanes.pool_care import human_bytes
from orch_tui.orchestration.lanes.worktrees import WorktreePool
from tests.support.helpers import git


@pytest.fixture
def pool(repo: Path, tmp_path: Path) -> WorktreePool:
    (repo / ".gitignore").write_text("cache/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore caches")
    lanes = WorktreePool(repo, 4, tmp_path / "lanes")
    lanes.ensure()
    (repo / ".orch-tui.toml").write_text(f'worktree_dir = "{tmp_path / "lanes"}"\nbatch_size = 2\n')
    return lanes


def pool_cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["pool", *args, "--repo", str(repo)])
    return code, capsys.readouterr().out


def test_status_lists_each_lane_with_branch_state_disk_use_and_age(pool: WorktreePool, repo: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pool.assign(1, "t-1", "main")
    (pool.lane_path(2) / "notes.txt").write_text("unsaved\n")
    code, out = pool_cli(repo, capsys, "status", "--json")
    assert code == 0
    report = json.loads(out)
    states = {entry["name"]: (entry["state"], entry["branch"]) for entry in report["entries"]}
    assert states["lane-1"] == ("assigned", "orch/t-1")
    assert states["lane-2"] == ("uncommitted", None)
    assert states["lane-3"] == ("idle", None)
    assert all(entry["disk_bytes"] > 0 and entry["last_used"] for entry in report["entries"])
    assert report["total_bytes"] == sum(entry["disk_bytes"] for entry in report["entries"])
    code, out = pool_cli(repo, capsys)
    assert "lane-2   uncommitted" in out and "uncommitted: notes.txt" in out
    assert human_bytes(report["total_bytes"]) in out


def test_prune_removes_idle_lanes_beyond_the_batch_size_and_never_uncommitted_work(
        pool: WorktreePool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pool.lane_path(4) / "draft.py").write_text("work in progress\n")
    (pool.lane_path(3) / "cache").mkdir()
    (pool.lane_path(3) / "cache" / "big.bin").write_bytes(b"0" * 50_000)
    code, out = pool_cli(repo, capsys, "prune", "--dry-run")
    assert "would remove" in out and "lane-3" in out
    assert pool.lane_path(3).exists()  # a dry run changes nothing
    code, out = pool_cli(repo, capsys, "prune")
    assert code == 1  # something was kept: the person must look
    assert out.index("will remove") < out.index("done: removed")  # said before it was done
    assert "uncommitted work: draft.py" in out and "--force" in out
    assert not pool.lane_path(3).exists()
    assert (pool.lane_path(4) / "draft.py").read_text() == "work in progress\n"
    assert pool.lane_path(1).exists() and pool.lane_path(2).exists()  # within the batch size
    code, out = pool_cli(repo, capsys, "prune", "--force")
    assert code == 0 and "DISCARDED" in out and not pool.lane_path(4).exists()


def test_prune_forgets_stale_worktree_entries(pool: WorktreePool, repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.rmtree(pool.lane_path(2))
    assert "prunable" in git(repo, "worktree", "list", "--porcelain")
    code, out = pool_cli(repo, capsys, "prune")
    assert "forget stale worktree entry" in out and "pruned stale worktree entries" in out
    assert "prunable" not in git(repo, "worktree", "list", "--porcelain")


def test_reset_refuses_uncommitted_work_without_force_and_keeps_caches(
        pool: WorktreePool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lane = pool.assign(1, "t-1", "main")
    path = Path(lane.path)
    (path / "cache").mkdir()
    (path / "cache" / "keep.bin").write_text("cached\n")
    (path / "draft.py").write_text("work in progress\n")
    code, out = pool_cli(repo, capsys, "reset", "1")
    assert code == 1 and "uncommitted work: draft.py" in out
    assert (path / "draft.py").exists()
    git(path, "add", "draft.py")
    git(path, "commit", "-q", "-m", "t-1: draft")
    code, out = pool_cli(repo, capsys, "reset", "1")
    assert code == 0 and "branch orch/t-1 keeps its commits" in out
    assert not (path / "draft.py").exists() and (path / "cache" / "keep.bin").exists()
    assert git(path, "status", "--porcelain") == "" and git(path, "branch", "--show-current") == ""
    assert "draft.py" in git(repo, "ls-tree", "--name-only", "orch/t-1")


def test_prune_refuses_while_an_orchestrator_runs(pool: WorktreePool, repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with InstanceLock(repo):
        code = main(["pool", "prune", "--repo", str(repo)])
    assert code == 1 and "another orch-tui orchestrator" in capsys.readouterr().err
    assert pool.lane_path(3).exists()
