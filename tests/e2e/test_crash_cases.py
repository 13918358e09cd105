"""The four ways a kill -9 used to lose work or stop the run (issue 14), each killed at its
exact step, then `orch-tui run --yes` restarted to the end.

The kills are real: the orchestrator runs in its own process group and a git hook or a
git filter kills that whole group (`kill -9 0`) at the precise moment (inside git's
update of the person's checkout, right after the merged branch was archived and deleted,
...), so what is left behind is exactly what a crash there leaves.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from tests.support.crash_trials import Trial, check_invariants, make_trial, run_to_the_end, start_run
from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, read_statuses

pytestmark = pytest.mark.slow


def _task(task_id: str, *files: str, depends_on: tuple[str, ...] = ()) -> TaskSpec:
    own = files or (f"src/{task_id}.txt",)
    return TaskSpec(task_id, own, depends_on=depends_on,
                    script={"steps": [{"append": path, "delay": 0.05} for path in own]})


def _chain() -> list[TaskSpec]:
    """k-1 (two files), then k-2 which depends on it: a lost k-1 would block k-2 for good."""
    return [_task("k-1", "src/k-1.txt", "src/k-1b.txt"), _task("k-2", depends_on=("k-1",))]


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _kill_inside_git(trial: Trial, when: str, skip: int = 0, files: str = "*.txt") -> None:
    """A clean/smudge filter on `files` that kills the orchestrator's whole process group
    the (skip+1)-th time git runs it from a command whose arguments contain `when`."""
    armed = trial.root / "armed"
    armed.write_text(str(skip))
    script = _executable(trial.root / "crash-filter", f"""#!/bin/sh
grandparent=$(awk '{{print $4}}' /proc/$PPID/stat)
if [ -e "{armed}" ] && cat /proc/$PPID/cmdline /proc/$grandparent/cmdline | tr '\\0' ' ' | grep -q -- "{when}"; then
  left=$(cat "{armed}")
  if [ "$left" -le 0 ]; then rm -f "{armed}"; kill -9 0; sleep 5; fi
  echo $((left - 1)) > "{armed}"
fi
exec cat
""")
    git(trial.repo, "config", "filter.crash.clean", str(script))
    git(trial.repo, "config", "filter.crash.smudge", str(script))
    (trial.repo / ".git" / "info" / "attributes").write_text(f"{files} filter=crash\n")


def _on_archive(trial: Trial, task_id: str, action: str) -> None:
    """A reference-transaction hook running `action` once the transaction that archives
    `task_id`'s merged branch and deletes it has been committed."""
    done = trial.root / "hook-fired"
    _executable(trial.repo / ".git" / "hooks" / "reference-transaction", f"""#!/bin/sh
[ "$1" = committed ] || exit 0
grep -q " refs/orch-archive/{task_id}$" || exit 0
[ -e "{done}" ] && exit 0
touch "{done}"
{action}
""")


def _killed_run(trial: Trial, timeout: float = 120) -> int:
    process = start_run(trial)
    code = process.wait(timeout=timeout)
    trial.kills += 1
    return code


def _journal(trial: Trial) -> dict:
    return json.loads((trial.repo / ".git" / "orch-tui" / "journal.json").read_text())


def _finish_and_check(trial: Trial) -> str:
    code, output = run_to_the_end(trial)
    problems = check_invariants(trial, code, output)
    assert not problems, "\n".join([*problems, (trial.root / "output.log").read_text()])
    return (trial.root / "output.log").read_text()


