"""The parts around a real OpenCode agent failing mid-lane: the `opencode serve` process
killed, its event stream cut, the model server hanging in the middle of a reply.

Each: the lane ends (or goes on) with an outcome naming what happened and what to do, the
other lanes go on, nothing hangs (the stall is said after `agent_stall_seconds`, the agent
is stopped at `agent_timeout_seconds`), the failed task is reopened with a note, and a
later run merges it. The real `opencode` binary against tests/fake_model_server.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from orch_tui.orchestration import events as ev
from orch_tui.orchestration.commands import EngineState
from orch_tui.orchestration.engine.wiring import build_engine, effective_config
from tests.support.agent_mail_server import free_port
from tests.support.fake_model_server import FakeModelServer
from tests.support.helpers import git, opencode_binary
from tests.support.task_repos import TaskSpec, make_task_repo, read_statuses
from tests.e2e.test_opencode_engine_e2e import fresh_machine_env

pytestmark = [pytest.mark.slow, pytest.mark.opencode]

DEADLINE = 120.0


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One OpenCode HOME for the module: its data directory is made once (a fresh one costs
    seconds on the first session)."""
    return tmp_path_factory.mktemp("opencode-home")


def _notes(repo: Path, task_id: str) -> str:
    for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == task_id:
            return str(record.get("notes", ""))
    raise AssertionError(f"{task_id} not in the tracker")


def _two_task_repo(root: Path, model: FakeModelServer, extra_config: str = "") -> tuple[Path, Path, Path]:
    """t-1 (lane 1) and t-2 (lane 2) each write one file; returns the repo and both lane paths."""
    lanes = root / "lanes"
    repo = make_task_repo(root / "repo", [TaskSpec("t-1", ("src/one.py",), priority=1),
                                          TaskSpec("t-2", ("src/two.py",), priority=2)], files={
        ".orch-tui.toml": (f'agent = "opencode"\nopencode_binary = "{opencode_binary()}"\n'
                           f'opencode_model = "fake/scripted"\nworktree_dir = "{lanes}"\n{extra_config}')})
    one, two = (Path(os.path.realpath(lanes)) / f"lane-{n}" for n in (1, 2))
    model.script(str(one), [model.tool("write", filePath=f"{one}/src/one.py", content="ONE = 1\n"),
                            model.text("Wrote src/one.py.")])
    model.script(str(two), [model.tool("write", filePath=f"{two}/src/two.py", content="TWO = 2\n"),
                            model.text("Wrote src/two.py.")])
    return repo, one, two


def _wait_for(condition, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.05)


