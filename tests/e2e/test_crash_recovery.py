"""The orchestrator is killed with SIGKILL at many points and restarted; the run completes
with every task's commit on main, no orphaned worktree, and main never conflicted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.agent_mail_server import running_agent_mail
from tests.support.helpers import agent_mail_python, git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

pytestmark = pytest.mark.slow

ORCH = [sys.executable, "-m", "orch_tui.app"]


def _tasks() -> list[TaskSpec]:
    def script(path: str) -> dict[str, object]:
        return {"steps": [{"append": path, "delay": 0.3}, {"append": path, "delay": 0.3}]}
    tasks = [TaskSpec(f"c-{n}", (f"src/f{n}.txt",), script=script(f"src/f{n}.txt")) for n in range(1, 6)]
    tasks.append(TaskSpec("c-6", ("src/f6.txt",), depends_on=("c-1",), script=script("src/f6.txt")))
    return tasks


NO_AGENT_MAIL = "http://127.0.0.1:9/mcp/"


def _run(repo: Path, lanes: Path, agent_mail: str = NO_AGENT_MAIL) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    (repo / ".orch-tui.toml").write_text(f'agent = "scripted"\nworktree_dir = "{lanes}"\n'
                                         f'agent_mail_url = "{agent_mail}"\n')
    return subprocess.Popen([*ORCH, "run", "--repo", str(repo), "--yes"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)


def _kill_when(process: subprocess.Popen[str], marker: str, deadline: float = 60.0) -> list[str]:
    """Read output until a line contains `marker`, then SIGKILL the orchestrator (only it:
    agents it spawned would die with a real crash only if they were in its group)."""
    lines: list[str] = []
    end = time.monotonic() + deadline
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            os.kill(process.pid, signal.SIGKILL)
            break
        if time.monotonic() > end:
            break
    process.wait(timeout=30)
    return lines


def _finish(repo: Path, lanes: Path, attempts: int = 4, agent_mail: str = NO_AGENT_MAIL) -> str:
    output = ""
    for _ in range(attempts):
        process = _run(repo, lanes, agent_mail)
        out, _ = process.communicate(timeout=180)
        output += out
        if process.returncode == 0 and "Nothing is ready" in out:
            return output
    raise AssertionError(f"the run did not complete after restarts:\n{output}")


KILL_POINTS = [
    "batch approved",              # dispatch
    "started on orch/c-2",         # lanes being created
    "lane 1: busy",                # agents running
    "lane 3: c-3 succeeded",       # some lanes finished
    "merged orch/c-3",             # merged while other lanes still run
    "merging orch/c-2",            # mid-merge
    "merged orch/c-1",             # between merges
    "batch proposed: c-5",         # second batch proposed, not approved
]


@pytest.mark.parametrize("marker", KILL_POINTS)
def test_killed_orchestrator_resumes_and_loses_nothing(tmp_path: Path, marker: str) -> None:
    repo = make_task_repo(tmp_path / "repo", _tasks())
    lanes = tmp_path / "lanes"
    killed_output = "".join(_kill_when(_run(repo, lanes), marker))
    assert marker in killed_output, f"never reached {marker!r}:\n{killed_output}"
    assert "<<<<<<<" not in (repo / "README.md").read_text()
    _finish(repo, lanes)
    _assert_all_merged(repo, lanes)


@pytest.mark.agent_mail
@pytest.mark.parametrize("marker", ["started on orch/c-4", "merging orch/c-2"])
def test_killed_in_parallel_mode_while_lanes_start_or_merge_together(tmp_path: Path, marker: str) -> None:
    """With the real Agent Mail server the lanes run at once, start on a claim the server
    confirms later, and finish together, so they merge as one series: killed there, the
    restart adopts or releases the lanes' reservations and completes the run."""
    agent_mail_python()
    repo = make_task_repo(tmp_path / "repo", _tasks())
    lanes = tmp_path / "lanes"
    with running_agent_mail(tmp_path / "mail") as server:
        killed_output = "".join(_kill_when(_run(repo, lanes, server.url), marker))
        assert marker in killed_output, f"never reached {marker!r}:\n{killed_output}"
        assert "mode: parallel" in killed_output
        _finish(repo, lanes, agent_mail=server.url)
    _assert_all_merged(repo, lanes)


def _assert_all_merged(repo: Path, lanes: Path) -> None:
    assert set(read_statuses(repo).values()) == {"closed"}
    for n in range(1, 7):
        text = (repo / "src" / f"f{n}.txt").read_text()
        assert f"c-{n}" in text, f"c-{n}'s work reached main"
    assert git(repo, "diff", "--name-only", "--diff-filter=U") == ""
    worktrees = git(repo, "worktree", "list", "--porcelain")
    assert "prunable" not in worktrees, "no orphaned worktree"
    for path in [line.split(" ", 1)[1] for line in worktrees.splitlines() if line.startswith("worktree ")]:
        assert Path(path) == repo or Path(path).parent == lanes.resolve(), f"unexpected worktree {path}"


def _conflicting_tasks() -> list[TaskSpec]:
    """Two tasks that also edit a file neither declared: the second merge conflicts."""
    def script(own: str) -> dict[str, object]:
        return {"steps": [{"append": own, "delay": 0.2}], "outside": ["shared.txt"]}
    return [TaskSpec("k-1", ("src/k1.txt",), priority=1, script=script("src/k1.txt")),
            TaskSpec("k-2", ("src/k2.txt",), priority=2, script=script("src/k2.txt"))]


async def _resolve_waiting_conflict(repo: Path, lanes: Path) -> None:
    """What a person does in the conflict screen, through the same engine commands."""
    from orch_tui.orchestration.commands import EngineState, HunkChoice
    from orch_tui.orchestration.engine.wiring import build_engine, effective_config

    engine = build_engine(repo, effective_config(repo))
    await engine.start()
    try:
        assert await engine.wait_until_settled() is EngineState.WAITING_FOR_PERSON
        conflict = engine.snapshot().conflict
        assert [file.path for file in conflict.files] == ["shared.txt"]
        await engine.resolve_file("shared.txt", HunkChoice.BOTH)
        await engine.continue_merge()
        assert await engine.wait_until_settled() is EngineState.IDLE
    finally:
        await engine.close()


def test_killed_while_a_conflict_waits_for_a_person_nothing_is_lost(tmp_path: Path) -> None:
    import asyncio

    repo = make_task_repo(tmp_path / "repo", _conflicting_tasks(), files={"shared.txt": "base\n"})
    lanes = tmp_path / "lanes"
    killed_output = "".join(_kill_when(_run(repo, lanes), "CONFLICT merging"))
    assert "CONFLICT merging" in killed_output, killed_output
    assert git(repo, "diff", "--name-only", "--diff-filter=U") == "", "main is never conflicted"
    assert "<<<<<<<" not in (repo / "shared.txt").read_text()

    restarted = _run(repo, lanes)  # the conflict is still there: it stops again and says so
    out, _ = restarted.communicate(timeout=120)
    assert restarted.returncode == 3, out
    assert "open `orch-tui`" in out

    asyncio.run(_resolve_waiting_conflict(repo, lanes))
    _finish(repo, lanes)
    assert read_statuses(repo) == {"k-1": "closed", "k-2": "closed"}
    shared = (repo / "shared.txt").read_text()
    assert "k-1" in shared and "k-2" in shared and "<<<<<<<" not in shared
    for n in (1, 2):
        assert f"k-{n}" in (repo / "src" / f"k{n}.txt").read_text()
    assert "prunable" not in git(repo, "worktree", "list", "--porcelain")
