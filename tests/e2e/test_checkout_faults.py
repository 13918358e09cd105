"""The person works in their checkout while `orch-tui run` runs a batch: commits to the
target branch, edits files, switches to another branch. The run goes on (or stops for the
person, saying why), and nothing of theirs is lost: their commit stays on the target, their
uncommitted edits stay byte for byte, their other branch is not touched.

Real `orch-tui run --yes` processes with scripted agents on a real repository (a HOME with
no git identity and no global git config); the person acts once every lane has started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

pytestmark = pytest.mark.slow

TASKS = ("c-1", "c-2", "c-3")
DEADLINE = 90.0


def _repo(root: Path) -> Path:
    """Three tasks, each appending to its own file in two steps of 1.5 s."""
    tasks = [TaskSpec(task_id, (f"src/{task_id}.txt",), script={"steps": [
        {"append": f"src/{task_id}.txt", "delay": 1.5}, {"append": f"src/{task_id}.txt", "delay": 1.5}]})
        for task_id in TASKS]
    return make_task_repo(root / "repo", tasks, files={
        ".orch-tui.toml": f'worktree_dir = "{root / "lanes"}"\n', "notes.md": "the person's notes\n",
        "src/c-2.txt": "c-2 starts here\n"})


def _env(root: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) and name != "EMAIL"}
    return {**env, "HOME": str(root / "home"), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


def _run(repo: Path, env: dict[str, str], while_running: Callable[[], None] | None = None
         ) -> tuple[int, str]:
    """`orch-tui run --yes`; `while_running` is called once every lane has started."""
    argv = [sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--agent", "scripted",
            "--repo", str(repo), "--agent-mail", "http://127.0.0.1:9/mcp/"]
    run = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            started = sum(" started on " in seen for seen in lines)
            if while_running is not None and started == len(TASKS) and " started on " in line:
                while_running()
        run.wait(timeout=DEADLINE)
    finally:
        run.kill()
    output = "".join(lines)
    assert "Traceback" not in output, output
    return run.returncode, output


def _person(repo: Path, *args: str) -> str:
    """git as the person (with an identity of their own)."""
    return git(repo, "-c", "user.name=Person", "-c", "user.email=person@example.invalid", *args)


def _all_merged(repo: Path, branch: str = "main") -> None:
    assert read_statuses(repo) == dict.fromkeys(TASKS, "closed")
    for task_id in TASKS:
        assert f"{task_id}: " in git(repo, "show", f"{branch}:src/{task_id}.txt")


def test_a_commit_the_person_adds_to_the_target_mid_batch_stays_and_the_batch_merges_on_top(tmp_path: Path) -> None:
    repo = _repo(tmp_path)

    def commit() -> None:
        (repo / "person.txt").write_text("the person's work\n")
        _person(repo, "add", "person.txt")
        _person(repo, "commit", "-q", "-m", "the person's commit")

    status, output = _run(repo, _env(tmp_path), commit)
    assert status == 0, output
    _all_merged(repo)
    mine = git(repo, "log", "--format=%H", "--author=Person", "main")
    assert mine and git(repo, "merge-base", "--is-ancestor", mine, "main", check=False) == ""
    assert git(repo, "show", "main:person.txt") == "the person's work"


def test_the_persons_uncommitted_edits_mid_batch_stay_byte_for_byte(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    edited, scratch = b"the person's notes\r\nhalf a line", "untracked \u00e9 \u202e\n".encode()

    def edit() -> None:
        (repo / "notes.md").write_bytes(edited)
        (repo / "scratch.txt").write_bytes(scratch)

    status, output = _run(repo, _env(tmp_path), edit)
    assert status == 0, output
    _all_merged(repo)
    assert (repo / "notes.md").read_bytes() == edited and (repo / "scratch.txt").read_bytes() == scratch
    for task_id in TASKS:  # the checkout followed the target: the merged files are there
        assert f"{task_id}: " in (repo / "src" / f"{task_id}.txt").read_text()


def test_an_edit_to_a_file_a_lane_changes_stops_the_run_for_the_person_and_loses_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    env = _env(tmp_path)
    edited = b"the person's own c-2\n"
    status, output = _run(repo, env, lambda: (repo / "src" / "c-2.txt").write_bytes(edited))
    assert status == 3, output
    assert "uncommitted changes in files this merge would update (src/c-2.txt)" in output
    assert "commit or stash them" in output
    assert (repo / "src" / "c-2.txt").read_bytes() == edited
    assert read_statuses(repo)["c-2"] != "closed"
    assert "c-2: " in git(repo, "show", "orch/c-2:src/c-2.txt")  # the lane's work is kept

    (repo / "src" / "c-2.txt").rename(tmp_path / "my-c-2.txt")  # the person sets their edit aside
    git(repo, "checkout", "--", "src/c-2.txt")
    status, output = _run(repo, env)
    assert status == 0, output
    _all_merged(repo)
    assert (tmp_path / "my-c-2.txt").read_bytes() == edited


def test_switching_the_checkout_to_another_branch_mid_batch_merges_into_the_batchs_target(tmp_path: Path) -> None:
    """The batch branched from main: it merges into main, never into the branch the person
    switched to; their branch and their checkout are left as they made them."""
    repo = _repo(tmp_path)

    def switch() -> None:
        _person(repo, "switch", "-q", "-c", "feature")
        (repo / "feature.txt").write_text("feature work\n")
        _person(repo, "add", "feature.txt")
        _person(repo, "commit", "-q", "-m", "feature work")

    status, output = _run(repo, _env(tmp_path), switch)
    assert status == 0, output
    _all_merged(repo, "main")
    assert git(repo, "log", "--format=%s", "feature").splitlines()[:1] == ["feature work"]
    assert git(repo, "rev-list", "--count", "feature") == "2"  # the initial commit and the person's
    assert git(repo, "branch", "--show-current") == "feature"
    assert (repo / "feature.txt").read_text() == "feature work\n"
    [said] = [line for line in output.splitlines() if "is on feature now, not main" in line]
    assert "merges into it without touching your checkout" in said


def test_a_commit_landing_on_the_target_during_a_merge_is_kept_and_the_merge_made_again_on_top(
        tmp_path: Path) -> None:
    """The person commits to main in the moment between a merge being made and main moving
    (here: while `verify_command` runs, which plays the person once). Nothing was changed, so
    orch-tui merges again on top of their commit, says so, and the run goes on."""
    repo = _repo(tmp_path)
    person = tmp_path / "person.py"
    person.write_text(
        "import pathlib, subprocess\n"
        f"marker, repo = pathlib.Path({str(tmp_path / 'committed')!r}), {str(repo)!r}\n"
        "if not marker.exists():\n"
        "    marker.touch()\n"
        "    pathlib.Path(repo, 'person.txt').write_text('the person\\'s work\\n')\n"
        "    git = ['git', '-C', repo, '-c', 'user.name=Person', '-c', 'user.email=person@example.invalid']\n"
        "    subprocess.run([*git, 'add', 'person.txt'], check=True)\n"
        "    subprocess.run([*git, 'commit', '-q', '-m', 'the person commits mid-merge'], check=True)\n")
    with (repo / ".orch-tui.toml").open("a") as config:
        config.write(f'verify_command = ["{sys.executable}", "{person}"]\n')
    status, output = _run(repo, _env(tmp_path))
    assert status == 0, output
    _all_merged(repo)
    assert git(repo, "show", "main:person.txt") == "the person's work"
    [said] = [line for line in output.splitlines() if "during the merge; merging" in line]
    assert "again on top of it" in said