# ----- 1. stale git locks ----------------------------------------------------------------------
def test_a_lock_left_in_a_lane_by_a_killed_git_is_removed_and_said(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _kill_inside_git(trial, " add --all")  # while the lane's leftovers are being committed
    assert _killed_run(trial) == -signal.SIGKILL
    assert list((trial.repo / ".git" / "worktrees").glob("lane-*/index.lock")), "the kill left a lock"
    output = _finish_and_check(trial)
    assert "removed stale git lock(s) index.lock" in output


def test_a_head_lock_in_a_lane_and_a_lock_on_a_task_branch_are_removed(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _kill_inside_git(trial, " add --all")
    assert _killed_run(trial) == -signal.SIGKILL
    [admin] = [path.parent for path in (trial.repo / ".git" / "worktrees").glob("*/index.lock")]
    (admin / "HEAD.lock").write_text("")  # what a git killed while moving HEAD leaves
    (trial.repo / ".git" / "refs" / "heads" / "orch" / "k-1.lock").write_text("")
    output = _finish_and_check(trial)
    assert "HEAD.lock" in output and "refs/heads/orch/k-1.lock" in output


def test_a_lock_in_the_merge_worktree_is_removed(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain(), settings='verify_command = ["true"]\n')
    _kill_inside_git(trial, " merge ")  # the merge of k-1 in orch-tui's merge worktree
    assert _killed_run(trial) == -signal.SIGKILL
    assert (trial.repo / ".git" / "worktrees" / "merge" / "index.lock").exists()
    output = _finish_and_check(trial)
    assert "removed stale git lock(s) index.lock in " + str(trial.lanes.resolve() / "merge") in output


def test_a_lane_whose_creation_was_killed_is_created_again(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _kill_inside_git(trial, "worktree add", skip=1, files="README.md")  # lane 2 of the pool
    assert _killed_run(trial) == -signal.SIGKILL
    assert "locked" in git(trial.repo, "worktree", "list", "--porcelain")
    output = _finish_and_check(trial)
    assert "lane 2 was being created when the previous orchestrator stopped" in output


def test_locks_left_by_a_killed_branch_deletion_are_removed(tmp_path: Path) -> None:
    """Deleting a ref takes `packed-refs.lock` too: killed there, every later deletion
    waited a second for it and failed, and the run stopped for a person."""
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _executable(trial.repo / ".git" / "hooks" / "reference-transaction", f"""#!/bin/sh
[ "$1" = prepared ] || exit 0
grep -q " refs/orch-archive/k-1$" || exit 0
[ -e "{trial.root / 'fired'}" ] && exit 0
touch "{trial.root / 'fired'}"
kill -9 0
""")
    assert _killed_run(trial) == -signal.SIGKILL
    assert (trial.repo / ".git" / "packed-refs.lock").exists()
    output = _finish_and_check(trial)
    assert "packed-refs.lock" in output and "refs/heads/orch/k-1.lock" in output


def test_a_lock_in_the_persons_checkout_is_never_removed(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=[_task("k-1")])
    lock = trial.repo / ".git" / "index.lock"
    lock.write_text("")  # the person's own git, or theirs interrupted: not ours to judge
    code, output = run_to_the_end(trial)
    assert code == 3, output
    assert str(lock) in output and "if no git process is running there" in output and "yourself" in output
    assert lock.exists()
    assert read_statuses(trial.repo)["k-1"] == "in_progress"
    lock.unlink()  # what the person does; then the run goes on
    _finish_and_check(trial)


# ----- 2. a task branch that vanished ----------------------------------------------------------
@pytest.mark.parametrize("policy", ["archive", "delete"])
def test_killed_after_the_merged_branch_was_deleted_the_task_is_closed(tmp_path: Path, policy: str) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain(), settings=f'branch_after_merge = "{policy}"\n')
    _on_archive(trial, "k-1", "kill -9 0") if policy == "archive" else _kill_on_branch_deleted(trial, "k-1")
    assert _killed_run(trial) == -signal.SIGKILL
    assert git(trial.repo, "branch", "--list", "orch/k-1") == ""
    assert _journal(trial)["merges"][0]["state"] == "merging"
    output = _finish_and_check(trial)
    assert "does not exist" not in output
    assert "had been merged in" in output


def _kill_on_branch_deleted(trial: Trial, task_id: str) -> None:
    """Kill the group once the transaction deleting `task_id`'s merged branch committed."""
    done = trial.root / "hook-fired"
    _executable(trial.repo / ".git" / "hooks" / "reference-transaction", f"""#!/bin/sh
[ "$1" = committed ] || exit 0
grep -q "^[0-9a-f]* 0000000000000000000000000000000000000000 refs/heads/orch/{task_id}$" || exit 0
[ -e "{done}" ] && exit 0
touch "{done}"
kill -9 0
""")


def test_a_branch_lost_without_a_trace_reopens_its_task_with_a_note(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain(), settings='branch_after_merge = "delete"\n')
    _kill_on_branch_deleted(trial, "k-1")
    assert _killed_run(trial) == -signal.SIGKILL
    # Everything that could tell where k-1's work was is gone as well.
    (trial.repo / ".git" / "worktrees" / "merge" / "orch-tui-merge.json").unlink()
    for reflog in (trial.repo / ".git" / "worktrees").glob("lane-*/logs/HEAD"):
        reflog.unlink()
    tracker = (trial.repo / ".beads" / "issues.jsonl").read_bytes()
    git(trial.repo, "reset", "--hard", "--quiet", "HEAD~1")  # and the merge with it
    (trial.repo / ".beads" / "issues.jsonl").write_bytes(tracker)
    output = _finish_and_check(trial)
    assert "k-1: orch/k-1 is gone and its work cannot be found; the task is reopened" in output
    notes = [json.loads(line) for line in (trial.repo / ".beads" / "issues.jsonl").read_text().splitlines()]
    assert "was lost after a crash" in next(task for task in notes if task["id"] == "k-1")["notes"]


# ----- 3. the person's checkout left half-updated ------------------------------------------------
@pytest.mark.parametrize("lock_left", [True, False], ids=["lock-left", "lock-gone"])
def test_a_checkout_update_cut_by_the_kill_is_undone_and_done_again(tmp_path: Path, lock_left: bool) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _kill_inside_git(trial, " merge ", skip=1)  # git has written k-1's first file, not the second
    assert _killed_run(trial) == -signal.SIGKILL
    status = git(trial.repo, "status", "--porcelain", "--untracked-files=all")
    assert "?? src/k-1" in status, status  # half-updated, as the issue saw it
    lock = trial.repo / ".git" / "index.lock"
    assert lock.exists()
    if not lock_left:
        lock.unlink()
    output = _finish_and_check(trial)
    assert "was interrupted: put 1 file(s) back" in output
    assert "commit or stash them" not in output


def test_a_half_updated_checkout_with_the_persons_edit_is_left_to_them(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    _kill_inside_git(trial, " merge ", skip=1)
    assert _killed_run(trial) == -signal.SIGKILL
    (trial.repo / ".git" / "index.lock").unlink()
    [written] = [trial.repo / line[3:] for line in
                 git(trial.repo, "status", "--porcelain", "--untracked-files=all").splitlines()
                 if line.startswith("?? src/")]
    written.write_text("the person's own words\n")
    code, output = run_to_the_end(trial)
    assert code != 0 and "neither version" in output and str(written.relative_to(trial.repo)) in output
    assert written.read_text() == "the person's own words\n"
    written.unlink()  # what the person does once they have kept what they need
    _finish_and_check(trial)


# ----- 4. merged but never closed --------------------------------------------------------------
def test_killed_after_the_merge_before_beads_closed_the_task_is_closed_at_start(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    acquired = trial.root / "beads-held"
    # Hold the tracker's lock from the moment the merged branch is archived, so the
    # orchestrator records the merge in its journal and then waits to write Beads.
    _on_archive(trial, "k-1", f"""(flock -x "{trial.repo / '.beads'}" -c 'touch "{acquired}"; sleep 60' \
</dev/null >/dev/null 2>&1 &)
while [ ! -e "{acquired}" ]; do sleep 0.01; done""")
    process = start_run(trial)
    deadline = time.monotonic() + 120
    while not (acquired.exists() and _journal_merged(trial, "k-1")):
        assert process.poll() is None and time.monotonic() < deadline, (trial.root / "output.log").read_text()
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    trial.kills += 1
    merged_in = _journal_merged(trial, "k-1")
    assert read_statuses(trial.repo)["k-1"] == "in_progress"
    output = _finish_and_check(trial)
    assert f"k-1: merged in {merged_in[:12]} before the previous orchestrator stopped" in output
    record = next(json.loads(line) for line in (trial.repo / ".beads" / "issues.jsonl").read_text().splitlines()
                  if json.loads(line)["id"] == "k-1")
    assert record["close_reason"] == f"merged by orch-tui in {merged_in[:12]}"
    assert git(trial.repo, "merge-base", "--is-ancestor", merged_in, "main", check=False) == ""


def _journal_merged(trial: Trial, task_id: str) -> str | None:
    try:
        merges = _journal(trial)["merges"]
    except (OSError, ValueError, KeyError):
        return None
    return next((merge["commit"] for merge in merges if merge["task_id"] == task_id
                 and merge["state"] == "merged"), None)


def test_a_task_left_in_progress_by_our_lane_with_no_journal_is_reopened(tmp_path: Path) -> None:
    trial = make_trial(tmp_path, 1, tasks=_chain())
    lines = (trial.repo / ".beads" / "issues.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records[0].update(status="in_progress", assignee="lane-2")
    (trial.repo / ".beads" / "issues.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    output = _finish_and_check(trial)
    assert "k-1 was in_progress with no lane working on it after the restart: reopened" in output