def _opencode_servers_of(parent: int) -> list[int]:
    """Pids of the `opencode serve` processes `parent` started (each leads its process group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"serve" in argv:
            found.append(int(entry.name))
    return found


def _asked_by(model: FakeModelServer, worktree: Path) -> bool:
    """True once the model has been asked a coding turn for `worktree`."""
    marker = f"Working directory: {worktree}"
    return any(request.get("tools") and marker in json.dumps(request) for request in list(model.requests))


def test_the_opencode_server_killed_mid_session_ends_its_lane_and_the_next_lane_gets_a_new_one(
        tmp_path: Path, model: FakeModelServer, home: Path) -> None:
    """`orch-tui run`: t-1's agent is mid-session (its model never answers) when the whole
    `opencode serve` process group is killed; t-2 is still setting up its lane (its setup takes
    until the test lets it go, after the kill) and starts its agent on a new server. t-1 fails naming the exit and the fix
    and is reopened with a note; t-2 merges; the next run merges t-1."""
    go = tmp_path / "t-2 may start"
    setup = [sys.executable, "-c", "import os, pathlib, time\n"
             f"while os.environ['ORCH_TASK_ID'] == 't-2' and not pathlib.Path({str(go)!r}).exists():\n"
             "    time.sleep(0.05)"]
    repo, one, _ = _two_task_repo(tmp_path, model, f"lane_setup_command = {json.dumps(setup)}\n"
                                                   "agent_timeout_seconds = 90\n")
    model.set_mode(str(one), "hang")
    env = fresh_machine_env(home, model)
    argv = [sys.executable, "-m", "orch_tui.app.cli", "run", "--yes", "--repo", str(repo),
            "--agent-mail", f"http://127.0.0.1:{free_port()}/mcp/"]
    run = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _asked_by(model, one), "t-1's agent asking the model")
        [server] = _opencode_servers_of(run.pid)
        os.killpg(server, signal.SIGKILL)
        go.touch()
        out, err = run.communicate(timeout=DEADLINE)
    finally:
        run.kill()
    assert run.returncode == 0, out + err
    assert "Traceback" not in err
    assert read_statuses(repo) == {"t-1": "open", "t-2": "closed"}, out
    assert git(repo, "show", "main:src/two.py") == "TWO = 2"
    said = next(line for line in out.splitlines() if "lane 1: t-1 failed" in line)
    assert "the OpenCode server (opencode serve) exited" in said and "killed by SIGKILL" in said
    assert "retry the task" in said
    assert "exited" in _notes(repo, "t-1") and "work kept on orch/t-1" in _notes(repo, "t-1")

    model.script(str(one), [model.tool("write", filePath=f"{one}/src/one.py", content="ONE = 1\n"),
                            model.text("Wrote src/one.py.")])
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed"}
    assert git(repo, "show", "main:src/one.py") == "ONE = 1"


def _cut_connections_to(port: int) -> int:
    """Shut down every TCP connection of this process to 127.0.0.1:`port` (as a proxy or a
    network fault would); returns how many."""
    cut = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            probe = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if probe.family == socket.AF_INET and probe.type == socket.SOCK_STREAM and probe.getpeername()[1] == port:
                probe.shutdown(socket.SHUT_RDWR)
                cut += 1
        except OSError:
            pass
        finally:
            probe.close()
    return cut


async def _until(predicate, what: str, timeout: float = DEADLINE) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"{what} did not happen within {timeout:g} s"
        await asyncio.sleep(0.05)


async def test_a_cut_event_stream_is_reconnected_and_a_model_hanging_mid_reply_ends_at_the_timeout(
        tmp_path: Path, model: FakeModelServer, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine with its real parts: t-1's model sends the start of a reply and then nothing;
    t-2's model answers its first turn after 2 s, and the event stream is cut during that wait.
    t-2 merges (the runner reconnects and asks the server what it missed); t-1 is said to be
    stalled after `agent_stall_seconds`, stopped at `agent_timeout_seconds` with its last sign
    of life and the fix, and reopened; retried with a model that answers, it merges."""
    repo, one, two = _two_task_repo(tmp_path, model, "agent_timeout_seconds = 45\nagent_stall_seconds = 3\n")
    model.set_mode(str(one), "stall")
    model.set_delay(str(two), 2.0)
    env = fresh_machine_env(home, model)
    for name in [name for name in os.environ if name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    config = effective_config(repo, agent_mail_url=f"http://127.0.0.1:{free_port()}/mcp/", batch_size=2)
    engine = build_engine(repo, config, runner_env=env)
    seen: list[ev.Event] = []
    engine.subscribe(seen.append)
    await engine.start()
    try:
        await engine.propose()
        await engine.approve()
        await _until(lambda: _asked_by(model, two), "t-2's agent asking the model")
        runner = engine.parts.runner
        assert _cut_connections_to(int(runner.url.rsplit(":", 1)[1])) >= 1
        model.set_delay(str(two), 0.0)
        assert await asyncio.wait_for(engine.wait_until_settled(), DEADLINE) is EngineState.IDLE
        finished = {e.task_id: e for e in seen if isinstance(e, ev.LaneFinished)}
        assert finished["t-2"].outcome is ev.LaneOutcome.SUCCEEDED, finished["t-2"].reason
        assert finished["t-1"].outcome is ev.LaneOutcome.TIMED_OUT
        assert "no result within 45 s" in finished["t-1"].reason
        assert "last sign of life" in finished["t-1"].reason and "agent_timeout_seconds" in finished["t-1"].reason
        assert "t-1" in {e.task_id for e in seen if isinstance(e, ev.LaneStalled)}
        assert any(isinstance(e, ev.LaneProgress) and "event stream" in e.action for e in seen)
        assert read_statuses(repo) == {"t-1": "open", "t-2": "closed"}
        assert "timed_out" in _notes(repo, "t-1")

        model.set_mode(str(one), "script")
        await engine.retry_task("t-1")
        await engine.propose()
        await engine.approve()
        assert await asyncio.wait_for(engine.wait_until_settled(), DEADLINE) is EngineState.IDLE
    finally:
        await engine.close()
    assert read_statuses(repo) == {"t-1": "closed", "t-2": "closed"}
    assert git(repo, "show", "main:src/one.py") == "ONE = 1"
