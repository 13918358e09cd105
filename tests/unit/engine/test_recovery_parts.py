"""The pieces crash recovery is made of, each on a real repository (quick; the kills
themselves are in test_crash_cases.py and test_random_crashes.py)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from orch_tui.orchestration.merging.checkout_update import (CheckoutNeedsPerson, recorded_update,
                                                    repair_interrupted_update)
from orch_tui.orchestration.engine.recovery import remove_interrupted_tracker_writes
from orch_tui.orchestration.infra.processes import git_processes_in
from orch_tui.orchestration.infra.stale_locks import remove_stale_locks, remove_stale_ref_locks
from orch_tui.orchestration.infra.repo_paths import worktree_git_dir
from orch_tui.orchestration.lanes.worktrees import merged_by
from tests.support.helpers import git


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_merged_by_names_the_merge_commit_or_the_fast_forwarded_tip(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "topic")
    topic = _commit(repo, {"t.txt": "t\n"}, "topic work")
    git(repo, "switch", "-q", "main")
    _commit(repo, {"m.txt": "m\n"}, "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    merge = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "quick")
    quick = _commit(repo, {"q.txt": "q\n"}, "quick work")
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "quick")
    _commit(repo, {"later.txt": "l\n"}, "later")
    git(repo, "switch", "-q", "-c", "unmerged")
    unmerged = _commit(repo, {"u.txt": "u\n"}, "not merged")
    main = git(repo, "rev-parse", "main")
    assert merged_by(repo, topic, main) == merge
    assert merged_by(repo, quick, main) == quick
    assert merged_by(repo, base, main) == base
    assert merged_by(repo, unmerged, main) is None


def _interrupted_update(repo: Path) -> tuple[str, str]:
    """main moved from old to new by a `git merge --ff-only` killed after writing one file."""
    old = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "work")
    new = _commit(repo, {"src/new.txt": "new\n", "README.md": "# changed\n"}, "work")
    git(repo, "switch", "-q", "--detach", old)
    git(repo, "branch", "-q", "-f", "main", old)
    git(repo, "switch", "-q", "main")
    record = repo / ".git" / "orch-tui" / "checkout-update.json"
    record.parent.mkdir(exist_ok=True)
    record.write_text(json.dumps({"checkout": str(repo), "branch": "main", "old": old, "new": new,
                                  "started": 0.0}))
    (repo / "src").mkdir()
    (repo / "src" / "new.txt").write_text("new\n")  # what git had written when it was killed
    return old, new


def test_an_interrupted_checkout_update_is_put_back_to_the_old_commit(repo: Path) -> None:
    old, _ = _interrupted_update(repo)
    [message] = repair_interrupted_update(repo)
    assert "put 1 file(s) back" in message
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (repo / "src").exists()
    assert git(repo, "rev-parse", "main") == old
    assert not (repo / ".git" / "orch-tui" / "checkout-update.json").exists()


def test_a_finished_checkout_update_is_left_as_it_is(repo: Path) -> None:
    _, new = _interrupted_update(repo)
    (repo / "src" / "new.txt").unlink()
    git(repo, "merge", "-q", "--ff-only", new)  # git did get to the end
    [message] = repair_interrupted_update(repo)
    assert "had finished" in message
    assert (repo / "src" / "new.txt").read_text() == "new\n"


def test_the_persons_edit_in_a_half_updated_checkout_is_never_touched(repo: Path) -> None:
    _interrupted_update(repo)
    (repo / "README.md").write_text("# the person's words\n")
    with pytest.raises(CheckoutNeedsPerson, match="README.md now hold"):
        repair_interrupted_update(repo)
    assert (repo / "README.md").read_text() == "# the person's words\n"
    assert (repo / "src" / "new.txt").exists()


def test_a_lock_older_than_the_update_is_the_persons_and_stays(repo: Path) -> None:
    _interrupted_update(repo)
    record = repo / ".git" / "orch-tui" / "checkout-update.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "started": 4e9}))  # far future
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(CheckoutNeedsPerson, match="never removes a lock in your checkout"):
        repair_interrupted_update(repo)
    assert lock.exists()


def test_the_record_is_removed_when_git_ends(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    with recorded_update(repo, repo, "main", head, head):
        assert (repo / ".git" / "orch-tui" / "checkout-update.json").exists()
    assert not (repo / ".git" / "orch-tui" / "checkout-update.json").exists()


def test_stale_locks_in_our_own_worktree_are_removed(repo: Path, tmp_path: Path) -> None:
    lane = tmp_path / "lane-1"
    git(repo, "worktree", "add", "-q", "--detach", str(lane))
    admin = worktree_git_dir(lane)
    for name in ("index.lock", "HEAD.lock"):
        (admin / name).write_text("")
    removed, running = remove_stale_locks(lane, admin)
    assert sorted(path.name for path in removed) == ["HEAD.lock", "index.lock"] and running == []
    git(lane, "switch", "-q", "-c", "now-possible")


def test_a_half_written_copy_of_the_tracker_is_removed(repo: Path) -> None:
    beads = repo / ".beads"
    beads.mkdir()
    (beads / "issues.jsonl").write_text("{}\n")
    (beads / ".issues.jsonl.k2j4h1.tmp").write_text('{"id": "half')  # killed mid-write
    [message] = remove_interrupted_tracker_writes(repo)
    assert ".issues.jsonl.k2j4h1.tmp" in message
    assert [path.name for path in beads.iterdir()] == ["issues.jsonl"]


def test_a_checkout_switched_to_another_branch_since_is_left_alone(repo: Path) -> None:
    _interrupted_update(repo)
    (repo / "src" / "new.txt").unlink()
    git(repo, "switch", "-q", "-c", "elsewhere")
    (repo / "src" / "new.txt").write_text("new\n")  # the same bytes, on the person's own branch
    [message] = repair_interrupted_update(repo)
    assert "no longer has main checked out" in message
    assert (repo / "src" / "new.txt").exists()


def _git_running_in(place: Path) -> subprocess.Popen[bytes]:
    """A git process that keeps working in `place` (it waits for its input)."""
    process = subprocess.Popen(["git", "cat-file", "--batch"], cwd=place, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while process.pid not in git_processes_in(place) and time.monotonic() < deadline:
        time.sleep(0.01)
    return process


def test_a_git_started_after_a_stale_lock_does_not_keep_it(repo: Path, tmp_path: Path) -> None:
    """An agent's git (or the person's) runs in the lane when orch-tui restarts: it started
    after the killed git's lock was written, so it cannot hold it, and the lock goes."""
    lane = tmp_path / "lane-1"
    git(repo, "worktree", "add", "-q", "--detach", str(lane))
    admin = worktree_git_dir(lane)
    lock = admin / "index.lock"
    lock.write_text("")
    old = time.time() - 30
    os.utime(lock, (old, old))
    later = _git_running_in(lane)
    try:
        removed, running = remove_stale_locks(lane, admin)
        assert removed == [lock] and running == []
    finally:
        later.kill()
        later.wait()


