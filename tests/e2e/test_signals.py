"""SIGINT, SIGTERM and SIGHUP stop `orch-tui run` and the dashboard within 5 s: the agents and
their process groups stopped, the journal saved, a message saying the next run resumes; and
the next run does resume the interrupted lane on its branch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orch_tui.orchestration.engine.recovery import processes_working_in
from tests.support.helpers import git
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses

pytestmark = pytest.mark.slow

STOP_BOUND_SECONDS = 5.0


def _slow_agent_repo(root: Path) -> Path:
    """One task whose agent (a real process, `sleep`) works far longer than the test."""
    lanes = root / "lanes"
    return make_task_repo(root / "repo", [TaskSpec("t-1", ("src/one.txt",))], files={
        ".orch-tui.toml": f'agent = "command"\nagent_command = ["sleep", "300"]\nworktree_dir = "{lanes}"\n'})


def _start_run(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--repo", str(repo),
                             "--agent-mail", "http://127.0.0.1:9/mcp/"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "NO_COLOR": "1"})


def _read_until(process: subprocess.Popen[str], text: str, timeout: float = 60.0) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} never printed; got:\n{seen}"
        line = process.stdout.readline()
        assert line, f"the run ended before printing {text!r}:\n{seen}"
        seen += line
    return seen


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_ends_run_within_5_s_and_the_next_run_resumes(tmp_path: Path, signum: signal.Signals) -> None:
    repo = _slow_agent_repo(tmp_path)
    process = _start_run(repo)
    try:
        _read_until(process, "lane 1: busy: started sleep")
        lane = Path(os.path.realpath(tmp_path / "lanes" / "lane-1"))
        assert processes_working_in(lane), "the agent should be running in its lane"
        sent = time.monotonic()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert took < STOP_BOUND_SECONDS, f"stopping took {took:.1f} s"
    assert process.returncode == 128 + signum.value, output
    assert f"Stopped by {signum.name}" in output and "1 interrupted lane(s) resume" in output
    assert "Traceback" not in output
    assert not processes_working_in(lane), "the agent's process group must be gone"
    assert read_statuses(repo)["t-1"] == "in_progress"  # interrupted, not failed

    # The next run resumes it: here with a quick scripted agent in place of `sleep`.
    (repo / ".orch-tui.toml").write_text(f'agent = "scripted"\nworktree_dir = "{tmp_path / "lanes"}"\n')
    again = subprocess.run([sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--repo", str(repo),
                            "--agent-mail", "http://127.0.0.1:9/mcp/"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "t-1 was interrupted; it runs again" in again.stdout
    assert read_statuses(repo)["t-1"] == "closed"
    assert "t-1" in git(repo, "show", "main:src/one.txt")


async def test_a_stop_signal_closes_the_dashboard_and_stops_its_agents(tmp_path: Path) -> None:
    from orch_tui.app.app import OrchApp
    from orch_tui.app.screens.approval import ApprovalScreen
    from orch_tui.orchestration.engine.wiring import build_engine, effective_config
    from tests.ui.ui_helpers import screen_text, wait_for

    repo = _slow_agent_repo(tmp_path)
    engine = build_engine(repo, effective_config(repo, agent_mail_url="http://127.0.0.1:9/mcp/"))
    app = OrchApp(engine, manage_engine=True)
    lane = Path(os.path.realpath(tmp_path / "lanes" / "lane-1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "local reservations" in screen_text(app).splitlines()[0], "the engine", 30)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval gate", 30)
        await pilot.press("a")
        await wait_for(pilot, lambda: bool(processes_working_in(lane)), "the agent to start", 30)
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)  # the app's handler, on its own loop, takes it
        await wait_for(pilot, lambda: app.stopped_by is signal.SIGTERM and not processes_working_in(lane),
                       "the agent to be stopped", STOP_BOUND_SECONDS)
    assert app.stopped_by is signal.SIGTERM
    assert time.monotonic() - sent < STOP_BOUND_SECONDS
    assert not processes_working_in(lane)
    assert engine.interrupted_lanes() == [1]
    assert read_statuses(repo)["t-1"] == "in_progress"


def test_a_second_orchestrator_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    repo = _slow_agent_repo(tmp_path)
    first = _start_run(repo)
    try:
        _read_until(first, "lane 1: busy: started sleep")
        journal = repo / ".git" / "orch-tui" / "journal.json"
        before = journal.read_bytes()
        second = subprocess.run([sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--repo", str(repo),
                                 "--agent-mail", "http://127.0.0.1:9/mcp/"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"another orch-tui orchestrator (pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert journal.read_bytes() == before  # the running orchestrator's journal is untouched
        assert first.poll() is None and read_statuses(repo)["t-1"] == "in_progress"
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