def test_a_git_that_may_hold_a_lock_keeps_it_and_is_named(repo: Path, tmp_path: Path) -> None:
    lane = tmp_path / "lane-1"
    git(repo, "worktree", "add", "-q", "--detach", str(lane))
    admin = worktree_git_dir(lane)
    holder = _git_running_in(lane)
    try:
        lock = admin / "index.lock"
        lock.write_text("")  # written after that git started: it may be its lock
        removed, running = remove_stale_locks(lane, admin)
        assert removed == [] and running == [holder.pid] and lock.exists()
    finally:
        holder.kill()
        holder.wait()


def test_stale_ref_locks_go_even_with_a_later_git_at_work(repo: Path, tmp_path: Path) -> None:
    """A killed `git branch -D orch/...` leaves packed-refs.lock and the branch's lock: every
    later deletion failed ("Unable to create packed-refs.lock") while any git, however
    unrelated, ran in the repository at the restart."""
    common = repo / ".git"
    locks = [common / "packed-refs.lock", common / "refs" / "heads" / "orch" / "t-7.lock"]
    locks[1].parent.mkdir(parents=True, exist_ok=True)
    old = time.time() - 30
    for lock in locks:
        lock.write_text("")
        os.utime(lock, (old, old))
    later = _git_running_in(repo)
    try:
        removed, running = remove_stale_ref_locks(common, ("refs/heads/orch/",), [repo])
        assert sorted(removed) == sorted(locks) and running == []
    finally:
        later.kill()
        later.wait()
